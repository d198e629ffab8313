"""Explorers: one call turns a small computation and a drawing into sliders that work twice.

Usage (the last expression of a notebook cell)::

    explore(compute, draw, [slider("lr", 0.05, 1.2, 12, default=0.3, label="α")], alt="...")

* **Live** (Jupyter, with a kernel): ipywidgets sliders; moving one calls the jitted ``compute`` with
  the new values (traced as arrays, so the first draw compiles and no later move recompiles), then
  ``draw`` renders a PNG that replaces the image.
* **Static** (the built book, no kernel): when the environment variable ``DLBOOK_EXPLORERS=static``
  is set (``make book`` sets it), the cell's output is a self-contained HTML block: native
  ``<input type="range">`` sliders, keyboard-accessible, with the value shown, switching between frames
  precomputed for *every* slider position.  All frames' numbers come from one ``jax.jit(jax.vmap(compute))``
  call over the flattened grid of slider positions; only the drawing loops in Python.  No network, no CDN,
  no kernel.  The first frame shown is the live default.

Frames exist only in the built pages: a notebook executed without ``DLBOOK_EXPLORERS=static`` stores a
one-line text summary and no images.

Contract: ``compute(**params) -> pytree of arrays`` is pure JAX (so it can be jitted and vmapped);
``draw(fig, data, **params)`` draws ``data`` (NumPy arrays) into the matplotlib ``Figure`` ``fig``.
It may return ``update(data, **params)``, a function that turns the figure it drew into the figure for
other parameters by changing only what depends on them (lines moved with ``set_data``, titles, ...).
Then the first frame is drawn by ``draw`` and every later frame by ``update``: axes, ticks, contours and
other static layers are not rebuilt, which roughly halves the cost of a frame.  ``update`` must leave the
figure exactly as ``draw`` would have drawn it (the tests compare the pixels).

Chapter: every chapter; introduced in ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dlbook._checks import as_array, check_callable, check_choice, check_finite, check_int

__all__ = ["Slider", "slider", "explore", "Explorer", "progress", "MODE_ENV", "PROGRESS_ENV", "MAX_EXPLORER_BYTES",
           "MAX_PAGE_BYTES"]

#: Environment variable selecting the explorer mode: ``live`` (default) or ``static``.
MODE_ENV = "DLBOOK_EXPLORERS"
#: Budget for one static explorer's HTML (frames included), in bytes.
MAX_EXPLORER_BYTES = 1_500_000
#: Budget for one chapter page of the built book: everything a reader's browser loads for it (HTML with its
#: explorers, figures, scripts, styles, fonts), in bytes.  Checked by tests/site and tests/e2e.
MAX_PAGE_BYTES = 8_000_000


@dataclass(frozen=True)
class Slider:
    """A slider: its parameter ``name``, the grid of ``values`` it can take, and its ``default``."""

    name: str
    values: tuple[float, ...]
    default: float
    label: str
    fmt: str
    names: tuple[str, ...] | None = None

    @property
    def default_index(self) -> int:
        return self.values.index(self.default)

    def text(self, value: float) -> str:
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
    """Define a slider over ``num`` evenly spaced values from ``start`` to ``stop`` (geometric if ``log``),
    or over explicit ``values``.  ``default`` is snapped to the nearest grid value.

    Args:
      name: keyword under which the value is passed to ``compute`` and ``draw`` (a Python identifier).
      start, stop, num: the grid (``num ≥ 2``), unless ``values`` is given.
      values: explicit increasing grid, instead of ``start/stop/num``.
      default: initial value (live and static views both start here).
      log: geometric spacing (``start, stop > 0``).
      label: text shown next to the slider (defaults to ``name``).
      fmt: format spec for the displayed value.
      names: a name shown for each grid value instead of the number (a slider over choices, e.g.
        ``values=[0, 1, 2], names=["raw", "min-max", "standardized"]``; ``compute`` gets the number).
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


def _mode() -> str:
    return check_choice(MODE_ENV, os.environ.get(MODE_ENV, "live") or "live", ("live", "static"))


#: Environment variable for progress bars: ``on`` (default) or ``off``.  Every headless execution of the
#: chapters turns them off (nbval through the root ``conftest.py``, ``make outputs``, and the book build,
#: whose ``DLBOOK_EXPLORERS=static`` implies it), so no bar reaches the stored outputs or the built pages.
PROGRESS_ENV = "DLBOOK_PROGRESS"


def progress(iterable: Any, *, desc: str, total: int | None = None) -> Any:
    """``iterable`` with a progress bar for a reader running the chapter (``tqdm.auto``: a widget in Jupyter,
    text in a terminal); the plain ``iterable`` in headless runs (see :data:`PROGRESS_ENV`).

    The bar is removed when the loop ends, so nothing is left in the notebook.

    Example:
      >>> [x * x for x in progress(range(3), desc="squares")]
      [0, 1, 4]
    """
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {type(desc).__name__}")
    setting = check_choice(PROGRESS_ENV, os.environ.get(PROGRESS_ENV, "on") or "on", ("on", "off"))
    if setting == "off" or _mode() == "static":
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)


def explore(
    compute: Callable[..., Any],
    draw: Callable[..., Callable[..., None] | None],
    sliders: Sequence[Slider],
    *,
    alt: str,
    figsize: tuple[float, float] = (6.4, 3.4),
    dpi: int = 80,
    colors: int = 96,
    max_bytes: int = MAX_EXPLORER_BYTES,
) -> Explorer:
    """Build an :class:`Explorer`; display it (last expression of a cell) to get the sliders.

    Args:
      compute: ``compute(**params) -> pytree of arrays``, pure JAX; jitted once, vmapped for frames.
      draw: ``draw(fig, data, **params)``, draws into a matplotlib ``Figure``; may return an
        ``update(data, **params)`` function for the later frames (see the module docstring).
      sliders: one :func:`slider` per parameter (names must be distinct).
      alt: text alternative describing what the figure shows (for screen readers).
      figsize, dpi: size of each frame.
      colors: palette size of the compressed PNG frames (16–256).
      max_bytes: budget for the static HTML block; exceeding it raises with advice.
    """
    check_callable("compute", compute)
    check_callable("draw", draw)
    sliders = tuple(sliders)
    if not sliders or not all(isinstance(s, Slider) for s in sliders):
        raise TypeError("sliders must be a non-empty sequence of Slider objects from dlbook.widgets.slider")
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


class Explorer:
    """Sliders over a jitted computation; see the module docstring.  Create with :func:`explore`."""

    def __init__(self, compute, draw, sliders, alt, figsize, dpi, colors, max_bytes):
        self.compute, self.draw, self.sliders = compute, draw, sliders
        self.alt, self.figsize, self.dpi, self.colors, self.max_bytes = alt, figsize, dpi, colors, max_bytes
        self._names = tuple(s.name for s in sliders)
        by_position = lambda *vals: compute(**dict(zip(self._names, vals)))  # noqa: E731 - vmap needs positions
        self._live = jax.jit(by_position)
        self._batched = jax.jit(jax.vmap(by_position))
        self._fig = None
        self._update = None  # set by the first draw when draw returns an update function
        self._widget = None
        self._serial = next(_ids)  # creation order: tells identical explorers on one page apart

    # -- the numbers -----------------------------------------------------------------------------
    @property
    def defaults(self) -> dict[str, float]:
        return {s.name: s.default for s in self.sliders}

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of positions of each slider; the static explorer has ``prod(shape)`` frames."""
        return tuple(len(s.values) for s in self.sliders)

    def frame_data(self, **params: float) -> Any:
        """``compute(**params)`` through the jitted live path, as NumPy arrays."""
        unknown = set(params) - set(self._names)
        if unknown:
            raise ValueError(f"unknown slider name(s) {sorted(unknown)}; valid names: {list(self._names)}")
        full = {**self.defaults, **params}
        vals = [jnp.asarray(full[n], dtype=jnp.float32) for n in self._names]
        return jax.device_get(self._live(*vals))

    def all_frame_data(self) -> tuple[list[dict[str, float]], Any]:
        """Parameters of every frame (C order over the sliders) and their data, in one vmapped call."""
        grid = list(itertools.product(*(s.values for s in self.sliders)))
        cols = [jnp.asarray([g[i] for g in grid], dtype=jnp.float32) for i in range(len(self.sliders))]
        data = jax.device_get(self._batched(*cols))
        return [dict(zip(self._names, g)) for g in grid], data

    def compile_count(self) -> int:
        """How many times the live path has been compiled (stays 1 however often sliders move)."""
        return self._live._cache_size()

    # -- the pictures ----------------------------------------------------------------------------
    def _render(self, data: Any, params: dict[str, float]) -> bytes:
        """Draw one frame (with draw's update function once there is one) and encode it as a palette PNG."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from PIL import Image

        if self._fig is None:
            # One figure and one Agg canvas for the explorer's lifetime: the renderer (and with it
            # matplotlib's cache of parsed math text, e.g. log-axis tick labels) survives from frame to frame.
            # A fixed layout (no constrained layout): one draw pass per frame instead of two.
            self._fig = Figure(figsize=self.figsize, dpi=self.dpi)
            FigureCanvasAgg(self._fig)
        fig = self._fig
        if self._update is None:
            fig.clear()
            fig.subplots_adjust(left=0.09, right=0.97, bottom=0.15, top=0.9, wspace=0.32, hspace=0.35)
            update = self.draw(fig, data, **params)
            if callable(update):  # anything else a draw returns (an Axes, a list of lines) is ignored
                self._update = update
        else:
            self._update(data, **params)
        fig.canvas.draw()
        rgb = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba()).convert("RGB")
        out = io.BytesIO()
        # Palette PNG: plots have few colours; the octree quantizer keeps them and is fast.
        rgb.quantize(colors=self.colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            out, format="png", compress_level=9
        )
        return out.getvalue()

    def render(self, **params: float) -> bytes:
        """PNG bytes of the figure at ``params`` (others at their defaults), computed live."""
        full = {**self.defaults, **params}
        return self._render(self.frame_data(**params), full)

    def frames(self, *, fresh: bool = False) -> list[bytes]:
        """PNG bytes of every frame, in C order over the sliders.

        ``fresh=True`` draws every frame from scratch with ``draw``, never with the update function ``draw``
        may return: ``frames(fresh=True) == frames()`` checks that update function.
        """
        params, data = self.all_frame_data()
        out = []
        for i, p in enumerate(params):
            if fresh:
                self._update = None
            out.append(self._render(jax.tree_util.tree_map(lambda a, i=i: a[i], data), p))
        return out

    # -- the two views ---------------------------------------------------------------------------
    def summary(self) -> str:
        parts = [
            f"{s.label} ∈ [{s.text(s.values[0])}, {s.text(s.values[-1])}] ({len(s.values)} positions, default {s.text(s.default)})"
            for s in self.sliders
        ]
        return "Explorer: " + "; ".join(parts) + ". Run the cell in Jupyter for live sliders."

    def static_html(self) -> str:
        """The self-contained HTML block of the built book (frames inlined as data URIs)."""
        frames = self.frames()
        # distinct even for two identical explorers on one page (the serial), stable across builds
        uid = "dlx-" + hashlib.sha1(b"".join(frames[:1]) + self.alt.encode() + str(self._serial).encode()).hexdigest()[:10]
        shape = self.shape
        start = int(np.ravel_multi_index([s.default_index for s in self.sliders], shape))
        payload = {
            "frames": [base64.b64encode(f).decode("ascii") for f in frames],
            "shape": list(shape),
            "values": [[s.text(v) for v in s.values] for s in self.sliders],
            "labels": [s.label for s in self.sliders],
        }
        rows = []
        for k, s in enumerate(self.sliders):
            sid = f"{uid}-{k}"
            val = s.text(s.default)
            rows.append(
                f'<div class="dlx-row"><label for="{sid}">{html.escape(s.label)}</label>'
                f'<input type="range" id="{sid}" min="0" max="{len(s.values) - 1}" step="1" '
                f'value="{s.default_index}" aria-valuetext="{html.escape(val)}">'
                f'<output for="{sid}" aria-live="polite">{html.escape(val)}</output></div>'
            )
        alt = html.escape(self.alt, quote=True)
        w, h = (round(self.figsize[0] * self.dpi), round(self.figsize[1] * self.dpi))
        block = (
            f'<div class="dlbook-explorer" id="{uid}" data-dlbook-explorer="{start}">'
            f"<style>#{uid}{{max-width:{w}px;margin:1em 0}}"
            f"#{uid} img{{width:100%;height:auto;display:block}}"
            f"#{uid} .dlx-controls{{display:grid;grid-template-columns:max-content 1fr 5em;gap:.3em .8em;align-items:center}}"
            f"#{uid} .dlx-row{{display:contents}}#{uid} input{{width:100%}}"
            f"#{uid} output{{font-variant-numeric:tabular-nums}}</style>"
            f'<img class="dlx-img" width="{w}" height="{h}" alt="{alt}" '
            f'src="data:image/png;base64,{payload["frames"][start]}">'
            f'<div class="dlx-controls">{"".join(rows)}</div>'
            f'<script type="application/json" class="dlx-data">{_json_in_html(payload)}</script>'
            f"<script>{_STATIC_JS.replace('UID', uid)}</script></div>"
        )
        size = len(block.encode("utf-8"))
        if size > self.max_bytes:
            raise ValueError(
                f"static explorer is {size / 1e6:.2f} MB, over max_bytes={self.max_bytes / 1e6:.2f} MB: "
                f"use fewer slider positions (now {'×'.join(map(str, shape))} = {len(frames)} frames), "
                "a smaller figsize or dpi, or fewer colors"
            )
        return block

    def widget(self):
        """The live ipywidgets view: one slider per parameter above an image of the figure."""
        import ipywidgets as W

        image = W.Image(value=self.render(), format="png", layout=W.Layout(width=f"{round(self.figsize[0] * self.dpi)}px"))
        controls = []
        for s in self.sliders:
            sl = W.SelectionSlider(
                options=[(s.text(v), v) for v in s.values],
                value=s.default,
                description=s.label,
                continuous_update=True,
                layout=W.Layout(width="95%"),
                style={"description_width": "6em"},
            )
            controls.append(sl)

        def update(_change=None):
            image.value = self.render(**{s.name: c.value for s, c in zip(self.sliders, controls)})

        for c in controls:
            c.observe(update, names="value")
        box = W.VBox([*controls, image])
        box._dlbook_update = update  # for tests: drive a redraw without a frontend
        self._widget = box
        return box

    def _repr_mimebundle_(self, include=None, exclude=None):
        if _mode() == "static":
            return {"text/html": self.static_html(), "text/plain": self.summary()}
        bundle = self.widget()._repr_mimebundle_()
        bundle = bundle if isinstance(bundle, dict) else bundle[0]
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()


_ids = itertools.count()


def _json_in_html(obj: Any) -> str:
    """JSON safe inside a <script> element: no "</" (which would end it) and no "<!--"."""
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c")


# One small script per explorer: maps slider positions to a frame index (C order) and swaps the image.
_STATIC_JS = """(function(){
var root=document.getElementById("UID");if(!root)return;
var d=JSON.parse(root.querySelector(".dlx-data").textContent);
var img=root.querySelector(".dlx-img"),alt=img.getAttribute("alt");
var ins=root.querySelectorAll("input[type=range]"),outs=root.querySelectorAll("output");
function show(){var idx=0,desc=[];
for(var k=0;k<ins.length;k++){var i=parseInt(ins[k].value,10);idx=idx*d.shape[k]+i;
var v=d.values[k][i];outs[k].textContent=v;ins[k].setAttribute("aria-valuetext",v);desc.push(d.labels[k]+" = "+v);}
img.src="data:image/png;base64,"+d.frames[idx];img.alt=alt+" ("+desc.join(", ")+")";
root.setAttribute("data-frame",idx);}
for(var k=0;k<ins.length;k++){ins[k].addEventListener("input",show);}
root.setAttribute("data-frame",root.getAttribute("data-dlbook-explorer"));
})();"""
