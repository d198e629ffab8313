"""Logistic regression: a linear score, a sigmoid, binary cross-entropy, and the closed-form gradient.

    z = X w + b,    ŷ = σ(z),    𝓛 = −(1/n) Σᵢ [yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)]
    ∂𝓛/∂w = (1/n) Xᵀ (ŷ − y),    ∂𝓛/∂b = (1/n) Σᵢ (ŷᵢ − yᵢ)

The loss is computed from the score ``z`` (``log σ(z)`` and ``log σ(−z)``), so it stays finite when ``ŷ``
rounds to exactly 0 or 1.  It is the one-layer case of :mod:`dlbook.backprop` with a sigmoid output and
binary cross-entropy, where ``δ = ŷ − y``.

Chapter: ``book/ch02_backprop.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from dlbook._checks import as_array, is_concrete
from dlbook._numerics import dot
from dlbook.activations import IDENTITY
from dlbook.losses import binary_cross_entropy_with_logits
from dlbook.model import Layer, predict

__all__ = ["logistic_predict", "logistic_loss", "logistic_gradient", "logistic_accuracy"]


def _check(w, b, X, y=None):
    w, X = as_array("w", w), as_array("X", X)
    if w.ndim != 1:
        raise ValueError(f"w must have shape (d,), got {w.shape}")
    if X.ndim != 2 or X.shape[1] != w.shape[0]:
        raise ValueError(f"X must have shape (n, {w.shape[0]}) to match w, got {X.shape}")
    if as_array("b", b).ndim != 0:
        raise ValueError(f"b must be a scalar, got shape {jnp.shape(b)}")
    if y is not None:
        y = as_array("y", y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) (one 0/1 label per row of X), got {y.shape}")
        if is_concrete(y) and not np.all((np.asarray(y) >= 0) & (np.asarray(y) <= 1)):
            raise ValueError(f"y must lie in [0, 1] (a 0/1 label per row), got values such as {float(np.asarray(y)[(np.asarray(y) < 0) | (np.asarray(y) > 1)][0])!r}")
    return w, X, y


def logistic_predict(w: ArrayLike, b: ArrayLike, X: ArrayLike) -> Array:
    """Predicted probability of class 1, ``ŷ = σ(X w + b)``, for each row of ``X``.

    Args:
      w: the weights ``(d,)``; b: the bias, a scalar; X: the inputs ``(n, d)``, one example per row.

    Returns ``ŷ``, ``(n,)``.

    Example:
      >>> logistic_predict(jnp.array([1.0, -1.0]), 0.0, jnp.array([[2.0, 2.0], [100.0, 0.0]])).tolist()
      [0.5, 1.0]

    The scores are ``z = (2 − 2, 100)``: ``σ(0) = ½`` and ``σ(100) = 1/(1 + e^{−100})``, which rounds to 1.

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    w, X, _ = _check(w, b, X)
    return jax.nn.sigmoid(dot(X, w) + b)


def logistic_loss(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """Binary cross-entropy ``𝓛(w, b) = −(1/n) Σᵢ [yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)]`` with ``ŷ = σ(X w + b)``.

    Computed stably from the scores ``z = X w + b`` (``log σ(z)`` and ``log σ(−z)``).

    Args:
      w: the weights ``(d,)``; b: the bias, a scalar; X: the inputs ``(n, d)``, one example per row.
      y: the labels ``(n,)``, in ``[0, 1]`` (0/1 for hard labels).

    Example:
      >>> loss = logistic_loss(jnp.zeros(2), 0.0, jnp.ones((3, 2)), jnp.array([0.0, 1.0, 1.0]))
      >>> round(float(loss), 4), round(float(-jnp.log(0.5)), 4)    # every ŷ = σ(0) = 1/2: 𝓛 = −log ½ = log 2
      (0.6931, 0.6931)

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    w, X, y = _check(w, b, X, y)
    return binary_cross_entropy_with_logits(dot(X, w) + b, y)


def logistic_gradient(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    """The closed-form gradient ``(∂𝓛/∂w, ∂𝓛/∂b) = ((1/n) Xᵀ(ŷ − y), (1/n) Σᵢ (ŷᵢ − yᵢ))`` of :func:`logistic_loss`.

    Args:
      w: the weights ``(d,)``; b: the bias, a scalar; X: the inputs ``(n, d)``, one example per row.
      y: the labels ``(n,)``, in ``[0, 1]`` (0/1 for hard labels).

    Returns ``(∂𝓛/∂w, ∂𝓛/∂b)``, shapes ``(d,)`` and ``()``.

    Example:
      >>> gw, gb = logistic_gradient(jnp.zeros(1), 0.0, jnp.array([[1.0], [3.0]]), jnp.array([1.0, 0.0]))
      >>> gw.tolist(), float(gb)      # ŷ − y = (½ − 1, ½ − 0): ((1·(−½) + 3·½)/2, (−½ + ½)/2)
      ([0.5], 0.0)

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    w, X, y = _check(w, b, X, y)
    r = logistic_predict(w, b, X) - y
    return dot(X.T, r) / X.shape[0], jnp.mean(r)


def logistic_accuracy(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """Share of rows classified right: class 1 where ``ŷ = σ(X w + b) > 1/2`` (i.e. ``z > 0``), else 0.

    Compared with the labels ``y`` (a label counts as 1 above ½) — the rule of :func:`dlbook.model.predict` for
    one output.

    Args:
      w: the weights ``(d,)``; b: the bias, a scalar; X: the inputs ``(n, d)``, one example per row.
      y: the labels ``(n,)``, in ``[0, 1]`` (0/1 for hard labels).

    Example:
      >>> acc = logistic_accuracy(jnp.array([1.0]), 0.0, jnp.array([[2.0], [-1.0], [3.0]]), jnp.array([1.0, 0.0, 0.0]))
      >>> round(float(acc), 6) == round(2 / 3, 6)     # z = (2, −1, 3): classes (1, 0, 1) against labels (1, 0, 0)
      True

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    w, X, y = _check(w, b, X, y)
    return jnp.mean(predict([Layer(w[None, :], jnp.reshape(b, (1,)))], X, activation=IDENTITY) == (y > 0.5))
