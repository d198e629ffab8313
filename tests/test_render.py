"""Tests for dlbook.render: palette PNG frames, frames drawn by draw's update function pixel for pixel those
drawn from scratch, the static HTML block (controls, payload, stable content ids, no inline script or style,
the byte budget) and the live ipywidgets view (every position the static frame, no recompilation)."""

import base64
import html
import io
import json
import re

import jax
import numpy as np
import pytest
from PIL import Image

from dlbook.descent import optimize
from dlbook.explorer import Explorer, explore, slider
from dlbook.optim import sgd
from dlbook.render import MAX_EXPLORER_BYTES, FrameRenderer, frames, static_bundle, static_html, widget
from dlbook.surfaces import parabola

T = 4
FIGSIZE, DPI = (2, 1.5), 40
ALT = 'GD on ½w² for learning rate α and start w₀ ("parabola")'


def compute(lr, w0):
    return optimize(parabola, w0, sgd(lr), T)


DRAWN = []  # (type of data.params, params) for every draw call


def draw(fig, data, lr, w0):
    DRAWN.append((type(data.params), lr, w0))
    ax = fig.add_subplot()
    ax.plot(data.params, "-o", ms=2)
    ax.set_ylim(-2.5, 2.5)


SLIDERS = (
    slider("lr", 0.2, 1.8, 3, default=0.9, label="α"),  # grid 0.2, 1.0, 1.8: default snaps to 1.0
    slider("w0", values=[-2.0, 2.0], default=2.0, label="w₀", fmt=".1f"),
)


def make(draw=draw, sliders=SLIDERS, alt=ALT, **kw):
    return explore(compute, draw, sliders, alt=alt, **{"figsize": FIGSIZE, "dpi": DPI, "colors": 32, **kw})


@pytest.fixture(scope="module")
def ex():
    return make()


@pytest.fixture(scope="module")
def pngs(ex):
    return frames(ex)


@pytest.fixture(scope="module")
def static(ex):
    return static_html(ex)


def default_index(ex):
    return int(np.ravel_multi_index([s.default_index for s in ex.sliders], ex.shape))


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)))


# -- frames -------------------------------------------------------------------------------------------


def test_frames_are_small_palette_pngs(ex, pngs):
    assert len(pngs) == int(np.prod(ex.shape))
    for f in pngs:
        img = Image.open(io.BytesIO(f))
        assert img.format == "PNG" and img.mode == "P"
        assert img.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
        assert len(img.getcolors()) <= 32


def test_default_frame_equals_live_render(ex, pngs):
    assert pngs[default_index(ex)] == FrameRenderer(ex).at()
    assert pngs[0] == FrameRenderer(ex).at(lr=0.2, w0=-2.0)


def test_frames_are_drawn_in_c_order(ex, pngs):
    params, _ = ex.all_frame_data()
    r = FrameRenderer(ex)
    assert [r.at(**p) for p in params] == pngs
    assert len(set(pngs)) == len(pngs)  # different values, different pictures


def test_draw_gets_numpy_data_and_float_params(ex):
    DRAWN.clear()
    FrameRenderer(ex).at(lr=0.2)
    kind, lr, w0 = DRAWN[-1]
    assert issubclass(kind, np.ndarray)
    assert (lr, w0) == (0.2, 2.0)


def _draw_with_update(fig, data, lr, w0):
    """The same figure as `draw`, with the changing parts moved by an update function."""
    ax = fig.add_subplot()
    (line,) = ax.plot(data.params, "-o", ms=2)
    ax.set_ylim(-2.5, 2.5)
    calls = {"draw": 1, "update": 0}

    def update(data, lr, w0):
        calls["update"] += 1
        line.set_ydata(data.params)

    update.calls = calls
    return update


def _draw_with_wrong_update(fig, data, lr, w0):
    ax = fig.add_subplot()
    ax.plot(data.params, "-o", ms=2)
    ax.set_ylim(-2.5, 2.5)
    return lambda data, lr, w0: None  # forgets to move the line


def test_update_function_draws_the_same_frames_and_skips_redrawing(ex, pngs):
    fast = make(_draw_with_update)
    params, data = fast.all_frame_data()
    r = FrameRenderer(fast)
    got = [r.png(jax.tree_util.tree_map(lambda a, k=k: a[k], data), p) for k, p in enumerate(params)]
    assert r.update.calls == {"draw": 1, "update": len(pngs) - 1}  # drawn once, updated for every later frame
    for a, b in zip(got, pngs):  # pixel for pixel what a fresh draw gives
        assert np.array_equal(pixels(a), pixels(b))
    assert frames(fast) == got
    assert frames(fast, fresh=True) == got
    assert FrameRenderer(fast).at(lr=0.2, w0=-2.0) == pngs[0] and fast.compile_count() == 1


def test_fresh_frames_catch_an_update_that_forgets_a_change():
    wrong = make(_draw_with_wrong_update)
    assert frames(wrong, fresh=True) != frames(wrong), "fresh frames must catch an update that forgets a change"


def test_fresh_renderer_draws_every_frame_with_draw():
    r = FrameRenderer(make(_draw_with_update), fresh=True)
    r.at(lr=0.2)
    first = r.update
    r.at(lr=1.8)
    assert r.update is not first and first.calls == {"draw": 1, "update": 0} and r.fresh


def test_renderers_do_not_share_state(ex):
    fast = make(_draw_with_update)
    a, b = FrameRenderer(fast), FrameRenderer(fast)
    a.at(lr=0.2)
    assert b.update is None  # b has drawn nothing yet
    assert b.at(lr=1.8) == FrameRenderer(ex).at(lr=1.8)
    assert a.update is not b.update and not hasattr(fast, "_update") and not hasattr(fast, "_fig")


def test_a_draw_returning_something_not_callable_redraws_every_frame():
    seen = []

    def draw_returning_axes(fig, data, lr, w0):
        seen.append(lr)
        return fig.add_subplot()

    r = FrameRenderer(make(draw_returning_axes))
    r.at(lr=0.2)
    r.at(lr=1.8)
    assert r.update is None and seen == [0.2, 1.8]


# -- static view --------------------------------------------------------------------------------------


def payload_of(block):
    m = re.search(r'<script type="application/json" class="dlx-data">(.*?)</script>', block, re.S)
    assert m, "no JSON payload"
    return json.loads(m.group(1))


def test_static_html_controls(ex, static):
    rows = re.findall(r'<div class="dlx-row"><label><span class="dlx-label">(.*?)</span>(<input [^>]*>)</label>'
                      r'<output aria-live="polite">(.*?)</output></div>', static)
    assert len(rows) == len(ex.sliders)
    assert static.count("<input") == static.count("<output") == static.count("<label") == len(ex.sliders)
    for (label, tag, shown), s in zip(rows, ex.sliders):  # each slider inside its label: no ids needed
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        assert set(attrs) == {"type", "min", "max", "step", "value", "aria-valuetext"}
        assert attrs["type"] == "range"
        assert attrs["min"] == "0" and attrs["max"] == str(len(s.values) - 1) and attrs["step"] == "1"
        assert attrs["value"] == str(s.default_index)
        assert html.unescape(attrs["aria-valuetext"]) == html.unescape(shown) == s.text(s.default)
        assert html.unescape(label) == s.label


def test_static_html_payload_and_initial_image(ex, static, pngs):
    d = payload_of(static)
    assert d["shape"] == list(ex.shape)
    assert len(d["frames"]) == int(np.prod(ex.shape)) == 6
    assert [base64.b64decode(f) for f in d["frames"]] == pngs
    assert d["values"] == [[s.text(v) for v in s.values] for s in ex.sliders]
    assert d["labels"] == ["α", "w₀"]
    start = default_index(ex)
    root = re.match(r'<div class="dlbook-explorer" id="(dlx-[0-9a-f]{12})" data-dlbook-explorer="(\d+)" '
                    r'style="max-width:(\d+)px">', static)
    assert root and int(root.group(2)) == start and int(root.group(3)) == round(FIGSIZE[0] * DPI)
    img = re.search(r'<img class="dlx-img" width="(\d+)" height="(\d+)" alt="([^"]*)" src="data:image/png;base64,([^"]+)">',
                    static)
    assert img.group(4) == d["frames"][start]
    assert base64.b64decode(img.group(4)) == FrameRenderer(ex).at()
    assert html.unescape(img.group(3)) == ALT
    assert (int(img.group(1)), int(img.group(2))) == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
    assert static.endswith("</script></div>")


def test_static_html_has_no_inline_script_or_style(static):
    """The site's dlbook-explorer.js/.css do the work: the block holds markup, its size and its data."""
    assert static.count("<script") == 1 and static.count("</script>") == 1
    assert '<script type="application/json" class="dlx-data">' in static
    assert "<style" not in static and static.count("style=") == 1  # only the block's max-width
    assert not re.search(r"\son\w+=", static)  # no inline event handlers


def test_static_html_is_self_contained(static):
    assert "http://" not in static and "https://" not in static
    assert "<link" not in static and 'src="http' not in static


def test_static_html_needs_no_unique_ids(static):
    assert static.count("id=") == 1  # only the block's own, which nothing relies on
    assert " for=" not in static and "aria-labelledby" not in static


def test_static_html_is_deterministic_and_its_id_stable_across_builds(ex, static):
    assert static_html(ex) == static
    again = make()  # a second build of the same explorer (e.g. the next `make book`)
    assert static_html(again) == static
    assert static_bundle(ex) == {"text/html": static}


def uid(block):
    return re.match(r'<div class="dlbook-explorer" id="(dlx-[0-9a-f]+)"', block).group(1)


def test_static_html_ids_differ_for_different_explorers(static):
    ids = {
        uid(static),
        uid(static_html(make(alt=ALT + " (again)"))),  # same frames, another description
        uid(static_html(make(sliders=(SLIDERS[0], slider("w0", values=[-2.0, 2.0], default=-2.0, label="w₀"))))),
        uid(static_html(make(sliders=(slider("lr", 0.2, 1.8, 3, default=0.9, label="learning rate"), SLIDERS[1])))),
        uid(static_html(make(dpi=DPI + 1))),
    }
    assert len(ids) == 5


def test_exceeding_max_bytes_raises(ex, static):
    small = Explorer(ex.compute, ex.draw, ex.sliders, ex.alt, ex.figsize, ex.dpi, ex.colors, len(static.encode()) - 1)
    with pytest.raises(ValueError, match=r"over max_bytes=.*6 frames"):
        static_html(small)
    exact = Explorer(ex.compute, ex.draw, ex.sliders, ex.alt, ex.figsize, ex.dpi, ex.colors, len(static.encode()))
    assert static_html(exact) == static
    with pytest.raises(ValueError, match="max_bytes"):
        static_html(make(max_bytes=1000))
    assert ex.max_bytes == MAX_EXPLORER_BYTES


def test_static_html_survives_a_label_with_a_closing_script_tag():
    s = [slider("lr", 0.2, 1.0, 2, default=0.2, label="a</script>b")]
    ex = explore(lambda lr: lr * 1.0, lambda fig, d, lr: fig.add_subplot(), s, alt="x", figsize=FIGSIZE, dpi=DPI)
    block = static_html(ex)
    assert block.count("</script>") == 1
    assert payload_of(block)["labels"] == ["a</script>b"]


def test_named_slider_in_the_static_view():
    names = ["raw", "min-max", "std"]
    s = [slider("kind", values=[0, 1, 2], names=names, default=2, label="input")]
    ex = explore(lambda kind: kind * 2.0, lambda fig, d, kind: fig.add_subplot().plot([0, d]), s, alt="x",
                 figsize=FIGSIZE, dpi=DPI)
    block = static_html(ex)
    assert payload_of(block)["values"] == [names]
    assert 'aria-valuetext="std"' in block and re.search(r"<output [^>]*>std</output>", block)


# -- live view ----------------------------------------------------------------------------------------


def test_live_widget_sliders_and_image(ex):
    W = pytest.importorskip("ipywidgets")
    box = widget(ex)
    *controls, image = box.children
    assert len(controls) == len(ex.sliders)
    for c, s in zip(controls, ex.sliders):
        assert isinstance(c, W.SelectionSlider)
        assert list(c.options) == [(s.text(v), v) for v in s.values]
        assert c.value == s.default and c.description == s.label
    assert isinstance(image, W.Image)
    assert bytes(image.value) == FrameRenderer(ex).at()
    before = bytes(image.value)
    box.children[0].value = ex.sliders[0].values[0]
    after = bytes(box.children[-1].value)
    assert after != before
    assert after == FrameRenderer(ex).at(lr=ex.sliders[0].values[0])
    box.children[1].value = -2.0
    assert bytes(box.children[-1].value) == FrameRenderer(ex).at(lr=ex.sliders[0].values[0], w0=-2.0)


def test_live_widget_never_recompiles():
    """Fails if a slider move traced compute again (e.g. the values passed as static Python floats)."""
    pytest.importorskip("ipywidgets")
    ex = make()
    box = widget(ex)
    assert ex.compile_count() == 1  # the first draw compiles
    for k, s in enumerate(ex.sliders):
        for v in (*s.values, s.default):
            box.children[k].value = v
    assert ex.compile_count() == 1


def test_static_frame_matches_live_widget_at_every_position(ex, pngs):
    pytest.importorskip("ipywidgets")
    fast = make(_draw_with_update)  # the live view redraws with draw's update function
    for e in (ex, fast):
        box = widget(e)
        params, _ = e.all_frame_data()
        for k, p in reversed(list(enumerate(params))):
            box.children[0].value, box.children[1].value = p["lr"], p["w0"]
            assert bytes(box.children[-1].value) == pngs[k], p


def test_named_slider_in_the_live_view():
    W = pytest.importorskip("ipywidgets")
    s = [slider("kind", values=[0, 1, 2], names=["raw", "min-max", "std"], default=2, label="input")]
    ex = explore(lambda kind: kind * 2.0, lambda fig, d, kind: fig.add_subplot().plot([0, d]), s, alt="x",
                 figsize=FIGSIZE, dpi=DPI)
    box = widget(ex)
    assert isinstance(box.children[0], W.SelectionSlider)
    assert list(box.children[0].options) == [("raw", 0.0), ("min-max", 1.0), ("std", 2.0)]
