"""Data sets and input normalisation.

:func:`linear_regression_data` makes the worked example of chapter 1: targets that are a noisy linear
function of features whose scales can differ wildly (a flat's area in m² next to its number of rooms).
:func:`fit_minmax` and :func:`fit_standardize` fit the two normalisations of the chapter on the training
data; :func:`normalize` applies a fitted :class:`Scaler` (to training and, later, test data alike).
:func:`load_dataset` returns a real data set that ships with scikit-learn and :func:`split` cuts it into
training / (validation) / test parts; :func:`make_2d` draws two-class data in the plane whose classes no
straight line separates (for pictures of decision boundaries); :func:`sine_data` draws a few noisy
points of a sine curve, the classic first picture of over- and underfitting with polynomials.

Chapters: ``book/ch01_gradient_descent.ipynb`` (normalisation), ``book/ch02_backprop.ipynb`` (real data),
``book/ch03_activations.ipynb`` (two-dimensional data), ``book/ch05_regularization.ipynb`` (sine).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import (
    as_array,
    check_batch_size,
    check_finite,
    check_int,
    check_key,
    check_ndim,
    check_non_negative,
    check_shape,
    is_concrete,
)

Array = jax.Array

__all__ = ["linear_regression_data", "Scaler", "fit_minmax", "fit_standardize", "normalize", "load_dataset", "split",
           "DATASETS", "make_2d", "SHAPES_2D", "sine_data",
           "epoch_batches"]


def linear_regression_data(
    n: int,
    weights: ArrayLike,
    bias: float,
    *,
    low: ArrayLike,
    high: ArrayLike,
    noise: float,
    key: Array,
    decimals: int | None = None,
) -> tuple[Array, Array]:
    """Synthetic regression data ``y = X w + b + ε`` with ``Xᵢⱼ ~ U(lowⱼ, highⱼ)``, ``ε ~ N(0, noise²)``.

    Args:
      n: number of examples.
      weights: true ``w``, shape ``(d,)``.
      bias: true ``b``.
      low, high: per-feature ranges, shape ``(d,)``, ``low < high``.
      noise: standard deviation of ``ε`` (≥ 0).
      key: a ``jax.random`` key (keyword-only: all randomness is explicit).
      decimals: if given, features are rounded to this many decimals before ``y`` is computed (e.g. 0
        for whole square metres and whole rooms); rounded features are exactly representable, so
        quantities computed from ``X`` alone are identical on every machine.

    Returns:
      ``(X, y)`` with shapes ``(n, d)`` and ``(n,)``.

    Example:
      >>> w, lo, hi = jnp.array([2.0, -1.0]), jnp.array([0.0, 10.0]), jnp.array([1.0, 20.0])
      >>> X, y = linear_regression_data(5, w, 0.5, low=lo, high=hi, noise=0.0, key=jax.random.key(0))
      >>> X.shape, bool(jnp.allclose(y, X @ w + 0.5)), bool(jnp.all((lo <= X) & (X <= hi)))   # noise 0: y = Xw + b
      ((5, 2), True, True)

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    n = check_int("n", n, minimum=1)
    w = as_array("weights", weights)
    check_ndim("weights", w, 1, "(d,)")
    d = w.shape[0]
    lo, hi = as_array("low", low), as_array("high", high)
    check_shape("low", lo, (d,), f"({d},) to match weights")
    check_shape("high", hi, (d,), f"({d},) to match weights")
    for name, v in (("weights", w), ("low", lo), ("high", hi), ("bias", bias)):
        check_finite(name, v)
    if is_concrete((lo, hi)) and not bool(jnp.all(jnp.asarray(lo) < jnp.asarray(hi))):
        raise ValueError(f"low must be < high for every feature, got low={lo}, high={hi}")
    check_non_negative("noise", noise)
    check_key("key", key, legacy=True)
    kx, ke = jax.random.split(key)
    u = jax.random.uniform(kx, (n, d))
    X = jnp.asarray(lo) + u * (jnp.asarray(hi) - jnp.asarray(lo))
    if decimals is not None:
        X = jnp.round(X, check_int("decimals", decimals, minimum=0))
    y = jnp.matmul(X, jnp.asarray(w, dtype=X.dtype), precision=jax.lax.Precision.HIGHEST) + bias + noise * jax.random.normal(ke, (n,))
    return X, y


class Scaler(NamedTuple):
    """A fitted affine normalisation ``x' = (x − shift) / scale``, per feature (``shift`` and ``scale`` are ``(d,)``).

    Example:
      >>> s = Scaler(shift=jnp.array([1.0]), scale=jnp.array([2.0]))
      >>> normalize(jnp.array([[5.0]]), s).tolist()            # (5 − 1)/2
      [[2.0]]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """

    shift: Array
    scale: Array


def _check_features(X: ArrayLike) -> Array:
    X = as_array("X", X)
    check_ndim("X", X, 2, "(n, d)")
    check_finite("X", X)
    return jnp.asarray(X)


def fit_minmax(X: ArrayLike) -> Scaler:
    """Min-max normalisation ``x' = (x − min x) / (max x − min x)``: every feature into ``[0, 1]``.

    A constant feature (``max = min``) gets scale 1, so it maps to 0 instead of dividing by zero.

    Args:
      X: training features, shape ``(n, d)``.

    Returns:
      :class:`Scaler` with ``shift = min x`` and ``scale = max x − min x``.

    Example:
      >>> s = fit_minmax(jnp.array([[0.0, 10.0, 7.0], [2.0, 30.0, 7.0]]))
      >>> s.shift.tolist(), s.scale.tolist()                   # min; max − min (a constant column: 1)
      ([0.0, 10.0, 7.0], [2.0, 20.0, 1.0])

    Reference: ``ch01-lecun2012efficient``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    X = _check_features(X)
    lo, hi = X.min(axis=0), X.max(axis=0)
    rng = hi - lo
    return Scaler(lo, jnp.where(rng > 0, rng, 1.0))


def fit_standardize(X: ArrayLike) -> Scaler:
    """Standardisation ``x' = (x − μ) / σ``: every feature to mean 0, standard deviation 1.

    A constant feature (``σ = 0``, up to floating-point rounding) gets scale 1, so it maps to 0.

    Args:
      X: training features, shape ``(n, d)``.

    Returns:
      :class:`Scaler` with ``shift = μ`` and ``scale = σ`` (the population standard deviation).

    Example:
      >>> s = fit_standardize(jnp.array([[1.0, 4.0], [3.0, 4.0]]))
      >>> s.shift.tolist(), s.scale.tolist()                   # μ = 2, σ = √((1 + 1)/2) = 1; a constant column: 1
      ([2.0, 4.0], [1.0, 1.0])

    Reference: ``ch01-lecun2012efficient``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    X = _check_features(X)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    # A constant column has sd = 0 in exact arithmetic but a few ulps in floating point: treat any
    # spread below the rounding level of the column's values as none.
    noise = 16 * jnp.finfo(X.dtype).eps * jnp.max(jnp.abs(X), axis=0)
    return Scaler(mu, jnp.where(sd > noise, sd, 1.0))


def normalize(X: ArrayLike, scaler: Scaler) -> Array:
    """Apply a fitted :class:`Scaler`: ``x' = (x − shift) / scale``, to training and test data alike.

    Args:
      X: features, shape ``(n, d)``.
      scaler: a :class:`Scaler` fitted on the training data (:func:`fit_minmax`, :func:`fit_standardize`).

    Returns:
      ``(n, d)``.

    Example:
      >>> X = jnp.array([[0.0, 10.0], [2.0, 30.0]])
      >>> normalize(X, fit_minmax(X)).tolist()                 # (x − min)/(max − min) per column
      [[0.0, 0.0], [1.0, 1.0]]

    Reference: ``ch01-lecun2012efficient``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    X = _check_features(X)
    if not isinstance(scaler, Scaler):
        raise TypeError(f"scaler must be a Scaler from fit_minmax or fit_standardize, got {type(scaler).__name__}")
    check_shape("scaler.shift", scaler.shift, (X.shape[1],), f"({X.shape[1]},) to match X")
    check_shape("scaler.scale", scaler.scale, (X.shape[1],), f"({X.shape[1]},) to match X")
    return (X - scaler.shift) / scaler.scale


#: Real data sets that ship inside scikit-learn (nothing is downloaded): name -> (loader, what it is).
DATASETS = {
    "breast_cancer": ("load_breast_cancer", "569 tumours × 30 features, benign (1) or malignant (0)"),
    "digits": ("load_digits", "1,797 handwritten digits, 8×8 pixels with values 0..16, classes 0..9"),
    "iris": ("load_iris", "150 flowers × 4 features, 3 species"),
    "wine": ("load_wine", "178 wines × 13 features, 3 cultivars"),
}


def load_dataset(name: str) -> tuple[Array, Array, tuple[str, ...]]:
    """A real data set shipped with scikit-learn: features ``X`` ``(n, d)`` float32, labels ``y`` ``(n,)`` int32, names.

    Nothing is downloaded.  The feature names come as a tuple of ``d`` strings.

    Args:
      name: one of :data:`DATASETS` (``"breast_cancer"``, ``"digits"``, ``"iris"``, ``"wine"``).

    Example:
      >>> X, y, names = load_dataset("breast_cancer")
      >>> X.shape, int(y.sum()), names[0]          # 569 tumours × 30 features, 357 of them benign (label 1)
      ((569, 30), 357, 'mean radius')

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, DATASETS[name][0])()
    names = tuple(str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(bunch.data.shape[1])]))
    return jnp.asarray(bunch.data, jnp.float32), jnp.asarray(bunch.target, jnp.int32), names


def split(X: ArrayLike, y: ArrayLike, *, key: Array, fractions: tuple[float, ...] = (0.75, 0.25)) -> list[tuple[Array, Array]]:
    """Shuffle the rows with ``key`` and cut them into parts of the given fractions (train / (validation /) test).

    Every row lands in exactly one part; part ``k`` has ``⌊fₖ n⌋`` rows, except the last, which takes the rest.

    Args:
      X: features, ``(n, d)``.
      y: labels or targets, ``(n, ...)``.
      key: the ``jax.random`` key of the shuffle.
      fractions: two or more positive fractions summing to 1.

    Returns:
      a list of ``(X_part, y_part)`` pairs, one per fraction.

    Example:
      >>> X, y = jnp.arange(20.0).reshape(10, 2), jnp.arange(10)
      >>> [len(p[1]) for p in split(X, y, key=jax.random.key(0), fractions=(0.6, 0.2, 0.2))]   # ⌊6⌋, ⌊2⌋, 10 − 8
      [6, 2, 2]

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    X, y = as_array("X", X), as_array("y", y)
    check_ndim("X", X, 2, "(n, d)")
    if y.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}), got shape {y.shape}")
    if not isinstance(fractions, (tuple, list)):
        raise ValueError(f"fractions must be two or more positive numbers summing to 1, got {fractions!r}")
    fr = [float(f) for f in fractions]
    if len(fr) < 2 or any(f <= 0 for f in fr) or abs(sum(fr) - 1) > 1e-9:
        raise ValueError(f"fractions must be two or more positive numbers summing to 1, got {tuple(fractions)}")
    check_key("key", key)
    n = X.shape[0]
    sizes = [int(f * n) for f in fr[:-1]]
    sizes.append(n - sum(sizes))
    if min(sizes) < 1:
        raise ValueError(f"fractions {tuple(fractions)} leave a part empty for n = {n} rows")
    order = jax.random.permutation(key, n)
    parts, start = [], 0
    for m in sizes:
        idx = order[start:start + m]
        parts.append((jnp.asarray(X)[idx], jnp.asarray(y)[idx]))
        start += m
    return parts


#: Shapes :func:`make_2d` draws: name -> what the two classes look like.
SHAPES_2D = {
    "circles": "class 0 on the unit circle, class 1 on a concentric circle of radius 1/2",
    "moons": "two interleaving half circles",
    "xor": "uniform on the square [−1, 1]²; class 1 where x₁·x₂ > 0 (the 1st and 3rd quadrants)",
    "spiral": "two interleaved spiral arms, each turning 1.5 times",
}


def make_2d(name: str, n: int, *, key: Array, noise: float = 0.1) -> tuple[Array, Array]:
    """Two-class data in the plane that no straight line separates: ``X`` ``(n, 2)`` float32, ``y`` ``(n,)`` int32.

    The classes have ``n // 2`` and ``n − n // 2`` points, in random order.  Each point is drawn on its
    class's curve (or region, for ``"xor"``), then Gaussian noise of standard deviation ``noise`` is added
    to both coordinates (after labelling, so noisy ``"xor"`` points may cross the axes).

    Args:
      name: one of :data:`SHAPES_2D` (``"circles"``, ``"moons"``, ``"xor"``, ``"spiral"``).
      n: number of points (≥ 2).
      key: a ``jax.random`` key (keyword-only: all randomness is explicit).
      noise: standard deviation of the added noise (≥ 0).

    Example:
      >>> X, y = make_2d("circles", 100, key=jax.random.key(0), noise=0.0)
      >>> X.shape, int(y.sum())                                # class 1 has n − n // 2 = 50 points
      ((100, 2), 50)
      >>> bool(jnp.allclose(jnp.linalg.norm(X[y == 1], axis=1), 0.5))   # on the circle of radius 1/2
      True

    Chapter: ``book/ch03_activations.ipynb``.
    """
    if name not in SHAPES_2D:
        raise ValueError(f"name must be one of {sorted(SHAPES_2D)}, got {name!r}")
    n = check_int("n", n, minimum=2)
    check_non_negative("noise", noise)
    check_key("key", key)
    k_pos, k_sign, k_noise, k_order = jax.random.split(key, 4)
    y = (jnp.arange(n) >= n // 2).astype(jnp.int32)
    u = jax.random.uniform(k_pos, (n, 2))
    t = u[:, 0]
    if name == "circles":
        angle = 2 * jnp.pi * t
        r = jnp.where(y == 1, 0.5, 1.0)
        X = r[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    elif name == "moons":  # as scikit-learn's make_moons: the upper arc, and the lower arc shifted right
        angle = jnp.pi * t
        upper = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
        lower = jnp.stack([1 - jnp.cos(angle), 0.5 - jnp.sin(angle)], axis=1)
        X = jnp.where((y == 1)[:, None], lower, upper)
    elif name == "xor":  # |x₁|, |x₂| uniform on [0, 1]; the signs agree for class 1 and differ for class 0
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n,)), 1.0, -1.0)
        X = jnp.stack([sign * u[:, 0], jnp.where(y == 1, sign, -sign) * u[:, 1]], axis=1)
    else:  # spiral: radius grows from 0.2 to 1 while the angle turns 1.5 times; arm 1 is arm 0 turned by π
        r = 0.2 + 0.8 * t
        angle = 3 * jnp.pi * t + jnp.pi * y
        X = r[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    X = X + noise * jax.random.normal(k_noise, (n, 2))
    order = jax.random.permutation(k_order, n)
    return X[order].astype(jnp.float32), y[order]


def sine_data(n: int, *, key: Array, noise: float = 0.2, even: bool = False) -> tuple[Array, Array]:
    """``n`` points ``y = sin(πx) + ε`` with ``x ~ U(−1, 1)`` and ``ε ~ N(0, noise²)``: ``(x, y)``, both ``(n,)``.

    One full period of a sine on ``[−1, 1]``: a straight line cannot follow it, a cubic can, and a
    polynomial with as many coefficients as points passes through every noisy point (Bishop's example
    with ``sin 2πx`` on ``[0, 1]``, moved to ``[−1, 1]``).

    Args:
      n: number of points (≥ 1).
      key: a ``jax.random`` key (keyword-only).
      noise: standard deviation of ``ε`` (≥ 0).
      even: evenly spaced ``x`` from −1 to 1 (as in Bishop's training set; only ``ε`` is random).

    Example:
      >>> x, y = sine_data(1000, key=jax.random.key(0), noise=0.0)
      >>> bool(jnp.allclose(y, jnp.sin(jnp.pi * x))), bool(jnp.all(jnp.abs(x) <= 1))
      (True, True)
      >>> x, y = sine_data(3, key=jax.random.key(0), noise=0.0, even=True)
      >>> x.tolist(), bool(jnp.allclose(y, 0.0, atol=1e-6))    # sin(−π) = sin 0 = sin π = 0
      ([-1.0, 0.0, 1.0], True)

    Reference: ``ch05-bishop2006pattern``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    n = check_int("n", n, minimum=1)
    check_non_negative("noise", noise)
    check_key("key", key)
    kx, ke = jax.random.split(key)
    if even:
        x = jnp.linspace(-1.0, 1.0, n)
    else:
        x = jax.random.uniform(kx, (n,), minval=-1.0, maxval=1.0)
    return x, jnp.sin(jnp.pi * x) + noise * jax.random.normal(ke, (n,))


def epoch_batches(n: int, batch_size: int, *, key: Array) -> Array:
    """One epoch's mini-batches: the indices ``0 … n−1`` shuffled with ``key`` and cut into rows of ``batch_size``.

    Returns an int array ``(n // batch_size, batch_size)``; when ``batch_size`` does not divide ``n`` the
    last ``n mod batch_size`` shuffled indices sit this epoch out (a new ``key`` each epoch leaves out
    others).  Jit-friendly: ``key`` may be traced, the shapes depend only on ``n`` and ``batch_size``.

    Args:
      n: the number of examples, ≥ 1.
      batch_size: rows per batch, in ``[1, n]``.
      key: the ``jax.random`` key of the shuffle.

    Example:
      >>> idx = epoch_batches(10, 4, key=jax.random.key(0))
      >>> idx.shape, len(set(idx.ravel().tolist()))           # 10 // 4 = 2 batches of 4 distinct examples; 2 left out
      ((2, 4), 8)

    Reference: ``ch01-ruder2016overview``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    n = check_int("n", n, minimum=1)
    batch_size = check_batch_size(batch_size, n)
    check_key("key", key)
    order = jax.random.permutation(key, n)
    return order[: n // batch_size * batch_size].reshape(n // batch_size, batch_size)
