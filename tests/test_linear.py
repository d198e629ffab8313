"""Tests for dlbook.linear: closed-form gradient and Hessian against jax.grad/jax.hessian, the least-squares
reference against numpy.linalg.lstsq, and gradient descent approaching it; Chebyshev features against
numpy.polynomial.chebyshev.chebvander, ridge against lstsq and the float64 closed form (and a zero gradient of
its objective)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import chebyshev

from dlbook import regularization as reg
from dlbook.data import fit_standardize, linear_regression_data, normalize
from dlbook.descent import gradient_descent
from dlbook.linear import (add_bias, least_squares, mse_gradient, mse_hessian, mse_loss, polynomial_features, predict,
                           ridge)
from dlbook.theory import critical_learning_rate


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=30)).astype(np.float32)
    w = rng.normal(size=3).astype(np.float32)
    return X, y, w


def test_add_bias_and_predict_against_numpy(problem):
    X, _, w = problem
    Xb = add_bias(X)
    np.testing.assert_array_equal(Xb, np.column_stack([X, np.ones(len(X), np.float32)]))
    np.testing.assert_allclose(predict(w, X), X.astype(np.float64) @ w, rtol=1e-5, atol=1e-6)
    wb = np.append(w, 0.7).astype(np.float32)
    np.testing.assert_allclose(predict(wb, Xb), X.astype(np.float64) @ w + 0.7, rtol=1e-5, atol=1e-6)


def test_mse_loss_against_numpy(problem):
    X, y, w = problem
    ref = np.mean((X.astype(np.float64) @ w - y) ** 2)
    np.testing.assert_allclose(mse_loss(w, X, y), ref, rtol=1e-5)


def test_mse_gradient_equals_jax_grad(problem):
    X, y, w = problem
    np.testing.assert_allclose(mse_gradient(w, X, y), jax.grad(mse_loss)(w, X, y), rtol=1e-5, atol=1e-5)
    with jax.enable_x64(True):
        X64, y64, w64 = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
        np.testing.assert_allclose(mse_gradient(w64, X64, y64), jax.grad(mse_loss)(w64, X64, y64), rtol=1e-12)
        np.testing.assert_allclose(mse_gradient(w64, X64, y64), 2 / len(y) * X64.T @ (X64 @ w64 - y64), rtol=1e-12)


def test_mse_hessian_equals_jax_hessian(problem):
    X, y, w = problem
    H = mse_hessian(X)
    np.testing.assert_allclose(H, jax.hessian(mse_loss)(w, X, y), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(H, 2 / len(X) * X.T.astype(np.float64) @ X, rtol=1e-5, atol=1e-5)
    # independent of w and y
    np.testing.assert_allclose(jax.hessian(mse_loss)(w + 3.0, X, -y), H, rtol=1e-5, atol=1e-5)


def test_least_squares_against_numpy_lstsq(problem):
    X, y, _ = problem
    Xb = np.asarray(add_bias(X))
    ref, *_ = np.linalg.lstsq(Xb.astype(np.float64), y.astype(np.float64), rcond=None)
    np.testing.assert_allclose(least_squares(Xb, y), ref, rtol=1e-4, atol=1e-5)
    # and the gradient vanishes there
    np.testing.assert_allclose(mse_gradient(least_squares(Xb, y), Xb, y), 0.0, atol=1e-4)


def test_gradient_descent_on_linear_regression_approaches_least_squares():
    X, y = linear_regression_data(
        200, [0.02, 3.0], 1.5, low=[30.0, 1.0], high=[150.0, 6.0], noise=0.5, key=jax.random.key(0)
    )
    Xb = add_bias(normalize(X, fit_standardize(X)))
    w_star = np.linalg.lstsq(np.asarray(Xb, np.float64), np.asarray(y, np.float64), rcond=None)[0]
    np.testing.assert_allclose(least_squares(Xb, y), w_star, rtol=1e-4, atol=1e-4)
    lr = 0.9 * float(critical_learning_rate(mse_hessian(Xb)))
    traj = gradient_descent(mse_loss, jnp.zeros(3), lr, 300, args=(Xb, y))
    np.testing.assert_allclose(traj.params[-1], w_star, rtol=1e-3, atol=1e-3)
    L_star = float(np.mean((np.asarray(Xb, np.float64) @ w_star - np.asarray(y)) ** 2))
    np.testing.assert_allclose(float(traj.losses[-1]), L_star, rtol=1e-4)
    # past the threshold the same problem diverges (chapter 1's 2/λ_max applies exactly)
    lr_bad = 1.05 * float(critical_learning_rate(mse_hessian(Xb)))
    bad = gradient_descent(mse_loss, jnp.zeros(3), lr_bad, 300, args=(Xb, y))
    assert not np.isfinite(float(bad.losses[-1])) or float(bad.losses[-1]) > 1e3 * float(bad.losses[0])


def test_mse_loss_is_vmappable_over_weights(problem):
    X, y, _ = problem
    W = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    got = jax.vmap(mse_loss, in_axes=(0, None, None))(W, X, y)
    ref = np.mean((W.astype(np.float64) @ X.T - y) ** 2, axis=1)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_bad_shapes_name_the_argument(problem):
    X, y, w = problem
    with pytest.raises(ValueError, match=r"^w must have shape \(3,\) to match X of shape \(30, 3\)"):
        predict(np.ones(4), X)
    with pytest.raises(ValueError, match=r"^w must have shape \(3,\)"):
        mse_loss(np.ones(2), X, y)
    with pytest.raises(ValueError, match=r"^y must have shape \(30,\) to match X"):
        mse_loss(w, X, y[:-1])
    with pytest.raises(ValueError, match=r"^y must have shape \(30,\)"):
        mse_gradient(w, X, y[:, None])
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        predict(w, X[0])
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        mse_hessian(X[0])
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        add_bias(X[0])
    with pytest.raises(ValueError, match=r"^y must have shape \(30,\) to match X"):
        least_squares(X, y[:5])
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        least_squares(y, y)
    with pytest.raises(TypeError, match="^w must be"):
        predict("w", X)
    # the same check fires inside gradient descent (shapes are static under jit)
    with pytest.raises(ValueError, match=r"^w must have shape \(3,\) to match X"):
        gradient_descent(mse_loss, jnp.zeros(2), 0.1, 3, args=(X, y))


# -- polynomial_features ------------------------------------------------------------------------------------

X_POLY = np.linspace(-1, 1, 23).astype(np.float32)


@pytest.mark.parametrize("degree", [1, 2, 5, 15])
def test_polynomial_features_are_chebyshev_polynomials(degree):
    got = polynomial_features(X_POLY, degree)
    assert got.shape == (23, degree) and got.dtype == jnp.float32
    ref = chebyshev.chebvander(X_POLY.astype(np.float64), degree)[:, 1:]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(polynomial_features(X_POLY, float(degree)), got)  # an integral float is accepted


def test_polynomial_features_traced_degree_masks_columns_and_keeps_the_shape():
    f = jax.jit(lambda d: polynomial_features(X_POLY, d, max_degree=6))
    ref = chebyshev.chebvander(X_POLY.astype(np.float64), 6)[:, 1:]
    for d in range(7):
        got = np.asarray(f(d))
        assert got.shape == (23, 6)
        np.testing.assert_allclose(got[:, :d], ref[:, :d], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got[:, d:], 0.0)
    many = jax.vmap(lambda d: polynomial_features(X_POLY, d, max_degree=6))(jnp.arange(7))
    assert many.shape == (7, 23, 6)
    np.testing.assert_array_equal(many[3], f(3))


def test_polynomial_features_degree_zero_with_max_degree_is_all_zero():
    got = polynomial_features(X_POLY, 0, max_degree=4)
    assert got.shape == (23, 4)
    np.testing.assert_array_equal(got, 0.0)
    # a concrete degree below max_degree zeroes the same columns as a traced one
    np.testing.assert_array_equal(polynomial_features(X_POLY, 2, max_degree=4)[:, :2], polynomial_features(X_POLY, 2))


def test_polynomial_features_bad_input():
    with pytest.raises(ValueError, match=r"^x must have shape \(n,\) \(one input per example\)"):
        polynomial_features(X_POLY[:, None], 3)
    with pytest.raises(ValueError, match=r"^degree must be in \[0, 5\] \(max_degree\), got 6"):
        polynomial_features(X_POLY, 6, max_degree=5)
    with pytest.raises(ValueError, match="^max_degree must be given when degree is traced"):
        jax.jit(lambda d: polynomial_features(X_POLY, d))(3)
    with pytest.raises(ValueError, match="^degree must be >= 1, got -1"):
        polynomial_features(X_POLY, -1)
    with pytest.raises(ValueError, match=r"^degree must be in \[0, 5\] \(max_degree\), got -1"):
        polynomial_features(X_POLY, -1, max_degree=5)
    with pytest.raises(ValueError, match="^degree must be >= 1, got 0"):
        polynomial_features(X_POLY, 0)  # degree 0 needs max_degree
    with pytest.raises(ValueError, match="^max_degree must be >= 1"):
        polynomial_features(X_POLY, 0, max_degree=0)
    with pytest.raises(ValueError, match="^degree must be a whole number, got 2.5"):
        polynomial_features(X_POLY, 2.5, max_degree=5)


# -- ridge --------------------------------------------------------------------------------------------------


def ridge_reference(X, y, l2):
    """The float64 closed form on centred data: w = (X̃ᵀX̃ + (nλ/2) I)⁻¹ X̃ᵀ(y − ȳ), b = ȳ − x̄ᵀw."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    n, d = X.shape
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    w = np.linalg.solve(Xc.T @ Xc + 0.5 * n * l2 * np.eye(d), Xc.T @ (y - ym))
    return np.append(w, ym - xm @ w)


def test_ridge_at_zero_is_least_squares_with_an_intercept(problem):
    X, y, _ = problem
    ref = np.linalg.lstsq(np.column_stack([X.astype(np.float64), np.ones(len(X))]), y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(ridge(X, y, 0.0), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("l2", [0.01, 0.5, 10.0])
def test_ridge_equals_the_float64_closed_form(problem, l2):
    X, y, _ = problem
    np.testing.assert_allclose(ridge(X, y, l2), ridge_reference(X, y, l2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_ridge_objective_has_zero_gradient_at_the_solution(problem, l2):
    X, y, _ = problem
    Xb = add_bias(X)

    def objective(coef):  # (1/n)‖Xw + b − y‖² + (λ/2)‖w‖², the intercept unpenalised
        return mse_loss(coef, Xb, y) + 0.5 * l2 * jnp.sum(coef[:-1] ** 2)

    coef = ridge(X, y, l2)
    np.testing.assert_allclose(jax.grad(objective)(coef), 0.0, atol=1e-4)
    # it is also mse_loss plus regularization.l2_penalty of w as a (1, d) weight matrix
    np.testing.assert_allclose(objective(coef), mse_loss(coef, Xb, y) + reg.l2_penalty([coef[None, :-1]], l2), rtol=1e-6)
    # and a minimum: nudging the coefficients raises the objective
    for i in range(4):
        assert float(objective(coef.at[i].add(1e-2))) > float(objective(coef))


def test_ridge_shrinks_the_weights_as_lambda_grows(problem):
    X, y, _ = problem
    norms = [float(jnp.linalg.norm(ridge(X, y, l2)[:-1])) for l2 in (0.0, 0.1, 1.0, 10.0, 1e4)]
    assert norms == sorted(norms, reverse=True)
    big = ridge(X, y, 1e6)
    np.testing.assert_allclose(big[:-1], 0.0, atol=1e-4)
    np.testing.assert_allclose(big[-1], y.astype(np.float64).mean(), rtol=1e-4)  # a flat line through ȳ


def test_ridge_lambda_may_be_traced_under_vmap(problem):
    X, y, _ = problem
    l2s = jnp.array([0.0, 0.1, 2.0])
    many = jax.vmap(lambda l2: ridge(X, y, l2))(l2s)
    assert many.shape == (3, 4)
    for l2, coef in zip(l2s.tolist(), many):
        np.testing.assert_allclose(coef, ridge(X, y, l2), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(coef, ridge_reference(X, y, l2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("l2", [0.0, 0.2])
def test_ridge_gives_all_zero_columns_weight_zero(problem, l2):
    X, y, _ = problem
    Xz = np.column_stack([X[:, 0], np.zeros(30), X[:, 1], X[:, 2], np.zeros(30)]).astype(np.float32)
    coef = np.asarray(ridge(Xz, y, l2))
    assert coef.shape == (6,) and np.all(np.isfinite(coef))
    assert np.all(coef[[1, 4]] == 0.0)  # exactly 0 (the SVD alone would leak ~1e-7 into them)
    np.testing.assert_allclose(coef[[0, 2, 3, 5]], ridge(X, y, l2), rtol=1e-4, atol=1e-5)


def test_ridge_on_masked_polynomial_features_is_the_lower_degree_fit():
    x = np.linspace(-1, 1, 15).astype(np.float32)
    y = np.sin(np.pi * x).astype(np.float32)
    padded = ridge(polynomial_features(x, 3, max_degree=8), y, 0.0)
    assert np.all(np.asarray(padded[3:8]) == 0.0)
    exact = ridge(polynomial_features(x, 3), y, 0.0)
    np.testing.assert_allclose(padded[:3], exact[:3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(padded[-1], exact[-1], rtol=1e-4, atol=1e-5)


def test_ridge_bad_input(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="^l2 must be >= 0, got -0.1"):
        ridge(X, y, -0.1)
    with pytest.raises(ValueError, match="^l2 must be finite"):
        ridge(X, y, np.nan)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lam'"):  # the strength is l2, as in l2_penalty
        ridge(X, y, lam=0.1)
    np.testing.assert_array_equal(ridge(X, y, l2=0.1), ridge(X, y, 0.1))
    with pytest.raises(ValueError, match=r"^y must have shape \(30,\) to match X"):
        ridge(X, y[:-1], 0.1)
    with pytest.raises(ValueError, match=r"^y must have shape \(30,\) to match X"):
        ridge(X, y[:, None], 0.1)
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        ridge(X[:, 0], y, 0.1)


def test_ridge_l2_must_be_a_scalar():
    with pytest.raises(ValueError, match=r"^l2 must have shape \(\) \(a scalar; vmap over ridge for several\)"):
        ridge(jnp.ones((3, 2)), jnp.ones(3), jnp.ones(2))
