"""Regularization: weight penalties, dropout, noise injection, data augmentation and early stopping.

* :func:`l2_penalty` ``(λ/2) Σ w²`` and :func:`l1_penalty` ``λ Σ |w|`` over the weight matrices of a
  network (biases are not penalised, the usual convention); added to the loss, the L2 penalty's gradient
  ``λw`` is exactly optax's ``add_decayed_weights`` (weight decay) for plain gradient descent;
* :func:`soft_threshold` ``sign(w) max(|w| − t, 0)``: the proximal step of the L1 penalty (exact zeros);
* :func:`dropout`: inverted dropout, ``x · m / (1 − p)`` with ``m ~ Bernoulli(1 − p)``, so the expected
  value is unchanged and evaluation uses the identity (``train=False``);
* :func:`gaussian_noise`: ``x + σ ε`` with ``ε ~ N(0, 1)``;
* :func:`augment_images`: random shifts by whole pixels (zeros shifted in), optional horizontal flips and
  noise, for small images stored as rows;
* :func:`early_stopping`: the epoch early stopping with a given patience picks from a validation curve.

All randomness comes from an explicit ``key``; rates, strengths and λ may be traced (so a sweep over them
runs under ``vmap``).  Values that can be checked are checked: ``λ ≥ 0``, a dropout rate in ``[0, 1)``,
``σ ≥ 0``, ``patience ≥ 1``.

Chapter: ``book/ch05_regularization.ipynb``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import (
    as_array,
    check_bool,
    check_image_shape,
    check_int,
    check_key,
    check_non_negative,
    check_probability,
    is_concrete,
)

Array = jax.Array
PyTree = Any

__all__ = ["l2_penalty", "l1_penalty", "soft_threshold", "dropout", "gaussian_noise", "augment_images", "EarlyStop", "early_stopping"]


def _weights(params: PyTree) -> list[Array]:
    """The weight matrices of ``params``: every leaf with two or more axes (biases are vectors)."""
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must contain at least one array")
    return [w for w in leaves if jnp.ndim(w) >= 2]


def l2_penalty(params: PyTree, l2: ArrayLike) -> Array:
    """The L2 penalty (weight decay) ``(λ₂/2) Σ w²`` over the weight matrices; its gradient is ``λ₂ w``.

    The weight matrices are the leaves with two or more axes; biases (vectors) are not penalised.  Added to the
    loss, one gradient-descent step is ``w ← (1 − αλ₂) w − α ∇𝓛(w)``: the weights decay.

    Args:
      params: any pytree of arrays, e.g. a list of :class:`dlbook.model.Layer`.
      l2: the strength ``λ₂ ≥ 0`` (may be traced).

    Example:
      >>> from dlbook.model import Layer
      >>> params = [Layer(jnp.array([[1.0, -2.0]]), jnp.array([5.0]))]
      >>> float(l2_penalty(params, 0.1))                    # 0.1/2 · (1² + 2²); the bias 5 is not penalised
      0.25

    Reference: ``ch05-krogh1992simple``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    check_non_negative("l2", l2)
    return 0.5 * l2 * sum(jnp.sum(w**2) for w in _weights(params))


def l1_penalty(params: PyTree, l1: ArrayLike) -> Array:
    """The L1 penalty ``λ₁ Σ |w|`` over the weight matrices; its gradient is ``λ₁ sign(w)`` (0 where ``w = 0``).

    As :func:`l2_penalty`, only the leaves with two or more axes count.  The constant pull ``λ₁ sign(w)`` drives
    small weights to exactly zero (a sparse network).

    Args:
      params: any pytree of arrays, e.g. a list of :class:`dlbook.model.Layer`.
      l1: the strength ``λ₁ ≥ 0`` (may be traced).

    Example:
      >>> from dlbook.model import Layer
      >>> round(float(l1_penalty([Layer(jnp.array([[1.0, -2.0]]), jnp.array([5.0]))], 0.1)), 6)   # 0.1 · (1 + 2)
      0.3

    Reference: ``ch05-tibshirani1996regression``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    check_non_negative("l1", l1)
    return l1 * sum(jnp.sum(w * jnp.sign(w)) for w in _weights(params))


def soft_threshold(w: ArrayLike, t: ArrayLike) -> Array:
    """The soft-threshold (L1 proximal) step ``sign(w) · max(|w| − t, 0)``: every ``|w| ≤ t`` becomes exactly 0.

    It is the minimiser of ``½ (v − w)² + t |v|`` over ``v``, so one proximal-gradient step on
    ``J + λ₁ Σ |w|`` is ``soft_threshold(w − α ∇J, α λ₁)`` (ISTA).  Unlike the subgradient step
    ``w − α λ₁ sign(w)``, it never jumps across 0.

    Args:
      w: the weights, any shape.
      t: the threshold ``t ≥ 0`` (may be traced).

    Returns:
      the thresholded weights, the shape of ``w``.

    Example:
      >>> [round(float(v), 4) for v in soft_threshold(jnp.array([-0.3, 0.05, 0.2]), 0.1)]   # 0.05 ≤ 0.1: 0
      [-0.2, 0.0, 0.1]

    Reference: ``ch05-tibshirani1996regression``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    w = as_array("w", w)
    check_non_negative("t", t)
    return jnp.sign(w) * jnp.maximum(jnp.abs(w) - t, 0.0)


def dropout(x: ArrayLike, p: ArrayLike, *, key: Array, train: bool = True) -> Array:
    """Inverted dropout: ``x · m / (1 − p)`` with ``m ~ Bernoulli(1 − p)`` drawn for every entry.

    Each entry is kept with probability ``1 − p`` and scaled by ``1/(1 − p)``, so its expected value is unchanged
    and nothing needs rescaling at evaluation time, where (``train=False``) the input is returned as it is.

    Args:
      x: the activations, any shape.
      p: the dropout rate in ``[0, 1)``, a scalar (may be traced: a sweep under ``vmap``).
      key: the ``jax.random`` key of the mask.
      train: ``False`` returns ``x`` unchanged (evaluation).

    Example:
      >>> x = jnp.ones(8)
      >>> bool(jnp.all(dropout(x, 0.5, key=jax.random.key(0), train=False) == x))
      True
      >>> sorted(set(dropout(x, 0.5, key=jax.random.key(0)).tolist()))   # dropped: 0, kept: 1/(1 − 0.5)
      [0.0, 2.0]

    Reference: ``ch05-srivastava2014dropout``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    x = jnp.asarray(as_array("x", x))
    check_probability("p", p, "a dropout rate")
    check_key("key", key)
    if not check_bool("train", train):
        return x
    keep = 1.0 - jnp.asarray(p, x.dtype)
    mask = jax.random.bernoulli(key, keep, x.shape)
    return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


def gaussian_noise(x: ArrayLike, noise: ArrayLike, *, key: Array) -> Array:
    """Input noise: ``x + σ ε`` with ``ε ~ N(0, 1)`` drawn independently for every entry.

    Training on noisy inputs penalises the network's sensitivity to its input, like a Tikhonov regulariser.

    Args:
      x: the inputs, any shape.
      noise: the standard deviation ``σ ≥ 0`` (may be traced).
      key: the ``jax.random`` key of ``ε``.

    Example:
      >>> x = jnp.zeros(100_000)
      >>> round(float(jnp.std(gaussian_noise(x, 0.5, key=jax.random.key(0)))), 1)   # std(σε) = σ
      0.5
      >>> gaussian_noise(jnp.ones(3), 0.0, key=jax.random.key(0)).tolist()        # σ = 0: x itself
      [1.0, 1.0, 1.0]

    Reference: ``ch05-bishop1995training``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    x = jnp.asarray(as_array("x", x))
    check_non_negative("noise", noise)
    check_key("key", key)
    return x + jnp.asarray(noise, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def augment_images(X: ArrayLike, *, key: Array, image_shape: tuple[int, int] = (8, 8), max_shift: int = 1,
                   flip: bool = False, noise: float = 0.0) -> Array:
    """Random variants of small images stored one per row: ``X`` ``(n, height·width)`` → same shape.

    Each image is shifted by a whole number of pixels drawn uniformly from ``[−max_shift, max_shift]`` in
    each direction, ``out[r, c] = img[r − dy, c − dx]`` (pixels shifted in are 0, as the digits' background),
    mirrored left–right with probability 1/2 if ``flip`` (only where a mirrored image is still the same class:
    not for digits), and given Gaussian noise of standard deviation ``noise``.

    Args:
      X: the images, ``(n, height·width)``, one per row.
      key: the ``jax.random`` key of the shifts, flips and noise.
      image_shape: the images' ``(height, width)``.
      max_shift: the largest shift in pixels, ≥ 0 (may be traced).
      flip: mirror half of the images left–right.
      noise: the standard deviation of the added noise, ≥ 0.

    Example:
      >>> img = jnp.zeros((1, 9)).at[0, 4].set(1.0)        # a 3×3 image with its centre pixel lit
      >>> out = augment_images(img, key=jax.random.key(1), image_shape=(3, 3))
      >>> float(out.sum()), out.shape                       # a shift by at most one pixel keeps the centre pixel inside
      (1.0, (1, 9))

    Reference: ``ch05-simard2003best``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X = jnp.asarray(as_array("X", X))
    h, w = check_image_shape(image_shape)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X must have shape (n, {h * w}) (one {h}×{w} image per row), got {X.shape}")
    if is_concrete(max_shift):  # a traced shift (a sweep under vmap) is used as it is
        max_shift = check_int("max_shift", max_shift, minimum=0)
    check_non_negative("noise", noise)
    check_key("key", key)
    k_shift, k_flip, k_noise = jax.random.split(key, 3)
    n = X.shape[0]
    shifts = jax.random.randint(k_shift, (n, 2), -max_shift, max_shift + 1)
    # out[r, c] = img[r − dy, c − dx] as two products with one-hot shift matrices, S_dy · img · S_dxᵀ, where
    # S_d[r, s] = [s = r − d]; a row of S_d whose source falls off the image is all zero, so zeros shift in.
    # (No gathers: fast on every device, and dy, dx — even max_shift — may be traced.)
    rows_from = jax.nn.one_hot(jnp.arange(h)[None, :] - shifts[:, :1], h, dtype=X.dtype)   # (n, h, h)
    cols_from = jax.nn.one_hot(jnp.arange(w)[None, :] - shifts[:, 1:], w, dtype=X.dtype)   # (n, w, w)
    images = jnp.einsum("nrs,nsc,ntc->nrt", rows_from, X.reshape(n, h, w), cols_from,
                        precision=jax.lax.Precision.HIGHEST)
    if flip:
        mirror = jax.random.bernoulli(k_flip, 0.5, (n,))
        images = jnp.where(mirror[:, None, None], images[:, :, ::-1], images)
    out = images.reshape(n, h * w)
    return gaussian_noise(out, noise, key=k_noise)


class EarlyStop(NamedTuple):
    """What early stopping decided: the epoch whose parameters are kept and the epoch training stopped at.

    Example:
      >>> r = early_stopping(jnp.array([3.0, 1.0, 2.0, 2.0]), patience=2)   # best at epoch 1, two worse epochs
      >>> int(r.best_epoch), int(r.stop_epoch)
      (1, 3)

    Chapter: ``book/ch05_regularization.ipynb``.
    """

    best_epoch: Array
    stop_epoch: Array


def early_stopping(val_losses: ArrayLike, patience: int) -> EarlyStop:
    """Early stopping with ``patience`` on a validation curve ``val_losses[t]`` (one value per epoch).

    Training stops at the first epoch ``t`` that is ``patience`` epochs past the best value seen so far
    (``t − argmin_{s≤t} val_losses[s] ≥ patience``, ties going to the later epoch), or at the last epoch; the
    parameters kept are those of that best epoch.  Works on the last axis, so a batch of curves gives one
    decision per curve.

    Args:
      val_losses: ``(..., epochs)``, the validation loss after each epoch.
      patience: how many epochs without a new best to wait, ≥ 1.

    Returns:
      :class:`EarlyStop` ``(best_epoch, stop_epoch)``, int arrays of the leading shape.

    Example:
      >>> # the best 2.0 is at epoch 2; epochs 3, 4, 5 are worse, and 5 = 2 + 3 is where patience 3 runs out
      >>> early_stopping(jnp.array([5.0, 3.0, 2.0, 2.5, 2.2, 2.1, 1.0]), patience=3)
      EarlyStop(best_epoch=Array(2, dtype=int32), stop_epoch=Array(5, dtype=int32))

    Reference: ``ch05-prechelt1998early``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    v = jnp.asarray(as_array("val_losses", val_losses))
    if v.ndim < 1 or v.shape[-1] < 1:
        raise ValueError(f"val_losses must have shape (..., epochs) with at least one epoch, got {v.shape}")
    patience = check_int("patience", patience, minimum=1)
    T = v.shape[-1]
    t = jnp.arange(T)
    running_min = jax.lax.cummin(v, axis=v.ndim - 1)
    # the epoch of the best value so far (the latest epoch that reached the running minimum)
    is_best = v <= running_min
    best_so_far = jax.lax.cummax(jnp.where(is_best, t, 0), axis=v.ndim - 1)
    waited = t - best_so_far
    stop_now = waited >= patience
    stop = jnp.where(jnp.any(stop_now, axis=-1), jnp.argmax(stop_now, axis=-1), T - 1).astype(jnp.int32)
    best = jnp.take_along_axis(best_so_far, stop[..., None], axis=-1)[..., 0].astype(jnp.int32)
    return EarlyStop(best, stop)
