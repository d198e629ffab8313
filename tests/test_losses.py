"""Tests for dlbook.losses: every loss against NumPy, optax, scipy and jax.grad; reductions; stability from logits; soft
targets; the Loss pairs of the backward pass; one cross-entropy in the library; bad input."""

import ast
from pathlib import Path

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

import dlbook
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
    # the example's loss: −ln 0.8 − ln 0.9 − ln(1 − 0.1), summed over its three labels
    assert float(losses.multilabel_binary_cross_entropy(jnp.array([0.8, 0.9, 0.1]), jnp.array([1.0, 1.0, 0.0]))) \
        == pytest.approx(-np.log(0.8 * 0.9 * 0.9), rel=1e-6)


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
    with pytest.raises(ValueError, match=r"^targets must sum to 1 along the last axis \(one distribution per row\)"):
        losses.cross_entropy_with_logits(LOGITS, jnp.full((5, 4), 0.3))
    with pytest.raises(ValueError, match=r"^targets must lie in \[0, 1\], got values such as 2.0"):
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
    with pytest.raises(ValueError, match=r"^targets must be rows \(\.\.\., classes\), got a scalar"):
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


# -- soft targets: any distribution per row, one-hot a special case ------------------------------------------

SOFT = np.stack([
    0.9 * ONE_HOT[0] + 0.1 / 4,  # label smoothing, ε = 0.1
    np.asarray(jax.nn.softmax(LOGITS[1] / 2)),  # a teacher's probabilities
    [0.5, 0.5, 0.0, 0.0],  # zeros: those classes cost nothing
    ONE_HOT[3],  # one-hot
    [0.25, 0.25, 0.25, 0.25],
]).astype(np.float32)


def _log_softmax64(z):
    z = np.asarray(z, np.float64)
    return z - scipy.special.logsumexp(z, axis=-1, keepdims=True)


def test_cross_entropy_with_soft_targets_is_minus_sum_y_log_p():
    """``−Σ_c y_c log p_c`` for any target distribution (the old losses rejected every target that was not one-hot)."""
    y = SOFT.astype(np.float64)
    ref_logits = -np.sum(y * _log_softmax64(LOGITS), axis=-1)  # float64 NumPy
    np.testing.assert_allclose(losses.cross_entropy_with_logits(LOGITS, SOFT, reduction="none"), ref_logits, rtol=1e-5)
    np.testing.assert_allclose(optax.softmax_cross_entropy(LOGITS, SOFT), ref_logits, rtol=1e-5)  # optax agrees
    p = np.asarray(jax.nn.softmax(LOGITS))
    ref_probs = -np.sum(y * np.log(p.astype(np.float64)), axis=-1)
    np.testing.assert_allclose(losses.cross_entropy(p, SOFT, reduction="none"), ref_probs, rtol=1e-5)
    # one-hot is the special case −log p of the true class; a uniform target gives the mean of −log p
    true = int(np.argmax(SOFT[3]))
    assert float(losses.cross_entropy(p[3], SOFT[3])) == pytest.approx(-np.log(p[3, true]), rel=1e-6)
    assert float(losses.cross_entropy(p[4], SOFT[4])) == pytest.approx(-np.mean(np.log(p[4].astype(np.float64))), rel=1e-6)
    # cross-entropy = entropy + KL, for soft targets too (H(Y) > 0 now)
    np.testing.assert_allclose(losses.cross_entropy(p, SOFT, reduction="none"),
                               losses.entropy(SOFT) + losses.kl_divergence(SOFT, p), rtol=1e-5, atol=1e-6)


def test_cross_entropy_gradient_from_logits_is_softmax_minus_y_for_soft_targets():
    g = jax.grad(lambda z: losses.cross_entropy_with_logits(z, SOFT, reduction="sum"))(LOGITS)
    np.testing.assert_allclose(g, jax.nn.softmax(LOGITS) - SOFT, atol=1e-6)
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-6)  # the targets sum to 1, so do the probabilities
    p = jax.nn.softmax(LOGITS)  # from the probabilities: ∂/∂p_c = −y_c/p_c
    gp = jax.grad(lambda q: losses.cross_entropy(q, SOFT, reduction="sum"))(p)
    np.testing.assert_allclose(gp, -SOFT / p, rtol=1e-5)
    # the hand-written pair of the backward pass: the same value and gradient
    np.testing.assert_allclose(losses.SOFTMAX_CROSS_ENTROPY.value(LOGITS, SOFT),
                               -np.sum(SOFT * _log_softmax64(LOGITS), axis=-1), rtol=1e-5)
    np.testing.assert_allclose(losses.SOFTMAX_CROSS_ENTROPY.grad(LOGITS, SOFT), jax.nn.softmax(LOGITS) - SOFT, atol=1e-6)


def test_targets_that_are_not_distributions_are_rejected():
    for f, x in ((losses.cross_entropy_with_logits, LOGITS), (losses.cross_entropy, jax.nn.softmax(LOGITS)),
                 (losses.SOFTMAX_CROSS_ENTROPY.value, LOGITS)):
        with pytest.raises(ValueError, match=r"^targets must sum to 1 along the last axis \(one distribution per row\)"):
            f(x, SOFT * 0.5)
        one_bad_row = SOFT.copy()
        one_bad_row[2] = [0.5, 0.4, 0.0, 0.0]
        with pytest.raises(ValueError, match=r"^targets must sum to 1 along the last axis"):
            f(x, one_bad_row)
        with pytest.raises(ValueError, match=r"^targets must lie in \[0, 1\], got values such as 1.5"):
            f(x, np.tile([[1.5, -0.5, 0.0, 0.0]], (5, 1)).astype(np.float32))  # sums to 1, but not probabilities


# -- the Loss pairs of the hand-written backward pass -------------------------------------------------------


def test_loss_pairs_are_the_module_losses_and_their_grad_is_autodiff_of_their_value():
    rng = np.random.default_rng(5)
    a_reg, y_reg = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    a_prob = rng.uniform(0.05, 0.95, size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(losses.HALF_SQUARED.value(a_reg, y_reg), 0.5 * np.sum((a_reg - y_reg) ** 2, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(losses.BINARY_CROSS_ENTROPY.value(a_prob, LABELS[:, :3]),
                                  losses.multilabel_binary_cross_entropy(a_prob, LABELS[:, :3], reduction="none"))
    np.testing.assert_array_equal(losses.SOFTMAX_CROSS_ENTROPY.value(LOGITS, ONE_HOT),
                                  losses.cross_entropy_with_logits(LOGITS, ONE_HOT, reduction="none"))
    soft_labels = rng.uniform(size=(5, 3)).astype(np.float32)  # BCE takes soft labels in [0, 1] too
    for loss, a, y in ((losses.HALF_SQUARED, a_reg, y_reg), (losses.BINARY_CROSS_ENTROPY, a_prob, LABELS[:, :3]),
                       (losses.BINARY_CROSS_ENTROPY, a_prob, soft_labels), (losses.SOFTMAX_CROSS_ENTROPY, LOGITS, ONE_HOT),
                       (losses.SOFTMAX_CROSS_ENTROPY, LOGITS, SOFT)):
        assert isinstance(loss, losses.Loss)
        assert loss.value(a, y).shape == (5,)
        ref = jax.grad(lambda a: jnp.sum(loss.value(a, y)))(a)
        np.testing.assert_allclose(loss.grad(a, y), ref, rtol=1e-5, atol=1e-6, err_msg=loss.name)
    # binary cross-entropy: ∂ℓ/∂a = (a − y)/(a(1 − a))
    np.testing.assert_allclose(losses.BINARY_CROSS_ENTROPY.grad(a_prob, soft_labels),
                               (a_prob - soft_labels) / (a_prob * (1 - a_prob)), rtol=1e-5)


def test_binary_cross_entropy_pair_is_finite_where_the_probability_equals_the_label():
    """At ``a = y = 0`` and ``a = y = 1`` (a saturated sigmoid that is right) the loss is 0 and the gradient finite.

    The old pair (``−Σ y log a + (1 − y) log(1 − a)`` and ``(a − y)/(a(1 − a))``) gave nan for both: 0 · log 0 and
    0/0."""
    a = jnp.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    y = a
    value = losses.BINARY_CROSS_ENTROPY.value(a, y)
    assert value.tolist() == [0.0, 0.0] and str(float(value[0])) == "0.0"  # 0 · log 0 = 0 (and not −0.0)
    grad = losses.BINARY_CROSS_ENTROPY.grad(a, y)
    assert np.all(np.isfinite(grad))
    # the one-sided limits: −y/a + (1 − y)/(1 − a) is 1 at a = y = 0 and −1 at a = y = 1
    np.testing.assert_array_equal(grad, np.where(np.asarray(y) == 1, -1.0, 1.0))
    np.testing.assert_array_equal(grad, jax.grad(lambda a: jnp.sum(losses.BINARY_CROSS_ENTROPY.value(a, y)))(a))
    # with a sigmoid output, δ^L = ∂ℓ/∂a · σ'(z) = a − y: 0 where σ(z) rounds to exactly y, else a − y
    z = jnp.array([[200.0, -200.0, 30.0, -120.0, 0.5, -1.5, 3.0]])
    yz = jnp.array([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]])
    s = jax.nn.sigmoid(z)
    assert s[0, :4].tolist() == [1.0, 0.0, 1.0, 0.0]  # rounded to the label exactly
    delta = losses.BINARY_CROSS_ENTROPY.grad(s, yz) * jax.vmap(jax.grad(jax.nn.sigmoid))(z[0])[None, :]
    np.testing.assert_allclose(delta, s - yz, rtol=1e-5, atol=1e-7)
    # a probability of 0 or 1 on the wrong side costs +inf (a finite loss would hide the error)
    assert np.isinf(losses.BINARY_CROSS_ENTROPY.value(jnp.array([[0.0], [1.0]]), jnp.array([[1.0], [0.0]]))).all()


def test_softmax_cross_entropy_is_minus_log_probability_of_the_label_and_stable():
    z = jnp.array([[2.0, 1.0, 0.1], [1e4, -1e4, 0.0]])
    Y = jax.nn.one_hot(jnp.array([0, 1]), 3)
    value = losses.SOFTMAX_CROSS_ENTROPY.value(z, Y)
    assert np.isclose(value[0], -np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.1]).sum()), rtol=1e-6)
    assert value[1] == pytest.approx(2e4)  # confidently wrong: large but finite, from the scores
    grad = losses.SOFTMAX_CROSS_ENTROPY.grad(z, Y)
    np.testing.assert_allclose(grad, jax.nn.softmax(z) - Y, atol=1e-7)
    assert np.all(np.isfinite(grad))


# -- one cross-entropy in the library ----------------------------------------------------------------------

SRC = Path(dlbook.__file__).parent
#: Names of functions that take a logarithm (or a log-loss of another library): jnp/np/math, jax.nn, jax.scipy/scipy,
#: optax.  Matched as an attribute (``jnp.log``, ``act.log_softmax``), a name imported from somewhere (``from jax.nn
#: import log_sigmoid as ls``) or a called bare name; a variable or argument named ``log`` (a flag for a log scale) is
#: not a logarithm.
LOG_NAMES = frozenset({
    "log", "log1p", "log2", "log10", "logaddexp", "logaddexp2", "logsumexp", "log_softmax", "log_sigmoid", "softplus",
    "xlogy", "xlog1py", "entr", "rel_entr", "kl_div", "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
    "sigmoid_binary_cross_entropy", "safe_softmax_cross_entropy", "poly_loss_cross_entropy", "convex_kl_divergence",
})
#: Logarithms outside dlbook.losses that are not log-probabilities, with the reason.
NOT_A_LOSS = {("training.py", "trend"): "np.log(end / middle): two loss levels compared on a log scale",
              ("autodiff.py", "log"): "Value.log: the natural log as one operation of chapter 2's scalar autodiff",
              ("autodiff.py", "exp"): "Value.exp: log(float max) in the overflow message of that operation"}
#: dlbook.activations may define log-probabilities (log-softmax, log-sigmoid, softplus), nothing else.
ACTIVATIONS_DEFINING_A_LOG = {"log_softmax", "log_sigmoid", "softplus", "logsumexp"}
#: Every loss of dlbook.losses that takes a logarithm; each must be the one core ``_cross_entropy``.
LOG_LOSSES = ("binary_cross_entropy", "binary_cross_entropy_with_logits", "multilabel_binary_cross_entropy",
              "cross_entropy", "cross_entropy_with_logits", "entropy", "kl_divergence", "gaussian_nll", "laplace_nll")


class _Scan(ast.NodeVisitor):
    """Per function (``"<module>"`` outside any): the log names referenced and the names called."""

    def __init__(self):
        self.stack, self.logs, self.calls, self.defs, self.aliases = ["<module>"], {}, {}, [], set()
        self.log_in_ce_args = []  # (function, is the reference inside the arguments of a _cross_entropy call)
        self.in_ce = 0  # depth of _cross_entropy(...) calls around the node visited

    def _function(self, node):
        self.defs.append(node.name)
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _log(self, name):
        self.logs.setdefault(self.stack[-1], []).append(name)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name in LOG_NAMES:
                self.aliases.add(alias.asname or alias.name)

    def visit_Name(self, node):  # a name imported as a log function, used (called or passed on)
        if node.id in self.aliases:
            self._log(node.id)

    def visit_Attribute(self, node):
        if node.attr in LOG_NAMES:
            self._log(ast.unparse(node))
        self.generic_visit(node)

    def visit_Call(self, node):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        if name:
            self.calls.setdefault(self.stack[-1], set()).add(name)
        if isinstance(f, ast.Name) and f.id in LOG_NAMES and f.id not in self.aliases:  # log(...) of a star import
            self._log(f.id)
        if name == "_log":  # the masked logarithm of dlbook.losses: only ever an argument of _cross_entropy
            self.log_in_ce_args.append((self.stack[-1], self.in_ce > 0))
        inside = name == "_cross_entropy"
        self.in_ce += inside
        self.generic_visit(node)
        self.in_ce -= inside


def _scan(path):
    scan = _Scan()
    scan.visit(ast.parse(path.read_text(), filename=str(path)))
    return scan


def one_cross_entropy_violations(src):
    """Every way a module under ``src`` computes a log-loss other than through ``dlbook.losses._cross_entropy``."""
    problems, scans = [], {p.relative_to(src).as_posix(): _scan(p) for p in sorted(src.rglob("*.py"))}
    for rel, scan in scans.items():
        for function, names in scan.logs.items():
            if rel == "losses.py":
                continue  # checked below
            if rel == "activations.py" and function in ACTIVATIONS_DEFINING_A_LOG or (rel, function) in NOT_A_LOSS:
                continue
            problems.append(f"{rel}:{function} takes a logarithm ({', '.join(names)}): compute log-losses in dlbook.losses")
        if rel != "losses.py" and "_cross_entropy" in scan.defs:
            problems.append(f"{rel} defines its own _cross_entropy")
    losses_scan = scans.get("losses.py")
    if losses_scan is None or losses_scan.defs.count("_cross_entropy") != 1:
        return problems + ["dlbook/losses.py must define the one core _cross_entropy(targets, log_probs), once"]
    if "_cross_entropy" in losses_scan.logs:
        problems.append("losses.py:_cross_entropy takes a logarithm itself: it should take log-probabilities")
    for function in losses_scan.logs:  # a log taken in losses.py goes into _cross_entropy
        if function != "_log" and "_cross_entropy" not in losses_scan.calls.get(function, ()):
            problems.append(f"losses.py:{function} takes a logarithm without _cross_entropy")
    for function, inside in losses_scan.log_in_ce_args:
        if not inside:
            problems.append(f"losses.py:{function} uses _log(...) outside a _cross_entropy(...) call")

    def reaches_core(function, seen=()):
        called = losses_scan.calls.get(function, set())
        return "_cross_entropy" in called or any(
            reaches_core(g, (*seen, function)) for g in called & set(LOG_LOSSES) if g not in seen and g != function)

    for function in LOG_LOSSES:
        if function not in losses_scan.defs or not reaches_core(function):
            problems.append(f"losses.{function} does not go through _cross_entropy")
    return problems


def test_there_is_one_cross_entropy_in_the_library():
    """Every log-loss of dlbook (binary, categorical, multi-label, from probabilities or scores, entropy, KL, the Loss
    pairs of the backward pass, logistic regression) is ``losses._cross_entropy``: no other module takes a logarithm.

    The old tree had three: dlbook.losses, dlbook.backprop (``jnp.log``/``log1p`` in BINARY_CROSS_ENTROPY,
    ``log_softmax`` in SOFTMAX_CROSS_ENTROPY) and dlbook.logistic (``log_sigmoid``)."""
    assert one_cross_entropy_violations(SRC) == []
    scan = _scan(SRC / "losses.py")  # the scan is not vacuous: it sees the logarithms of dlbook.losses
    assert sum(len(v) for v in scan.logs.values()) >= 3 and scan.log_in_ce_args
    # and the users call it: the backward pass's losses and logistic regression are losses' own functions
    import dlbook.logistic as logistic
    w, X, y = jnp.array([0.5, -1.0]), jnp.asarray(RNG.normal(size=(6, 2)), jnp.float32), jnp.array([0, 1, 1, 0, 1, 0.0])
    assert float(logistic.logistic_loss(w, 0.2, X, y)) == float(losses.binary_cross_entropy_with_logits(X @ w + 0.2, y))


def test_the_one_cross_entropy_check_catches_a_second_one(tmp_path):
    """The check above would have failed on the old tree, and fails on a module that writes its own."""
    (tmp_path / "losses.py").write_text((SRC / "losses.py").read_text())
    (tmp_path / "activations.py").write_text((SRC / "activations.py").read_text())
    assert one_cross_entropy_violations(tmp_path) == []
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "head.py").write_text(
        "import jax\nfrom jax.nn import log_softmax as ls\n"
        "def nll(z, y):\n    return -(y * ls(z)).sum(-1)\n"
        "def bce(a, y):\n    return -(y * jax.numpy.log(a) + (1 - y) * jax.numpy.log1p(-a)).sum(-1)\n")
    found = one_cross_entropy_violations(tmp_path)
    assert any(p.startswith("sub/head.py:nll") for p in found) and any(p.startswith("sub/head.py:bce") for p in found)
    old = (SRC / "losses.py").read_text().replace("_cross_entropy(y, _log(p, y))", "-jnp.sum(y * jnp.log(p), axis=-1)")
    (tmp_path / "losses.py").write_text(old)  # cross_entropy written out again, next to the core
    assert "losses.py:cross_entropy takes a logarithm without _cross_entropy" in one_cross_entropy_violations(tmp_path)


def test_cross_entropy_of_scalars_names_the_argument():
    with pytest.raises(ValueError, match=r"^(probabilities|targets) must .*scalar"):
        losses.cross_entropy(jnp.array(1.0), jnp.array(1.0))


def test_huber_delta_must_be_a_scalar():
    with pytest.raises(ValueError, match=r"^delta must have shape \(\) \(a scalar\)"):
        losses.huber(jnp.ones(2), jnp.ones(2), delta=jnp.ones(2))


# -- negative log-likelihoods and label smoothing ----------------------------------------------------------------------

def test_gaussian_and_laplace_nll_against_scipy_and_their_gradients():
    rng = np.random.default_rng(3)
    p, t = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    for sigma in (0.5, 1.0, 2.0):
        ref = -scipy.stats.norm.logpdf(t.astype(np.float64), loc=p, scale=sigma)
        np.testing.assert_allclose(losses.gaussian_nll(p, t, sigma=sigma, reduction="none"), ref, rtol=1e-5)
        np.testing.assert_allclose(losses.gaussian_nll(p, t, sigma=sigma), ref.mean(), rtol=1e-5)
        # MSE/(2σ²) + constant: the same gradient in ŷ as the MSE, scaled
        np.testing.assert_allclose(jax.grad(losses.gaussian_nll)(p, t, sigma=sigma),
                                   jax.grad(mse)(p, t) / (2 * sigma**2), rtol=1e-5, atol=1e-7)
    for b in (0.5, 1.0, 3.0):
        ref = -scipy.stats.laplace.logpdf(t.astype(np.float64), loc=p, scale=b)
        np.testing.assert_allclose(losses.laplace_nll(p, t, scale=b, reduction="sum"), ref.sum(), rtol=1e-5)
        np.testing.assert_allclose(jax.grad(losses.laplace_nll)(p, t, scale=b), np.sign(p - t) / (b * p.size), rtol=1e-6)
    assert float(jax.grad(losses.laplace_nll)(jnp.array(1.0), jnp.array(1.0))) == 0.0   # 0 at zero error, like MAE


def test_smooth_labels_against_optax():
    y = jax.nn.one_hot(jnp.array([0, 3, 2]), 5)
    for eps in (0.0, 0.1, 0.5):
        np.testing.assert_allclose(losses.smooth_labels(y, eps), optax.smooth_labels(y, eps), rtol=1e-6)
        np.testing.assert_allclose(losses.smooth_labels(y, eps).sum(-1), 1.0, rtol=1e-6)
    assert jax.jit(losses.smooth_labels)(y, 0.1).shape == (3, 5)


def test_nll_and_smoothing_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^sigma must be > 0"):
        losses.gaussian_nll(jnp.ones(2), jnp.ones(2), sigma=0.0)
    with pytest.raises(ValueError, match=r"^sigma must have shape"):
        losses.gaussian_nll(jnp.ones(2), jnp.ones(2), sigma=jnp.ones(2))
    with pytest.raises(ValueError, match=r"^scale must be > 0"):
        losses.laplace_nll(jnp.ones(2), jnp.ones(2), scale=-1.0)
    with pytest.raises(ValueError, match=r"^predictions and targets must have the same shape"):
        losses.laplace_nll(jnp.ones(2), jnp.ones(3))
    with pytest.raises(ValueError, match=r"^epsilon must be the smoothing weight in \[0, 1\)"):
        losses.smooth_labels(jnp.array([0.0, 1.0]), 1.0)
    with pytest.raises(ValueError, match=r"^targets must sum to 1"):
        losses.smooth_labels(jnp.array([1.0, 1.0]), 0.1)
    with pytest.raises(ValueError, match=r"^targets must have a classes axis"):
        losses.smooth_labels(jnp.array(1.0), 0.1)
