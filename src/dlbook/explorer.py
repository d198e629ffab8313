"""Explorers: one call turns a small computation and a drawing into sliders that work twice.

Usage (the last expression of a notebook cell)::

    explore(compute, draw, [slider("lr", 0.05, 1.2, 12, default=0.3, label="α")], alt="...")

An :class:`Explorer` is plain data: the sliders, the figure's size, and ``compute`` jitted once (a slider
value is traced as an array: only the first call compiles).  That one program serves both views: a live
slider move, and every frame of the static view (each the numbers a live slider shows, computed in a worker
thread while the previous frame is drawn).  It is shown by the views of :mod:`dlbook.render`, picked by
:func:`dlbook.session.mode`: **live** ipywidgets sliders in Jupyter, or, in the built book
(``DLBOOK_EXPLORERS=static``), a **static** HTML block over precomputed frames.  A notebook executed live
stores only a one-line text summary (:meth:`Explorer.summary`), never frames.

Contract: ``compute(**params) -> pytree of arrays`` is pure JAX (so it can be jitted);
``draw(fig, data, **params)`` draws ``data`` (NumPy arrays) into the matplotlib ``Figure`` ``fig``.  It may
return ``update(data, **params)``, a function that turns the figure it drew into the figure for other
parameters by changing only what depends on them (lines moved with ``set_data``, titles, ...); later
frames are then drawn by ``update``, which must leave the figure exactly as ``draw`` would have drawn it
(the tests compare the pixels).

Chapter: every chapter; introduced in ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dlbook import render, session
from dlbook._checks import as_array, check_callable, check_finite, check_int

__all__ = ["Slider", "slider", "explore", "Explorer"]


@dataclass(frozen=True)
class Slider:
    """One slider: the parameter ``name``, the grid of ``values`` it can take and its ``default``; see :func:`slider`.

    Example:
      >>> s = slider("lr", 0.25, 1.0, 4, default=0.6, fmt=".2f")
      >>> s
      Slider(name='lr', values=(0.25, 0.5, 0.75, 1.0), default=0.5, label='lr', fmt='.2f', names=None)
      >>> s.default_index, s.text(0.75)
      (1, '0.75')

    Chapter: book/ch01_gradient_descent.ipynb
    """

    name: str
    values: tuple[float, ...]
    default: float
    label: str
    fmt: str
    names: tuple[str, ...] | None = None

    @property
    def default_index(self) -> int:
        """Position of :attr:`default` in :attr:`values`.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return self.values.index(self.default)

    def text(self, value: float) -> str:
        """How ``value`` (one of :attr:`values`) is shown: its name, or the number formatted with :attr:`fmt`.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        if self.names is not None:
            return self.names[self.values.index(value)]
        return format(value, self.fmt)


def slider(
    name: str,
    start: float | None = None,
    stop: float | None = None,
    num: int | None = None,
    *,
    values: Sequence[float] | None = None,
    default: float,
    log: bool = False,
    label: str | None = None,
    fmt: str = ".3g",
    names: Sequence[str] | None = None,
) -> Slider:
    """Define a slider over ``num`` values from ``start`` to ``stop`` (geometric if ``log``) or over ``values``.

    ``default`` is snapped to the nearest grid value; the grid is rounded to float32, exactly what the
    kernels will see.

    Args:
      name: keyword under which the value is passed to ``compute`` and ``draw`` (a Python identifier).
      start, stop, num: the grid (``num ≥ 2``), unless ``values`` is given.
      values: explicit strictly increasing grid, shape ``(n,)`` with ``n ≥ 2``, instead of ``start/stop/num``.
      default: initial value (live and static views both start here).
      log: geometric spacing (``start, stop > 0``).
      label: text shown next to the slider (defaults to ``name``).
      fmt: format spec for the displayed value.
      names: a name shown for each grid value instead of the number (a slider over choices, e.g.
        ``values=[0, 1, 2], names=["raw", "min-max", "standardized"]``; ``compute`` gets the number).

    Example:
      >>> s = slider("kind", values=[0, 1, 2], names=["raw", "min-max", "std"], default=2)
      >>> s.default, s.text(s.default)
      (2.0, 'std')

    Chapter: book/ch01_gradient_descent.ipynb
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python identifier, got {name!r}")
    if values is None:
        if start is None or stop is None or num is None:
            raise ValueError(f"slider {name!r}: give either start, stop and num, or values")
        num = check_int("num", num, minimum=2)
        check_finite("start", start)
        check_finite("stop", stop)
        if not start < stop:
            raise ValueError(f"slider {name!r}: start must be < stop, got start={start}, stop={stop}")
        if log and start <= 0:
            raise ValueError(f"slider {name!r}: start must be > 0 when log=True, got {start}")
        grid = np.geomspace(start, stop, num) if log else np.linspace(start, stop, num)
    else:
        if start is not None or stop is not None or num is not None:
            raise ValueError(f"slider {name!r}: give either start, stop and num, or values, not both")
        grid = np.asarray(as_array("values", values), dtype=float)
        if grid.ndim != 1 or grid.size < 2:
            raise ValueError(f"slider {name!r}: values must be a 1-D sequence of at least 2 numbers, got shape {grid.shape}")
        check_finite("values", grid)
        if not np.all(np.diff(grid) > 0):
            raise ValueError(f"slider {name!r}: values must be strictly increasing")
    check_finite("default", default)
    grid = grid.astype(np.float32).astype(float)  # exactly what the float32 kernels will see
    if not grid[0] <= float(np.float32(default)) <= grid[-1]:
        raise ValueError(f"slider {name!r}: default must lie in [{grid[0]:g}, {grid[-1]:g}], got {default}")
    vals = tuple(float(v) for v in grid)
    snapped = vals[int(np.argmin(np.abs(grid - default)))]
    try:
        format(snapped, fmt)  # fail now on a bad format spec
    except (ValueError, TypeError) as err:
        raise ValueError(f"slider {name!r}: fmt must be a format spec for floats such as '.3g', got {fmt!r}") from err
    if names is not None:
        names = tuple(str(n) for n in names)
        if len(names) != len(vals):
            raise ValueError(f"slider {name!r}: names must have one entry per value ({len(vals)}), got {len(names)}")
    return Slider(name, vals, snapped, label or name, fmt, names)


def explore(
    compute: Callable[..., Any],
    draw: Callable[..., Callable[..., None] | None],
    sliders: Sequence[Slider],
    *,
    alt: str,
    figsize: tuple[float, float] = (6.4, 3.4),
    dpi: int = 80,
    colors: int = 96,
    max_bytes: int = render.MAX_EXPLORER_BYTES,
) -> Explorer:
    """Build an :class:`Explorer`; display it (last expression of a cell) to get the sliders.

    Args:
      compute: ``compute(**params) -> pytree of arrays``, pure JAX; jitted once, for both views.
      draw: ``draw(fig, data, **params)``, draws into a matplotlib ``Figure``; may return an
        ``update(data, **params)`` function for the later frames (see the module docstring).
      sliders: one :func:`slider` per parameter (names must be distinct).
      alt: text alternative describing what the figure shows (for screen readers).
      figsize, dpi: size of each frame, ``(width, height)`` in inches and dots per inch.
      colors: palette size of the compressed PNG frames (16–256).
      max_bytes: budget for the static HTML block; exceeding it raises with advice.

    Example:
      >>> ex = explore(lambda lr: 2 * lr, lambda fig, d, lr: fig.add_subplot().axhline(d),
      ...              [slider("lr", 0.25, 1.0, 4, default=0.5)], alt="a line at height 2α")
      >>> ex
      Explorer: lr ∈ [0.25, 1] (4 positions, default 0.5). Run the cell in Jupyter for live sliders.

    Chapter: book/ch01_gradient_descent.ipynb
    """
    check_callable("compute", compute)
    check_callable("draw", draw)
    sliders = tuple(sliders)
    if not sliders or not all(isinstance(s, Slider) for s in sliders):
        raise TypeError("sliders must be a non-empty sequence of Slider objects from dlbook.explorer.slider")
    names = [s.name for s in sliders]
    if len(set(names)) != len(names):
        raise ValueError(f"sliders must have distinct names, got {names}")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must be a non-empty description of the figure")
    figsize = as_array("figsize", figsize)
    if np.shape(figsize) != (2,) or not np.all(np.asarray(figsize, dtype=float) > 0):
        raise ValueError(f"figsize must be (width, height) in inches, both > 0, got {tuple(np.ravel(figsize))}")
    check_int("dpi", dpi, minimum=20)
    check_int("colors", colors, minimum=16)
    if colors > 256:
        raise ValueError(f"colors must be <= 256, got {colors}")
    check_int("max_bytes", max_bytes, minimum=1)
    return Explorer(compute, draw, sliders, alt, tuple(float(v) for v in figsize), dpi, colors, max_bytes)


@dataclass(frozen=True, eq=False, repr=False)
class Explorer:
    """Sliders over a jitted computation: the numbers of every frame, shown live or static; see :func:`explore`.

    Create it with :func:`explore`, which checks the arguments.  It holds no drawing state: the views
    (:mod:`dlbook.render`) own their figures.

    Example:
      >>> ex = explore(lambda lr: 2 * lr, lambda fig, d, lr: fig.add_subplot().axhline(d),
      ...              [slider("lr", 0.25, 1.0, 4, default=0.5)], alt="a line at height 2α")
      >>> ex.shape, ex.defaults, ex.frame_data(lr=0.75)
      ((4,), {'lr': 0.5}, array(1.5, dtype=float32))
      >>> params, data = ex.all_frame_data()
      >>> params[1], data
      ({'lr': 0.5}, array([0.5, 1. , 1.5, 2. ], dtype=float32))
      >>> _ = [ex.frame_data(lr=v) for v in ex.sliders[0].values]
      >>> ex.compile_count()
      1

    Chapter: book/ch01_gradient_descent.ipynb
    """

    compute: Callable[..., Any]
    draw: Callable[..., Any]
    sliders: tuple[Slider, ...]
    alt: str
    figsize: tuple[float, float]
    dpi: int
    colors: int
    max_bytes: int

    def __post_init__(self):
        names, traces, compute = tuple(s.name for s in self.sliders), [0], self.compute

        def by_position(*values):
            traces[0] += 1  # Python code runs only while JAX traces, i.e. once per compilation
            return compute(**dict(zip(names, values)))

        set_ = object.__setattr__  # frozen: the derived attributes are set once, here
        set_(self, "sliders", tuple(self.sliders))
        set_(self, "_traces", traces)
        set_(self, "_live", jax.jit(by_position))

    # -- the numbers -----------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """The sliders' parameter names, in slider order.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return tuple(s.name for s in self.sliders)

    @property
    def defaults(self) -> dict[str, float]:
        """The sliders' default values by name: the frame both views start on.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return {s.name: s.default for s in self.sliders}

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of positions of each slider; the static explorer has ``prod(shape)`` frames.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return tuple(len(s.values) for s in self.sliders)

    def frame_data(self, **params: float) -> Any:
        """``compute(**params)`` (other sliders at their defaults) through the jitted program, as NumPy arrays.

        Args:
          params: slider values by name (scalars); need not be grid values.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        unknown = set(params) - set(self.names)
        if unknown:
            raise ValueError(f"unknown slider name(s) {sorted(unknown)}; valid names: {list(self.names)}")
        full = {**self.defaults, **params}
        return jax.device_get(self._live(*(jnp.asarray(full[n], dtype=jnp.float32) for n in self.names)))

    def frame_params(self) -> list[dict[str, float]]:
        """The slider values of every frame, in C order over the sliders (``prod(shape)`` of them).

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return [dict(zip(self.names, g)) for g in itertools.product(*(s.values for s in self.sliders))]

    def iter_frames(self) -> Iterator[tuple[dict[str, float], Any]]:
        """``(params, data)`` of every frame in C order, each from the same program as :meth:`frame_data`.

        Pipelined: a worker thread computes the next frame while the caller draws this one (JAX releases
        the GIL while it computes, and on a CPU it computes when called, so a thread is what makes the two
        overlap).  Measured on chapter 3's 72-frame explorer: 3.0–4.0 s instead of 5.9 s one after the other.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        grid = self.frame_params()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlbook-frames") as worker:
            pending = worker.submit(self.frame_data, **grid[0])
            for k, params in enumerate(grid):
                data = pending.result()
                if k + 1 < len(grid):
                    pending = worker.submit(self.frame_data, **grid[k + 1])
                yield params, data

    def all_frame_data(self) -> tuple[list[dict[str, float]], Any]:
        """Parameters of every frame (C order over the sliders) and their data, stacked.

        Returns:
          ``(params, data)``: ``params[k]`` is frame ``k``'s slider values by name; ``data`` is the pytree
          ``compute`` returns, each leaf with a leading axis of ``prod(shape)`` frames, as NumPy arrays.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        params, data = zip(*self.iter_frames())
        return list(params), jax.tree_util.tree_map(lambda *xs: np.stack(xs), *data)

    def compile_count(self) -> int:
        """How many times ``compute`` was traced (so compiled): 1 however often sliders move or frames are made.

        Counted by the traced Python function itself, which runs only when JAX traces it.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return self._traces[0]

    # -- display ---------------------------------------------------------------------------------
    def summary(self) -> str:
        """The one-line text an explorer shows where no view can (and what executed notebooks store).

        Chapter: book/ch01_gradient_descent.ipynb
        """
        parts = [
            f"{s.label} ∈ [{s.text(s.values[0])}, {s.text(s.values[-1])}] ({len(s.values)} positions, default {s.text(s.default)})"
            for s in self.sliders
        ]
        return "Explorer: " + "; ".join(parts) + ". Run the cell in Jupyter for live sliders."

    def _repr_mimebundle_(self, include=None, exclude=None):
        view = render.static_bundle if session.mode() == "static" else render.live_bundle
        return {**view(self), "text/plain": self.summary()}

    def __repr__(self) -> str:
        return self.summary()
