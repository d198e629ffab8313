"""Tests for dlbook.optim: every piece compared step by step against optax, the trusted reference."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlbook.descent import optimize
from dlbook.optim import EmptyState, GradientTransformation, apply_updates, chain, momentum, nesterov, scale, sgd, trace
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

    @jax.jit
    def step(lr, w):
        opt = sgd(lr)
        u, _ = opt.update(g, opt.init(w), w)
        return apply_updates(w, u)

    w = jnp.array([0.0, 0.0])
    ref = optax.sgd(0.5)
    np.testing.assert_allclose(step(0.5, w), optax.apply_updates(w, ref.update(g, ref.init(w))[0]))
    n = step._cache_size()
    np.testing.assert_allclose(step(0.25, w), [-0.25, -0.5])
    assert step._cache_size() == n


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
    with pytest.raises(ValueError, match=r"^decay must be in \[0, 1\) \(the momentum γ\)"):
        momentum(0.1, gamma)
    with pytest.raises(ValueError, match=r"^decay must be in \[0, 1\)"):
        nesterov(0.1, gamma)


def test_momentum_rejects_bad_learning_rate():
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        momentum(0.0, 0.9)
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        nesterov(-1.0, 0.9)
    with pytest.raises(ValueError, match="^decay must be finite"):
        trace(float("nan"))


def test_hyperparameters_must_be_scalars():
    with pytest.raises(ValueError, match=r"^decay must have shape \(\) \(a scalar"):
        momentum(0.1, np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^learning_rate must have shape \(\) \(a scalar"):
        sgd(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^learning_rate must have shape \(\) \(a scalar"):
        nesterov([0.1, 0.2], 0.9)
