"""dlbook.backprop: the hand-written backward pass against jax.grad and central finite differences (float64).

The model it differentiates (forward pass, loss value, predictions) is tested in test_model.py, the activations
and their ``df`` in test_activations.py, the :class:`dlbook.losses.Loss` pairs in test_losses.py.
"""

from functools import partial

import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import activations as A
from dlbook import backprop as bp
from dlbook import losses as L
from dlbook import model as mlp
from dlbook import optim
from dlbook.descent import optimize


def rel_err(a, b):
    a, b = np.ravel(np.asarray(a)), np.ravel(np.asarray(b))
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def net(sizes, batch, seed=0, targets="uniform"):
    """A network of ``sizes`` and a batch; ``targets``: ``"uniform"`` in [0, 1) (regression), ``"binary"`` 0/1,
    ``"soft"`` rows of a distribution (label smoothing, a teacher), ``"one_hot"`` rows."""
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = mlp.init_mlp(sizes, key=k1)
    X = jax.random.normal(k2, (batch, sizes[0]))
    shape = (batch, sizes[-1])
    if targets == "binary":
        Y = jax.random.bernoulli(k3, 0.5, shape).astype(X.dtype)
    elif targets == "soft":
        Y = jax.nn.softmax(2 * jax.random.normal(k3, shape))
    elif targets == "one_hot":
        Y = jax.nn.one_hot(jax.random.randint(k3, (batch,), 0, sizes[-1]), sizes[-1])
    else:
        Y = jax.random.uniform(k3, shape)
    return params, X, Y


CASES = [  # sizes, batch, hidden activation, output activation, loss, targets
    ((2, 2, 1), 1, A.SIGMOID, None, L.HALF_SQUARED, "uniform"),  # the notes' network, one example
    ((3, 5, 2), 4, A.SIGMOID, None, L.HALF_SQUARED, "uniform"),
    ((4, 8, 8, 3), 16, A.TANH, None, L.HALF_SQUARED, "uniform"),
    ((4, 8, 8, 8, 2), 7, A.RELU, A.IDENTITY, L.HALF_SQUARED, "uniform"),
    ((6, 3), 5, A.SIGMOID, None, L.BINARY_CROSS_ENTROPY, "binary"),  # logistic regression with two outputs
    ((5, 10, 1), 32, A.TANH, A.SIGMOID, L.BINARY_CROSS_ENTROPY, "binary"),
    ((5, 8, 4), 6, A.activation("swish", beta=1.5), A.IDENTITY, L.SOFTMAX_CROSS_ENTROPY, "soft"),
    ((4, 6, 6, 3), 9, A.activation("elu", alpha=0.7), A.IDENTITY, L.SOFTMAX_CROSS_ENTROPY, "one_hot"),
    ((3, 7, 2), 4, A.activation("leaky_relu", slope=0.1), A.IDENTITY, L.HALF_SQUARED, "uniform"),
    ((3, 7, 2), 4, A.activation("gelu"), A.IDENTITY, L.HALF_SQUARED, "uniform"),
]


IDS = ["-".join(map(str, c[0])) + f"-B{c[1]}-{c[2].name}-" + c[4].name.split()[0] + f"-{c[5]}" for c in CASES]


@pytest.mark.parametrize(("sizes", "batch", "act", "out", "loss", "targets"), CASES, ids=IDS)
def test_hand_written_gradients_equal_autodiff(sizes, batch, act, out, loss, targets):
    with jax.enable_x64(True):
        params, X, Y = net(sizes, batch, targets=targets)
        params = [mlp.Layer(p.W.astype(jnp.float64), p.b.astype(jnp.float64)) for p in params]
        X, Y = X.astype(jnp.float64), Y.astype(jnp.float64)
        kw = dict(activation=act, output=out)
        ours = bp.backward(params, mlp.forward(params, X, **kw), Y, loss=loss, **kw).grads
        ref = jax.grad(mlp.loss_value)(params, X, Y, loss=loss, **kw)
        for l, (g, r) in enumerate(zip(ours, ref), start=1):
            assert rel_err(g.W, r.W) <= 1e-6, f"dW^{l}"
            assert rel_err(g.b, r.b) <= 1e-6, f"db^{l}"


def test_hand_written_gradients_equal_central_differences():
    with jax.enable_x64(True):
        params, X, Y = net((3, 4, 2), 6, seed=1)
        params = [mlp.Layer(p.W.astype(jnp.float64), p.b.astype(jnp.float64)) for p in params]
        X, Y = X.astype(jnp.float64), Y.astype(jnp.float64)
        grads = bp.backward(params, mlp.forward(params, X), Y).grads
        flat, unravel = ravel_pytree(params)
        f = jax.jit(lambda v: mlp.loss_value(unravel(v), X, Y))
        h = 1e-6
        fd = np.array([(f(flat.at[i].add(h)) - f(flat.at[i].add(-h))) / (2 * h) for i in range(flat.size)])
        assert rel_err(ravel_pytree(grads)[0], fd) <= 1e-6


def test_deltas_follow_the_recursion_of_the_notes():
    """δ^L = (a^L − y) ⊙ a^L(1 − a^L) and δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ a^l(1 − a^l), one example, column form."""
    params, X, Y = net((2, 3, 1), 1, seed=2)
    fwd = mlp.forward(params, X)
    d1, d2 = bp.backward(params, fwd, Y).deltas
    a1, a2 = fwd.activations[1][0], fwd.activations[2][0]
    np.testing.assert_allclose(d2[0], (a2 - Y[0]) * a2 * (1 - a2), rtol=1e-6)
    np.testing.assert_allclose(d1[0], (params[1].W.T @ d2[0]) * a1 * (1 - a1), rtol=1e-6)
    g = bp.backward(params, fwd, Y).grads
    np.testing.assert_allclose(g[0].W, np.outer(d1[0], X[0]), rtol=1e-6)  # ∂𝓛/∂W^1 = δ^1 (a^0)ᵀ


def test_sigmoid_output_with_binary_cross_entropy_gives_delta_a_minus_y_even_when_saturated():
    """δ^L = ∂ℓ/∂a ⊙ σ'(z) = a − y, also where σ(z) rounds to exactly 0 or 1 and the label agrees.

    The old loss gradient ``(a − y)/(a(1 − a))`` was 0/0 = nan there, and the nan spread to every gradient."""
    params = [mlp.Layer(jnp.array([[1.0]]), jnp.zeros(1))]  # a = σ(x)
    X = jnp.array([[200.0], [-200.0], [0.5], [-1.5]])
    Y = jnp.array([[1.0], [0.0], [1.0], [0.0]])
    fwd = mlp.forward(params, X)  # output = activation = SIGMOID
    a = fwd.activations[-1]
    assert a[:2, 0].tolist() == [1.0, 0.0]  # saturated: a = y exactly
    bwd = bp.backward(params, fwd, Y, loss=L.BINARY_CROSS_ENTROPY)
    np.testing.assert_allclose(bwd.deltas[0], a - Y, rtol=1e-5, atol=1e-7)
    assert bwd.deltas[0][:2, 0].tolist() == [0.0, 0.0]
    ref = jax.grad(mlp.loss_value)(params, X, Y, loss=L.BINARY_CROSS_ENTROPY)
    for g, r in zip(bwd.grads, ref):
        assert np.all(np.isfinite(g.W)) and np.all(np.isfinite(g.b))
        np.testing.assert_allclose(g.W, r.W, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(g.b, r.b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bwd.grads[0].W, (a - Y).T @ X / 4, rtol=1e-5)  # logistic regression: Xᵀ(ŷ − y)/n


def test_works_under_jit_and_vmap():
    params, X, Y = net((3, 4, 2), 8, seed=4)

    @jax.jit
    def grads(params, X, Y):
        return bp.backward(params, mlp.forward(params, X), Y).grads

    ref = grads(params, X, Y)
    per_example = jax.vmap(lambda x, y: grads(params, x[None], y[None]))(X, Y)
    np.testing.assert_allclose(per_example[0].W.mean(axis=0), ref[0].W, rtol=1e-5, atol=1e-7)


def test_backward_bad_input_is_reported_clearly():
    params, X, Y = net((3, 4, 2), 5)
    fwd = mlp.forward(params, X)
    with pytest.raises(ValueError, match=r"^Y must have shape \(5, 2\)"):
        bp.backward(params, fwd, Y[:, :1])
    with pytest.raises(TypeError, match="^loss must be a dlbook.losses.Loss, got function"):
        bp.backward(params, fwd, Y, loss=jnp.mean)
    with pytest.raises(TypeError, match="^activation must be a dlbook.activations.Activation, got str"):
        bp.backward(params, fwd, Y, activation="relu")
    with pytest.raises(TypeError, match="^output must be a dlbook.activations.Activation"):
        bp.backward(params, fwd, Y, output=jnp.tanh)
    with pytest.raises(TypeError, match="^fwd must be the Forward returned by dlbook.model.forward, got list"):
        bp.backward(params, [X], Y)
    with pytest.raises(ValueError, match="^layer 2: W has 3 inputs but layer 1 has 4 units"):
        bp.backward([params[0], mlp.Layer(jnp.ones((2, 3)), jnp.zeros(2))], fwd, Y)
    with pytest.raises(TypeError, match="^params must be a non-empty list of dlbook.model.Layer"):
        bp.backward([], fwd, Y)


def test_dead_units_have_zero_gradient_under_relu_but_not_under_leaky_relu():
    params, X, Y = net((3, 6, 2), 10, seed=5)
    b = params[0].b.at[jnp.array([1, 4])].set(-8.0)  # units 2 and 5 of layer 1: z < 0 for every example
    params = [mlp.Layer(params[0].W, b), params[1]]
    for activation, zero in ((A.RELU, True), (A.activation("leaky_relu"), False), (A.activation("elu"), False)):
        fwd = mlp.forward(params, X, activation=activation, output=A.IDENTITY)
        (dead,) = mlp.dead_units(fwd)
        assert dead.tolist() == [False, True, False, False, True, False]
        gW = bp.backward(params, fwd, Y, activation=activation, output=A.IDENTITY).grads[0].W
        assert bool(jnp.all(gW[dead] == 0)) is zero, activation.name
        assert bool(jnp.all(jnp.any(gW[~dead] != 0, axis=1)))


# -- training: optimize on loss_value (backprop.train is gone) ---------------------------------------------


def test_training_is_optimize_on_loss_value_and_vmaps_over_rates():
    params, X, Y = net((3, 5, 2), 16, seed=6)
    kw = dict(activation=A.TANH, output=A.IDENTITY, loss=L.HALF_SQUARED)
    loss_fn = partial(mlp.loss_value, **kw)

    def train(optimizer, num_steps, path=False):
        return optimize(loss_fn, params, optimizer, num_steps, args=(X, Y), path=path)

    run = train(optim.sgd(0.3), 50)
    ref = optimize(lambda p: mlp.loss_value(p, X, Y, **kw), params, optim.sgd(0.3), 50, path=False)  # a closure
    np.testing.assert_allclose(run.losses, ref.losses, rtol=1e-6)
    assert run.losses.shape == (51,) and run.losses[-1] < run.losses[0] / 2
    # hand-written gradients give the same first step
    g = bp.backward(params, mlp.forward(params, X, activation=A.TANH, output=A.IDENTITY), Y, **kw).grads
    one = train(optim.sgd(0.3), 1).params
    np.testing.assert_allclose(one[0].W, params[0].W - 0.3 * g[0].W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(one[1].b, params[1].b - 0.3 * g[1].b, rtol=1e-5, atol=1e-7)
    rates = jnp.array([0.01, 0.1, 0.3])
    finals = jax.vmap(lambda lr: train(optim.sgd(lr), 50).losses[-1])(rates)
    assert finals[0] > finals[1] > finals[2]
    assert train(optim.sgd(0.3), 5, path=True).params[0].W.shape == (6, 5, 3)


def test_training_bad_input():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^Y must have shape \(5, 2\)"):
        optimize(mlp.loss_value, params, optim.sgd(0.1), 3, args=(X, Y[:, :1]))
    with pytest.raises(TypeError, match="^optimizer must be"):
        optimize(mlp.loss_value, params, 0.1, 3, args=(X, Y))
    with pytest.raises(ValueError, match="^num_steps must be >= 0"):
        optimize(mlp.loss_value, params, optim.sgd(0.1), -1, args=(X, Y))
    assert not hasattr(bp, "train")  # one way to train: optimize on loss_value


def test_choose_picks_each_option_and_vmaps_over_the_index():
    options = [A.SIGMOID, A.TANH, A.RELU, A.activation("swish", beta=2.0)]
    params, X, Y = net((3, 5, 2), 8, seed=7)
    kw = dict(output=A.IDENTITY, loss=L.HALF_SQUARED)
    each = jnp.stack([mlp.loss_value(params, X, Y, activation=o, **kw) for o in options])
    chosen = jax.jit(jax.vmap(lambda i: mlp.loss_value(params, X, Y, activation=A.choose(i, options), **kw)))(jnp.arange(4))
    np.testing.assert_allclose(chosen, each, rtol=1e-6)
    for i, o in enumerate(options):  # the derivative (hand-written backward pass) follows the choice too
        pick = A.choose(jnp.float32(i), options)
        ref = bp.backward(params, mlp.forward(params, X, activation=o, **{"output": A.IDENTITY}), Y, activation=o, **kw).grads
        got = bp.backward(params, mlp.forward(params, X, activation=pick, output=A.IDENTITY), Y, activation=pick, **kw).grads
        np.testing.assert_allclose(got[0].W, ref[0].W, rtol=1e-5, atol=1e-7)


# -- dropout in the backward pass (chapter 5); the forward pass's masks are tested in test_model.py ----------

DROPOUT_CASES = [  # sizes, batch, hidden activation, rate
    ((4, 6, 3), 8, A.SIGMOID, 0.3),
    ((4, 6, 3), 8, A.TANH, 0.5),
    ((4, 6, 3), 8, A.RELU, 0.2),
    ((5, 7, 6, 3), 9, A.RELU, 0.4),  # two hidden layers: a mask each
]


@pytest.mark.parametrize(("sizes", "batch", "act", "rate"), DROPOUT_CASES,
                         ids=["-".join(map(str, c[0])) + f"-{c[2].name}-p{c[3]}" for c in DROPOUT_CASES])
def test_hand_written_gradients_with_dropout_equal_autodiff_of_the_same_draw(sizes, batch, act, rate):
    params, X, Y = net(sizes, batch, seed=8, targets="soft")
    key = jax.random.key(11)
    kw = dict(activation=act, output=A.IDENTITY)
    fwd = mlp.forward(params, X, dropout=rate, key=key, **kw)
    assert len(fwd.masks) == len(sizes) - 2
    ours = bp.backward(params, fwd, Y, loss=L.SOFTMAX_CROSS_ENTROPY, **kw).grads
    ref = jax.grad(mlp.loss_value)(params, X, Y, loss=L.SOFTMAX_CROSS_ENTROPY, dropout=rate, key=key, **kw)
    for l, (g, r) in enumerate(zip(ours, ref), start=1):
        assert rel_err(g.W, r.W) <= 1e-5, f"dW^{l}"
        assert rel_err(g.b, r.b) <= 1e-5, f"db^{l}"
    # and the draw matters: without dropout the gradient is a different one
    plain = jax.grad(mlp.loss_value)(params, X, Y, loss=L.SOFTMAX_CROSS_ENTROPY, **kw)
    assert rel_err(plain[0].W, ref[0].W) > 1e-3
