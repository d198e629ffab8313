"""Tests for dlbook.optim: every piece compared step by step against optax, the trusted reference; optim.step
against value_and_grad + update + apply_updates written out; and "one training step in the whole code base":
no module of the library and no benchmark writes its own step."""

import ast
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlbook.descent import optimize
from dlbook import optim
from dlbook.optim import EmptyState, GradientTransformation, apply_updates, chain, momentum, nesterov, scale, sgd, step, trace
from dlbook.surfaces import parabola


def rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def parabola_loss(w):
    return jnp.sum(parabola(w, 3.0, 0.5))


def run_both(loss, w0, ours, theirs, num_steps):
    """Run our optimizer and the optax one side by side from the same start; return both iterate lists."""
    grad = jax.jit(jax.grad(loss))
    w_a = w_b = jnp.asarray(w0, dtype=jnp.float32)
    s_a, s_b = ours.init(w_a), theirs.init(w_b)
    path_a, path_b = [w_a], [w_b]
    for _ in range(num_steps):
        u_a, s_a = ours.update(grad(w_a), s_a, w_a)
        w_a = apply_updates(w_a, u_a)
        u_b, s_b = theirs.update(grad(w_b), s_b, w_b)
        w_b = optax.apply_updates(w_b, u_b)
        path_a.append(w_a)
        path_b.append(w_b)
    return np.stack(path_a), np.stack(path_b)


@pytest.mark.parametrize("lr", [0.01, 0.1, 0.3])
def test_sgd_matches_optax_on_parabola(lr):
    a, b = run_both(parabola_loss, [2.0, -1.0, 0.25], sgd(lr), optax.sgd(lr), 25)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # and both follow the closed form w_t = c + (1 − α a)^t (w0 − c)
    t = np.arange(26)[:, None]
    np.testing.assert_allclose(a, 0.5 + (1 - 3.0 * lr) ** t * (np.array([2.0, -1.0, 0.25]) - 0.5), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("lr", [1e-4, 1e-3])
def test_sgd_matches_optax_on_rosenbrock(lr):
    a, b = run_both(rosenbrock, [-1.2, 1.0], sgd(lr), optax.sgd(lr), 200)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert rosenbrock(a[-1]) < rosenbrock(a[0])


def test_optimize_with_sgd_matches_optax_loop_on_rosenbrock():
    lr, T = 1e-3, 150
    traj = optimize(rosenbrock, jnp.array([-1.2, 1.0]), sgd(lr), T)
    a, b = run_both(rosenbrock, [-1.2, 1.0], sgd(lr), optax.sgd(lr), T)
    np.testing.assert_allclose(traj.params, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(traj.losses, [float(rosenbrock(w)) for w in b], rtol=1e-5, atol=1e-6)


def test_sgd_on_a_pytree_matches_optax():
    params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
    grads = {"w": jnp.array([0.3, -0.1]), "b": jnp.array(2.0)}
    ours, theirs = sgd(0.2), optax.sgd(0.2)
    u_a, _ = ours.update(grads, ours.init(params), params)
    u_b, _ = theirs.update(grads, theirs.init(params), params)
    jax.tree_util.tree_map(np.testing.assert_allclose, u_a, u_b)
    jax.tree_util.tree_map(np.testing.assert_allclose, apply_updates(params, u_a), optax.apply_updates(params, u_b))


def test_scale_and_chain_match_optax():
    g = jnp.array([1.0, -2.0, 3.5])
    for s in (-0.1, 2.0, 0.0):
        u, state = scale(s).update(g, scale(s).init(None))
        u_ref, _ = optax.scale(s).update(g, optax.scale(s).init(g))
        np.testing.assert_allclose(u, u_ref)
        assert state == EmptyState()
    ours = chain(scale(2.0), scale(-0.25))
    theirs = optax.chain(optax.scale(2.0), optax.scale(-0.25))
    u, state = ours.update(g, ours.init(g))
    u_ref, _ = theirs.update(g, theirs.init(g))
    np.testing.assert_allclose(u, u_ref)
    assert state == (EmptyState(), EmptyState())
    # an empty chain is the identity
    u, state = chain().update(g, chain().init(g))
    np.testing.assert_allclose(u, g)
    assert state == ()


def test_optimizer_is_a_pair_of_pure_functions():
    opt = sgd(0.1)
    assert isinstance(opt, GradientTransformation)
    w = jnp.array([1.0, 2.0])
    s0 = opt.init(w)
    u1, s1 = opt.update(jnp.array([1.0, 1.0]), s0, w)
    u2, s2 = opt.update(jnp.array([1.0, 1.0]), s0, w)
    np.testing.assert_array_equal(u1, u2)
    assert s1 == s2 == s0


def test_sgd_accepts_a_traced_learning_rate_without_recompiling():
    """A learning rate traced by jit is accepted unchecked; a second rate reuses the compiled step."""
    g = jnp.array([1.0, 2.0])

    traces = []

    @jax.jit
    def step(lr, w):
        traces.append(1)  # runs only while JAX traces: counts compilations without private API
        opt = sgd(lr)
        u, _ = opt.update(g, opt.init(w), w)
        return apply_updates(w, u)

    w = jnp.array([0.0, 0.0])
    ref = optax.sgd(0.5)
    np.testing.assert_allclose(step(0.5, w), optax.apply_updates(w, ref.update(g, ref.init(w))[0]))
    n = len(traces)
    np.testing.assert_allclose(step(0.25, w), [-0.25, -0.5])
    assert len(traces) == n == 1


def test_sgd_update_is_vmappable_over_learning_rates():
    lrs = jnp.array([0.1, 0.2, 0.4])
    g = jnp.array([1.0, -1.0])

    def one(lr):
        opt = sgd(lr)
        return opt.update(g, opt.init(g))[0]

    got = jax.vmap(one)(lrs)
    ref = np.stack([optax.sgd(float(lr)).update(g, optax.sgd(float(lr)).init(g))[0] for lr in lrs])
    np.testing.assert_allclose(got, ref, rtol=1e-6)


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf, -np.inf])
def test_sgd_rejects_non_positive_or_non_finite_learning_rate(lr):
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        sgd(lr)


def test_sgd_rejects_non_numeric_learning_rate():
    for bad in ("0.1", None, [object()]):
        with pytest.raises(TypeError, match="^learning_rate must be"):
            sgd(bad)


def test_scale_rejects_non_finite_step_size():
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="^step_size must be finite"):
            scale(bad)


def test_chain_rejects_non_transformations():
    with pytest.raises(TypeError, match=r"^transforms\[1\] must be a GradientTransformation"):
        chain(scale(1.0), lambda g: g)


def test_optimize_rejects_a_non_optimizer():
    with pytest.raises(TypeError, match="^optimizer must be a GradientTransformation"):
        optimize(parabola, 1.0, optax.sgd, 3)


# -- momentum and Nesterov (chapter 6) ---------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_momentum_matches_optax_step_by_step(gamma):
    a, b = run_both(rosenbrock, [-1.0, 1.5], momentum(1e-3, gamma), optax.sgd(1e-3, momentum=gamma), 150)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_nesterov_matches_optax_step_by_step(gamma):
    a, b = run_both(rosenbrock, [-1.0, 1.5], nesterov(1e-3, gamma), optax.sgd(1e-3, momentum=gamma, nesterov=True), 150)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_trace_matches_optax_trace_on_a_pytree():
    params = {"W": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    grads = [jax.tree_util.tree_map(lambda p, k=k: jnp.full_like(p, 0.5 * k - 1.0), params) for k in range(5)]
    for nest in (False, True):
        ours, theirs = trace(0.7, nesterov=nest), optax.trace(decay=0.7, nesterov=nest)
        s_a, s_b = ours.init(params), theirs.init(params)
        for g in grads:
            u_a, s_a = ours.update(g, s_a, params)
            u_b, s_b = theirs.update(g, s_b, params)
            jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), u_a, u_b)


def test_momentum_is_the_notes_velocity_form():
    """v ← γ v + η ∇J(θ), θ ← θ − v, written out by hand."""
    grad = jax.grad(rosenbrock)
    eta, gamma = 1e-3, 0.9
    theta, v = jnp.array([-1.0, 1.5]), jnp.zeros(2)
    opt = momentum(eta, gamma)
    w, state = theta, opt.init(theta)
    for _ in range(100):
        v = gamma * v + eta * grad(theta)
        theta = theta - v
        u, state = opt.update(grad(w), state, w)
        w = apply_updates(w, u)
        np.testing.assert_allclose(w, theta, rtol=1e-5, atol=1e-6)


def test_nesterov_is_momentum_with_the_gradient_at_the_look_ahead_point():
    """Classical NAG: v ← γ v + η ∇J(θ − γ v), θ ← θ − v.  The optax form tracks φ = θ − γ v."""
    f = lambda w: 0.5 * (w[0] ** 2 + 10 * w[1] ** 2) + jnp.sin(w[0])  # noqa: E731
    grad = jax.grad(f)
    eta, gamma = 0.05, 0.8
    theta, v = jnp.array([2.0, 1.0]), jnp.zeros(2)
    opt = nesterov(eta, gamma)
    w, state = theta, opt.init(theta)
    for _ in range(40):
        v = gamma * v + eta * grad(theta - gamma * v)
        theta = theta - v
        u, state = opt.update(grad(w), state, w)
        w = apply_updates(w, u)
        np.testing.assert_allclose(w, theta - gamma * v, rtol=1e-5, atol=1e-6)


def test_momentum_with_gamma_zero_is_sgd():
    a, _ = run_both(rosenbrock, [-1.0, 1.5], momentum(1e-3, 0.0), optax.sgd(1e-3), 50)
    b, _ = run_both(rosenbrock, [-1.0, 1.5], sgd(1e-3), optax.sgd(1e-3), 50)
    np.testing.assert_array_equal(a, b)


def test_momentum_vmaps_over_gamma_and_learning_rate():
    def final(lr, gamma):
        return optimize(parabola_loss, jnp.array([2.0, -1.0, 0.25]), momentum(lr, gamma), 20, path=False).params
    lrs, gammas = jnp.array([0.01, 0.05, 0.1]), jnp.array([0.0, 0.5, 0.9])
    batched = jax.jit(jax.vmap(final))(lrs, gammas)
    for k in range(3):
        np.testing.assert_allclose(batched[k], final(float(lrs[k]), float(gammas[k])), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5])
def test_trace_rejects_gamma_outside_unit_interval(gamma):
    with pytest.raises(ValueError, match=rf"^gamma must be the momentum γ in \[0, 1\), got {gamma}$"):
        momentum(0.1, gamma)
    with pytest.raises(ValueError, match=rf"^gamma must be the momentum γ in \[0, 1\), got {gamma}$"):
        nesterov(0.1, gamma)
    with pytest.raises(ValueError, match=rf"^gamma must be the momentum γ in \[0, 1\), got {gamma}$"):
        trace(gamma)


def test_momentum_rejects_bad_learning_rate():
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        momentum(0.0, 0.9)
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        nesterov(-1.0, 0.9)
    with pytest.raises(ValueError, match="^gamma must be finite"):
        trace(float("nan"))


def test_hyperparameters_must_be_scalars():
    with pytest.raises(ValueError, match=r"^gamma must have shape \(\) \(a scalar"):
        momentum(0.1, np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^learning_rate must have shape \(\) \(a scalar"):
        sgd(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^learning_rate must have shape \(\) \(a scalar"):
        nesterov([0.1, 0.2], 0.9)


def test_trace_takes_gamma_by_name():
    """``trace(gamma, nesterov=False)``: the momentum is called γ everywhere (it was ``decay``)."""
    g = jnp.array([1.0, -2.0])
    for nest in (False, True):
        ours, theirs = trace(gamma=0.6, nesterov=nest), optax.trace(decay=0.6, nesterov=nest)
        s_a, s_b = ours.init(g), theirs.init(g)
        for _ in range(3):
            u_a, s_a = ours.update(g, s_a)
            u_b, s_b = theirs.update(g, s_b)
        np.testing.assert_allclose(u_a, u_b, rtol=1e-6)
    # m ← γ m + g three times from 0: m = (1 + γ + γ²) g; with nesterov the update is g + γ m
    for nest, expected in ((False, (1 + 0.6 + 0.36) * g), (True, g + 0.6 * (1 + 0.6 + 0.36) * g)):
        t = trace(gamma=0.6, nesterov=nest)
        s = t.init(g)
        for _ in range(3):
            u, s = t.update(g, s)
        np.testing.assert_allclose(u, expected, rtol=1e-6)
        np.testing.assert_allclose(s.trace, (1 + 0.6 + 0.36) * g, rtol=1e-6)


# -- apply_updates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, updates", [
    ({"w": jnp.ones(2)}, {"v": jnp.ones(2)}),                        # other keys
    ({"w": jnp.ones(2), "b": jnp.ones(1)}, {"w": jnp.ones(2)}),      # a leaf missing
    ([jnp.ones(2)], (jnp.ones(2),)),                                 # list against tuple
    (jnp.ones(2), (jnp.ones(2),)),                                   # a leaf against a tuple
    ([jnp.ones(2), jnp.ones(3)], [jnp.ones(2)]),                     # fewer layers
    (jnp.ones(2), {"w": jnp.ones(2)}),
])
def test_apply_updates_rejects_updates_of_another_structure(params, updates):
    """The error names ``updates`` (before: JAX's tree_map error, or ``+`` failing on a tuple)."""
    with pytest.raises(ValueError, match="^updates must have the structure of params, got "):
        apply_updates(params, updates)


def test_apply_updates_adds_leaf_by_leaf():
    params = {"W": jnp.ones((2, 2)), "b": jnp.array([1.0, 2.0])}
    out = apply_updates(params, {"W": jnp.full((2, 2), -0.5), "b": jnp.array([0.25, 0.0])})
    np.testing.assert_array_equal(out["W"], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(out["b"], [1.25, 2.0])


# -- step: the one training step ------------------------------------------------------------------------


def _net_loss(p, X, y):
    return jnp.mean((jnp.tanh(X @ p["W"]) @ p["v"] - y) ** 2) + 0.1 * jnp.sum(p["v"] ** 2)


@pytest.mark.parametrize("make", [lambda: sgd(0.3), lambda: momentum(0.1, 0.9), lambda: nesterov(0.1, 0.8),
                                  lambda: optax.adam(0.05)], ids=["sgd", "momentum", "nesterov", "optax-adam"])
@pytest.mark.parametrize("jit", [False, True])
def test_step_is_value_and_grad_then_update_then_apply_updates(make, jit):
    """``step(loss, w, s, opt, *args)`` == ``value_and_grad``, ``opt.update``, ``apply_updates``, every bit, and
    the loss it returns is the loss *before* the step."""
    opt = make()
    kx, kw = jax.random.split(jax.random.key(0))
    X, y = jax.random.normal(kx, (8, 3)), jax.random.normal(kw, (8,))
    p = {"W": jax.random.normal(kw, (3, 4)), "v": jnp.ones(4)}

    def by_hand(p, s, X, y):
        loss, g = jax.value_and_grad(_net_loss)(p, X, y)
        u, s = opt.update(g, s, p)
        return apply_updates(p, u), s, loss

    ours = (lambda p, s, X, y: step(_net_loss, p, s, opt, X, y))
    ref = by_hand
    if jit:
        ours, ref = jax.jit(ours), jax.jit(ref)
    p_a, s_a, p_b, s_b = p, opt.init(p), p, opt.init(p)
    for _ in range(4):
        before = _net_loss(p_a, X, y)
        p_a, s_a, loss_a = ours(p_a, s_a, X, y)
        p_b, s_b, loss_b = ref(p_b, s_b, X, y)
        np.testing.assert_array_equal(loss_a, loss_b)
        np.testing.assert_allclose(loss_a, before, rtol=1e-6)
        jax.tree_util.tree_map(np.testing.assert_array_equal, p_a, p_b)
        jax.tree_util.tree_map(np.testing.assert_array_equal, s_a, s_b)


def test_step_on_a_parabola_is_the_gd_formula():
    """One step of sgd(α) on ½ a (w − c)²: w₁ = w₀ − α a (w₀ − c); the loss returned is 𝓛(w₀)."""
    w, s, loss = step(parabola, jnp.array(4.0), sgd(0.25).init(None), sgd(0.25), 2.0, 1.0)
    assert float(w) == 4.0 - 0.25 * 2.0 * 3.0 and float(loss) == 0.5 * 2.0 * 9.0 and s == (EmptyState(),)


def test_optimize_accepts_an_optax_optimizer():
    """check_optimizer is duck-typed (init and update), so optax optimizers run in dlbook's runners."""
    opt = optax.adam(0.05)
    traj = optimize(rosenbrock, jnp.array([-1.2, 1.0]), opt, 30)
    w, s = jnp.array([-1.2, 1.0]), opt.init(jnp.array([-1.2, 1.0]))
    for t in range(30):
        u, s = opt.update(jax.grad(rosenbrock)(w), s, w)
        w = optax.apply_updates(w, u)
    np.testing.assert_allclose(traj.params[-1], w, rtol=1e-5, atol=1e-6)


# -- one training step in the whole code base -----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
GRADS = {"value_and_grad", "grad"}


def _is_grad_call(node: ast.AST) -> bool:
    """``jax.value_and_grad(...)`` / ``jax.grad(...)`` (or the bare names imported from jax)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return ((isinstance(f, ast.Attribute) and f.attr in GRADS and isinstance(f.value, ast.Name) and f.value.id == "jax")
            or (isinstance(f, ast.Name) and f.id in GRADS))


def _is_optimizer_update(node: ast.AST) -> bool:
    """``opt.update(grads, state, ...)``: an ``update`` method called with two or more arguments (a dict's
    ``update`` takes one)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
            and len(node.args) + len(node.keywords) >= 2)


def hand_written_steps(source: str) -> list[str]:
    """The top-level functions (and the module body) of ``source`` that take a gradient with JAX *and* call
    an optimizer's ``update``: a training step written out instead of ``dlbook.optim.step``."""
    tree = ast.parse(source)
    units = [(n.name, n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    rest = ast.Module(body=[n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                       ast.ClassDef))], type_ignores=[])
    found = []
    for name, node in [*units, ("<module>", rest)]:
        calls = list(ast.walk(node))
        if any(map(_is_grad_call, calls)) and any(map(_is_optimizer_update, calls)):
            found.append(name)
    return found


def scan_for_hand_written_steps(src: Path, benchmarks: Path) -> dict[str, list[str]]:
    files = sorted(src.glob("*.py")) + sorted(benchmarks.glob("*.py"))
    assert files, f"nothing to scan under {src} and {benchmarks}"
    out = {}
    for f in files:
        if f == src / "optim.py":
            continue  # the one place a gradient becomes new parameters
        steps = hand_written_steps(f.read_text(encoding="utf-8"))
        if steps:
            out[f"{f.parent.name}/{f.name}"] = steps
    return out


def test_the_detector_finds_a_hand_written_step_and_passes_optim_step():
    written_out = '''
import jax
def train(params, opt, X):
    def body(carry, x):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, x)
        u, s = opt.update(g, s, p)
        return (apply_updates(p, u), s), loss
    return body
'''
    with_grad = "import jax\ndef f(p, s):\n    g = jax.grad(loss)(p)\n    return opt.update(g, s, p)\n"
    bare = "from jax import value_and_grad\nvg = value_and_grad(loss)\nl, g = vg(p)\nu, s = opt.update(g, s)\n"
    assert hand_written_steps(written_out) == ["train"]
    assert hand_written_steps(with_grad) == ["f"]
    assert hand_written_steps(bare) == ["<module>"]
    uses_step = "from dlbook import optim\ndef train(p, s, opt):\n    return optim.step(loss, p, s, opt)\n"
    not_a_step = ("import jax\ndef f(p):\n    d = {}\n    d.update(g=jax.grad(loss)(p))\n    return d\n"
                  "def bench(opt, g, s, p):\n    return opt.update(g, s, p)\n")  # an optimizer alone, no gradient
    assert hand_written_steps(uses_step) == [] and hand_written_steps(not_a_step) == []


def test_one_training_step_in_the_whole_code_base():
    """Every runner of the library and every benchmark trains with ``dlbook.optim.step``: no other file takes a
    JAX gradient and feeds it to an optimizer's ``update`` itself."""
    found = scan_for_hand_written_steps(ROOT / "src" / "dlbook", ROOT / "benchmarks")
    assert found == {}, f"training steps written out instead of dlbook.optim.step: {found}"
