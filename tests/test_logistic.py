"""dlbook.logistic: the closed-form gradient against jax.grad and finite differences; stability; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import losses
from dlbook import model as mlp
from dlbook.activations import IDENTITY, SIGMOID
from dlbook.logistic import logistic_accuracy, logistic_gradient, logistic_loss, logistic_predict


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


def test_loss_is_the_librarys_binary_cross_entropy_from_the_scores():
    w, b, X, y = data(seed=2)
    z = X @ w + b
    assert float(logistic_loss(w, b, X, y)) == float(losses.binary_cross_entropy_with_logits(z, y))
    # and the one-layer network with a sigmoid output and binary cross-entropy: the same loss
    params = [mlp.Layer(w[None, :], jnp.reshape(b, (1,)))]
    net = mlp.loss_value(params, X, y[:, None], loss=losses.BINARY_CROSS_ENTROPY)
    assert float(logistic_loss(w, b, X, y)) == pytest.approx(float(net), rel=1e-5)
    with pytest.raises(ValueError, match=r"^y must lie in \[0, 1\] \(a 0/1 label per row\), got values such as 2.0"):
        logistic_loss(w, b, X, y.at[0].set(2.0))  # a label that is no probability


def test_accuracy_predicts_class_one_where_the_probability_exceeds_a_half():
    X = jnp.array([[2.0], [-1.0], [3.0], [0.0], [-50.0]])
    w, b = jnp.array([1.0]), 0.0  # z = x: classes (1, 0, 1, 0, 0); σ(0) = 1/2 is not > 1/2
    assert float(logistic_accuracy(w, b, X, jnp.array([1.0, 0.0, 1.0, 0.0, 0.0]))) == 1.0
    assert float(logistic_accuracy(w, b, X, jnp.array([1.0, 0.0, 0.0, 0.0, 0.0]))) == pytest.approx(4 / 5)
    assert float(logistic_accuracy(w, b, X, jnp.array([0.0, 1.0, 0.0, 1.0, 1.0]))) == 0.0
    assert float(logistic_accuracy(w, 1.5, X, jnp.array([1.0, 1.0, 1.0, 1.0, 0.0]))) == 1.0  # the bias moves the boundary
    yhat = logistic_predict(w, b, X)
    np.testing.assert_array_equal((yhat > 0.5).astype(int), [1, 0, 1, 0, 0])


def test_accuracy_is_the_models_accuracy_of_the_same_one_output_network():
    w, b, X, y = data(n=60, seed=3)
    params = [mlp.Layer(w[None, :], jnp.reshape(b, (1,)))]
    labels = y.astype(jnp.int32)
    for output in (SIGMOID, IDENTITY):
        assert float(logistic_accuracy(w, b, X, y)) == float(mlp.accuracy(params, X, labels, output=output))
    p = np.asarray(logistic_predict(w, b, X))
    assert float(logistic_accuracy(w, b, X, y)) == pytest.approx(np.mean((p > 0.5) == (np.asarray(y) == 1)))
    # labels made from the model's own predictions: a perfect score
    assert float(logistic_accuracy(w, b, X, (p > 0.5).astype(np.float32))) == 1.0


def test_accuracy_bad_input():
    w, b, X, y = data()
    with pytest.raises(ValueError, match=r"^y must have shape \(40,\)"):
        logistic_accuracy(w, b, X, y[:10])
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 3\) to match w"):
        logistic_accuracy(w, b, X[:, :2], y)
