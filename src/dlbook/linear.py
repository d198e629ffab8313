"""Linear regression: the model, its loss, and the closed-form least-squares reference.

The model is ``ŷ = X w`` where ``X`` may carry a column of ones for the intercept (:func:`add_bias`).
Its MSE loss ``𝓛(w) = (1/n) ‖X w − y‖²`` is a quadratic with Hessian ``H = (2/n) XᵀX`` and gradient
``∇𝓛 = (2/n) Xᵀ(X w − y)``, so chapter 1's stability threshold ``2/λ_max(H)`` applies exactly.

:func:`polynomial_features` and :func:`ridge` fit polynomials of any degree with an L2 penalty in closed
form, the first picture of overfitting.

Chapters: ``book/ch01_gradient_descent.ipynb`` (worked example reused by later chapters),
``book/ch05_regularization.ipynb`` (polynomials, ridge).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_int, check_ndim, check_non_negative, check_scalar, check_shape, is_concrete
from dlbook._numerics import dot
from dlbook.losses import mse

Array = jax.Array

__all__ = ["add_bias", "predict", "mse_loss", "mse_gradient", "mse_hessian", "least_squares", "polynomial_features", "ridge"]


def add_bias(X: ArrayLike) -> Array:
    """Append a column of ones, so that ``[X 1] · [w; b] = X w + b``: the intercept becomes one more weight.

    Args:
      X: the features, ``(n, d)``.

    Returns:
      ``(n, d + 1)``.

    Example:
      >>> add_bias(jnp.array([[2.0], [3.0]])).tolist()
      [[2.0, 1.0], [3.0, 1.0]]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
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
    """The linear model's predictions ``ŷ = X w``.

    Args:
      w: the weights, ``(d,)`` (with :func:`add_bias`, the last one is the intercept ``b``).
      X: the features, ``(n, d)``, one example per row.

    Returns:
      ``ŷ``, ``(n,)``.

    Example:
      >>> predict(jnp.array([2.0, 1.0]), add_bias(jnp.array([[0.0], [3.0]]))).tolist()   # ŷ = 2x + 1
      [1.0, 7.0]

    Chapter: ``book/ch01_gradient_descent.ipynb`` (polynomial fits: ``book/ch05_regularization.ipynb``).
    """
    _check_xy(w, X)
    return dot(jnp.asarray(X), jnp.asarray(w))


def mse_loss(w: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """The training loss of linear regression, ``𝓛(w) = (1/n) Σᵢ (xᵢᵀw − yᵢ)² = (1/n) ‖X w − y‖²``.

    Args:
      w: the weights, ``(d,)``.
      X: the features, ``(n, d)``.
      y: the targets, ``(n,)``.

    Example:
      >>> X = jnp.array([[1.0], [2.0]]); y = jnp.array([1.0, 1.0])
      >>> float(mse_loss(jnp.array([1.0]), X, y))            # residuals 0 and 1: (0² + 1²)/2
      0.5

    Reference: ``ch01-goodfellow2016deep``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    _check_xy(w, X, y)
    return mse(predict(w, X), y)


def mse_gradient(w: ArrayLike, X: ArrayLike, y: ArrayLike) -> Array:
    """The closed-form gradient of the MSE loss, ``∇𝓛(w) = (2/n) Xᵀ (X w − y)``.

    Args:
      w: the weights, ``(d,)``.
      X: the features, ``(n, d)``.
      y: the targets, ``(n,)``.

    Returns:
      ``∇𝓛(w)``, ``(d,)``.

    Example:
      >>> X = jnp.array([[1.0], [2.0]]); y = jnp.array([1.0, 1.0])
      >>> mse_gradient(jnp.array([1.0]), X, y).tolist()      # (2/2) · (1·0 + 2·1)
      [2.0]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    _check_xy(w, X, y)
    X = jnp.asarray(X)
    return 2.0 / X.shape[0] * dot(X.T, dot(X, jnp.asarray(w)) - jnp.asarray(y))


def mse_hessian(X: ArrayLike) -> Array:
    """The Hessian of the MSE loss, ``H = (2/n) XᵀX`` (independent of ``w`` and ``y``).

    Gradient descent on the MSE loss is stable iff ``α < 2/λ_max(H)`` (:func:`dlbook.theory.critical_learning_rate`).

    Args:
      X: the features, ``(n, d)``.

    Returns:
      ``H``, ``(d, d)``.

    Example:
      >>> mse_hessian(jnp.array([[1.0, 0.0], [2.0, 1.0]])).tolist()   # (2/2) · [[1 + 4, 0 + 2], [2, 0 + 1]]
      [[5.0, 2.0], [2.0, 1.0]]

    Reference: ``ch01-nocedal2006numerical``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    X = jnp.asarray(X)
    return 2.0 / X.shape[0] * dot(X.T, X)


def least_squares(X: ArrayLike, y: ArrayLike) -> Array:
    """The exact minimiser ``w* = argmin_w ‖X w − y‖²`` (via ``lstsq``): the answer gradient descent should approach.

    Where ``XᵀX`` is invertible it is the solution of the normal equations ``XᵀX w* = Xᵀ y``.

    Args:
      X: the features, ``(n, d)``.
      y: the targets, ``(n,)``.

    Returns:
      ``w*``, ``(d,)``.

    Example:
      >>> X = add_bias(jnp.array([[0.0], [1.0], [2.0]])); y = jnp.array([1.0, 3.0, 5.0])
      >>> [round(float(c), 4) for c in least_squares(X, y)]   # y = 2x + 1 exactly
      [2.0, 1.0]

    Reference: ``ch01-goodfellow2016deep``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    check_shape("y", as_array("y", y), (X.shape[0],), f"({X.shape[0]},) to match X")
    return jnp.linalg.lstsq(jnp.asarray(X), jnp.asarray(y))[0]


def polynomial_features(x: ArrayLike, degree: ArrayLike, *, max_degree: int | None = None) -> Array:
    """Columns ``T_1(x), …, T_D(x)`` (Chebyshev polynomials) for a polynomial of degree ``degree`` on ``[−1, 1]``.

    With an intercept (:func:`add_bias` or :func:`ridge`) these span every polynomial of degree ≤ ``degree``,
    the same functions as ``x, x², …, x^D``, but they stay between −1 and 1 on ``[−1, 1]``, so the
    least-squares problem stays well conditioned in float32 even at degree 15 (the monomials' does not).
    ``T_0 = 1``, ``T_1 = x``, ``T_{k+1} = 2x T_k − T_{k−1}``.

    ``degree`` may be traced (a slider inside ``jit``): the result then always has ``max_degree`` columns
    and those above ``degree`` are zero, so changing the degree never changes a shape (with ``max_degree``
    given, degree 0 — all columns zero, the intercept alone — is allowed too).

    Args:
      x: the inputs, ``(n,)``, in ``[−1, 1]``.
      degree: ``D``, a whole number ≥ 1 (≥ 0 with ``max_degree``; may then be traced).
      max_degree: the number of columns (needed when ``degree`` is traced).

    Returns:
      ``(n, max_degree)`` (``(n, degree)`` without ``max_degree``).

    Example:
      >>> polynomial_features(jnp.array([0.5, 1.0]), 3).round(3).tolist()      # T_2 = 2x² − 1, T_3 = 4x³ − 3x
      [[0.5, -0.5, -1.0], [1.0, 1.0, 1.0]]
      >>> polynomial_features(jnp.array([0.5]), 1, max_degree=3).tolist()      # columns above the degree are 0
      [[0.5, 0.0, 0.0]]

    Reference: ``ch05-bishop2006pattern`` (polynomial curve fitting).

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    x = as_array("x", x)
    check_ndim("x", x, 1, "(n,) (one input per example)")
    if max_degree is None:
        if not is_concrete(degree):
            raise ValueError("max_degree must be given when degree is traced (it fixes the number of columns)")
        degree = check_int("degree", int(degree) if isinstance(degree, float) and degree.is_integer() else degree,
                           minimum=1)
        max_degree = degree
    max_degree = check_int("max_degree", max_degree, minimum=1)
    if is_concrete(degree) and float(np.asarray(degree)) != int(np.asarray(degree)):
        raise ValueError(f"degree must be a whole number, got {np.asarray(degree).tolist()}")
    if is_concrete(degree) and not 0 <= int(np.asarray(degree)) <= max_degree:
        raise ValueError(f"degree must be in [0, {max_degree}] (max_degree), got {np.asarray(degree).tolist()}")
    x = jnp.asarray(x)
    cols = [jnp.ones_like(x), x]
    for _ in range(max_degree - 1):
        cols.append(2 * x * cols[-1] - cols[-2])
    T = jnp.stack(cols[1:max_degree + 1], axis=1)
    return jnp.where(jnp.arange(1, max_degree + 1) <= degree, T, 0.0)


def ridge(X: ArrayLike, y: ArrayLike, l2: ArrayLike) -> Array:
    """Ridge regression: the minimiser ``[w; b]`` of ``(1/n) ‖X w + b − y‖² + (λ₂/2) ‖w‖²``, the intercept unpenalised.

    That is :func:`mse_loss` plus :func:`dlbook.regularization.l2_penalty`, solved in closed form: with the
    centred data ``X̃ = X − x̄``, ``w = (X̃ᵀX̃ + (nλ₂/2) I)⁻¹ X̃ᵀ(y − ȳ)`` and ``b = ȳ − x̄ᵀw``, computed from
    the SVD of ``X̃`` (stable; at ``λ₂ = 0`` it is the minimum-norm least-squares fit; constant columns, e.g.
    all-zero ones, get weight exactly 0).  Predict with ``predict(coef, add_bias(X))``.

    Args:
      X: the features, ``(n, d)`` (without the column of ones).
      y: the targets, ``(n,)``.
      l2: the strength ``λ₂ ≥ 0`` (may be traced).

    Returns:
      ``[w; b]``, ``(d + 1,)``.

    Example:
      >>> X = jnp.array([[0.0], [1.0], [2.0]]); y = jnp.array([1.0, 3.0, 5.0])
      >>> [round(float(c), 4) for c in ridge(X, y, 0.0)]         # y = 2x + 1 exactly
      [2.0, 1.0]
      >>> # X̃ = (−1, 0, 1), y − ȳ = (−2, 0, 2): w = 4/(2 + 3·1/2) = 8/7, b = 3 − 1·8/7 = 13/7
      >>> [round(float(c), 4) for c in ridge(X, y, 1.0)]
      [1.1429, 1.8571]

    Reference: ``ch05-bishop2006pattern`` (regularized least squares).

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    check_shape("y", as_array("y", y), (X.shape[0],), f"({X.shape[0]},) to match X")
    check_non_negative("l2", l2)
    check_scalar("l2", l2, "() (a scalar; vmap over ridge for several)")
    X, y = jnp.asarray(X), jnp.asarray(y)
    n = X.shape[0]
    x_mean, y_mean = jnp.mean(X, axis=0), jnp.mean(y)
    U, s, Vt = jnp.linalg.svd(X - x_mean, full_matrices=False)
    keep = s > max(X.shape) * jnp.finfo(s.dtype).eps * jnp.max(s)
    shrink = jnp.where(keep, s / jnp.where(keep, s**2 + 0.5 * n * l2, 1.0), 0.0)
    w = dot(Vt.T, shrink * dot(U.T, y - y_mean))
    w = jnp.where(jnp.all(X == X[:1], axis=0), 0.0, w)  # constant (e.g. masked) columns: exactly 0, not 1e-8
    return jnp.append(w, y_mean - dot(x_mean, w))
