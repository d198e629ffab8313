"""dlbook.model: the forward pass, the loss value, predictions and accuracy, dead units, dropout masks; bad input."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import activations as A
from dlbook import losses as L
from dlbook import model as mlp
from dlbook import optim
from dlbook.descent import optimize


def net(sizes, batch, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = mlp.init_mlp(sizes, key=k1)
    X = jax.random.normal(k2, (batch, sizes[0]))
    return params, X, jax.random.uniform(k3, (batch, sizes[-1]))


def test_forward_keeps_every_layer_and_matches_the_formula():
    params, X, _ = net((3, 4, 2), 5, seed=3)
    fwd = mlp.forward(params, X, activation=A.TANH, output=A.IDENTITY)
    assert [a.shape for a in fwd.activations] == [(5, 3), (5, 4), (5, 2)] and len(fwd.zs) == 2
    z1 = X @ params[0].W.T + params[0].b
    np.testing.assert_allclose(fwd.zs[0], z1, rtol=1e-6)
    np.testing.assert_allclose(fwd.activations[1], np.tanh(z1), rtol=1e-6)
    np.testing.assert_allclose(fwd.activations[2], fwd.zs[1], rtol=1e-6)
    # the hidden activation is the default of the output layer too
    both = mlp.forward(params, X, activation=A.TANH)
    np.testing.assert_allclose(both.activations[2], np.tanh(both.zs[1]), rtol=1e-6)


def test_init_is_deterministic_and_scaled():
    a = mlp.init_mlp([64, 256, 10], key=jax.random.key(7))
    b = mlp.init_mlp((64, 256, 10), key=jax.random.key(7))
    assert all(np.array_equal(x.W, y.W) for x, y in zip(a, b))
    assert a[0].W.shape == (256, 64) and a[1].b.shape == (10,) and not np.any(a[0].b)
    assert abs(float(jnp.std(a[0].W)) * 8 - 1) < 0.05  # N(0, 1/n_0), n_0 = 64


def test_loss_value_is_the_batch_mean_of_the_per_example_loss():
    params, X, Y = net((3, 4, 2), 6, seed=1)
    a = mlp.forward(params, X).activations[-1]  # sigmoid output: probabilities
    half = 0.5 * np.sum((np.asarray(Y, np.float64) - np.asarray(a, np.float64)) ** 2, axis=1)
    assert float(mlp.loss_value(params, X, Y)) == pytest.approx(np.mean(half), rel=1e-5)  # HALF_SQUARED default
    Yb = (Y > 0.5).astype(jnp.float32)
    an, yn = np.asarray(a, np.float64), np.asarray(Yb, np.float64)
    bce = -np.sum(yn * np.log(an) + (1 - yn) * np.log(1 - an), axis=1)
    assert float(mlp.loss_value(params, X, Yb, loss=L.BINARY_CROSS_ENTROPY)) == pytest.approx(np.mean(bce), rel=1e-5)


def test_bad_input_is_reported_clearly():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 3\)"):
        mlp.forward(params, X[:, :2])
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 3\)"):
        mlp.forward(params, X[0])
    with pytest.raises(ValueError, match=r"^Y must have shape \(5, 2\)"):
        mlp.loss_value(params, X, Y[:, :1])
    with pytest.raises(ValueError, match="^layer 2: W has 3 inputs but layer 1 has 4 units"):
        mlp.forward([params[0], mlp.Layer(jnp.ones((2, 3)), jnp.zeros(2))], X)
    with pytest.raises(ValueError, match=r"^layer 1: W must be \(n_l, n_\(l-1\)\) and b \(n_l,\)"):
        mlp.forward([mlp.Layer(params[0].W, jnp.zeros(3)), params[1]], X)
    with pytest.raises(TypeError, match="^params must be a non-empty list of dlbook.model.Layer"):
        mlp.forward([], X)
    with pytest.raises(TypeError, match="^activation must be a dlbook.activations.Activation, got str"):
        mlp.forward(params, X, activation="relu")
    with pytest.raises(TypeError, match="^output must be a dlbook.activations.Activation"):
        mlp.predict(params, X, output=jnp.tanh)
    with pytest.raises(TypeError, match="^loss must be a dlbook.losses.Loss, got function"):
        mlp.loss_value(params, X, Y, loss=jnp.mean)
    with pytest.raises(ValueError, match="^sizes must be a sequence of at least two"):
        mlp.init_mlp([3], key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^sizes\[1\] must be"):
        mlp.init_mlp([3, 0], key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"^key must be a jax.random.key"):
        mlp.init_mlp([3, 2], key=0)
    with pytest.raises(TypeError):
        mlp.init_mlp([3, 2], jax.random.key(0))  # the key is keyword-only


# -- predictions and accuracy ----------------------------------------------------------------------------


def test_accuracy_counts_argmax_hits():
    params = [mlp.Layer(jnp.eye(3), jnp.zeros(3))]
    X = jnp.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 3.0], [5.0, 0.0, 0.0]])
    labels = jnp.array([0, 1, 2, 1])
    assert mlp.predict(params, X, activation=A.IDENTITY).tolist() == [0, 1, 2, 0]
    assert float(mlp.accuracy(params, X, labels, activation=A.IDENTITY)) == 0.75


ONE = [mlp.Layer(jnp.array([[1.0]]), jnp.zeros(1))]  # one output unit: z = x, a = σ(x)
X1 = jnp.array([[2.0], [-3.0], [1.0], [-0.5], [0.0], [40.0]])


def test_one_sigmoid_output_predicts_class_one_where_the_probability_exceeds_a_half():
    """With one output unit the class is 1 where σ(z) > 1/2 (z > 0), else 0.

    The old ``accuracy`` took ``argmax`` over the single output, always 0: a perfect classifier scored the share
    of class 0 (here 1/2)."""
    labels = jnp.array([1, 0, 1, 0, 0, 1])  # σ(0) = 1/2 exactly is not > 1/2: class 0
    assert mlp.predict(ONE, X1).tolist() == labels.tolist()
    p = mlp.forward(ONE, X1).activations[-1][:, 0]
    assert mlp.predict(ONE, X1).tolist() == (p > 0.5).astype(int).tolist()
    assert float(mlp.accuracy(ONE, X1, labels)) == 1.0  # a perfect classifier
    assert float(mlp.accuracy(ONE, X1, 1 - labels)) == 0.0  # a perfectly wrong one
    assert float(mlp.accuracy(ONE, X1, jnp.array([1, 0, 0, 0, 0, 1]))) == pytest.approx(5 / 6)
    # decided on the score z^L: the same classes whatever the (increasing) output activation
    for output in (A.SIGMOID, A.TANH, A.IDENTITY, A.RELU):
        assert mlp.predict(ONE, X1, output=output).tolist() == labels.tolist(), output.name
        assert float(mlp.accuracy(ONE, X1, labels, output=output)) == 1.0, output.name


def test_a_trained_logistic_network_classifies_separable_data_perfectly():
    """Train a one-output sigmoid network with binary cross-entropy on linearly separable data: accuracy 1."""
    X = jax.random.normal(jax.random.key(20), (40, 2))
    X = X + 0.5 * jnp.sign(X[:, :1] + X[:, 1:])  # push the two classes away from the line x₀ + x₁ = 0
    labels = (X[:, 0] + X[:, 1] > 0).astype(jnp.int32)
    assert 0 < int(labels.sum()) < 40
    params = mlp.init_mlp((2, 1), key=jax.random.key(21))
    loss_fn = partial(mlp.loss_value, loss=L.BINARY_CROSS_ENTROPY)
    run = optimize(loss_fn, params, optim.sgd(1.0), 300, args=(X, labels[:, None].astype(X.dtype)), path=False)
    assert run.losses[-1] < 0.1
    assert float(mlp.accuracy(run.params, X, labels)) == 1.0
    assert mlp.num_classes(run.params) == 2


def test_labels_must_be_classes_the_network_predicts():
    """A single output unit tells 2 classes apart (0 and 1), n_L > 1 outputs tell n_L; the old ``accuracy`` accepted
    any integer (label 7 for a one-output network just counted as a miss)."""
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, 2\) \(the network predicts 2 classes\), got 0…2$"):
        mlp.accuracy(ONE, X1, jnp.array([1, 0, 2, 0, 0, 1]))
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, 2\) \(the network predicts 2 classes\), got 0…7$"):
        mlp.accuracy(ONE, X1, jnp.array([1, 0, 7, 0, 0, 1]))
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, 2\) .*got -1…1$"):
        mlp.accuracy(ONE, X1, jnp.array([1, 0, -1, 0, 0, 1]))
    three = [mlp.Layer(jnp.eye(3), jnp.zeros(3))]
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, 3\) \(the network predicts 3 classes\), got 0…3$"):
        mlp.accuracy(three, jnp.eye(3), jnp.array([0, 1, 3]))
    assert [mlp.num_classes(p) for p in (ONE, three, mlp.init_mlp((2, 5, 2), key=jax.random.key(0)))] == [2, 3, 2]
    # inside jit the labels are not known: only their shape and dtype are checked
    acc = jax.jit(lambda y: mlp.accuracy(ONE, X1, y))(jnp.array([1, 0, 1, 0, 0, 1]))
    assert float(acc) == 1.0


def test_accuracy_bad_input():
    params, X, _ = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^labels must be integer class indices of shape \(5,\)"):
        mlp.accuracy(params, X, jnp.zeros(5))
    with pytest.raises(ValueError, match=r"^labels must be integer class indices of shape \(5,\)"):
        mlp.accuracy(params, X, jnp.zeros((5, 2), dtype=jnp.int32))
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 3\)"):
        mlp.predict(params, X[:, :2])


# -- dead units (chapter 3) --------------------------------------------------------------------------------


def test_dead_units_are_the_units_off_for_the_whole_batch():
    params = [mlp.Layer(jnp.array([[1.0], [-1.0], [0.0]]), jnp.array([0.0, -0.5, 0.0])),
              mlp.Layer(jnp.ones((1, 3)), jnp.zeros(1))]
    X = jnp.array([[0.2], [0.4]])
    (dead,) = mlp.dead_units(mlp.forward(params, X, activation=A.RELU))
    assert dead.tolist() == [False, True, True]  # z = 0 on every example counts as dead: relu'(0) = 0
    assert mlp.dead_units(mlp.forward([params[1]], jnp.ones((2, 3)))) == []  # no hidden layer


def test_dead_units_bad_input():
    with pytest.raises(TypeError, match="^fwd must be the Forward returned by dlbook.model.forward, got list"):
        mlp.dead_units([jnp.zeros((2, 3))])


# -- dropout in the forward pass (chapter 5); its backward pass is tested in test_backprop.py --------------


def test_dropout_zero_is_the_plain_forward_pass_without_masks():
    params, X, _ = net((3, 5, 4, 2), 6, seed=9)
    plain = mlp.forward(params, X, activation=A.RELU)
    assert plain.masks is None
    zero = mlp.forward(params, X, activation=A.RELU, dropout=0.0, key=jax.random.key(0))
    assert zero.masks is None
    for a, b in zip(zero.activations, plain.activations):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(zero.zs, plain.zs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mlp.forward(params, X, activation=A.RELU, dropout=0).zs[-1], plain.zs[-1])  # no key needed


def test_dropout_masks_are_zero_or_inverse_keep_rate_and_keep_about_one_minus_p():
    params = mlp.init_mlp((4, 2000, 3), key=jax.random.key(12))
    X = jax.random.normal(jax.random.key(13), (50, 4))
    for rate in (0.25, 0.5):
        fwd = mlp.forward(params, X, activation=A.RELU, dropout=rate, key=jax.random.key(14))
        (m,) = fwd.masks
        assert m.shape == (50, 2000)
        values = np.unique(np.asarray(m))
        np.testing.assert_allclose(values, [0.0, 1 / (1 - rate)], rtol=1e-6)
        assert float(jnp.mean(m > 0)) == pytest.approx(1 - rate, abs=0.01)
        # activations[1] keeps f(z) itself; the next layer sees f(z) ⊙ m
        np.testing.assert_allclose(fwd.activations[1], jax.nn.relu(fwd.zs[0]), rtol=1e-6)
        z2 = (fwd.activations[1] * m) @ params[1].W.T + params[1].b
        np.testing.assert_allclose(fwd.zs[1], z2, rtol=1e-4, atol=1e-4)


def test_the_input_layer_is_never_dropped():
    params, X, _ = net((6, 5, 2), 7, seed=10)
    fwd = mlp.forward(params, X, activation=A.TANH, dropout=0.9, key=jax.random.key(15))
    np.testing.assert_allclose(fwd.zs[0], X @ params[0].W.T + params[0].b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fwd.activations[0], X)
    assert len(fwd.masks) == 1 and fwd.masks[0].shape == (7, 5)  # the hidden layer only


def test_dropout_rate_may_be_traced_under_vmap():
    params = mlp.init_mlp((3, 1000, 2), key=jax.random.key(16))
    X = jax.random.normal(jax.random.key(17), (20, 3))
    rates = jnp.array([0.1, 0.5, 0.8])
    kept = jax.vmap(lambda r: jnp.mean(mlp.forward(params, X, activation=A.RELU, dropout=r,
                                                  key=jax.random.key(18)).masks[0] > 0))(rates)
    np.testing.assert_allclose(kept, 1 - rates, atol=0.01)
    # each traced rate gives the same draw as the concrete call
    scores = jax.vmap(lambda r: mlp.forward(params, X, activation=A.RELU, dropout=r, key=jax.random.key(18)).zs[-1])(rates)
    for r, s in zip(rates.tolist(), scores):
        ref = mlp.forward(params, X, activation=A.RELU, dropout=r, key=jax.random.key(18)).zs[-1]
        np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-5)


def test_dropout_bad_input_in_the_forward_pass():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        mlp.forward(params, X, dropout=1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        mlp.forward(params, X, dropout=-0.1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        mlp.loss_value(params, X, Y, dropout=1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="^key must be given"):
        mlp.forward(params, X, dropout=0.5)
    with pytest.raises(ValueError, match="^key must be given"):
        mlp.loss_value(params, X, Y, dropout=0.5)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        mlp.forward(params, X, dropout=0.5, key=0)
