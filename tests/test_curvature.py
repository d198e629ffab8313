"""dlbook.curvature against jax.hessian, numpy.linalg.eigh and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from dlbook import activations as A
from dlbook import curvature as C
from dlbook.model import init_mlp, loss_value


def two_weights(w):                      # y = w₁w₂x with x = y = 1
    return (1.0 - w[0] * w[1]) ** 2


def net_problem(width=4, seed=0):
    params = init_mlp((2, width, 1), key=jax.random.key(seed))
    X = jax.random.normal(jax.random.key(seed + 1), (32, 2))
    Y = jnp.tanh(X[:, :1] * X[:, 1:])
    loss = lambda p, X, Y: loss_value(p, X, Y, activation=A.TANH, output=A.IDENTITY)  # noqa: E731
    return loss, params, (X, Y)


def test_hessian_of_a_pytree_network_matches_jax_hessian_on_the_flat_vector():
    loss, params, args = net_problem()
    flat, unravel = ravel_pytree(params)
    ref = jax.hessian(lambda w: loss(unravel(w), *args))(flat)
    H = C.hessian(loss, params, args)
    assert H.shape == (flat.shape[0],) * 2
    np.testing.assert_allclose(H, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-5)


def test_hessian_closed_form_on_the_two_weight_network():
    w = jnp.array([0.5, -1.5])
    # 𝓛 = (1 − w₁w₂)²: ∂²/∂w₁² = 2w₂², ∂²/∂w₁∂w₂ = 4w₁w₂ − 2, ∂²/∂w₂² = 2w₁²
    expected = np.array([[2 * 1.5**2, 4 * 0.5 * -1.5 - 2], [4 * 0.5 * -1.5 - 2, 2 * 0.5**2]])
    np.testing.assert_allclose(C.hessian(two_weights, w), expected, rtol=1e-6)


def test_hvp_equals_hessian_times_vector_flat_and_as_a_pytree():
    loss, params, args = net_problem(seed=3)
    H = np.asarray(C.hessian(loss, params, args))
    flat, matvec = C.hvp_fn(loss, params, args)
    v = jax.random.normal(jax.random.key(9), flat.shape)
    np.testing.assert_allclose(matvec(v), H @ np.asarray(v), rtol=1e-4, atol=1e-5)
    _, unravel = ravel_pytree(params)
    out = C.hvp(loss, params, unravel(v), args)
    np.testing.assert_allclose(ravel_pytree(out)[0], H @ np.asarray(v), rtol=1e-4, atol=1e-5)


def test_hvp_against_finite_differences_of_the_gradient():
    loss, params, args = net_problem(seed=5)
    flat, matvec = C.hvp_fn(loss, params, args)
    _, unravel = ravel_pytree(params)
    with jax.enable_x64(True):
        f = lambda w: loss(unravel(w), *args)  # noqa: E731
        w64 = jnp.asarray(flat, jnp.float64)
        v = jax.random.normal(jax.random.key(1), flat.shape, jnp.float64)
        h = 1e-5
        fd = (jax.grad(f)(w64 + h * v) - jax.grad(f)(w64 - h * v)) / (2 * h)
    np.testing.assert_allclose(matvec(v.astype(jnp.float32)), fd, rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_lanczos_extreme_eigenpairs_match_eigh(seed):
    loss, params, args = net_problem(width=8, seed=seed)
    H = np.asarray(C.hessian(loss, params, args), np.float64)
    lam, U = np.linalg.eigh((H + H.T) / 2)
    vals, vecs = C.lanczos(loss, params, args, key=jax.random.key(seed), num_iters=25)
    p = H.shape[0]
    assert vals.shape == (25,) and vecs.shape == (p, 25)
    np.testing.assert_allclose([vals[0], vals[-1]], [lam[0], lam[-1]], rtol=1e-3, atol=1e-4)
    for i, j in ((0, 0), (-1, -1)):                       # eigenvectors up to sign
        assert abs(float(np.asarray(vecs[:, i]) @ U[:, j])) > 0.99
        np.testing.assert_allclose(H @ np.asarray(vecs[:, i]), vals[i] * np.asarray(vecs[:, i]), atol=2e-3)


def test_lanczos_with_k_equal_p_gives_the_whole_spectrum():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(6, 6)); A_ = (M + M.T) / 2
    vals, _ = C.lanczos(lambda w: 0.5 * w @ jnp.asarray(A_, jnp.float32) @ w, jnp.zeros(6), key=jax.random.key(0), num_iters=6)
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(A_), atol=1e-4)


def test_lanczos_and_top_hessian_eigenvalue_agree():
    from dlbook.theory import top_hessian_eigenvalue
    loss, params, args = net_problem(seed=2)
    vals, _ = C.lanczos(loss, params, args, key=jax.random.key(0), num_iters=17)
    lam = np.linalg.eigvalsh(np.asarray(C.hessian(loss, params, args), np.float64))
    top = top_hessian_eigenvalue(loss, params, args, key=jax.random.key(1), num_iters=300)
    big = lam[np.argmax(np.abs(lam))]
    np.testing.assert_allclose(top, big, rtol=1e-3)
    np.testing.assert_allclose(vals[-1] if big > 0 else vals[0], big, rtol=1e-3)


def test_spectrum_counts_and_classification():
    lam = jnp.array([-3.0, -1e-6, 0.0, 2e-6, 5.0])
    assert C.spectrum_counts(lam, 1e-5).tolist() == [1, 1, 3]
    assert C.spectrum_counts(lam, 0.0).tolist() == [2, 2, 1]
    assert jax.vmap(lambda l: C.spectrum_counts(l, 1e-5))(jnp.stack([lam, -lam])).tolist() == [[1, 1, 3], [1, 1, 3]]
    assert C.classify_critical_point(jnp.array([1.0, 2.0]), 1e-3) == "minimum"
    assert C.classify_critical_point(jnp.array([-1.0, -2.0]), 1e-3) == "maximum"
    assert C.classify_critical_point(jnp.array([-1.0, 0.0, 2.0]), 1e-3) == "saddle"
    assert C.classify_critical_point(jnp.array([1e-4, 2.0]), 1e-3) == "degenerate"
    assert C.classify_critical_point(jnp.array([1e-4, 2.0]), 1e-5) == "minimum"
    # the two-weight network: saddle at 0 (eigenvalues ±2), on the valley w₁w₂ = 1 one zero eigenvalue
    assert C.classify_critical_point(np.linalg.eigvalsh(C.hessian(two_weights, jnp.zeros(2))), 1e-4) == "saddle"
    assert C.classify_critical_point(np.linalg.eigvalsh(C.hessian(two_weights, jnp.array([2.0, 0.5]))), 1e-4) == "degenerate"


def test_find_critical_point_reaches_small_gradients_and_is_vmappable():
    cp = C.find_critical_point(two_weights, jnp.array([0.3, -0.2]), num_steps=30)
    assert float(cp.grad_norm) < 1e-6 and np.allclose(cp.params, 0.0, atol=1e-5)      # the saddle
    cp = C.find_critical_point(two_weights, jnp.array([1.5, 1.0]), num_steps=30)
    assert float(cp.grad_norm) < 1e-5 and abs(float(cp.params[0] * cp.params[1]) - 1) < 1e-5   # the valley
    assert np.all(np.diff(np.asarray(cp.grad_norms)) <= 0)                             # only accepted steps
    loss, params, args = net_problem(seed=4)
    with jax.enable_x64(True):                      # float64: the gradient can go far below float32 round-off
        args64 = tuple(jnp.asarray(a, jnp.float64) for a in args)
        starts = jax.vmap(lambda k: init_mlp((2, 4, 1), key=k))(jax.random.split(jax.random.key(0), 4))
        starts = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), starts)
        cps = jax.jit(jax.vmap(lambda p: C.find_critical_point(loss, p, args64, num_steps=100)))(starts)
        g = jax.vmap(lambda p: jnp.linalg.norm(ravel_pytree(jax.grad(loss)(p, *args64))[0]))(cps.params)
    gn, gn0 = np.asarray(cps.grad_norm), np.asarray(cps.grad_norms[:, 0])
    assert gn.shape == (4,) and np.all(gn < 1e-2 * gn0)          # ‖∇𝓛‖ down 100× from every start
    assert np.all(np.diff(np.asarray(cps.grad_norms), axis=1) <= 0)
    np.testing.assert_allclose(g, gn, rtol=1e-6, atol=1e-12)     # the reported norm is the true one


def test_hvp_fn_with_the_point_traced_under_jit_matches_the_hessian():
    # the chapter measures the cost with θ an argument of the compiled program (a closed-over θ is folded away)
    loss, params, args = net_problem(seed=6)
    flat, unravel = ravel_pytree(params)
    hv = jax.jit(lambda w, v, X, Y: C.hvp_fn(loss, unravel(w), (X, Y))[1](v))
    w2 = flat + 0.1 * jax.random.normal(jax.random.key(1), flat.shape)
    v = jax.random.normal(jax.random.key(2), flat.shape)
    H2 = np.asarray(C.hessian(loss, unravel(w2), args))
    np.testing.assert_allclose(hv(w2, v, *args), H2 @ np.asarray(v), rtol=1e-4, atol=1e-5)


def test_one_levenberg_marquardt_step_solves_the_damped_normal_equations():
    # δ = −(H² + μI)⁻¹ H g, against numpy.linalg.solve (the step is accepted: ‖g‖ falls)
    loss, params, args = net_problem(seed=7)
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
        a64 = tuple(jnp.asarray(a, jnp.float64) for a in args)
        flat, _ = ravel_pytree(p64)
        H = np.asarray(C.hessian(loss, p64, a64))
        g = np.asarray(ravel_pytree(jax.grad(loss)(p64, *a64))[0])
        mu = 0.5
        cp = C.find_critical_point(loss, p64, a64, num_steps=1, damping=mu)
        step = np.asarray(ravel_pytree(cp.params)[0] - flat)
    assert float(cp.grad_norms[1]) < float(cp.grad_norms[0])
    np.testing.assert_allclose(step, -np.linalg.solve(H @ H + mu * np.eye(len(g)), H @ g), rtol=1e-8, atol=1e-12)


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="^loss_fn must be callable"):
        C.hessian(3, jnp.zeros(2))
    with pytest.raises(TypeError, match="^args must be a tuple"):
        C.hvp_fn(two_weights, jnp.zeros(2), [1])
    with pytest.raises(ValueError, match="^params must be finite"):
        C.hessian(two_weights, jnp.array([jnp.nan, 0.0]))
    with pytest.raises(ValueError, match="^v must have the structure and shapes of params"):
        C.hvp(two_weights, jnp.zeros(2), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"^num_iters must be <= p = 2"):
        C.lanczos(two_weights, jnp.zeros(2), key=jax.random.key(0), num_iters=3)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        C.lanczos(two_weights, jnp.zeros(2), key=0)
    with pytest.raises(ValueError, match="^eigenvalues must have shape"):
        C.spectrum_counts(jnp.zeros((2, 2)), 1e-3)
    with pytest.raises(ValueError, match="^tol must be >= 0"):
        C.classify_critical_point(jnp.zeros(2), -1.0)
    with pytest.raises(ValueError, match="^damping must be > 0"):
        C.find_critical_point(two_weights, jnp.zeros(2), damping=0.0)
    with pytest.raises(ValueError, match="^num_steps must be >= 1"):
        C.find_critical_point(two_weights, jnp.zeros(2), num_steps=0)
