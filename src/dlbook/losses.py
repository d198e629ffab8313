"""Loss functions: regression (MSE, RMSE, MAE, Huber), cross-entropies, entropy and KL divergence.

Every loss is computed per element (regression) or per example (classification) and then reduced with
an explicit ``reduction``: ``"mean"`` (the default, what training minimises), ``"sum"`` or ``"none"`` (the
per-example values).  Conventions:

* regression losses compare ``predictions`` and ``targets`` of the same shape, element by element;
* binary cross-entropies work element by element on probabilities ``p ∈ [0, 1]`` (or on scores, the
  ``*_with_logits`` versions) and labels ``y ∈ [0, 1]``; :func:`multilabel_binary_cross_entropy` sums them
  over the labels of one example (the last axis);
* categorical cross-entropy takes one distribution per example on the last axis and one-hot targets;
  the ``*_with_logits`` version applies a max-subtracted log-softmax, so it is finite for any scores;
* logarithms are natural, and ``0 · log 0 = 0`` (so a probability of exactly 0 for a label of 0 costs
  nothing, while a probability of 0 for a label of 1 costs ``+inf``).

Bad input is rejected with the argument's name: mismatched shapes, probabilities outside ``[0, 1]``,
targets that are not one-hot where one-hot is required, an unknown ``reduction``.  (Value checks run on
concrete arrays; inside ``jit`` only shapes can be checked.)

Chapters: ``book/ch01_gradient_descent.ipynb`` (MSE for linear regression), ``book/ch04_losses.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_choice, check_positive, is_concrete

Array = jax.Array

__all__ = [
    "REDUCTIONS", "mse", "rmse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "multilabel_binary_cross_entropy", "cross_entropy", "cross_entropy_with_logits", "entropy", "kl_divergence",
]

#: What a loss does with its per-element or per-example values.
REDUCTIONS = ("mean", "sum", "none")


def _xlogy(x: Array, y: Array) -> Array:
    """``x · log y`` with ``0 · log y = 0`` for any ``y``, and a zero (not nan) gradient where ``x = 0``.

    (``jax.scipy.special.xlogy`` gives the value but a nan gradient at ``x = y = 0``, which is where a
    one-hot label meets a softmax probability that underflowed to 0.)
    """
    zero = x == 0
    return jnp.where(zero, 0.0, x * jnp.log(jnp.where(zero, 1.0, y)))


def _reduce(values: Array, reduction: str) -> Array:
    check_choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def _same_shape(a_name: str, a: ArrayLike, b_name: str, b: ArrayLike) -> tuple[Array, Array]:
    a, b = jnp.asarray(as_array(a_name, a)), jnp.asarray(as_array(b_name, b))
    if a.shape != b.shape:
        raise ValueError(f"{a_name} and {b_name} must have the same shape, got {a.shape} and {b.shape}")
    dtype = jnp.result_type(a.dtype, b.dtype, jnp.float32)
    return a.astype(dtype), b.astype(dtype)


# Value checks run in NumPy on concrete arrays only: inside jit, vmap or scan the values are not known (and
# even a constant becomes a tracer as soon as a jnp operation touches it).


def _in_unit_interval(name: str, x: Array) -> None:
    if is_concrete(x):
        xn = np.asarray(x)
        ok = (xn >= 0) & (xn <= 1)
        if not ok.all():
            raise ValueError(f"{name} must lie in [0, 1], got values such as {float(xn[~ok][0])!r}")


def _distributions(name: str, p: Array) -> None:
    _in_unit_interval(name, p)
    if is_concrete(p) and not (np.abs(np.asarray(p).sum(axis=-1) - 1) < 1e-4).all():
        raise ValueError(f"{name} must sum to 1 along the last axis (one distribution per row)")


def _one_hot(name: str, y: Array) -> None:
    if y.ndim < 1:
        raise ValueError(f"{name} must be one-hot rows (..., classes), got a scalar")
    if is_concrete(y):
        yn = np.asarray(y)
        if not (((yn == 0) | (yn == 1)).all() and (yn.sum(axis=-1) == 1).all()):
            raise ValueError(f"{name} must be one-hot along the last axis (a single 1 and zeros in each row)")


def mse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Mean squared error (L2 loss) ``𝓛 = (1/n) Σᵢ (yᵢ − ŷᵢ)²``; per element ``(yᵢ − ŷᵢ)²``.

    Example:
      >>> float(mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))
      2.0
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    return _reduce((p - t) ** 2, reduction)


def rmse(predictions: ArrayLike, targets: ArrayLike) -> Array:
    """Root mean squared error ``√MSE``, in the units of the targets (a single number: no reduction).

    Example:
      >>> float(rmse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))
      1.4142135381698608
    """
    return jnp.sqrt(mse(predictions, targets))


def mae(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Mean absolute error (L1 loss) ``𝓛 = (1/n) Σᵢ |yᵢ − ŷᵢ|``; per element ``|yᵢ − ŷᵢ|``.

    Its gradient is ``sign(ŷᵢ − yᵢ)/n``, taken as 0 where the error is exactly 0 (``jnp.abs`` would give 1).

    Example:
      >>> float(mae(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))
      1.0
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    e = p - t
    return _reduce(e * jnp.sign(e), reduction)  # = |e|, with the gradient sign(e): 0 at e = 0, the minimum


def huber(predictions: ArrayLike, targets: ArrayLike, *, delta: float = 1.0, reduction: str = "mean") -> Array:
    """Huber loss: ``½e²`` for ``|e| ≤ δ`` and ``δ(|e| − δ/2)`` beyond, with ``e = ŷ − y``.

    Quadratic (like MSE) for small errors, linear (like MAE) for large ones; the two pieces meet with the
    same value and slope at ``|e| = δ``.  The same as ``optax.huber_loss``.

    Example:
      >>> huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none").tolist()
      [0.125, 2.5]
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    check_positive("delta", delta)
    e = jnp.abs(p - t)
    return _reduce(jnp.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)), reduction)


def binary_cross_entropy(probabilities: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Binary cross-entropy from probabilities: ``−[y log p + (1 − y) log(1 − p)]`` per element.

    Zero only where ``p = y``.  A probability of exactly 0 or 1 on the wrong side costs ``+inf``; compute
    from scores with :func:`binary_cross_entropy_with_logits` to stay finite.

    Example:
      >>> round(float(binary_cross_entropy(jnp.array([0.8]), jnp.array([1.0]))), 4)   # −ln 0.8
      0.2231
    """
    p, y = _same_shape("probabilities", probabilities, "labels", labels)
    _in_unit_interval("probabilities", p)
    _in_unit_interval("labels", y)
    return _reduce(0.0 - (_xlogy(y, p) + _xlogy(1 - y, 1 - p)), reduction)  # 0 − x: no −0.0


def binary_cross_entropy_with_logits(logits: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Binary cross-entropy of ``p = σ(z)`` computed from the score ``z``, finite for any ``z``.

    ``−[y log σ(z) + (1 − y) log(1 − σ(z))] = max(z, 0) − z·y + log(1 + e^{−|z|})``: no ``σ`` is ever
    rounded to 0 or 1 first, and the gradient is ``σ(z) − y``.  The same as
    ``optax.sigmoid_binary_cross_entropy``.

    Example:
      >>> float(binary_cross_entropy_with_logits(jnp.array([-100.0]), jnp.array([1.0])))   # σ(−100) ≈ e^{−100}
      100.0
    """
    z, y = _same_shape("logits", logits, "labels", labels)
    _in_unit_interval("labels", y)
    # softplus(z) − z·y, written so that neither branch loses digits; the gradient is σ(z) − y everywhere
    # (also at z = 0, where a max(z, 0) and |z| form would pick one side of each kink)
    per = jnp.where(z >= 0, jax.nn.softplus(-z) + z * (1 - y), jax.nn.softplus(z) - z * y)
    return _reduce(per, reduction)


def multilabel_binary_cross_entropy(probabilities: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Multi-label loss: one binary cross-entropy per label, summed over the labels of each example.

    ``probabilities`` and ``labels`` are ``(..., labels)``; each label is a separate yes/no question, so
    the probabilities of one example need not sum to 1.  Per example: ``Σ_c BCE(p_c, y_c)``.

    Example:
      >>> round(float(multilabel_binary_cross_entropy(jnp.array([0.8, 0.9, 0.1]), jnp.array([1.0, 1.0, 0.0]))), 3)
      0.434
    """
    p, y = _same_shape("probabilities", probabilities, "labels", labels)
    if p.ndim < 1:
        raise ValueError("probabilities must have a labels axis (..., labels), got a scalar")
    per_label = binary_cross_entropy(p, y, reduction="none")
    return _reduce(jnp.sum(per_label, axis=-1), reduction)


def cross_entropy(probabilities: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Categorical cross-entropy ``−Σ_c y_c log p_c`` per example, with one-hot ``targets``.

    ``probabilities`` ``(..., classes)`` holds one distribution per example (each row sums to 1), e.g. a
    softmax output.  With one-hot targets the loss is ``−log p`` of the true class.

    Example:
      >>> p = jnp.array([0.1, 0.1, 0, 0, 0, 0.7, 0, 0.1, 0, 0])   # the digit "5"
      >>> round(float(cross_entropy(p, jax.nn.one_hot(5, 10))), 4)
      0.3567
    """
    p, y = _same_shape("probabilities", probabilities, "targets", targets)
    _distributions("probabilities", p)
    _one_hot("targets", y)
    return _reduce(0.0 - jnp.sum(_xlogy(y, p), axis=-1), reduction)


def cross_entropy_with_logits(logits: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Categorical cross-entropy of ``softmax(z)`` computed from the scores ``z`` (log-sum-exp), with
    one-hot ``targets``: ``−Σ_c y_c (z_c − max z − log Σ_j e^{z_j − max z})``, finite for any scores.

    The same as ``optax.softmax_cross_entropy``.

    Example:
      >>> float(cross_entropy_with_logits(jnp.array([1000.0, 0.0]), jnp.array([0.0, 1.0])))
      1000.0
    """
    z, y = _same_shape("logits", logits, "targets", targets)
    _one_hot("targets", y)
    # where, not y·log_softmax: a class masked with a score of −inf has log-probability −inf, and 0·(−inf) = nan
    log_p = jax.nn.log_softmax(z, axis=-1)
    return _reduce(0.0 - jnp.sum(jnp.where(y == 0, 0.0, y * log_p), axis=-1), reduction)


def entropy(probabilities: ArrayLike) -> Array:
    """Entropy ``H(P) = −Σᵢ P(xᵢ) log P(xᵢ)`` (in nats) of each distribution on the last axis.

    0 for a certain outcome, ``log K`` (the maximum) for the uniform distribution over ``K`` outcomes.

    Example:
      >>> round(float(entropy(jnp.full(4, 0.25))), 4)   # log 4
      1.3863
    """
    p = jnp.asarray(as_array("probabilities", probabilities))
    if p.ndim < 1:
        raise ValueError("probabilities must have an outcomes axis (..., K), got a scalar")
    p = p.astype(jnp.result_type(p.dtype, jnp.float32))
    _distributions("probabilities", p)
    return 0.0 - jnp.sum(_xlogy(p, p), axis=-1)


def kl_divergence(p: ArrayLike, q: ArrayLike) -> Array:
    """Kullback–Leibler divergence ``KL(P‖Q) = Σᵢ P(xᵢ) log(P(xᵢ)/Q(xᵢ)) ≥ 0`` per distribution (last axis).

    Zero only when ``P = Q``; not symmetric.  ``KL(Y‖P) = cross-entropy(P, Y) − H(Y)``, so for one-hot
    ``Y`` it equals the cross-entropy.

    Example:
      >>> round(float(kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]))), 4)
      0.5108
    """
    p, q = _same_shape("p", p, "q", q)
    if p.ndim < 1:
        raise ValueError("p must have an outcomes axis (..., K), got a scalar")
    _distributions("p", p)
    _distributions("q", q)
    return jnp.sum(_xlogy(p, p) - _xlogy(p, q), axis=-1)
