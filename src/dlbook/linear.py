"""Linear regression: the model, its loss, and the closed-form least-squares reference.

The model is ``ŷ = X w`` where ``X`` may carry a column of ones for the intercept (:func:`add_bias`).
Its MSE loss ``𝓛(w) = (1/n) ‖X w − y‖²`` is a quadratic with Hessian ``H = (2/n) XᵀX`` and gradient
``∇𝓛 = (2/n) Xᵀ(X w − y)``, so chapter 1's stability threshold ``2/λ_max(H)`` applies exactly.

Chapter: ``book/ch01_gradient_descent.ipynb`` (worked example reused by later chapters).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_ndim, check_shape
from dlbook.losses import mse

Array = jax.Array
# Full float32 precision for every product: on GPUs the default for float32 matmuls may be TF32
# (about 3 significant digits), which would make the book's printed numbers depend on the device.
_dot = partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)

__all__ = ["add_bias", "predict", "mse_loss", "mse_gradient", "mse_hessian", "least_squares"]


def add_bias(X: ArrayLike) -> Array:
    """Append a column of ones, so that ``[X 1] · [w; b] = X w + b``."""
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    X = jnp.asarray(X)
    return jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)


def _check_xy(w: ArrayLike, X: ArrayLike, y: ArrayLike | None = None) -> None:
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    n, d = X.shape
    check_shape("w", as_array("w", w), (d,), f"({d},) to match X of shape {(n, d)}")
    if y is not None:
        check_shape("y", as_array("y", y), (n,), f"({n},) to match X of shape {(n, d)}")


def predict(w: ArrayLike, X: ArrayLike) -> Array:
    """``ŷ = X w``; ``X`` is ``(n, d)``, ``w`` is ``(d,)``."""
    _check_xy(w, X)
    return _dot(jnp.asarray(X), jnp.asarray(w))


def mse_loss(w: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """``𝓛(w) = (1/n) Σᵢ (xᵢᵀw − yᵢ)²``: the training loss of linear regression."""
    _check_xy(w, X, y)
    return mse(predict(w, X), y)


def mse_gradient(w: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """Closed-form gradient ``∇𝓛(w) = (2/n) Xᵀ (X w − y)``."""
    _check_xy(w, X, y)
    X = jnp.asarray(X)
    return 2.0 / X.shape[0] * _dot(X.T, _dot(X, jnp.asarray(w)) - jnp.asarray(y))


def mse_hessian(X: ArrayLike) -> Array:
    """Hessian of the MSE loss, ``H = (2/n) XᵀX`` (independent of ``w`` and ``y``)."""
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    X = jnp.asarray(X)
    return 2.0 / X.shape[0] * _dot(X.T, X)


def least_squares(X: ArrayLike, y: ArrayLike) -> Array:
    """The exact minimiser ``w* = argmin ‖X w − y‖²`` (via ``lstsq``): the answer GD should approach."""
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    check_shape("y", as_array("y", y), (X.shape[0],), f"({X.shape[0]},) to match X")
    return jnp.linalg.lstsq(jnp.asarray(X), jnp.asarray(y))[0]
