"""Activation functions and their derivatives, written out, stable at the extremes.

Each activation ``f`` comes with its analytic derivative ``d_f`` (the tests compare both with ``jax.nn``
and ``jax.grad``).  Conventions, where the formula alone does not decide:

* at a kink the derivative takes the value of the branch ``jax.grad`` takes: ``relu'(0) = 0``,
  ``leaky_relu'(0) = 1``, ``elu'(0) = α`` (= 1 for the default ``α = 1``);
* at ``±inf`` each function and derivative is its limit (``swish(−inf) = 0``, ``gelu(−inf) = 0``,
  ``σ'(±inf) = 0``); ``nan`` in, ``nan`` out;
* ``softmax`` and ``log_softmax`` subtract the maximum first, so large inputs do not overflow; their
  derivatives are the Jacobians ``diag(s) − s sᵀ`` and ``I − 1 sᵀ``.

:func:`get` returns an activation and its derivative by name.

Chapter: ``book/ch03_activations.ipynb`` (used by ``dlbook.backprop`` from chapter 2 on).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import erfc
from jax.typing import ArrayLike

__all__ = [
    "sigmoid", "d_sigmoid", "tanh", "d_tanh", "relu", "d_relu", "leaky_relu", "d_leaky_relu", "elu", "d_elu",
    "swish", "d_swish", "gelu", "d_gelu", "identity", "d_identity", "softmax", "softmax_jacobian",
    "log_softmax", "log_softmax_jacobian", "Pair", "get", "NAMES",
]

_SQRT_2 = 1.4142135623730951
_INV_SQRT_2PI = 0.3989422804014327


def _x(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    return x


def sigmoid(x: ArrayLike) -> Array:
    """``σ(x) = 1 / (1 + e^{−x})``, in ``(0, 1)``; computed without overflow for any ``x``."""
    return jax.nn.sigmoid(_x(x))


def d_sigmoid(x: ArrayLike) -> Array:
    """``σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4``, with the maximum at ``x = 0``."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: ArrayLike) -> Array:
    """``tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ) = 2σ(2x) − 1``, in ``(−1, 1)`` and zero-centred."""
    return jnp.tanh(_x(x))


def d_tanh(x: ArrayLike) -> Array:
    """``tanh'(x) = 1 − tanh²(x) ≤ 1``."""
    t = tanh(x)
    return 1 - t * t


def relu(x: ArrayLike) -> Array:
    """``max(x, 0)``."""
    return jax.nn.relu(_x(x))


def d_relu(x: ArrayLike) -> Array:
    """``1`` for ``x > 0``, else ``0`` (``relu'(0) = 0``, as ``jax.grad``)."""
    x = _x(x)
    return jnp.where(jnp.isnan(x), x, (x > 0).astype(x.dtype))


def leaky_relu(x: ArrayLike, slope: float = 0.01) -> Array:
    """``x`` for ``x ≥ 0``, ``slope · x`` below: negative inputs keep a small gradient."""
    return jax.nn.leaky_relu(_x(x), negative_slope=slope)


def d_leaky_relu(x: ArrayLike, slope: float = 0.01) -> Array:
    """``1`` for ``x ≥ 0``, ``slope`` below (``leaky_relu'(0) = 1``, as ``jax.grad``)."""
    x = _x(x)
    return jnp.where(jnp.isnan(x), x, jnp.where(x >= 0, 1.0, slope).astype(x.dtype))


def elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """``x`` for ``x > 0``, ``α(eˣ − 1)`` below: smooth for ``α = 1``, saturating at ``−α``."""
    return jax.nn.elu(_x(x), alpha=alpha)


def d_elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """``1`` for ``x > 0``, ``α eˣ`` below (``elu'(0) = α``, as ``jax.grad``)."""
    x = _x(x)
    return jnp.where(x > 0, jnp.ones_like(x), alpha * jnp.exp(jnp.minimum(x, 0)))


def swish(x: ArrayLike, beta: float = 1.0) -> Array:
    """``x · σ(βx)`` (SiLU for ``β = 1``): unbounded above, bounded below, smooth; ``swish(−inf) = 0``."""
    x = _x(x)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), x * jax.nn.sigmoid(beta * x))


def d_swish(x: ArrayLike, beta: float = 1.0) -> Array:
    """``σ(βx) + βx σ(βx)(1 − σ(βx))``; ``1`` at ``+inf`` and ``0`` at ``−inf``."""
    x = _x(x)
    s = jax.nn.sigmoid(beta * x)
    tail = jnp.where(jnp.isinf(x), jnp.zeros_like(x), beta * x * s * (1 - s))
    return s + tail


def gelu(x: ArrayLike) -> Array:
    """``x Φ(x)`` with ``Φ`` the standard normal CDF (the exact GELU); ``gelu(−inf) = 0``."""
    x = _x(x)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), x * 0.5 * erfc(-x / _SQRT_2))  # erfc: no cancellation for x ≪ 0


def d_gelu(x: ArrayLike) -> Array:
    """``Φ(x) + x φ(x)``; ``1`` at ``+inf`` and ``0`` at ``−inf``."""
    x = _x(x)
    tail = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * _INV_SQRT_2PI * jnp.exp(-0.5 * x * x))
    return 0.5 * erfc(-x / _SQRT_2) + tail


def identity(x: ArrayLike) -> Array:
    """``x`` (the output of a regression network)."""
    return _x(x)


def d_identity(x: ArrayLike) -> Array:
    """``1``."""
    return jnp.ones_like(_x(x))


def softmax(x: ArrayLike, axis: int = -1) -> Array:
    """``e^{x_i − max x} / Σ_j e^{x_j − max x}`` along ``axis``: a probability vector, never overflowing."""
    x = _x(x)
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(z)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> Array:
    """``x_i − max x − log Σ_j e^{x_j − max x}``: the log-probabilities, finite where softmax underflows."""
    x = _x(x)
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return z - jnp.log(jnp.sum(jnp.exp(z), axis=axis, keepdims=True))


def softmax_jacobian(x: ArrayLike) -> Array:
    """``∂s_i/∂x_j = s_i (δ_ij − s_j)`` for a vector ``x`` ``(n,)``: the matrix ``diag(s) − s sᵀ``."""
    x = _x(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (n,), got shape {x.shape}")
    s = softmax(x)
    return jnp.diag(s) - jnp.outer(s, s)


def log_softmax_jacobian(x: ArrayLike) -> Array:
    """``∂ log s_i / ∂x_j = δ_ij − s_j`` for a vector ``x`` ``(n,)``: the matrix ``I − 1 sᵀ``."""
    x = _x(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (n,), got shape {x.shape}")
    return jnp.eye(x.shape[0], dtype=x.dtype) - softmax(x)[None, :]


class Pair(NamedTuple):
    """An elementwise activation and its derivative, both ``(x, **params) -> array``."""

    f: Callable[..., Array]
    df: Callable[..., Array]


_PAIRS = {
    "sigmoid": Pair(sigmoid, d_sigmoid),
    "tanh": Pair(tanh, d_tanh),
    "relu": Pair(relu, d_relu),
    "leaky_relu": Pair(leaky_relu, d_leaky_relu),
    "elu": Pair(elu, d_elu),
    "swish": Pair(swish, d_swish),
    "gelu": Pair(gelu, d_gelu),
    "identity": Pair(identity, d_identity),
}
#: The names :func:`get` accepts.
NAMES = tuple(_PAIRS)


def get(name: str) -> Pair:
    """An elementwise activation and its derivative by name.

    Example:
      >>> f, df = get("tanh")
      >>> float(df(jnp.array(0.0)))
      1.0
    """
    if name not in _PAIRS:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(NAMES)}")
    return _PAIRS[name]
