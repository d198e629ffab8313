"""dlbook.normalization and the normalization / residual options of dlbook.model.forward: the hand-written BN and
LN backward passes against jax.grad and central finite differences in float64; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import backprop as bp
from dlbook import model as mlp
from dlbook import normalization as nm
from dlbook.activations import IDENTITY, RELU
from dlbook.losses import SOFTMAX_CROSS_ENTROPY


def _data(dtype=jnp.float32, B=6, n=4):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(3), 4)
    z = 2.0 + 3.0 * jax.random.normal(k1, (B, n), dtype)
    g = jax.random.normal(k2, (B, n), dtype)
    gamma = 1.0 + 0.5 * jax.random.normal(k3, (n,), dtype)
    beta = jax.random.normal(k4, (n,), dtype)
    return z, g, gamma, beta


def _reference(z, gamma, beta, axis, eps=nm.EPS):
    mu = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, keepdims=True)
    return gamma * (z - mu) / jnp.sqrt(var + eps) + beta


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_forward_matches_definition(kind):
    z, _, gamma, beta = _data()
    f, axis = (nm.batch_norm, 0) if kind == "batch" else (nm.layer_norm, 1)
    np.testing.assert_allclose(f(z, gamma, beta), _reference(z, gamma, beta, axis), rtol=1e-5, atol=1e-5)


def test_batch_norm_output_statistics():
    z, _, _, _ = _data(B=64)
    y = nm.batch_norm(z, jnp.ones(4), jnp.zeros(4))
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1.0, rtol=1e-3)


def test_eval_mode_uses_given_statistics():
    z, _, gamma, beta = _data()
    s = nm.Stats(jnp.arange(4.0), jnp.arange(1.0, 5.0))
    want = gamma * (z - s.mean) / jnp.sqrt(s.var + nm.EPS) + beta
    np.testing.assert_allclose(nm.batch_norm(z, gamma, beta, stats=s), want, rtol=1e-5, atol=1e-5)
    # train mode with the batch's own statistics is eval mode with batch_stats
    np.testing.assert_allclose(nm.batch_norm(z, gamma, beta, stats=nm.batch_stats(z)), nm.batch_norm(z, gamma, beta),
                               rtol=1e-5, atol=1e-5)


def test_layer_norm_is_independent_of_the_batch():
    z, _, gamma, beta = _data()
    np.testing.assert_allclose(nm.layer_norm(z[:2], gamma, beta), nm.layer_norm(z, gamma, beta)[:2], rtol=1e-6)
    assert not np.allclose(nm.batch_norm(z[:2], gamma, beta), nm.batch_norm(z, gamma, beta)[:2])


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_backward_matches_jax_grad_and_finite_differences_float64(kind):
    with jax.enable_x64(True):
        z, g, gamma, beta = _data(jnp.float64)
        f, back = (nm.batch_norm, nm.batch_norm_backward) if kind == "batch" else (nm.layer_norm, nm.layer_norm_backward)
        loss = lambda z, gamma, beta: jnp.sum(g * f(z, gamma, beta))   # ∂loss/∂y = g
        dz, dgamma, dbeta = back(g, z, gamma)
        want = jax.grad(loss, argnums=(0, 1, 2))(z, gamma, beta)
        for got, ref in zip((dz, dgamma, dbeta), want):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
        h = 1e-6                                                        # central differences, a few entries
        for (i, j) in [(0, 0), (3, 2), (5, 3)]:
            e = jnp.zeros_like(z).at[i, j].set(h)
            fd = (loss(z + e, gamma, beta) - loss(z - e, gamma, beta)) / (2 * h)
            np.testing.assert_allclose(dz[i, j], fd, rtol=1e-6, atol=1e-8)
        e = jnp.zeros_like(gamma).at[1].set(h)
        np.testing.assert_allclose(dgamma[1], (loss(z, gamma + e, beta) - loss(z, gamma - e, beta)) / (2 * h), rtol=1e-6)


def test_running_average_converges_to_the_mean_of_the_statistics():
    s = nm.Stats(jnp.zeros(2), jnp.ones(2))
    target = nm.Stats(jnp.array([1.0, -2.0]), jnp.array([4.0, 0.5]))
    for _ in range(200):
        s = nm.running_average(s, target, 0.1)
    np.testing.assert_allclose(s.mean, target.mean, rtol=1e-6)
    np.testing.assert_allclose(s.var, target.var, rtol=1e-6)


def _net(norm=True, seed=0, sizes=(3, 5, 5, 5, 2)):
    params = mlp.init_mlp(sizes, key=jax.random.key(seed))
    return nm.add_norm(params) if norm else params


def _xy(B=8):
    X = jax.random.normal(jax.random.key(1), (B, 3))
    return X, jax.nn.one_hot(jnp.arange(B) % 2, 2)


def test_forward_norm_matches_manual_composition():
    params, (X, Y) = _net(), _xy()
    for norm, f in (("batch", nm.batch_norm), ("layer", nm.layer_norm)):
        fwd = mlp.forward(params, X, activation=RELU, output=IDENTITY, norm=norm, residual=1.0)
        a = X
        for l, p in enumerate(params, start=1):
            z = a @ p.W.T + p.b
            if l == len(params):
                a = z
            else:
                new = jax.nn.relu(f(z, p.gamma, p.beta))
                a = new + a if l > 1 else new
        np.testing.assert_allclose(fwd.activations[-1], a, rtol=1e-5, atol=1e-6)
        assert len(fwd.stats) == 3


def test_forward_with_options_off_is_bit_identical():
    params, (X, Y) = _net(norm=False), _xy()
    plain = mlp.forward(params, X, activation=RELU)
    off = mlp.forward(nm.add_norm(params), X, activation=RELU, residual=0.0)
    for a, b in zip(plain.activations, off.activations):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_traced_norm_code_and_residual_match_static_choices():
    params, (X, Y) = _net(), _xy()
    loss = jax.jit(lambda c, r: mlp.loss_value(params, X, Y, activation=RELU, output=IDENTITY,
                                               loss=SOFTMAX_CROSS_ENTROPY, norm=c, residual=r))
    for code, name in enumerate(mlp.NORMS):
        for r in (0.0, 1.0):
            want = mlp.loss_value(params, X, Y, activation=RELU, output=IDENTITY, loss=SOFTMAX_CROSS_ENTROPY,
                                  norm=name, residual=r)
            np.testing.assert_allclose(loss(jnp.int32(code), jnp.float32(r)), want, rtol=1e-6)
    assert loss._cache_size() == 1


def test_eval_mode_with_the_batch_statistics_equals_train_mode():
    params, (X, Y) = _net(), _xy()
    train = mlp.forward(params, X, activation=RELU, norm="batch")
    evald = mlp.forward(params, X, activation=RELU, norm="batch", stats=train.stats)
    np.testing.assert_allclose(evald.activations[-1], train.activations[-1], rtol=1e-5, atol=1e-6)
    # a single example in eval mode is the same example inside the batch
    one = mlp.forward(params, X[:1], activation=RELU, norm="batch", stats=train.stats)
    np.testing.assert_allclose(one.activations[-1], train.activations[-1][:1], rtol=1e-5, atol=1e-6)


def test_hand_written_backward_refuses_norm_and_residual():
    params, (X, Y) = _net(), _xy()
    for kw in ({"norm": "batch"}, {"residual": 1.0}):
        fwd = mlp.forward(params, X, **kw)
        with pytest.raises(ValueError, match="plain MLP only"):
            bp.backward(params, fwd, Y)


def test_bad_input():
    z, g, gamma, beta = _data()
    with pytest.raises(ValueError, match="gamma must have shape"):
        nm.batch_norm(z, jnp.ones(3), beta)
    with pytest.raises(ValueError, match="beta must have shape"):
        nm.layer_norm(z, gamma, jnp.ones(5))
    with pytest.raises(ValueError, match="z must"):
        nm.batch_norm(z[0], gamma, beta)
    with pytest.raises(ValueError, match="eps must be > 0"):
        nm.batch_norm(z, gamma, beta, eps=0.0)
    with pytest.raises(ValueError, match="g must have the shape"):
        nm.batch_norm_backward(g[:2], z, gamma)
    with pytest.raises(ValueError, match="stats must be"):
        nm.batch_norm(z, gamma, beta, stats=nm.Stats(jnp.zeros(3), jnp.ones(3)))
    with pytest.raises(ValueError, match="momentum must be"):
        nm.running_average(nm.Stats(jnp.zeros(1), jnp.ones(1)), nm.Stats(jnp.zeros(1), jnp.ones(1)), 1.5)
    with pytest.raises(TypeError, match="params must be"):
        nm.add_norm([])
    params, (X, Y) = _net(), _xy()
    with pytest.raises(ValueError, match="norm must be one of|norm must"):
        mlp.forward(params, X, norm="group")
    with pytest.raises(ValueError, match="norm must be a code"):
        mlp.forward(params, X, norm=3)
    with pytest.raises(ValueError, match="norm needs layers"):
        mlp.forward(_net(norm=False), X, norm="batch")
    with pytest.raises(ValueError, match="stats must be a list of 3"):
        mlp.forward(params, X, norm="batch", stats=[])
    with pytest.raises(ValueError, match="gamma and beta"):
        mlp.forward([p._replace(beta=None) for p in params], X)


def test_stack_computes_the_same_network():
    params, (X, Y) = _net(sizes=(3, 5, 5, 5, 5, 2)), _xy()
    stacked = mlp.stack(params)
    assert [p.W.ndim for p in stacked] == [2, 3, 2]
    for norm in (None, "batch", "layer"):
        a = mlp.forward(params, X, activation=RELU, norm=norm, residual=1.0).activations[-1]
        b = mlp.forward(stacked, X, activation=RELU, norm=norm, residual=1.0).activations[-1]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_covariate_shift_matches_the_definition_layer_by_layer():
    params, (X, Y) = _net(sizes=(3, 5, 5, 5, 2)), _xy()
    loss = lambda p, X, Y: mlp.loss_value(p, X, Y, activation=RELU, norm="batch")
    after = jax.tree_util.tree_map(lambda w, g: w - 0.5 * g, params, jax.grad(loss)(params, X, Y))
    got = nm.covariate_shift(loss, mlp.stack(params), mlp.stack(after), X, Y)
    G = jax.grad(loss)(params, X, Y)
    for l in range(len(params)):
        mixed = list(after[:l]) + list(params[l:])
        H = jax.grad(loss)(mixed, X, Y)
        want = np.linalg.norm(G[l].W - H[l].W) / np.linalg.norm(G[l].W)
        np.testing.assert_allclose(got[l], want, rtol=1e-4, atol=2e-6)   # float32 rounding of a relative norm


def test_along_gradient_matches_direct_evaluation():
    params, (X, Y) = _net(sizes=(3, 5, 2)), _xy()
    loss = lambda p, X, Y: mlp.loss_value(p, X, Y, activation=RELU, norm="batch")
    g = jax.grad(loss)(params, X, Y)
    values, changes = nm.along_gradient(loss, params, jnp.array([0.0, 0.3]), X, Y)
    w = jax.tree_util.tree_map(lambda p, d: p - 0.3 * d, params, g)
    np.testing.assert_allclose(values[1], loss(w, X, Y), rtol=1e-5)
    flat = lambda t: np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(t)])
    np.testing.assert_allclose(changes[1], np.linalg.norm(flat(jax.grad(loss)(w, X, Y)) - flat(g)), rtol=1e-4)
    assert float(changes[0]) < 1e-6
