"""dlbook.backprop: the hand-written backward pass against jax.grad and central finite differences (float64)."""

import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import activations as act
from dlbook import backprop as bp
from dlbook import optim
from dlbook.descent import optimize


def rel_err(a, b):
    a, b = np.ravel(np.asarray(a)), np.ravel(np.asarray(b))
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def net(sizes, batch, seed=0, binary=False):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = bp.init_mlp(sizes, key=k1)
    X = jax.random.normal(k2, (batch, sizes[0]))
    Y = jax.random.bernoulli(k3, 0.5, (batch, sizes[-1])).astype(X.dtype) if binary else jax.random.uniform(k3, (batch, sizes[-1]))
    return params, X, Y


CASES = [  # sizes, batch, hidden activation, output activation, loss
    ((2, 2, 1), 1, bp.SIGMOID, None, bp.HALF_SQUARED),  # the notes' network, one example
    ((3, 5, 2), 4, bp.SIGMOID, None, bp.HALF_SQUARED),
    ((4, 8, 8, 3), 16, bp.TANH, None, bp.HALF_SQUARED),
    ((4, 8, 8, 8, 2), 7, bp.RELU, bp.IDENTITY, bp.HALF_SQUARED),
    ((6, 3), 5, bp.SIGMOID, None, bp.BINARY_CROSS_ENTROPY),  # logistic regression with two outputs
    ((5, 10, 1), 32, bp.TANH, bp.SIGMOID, bp.BINARY_CROSS_ENTROPY),
    ((5, 8, 4), 6, bp.activation("swish", beta=1.5), bp.IDENTITY, bp.SOFTMAX_CROSS_ENTROPY),
    ((4, 6, 6, 3), 9, bp.activation("elu", alpha=0.7), bp.IDENTITY, bp.SOFTMAX_CROSS_ENTROPY),
    ((3, 7, 2), 4, bp.activation("leaky_relu", slope=0.1), bp.IDENTITY, bp.HALF_SQUARED),
    ((3, 7, 2), 4, bp.activation("gelu"), bp.IDENTITY, bp.HALF_SQUARED),
]


IDS = ["-".join(map(str, c[0])) + f"-B{c[1]}-{c[2].name}-" + c[4].name.split()[0] for c in CASES]


@pytest.mark.parametrize(("sizes", "batch", "act", "out", "loss"), CASES, ids=IDS)
def test_hand_written_gradients_equal_autodiff(sizes, batch, act, out, loss):
    with jax.enable_x64(True):
        params, X, Y = net(sizes, batch, binary=loss is bp.BINARY_CROSS_ENTROPY)
        params = [bp.Layer(p.W.astype(jnp.float64), p.b.astype(jnp.float64)) for p in params]
        X, Y = X.astype(jnp.float64), Y.astype(jnp.float64)
        kw = dict(activation=act, output=out)
        ours = bp.backward(params, bp.forward(params, X, **kw), Y, loss=loss, **kw).grads
        ref = jax.grad(bp.loss_value)(params, X, Y, loss=loss, **kw)
        for l, (g, r) in enumerate(zip(ours, ref), start=1):
            assert rel_err(g.W, r.W) <= 1e-6, f"dW^{l}"
            assert rel_err(g.b, r.b) <= 1e-6, f"db^{l}"


def test_hand_written_gradients_equal_central_differences():
    with jax.enable_x64(True):
        params, X, Y = net((3, 4, 2), 6, seed=1)
        params = [bp.Layer(p.W.astype(jnp.float64), p.b.astype(jnp.float64)) for p in params]
        X, Y = X.astype(jnp.float64), Y.astype(jnp.float64)
        grads = bp.backward(params, bp.forward(params, X), Y).grads
        flat, unravel = ravel_pytree(params)
        f = jax.jit(lambda v: bp.loss_value(unravel(v), X, Y))
        h = 1e-6
        fd = np.array([(f(flat.at[i].add(h)) - f(flat.at[i].add(-h))) / (2 * h) for i in range(flat.size)])
        assert rel_err(ravel_pytree(grads)[0], fd) <= 1e-6


def test_deltas_follow_the_recursion_of_the_notes():
    """δ^L = (a^L − y) ⊙ a^L(1 − a^L) and δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ a^l(1 − a^l), one example, column form."""
    params, X, Y = net((2, 3, 1), 1, seed=2)
    fwd = bp.forward(params, X)
    d1, d2 = bp.backward(params, fwd, Y).deltas
    a1, a2 = fwd.activations[1][0], fwd.activations[2][0]
    np.testing.assert_allclose(d2[0], (a2 - Y[0]) * a2 * (1 - a2), rtol=1e-6)
    np.testing.assert_allclose(d1[0], (params[1].W.T @ d2[0]) * a1 * (1 - a1), rtol=1e-6)
    g = bp.backward(params, fwd, Y).grads
    np.testing.assert_allclose(g[0].W, np.outer(d1[0], X[0]), rtol=1e-6)  # ∂𝓛/∂W^1 = δ^1 (a^0)ᵀ


def test_forward_keeps_every_layer_and_matches_the_formula():
    params, X, _ = net((3, 4, 2), 5, seed=3)
    fwd = bp.forward(params, X, activation=bp.TANH, output=bp.IDENTITY)
    assert [a.shape for a in fwd.activations] == [(5, 3), (5, 4), (5, 2)] and len(fwd.zs) == 2
    z1 = X @ params[0].W.T + params[0].b
    np.testing.assert_allclose(fwd.zs[0], z1, rtol=1e-6)
    np.testing.assert_allclose(fwd.activations[1], np.tanh(z1), rtol=1e-6)
    np.testing.assert_allclose(fwd.activations[2], fwd.zs[1], rtol=1e-6)


def test_activation_derivatives_match_autodiff():
    z = jnp.linspace(-4, 4, 41)
    for act in (bp.SIGMOID, bp.TANH, bp.RELU, bp.IDENTITY):
        ref = jax.vmap(jax.grad(act.f))(z)
        np.testing.assert_allclose(act.df(z, act.f(z)), ref, rtol=1e-6, atol=1e-7, err_msg=act.name)
    assert float(bp.RELU.df(jnp.array(0.0), jnp.array(0.0))) == 0.0  # the convention at the kink


def test_works_under_jit_and_vmap():
    params, X, Y = net((3, 4, 2), 8, seed=4)

    @jax.jit
    def grads(params, X, Y):
        return bp.backward(params, bp.forward(params, X), Y).grads

    ref = grads(params, X, Y)
    per_example = jax.vmap(lambda x, y: grads(params, x[None], y[None]))(X, Y)
    np.testing.assert_allclose(per_example[0].W.mean(axis=0), ref[0].W, rtol=1e-5, atol=1e-7)


def test_init_is_deterministic_and_scaled():
    a = bp.init_mlp([64, 256, 10], key=jax.random.key(7))
    b = bp.init_mlp((64, 256, 10), key=jax.random.key(7))
    assert all(np.array_equal(x.W, y.W) for x, y in zip(a, b))
    assert a[0].W.shape == (256, 64) and a[1].b.shape == (10,) and not np.any(a[0].b)
    assert abs(float(jnp.std(a[0].W)) * 8 - 1) < 0.05  # N(0, 1/n_0), n_0 = 64


def test_bad_input_is_reported_clearly():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 3\)"):
        bp.forward(params, X[:, :2])
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 3\)"):
        bp.forward(params, X[0])
    with pytest.raises(ValueError, match=r"^Y must have shape \(5, 2\)"):
        bp.backward(params, bp.forward(params, X), Y[:, :1])
    with pytest.raises(ValueError, match="^layer 2: W has 3 inputs but layer 1 has 4 units"):
        bp.forward([params[0], bp.Layer(jnp.ones((2, 3)), jnp.zeros(2))], X)
    with pytest.raises(ValueError, match=r"^layer 1: W must be \(n_l, n_\(l-1\)\) and b \(n_l,\)"):
        bp.forward([bp.Layer(params[0].W, jnp.zeros(3)), params[1]], X)
    with pytest.raises(TypeError, match="^params must be a non-empty list"):
        bp.forward([], X)
    with pytest.raises(TypeError, match="^activation must be a dlbook.backprop.Activation"):
        bp.forward(params, X, activation="relu")
    with pytest.raises(TypeError, match="^loss must be a dlbook.backprop.Loss"):
        bp.backward(params, bp.forward(params, X), Y, loss=jnp.mean)
    with pytest.raises(ValueError, match="^sizes must be a sequence of at least two"):
        bp.init_mlp([3], key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^sizes\[1\] must be"):
        bp.init_mlp([3, 0], key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"^key must be a jax.random.key"):
        bp.init_mlp([3, 2], key=0)
    with pytest.raises(TypeError):
        bp.init_mlp([3, 2], jax.random.key(0))  # the key is keyword-only


# -- activations by name, the softmax cross-entropy, dead units (chapter 3) -------------------------------

PARAMS = {"leaky_relu": {"slope": 0.2}, "elu": {"alpha": 0.5}, "swish": {"beta": 2.0}}


@pytest.mark.parametrize("name", act.NAMES)
def test_activation_by_name_is_the_activations_module_function(name):
    z = jnp.linspace(-4, 4, 41).at[20].set(0.5)  # away from the kink at 0, where jax.grad picks a branch
    kw = PARAMS.get(name, {})
    a = bp.activation(name, **kw)
    f, df = act.get(name)
    np.testing.assert_array_equal(a.f(z), f(z, **kw))
    np.testing.assert_allclose(a.df(z, a.f(z)), jax.vmap(jax.grad(lambda x: f(x, **kw)))(z), rtol=1e-6, atol=1e-7)
    assert a.name == name


def test_activation_parameters_may_be_traced():
    z = jnp.array([-1.0, 0.0, 2.0])
    traced = jax.jit(lambda beta: bp.activation("swish", beta=beta).f(z))(3.0)
    np.testing.assert_allclose(traced, act.swish(z, beta=3.0), rtol=1e-6)


def test_activation_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'softplus'; valid names: sigmoid, tanh, relu"):
        bp.activation("softplus")
    with pytest.raises(TypeError, match="^activation 'swish' takes beta; got unexpected alpha"):
        bp.activation("swish", alpha=1.0)
    with pytest.raises(TypeError, match="^activation 'relu' takes no parameters; got unexpected slope"):
        bp.activation("relu", slope=0.1)


def test_softmax_cross_entropy_is_minus_log_probability_of_the_label_and_stable():
    z = jnp.array([[2.0, 1.0, 0.1], [1e4, -1e4, 0.0]])
    Y = jax.nn.one_hot(jnp.array([0, 1]), 3)
    value = bp.SOFTMAX_CROSS_ENTROPY.value(z, Y)
    assert np.isclose(value[0], -np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.1]).sum()), rtol=1e-6)
    assert value[1] == pytest.approx(2e4)  # confidently wrong: large but finite, from the scores
    grad = bp.SOFTMAX_CROSS_ENTROPY.grad(z, Y)
    np.testing.assert_allclose(grad, jax.nn.softmax(z) - Y, atol=1e-7)
    assert np.all(np.isfinite(grad))


def test_dead_units_have_zero_gradient_under_relu_but_not_under_leaky_relu():
    params, X, Y = net((3, 6, 2), 10, seed=5)
    b = params[0].b.at[jnp.array([1, 4])].set(-8.0)  # units 2 and 5 of layer 1: z < 0 for every example
    params = [bp.Layer(params[0].W, b), params[1]]
    for activation, zero in ((bp.RELU, True), (bp.activation("leaky_relu"), False), (bp.activation("elu"), False)):
        fwd = bp.forward(params, X, activation=activation, output=bp.IDENTITY)
        (dead,) = bp.dead_units(fwd)
        assert dead.tolist() == [False, True, False, False, True, False]
        gW = bp.backward(params, fwd, Y, activation=activation, output=bp.IDENTITY).grads[0].W
        assert bool(jnp.all(gW[dead] == 0)) is zero, activation.name
        assert bool(jnp.all(jnp.any(gW[~dead] != 0, axis=1)))


def test_dead_units_bad_input():
    with pytest.raises(TypeError, match="^fwd must be the Forward returned by dlbook.backprop.forward"):
        bp.dead_units([jnp.zeros((2, 3))])


# -- train, accuracy --------------------------------------------------------------------------------------


def test_train_is_optimize_on_loss_value_and_vmaps_over_rates():
    params, X, Y = net((3, 5, 2), 16, seed=6)
    kw = dict(activation=bp.TANH, output=bp.IDENTITY, loss=bp.HALF_SQUARED)
    run = bp.train(params, X, Y, optimizer=optim.sgd(0.3), num_steps=50, **kw)
    ref = optimize(lambda p: bp.loss_value(p, X, Y, **kw), params, optim.sgd(0.3), 50, path=False)
    np.testing.assert_allclose(run.losses, ref.losses, rtol=1e-6)
    assert run.losses.shape == (51,) and run.losses[-1] < run.losses[0] / 2
    # hand-written gradients give the same first step
    g = bp.backward(params, bp.forward(params, X, activation=bp.TANH, output=bp.IDENTITY), Y, **kw).grads
    one = bp.train(params, X, Y, optimizer=optim.sgd(0.3), num_steps=1, **kw).params
    np.testing.assert_allclose(one[0].W, params[0].W - 0.3 * g[0].W, rtol=1e-5, atol=1e-7)
    rates = jnp.array([0.01, 0.1, 0.3])
    finals = jax.vmap(lambda lr: bp.train(params, X, Y, optimizer=optim.sgd(lr), num_steps=50, **kw).losses[-1])(rates)
    assert finals[0] > finals[1] > finals[2]
    assert bp.train(params, X, Y, optimizer=optim.sgd(0.3), num_steps=5, path=True, **kw).params[0].W.shape == (6, 5, 3)


def test_accuracy_counts_argmax_hits():
    params = [bp.Layer(jnp.eye(3), jnp.zeros(3))]
    X = jnp.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 3.0], [5.0, 0.0, 0.0]])
    labels = jnp.array([0, 1, 2, 1])
    assert float(bp.accuracy(params, X, labels, activation=bp.IDENTITY)) == 0.75


def test_train_and_accuracy_bad_input():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^Y must have shape \(5, 2\)"):
        bp.train(params, X, Y[:, :1], optimizer=optim.sgd(0.1), num_steps=3)
    with pytest.raises(TypeError, match="^optimizer must be"):
        bp.train(params, X, Y, optimizer=0.1, num_steps=3)
    with pytest.raises(ValueError, match="^num_steps must be >= 0"):
        bp.train(params, X, Y, optimizer=optim.sgd(0.1), num_steps=-1)
    with pytest.raises(ValueError, match=r"^labels must be integer class indices of shape \(5,\)"):
        bp.accuracy(params, X, jnp.zeros(5))
    with pytest.raises(ValueError, match=r"^labels must be integer class indices of shape \(5,\)"):
        bp.accuracy(params, X, jnp.zeros((5, 2), dtype=jnp.int32))


def test_choose_picks_each_option_and_vmaps_over_the_index():
    options = [bp.SIGMOID, bp.TANH, bp.RELU, bp.activation("swish", beta=2.0)]
    params, X, Y = net((3, 5, 2), 8, seed=7)
    kw = dict(output=bp.IDENTITY, loss=bp.HALF_SQUARED)
    each = jnp.stack([bp.loss_value(params, X, Y, activation=o, **kw) for o in options])
    chosen = jax.jit(jax.vmap(lambda i: bp.loss_value(params, X, Y, activation=bp.choose(i, options), **kw)))(jnp.arange(4))
    np.testing.assert_allclose(chosen, each, rtol=1e-6)
    for i, o in enumerate(options):  # the derivative (hand-written backward pass) follows the choice too
        pick = bp.choose(jnp.float32(i), options)
        ref = bp.backward(params, bp.forward(params, X, activation=o, **{"output": bp.IDENTITY}), Y, activation=o, **kw).grads
        got = bp.backward(params, bp.forward(params, X, activation=pick, output=bp.IDENTITY), Y, activation=pick, **kw).grads
        np.testing.assert_allclose(got[0].W, ref[0].W, rtol=1e-5, atol=1e-7)


def test_choose_bad_input():
    with pytest.raises(TypeError, match="^options must be a non-empty sequence of dlbook.backprop.Activation"):
        bp.choose(0, [])
    with pytest.raises(TypeError, match="^options must be a non-empty sequence"):
        bp.choose(0, ["relu"])
    with pytest.raises(ValueError, match="^index must be a scalar"):
        bp.choose(jnp.array([0, 1]), [bp.RELU, bp.TANH])


# -- dropout in the forward and backward passes (chapter 5) ----------------------------------------------

DROPOUT_CASES = [  # sizes, batch, hidden activation, rate
    ((4, 6, 3), 8, bp.SIGMOID, 0.3),
    ((4, 6, 3), 8, bp.TANH, 0.5),
    ((4, 6, 3), 8, bp.RELU, 0.2),
    ((5, 7, 6, 3), 9, bp.RELU, 0.4),  # two hidden layers: a mask each
]


@pytest.mark.parametrize(("sizes", "batch", "act", "rate"), DROPOUT_CASES,
                         ids=["-".join(map(str, c[0])) + f"-{c[2].name}-p{c[3]}" for c in DROPOUT_CASES])
def test_hand_written_gradients_with_dropout_equal_autodiff_of_the_same_draw(sizes, batch, act, rate):
    params, X, Y = net(sizes, batch, seed=8)
    key = jax.random.key(11)
    kw = dict(activation=act, output=bp.IDENTITY)
    fwd = bp.forward(params, X, dropout=rate, key=key, **kw)
    assert len(fwd.masks) == len(sizes) - 2
    ours = bp.backward(params, fwd, Y, loss=bp.SOFTMAX_CROSS_ENTROPY, **kw).grads
    ref = jax.grad(bp.loss_value)(params, X, Y, loss=bp.SOFTMAX_CROSS_ENTROPY, dropout=rate, key=key, **kw)
    for l, (g, r) in enumerate(zip(ours, ref), start=1):
        assert rel_err(g.W, r.W) <= 1e-5, f"dW^{l}"
        assert rel_err(g.b, r.b) <= 1e-5, f"db^{l}"
    # and the draw matters: without dropout the gradient is a different one
    plain = jax.grad(bp.loss_value)(params, X, Y, loss=bp.SOFTMAX_CROSS_ENTROPY, **kw)
    assert rel_err(plain[0].W, ref[0].W) > 1e-3


def test_dropout_zero_is_the_plain_forward_pass_without_masks():
    params, X, _ = net((3, 5, 4, 2), 6, seed=9)
    plain = bp.forward(params, X, activation=bp.RELU)
    assert plain.masks is None
    zero = bp.forward(params, X, activation=bp.RELU, dropout=0.0, key=jax.random.key(0))
    assert zero.masks is None
    for a, b in zip(zero.activations, plain.activations):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(zero.zs, plain.zs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(bp.forward(params, X, activation=bp.RELU, dropout=0).zs[-1], plain.zs[-1])  # no key needed


def test_dropout_masks_are_zero_or_inverse_keep_rate_and_keep_about_one_minus_p():
    params = bp.init_mlp((4, 2000, 3), key=jax.random.key(12))
    X = jax.random.normal(jax.random.key(13), (50, 4))
    for rate in (0.25, 0.5):
        fwd = bp.forward(params, X, activation=bp.RELU, dropout=rate, key=jax.random.key(14))
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
    fwd = bp.forward(params, X, activation=bp.TANH, dropout=0.9, key=jax.random.key(15))
    np.testing.assert_allclose(fwd.zs[0], X @ params[0].W.T + params[0].b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fwd.activations[0], X)
    assert len(fwd.masks) == 1 and fwd.masks[0].shape == (7, 5)  # the hidden layer only


def test_dropout_rate_may_be_traced_under_vmap():
    params = bp.init_mlp((3, 1000, 2), key=jax.random.key(16))
    X = jax.random.normal(jax.random.key(17), (20, 3))
    rates = jnp.array([0.1, 0.5, 0.8])
    kept = jax.vmap(lambda r: jnp.mean(bp.forward(params, X, activation=bp.RELU, dropout=r,
                                                  key=jax.random.key(18)).masks[0] > 0))(rates)
    np.testing.assert_allclose(kept, 1 - rates, atol=0.01)
    # each traced rate gives the same draw as the concrete call
    scores = jax.vmap(lambda r: bp.forward(params, X, activation=bp.RELU, dropout=r, key=jax.random.key(18)).zs[-1])(rates)
    for r, s in zip(rates.tolist(), scores):
        ref = bp.forward(params, X, activation=bp.RELU, dropout=r, key=jax.random.key(18)).zs[-1]
        np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-5)


def test_dropout_bad_input_in_the_forward_pass():
    params, X, Y = net((3, 4, 2), 5)
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        bp.forward(params, X, dropout=1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        bp.forward(params, X, dropout=-0.1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        bp.loss_value(params, X, Y, dropout=1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="^key must be given"):
        bp.forward(params, X, dropout=0.5)
    with pytest.raises(ValueError, match="^key must be given"):
        bp.loss_value(params, X, Y, dropout=0.5)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        bp.forward(params, X, dropout=0.5, key=0)
