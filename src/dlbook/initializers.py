"""Initializers: how the first weights ``W^l`` of a network are drawn.

Each function here returns an ``init(key, shape, dtype=float32) -> Array``, the calling convention of
``jax.nn.initializers``, so either kind can be passed to :func:`dlbook.model.init_mlp` (``init=``).

**Convention.**  dlbook's weight matrix has shape ``(n_out, n_in) = (n_l, n_{l-1})`` (``z^l = W^l a^{l-1}``),
so here ``fan_in = shape[-1]`` and ``fan_out = shape[-2]``.  ``jax.nn.initializers`` read the opposite by
default (``fan_in = shape[-2]``, for ``x @ W``): the same distribution in JAX is
``variance_scaling(…, in_axis=-1, out_axis=-2)``.  The variance-scaling rules (``n_in = fan_in``,
``n_out = fan_out``):

* LeCun:   ``Var W = 1/n_in``                      (forward variance, linear units; LeCun et al. 2012)
* Xavier:  ``Var W = gain² · 2/(n_in + n_out)``    (forward and backward together; Glorot & Bengio 2010)
* He:      ``Var W = 2/((1 + s²) n_in)``           (ReLU halves the variance; He et al. 2015, ``s`` the
  negative slope of a leaky ReLU / PReLU)

each as a Gaussian ``N(0, Var)`` or a uniform ``U(−r, r)`` with ``r = √(3 Var)`` (the same variance).  JAX's
``he_normal``, ``glorot_normal``, ``lecun_normal`` draw a *truncated* normal (cut at ±2 standard deviations
and rescaled); the Gaussians here are the plain ones of the papers, JAX's ``distribution="normal"``.
:func:`orthogonal` draws a (Haar-)random matrix with orthonormal rows or columns times ``gain`` (Saxe et
al. 2014); :func:`gaussian` and :func:`constant` are the two naive choices the book starts from.

Chapter: ``book/ch09_initialization.ipynb``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from dlbook._checks import check_finite, check_key, check_non_negative, check_scalar

__all__ = ["Initializer", "fans", "gaussian", "constant", "lecun_normal", "xavier_normal", "xavier_uniform",
           "he_normal", "he_uniform", "orthogonal"]

Initializer = Callable[..., Array]
"""``init(key, shape, dtype=jnp.float32) -> Array``, the calling convention of ``jax.nn.initializers``."""


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(n_out, n_in)``: ``(shape[-1], shape[-2])``.

    Args:
      shape: the weight's shape, at least two dimensions, dlbook's ``(n_l, n_{l-1})`` in the last two.

    Example:
      >>> fans((3, 5))            # W^l maps 5 inputs to 3 units
      (5, 3)

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else shape
    if not isinstance(shape, tuple) or len(shape) < 2 or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"shape must be a tuple of at least two positive ints (n_out, n_in), got {shape!r}")
    return shape[-1], shape[-2]


def _checked(key: Array, shape: Sequence[int]) -> tuple[tuple[int, ...], int, int]:
    check_key("key", key)
    n_in, n_out = fans(shape)
    return tuple(shape), n_in, n_out


def _scalar(name: str, x: ArrayLike) -> ArrayLike:
    check_non_negative(name, x)
    check_scalar(name, x, "() (a scalar, which may be traced)")
    return x


def gaussian(std: ArrayLike) -> Initializer:
    """``W_ij ~ N(0, σ²)`` with a chosen ``σ = std``, the same for every layer.

    Args:
      std: the standard deviation ``σ ≥ 0``, a scalar; may be traced (one compiled program for a sweep over σ).

    Example:
      >>> W = gaussian(0.5)(jax.random.key(0), (200, 300))
      >>> W.shape, round(float(W.std()), 1)
      ((200, 300), 0.5)

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("std", std)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, _, _ = _checked(key, shape)
        return (jnp.asarray(std, dtype) * jax.random.normal(key, shape, dtype)).astype(dtype)

    return init


def constant(value: ArrayLike) -> Initializer:
    """``W_ij = c`` for every entry: the symmetric start (every unit of a layer computes the same thing).

    Args:
      value: the constant ``c``, a finite scalar (may be traced).

    Example:
      >>> constant(0.1)(jax.random.key(0), (2, 3)).tolist()
      [[0.10000000149011612, 0.10000000149011612, 0.10000000149011612], [0.10000000149011612, 0.10000000149011612, 0.10000000149011612]]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    check_finite("value", value)
    check_scalar("value", value, "() (a scalar, which may be traced)")

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, _, _ = _checked(key, shape)
        return jnp.full(shape, value, dtype)

    return init


def _normal(key, shape, dtype, var):
    return (jnp.sqrt(jnp.asarray(var, dtype)) * jax.random.normal(key, shape, dtype)).astype(dtype)


def _uniform(key, shape, dtype, var):
    r = jnp.sqrt(3 * jnp.asarray(var, dtype))
    return jax.random.uniform(key, shape, dtype, -1.0, 1.0) * r


def lecun_normal() -> Initializer:
    """LeCun's ``W_ij ~ N(0, 1/n_in)``: keeps the variance of ``z^l`` through linear layers.

    The same distribution as :func:`dlbook.model.init_mlp`'s default (which divides by ``√n_in`` instead of
    multiplying by the standard deviation, so the two differ in the last bit).

    Example:
      >>> W = lecun_normal()(jax.random.key(0), (400, 100))                  # n_in = 100
      >>> round(float(W.var() * 100), 1)
      1.0

    Reference: ``lecun2012efficient``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, _ = _checked(key, shape)
        return _normal(key, shape, dtype, 1.0 / n_in)

    return init


def _xavier_var(gain, n_in, n_out):
    return gain ** 2 * 2.0 / (n_in + n_out)


def xavier_normal(gain: ArrayLike = 1.0) -> Initializer:
    """Xavier (Glorot) normal: ``W_ij ~ N(0, gain² · 2/(n_in + n_out))``.

    The compromise between keeping the forward variance (``n_in Var W = 1``) and the backward one
    (``n_out Var W = 1``) for units that are linear near 0 (tanh, the identity).

    Args:
      gain: a factor ``≥ 0`` for the standard deviation (1 in the paper), may be traced.

    Example:
      >>> W = xavier_normal()(jax.random.key(0), (300, 100))                # 2/(100 + 300) = 0.005
      >>> round(float(W.var() / 0.005), 1)
      1.0

    Reference: ``glorot2010understanding``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("gain", gain)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, n_out = _checked(key, shape)
        return _normal(key, shape, dtype, _xavier_var(gain, n_in, n_out))

    return init


def xavier_uniform(gain: ArrayLike = 1.0) -> Initializer:
    """Xavier (Glorot) uniform, the paper's "normalized initialization": ``W_ij ~ U(−r, r)``, ``r = gain √(6/(n_in + n_out))``.

    Same variance as :func:`xavier_normal` (``r²/3 = gain² · 2/(n_in + n_out)``).

    Args:
      gain: a factor ``≥ 0`` for the bound (1 in the paper), may be traced.

    Example:
      >>> W = xavier_uniform()(jax.random.key(0), (300, 100))               # r = √(6/400)
      >>> bool(jnp.abs(W).max() <= (6 / 400) ** 0.5), round(float(W.var() / 0.005), 1)
      (True, 1.0)

    Reference: ``glorot2010understanding``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("gain", gain)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, n_out = _checked(key, shape)
        return _uniform(key, shape, dtype, _xavier_var(gain, n_in, n_out))

    return init


def _he_var(slope, n_in):
    return 2.0 / ((1.0 + slope ** 2) * n_in)


def he_normal(negative_slope: ArrayLike = 0.0) -> Initializer:
    """He (Kaiming) normal: ``W_ij ~ N(0, 2/((1 + s²) n_in))``; ``s = 0`` for ReLU gives ``N(0, 2/n_in)``.

    ReLU zeroes about half of its inputs, so ``E[f(z)²] = Var(z)/2``: the factor 2 makes up for it and keeps
    ``Var z^l`` the same in every layer.  For a leaky ReLU / PReLU with negative slope ``s`` the lost half is
    only partly lost, hence ``1 + s²``.

    Args:
      negative_slope: ``s ≥ 0`` (0 for ReLU), may be traced.

    Example:
      >>> W = he_normal()(jax.random.key(0), (400, 100))                    # 2/100
      >>> round(float(W.var() * 50), 1)
      1.0

    Reference: ``he2015delving``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("negative_slope", negative_slope)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, _ = _checked(key, shape)
        return _normal(key, shape, dtype, _he_var(negative_slope, n_in))

    return init


def he_uniform(negative_slope: ArrayLike = 0.0) -> Initializer:
    """He (Kaiming) uniform: ``W_ij ~ U(−r, r)``, ``r = √(6/((1 + s²) n_in))``: the variance of :func:`he_normal`.

    Args:
      negative_slope: ``s ≥ 0`` (0 for ReLU), may be traced.

    Example:
      >>> W = he_uniform()(jax.random.key(0), (400, 100))
      >>> bool(jnp.abs(W).max() <= (6 / 100) ** 0.5), round(float(W.var() * 50), 1)
      (True, 1.0)

    Reference: ``he2015delving``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("negative_slope", negative_slope)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, _ = _checked(key, shape)
        return _uniform(key, shape, dtype, _he_var(negative_slope, n_in))

    return init


def orthogonal(gain: ArrayLike = 1.0) -> Initializer:
    """A random matrix with orthonormal rows (``n_out ≤ n_in``: ``W Wᵀ = gain² I``) or columns (``Wᵀ W = gain² I``).

    Drawn uniformly (Haar measure): the QR factorisation of a Gaussian matrix, with the signs of ``R``'s
    diagonal moved into ``Q`` so that ``Q`` does not depend on how QR picks them.  Every singular value is
    ``gain``, so a square linear layer keeps every vector's length exactly (Saxe et al. 2014).

    Args:
      gain: the common singular value ``≥ 0`` (1: an isometry), may be traced.

    Example:
      >>> W = orthogonal()(jax.random.key(0), (3, 5))
      >>> bool(jnp.allclose(W @ W.T, jnp.eye(3), atol=1e-5))
      True

    Reference: ``saxe2014exact``.  Chapter: ``book/ch09_initialization.ipynb``.
    """
    _scalar("gain", gain)

    def init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
        shape, n_in, n_out = _checked(key, shape)
        tall = (max(n_in, n_out), min(n_in, n_out))
        G = jax.random.normal(key, shape[:-2] + tall, jnp.float32)
        Q, R = jnp.linalg.qr(G)
        Q = Q * jnp.where(jnp.diagonal(R, axis1=-2, axis2=-1) < 0, -1.0, 1.0)[..., None, :]
        W = Q if n_out >= n_in else jnp.swapaxes(Q, -1, -2)
        return (jnp.asarray(gain, jnp.float32) * W).astype(dtype)

    return init
