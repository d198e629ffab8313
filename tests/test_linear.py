"""Tests for dlbook.linear: closed-form gradient and Hessian against jax.grad/jax.hessian, the least-squares
reference against numpy.linalg.lstsq, and gradient descent approaching it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook.data import fit_standardize, linear_regression_data, normalize
from dlbook.descent import critical_learning_rate, gradient_descent
from dlbook.linear import add_bias, least_squares, mse_gradient, mse_hessian, mse_loss, predict


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
