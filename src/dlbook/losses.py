"""Loss functions: regression (MSE, RMSE, MAE, Huber), cross-entropies, entropy, KL divergence, the Gaussian and
Laplace negative log-likelihoods and label smoothing.

Every loss is computed per element (regression) or per example (classification) and then reduced with
an explicit ``reduction``: ``"mean"`` (the default, what training minimises), ``"sum"`` or ``"none"`` (the
per-example values).  Conventions:

* regression losses compare ``predictions`` and ``targets`` of the same shape, element by element;
* binary cross-entropies work element by element on probabilities ``p ∈ [0, 1]`` (or on scores, the
  ``*_with_logits`` versions) and labels ``y ∈ [0, 1]``; :func:`multilabel_binary_cross_entropy` sums them
  over the labels of one example (the last axis);
* categorical cross-entropy takes one distribution per example on the last axis and targets that are
  distributions too (one-hot, or soft such as smoothed labels); the ``*_with_logits`` version applies a max-subtracted log-softmax, so it is finite for any scores;
* logarithms are natural, and ``0 · log 0 = 0`` (so a probability of exactly 0 for a label of 0 costs
  nothing, while a probability of 0 for a label of 1 costs ``+inf``).

Bad input is rejected with the argument's name: mismatched shapes, probabilities outside ``[0, 1]``,
rows that should be distributions and do not sum to 1, an unknown ``reduction``.  (Value checks run on
concrete arrays; inside ``jit`` only shapes can be checked.)

Chapters: ``book/ch01_gradient_descent.ipynb`` (MSE for linear regression), ``book/ch04_losses.ipynb``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_choice, check_positive, check_probability, check_scalar, is_concrete
from dlbook.activations import log_softmax, softmax

Array = jax.Array

__all__ = [
    "REDUCTIONS", "mse", "rmse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "multilabel_binary_cross_entropy", "cross_entropy", "cross_entropy_with_logits", "entropy", "kl_divergence",
    "gaussian_nll", "laplace_nll", "smooth_labels", "Loss", "HALF_SQUARED", "BINARY_CROSS_ENTROPY", "SOFTMAX_CROSS_ENTROPY",
]

#: What a loss does with its per-element or per-example values.
REDUCTIONS = ("mean", "sum", "none")


def _cross_entropy(targets: Array, log_probs: Array) -> Array:
    """``−Σ_c y_c log p_c`` over the last axis, with ``0 · log p = 0`` for any ``p`` (even ``p = 0``, even
    ``log p = −inf``) and a zero (not nan) gradient there.

    The one cross-entropy of the library: every loss below that takes a logarithm (binary and categorical
    cross-entropy from probabilities or from scores, multi-label, entropy ``H(P) = CE(P, P)``, KL) is this sum.
    (``jax.scipy.special.xlogy`` gives the value but a nan gradient at ``y = p = 0``, which is where a one-hot
    label meets a softmax probability that underflowed to 0; ``y · log_softmax(z)`` gives ``0 · (−inf) = nan``
    for a class masked with a score of ``−inf``.)
    """
    return 0.0 - jnp.sum(jnp.where(targets == 0, 0.0, targets * log_probs), axis=-1)  # 0 − x: no −0.0


def _log(p: Array, targets: Array) -> Array:
    """``log p`` where the target is not 0 (elsewhere ``log 1``: the value is masked, and so is its gradient)."""
    return jnp.log(jnp.where(targets == 0, 1.0, p))


def _two_classes(yes: Array, no: Array) -> Array:
    """A yes/no quantity per element as a distribution over the two outcomes (a new last axis)."""
    return jnp.stack([yes, no], axis=-1)


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


def _distribution_rows(name: str, x: ArrayLike, axis: str) -> Array:
    """``x`` as float rows that are distributions on the last axis (``axis`` names that axis in the error)."""
    x = jnp.asarray(as_array(name, x))
    if x.ndim < 1:
        raise ValueError(f"{name} must have {axis}, got a scalar")
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    _distributions(name, x)
    return x


def mse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Mean squared error (L2 loss) ``𝓛 = (1/n) Σᵢ (yᵢ − ŷᵢ)²``; per element ``(yᵢ − ŷᵢ)²``.

    Args:
      predictions, targets: ``ŷ`` and ``y``, the same shape (any).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> float(mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))      # ((1 − 1)² + (2 − 4)²)/2
      2.0

    Chapter: ``book/ch04_losses.ipynb`` (the loss of linear regression in ``book/ch01_gradient_descent.ipynb``).
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    return _reduce((p - t) ** 2, reduction)


def rmse(predictions: ArrayLike, targets: ArrayLike) -> Array:
    """Root mean squared error ``√MSE = √((1/n) Σᵢ (yᵢ − ŷᵢ)²)``, in the units of the targets (a single number).

    Args:
      predictions, targets: ``ŷ`` and ``y``, the same shape (any).

    Example:
      >>> e = rmse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))
      >>> round(float(e), 6), round(float(np.sqrt(((1 - 1) ** 2 + (2 - 4) ** 2) / 2)), 6)      # √MSE = √2
      (1.414214, 1.414214)

    Chapter: ``book/ch04_losses.ipynb``.
    """
    return jnp.sqrt(mse(predictions, targets))


def mae(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Mean absolute error (L1 loss) ``𝓛 = (1/n) Σᵢ |yᵢ − ŷᵢ|``; per element ``|yᵢ − ŷᵢ|``.

    Its gradient is ``sign(ŷᵢ − yᵢ)/n``, taken as 0 where the error is exactly 0 (``jnp.abs`` would give 1).

    Args:
      predictions, targets: ``ŷ`` and ``y``, the same shape (any).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> float(mae(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))      # (|1 − 1| + |2 − 4|)/2
      1.0

    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    e = p - t
    return _reduce(e * jnp.sign(e), reduction)  # = |e|, with the gradient sign(e): 0 at e = 0, the minimum


def huber(predictions: ArrayLike, targets: ArrayLike, *, delta: float = 1.0, reduction: str = "mean") -> Array:
    """Huber loss: ``ℓ_δ(e) = ½e²`` for ``|e| ≤ δ`` and ``δ(|e| − δ/2)`` beyond, with ``e = ŷ − y``.

    Quadratic (like MSE) for small errors, linear (like MAE) for large ones; the two pieces meet with the
    same value and slope at ``|e| = δ``.  The same as ``optax.huber_loss``.

    Args:
      predictions, targets: ``ŷ`` and ``y``, the same shape (any).
      delta: the threshold ``δ > 0``.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none").tolist()   # ½·0.5², then 1·(3 − ½)
      [0.125, 2.5]

    Reference: ``huber1964robust``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, t = _same_shape("predictions", predictions, "targets", targets)
    check_positive("delta", delta)
    check_scalar("delta", delta)
    e = jnp.abs(p - t)
    return _reduce(jnp.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)), reduction)


def binary_cross_entropy(probabilities: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Binary cross-entropy from probabilities: ``−[y log p + (1 − y) log(1 − p)]`` per element.

    Zero only where ``p = y``.  A probability of exactly 0 or 1 on the wrong side costs ``+inf``; compute
    from scores with :func:`binary_cross_entropy_with_logits` to stay finite.

    Args:
      probabilities: ``p ∈ [0, 1]``, any shape.
      labels: ``y ∈ [0, 1]``, the same shape.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> loss = binary_cross_entropy(jnp.array([0.8]), jnp.array([1.0]))
      >>> round(float(loss), 4), round(-float(1 * np.log(0.8) + 0 * np.log(1 - 0.8)), 4)   # −[y log p + (1−y) log(1−p)]
      (0.2231, 0.2231)

    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, y = _same_shape("probabilities", probabilities, "labels", labels)
    _in_unit_interval("probabilities", p)
    _in_unit_interval("labels", y)
    y2 = _two_classes(y, 1 - y)
    return _reduce(_cross_entropy(y2, _log(_two_classes(p, 1 - p), y2)), reduction)


def binary_cross_entropy_with_logits(logits: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Binary cross-entropy of ``p = σ(z)`` computed from the score ``z``, finite for any ``z``.

    ``−[y log σ(z) + (1 − y) log σ(−z)]`` with ``log σ(z) = −softplus(−z)`` (since ``1 − σ(z) = σ(−z)``): no
    ``σ`` is ever rounded to 0 or 1 first, and the gradient is ``σ(z) − y`` everywhere, also at ``z = 0``
    (where a ``max(z, 0)`` and ``|z|`` form would pick one side of each kink).  The same as
    ``optax.sigmoid_binary_cross_entropy``.

    Args:
      logits: the scores ``z``, any shape.
      labels: ``y ∈ [0, 1]``, the same shape.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> float(binary_cross_entropy_with_logits(jnp.array([-100.0]), jnp.array([1.0])))   # −log σ(−100) ≈ 100 + e^{−100}
      100.0

    Chapter: ``book/ch04_losses.ipynb``.
    """
    z, y = _same_shape("logits", logits, "labels", labels)
    _in_unit_interval("labels", y)
    log_p = _two_classes(jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
    return _reduce(_cross_entropy(_two_classes(y, 1 - y), log_p), reduction)


def multilabel_binary_cross_entropy(probabilities: ArrayLike, labels: ArrayLike, *, reduction: str = "mean") -> Array:
    """Multi-label loss: one binary cross-entropy per label, summed over the labels of each example.

    Each label is a separate yes/no question, so the probabilities of one example need not sum to 1.  Per
    example: ``Σ_c −[y_c log p_c + (1 − y_c) log(1 − p_c)]``.

    Args:
      probabilities: ``p ∈ [0, 1]``, ``(..., labels)``.
      labels: ``y ∈ [0, 1]``, the same shape.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-example values ``(...)``).

    Example:
      >>> loss = multilabel_binary_cross_entropy(jnp.array([0.8, 0.9, 0.1]), jnp.array([1.0, 1.0, 0.0]))
      >>> round(float(loss), 4), round(-float(np.log(0.8) + np.log(0.9) + np.log(1 - 0.1)), 4)   # one BCE per label, summed
      (0.4339, 0.4339)

    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, y = _same_shape("probabilities", probabilities, "labels", labels)
    if p.ndim < 1:
        raise ValueError("probabilities must have a labels axis (..., labels), got a scalar")
    per_label = binary_cross_entropy(p, y, reduction="none")
    return _reduce(jnp.sum(per_label, axis=-1), reduction)


def cross_entropy(probabilities: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Categorical cross-entropy ``−Σ_c y_c log p_c`` per example.

    Args:
      probabilities: ``(..., classes)``, one distribution per example (each row sums to 1), e.g. a softmax output.
      targets: the same shape; one-hot rows (then the loss is ``−log p`` of the true class) or soft ones
        (label smoothing, a teacher's probabilities).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-example values ``(...)``).

    Example:
      >>> p = jnp.array([0.1, 0.1, 0, 0, 0, 0.7, 0, 0.1, 0, 0])   # the digit "5"
      >>> round(float(cross_entropy(p, jax.nn.one_hot(5, 10))), 4), round(-float(np.log(0.7)), 4)   # −log p_5
      (0.3567, 0.3567)

    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, y = _same_shape("probabilities", probabilities, "targets", targets)
    if p.ndim < 1:
        raise ValueError("probabilities must be rows (..., classes), got a scalar")
    _distributions("probabilities", p)
    _distributions("targets", y)
    return _reduce(_cross_entropy(y, _log(p, y)), reduction)


def cross_entropy_with_logits(logits: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> Array:
    """Categorical cross-entropy of ``softmax(z)`` computed from the scores ``z``, finite for any scores.

    ``−Σ_c y_c (z_c − max z − log Σ_j e^{z_j − max z})`` (log-sum-exp); the gradient is ``softmax(z) − y``.
    A class masked with a score of ``−inf`` and a target of 0 costs nothing.  The same as
    ``optax.softmax_cross_entropy``.

    Args:
      logits: the scores ``z``, ``(..., classes)``.
      targets: the same shape, one distribution per row, one-hot or soft (as :func:`cross_entropy`).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-example values ``(...)``).

    Example:
      >>> float(cross_entropy_with_logits(jnp.array([1000.0, 0.0]), jnp.array([0.0, 1.0])))   # 1000 + log(1 + e^{−1000})
      1000.0

    Chapter: ``book/ch04_losses.ipynb``.
    """
    z, y = _same_shape("logits", logits, "targets", targets)
    if y.ndim < 1:
        raise ValueError("targets must be rows (..., classes), got a scalar")
    _distributions("targets", y)
    return _reduce(_cross_entropy(y, log_softmax(z)), reduction)


def entropy(probabilities: ArrayLike) -> Array:
    """Entropy ``H(P) = −Σᵢ P(xᵢ) log P(xᵢ)`` (in nats) of each distribution on the last axis.

    0 for a certain outcome, ``log K`` (the maximum) for the uniform distribution over ``K`` outcomes.

    Args:
      probabilities: ``(..., K)``, each row sums to 1; the result is ``(...)``.

    Example:
      >>> round(float(entropy(jnp.full(4, 0.25))), 4), round(-float(4 * 0.25 * np.log(0.25)), 4)   # log 4
      (1.3863, 1.3863)
      >>> float(entropy(jnp.array([1.0, 0.0])))              # a certain outcome: −1 log 1 − 0 log 0
      0.0

    Reference: ``shannon1948mathematical``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    p = _distribution_rows("probabilities", probabilities, "an outcomes axis (..., K)")
    return _cross_entropy(p, _log(p, p))


def kl_divergence(p: ArrayLike, q: ArrayLike) -> Array:
    """Kullback–Leibler divergence ``KL(P‖Q) = Σᵢ P(xᵢ) log(P(xᵢ)/Q(xᵢ)) ≥ 0`` per distribution (last axis).

    Zero only when ``P = Q``; not symmetric.  ``KL(Y‖P) = cross-entropy(P, Y) − H(Y)``, so for one-hot
    ``Y`` it equals the cross-entropy.

    Args:
      p, q: the distributions ``P`` and ``Q``, ``(..., K)``, each row sums to 1; the result is ``(...)``.

    Example:
      >>> kl = kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]))
      >>> round(float(kl), 4), round(float(0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)), 4)   # = log(5/3)
      (0.5108, 0.5108)

    Reference: ``kullback1951information``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    p, q = _same_shape("p", p, "q", q)
    if p.ndim < 1:
        raise ValueError("p must have an outcomes axis (..., K), got a scalar")
    _distributions("p", p)
    _distributions("q", q)
    return _cross_entropy(p, _log(q, p)) - _cross_entropy(p, _log(p, p))


def _standardized_error(predictions: ArrayLike, targets: ArrayLike, scale_name: str, scale: float) -> Array:
    """``(y − ŷ)/s`` of a location-scale noise model, after checking the shapes and the scale ``s > 0``."""
    p, t = _same_shape("predictions", predictions, "targets", targets)
    check_positive(scale_name, scale)
    check_scalar(scale_name, scale)
    return (t - p) / scale


def _point_mass(x: Array) -> Array:
    """The observed values as distributions: one outcome with probability 1 each (a new last axis).

    ``−log p(y)`` of an observed ``y`` is the cross-entropy of this point mass and the model's density.
    """
    return jnp.ones((*x.shape, 1), x.dtype)


def gaussian_nll(predictions: ArrayLike, targets: ArrayLike, *, sigma: float = 1.0, reduction: str = "mean") -> Array:
    """Gaussian negative log-likelihood ``−log N(y; ŷ, σ²) = (y − ŷ)²/(2σ²) + log σ + ½ log 2π`` per element.

    For a fixed ``σ`` it is ``MSE/(2σ²)`` plus a constant, so minimising it over ``ŷ`` is least squares.

    Args:
      predictions, targets: the means ``ŷ`` and the observations ``y``, the same shape (any).
      sigma: the noise standard deviation ``σ > 0`` (a scalar).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> nll = gaussian_nll(jnp.array([1.0]), jnp.array([3.0]))           # ½·(3 − 1)² + log 1 + ½ log 2π
      >>> round(float(nll), 4), round(float(2.0 + 0.5 * np.log(2 * np.pi)), 4)
      (2.9189, 2.9189)

    Reference: ``ch04-bishop2006pattern``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    u = _standardized_error(predictions, targets, "sigma", sigma)
    log_density = -0.5 * u**2 - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi)
    return _reduce(_cross_entropy(_point_mass(u), log_density[..., None]), reduction)


def laplace_nll(predictions: ArrayLike, targets: ArrayLike, *, scale: float = 1.0, reduction: str = "mean") -> Array:
    """Laplace negative log-likelihood ``−log Laplace(y; ŷ, b) = |y − ŷ|/b + log 2b`` per element.

    For a fixed scale ``b`` it is ``MAE/b`` plus a constant: least absolute deviations is its maximum likelihood.

    Args:
      predictions, targets: the locations ``ŷ`` and the observations ``y``, the same shape (any).
      scale: the scale ``b > 0`` (a scalar).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the per-element values).

    Example:
      >>> nll = laplace_nll(jnp.array([1.0]), jnp.array([3.0]))            # |3 − 1|/1 + log 2
      >>> round(float(nll), 4), round(float(2.0 + np.log(2.0)), 4)
      (2.6931, 2.6931)

    Reference: ``ch04-bishop2006pattern``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    u = _standardized_error(predictions, targets, "scale", scale)
    log_density = -u * jnp.sign(u) - jnp.log(2 * scale)  # |u| = u·sign(u): gradient 0 at u = 0, as in mae
    return _reduce(_cross_entropy(_point_mass(u), log_density[..., None]), reduction)


def smooth_labels(targets: ArrayLike, epsilon: float) -> Array:
    """Label smoothing: ``(1 − ε)·y + ε/K``, each one-hot row mixed with the uniform distribution over ``K`` classes.

    Args:
      targets: ``(..., K)``, one distribution per row (usually one-hot).
      epsilon: the mixing weight ``ε ∈ [0, 1)`` (a scalar).

    Returns:
      The soft targets, the same shape; each row still sums to 1.

    Example:
      >>> smooth_labels(jnp.array([0.0, 1.0, 0.0, 0.0]), 0.2).tolist()     # 0.8·y + 0.2/4
      [0.05000000074505806, 0.8500000238418579, 0.05000000074505806, 0.05000000074505806]

    Reference: ``ch04-szegedy2016rethinking``.
    Chapter: ``book/ch04_losses.ipynb``.
    """
    y = _distribution_rows("targets", targets, "a classes axis (..., K)")
    check_probability("epsilon", epsilon, "the smoothing weight")
    return (1 - epsilon) * y + epsilon / y.shape[-1]


class Loss(NamedTuple):
    """A per-example loss ``ℓ(a, y)`` of a network's output ``a^L`` and its gradient ``∂ℓ/∂a``, written out.

    ``value(a, y)`` maps ``(B, n_L) × (B, n_L)`` to ``(B,)`` (summed over the outputs of each example) and is
    one of the losses above; ``grad(a, y)`` is its derivative, the start of the hand-written backward pass
    (:func:`dlbook.backprop.backward`); the tests check it against ``jax.grad`` of ``value``.

    Example:
      >>> a, y = jnp.array([[1.0, 3.0]]), jnp.array([[0.0, 1.0]])
      >>> HALF_SQUARED.value(a, y).tolist(), HALF_SQUARED.grad(a, y).tolist()   # ½‖y − a‖² = ½(1 + 4); a − y
      ([2.5], [[1.0, 2.0]])

    Chapter: ``book/ch04_losses.ipynb`` (``HALF_SQUARED`` is the loss of ``book/ch02_backprop.ipynb``).
    """

    name: str
    value: Callable[[Array, Array], Array]
    grad: Callable[[Array, Array], Array]


def _bce_grad(a: Array, y: Array) -> Array:
    # −y/a + (1 − y)/(1 − a), each term 0 where its target weight is 0 (the 0·log 0 = 0 convention of the value):
    # finite at a = y = 0 and a = y = 1, where a sigmoid output then gives δ = ∂ℓ/∂a · a(1 − a) = a − y = 0
    return jnp.where(y == 0, 0.0, -y / jnp.where(y == 0, 1.0, a)) + jnp.where(y == 1, 0.0, (1 - y) / jnp.where(y == 1, 1.0, 1 - a))


#: ``½‖y − a‖²`` per example, the loss of the network of chapter 2: ``∂ℓ/∂a = a − y``.
HALF_SQUARED = Loss("½‖y − a‖²", lambda a, y: 0.5 * jnp.sum(mse(a, y, reduction="none"), axis=-1), lambda a, y: a - y)
#: Binary cross-entropy of probabilities ``a ∈ [0, 1]`` (a sigmoid output), summed over the outputs:
#: ``∂ℓ/∂a = (a − y)/(a(1 − a))``, so with a sigmoid output ``δ^L = a − y``.
BINARY_CROSS_ENTROPY = Loss("binary cross-entropy",
                            lambda a, y: multilabel_binary_cross_entropy(a, y, reduction="none"), _bce_grad)
#: Categorical cross-entropy of ``softmax(a)`` from the scores ``a = z^L`` (use with an identity output):
#: ``∂ℓ/∂a = softmax(a)·Σ_k y_k − y``, which is ``softmax(a) − y`` for one-hot or soft targets (rows summing to 1).
SOFTMAX_CROSS_ENTROPY = Loss("softmax cross-entropy",
                             lambda a, y: cross_entropy_with_logits(a, y, reduction="none"),
                             lambda a, y: softmax(a) * jnp.sum(y, axis=-1, keepdims=True) - y)
