"""Tests for dlbook.theory: the closed forms against NumPy eigenvalues, direct computations and float64
recurrences (the experiments of the book are checked against these formulas, so the formulas are checked
against something independent)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import theory
from dlbook.surfaces import quadratic_matrix
from dlbook.theory import (
    Tuning,
    critical_learning_rate,
    optimal_gd,
    optimal_momentum,
    optimal_nesterov,
    sampling_variance,
)

A_ILL = np.asarray(quadratic_matrix([1.0, 10.0], 0.3), dtype=np.float64)  # λ = 1, 10; α* = 0.2


def test_module_exports_what_moved_from_descent():
    assert set(theory.__all__) == {"critical_learning_rate", "Tuning", "optimal_gd", "optimal_momentum",
                                   "optimal_nesterov", "sampling_variance", "gradient_variance", "momentum_matrix",
                                   "noise_scale", "top_hessian_eigenvalue"}


# -- critical_learning_rate -----------------------------------------------------------------------


def test_critical_learning_rate_against_numpy():
    rng = np.random.default_rng(3)
    for d in (1, 2, 5):
        M = rng.normal(size=(d, d))
        H = M @ M.T + 0.1 * np.eye(d)
        np.testing.assert_allclose(critical_learning_rate(H), 2.0 / np.linalg.eigvalsh(H).max(), rtol=1e-5)
    # indefinite but with a positive eigenvalue: still 2/λ_max
    np.testing.assert_allclose(critical_learning_rate(np.diag([-1.0, 4.0])), 0.5, rtol=1e-6)
    np.testing.assert_allclose(critical_learning_rate(A_ILL), 0.2, rtol=1e-6)


def test_critical_learning_rate_under_jit():
    np.testing.assert_allclose(jax.jit(critical_learning_rate)(jnp.diag(jnp.array([2.0, 8.0]))), 0.25, rtol=1e-6)


def test_critical_learning_rate_rejects_bad_hessians():
    with pytest.raises(ValueError, match=r"^hessian must have shape \(d, d\)"):
        critical_learning_rate(np.ones(3))
    with pytest.raises(ValueError, match="^hessian must be square"):
        critical_learning_rate(np.ones((2, 3)))
    with pytest.raises(ValueError, match="^hessian must be symmetric"):
        critical_learning_rate(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="^hessian must have a positive eigenvalue"):
        critical_learning_rate(-np.eye(2))
    with pytest.raises(ValueError, match="^hessian must be finite"):
        critical_learning_rate(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="^hessian must be"):
        critical_learning_rate("H")


# -- sampling_variance ----------------------------------------------------------------------------


def test_sampling_variance_against_the_exact_mean_over_all_batches():
    """E‖g_B − g‖² over *every* subset of size B of a small set, enumerated: equals (σ²/B)(n − B)/(n − 1)."""
    from itertools import combinations

    rng = np.random.default_rng(0)
    g = rng.normal(size=(7, 2))
    sigma2 = np.mean(np.sum((g - g.mean(0)) ** 2, axis=1))
    for B in range(1, 8):
        exact = np.mean([np.sum((g[list(c)].mean(0) - g.mean(0)) ** 2) for c in combinations(range(7), B)])
        np.testing.assert_allclose(float(sampling_variance(sigma2, 7, B)), exact, rtol=1e-5, atol=1e-7)


def test_sampling_variance_and_bad_input():
    np.testing.assert_allclose(sampling_variance(6.0, 7, jnp.array([1.0, 2.0, 7.0])), [6.0, 2.5, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match=r"^batch_size must lie in \[1, n = 7\]"):
        sampling_variance(6.0, 7, 8)
    with pytest.raises(ValueError, match="^sigma2 must be >= 0"):
        sampling_variance(-1.0, 7, 2)


# -- optimal tunings ------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_optimal_tunings_give_their_rates_on_a_diagonal_quadratic(kappa):
    """Iterate the linear recurrences in float64 on both eigen-directions and compare the decay with ρ."""
    lams = np.array([1.0, kappa])
    for tune, rule in ((optimal_gd, "gd"), (optimal_momentum, "hb"), (optimal_nesterov, "nag")):
        eta, gamma, rho = (float(v) for v in tune(1.0, kappa))
        x, v = np.ones(2), np.zeros(2)
        d = []
        for _ in range(400):
            g = lams * (x - gamma * v) if rule == "nag" else lams * x
            v = gamma * v + eta * g
            x = x - v
            d.append(np.linalg.norm(x))
        measured = (d[399] / d[299]) ** (1 / 100)
        assert measured <= rho * 1.03 and measured >= rho * 0.9, (rule, measured, rho)


def test_tuning_fields_are_learning_rate_gamma_rho():
    """The field is ``learning_rate`` (it was ``rate``, which also meant a dropout rate)."""
    assert Tuning._fields == ("learning_rate", "gamma", "rho")
    t = optimal_gd(1.0, 100.0)
    assert isinstance(t, Tuning)
    np.testing.assert_allclose(t.learning_rate, 2 / 101, rtol=1e-6)
    np.testing.assert_allclose(t.rho, 99 / 101, rtol=1e-6)
    np.testing.assert_allclose(optimal_momentum(1.0, 100.0).learning_rate, 4 / 11**2, rtol=1e-6)
    np.testing.assert_allclose(optimal_nesterov(1.0, 100.0).learning_rate, 0.01, rtol=1e-6)


def test_optimal_tunings_bad_input():
    with pytest.raises(ValueError, match="^l_min must be <= l_max"):
        optimal_momentum(10.0, 1.0)
    with pytest.raises(ValueError, match="^l_min must be > 0"):
        optimal_gd(0.0, 1.0)
    with pytest.raises(ValueError, match=r"^l_min must have shape \(\)"):
        optimal_gd(jnp.array([1.0, 2.0]), 3.0)


def test_sampling_variance_sigma2_must_be_a_scalar():
    with pytest.raises(ValueError, match=r"^sigma2 must have shape \(\) \(a scalar\)"):
        theory.sampling_variance(jnp.ones(2), 10, 2)


# -- momentum_matrix ------------------------------------------------------------------------------


def _momentum_errors(eta, gamma, lam, steps):
    """Heavy ball in float64 on ½λe², written as v ← γv + ηλe, e ← e − v (independent of the matrix)."""
    e, v, out = 1.0, 0.0, [1.0]
    for _ in range(steps):
        v = gamma * v + eta * lam * e
        e = e - v
        out.append(e)
    return np.array(out)


@pytest.mark.parametrize("eta,gamma,lam", [(0.1, 0.9, 1.0), (0.5, 0.25, 3.0), (1.9, 0.0, 1.0), (0.03, 0.6, 40.0)])
def test_momentum_matrix_reproduces_the_recurrence(eta, gamma, lam):
    M = np.asarray(theory.momentum_matrix(eta, gamma, lam), np.float64)
    e = _momentum_errors(eta, gamma, lam, 30)
    state = np.array([e[1], e[0]])
    for t in range(1, 30):
        state = M @ state
        np.testing.assert_allclose(state[0], e[t + 1], rtol=1e-4, atol=1e-6)


def test_momentum_matrix_stability_region_is_eta_lambda_below_2_1_plus_gamma():
    for gamma in (0.0, 0.5, 0.9):
        for x in np.linspace(0.05, 2 * (1 + gamma) - 0.05, 7):
            assert np.abs(np.linalg.eigvals(np.asarray(theory.momentum_matrix(x, gamma, 1.0)))).max() < 1
        for x in (2 * (1 + gamma) + 0.05, 5.0):
            assert np.abs(np.linalg.eigvals(np.asarray(theory.momentum_matrix(x, gamma, 1.0)))).max() > 1


def test_momentum_matrix_under_damped_modulus_is_sqrt_gamma():
    r = np.linalg.eigvals(np.asarray(theory.momentum_matrix(0.5, 0.81, 1.0), np.float64))
    assert np.all(np.abs(r.imag) > 0)
    np.testing.assert_allclose(np.abs(r), 0.9, rtol=1e-6)


def test_momentum_matrix_under_jit_and_bad_input():
    np.testing.assert_allclose(jax.jit(theory.momentum_matrix)(0.5, 0.25, 1.0), [[0.75, -0.25], [1.0, 0.0]])
    with pytest.raises(ValueError, match="^gamma must have shape"):
        theory.momentum_matrix(0.1, jnp.ones(2), 1.0)
    with pytest.raises(ValueError, match="^curvature must be finite"):
        theory.momentum_matrix(0.1, 0.9, np.nan)


# -- noise_scale ----------------------------------------------------------------------------------


def test_noise_scale_against_numpy_covariance():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 4)) + np.array([1.0, -2.0, 0.5, 0.0])
    G, S = g.mean(0), np.cov(g.T, bias=True)
    np.testing.assert_allclose(theory.noise_scale(g), np.trace(S) / (G @ G), rtol=1e-5)
    M = rng.normal(size=(4, 4)); H = M @ M.T
    np.testing.assert_allclose(theory.noise_scale(g, H), np.trace(H @ S) / (G @ H @ G), rtol=1e-4)


def test_noise_scale_is_where_batch_noise_equals_signal():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(400, 3)) + 0.3
    b = float(theory.noise_scale(g))
    n = len(g)
    sigma2 = float(np.sum((g - g.mean(0)) ** 2) / n)
    np.testing.assert_allclose(sigma2 / b, np.sum(g.mean(0) ** 2), rtol=1e-5)


def test_noise_scale_bad_input():
    with pytest.raises(ValueError, match=r"^per_example_grads must have shape \(n, p\)"):
        theory.noise_scale(np.ones(3))
    with pytest.raises(ValueError, match="^per_example_grads must have at least 2 rows"):
        theory.noise_scale(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^hessian must have shape \(3, 3\)"):
        theory.noise_scale(np.ones((4, 3)), np.eye(2))


# -- top_hessian_eigenvalue -----------------------------------------------------------------------


def test_top_hessian_eigenvalue_against_eigvalsh():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5)) * np.array([3.0, 1.0, 1.0, 0.5, 0.2])
    y = rng.normal(size=30)
    loss = lambda w, X, y: jnp.mean((X @ w - y) ** 2)  # noqa: E731
    top = np.linalg.eigvalsh(2 * X.T @ X / 30)[-1]
    est = theory.top_hessian_eigenvalue(loss, jnp.zeros(5), (jnp.asarray(X), jnp.asarray(y)), key=jax.random.key(0),
                                        num_iters=100)
    np.testing.assert_allclose(est, top, rtol=1e-4)


def test_top_hessian_eigenvalue_on_a_network_pytree_against_the_full_hessian():
    from dlbook.model import init_mlp, loss_value
    from jax.flatten_util import ravel_pytree
    params = init_mlp((3, 4, 2), key=jax.random.key(0))
    X = jax.random.normal(jax.random.key(1), (16, 3)); Y = jax.nn.one_hot(jnp.arange(16) % 2, 2)
    flat, unravel = ravel_pytree(params)
    H = jax.hessian(lambda w: loss_value(unravel(w), X, Y))(flat)
    eig = np.linalg.eigvalsh(np.asarray(H, np.float64))
    top = eig[np.argmax(np.abs(eig))]
    est = theory.top_hessian_eigenvalue(loss_value, params, (X, Y), key=jax.random.key(3), num_iters=300)
    np.testing.assert_allclose(est, top, rtol=1e-3)


def test_top_hessian_eigenvalue_bad_input():
    with pytest.raises(ValueError, match="^num_iters must be >= 1"):
        theory.top_hessian_eigenvalue(jnp.sum, jnp.ones(2), key=jax.random.key(0), num_iters=0)
    with pytest.raises(TypeError, match="^args must be a tuple"):
        theory.top_hessian_eigenvalue(jnp.sum, jnp.ones(2), [1], key=jax.random.key(0))
    with pytest.raises(TypeError, match="^loss_fn must be"):
        theory.top_hessian_eigenvalue(3, jnp.ones(2), key=jax.random.key(0))
