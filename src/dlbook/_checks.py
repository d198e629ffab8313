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
import jax.numpy as jnp
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
    """Raise ``TypeError`` unless ``f`` is callable."""
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def check_hashable(name: str, x: Any) -> None:
    """A static argument of a jitted function must be hashable (JAX keys its compiled programs by it)."""
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"{name} must be hashable (a module-level function, or a functools.partial kept in a "
                        f"variable), got an unhashable {type(x).__name__}") from None


def check_scalar(name: str, x: Any, what: str = "() (a scalar)") -> Any:
    """Raise ``ValueError`` unless ``x`` is a scalar (vmap over the caller for several values)."""
    x = as_array(name, x)
    check_ndim(name, x, 0, what)
    return x


def check_learning_rate(learning_rate: Any, name: str = "learning_rate") -> None:
    """One learning rate ``α``: a finite scalar > 0 (traced: only the shape is checked)."""
    check_positive(name, learning_rate)
    check_scalar(name, learning_rate)


def check_probability(name: str, p: Any, what: str) -> None:
    """A scalar in ``[0, 1)`` such as a dropout rate or a momentum ``γ``; ``what`` names it in the message."""
    check_finite(name, p)
    check_scalar(name, p, "() (a scalar; vmap over the caller for several)")
    if is_concrete(p) and not 0 <= float(np.asarray(p)) < 1:
        raise ValueError(f"{name} must be {what} in [0, 1), got {np.asarray(p).tolist()}")


def check_batch_size(batch_size: Any, n: int) -> int:
    """A batch size: an int in ``[1, n]`` (``n`` the number of examples)."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n = {n} (the number of examples), got {batch_size}")
    return batch_size


def check_image_shape(image_shape: Any) -> tuple[int, int]:
    """An image's ``(height, width)``: two ints ≥ 1."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    return check_int("image_shape[0]", image_shape[0], minimum=1), check_int("image_shape[1]", image_shape[1], minimum=1)


def check_args(args: Any) -> tuple:
    """The extra arguments of a ``loss_fn``: a tuple (``(X, y)``), else ``TypeError``."""
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of arrays (the extra arguments of loss_fn, e.g. (X, y)), got {type(args).__name__}")
    return args


def check_bool(name: str, x: Any) -> bool:
    """Raise ``TypeError`` unless ``x`` is ``True`` or ``False``."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {x!r}")
    return x


def check_optimizer(name: str, opt: Any) -> None:
    """An optimizer: an object with callable ``init`` and ``update`` (a :class:`dlbook.optim.GradientTransformation`,
    or an optax one)."""
    if not (callable(getattr(opt, "init", None)) and callable(getattr(opt, "update", None))):
        raise TypeError(f"{name} must be a GradientTransformation with init and update (e.g. dlbook.optim.sgd(0.1)), "
                        f"got {type(opt).__name__}")


def _short(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return repr(arr.item())
    flat = arr.ravel()
    body = np.array2string(flat[:6], precision=4, separator=", ")
    return body if flat.size <= 6 else body[:-1] + ", ...] (shape " + str(arr.shape) + ")"


def check_params(name: str, w0: Any) -> Any:
    """Starting parameters: a pytree of finite real arrays (a list of numbers is a vector), as floats."""
    if isinstance(w0, list) and all(isinstance(v, (int, float, np.number)) for v in w0):  # a reader's [1.0, 2.0]: a vector
        w0 = as_array(name, w0)
    leaves = jax.tree_util.tree_leaves(w0)
    if not leaves:
        raise ValueError(f"{name} must contain at least one array, got {w0!r}")
    for leaf in leaves:
        arr = as_array(name, leaf)
        if not jnp.issubdtype(arr.dtype, jnp.floating) and not jnp.issubdtype(arr.dtype, jnp.integer):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        check_finite(name, arr)
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.result_type(float)), w0)


def check_rows(data: Any, name: str = "data") -> tuple:
    """A non-empty tuple of arrays with the same leading axis (one row per example), as jax arrays."""
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(f"{name} must be a tuple of arrays with one row per example, got {type(data).__name__}")
    arrays = tuple(jnp.asarray(as_array(f"{name}[{i}]", a)) for i, a in enumerate(data))
    n = arrays[0].shape[0] if arrays[0].ndim else None
    if n is None or any(a.ndim == 0 or a.shape[0] != n for a in arrays):
        raise ValueError(f"{name} must be arrays with the same leading axis (one row per example), got shapes "
                         f"{[tuple(a.shape) for a in arrays]}")
    return arrays


def check_batches(data: Any, batch_size: Any, key: Any, name: str = "data") -> tuple[tuple, int, int]:
    """The checks shared by the mini-batch functions: data rows, a batch size that fits, a key."""
    data = check_rows(data, name)
    n = data[0].shape[0]
    batch_size = check_batch_size(batch_size, n)
    check_key("key", key)
    return data, n, batch_size
