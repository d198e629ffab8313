"""Test surfaces for gradient descent: the losses of chapter 1 (梯度下降).

A *surface* is a pure function ``f(w) -> scalar`` of the parameters.  The quadratic
``f(w) = ½ (w − c)ᵀ A (w − c)`` is the model problem of the chapter: its Hessian is ``A`` everywhere,
so gradient descent on it is a linear map whose stability is decided by the eigenvalues of ``A``.
The other surfaces have several minima, to show that gradient descent finds *a* minimum, not *the* one.

Chapter: ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_finite, check_int, check_ndim, check_positive, check_shape

Array = jax.Array

__all__ = [
    "parabola",
    "quadratic",
    "quadratic_matrix",
    "tilted_double_well",
    "wells",
    "WELL_CENTERS",
    "grid_values",
]


def parabola(w: ArrayLike, curvature: ArrayLike = 1.0, center: ArrayLike = 0.0) -> Array:
    """One-parameter quadratic ``f(w) = ½ a (w − c)²``; ``f'(w) = a (w − c)``, ``f'' = a``.

    Gradient descent ``w ← w − α a (w − c)`` multiplies the distance to the minimum by ``1 − α a``
    each step, so it converges iff ``0 < α < 2/a``.

    Args:
      w: parameter, any shape (evaluated elementwise).
      curvature: ``a`` (> 0 for a minimum).
      center: ``c``, the minimiser.

    Example:
      >>> float(parabola(3.0, curvature=2.0, center=1.0))
      4.0
    """
    w = jnp.asarray(w)
    return 0.5 * curvature * (w - center) ** 2


def quadratic_matrix(eigenvalues: ArrayLike, angle: float = 0.0) -> Array:
    """Symmetric 2×2 matrix ``A = R(θ) diag(λ₁, λ₂) R(θ)ᵀ`` with chosen eigenvalues and rotation.

    The condition number ``κ = λ_max / λ_min`` sets how elongated the contours of ``½ wᵀ A w`` are.

    Args:
      eigenvalues: ``(λ₁, λ₂)``, both > 0.
      angle: rotation ``θ`` of the eigenvectors, in radians.

    Returns:
      ``(2, 2)`` array.

    Example:
      >>> A = quadratic_matrix([1.0, 10.0])
      >>> [float(v) for v in jnp.linalg.eigvalsh(A)]
      [1.0, 10.0]
    """
    lam = as_array("eigenvalues", eigenvalues)
    check_shape("eigenvalues", lam, (2,), "(2,)")
    check_positive("eigenvalues", lam)
    check_finite("angle", angle)
    c, s = jnp.cos(angle), jnp.sin(angle)
    rot = jnp.array([[c, -s], [s, c]])
    hi = jax.lax.Precision.HIGHEST
    return jnp.matmul(jnp.matmul(rot, jnp.diag(jnp.asarray(lam, dtype=rot.dtype)), precision=hi), rot.T, precision=hi)


def quadratic(w: ArrayLike, A: ArrayLike, center: ArrayLike | None = None) -> Array:
    """Quadratic bowl ``f(w) = ½ (w − c)ᵀ A (w − c)``; ``∇f(w) = A (w − c)``, Hessian ``A``.

    Args:
      w: parameters, shape ``(d,)``.
      A: symmetric matrix, shape ``(d, d)``.
      center: minimiser ``c``, shape ``(d,)``; zero if omitted.

    Returns:
      Scalar.

    Example:
      >>> float(quadratic(jnp.array([1.0, 1.0]), jnp.diag(jnp.array([1.0, 3.0]))))
      2.0
    """
    w = jnp.asarray(w)
    A = jnp.asarray(A)
    check_ndim("w", w, 1, "(d,)")
    check_shape("A", A, (w.shape[0], w.shape[0]), f"({w.shape[0]}, {w.shape[0]}) to match w")
    if center is not None:
        check_shape("center", as_array("center", center), w.shape, f"{w.shape} to match w")
    d = w if center is None else w - jnp.asarray(center)
    return 0.5 * jnp.dot(d, jnp.dot(A, d, precision=jax.lax.Precision.HIGHEST), precision=jax.lax.Precision.HIGHEST)


def tilted_double_well(w: ArrayLike, tilt: ArrayLike = 0.3) -> Array:
    """One-parameter curve with a local and a global minimum: ``f(w) = (w² − 1)² + t·w``.

    For ``0 < t < 1.5`` there are two minima near ``w = ±1``; the tilt makes the left one (near ``−1``)
    the global minimum and the right one a merely local minimum.

    Example:
      >>> round(float(tilted_double_well(0.0)), 3)
      1.0
    """
    w = jnp.asarray(w)
    return (w**2 - 1.0) ** 2 + tilt * w


#: Centres, depths and widths of the three Gaussian wells of :func:`wells`.
WELL_CENTERS = ((-1.5, -1.0), (1.6, 1.1), (1.2, -1.7))
_WELL_DEPTHS = (2.0, 1.3, 0.9)
_WELL_WIDTH = 0.75


def wells(w: ArrayLike) -> Array:
    """Two-parameter surface with three minima of different depth.

    ``f(w) = 0.08 ‖w‖² − Σₖ dₖ exp(−‖w − cₖ‖² / (2 s²))`` with centres :data:`WELL_CENTERS`, depths
    2.0, 1.3, 0.9 and width ``s = 0.75``: the deepest well (near ``(−1.5, −1)``) holds the global minimum;
    gradient descent started elsewhere settles in one of the shallower, local minima.

    Args:
      w: parameters, shape ``(2,)``.

    Returns:
      Scalar.
    """
    w = jnp.asarray(w)
    check_shape("w", w, (2,))
    c = jnp.asarray(WELL_CENTERS, dtype=w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else None)
    d = jnp.asarray(_WELL_DEPTHS)
    sq = jnp.sum((w[None, :] - c) ** 2, axis=1)
    return 0.08 * jnp.sum(w**2) - jnp.sum(d * jnp.exp(-sq / (2 * _WELL_WIDTH**2)))


def grid_values(
    f: Callable[[Array], Array],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    num: int = 101,
) -> tuple[Array, Array, Array]:
    """Evaluate a two-parameter surface on a ``num × num`` grid, vectorised with ``vmap``.

    Args:
      f: surface taking a ``(2,)`` array and returning a scalar.
      xlim, ylim: ``(low, high)`` ranges of ``w₁`` and ``w₂``.
      num: points per axis (≥ 2).

    Returns:
      ``(W1, W2, F)``, each ``(num, num)``, as for ``matplotlib.pyplot.contour``.
    """
    num = check_int("num", num, minimum=2)
    for name, lim in (("xlim", xlim), ("ylim", ylim)):
        lim_arr = as_array(name, lim)
        check_shape(name, lim_arr, (2,), "(low, high)")
        check_finite(name, lim_arr)
        if not lim_arr[0] < lim_arr[1]:
            raise ValueError(f"{name} must satisfy low < high, got {tuple(lim)}")
    x = jnp.linspace(*xlim, num)
    y = jnp.linspace(*ylim, num)
    W1, W2 = jnp.meshgrid(x, y)
    pts = jnp.stack([W1.ravel(), W2.ravel()], axis=1)
    F = jax.jit(jax.vmap(f))(pts).reshape(W1.shape)
    return W1, W2, F
