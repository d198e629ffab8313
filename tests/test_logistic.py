"""dlbook.logistic: the closed-form gradient against jax.grad and finite differences; stability; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook.logistic import logistic_gradient, logistic_loss, logistic_predict


def data(n=40, d=3, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    X = jax.random.normal(k1, (n, d))
    y = jax.random.bernoulli(k2, 0.4, (n,)).astype(X.dtype)
    return jax.random.normal(k3, (d,)), 0.3, X, y


def test_loss_is_binary_cross_entropy():
    w, b, X, y = data()
    p = 1 / (1 + np.exp(-(np.asarray(X) @ np.asarray(w) + b)))
    ref = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(logistic_loss(w, b, X, y), ref, rtol=1e-5)
    np.testing.assert_allclose(logistic_predict(w, b, X), p, rtol=1e-5)


def test_closed_form_gradient_equals_autodiff_and_finite_differences():
    with jax.enable_x64(True):
        w, b, X, y = data(seed=1)
        w, X, y, b = w.astype(jnp.float64), X.astype(jnp.float64), y.astype(jnp.float64), jnp.float64(b)
        gw, gb = logistic_gradient(w, b, X, y)
        rw, rb = jax.grad(logistic_loss, argnums=(0, 1))(w, b, X, y)
        np.testing.assert_allclose(gw, rw, rtol=1e-10)
        np.testing.assert_allclose(gb, rb, rtol=1e-10)
        h = 1e-6
        fd = [(logistic_loss(w.at[i].add(h), b, X, y) - logistic_loss(w.at[i].add(-h), b, X, y)) / (2 * h)
              for i in range(w.size)]
        np.testing.assert_allclose(gw, fd, rtol=1e-6)


def test_stable_when_the_prediction_is_confidently_wrong():
    X = jnp.array([[1.0], [1.0]])
    y = jnp.array([0.0, 1.0])
    loss = logistic_loss(jnp.array([100.0]), 0.0, X, y)  # σ(100) rounds to 1: naive log(1 − ŷ) = −inf
    assert np.isfinite(loss) and float(loss) == pytest.approx(50.0, rel=1e-5)
    gw, gb = logistic_gradient(jnp.array([100.0]), 0.0, X, y)
    assert float(gb) == pytest.approx(0.5) and np.all(np.isfinite(gw))


def test_bad_input_is_reported_clearly():
    w, b, X, y = data()
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 3\) to match w"):
        logistic_loss(w, b, X[:, :2], y)
    with pytest.raises(ValueError, match=r"^y must have shape \(40,\)"):
        logistic_loss(w, b, X, y[:10])
    with pytest.raises(ValueError, match=r"^w must have shape \(d,\)"):
        logistic_predict(w[None], b, X)
    with pytest.raises(ValueError, match="^b must be a scalar"):
        logistic_gradient(w, jnp.ones(2), X, y)
