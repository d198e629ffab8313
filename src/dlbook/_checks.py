"""Input checks shared by the public functions.

Every public function of dlbook validates its arguments *before* any JAX tracing, so that a reader who
passes a wrong shape or a negative learning rate sees a message naming the argument, what was expected and
what was got, instead of a traceback from deep inside XLA.  Values that are JAX tracers (inside ``jit`` /
``vmap`` / ``grad``) cannot be inspected; for them only the static facts (shape, dtype) are checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import numpy as np


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds actual values (not a tracer inside jit/vmap/grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def as_array(name: str, x: Any) -> Any:
    """Return ``x`` as an array-like with a shape, or raise naming ``name``."""
    if isinstance(x, jax.Array | np.ndarray):
        if x.dtype == bool:
            raise TypeError(f"{name} must be a number or numeric array, got a boolean")
        return x
    try:
        arr = np.asarray(x)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument's name
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from err
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric array-like, got {type(x).__name__} of dtype {arr.dtype}")
    return arr


def check_finite(name: str, x: Any) -> None:
    """Raise ``ValueError`` if a concrete ``x`` contains nan or inf."""
    x = as_array(name, x)
    if is_concrete(x):
        arr = np.asarray(x)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got a value containing nan or inf: {_short(arr)}")


def check_positive(name: str, x: Any) -> None:
    """Raise ``ValueError`` unless every element of a concrete ``x`` is finite and > 0."""
    x = as_array(name, x)
    if is_concrete(x):
        arr = np.asarray(x)
        if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            raise ValueError(f"{name} must be > 0 and finite, got {_short(arr)}")


def check_non_negative(name: str, x: Any) -> None:
    """Raise ``ValueError`` unless every element of a concrete ``x`` is finite and >= 0."""
    check_finite(name, x)
    x = as_array(name, x)
    if is_concrete(x):
        arr = np.asarray(x)
        if np.any(arr < 0):
            raise ValueError(f"{name} must be >= 0, got {_short(arr)}")


def check_int(name: str, x: Any, *, minimum: int = 0) -> int:
    """Return ``x`` as a Python int >= ``minimum`` or raise naming ``name``."""
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} {x!r}")
    if x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    return int(x)


def check_ndim(name: str, x: Any, ndims: int | Iterable[int], what: str) -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``ndims``; ``what`` describes the expected shape."""
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if np.ndim(x) not in allowed:
        raise ValueError(f"{name} must have shape {what}, got shape {tuple(np.shape(x))}")


def check_shape(name: str, x: Any, shape: tuple[int | None, ...], what: str | None = None) -> None:
    """Raise ``ValueError`` unless ``x.shape`` matches ``shape`` (``None`` matches any size)."""
    got = tuple(np.shape(x))
    ok = len(got) == len(shape) and all(s is None or s == g for s, g in zip(shape, got))
    if not ok:
        want = what or "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got shape {got}")


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``, listing the valid names."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_key(name: str, key: Any, *, legacy: bool = False) -> None:
    """A typed ``jax.random.key(...)``; with ``legacy=True`` also a raw ``(2,)`` ``jax.random.PRNGKey``."""
    ok = isinstance(key, jax.Array) and (
        jax.numpy.issubdtype(key.dtype, jax.dtypes.prng_key) or (legacy and key.shape == (2,))
    )
    if not ok:
        raise TypeError(f"{name} must be a jax.random key, e.g. jax.random.key(0); got {type(key).__name__}")


def check_callable(name: str, f: Any) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def _short(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return repr(arr.item())
    flat = arr.ravel()
    body = np.array2string(flat[:6], precision=4, separator=", ")
    return body if flat.size <= 6 else body[:-1] + ", ...] (shape " + str(arr.shape) + ")"
