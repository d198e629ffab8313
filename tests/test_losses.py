"""Tests for dlbook.losses: every loss against NumPy, optax, scipy and jax.grad; reductions; stability from logits; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special  # scipy comes with scikit-learn
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlbook import losses
from dlbook.losses import mse


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4), (2, 3, 2)])
def test_mse_against_numpy(shape):
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(mse(p, t), np.mean((p.astype(np.float64) - t) ** 2), rtol=1e-5)
    # optax.l2_loss is ½ (p − t)² elementwise
    np.testing.assert_allclose(mse(p, t), 2 * np.mean(optax.l2_loss(p, t)), rtol=1e-5)


def test_mse_gradient_closed_form():
    p, t = jnp.array([1.0, 2.0, -0.5]), jnp.array([0.5, 4.0, -0.5])
    np.testing.assert_allclose(jax.grad(mse)(p, t), 2 * (np.asarray(p) - np.asarray(t)) / 3, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(mse, argnums=1)(p, t), -2 * (np.asarray(p) - np.asarray(t)) / 3, rtol=1e-6)


def test_mse_scalar_and_special_values():
    np.testing.assert_allclose(mse(3.0, 1.0), 4.0)
    assert float(mse(jnp.array([0.0, np.inf]), jnp.array([0.0, 0.0]))) == np.inf
    assert np.isnan(float(mse(jnp.array([0.0, np.nan]), jnp.array([0.0, 0.0]))))


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    p=hnp.arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e3, 1e3)),
    shift=st.floats(-10, 10),
)
def test_mse_property_against_numpy(p, shift):
    t = p + shift
    np.testing.assert_allclose(float(mse(p, t)), np.mean((p - t) ** 2), rtol=1e-4, atol=1e-4)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^predictions and targets must have the same shape, got \(2,\) and \(3,\)"):
        mse(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="^predictions and targets must have the same shape"):
        mse(np.ones((3, 1)), np.ones(3))  # no silent broadcasting to (3, 3)
    with pytest.raises(TypeError, match="^predictions must be"):
        mse("a", np.ones(1))
    with pytest.raises(TypeError, match="^targets must be"):
        mse(np.ones(1), None)


# -- the losses of chapter 4 ------------------------------------------------------------------------------

RNG = np.random.default_rng(4)
P_REG, T_REG = RNG.normal(size=(6, 3)).astype(np.float32), RNG.normal(size=(6, 3)).astype(np.float32) * 3
LOGITS = (RNG.normal(size=(5, 4)) * 3).astype(np.float32)
ONE_HOT = np.eye(4, dtype=np.float32)[[0, 3, 1, 1, 2]]
LABELS = RNG.integers(0, 2, size=(5, 4)).astype(np.float32)


def test_regression_losses_against_numpy_and_optax():
    e = P_REG.astype(np.float64) - T_REG
    np.testing.assert_allclose(losses.mse(P_REG, T_REG, reduction="none"), e**2, rtol=1e-5)
    np.testing.assert_allclose(losses.mse(P_REG, T_REG, reduction="sum"), np.sum(e**2), rtol=1e-5)
    np.testing.assert_allclose(losses.rmse(P_REG, T_REG), np.sqrt(np.mean(e**2)), rtol=1e-5)
    np.testing.assert_allclose(losses.mae(P_REG, T_REG), np.mean(np.abs(e)), rtol=1e-5)
    for delta in (0.5, 1.0, 2.0):
        np.testing.assert_allclose(losses.huber(P_REG, T_REG, delta=delta, reduction="none"),
                                   optax.huber_loss(P_REG, T_REG, delta=delta), rtol=1e-6)


def test_mae_gradient_is_the_sign_and_zero_at_zero_error():
    p, t = jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])
    np.testing.assert_array_equal(jax.grad(losses.mae)(p, t), [-0.25, 0.25, 0.0, 0.25])


def test_huber_meets_mse_and_mae_at_delta():
    e = jnp.linspace(-5, 5, 1001)
    h = losses.huber(e, jnp.zeros_like(e), delta=1.0, reduction="none")
    small = jnp.abs(e) <= 1
    np.testing.assert_allclose(h[small], 0.5 * e[small] ** 2, rtol=1e-6)
    np.testing.assert_allclose(h[~small], jnp.abs(e[~small]) - 0.5, rtol=1e-6)
    g = jax.vmap(jax.grad(lambda x: losses.huber(x, 0.0)))(e)
    np.testing.assert_allclose(g, jnp.clip(e, -1, 1), atol=1e-6)  # slope capped at δ: continuous at |e| = δ


def test_binary_cross_entropy_probabilities_and_logits_agree_with_optax():
    p = jax.nn.sigmoid(LOGITS)
    ref = optax.sigmoid_binary_cross_entropy(LOGITS, LABELS)
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(LOGITS, LABELS, reduction="none"), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.binary_cross_entropy(p, LABELS, reduction="none"), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses.multilabel_binary_cross_entropy(p, LABELS, reduction="none"), np.sum(ref, axis=-1), rtol=1e-4)
    # gradients: σ(z) − y from the scores, (p − y)/(p(1 − p)) from the probabilities
    g = jax.grad(lambda z: losses.binary_cross_entropy_with_logits(z, LABELS, reduction="sum"))(LOGITS)
    np.testing.assert_allclose(g, jax.nn.sigmoid(LOGITS) - LABELS, atol=1e-6)
    z0 = jnp.zeros(2)  # at z = 0 exactly: σ(0) − y, not one side of a kink
    np.testing.assert_allclose(jax.grad(lambda z: losses.binary_cross_entropy_with_logits(z, jnp.array([1.0, 0.0]), reduction="sum"))(z0), [-0.5, 0.5])
    gp = jax.grad(lambda q: losses.binary_cross_entropy(q, LABELS, reduction="sum"))(p)
    np.testing.assert_allclose(gp, (p - LABELS) / (p * (1 - p)), rtol=1e-3)


def test_binary_cross_entropy_is_zero_only_at_the_label_and_stable_from_logits():
    assert float(losses.binary_cross_entropy(jnp.array([1.0, 0.0]), jnp.array([1.0, 0.0]))) == 0.0
    z = jnp.array([-1e4, -100.0, 0.0, 100.0, 1e4])
    v = losses.binary_cross_entropy_with_logits(z, jnp.ones(5), reduction="none")
    np.testing.assert_allclose(v, [1e4, 100.0, np.log(2), 0.0, 0.0], rtol=1e-6, atol=1e-30)
    from_p = losses.binary_cross_entropy(jax.nn.sigmoid(z), jnp.ones(5), reduction="none")
    assert np.isinf(from_p[0])  # σ(−10⁴) rounds to 0: the probability path loses it, the logits path does not
    assert np.all(np.isfinite(jax.grad(lambda z: losses.binary_cross_entropy_with_logits(z, jnp.ones(5)))(z)))


def test_worked_examples_of_the_notes():
    five = jnp.array([0.1, 0.1, 0, 0, 0, 0.7, 0, 0.1, 0, 0])
    assert float(losses.cross_entropy(five, jax.nn.one_hot(5, 10))) == pytest.approx(-np.log(0.7), rel=1e-6)
    rice = losses.binary_cross_entropy(jnp.array([0.8, 0.9, 0.1]), jnp.array([1.0, 1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(rice, -np.log([0.8, 0.9, 0.9]), rtol=1e-6)
    assert float(losses.multilabel_binary_cross_entropy(jnp.array([0.8, 0.9, 0.1]), jnp.array([1.0, 1.0, 0.0]))) \
        == pytest.approx(0.4339, abs=1e-4)


def test_categorical_cross_entropy_against_optax_and_its_gradient():
    ref = optax.softmax_cross_entropy(LOGITS, ONE_HOT)
    np.testing.assert_allclose(losses.cross_entropy_with_logits(LOGITS, ONE_HOT, reduction="none"), ref, rtol=1e-5)
    np.testing.assert_allclose(losses.cross_entropy(jax.nn.softmax(LOGITS), ONE_HOT, reduction="none"), ref, rtol=1e-4)
    g = jax.grad(lambda z: losses.cross_entropy_with_logits(z, ONE_HOT, reduction="sum"))(LOGITS)
    np.testing.assert_allclose(g, jax.nn.softmax(LOGITS) - ONE_HOT, atol=1e-6)  # softmax − y
    # extreme scores: finite from logits; from probabilities the true class's probability underflows to 0
    z = jnp.array([[0.0, 200.0]])
    assert float(losses.cross_entropy_with_logits(z, jnp.array([[1.0, 0.0]]))) == pytest.approx(200.0)
    assert np.isinf(float(losses.cross_entropy(jax.nn.softmax(z), jnp.array([[1.0, 0.0]]))))
    # a one-hot zero meeting an underflowed probability gives 0 and a finite gradient, not nan
    p = jnp.array([[1.0, 0.0]])
    assert float(losses.cross_entropy(p, jnp.array([[1.0, 0.0]]))) == 0.0
    assert np.all(np.isfinite(jax.grad(lambda q: losses.cross_entropy(q, jnp.array([[1.0, 0.0]])))(p)))


def test_reductions():
    per = losses.cross_entropy_with_logits(LOGITS, ONE_HOT, reduction="none")
    assert per.shape == (5,)
    assert float(losses.cross_entropy_with_logits(LOGITS, ONE_HOT)) == pytest.approx(float(per.mean()), rel=1e-6)
    assert float(losses.cross_entropy_with_logits(LOGITS, ONE_HOT, reduction="sum")) == pytest.approx(float(per.sum()), rel=1e-6)


def test_entropy_and_kl_against_scipy():
    P = jax.nn.softmax(LOGITS)
    Q = jax.nn.softmax(LOGITS[::-1])
    np.testing.assert_allclose(losses.entropy(P), scipy.stats.entropy(np.asarray(P, np.float64), axis=-1), rtol=1e-5)
    np.testing.assert_allclose(losses.kl_divergence(P, Q), np.sum(scipy.special.rel_entr(np.asarray(P, np.float64), np.asarray(Q, np.float64)), axis=-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(losses.kl_divergence(P, Q), optax.kl_divergence(jnp.log(Q), P), rtol=1e-4, atol=1e-6)
    assert float(losses.entropy(jnp.array([1.0, 0.0, 0.0]))) == 0.0
    assert str(float(losses.entropy(jnp.array([1.0, 0.0])))) == "0.0"  # not −0.0
    assert float(losses.entropy(jnp.full(8, 1 / 8))) == pytest.approx(np.log(8), rel=1e-6)
    assert float(losses.kl_divergence(P[0], P[0])) == pytest.approx(0.0, abs=1e-6)
    # KL(Y‖P) = cross-entropy − H(Y); for one-hot Y, H(Y) = 0
    np.testing.assert_allclose(losses.kl_divergence(ONE_HOT, P), losses.cross_entropy(P, ONE_HOT, reduction="none"), rtol=1e-5)


def test_losses_jit_and_vmap():
    f = jax.jit(lambda z, y: losses.cross_entropy_with_logits(z, y))
    assert float(f(LOGITS, ONE_HOT)) == pytest.approx(float(losses.cross_entropy_with_logits(LOGITS, ONE_HOT)), rel=1e-6)
    per_row = jax.vmap(lambda z, y: losses.binary_cross_entropy_with_logits(z, y))(LOGITS, LABELS)
    assert per_row.shape == (5,)
    one = jnp.ones(())  # a concrete label closed over by a traced function (value checks must not trace it)
    assert float(jax.jit(lambda z: losses.binary_cross_entropy_with_logits(z, one))(0.0)) == pytest.approx(np.log(2))
    assert float(jax.jit(lambda p: losses.binary_cross_entropy(p, one))(0.5)) == pytest.approx(np.log(2))


def test_losses_bad_input():
    with pytest.raises(ValueError, match=r"^predictions and targets must have the same shape"):
        losses.mae(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="^reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        losses.mse(np.ones(2), np.ones(2), reduction="avg")
    with pytest.raises(ValueError, match=r"^probabilities must lie in \[0, 1\], got values such as 1.5"):
        losses.binary_cross_entropy(jnp.array([0.5, 1.5]), jnp.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"^labels must lie in \[0, 1\]"):
        losses.binary_cross_entropy_with_logits(jnp.array([0.5, 1.5]), jnp.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="^targets must be one-hot along the last axis"):
        losses.cross_entropy_with_logits(LOGITS, jnp.full((5, 4), 0.25))
    with pytest.raises(ValueError, match="^targets must be one-hot along the last axis"):
        losses.cross_entropy(jax.nn.softmax(LOGITS), ONE_HOT * 2)
    with pytest.raises(ValueError, match="^probabilities must sum to 1 along the last axis"):
        losses.cross_entropy(jnp.full((5, 4), 0.2), ONE_HOT)
    with pytest.raises(ValueError, match="^delta must be"):
        losses.huber(np.ones(2), np.ones(2), delta=0.0)
    with pytest.raises(ValueError, match="^probabilities must have an outcomes axis"):
        losses.entropy(0.5)
    with pytest.raises(ValueError, match="^p and q must have the same shape"):
        losses.kl_divergence(jnp.ones(2) / 2, jnp.ones(3) / 3)
    with pytest.raises(ValueError, match="^probabilities must sum to 1 along the last axis"):
        losses.entropy(jnp.array([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="^q must sum to 1 along the last axis"):
        losses.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.2]))
    with pytest.raises(ValueError, match=r"^probabilities must lie in \[0, 1\]"):
        losses.multilabel_binary_cross_entropy(jnp.array([0.5, -0.1]), jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"^logits and targets must have the same shape"):
        losses.cross_entropy_with_logits(LOGITS, ONE_HOT[:, :3])
    with pytest.raises(ValueError, match="^targets must be one-hot rows"):
        losses.cross_entropy_with_logits(jnp.array(1.0), jnp.array(1.0))


def test_cross_entropy_with_masked_logits_is_finite():
    z = jnp.array([[1.0, -jnp.inf, 0.0]])  # class 1 masked out
    y = jnp.array([[1.0, 0.0, 0.0]])
    assert float(losses.cross_entropy_with_logits(z, y)) == pytest.approx(float(-jax.nn.log_softmax(z)[0, 0]))


def test_gradients_equal_optax_gradients():
    pairs = [
        (lambda z: losses.cross_entropy_with_logits(z, ONE_HOT, reduction="sum"),
         lambda z: jnp.sum(optax.softmax_cross_entropy(z, ONE_HOT)), LOGITS),
        (lambda z: losses.binary_cross_entropy_with_logits(z, LABELS, reduction="sum"),
         lambda z: jnp.sum(optax.sigmoid_binary_cross_entropy(z, LABELS)), LOGITS),
        (lambda p: losses.huber(p, T_REG, delta=0.7, reduction="sum"),
         lambda p: jnp.sum(optax.huber_loss(p, T_REG, delta=0.7)), P_REG),
        (lambda p: losses.mse(p, T_REG, reduction="sum"), lambda p: 2 * jnp.sum(optax.l2_loss(p, T_REG)), P_REG),
    ]
    for ours, theirs, x in pairs:
        np.testing.assert_allclose(jax.grad(ours)(x), jax.grad(theirs)(x), rtol=1e-5, atol=1e-6)
