"""The views of an :class:`~dlbook.explorer.Explorer`: PNG frames, the built book's HTML block, live sliders.

* :class:`FrameRenderer` draws frames into palette PNG bytes.  It owns one matplotlib ``Figure`` and the
  ``update`` function the explorer's ``draw`` may return: the first frame is drawn by ``draw``, every later
  one by ``update`` (axes, ticks, contours and other static layers are not rebuilt), unless ``fresh=True``.
* :func:`static_html` is the explorer's block in the built book: its markup (native ``<input type="range">``
  sliders, each inside its ``<label>``), its size and its frames as JSON.  No script or style is inlined:
  the site adds ``book/_static/dlbook-explorer.js`` and ``dlbook-explorer.css`` to every page (see
  ``book/_ext/dlbook_site.py``); the script wires up every ``.dlbook-explorer`` block.  Its ``id`` is a hash
  of its content: stable across builds, and nothing relies on it being unique on a page.
* :func:`widget` is the live ipywidgets view: one slider per parameter above the image.

Chapter: every chapter; introduced in ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # explorer imports this module; the views only read an explorer's attributes
    from dlbook.explorer import Explorer

__all__ = ["FrameRenderer", "frames", "static_html", "static_bundle", "widget", "live_bundle", "MAX_EXPLORER_BYTES",
           "MAX_PAGE_BYTES"]

#: Budget for one static explorer's HTML block (frames included), in bytes.
MAX_EXPLORER_BYTES = 1_500_000
#: Budget for one chapter page of the built book: everything a reader's browser loads for it (HTML with its
#: explorers, figures, scripts, styles, fonts), in bytes.  Checked by tests/site and tests/e2e.
MAX_PAGE_BYTES = 8_000_000


def _size(explorer: Explorer) -> tuple[int, int]:
    return round(explorer.figsize[0] * explorer.dpi), round(explorer.figsize[1] * explorer.dpi)


class FrameRenderer:
    """Draws an explorer's frames into PNG bytes: ``draw`` once, then its ``update`` for every later frame.

    Args:
      explorer: the :class:`~dlbook.explorer.Explorer` whose ``draw``, ``figsize``, ``dpi`` and ``colors``
        are used.
      fresh: draw every frame from scratch with ``draw``, never with the ``update`` it returns (what
        ``update`` must reproduce pixel for pixel).

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda lr: 2 * lr, lambda fig, d, lr: fig.add_subplot().axhline(d),
      ...              [slider("lr", 0.25, 1.0, 4, default=0.5)], alt="a line at height 2α", figsize=(2, 1), dpi=40)
      >>> FrameRenderer(ex).at(lr=0.75)[:4]
      b'\\x89PNG'

    Chapter: book/ch01_gradient_descent.ipynb
    """

    def __init__(self, explorer: Explorer, *, fresh: bool = False):
        self.explorer, self.fresh = explorer, bool(fresh)
        self._fig = None
        self._update = None

    @property
    def update(self) -> Any:
        """The ``update`` function the first ``draw`` returned, or ``None`` (not callable, or nothing drawn yet).

        Chapter: book/ch01_gradient_descent.ipynb
        """
        return self._update

    def png(self, data: Any, params: dict[str, float]) -> bytes:
        """Draw the frame of ``data`` (one frame's NumPy pytree) at slider values ``params`` as palette PNG bytes.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from PIL import Image

        ex = self.explorer
        if self._fig is None:
            # One figure and one Agg canvas for the renderer's lifetime: matplotlib's renderer (and with it its
            # cache of parsed math text, e.g. log-axis tick labels) survives from frame to frame.
            # A fixed layout (no constrained layout): one draw pass per frame instead of two.
            self._fig = Figure(figsize=ex.figsize, dpi=ex.dpi)
            FigureCanvasAgg(self._fig)
        fig = self._fig
        if self._update is None or self.fresh:
            fig.clear()
            fig.subplots_adjust(left=0.09, right=0.97, bottom=0.15, top=0.9, wspace=0.32, hspace=0.35)
            update = ex.draw(fig, data, **params)
            # anything else a draw returns (an Axes, a list of lines) is ignored: every frame is redrawn
            self._update = update if callable(update) else None
        else:
            self._update(data, **params)
        fig.canvas.draw()
        rgb = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba()).convert("RGB")
        out = io.BytesIO()
        # Palette PNG: plots have few colours; the octree quantizer keeps them and is fast.  zlib level 6 (its
        # default): level 9 took 7× as long to encode (0.73 s against 0.10 s for 72 frames) for 8–12 % fewer bytes.
        rgb.quantize(colors=ex.colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            out, format="png", compress_level=6
        )
        return out.getvalue()

    def at(self, **params: float) -> bytes:
        """PNG bytes of the figure at ``params`` (other sliders at their defaults), computed live.

        Chapter: book/ch01_gradient_descent.ipynb
        """
        data = self.explorer.frame_data(**params)
        return self.png(data, {**self.explorer.defaults, **params})


def frames(explorer: Explorer, *, fresh: bool = False) -> list[bytes]:
    """PNG bytes of every frame, in C order over the sliders (``prod(explorer.shape)`` of them).

    The numbers come from the explorer's one compiled program, the next frame computed while this one is
    drawn (:meth:`~dlbook.explorer.Explorer.iter_frames`); one :class:`FrameRenderer` draws them.
    ``frames(ex, fresh=True) == frames(ex)`` checks ``draw``'s update.

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda lr: 2 * lr, lambda fig, d, lr: fig.add_subplot().axhline(d),
      ...              [slider("lr", 0.25, 1.0, 4, default=0.5)], alt="a line at height 2α", figsize=(2, 1), dpi=40)
      >>> len(frames(ex))
      4

    Chapter: book/ch01_gradient_descent.ipynb
    """
    renderer = FrameRenderer(explorer, fresh=fresh)
    return [renderer.png(data, params) for params, data in explorer.iter_frames()]


def _json_in_html(obj: Any) -> str:
    """JSON safe inside a <script> element: no "</" (which would end it) and no "<!--"."""
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c")


def static_html(explorer: Explorer) -> str:
    """The explorer's HTML block in the built book: markup, size and every frame, no script or style of its own.

    ``<div class="dlbook-explorer" id="dlx-…" data-dlbook-explorer="START" style="max-width:Wpx">`` holds the
    image of frame ``START`` (the sliders' defaults), one ``<label>`` with its ``<input type="range">`` and
    an ``<output>`` per slider, and ``<script type="application/json" class="dlx-data">`` with ``frames``
    (base64 PNGs, C order), ``shape``, ``values`` (the texts shown) and ``labels``.  The site's
    ``dlbook-explorer.js`` maps slider positions to a frame and swaps the image.

    Raises ``ValueError`` with advice when the block exceeds the explorer's ``max_bytes``.

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda lr: 2 * lr, lambda fig, d, lr: fig.add_subplot().axhline(d),
      ...              [slider("lr", 0.25, 1.0, 4, default=0.5)], alt="a line at height 2α", figsize=(2, 1), dpi=40)
      >>> block = static_html(ex)
      >>> block.startswith('<div class="dlbook-explorer"'), block.count("<script"), 'data-dlbook-explorer="1"' in block
      (True, 1, True)

    Chapter: book/ch01_gradient_descent.ipynb
    """
    pngs = frames(explorer)
    sliders, shape = explorer.sliders, explorer.shape
    start = int(np.ravel_multi_index([s.default_index for s in sliders], shape))
    payload = {
        "frames": [base64.b64encode(f).decode("ascii") for f in pngs],
        "shape": list(shape),
        "values": [[s.text(v) for v in s.values] for s in sliders],
        "labels": [s.label for s in sliders],
    }
    data = _json_in_html(payload)
    w, h = _size(explorer)
    spec = json.dumps([explorer.alt, [s.name for s in sliders], [s.values for s in sliders], start, w, h])
    # from the content alone: stable across builds, the same for two identical explorers (nothing needs it unique)
    uid = "dlx-" + hashlib.sha256((spec + data).encode("utf-8")).hexdigest()[:12]
    rows = []
    for s in sliders:
        val = html.escape(s.text(s.default))
        rows.append(
            f'<div class="dlx-row"><label><span class="dlx-label">{html.escape(s.label)}</span>'
            f'<input type="range" min="0" max="{len(s.values) - 1}" step="1" value="{s.default_index}" '
            f'aria-valuetext="{val}"></label><output aria-live="polite">{val}</output></div>'
        )
    block = (
        f'<div class="dlbook-explorer" id="{uid}" data-dlbook-explorer="{start}" style="max-width:{w}px">'
        f'<img class="dlx-img" width="{w}" height="{h}" alt="{html.escape(explorer.alt, quote=True)}" '
        f'src="data:image/png;base64,{payload["frames"][start]}">'
        f'<div class="dlx-controls">{"".join(rows)}</div>'
        f'<script type="application/json" class="dlx-data">{data}</script></div>'
    )
    size = len(block.encode("utf-8"))
    if size > explorer.max_bytes:
        raise ValueError(
            f"static explorer is {size / 1e6:.2f} MB, over max_bytes={explorer.max_bytes / 1e6:.2f} MB: "
            f"use fewer slider positions (now {'×'.join(map(str, shape))} = {len(pngs)} frames), "
            "a smaller figsize or dpi, or fewer colors"
        )
    return block


def static_bundle(explorer: Explorer) -> dict[str, str]:
    """The static view as a MIME bundle: ``{"text/html": static_html(explorer)}``.

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda a: 2 * a, lambda fig, data, a: fig.add_subplot().plot([0, 1], [0, float(data)]),
      ...              [slider("a", 0.0, 1.0, 3, default=0.5)], alt="a line of slope 2a")
      >>> sorted(static_bundle(ex))
      ['text/html']

    Chapter: book/ch01_gradient_descent.ipynb
    """
    return {"text/html": static_html(explorer)}


def widget(explorer: Explorer) -> Any:
    """The live ipywidgets view: one ``SelectionSlider`` per parameter above an image of the figure.

    Moving a slider calls the jitted ``compute`` (no recompilation) and redraws the image with the view's
    own :class:`FrameRenderer`.  Returns an ``ipywidgets.VBox`` whose last child is the ``Image``.

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda a: 2 * a, lambda fig, data, a: fig.add_subplot().plot([0, 1], [0, float(data)]),
      ...              [slider("a", 0.0, 1.0, 3, default=0.5)], alt="a line of slope 2a")
      >>> [type(c).__name__ for c in widget(ex).children]              # one slider, then the image
      ['SelectionSlider', 'Image']

    Chapter: book/ch01_gradient_descent.ipynb
    """
    import ipywidgets as W

    renderer = FrameRenderer(explorer)
    image = W.Image(value=renderer.at(), format="png", layout=W.Layout(width=f"{_size(explorer)[0]}px"))
    controls = [
        W.SelectionSlider(
            options=[(s.text(v), v) for v in s.values],
            value=s.default,
            description=s.label,
            continuous_update=True,
            layout=W.Layout(width="95%"),
            style={"description_width": "6em"},
        )
        for s in explorer.sliders
    ]

    def update(_change=None):
        image.value = renderer.at(**{s.name: c.value for s, c in zip(explorer.sliders, controls)})

    for c in controls:
        c.observe(update, names="value")
    box = W.VBox([*controls, image])
    box._dlbook_update = update  # for tests: drive a redraw without a frontend
    return box


def live_bundle(explorer: Explorer) -> dict[str, Any]:
    """The live view as a MIME bundle: the ipywidgets view of :func:`widget` (no image, no HTML stored).

    Example:
      >>> from dlbook.explorer import explore, slider
      >>> ex = explore(lambda a: 2 * a, lambda fig, data, a: fig.add_subplot().plot([0, 1], [0, float(data)]),
      ...              [slider("a", 0.0, 1.0, 3, default=0.5)], alt="a line of slope 2a")
      >>> "application/vnd.jupyter.widget-view+json" in live_bundle(ex)
      True

    Chapter: book/ch01_gradient_descent.ipynb
    """
    bundle = widget(explorer)._repr_mimebundle_()
    return dict(bundle if isinstance(bundle, dict) else bundle[0])
