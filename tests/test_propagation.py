"""dlbook.propagation: per-layer gradients against chapter 2's hand-written backward pass and jax.grad, Jacobians
by jacfwd against the closed form and against the whole network's Jacobian (chain rule), singular values against
numpy, activation statistics and weight change against numpy; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import activations as A
from dlbook import backprop as bp
from dlbook import initializers as I
from dlbook import losses as Lf
from dlbook import model as mlp
from dlbook import propagation as P


def net(sizes=(5, 7, 6, 3), batch=9, seed=0, init=None):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = mlp.init_mlp(sizes, key=k1, init=init)
    return params, jax.random.normal(k2, (batch, sizes[0])), jax.random.uniform(k3, (batch, sizes[-1]))


@pytest.mark.parametrize("act", [A.SIGMOID, A.TANH, A.RELU])
def test_layer_gradients_match_the_hand_written_backward_pass(act):
    params, X, Y = net()
    Y = Y / Y.sum(axis=1, keepdims=True)                           # distributions for the cross-entropy
    kw = dict(activation=act, output=A.IDENTITY, loss=Lf.SOFTMAX_CROSS_ENTROPY)
    s = P.layer_gradients(params, X, Y, **kw)
    bwd = bp.backward(params, mlp.forward(params, X, activation=act, output=A.IDENTITY), Y, **kw)
    B = X.shape[0]
    np.testing.assert_allclose(s.weights, [np.linalg.norm(g.W) for g in bwd.grads], rtol=1e-5)
    # bp's δ rows are per example (∂ℓ_i/∂z^l), our δ_i come from one-example batches: the same thing
    rms = lambda d: np.sqrt(np.mean(np.sum(np.asarray(d) ** 2, axis=1)))
    np.testing.assert_allclose(s.deltas, [rms(d) for d in bwd.deltas], rtol=1e-5)
    # the signal that reaches the input, ∂ℓ_i/∂x, by jax.grad of each example's loss
    gx = jax.vmap(jax.grad(lambda x, y: mlp.loss_value(params, x[None], y[None], **kw)))(X, Y)
    np.testing.assert_allclose(s.inputs[0], rms(gx), rtol=1e-5)
    assert s.weights.shape == s.deltas.shape == s.inputs.shape == (3,) and B == 9


def test_layer_gradients_under_jit_and_vmap_with_a_chosen_activation():
    params, X, Y = net()
    opts = [A.SIGMOID, A.TANH, A.RELU]
    f = jax.jit(jax.vmap(lambda i: P.layer_gradients(params, X, Y, activation=A.choose(i, opts)).deltas))
    out = f(jnp.arange(3))
    for i, act in enumerate(opts):
        np.testing.assert_allclose(out[i], P.layer_gradients(params, X, Y, activation=act).deltas, rtol=1e-5)


@pytest.mark.parametrize("act", [A.SIGMOID, A.TANH, A.RELU, A.activation("swish")])
def test_jacobians_closed_form_autodiff_and_chain_rule(act):
    params, X, _ = net(init=I.he_normal())
    x = X[0]
    J = P.jacobians(params, x, activation=act, output=A.IDENTITY)
    Jc = P.jacobians_closed_form(params, x, activation=act, output=A.IDENTITY)
    assert [j.shape for j in J] == [(7, 5), (6, 7), (3, 6)]
    for a, b in zip(J, Jc):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    whole = jax.jacrev(lambda v: mlp.forward(params, v[None], activation=act, output=A.IDENTITY).activations[-1][0])(x)
    np.testing.assert_allclose(J[2] @ J[1] @ J[0], whole, rtol=1e-4, atol=1e-6)


def test_jacobian_against_finite_differences_in_float64():
    with jax.enable_x64(True):
        params = [mlp.Layer(p.W.astype(jnp.float64), p.b.astype(jnp.float64)) for p in net()[0]]
        x = jnp.linspace(-1.0, 1.0, 5, dtype=jnp.float64)
        J = P.jacobians(params, x, activation=A.TANH)[0]
        h = 1e-6
        fd = np.stack([(np.tanh(params[0].W @ (x + h * e)) - np.tanh(params[0].W @ (x - h * e))) / (2 * h)
                       for e in np.eye(5)], axis=1)
        np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-10)


def test_singular_values_match_numpy():
    Js = [jax.random.normal(jax.random.key(i), (4, 6)) for i in range(2)]
    for s, J in zip(P.singular_values(Js), Js):
        np.testing.assert_allclose(s, np.linalg.svd(np.asarray(J), compute_uv=False), rtol=1e-5)
    # the root-mean-square singular value is the typical gain of Jᵀ on random directions
    J = np.asarray(jax.random.normal(jax.random.key(9), (40, 40))) / np.sqrt(40)
    s = np.asarray(P.singular_values([J])[0])
    g = np.asarray(jax.random.normal(jax.random.key(10), (4000, 40)))
    gain = np.sqrt(np.mean(np.sum((g @ J) ** 2, 1)) / np.mean(np.sum(g ** 2, 1)))
    assert gain == pytest.approx(np.sqrt(np.mean(s ** 2)), rel=0.03)


def test_activation_stats_match_numpy():
    params, X, _ = net(init=I.gaussian(3.0))
    st = P.activation_stats(params, X, activation=A.SIGMOID, output=A.IDENTITY, tol=0.05)
    fwd = mlp.forward(params, X, activation=A.SIGMOID, output=A.IDENTITY)
    for l in range(3):
        a, z = np.asarray(fwd.activations[l + 1]), np.asarray(fwd.zs[l])
        assert st.mean[l] == pytest.approx(a.mean(), rel=1e-5, abs=1e-7)
        assert st.var[l] == pytest.approx(a.var(), rel=1e-4)
        d = 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z))) if l < 2 else np.ones_like(z)
        assert st.saturated[l] == pytest.approx(np.mean(d < 0.05))
    assert st.saturated[0] > 0.3 and st.saturated[2] == 0       # σ = 3: many sigmoid units in the tails


def test_weight_change_matches_numpy():
    p0 = net()[0]
    p1 = [p._replace(W=p.W + 0.1 * jnp.ones_like(p.W)) for p in p0]
    want = [np.linalg.norm(0.1 * np.ones(p.W.shape)) / np.linalg.norm(p.W) for p in p0]
    np.testing.assert_allclose(P.weight_change(p1, p0), want, rtol=1e-5)


def test_bad_input():
    params, X, Y = net()
    with pytest.raises(ValueError, match="Y must have shape"):
        P.layer_gradients(params, X, Y[:, :2])
    with pytest.raises(ValueError, match=r"x must be one example \(n_0,\)"):
        P.jacobians(params, X)
    with pytest.raises(ValueError, match="X must have shape"):
        P.jacobians(params, jnp.ones(4))
    with pytest.raises(ValueError, match="has no derivative df"):
        P.jacobians_closed_form(params, X[0], activation=A.Activation("mine", jnp.tanh, None))
    with pytest.raises(ValueError, match="tol must be >= 0"):
        P.activation_stats(params, X, tol=-1.0)
    with pytest.raises(ValueError, match="must be a matrix"):
        P.singular_values([jnp.ones(3)])
    with pytest.raises(TypeError, match="jacobians must be a list"):
        P.singular_values(jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="same shapes"):
        P.weight_change(params, params[:2])
    with pytest.raises(TypeError, match="params0 must be a non-empty list"):
        P.weight_change(params, [])


@pytest.mark.parametrize("act", [A.TANH, A.RELU])
def test_deep_profile_equals_the_list_functions(act):
    params, X, Y = net(sizes=(5, 6, 6, 6, 6, 3), batch=7, init=I.he_normal())
    kw = dict(activation=act, output=A.IDENTITY, loss=Lf.HALF_SQUARED)
    p = P.deep_profile(params, X, Y, tol=0.3, **kw)
    s = P.layer_gradients(params, X, Y, **kw)
    np.testing.assert_allclose(p.signal, s.inputs, rtol=1e-5)                 # ‖g^{l-1}‖ = ‖(W^l)ᵀ δ^l‖
    st = P.activation_stats(params, X, activation=act, output=A.IDENTITY, tol=0.3)
    for field in ("mean", "var", "saturated"):
        np.testing.assert_allclose(getattr(p, field), getattr(st, field)[:-1], rtol=1e-5, atol=1e-7)
    one = P.deep_profile(params, X[:1], Y[:1], **kw)                             # one example: the RMS singular value
    sv = P.singular_values(P.jacobians(params, X[0], activation=act, output=A.IDENTITY))
    np.testing.assert_allclose(one.gain, [np.sqrt(np.sum(np.asarray(v) ** 2) / J.W.shape[0])
                                          for v, J in zip(sv[:-1], params[:-1])], rtol=1e-5)
    with pytest.raises(ValueError, match="hidden layers 2..L-1 are all n × n"):
        P.deep_profile(net(sizes=(5, 6, 4, 3))[0], X, Y[:, :3], **kw)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        P.deep_profile(params, X, Y, tol=-1.0, **kw)


def test_signal_norms_are_exact_for_tiny_and_huge_signals():
    # identity layers W = 1e-6·I: each layer multiplies the backward signal by exactly 1e-6, from ~1 down to ~1e-30 at
    # the input; squaring such a float32 underflows (1e-60), but the norm itself is representable and must be measured
    n, k = 4, 5
    params = ([mlp.Layer(jnp.eye(n), jnp.zeros(n))] + [mlp.Layer(1e-6 * jnp.eye(n), jnp.zeros(n))] * k
              + [mlp.Layer(jnp.eye(n), jnp.zeros(n))])
    X, Y = jax.random.normal(jax.random.key(0), (3, n)), jnp.ones((3, n))
    s = np.asarray(P.deep_profile(params, X, Y, activation=A.IDENTITY, output=A.IDENTITY).signal, np.float64)
    assert np.all(np.isfinite(s)) and np.all(s > 0) and s[0] < 1e-28
    np.testing.assert_allclose(s[:-1] / s[1:], [1.0] + [1e-6] * k, rtol=1e-4)
    v = jnp.array([[3e-25, 4e-25], [0.0, 0.0]])                      # and huge ones would overflow when squared
    np.testing.assert_allclose(P._rms_norm(v), 5e-25 / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(P._rms_norm(jnp.array([[3e25, 4e25], [0.0, 0.0]])), 5e25 / np.sqrt(2), rtol=1e-6)
    assert float(P._rms_norm(jnp.zeros((2, 3)))) == 0.0
