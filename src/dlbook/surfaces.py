"""Test surfaces for gradient descent: the losses of chapter 1 (梯度下降).

A *surface* is a pure function ``f(w) -> scalar`` of the parameters.  The quadratic
``f(w) = ½ (w − c)ᵀ A (w − c)`` is the model problem of the chapter: its Hessian is ``A`` everywhere,
so gradient descent on it is a linear map whose stability is decided by the eigenvalues of ``A``.
The other surfaces have several minima, to show that gradient descent finds *a* minimum, not *the* one.
:func:`grid_values` evaluates a two-parameter surface on a grid for contour plots.

Chapter: ``book/ch01_gradient_descent.ipynb`` (chapter 6, ``book/ch06_batch_momentum.ipynb``, uses them again).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dlbook._numerics import dot
from dlbook._checks import (
    as_array,
    check_callable,
    check_finite,
    check_int,
    check_ndim,
    check_positive,
    check_shape,
    is_concrete,
)

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


def _static_shape(name: str, x: ArrayLike) -> tuple[int, ...] | None:
    """The shape of a numeric argument (raising, naming it, if it is not numeric), or ``None`` when it cannot
    be known without computing: a Python container holding tracers."""
    if is_concrete(x) or isinstance(x, jax.Array):  # a tracer is a jax.Array: its shape and dtype are static
        return tuple(np.shape(as_array(name, x)))
    return None


def _check_point_and_parameters(w: ArrayLike, **params) -> None:
    """Check the point ``w`` of an elementwise surface and its parameters, given as ``name=(value, check)``.

    ``w`` and each parameter must be numeric and the parameters must broadcast against ``w`` (static facts,
    checked also for tracers); ``check`` (e.g. ``check_positive``) looks only at concrete values, so inside
    jit/grad/vmap a traced parameter passes.  Nothing is converted: the caller computes with the arguments
    exactly as given, so the numbers are those of the unchecked formula.
    """
    w_shape = _static_shape("w", w)
    for name, (value, check) in params.items():
        shape = _static_shape(name, value)
        if shape is None:
            continue
        check(name, value)
        if w_shape is not None:
            try:
                np.broadcast_shapes(w_shape, shape)
            except ValueError:
                raise ValueError(
                    f"{name} must be a scalar or broadcast against w of shape {w_shape}, got shape {shape}"
                ) from None


def parabola(w: ArrayLike, curvature: ArrayLike = 1.0, center: ArrayLike = 0.0) -> Array:
    """One-parameter quadratic ``L(w) = ½ a (w − c)²``, evaluated elementwise.

    Its derivative is ``L'(w) = a (w − c)`` and its curvature ``L''(w) = a``, so gradient descent
    ``w ← w − α a (w − c)`` multiplies the distance to the minimum by ``1 − α a`` each step and converges
    iff ``0 < α < 2/a``.

    Args:
      w: parameter ``w``, any shape (evaluated elementwise); not checked for finiteness (a diverged iterate
        evaluates to inf or nan).
      curvature: ``a``, finite and > 0 (a minimum at ``c``); a scalar, or an array that broadcasts against ``w``.
      center: ``c``, the minimiser, finite; a scalar, or an array that broadcasts against ``w``.

    Returns:
      ``L(w)``, the broadcast shape of ``w``, ``curvature`` and ``center``.

    Example:
      ``½ · 1 · 3² = 4.5`` and ``½ · 2 · (3 − 1)² = 4``:

      >>> float(parabola(3.0))
      4.5
      >>> float(parabola(3.0, curvature=2.0, center=1.0))
      4.0

    Reference: ``ch01-nocedal2006numerical`` (the step-size bound ``2/a``).

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    _check_point_and_parameters(w, curvature=(curvature, check_positive), center=(center, check_finite))
    w = jnp.asarray(w)
    return 0.5 * curvature * (w - center) ** 2


def quadratic_matrix(eigenvalues: ArrayLike, angle: float = 0.0) -> Array:
    """Symmetric 2×2 matrix ``A = R(θ) diag(λ₁, λ₂) R(θ)ᵀ`` with chosen eigenvalues and rotation.

    ``R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``, so the eigenvectors of ``A`` are the columns of ``R(θ)``,
    ``(cos θ, sin θ)`` for ``λ₁`` and ``(−sin θ, cos θ)`` for ``λ₂``.  As the Hessian of ``½ wᵀ A w`` its
    condition number ``κ = λ_max / λ_min`` sets how elongated the contours are, and gradient descent is stable
    iff ``0 < α < 2/λ_max``.

    Args:
      eigenvalues: ``(λ₁, λ₂)``, shape ``(2,)``, both finite and > 0.
      angle: rotation ``θ`` of the eigenvectors, in radians, finite.

    Returns:
      ``A``, shape ``(2, 2)``.

    Example:
      With ``θ = 0`` the matrix is ``diag(λ₁, λ₂)``:

      >>> quadratic_matrix([1.0, 10.0]).tolist()
      [[1.0, 0.0], [0.0, 10.0]]

    Reference: ``ch01-nocedal2006numerical`` (gradient descent on quadratics, the condition number).

    Chapter: ``book/ch01_gradient_descent.ipynb`` (the κ = 100 valley of ``book/ch06_batch_momentum.ipynb``
    is built with it too).
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
    """Quadratic bowl ``L(w) = ½ (w − c)ᵀ A (w − c)``; ``∇L(w) = A (w − c)``, Hessian ``H = A``.

    With ``A`` symmetric positive definite, ``c`` is the only minimum, and gradient descent
    ``w ← w − α A (w − c)`` converges iff ``0 < α < 2/λ_max(A)``.

    Args:
      w: parameters, shape ``(d,)``.
      A: symmetric matrix, shape ``(d, d)`` (e.g. from :func:`quadratic_matrix`).
      center: minimiser ``c``, shape ``(d,)``; zero if omitted.

    Returns:
      ``L(w)``, a scalar.

    Example:
      ``½ (1, 1) diag(1, 3) (1, 1)ᵀ = ½ (1 + 3) = 2``:

      >>> float(quadratic(jnp.array([1.0, 1.0]), jnp.diag(jnp.array([1.0, 3.0]))))
      2.0

    Reference: ``ch01-nocedal2006numerical`` (gradient descent on quadratics, the condition number).

    Chapter: ``book/ch01_gradient_descent.ipynb`` (used again in ``book/ch06_batch_momentum.ipynb``).
    """
    w = jnp.asarray(as_array("w", w))
    A = jnp.asarray(as_array("A", A))
    check_ndim("w", w, 1, "(d,)")
    check_shape("A", A, (w.shape[0], w.shape[0]), f"({w.shape[0]}, {w.shape[0]}) to match w")
    if center is not None:
        check_shape("center", as_array("center", center), w.shape, f"{w.shape} to match w")
    d = w if center is None else w - jnp.asarray(center)
    return 0.5 * dot(d, dot(A, d))


def tilted_double_well(w: ArrayLike, tilt: ArrayLike = 0.3) -> Array:
    """One-parameter curve with a local and a global minimum: ``L(w) = (w² − 1)² + t w``, elementwise.

    Its derivative is ``L'(w) = 4w (w² − 1) + t``.  For ``|t| < 8/(3√3) ≈ 1.54`` there are two minima, near
    ``w = ±1``; a tilt ``0 < t`` makes the left one (near ``−1``) the global minimum and the right one a merely
    local minimum (``t = 0`` makes them equally deep, ``t < 0`` mirrors the picture).  For larger ``|t|`` the
    shallower minimum disappears and one minimum is left.

    Args:
      w: parameter ``w``, any shape (evaluated elementwise); not checked for finiteness (a diverged iterate
        evaluates to inf or nan).
      tilt: ``t``, finite (the book uses ``0.3``); a scalar, or an array that broadcasts against ``w``.

    Returns:
      ``L(w)``, the broadcast shape of ``w`` and ``tilt``.

    Example:
      ``(0² − 1)² + 0.3 · 0 = 1`` and ``(2² − 1)² + 0.5 · 2 = 10``:

      >>> float(tilted_double_well(0.0))
      1.0
      >>> float(tilted_double_well(2.0, tilt=0.5))
      10.0

    Reference: ``ch01-choromanska2015loss`` (local minima of the losses of deep networks).

    Chapter: ``book/ch01_gradient_descent.ipynb`` (used again in ``book/ch06_batch_momentum.ipynb``, where
    momentum rolls over the bump).
    """
    _check_point_and_parameters(w, tilt=(tilt, check_finite))
    w = jnp.asarray(w)
    return (w**2 - 1.0) ** 2 + tilt * w


#: Centres of the three Gaussian wells of :func:`wells` (their depths and common width follow).
WELL_CENTERS = ((-1.5, -1.0), (1.6, 1.1), (1.2, -1.7))
_WELL_DEPTHS = (2.0, 1.3, 0.9)
_WELL_WIDTH = 0.75


def wells(w: ArrayLike) -> Array:
    """Two-parameter surface with three minima of different depth.

    ``L(w) = 0.08 ‖w‖² − Σₖ dₖ exp(−‖w − cₖ‖² / (2 s²))`` with centres ``cₖ`` in :data:`WELL_CENTERS`, depths
    ``dₖ`` = 2.0, 1.3, 0.9 and width ``s = 0.75``: the deepest well (near ``(−1.5, −1)``) holds the global minimum;
    gradient descent started elsewhere settles in one of the shallower, local minima.

    Args:
      w: parameters ``(w₁, w₂)``, shape ``(2,)``.

    Returns:
      ``L(w)``, a scalar.

    Example:
      Far from the wells only the bowl is left: at ``w = (30, 40)``, ``0.08 · (30² + 40²) = 0.08 · 2500 = 200``:

      >>> round(float(wells(jnp.array([30.0, 40.0]))), 3)
      200.0

    Reference: ``ch01-choromanska2015loss`` (local minima of the losses of deep networks).

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    w = jnp.asarray(as_array("w", w))
    check_shape("w", w, (2,))
    c = jnp.asarray(WELL_CENTERS, dtype=w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else None)
    d = jnp.asarray(_WELL_DEPTHS)
    sq = jnp.sum((w[None, :] - c) ** 2, axis=1)
    return 0.08 * jnp.sum(w**2) - jnp.sum(d * jnp.exp(-sq / (2 * _WELL_WIDTH**2)))


@partial(jax.jit, static_argnums=0)
def _values_on_points(f: Callable[[Array], Array], pts: Array) -> Array:
    """``f`` at each row of ``pts``; jitted with ``f`` static, so JAX keeps one compiled program per
    ``(f, pts.shape, pts.dtype)`` and a repeated call with the same surface and grid size does not retrace."""
    return jax.vmap(f)(pts)


def grid_values(
    f: Callable[[Array], Array],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    num: int = 101,
) -> tuple[Array, Array, Array]:
    """Evaluate a two-parameter surface on a ``num × num`` grid, for contour plots.

    ``F[i, j] = f((W1[i, j], W2[i, j]))`` with ``W1[i, j] = x_j``, ``W2[i, j] = y_i``, where ``x_j`` and ``y_i``
    are ``num`` evenly spaced points from ``low`` to ``high`` of ``xlim`` and ``ylim`` (``w₁`` along the columns,
    ``w₂`` along the rows, as ``matplotlib.pyplot.contour`` expects).  All ``num²`` points are evaluated in one
    ``jax.vmap`` call, compiled once per surface ``f`` and ``num``: calling again with the same ``f`` object (other
    limits allowed) reuses the compiled program.  A new ``lambda`` each call is a new function and compiles anew.

    Args:
      f: surface taking a ``(2,)`` array ``w = (w₁, w₂)`` and returning a scalar.
      xlim, ylim: ``(low, high)`` ranges of ``w₁`` and ``w₂``, finite, ``low < high``.
      num: points per axis, an int ≥ 2.

    Returns:
      ``(W1, W2, F)``, each ``(num, num)``.

    Example:
      For ``f(w) = w₁ w₂`` on ``w₁ ∈ {0, 1, 2}``, ``w₂ ∈ {0, 0.5, 1}`` the row ``i`` holds ``y_i · (0, 1, 2)``:

      >>> W1, W2, F = grid_values(lambda w: w[0] * w[1], (0.0, 2.0), (0.0, 1.0), 3)
      >>> F.tolist()
      [[0.0, 0.0, 0.0], [0.0, 0.5, 1.0], [0.0, 1.0, 2.0]]

    Chapter: ``book/ch01_gradient_descent.ipynb`` (contour plots; used again in ``book/ch06_batch_momentum.ipynb``).
    """
    check_callable("f", f)
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
    try:
        hash(f)
    except TypeError:  # an unhashable callable cannot key a cache: compile for this call only
        F = jax.jit(jax.vmap(f))(pts)
    else:
        F = _values_on_points(f, pts)
    return W1, W2, F.reshape(W1.shape)
