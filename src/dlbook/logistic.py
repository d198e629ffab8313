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
from jax import Array
from jax.typing import ArrayLike

from dlbook._checks import as_array
from dlbook.linear import _dot

__all__ = ["logistic_predict", "logistic_loss", "logistic_gradient"]


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
    return w, X, y


def logistic_predict(w: ArrayLike, b: ArrayLike, X: ArrayLike) -> Array:
    """``ŷ = σ(X w + b)``: the predicted probability of class 1 for each row of ``X`` ``(n, d)``."""
    w, X, _ = _check(w, b, X)
    return jax.nn.sigmoid(_dot(X, w) + b)


def logistic_loss(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """Binary cross-entropy ``𝓛(w, b)``, computed stably from the scores ``z = X w + b``.

    Example:
      >>> round(float(logistic_loss(jnp.zeros(2), 0.0, jnp.ones((3, 2)), jnp.array([0.0, 1.0, 1.0]))), 4)
      0.6931
    """
    w, X, y = _check(w, b, X, y)
    z = _dot(X, w) + b
    return -jnp.mean(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))


def logistic_gradient(w: ArrayLike, b: ArrayLike, X: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    """The closed-form gradient ``((1/n) Xᵀ(ŷ − y), (1/n) Σ(ŷ − y))`` of :func:`logistic_loss`."""
    w, X, y = _check(w, b, X, y)
    r = jax.nn.sigmoid(_dot(X, w) + b) - y
    return _dot(X.T, r) / X.shape[0], jnp.mean(r)
