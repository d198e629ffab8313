"""Tests for dlbook.widgets: slider grids against numpy, explorer numbers against the closed form of GD on a
parabola, static HTML structure, both display modes, and no recompilation when sliders move."""

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402
import html  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from dlbook import widgets  # noqa: E402
from dlbook.descent import optimize  # noqa: E402
from dlbook.optim import sgd  # noqa: E402
from dlbook.surfaces import parabola  # noqa: E402
from dlbook.widgets import Explorer, Slider, explore, slider  # noqa: E402

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


def closed_form(lr, w0):
    """GD on ½w²: w_t = (1 − α)^t w0."""
    return (1 - lr) ** np.arange(T + 1) * w0


@pytest.fixture(scope="module")
def ex():
    sliders = [
        slider("lr", 0.2, 1.8, 3, default=0.9, label="α"),  # grid 0.2, 1.0, 1.8: default snaps to 1.0
        slider("w0", values=[-2.0, 2.0], default=2.0, label="w₀", fmt=".1f"),
    ]
    return explore(compute, draw, sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI, colors=32)


@pytest.fixture(scope="module")
def frames(ex):
    return ex.frames()


@pytest.fixture(scope="module")
def static(ex):
    return ex.static_html()


def default_index(ex):
    return int(np.ravel_multi_index([s.default_index for s in ex.sliders], ex.shape))


# -- slider -------------------------------------------------------------------------------------------


def test_slider_linear_grid_and_default_snapping():
    s = slider("lr", 0.05, 1.2, 12, default=0.3)
    assert isinstance(s, Slider)
    ref = np.linspace(0.05, 1.2, 12)
    np.testing.assert_allclose(s.values, ref, rtol=1e-6)
    assert s.default == s.values[int(np.argmin(np.abs(ref - 0.3)))]
    assert s.values[s.default_index] == s.default
    assert s.label == "lr" and s.text(s.default) == format(s.default, ".3g")


def test_slider_log_grid():
    s = slider("lr", 1e-3, 1.0, 4, default=0.02, log=True, label="α", fmt=".0e")
    np.testing.assert_allclose(s.values, np.geomspace(1e-3, 1.0, 4), rtol=1e-6)
    assert s.default == s.values[1]  # 0.02 is nearest to 0.01 on a linear distance
    assert s.label == "α" and s.text(s.values[0]) == "1e-03"


@pytest.mark.parametrize("default, expected", [(0.0, 0.0), (0.24, 0.0), (0.26, 0.5), (1.0, 1.0), (0.74, 0.5)])
def test_slider_default_snaps_to_nearest_value(default, expected):
    s = slider("x", values=[0.0, 0.5, 1.0], default=default)
    assert s.default == expected


def test_slider_explicit_values():
    s = slider("k", values=[1, 2, 4, 8], default=3.1)
    assert s.values == (1.0, 2.0, 4.0, 8.0)
    assert s.default == 4.0 and s.default_index == 2


def test_log_slider_with_small_values_stays_geometric():
    s = slider("wd", 1e-9, 1e-7, 3, log=True, default=1e-8)
    assert np.all(np.diff(s.values) > 0) and s.values[0] > 0
    np.testing.assert_allclose(s.values, np.geomspace(1e-9, 1e-7, 3), rtol=1e-6)
    assert s.default == s.values[1]


def test_slider_bad_input():
    with pytest.raises(ValueError, match="^name must be a Python identifier"):
        slider("learning rate", 0, 1, 3, default=0.5)
    with pytest.raises(ValueError, match="give either start, stop and num, or values"):
        slider("a", 0, 1, default=0.5)
    with pytest.raises(ValueError, match="not both"):
        slider("a", 0, 1, 3, values=[0, 1], default=0.5)
    with pytest.raises(ValueError, match="^num must be >= 2"):
        slider("a", 0, 1, 1, default=0.5)
    with pytest.raises(TypeError, match="^num must be an int"):
        slider("a", 0, 1, 3.0, default=0.5)
    with pytest.raises(ValueError, match="start must be < stop"):
        slider("a", 1, 0, 3, default=0.5)
    with pytest.raises(ValueError, match="start must be > 0 when log=True"):
        slider("a", 0, 1, 3, default=0.5, log=True)
    with pytest.raises(ValueError, match="^start must be finite"):
        slider("a", np.nan, 1, 3, default=0.5)
    with pytest.raises(ValueError, match="values must be strictly increasing"):
        slider("a", values=[0, 2, 1], default=1)
    with pytest.raises(ValueError, match="values must be a 1-D sequence of at least 2"):
        slider("a", values=[1.0], default=1)
    with pytest.raises(ValueError, match=r"slider 'a': default must lie in \[0, 1\], got 1.5"):
        slider("a", 0, 1, 3, default=1.5)
    with pytest.raises(ValueError, match="default must lie in"):
        slider("a", values=[0.1, 0.2], default=0.0)
    with pytest.raises(ValueError, match="^default must be finite"):
        slider("a", 0, 1, 3, default=np.nan)


def test_slider_bad_fmt_names_the_argument():
    with pytest.raises(ValueError, match="fmt"):
        slider("a", 0, 1, 3, default=0.5, fmt="zz")


# -- explore ------------------------------------------------------------------------------------------


def test_explore_bad_input():
    s = [slider("lr", 0.1, 1.0, 2, default=0.1)]
    ok = dict(alt="x", figsize=FIGSIZE, dpi=DPI)
    with pytest.raises(TypeError, match="^compute must be callable"):
        explore(None, draw, s, **ok)
    with pytest.raises(TypeError, match="^draw must be callable"):
        explore(compute, "draw", s, **ok)
    with pytest.raises(TypeError, match="^sliders must be a non-empty sequence"):
        explore(compute, draw, [], **ok)
    with pytest.raises(TypeError, match="^sliders must be a non-empty sequence"):
        explore(compute, draw, [("lr", 0.1)], **ok)
    with pytest.raises(ValueError, match=r"^sliders must have distinct names, got \['lr', 'lr'\]"):
        explore(compute, draw, [s[0], slider("lr", 0.0, 1.0, 3, default=0.0)], **ok)
    for alt in ("", "   ", None):
        with pytest.raises(ValueError, match="^alt must be a non-empty description"):
            explore(compute, draw, s, alt=alt)
    with pytest.raises(ValueError, match="^dpi must be >= 20"):
        explore(compute, draw, s, alt="x", dpi=10)
    with pytest.raises(ValueError, match="^colors must be >= 16"):
        explore(compute, draw, s, alt="x", colors=8)
    with pytest.raises(ValueError, match="^colors must be <= 256"):
        explore(compute, draw, s, alt="x", colors=300)
    with pytest.raises(ValueError, match="^max_bytes must be >= 1"):
        explore(compute, draw, s, alt="x", max_bytes=0)


# -- the numbers --------------------------------------------------------------------------------------


def test_defaults_and_shape(ex):
    assert ex.defaults == {"lr": 1.0, "w0": 2.0}
    assert ex.shape == (3, 2)


def test_frame_data_is_compute_at_the_defaults_and_at_given_values(ex):
    d = ex.frame_data()
    np.testing.assert_allclose(d.params, closed_form(1.0, 2.0), atol=1e-6)
    d = ex.frame_data(lr=0.2)
    np.testing.assert_allclose(d.params, closed_form(0.2, 2.0), rtol=1e-5)
    np.testing.assert_allclose(d.losses, 0.5 * closed_form(0.2, 2.0) ** 2, rtol=1e-5)
    assert isinstance(d.params, np.ndarray)


def test_frame_data_rejects_unknown_slider_names(ex):
    with pytest.raises(ValueError, match=r"unknown slider name\(s\) \['alpha'\]; valid names: \['lr', 'w0'\]"):
        ex.frame_data(alpha=0.1)
    with pytest.raises(ValueError, match="unknown slider name"):
        ex.render(lr=0.2, step=3)


def test_all_frame_data_matches_frame_data_per_frame(ex):
    params, data = ex.all_frame_data()
    grid = [dict(lr=a, w0=b) for a in ex.sliders[0].values for b in ex.sliders[1].values]  # C order
    assert params == grid
    assert data.params.shape == (6, T + 1) and data.losses.shape == (6, T + 1)
    for k, p in enumerate(params):
        one = ex.frame_data(**p)
        np.testing.assert_allclose(data.params[k], one.params, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(data.losses[k], one.losses, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(data.params[k], closed_form(p["lr"], p["w0"]), rtol=1e-5, atol=1e-6)


def test_render_does_not_recompile(ex):
    ex.render()
    n = ex.compile_count()
    assert n == 1
    outs = {ex.render(lr=lr, w0=w0) for lr in ex.sliders[0].values for w0 in (-2.0, 2.0)}
    ex.frame_data(lr=0.2, w0=-2.0)
    assert ex.compile_count() == n
    assert len(outs) > 1  # different values, different pictures


# -- the pictures -------------------------------------------------------------------------------------


def test_frames_are_small_palette_pngs(ex, frames):
    assert len(frames) == int(np.prod(ex.shape))
    for f in frames:
        img = Image.open(io.BytesIO(f))
        assert img.format == "PNG" and img.mode == "P"
        assert img.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
        assert len(img.getcolors()) <= 32


def test_default_frame_equals_live_render(ex, frames):
    assert frames[default_index(ex)] == ex.render()
    assert frames[0] == ex.render(lr=0.2, w0=-2.0)


def test_draw_gets_numpy_data_and_float_params(ex):
    DRAWN.clear()
    ex.render(lr=0.2)
    kind, lr, w0 = DRAWN[-1]
    assert issubclass(kind, np.ndarray)
    assert (lr, w0) == (0.2, 2.0)


# -- static view --------------------------------------------------------------------------------------


def payload_of(block):
    m = re.search(r'<script type="application/json" class="dlx-data">(.*?)</script>', block, re.S)
    assert m, "no JSON payload"
    return json.loads(m.group(1))


def test_static_html_controls(ex, static):
    inputs = re.findall(r"<input [^>]*>", static)
    assert len(inputs) == len(ex.sliders)
    assert static.count('<input type="range"') == len(ex.sliders)
    for tag, s in zip(inputs, ex.sliders):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        assert attrs["type"] == "range"
        assert attrs["min"] == "0" and attrs["max"] == str(len(s.values) - 1) and attrs["step"] == "1"
        assert attrs["value"] == str(s.default_index)
        assert html.unescape(attrs["aria-valuetext"]) == s.text(s.default)
        assert re.search(rf'<label for="{attrs["id"]}">{re.escape(html.escape(s.label))}</label>', static)
        m = re.search(rf'<output for="{attrs["id"]}"[^>]*>(.*?)</output>', static)
        assert m and html.unescape(m.group(1)) == s.text(s.default)
    assert static.count("<output") == len(ex.sliders)


def test_static_html_payload_and_initial_image(ex, static, frames):
    d = payload_of(static)
    assert d["shape"] == list(ex.shape)
    assert len(d["frames"]) == int(np.prod(ex.shape)) == 6
    assert [base64.b64decode(f) for f in d["frames"]] == frames
    assert d["values"] == [[s.text(v) for v in s.values] for s in ex.sliders]
    assert d["labels"] == ["α", "w₀"]
    start = default_index(ex)
    assert f'data-dlbook-explorer="{start}"' in static
    src = re.search(r'<img class="dlx-img"[^>]* src="data:image/png;base64,([^"]+)"', static).group(1)
    assert src == d["frames"][start]
    assert base64.b64decode(src) == ex.render()
    alt = re.search(r'<img class="dlx-img"[^>]* alt="([^"]*)"', static).group(1)
    assert html.unescape(alt) == ALT


def test_static_html_is_self_contained(static):
    assert "http://" not in static and "https://" not in static
    assert "<link" not in static and "src=\"http" not in static
    assert static.count("</script>") == 2  # the JSON payload and the small script


def test_static_html_is_deterministic(ex, static):
    assert ex.static_html() == static


def test_exceeding_max_bytes_raises(ex, static):
    small = Explorer(ex.compute, ex.draw, ex.sliders, ex.alt, ex.figsize, ex.dpi, ex.colors, len(static.encode()) - 1)
    with pytest.raises(ValueError, match=r"over max_bytes=.*6 frames"):
        small.static_html()
    via_explore = explore(compute, draw, ex.sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI, max_bytes=1000)
    with pytest.raises(ValueError, match="max_bytes"):
        via_explore.static_html()


def test_static_html_survives_a_label_with_a_closing_script_tag():
    s = [slider("lr", 0.2, 1.0, 2, default=0.2, label="a</script>b")]
    ex = explore(lambda lr: lr * 1.0, lambda fig, d, lr: fig.add_subplot(), s, alt="x", figsize=FIGSIZE, dpi=DPI)
    block = ex.static_html()
    assert block.count("</script>") == 2


# -- display modes ------------------------------------------------------------------------------------


def test_mimebundle_static_mode(ex, static, monkeypatch):
    monkeypatch.setenv(widgets.MODE_ENV, "static")
    bundle = ex._repr_mimebundle_()
    assert bundle["text/html"] == static
    assert bundle["text/plain"] == ex.summary()


@pytest.mark.parametrize("env", [None, "", "live"])
def test_mimebundle_live_mode(ex, monkeypatch, env):
    pytest.importorskip("ipywidgets")
    if env is None:
        monkeypatch.delenv(widgets.MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(widgets.MODE_ENV, env)
    bundle = ex._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == ex._widget.model_id
    assert bundle["text/plain"] == ex.summary()
    assert "text/html" not in bundle and "image/png" not in bundle  # no frames stored in live notebooks


@pytest.mark.parametrize("bad", ["STATIC", "html", "1"])
def test_bad_mode_env_raises(ex, monkeypatch, bad):
    monkeypatch.setenv("DLBOOK_EXPLORERS", bad)
    with pytest.raises(ValueError, match=rf"^DLBOOK_EXPLORERS must be one of 'live', 'static'; got '{bad}'"):
        ex._repr_mimebundle_()


def test_summary_and_repr(ex):
    text = ex.summary()
    assert repr(ex) == text
    assert "α ∈ [0.2, 1.8] (3 positions, default 1)" in text
    assert "w₀ ∈ [-2.0, 2.0] (2 positions, default 2.0)" in text


def test_live_widget_sliders_and_image(ex):
    W = pytest.importorskip("ipywidgets")
    box = ex.widget()
    *controls, image = box.children
    assert len(controls) == len(ex.sliders)
    for c, s in zip(controls, ex.sliders):
        assert isinstance(c, W.SelectionSlider)
        assert list(c.options) == [(s.text(v), v) for v in s.values]
        assert c.value == s.default and c.description == s.label
    assert isinstance(image, W.Image)
    assert bytes(image.value) == ex.render()
    n = ex.compile_count()
    before = bytes(image.value)
    box.children[0].value = ex.sliders[0].values[0]
    after = bytes(box.children[-1].value)
    assert after != before
    assert after == ex.render(lr=ex.sliders[0].values[0])
    box.children[1].value = -2.0
    assert bytes(box.children[-1].value) == ex.render(lr=ex.sliders[0].values[0], w0=-2.0)
    assert ex.compile_count() == n


def test_static_frame_matches_live_widget_at_every_position(ex, frames):
    pytest.importorskip("ipywidgets")
    box = ex.widget()
    params, _ = ex.all_frame_data()
    for k, p in enumerate(params):
        box.children[0].value, box.children[1].value = p["lr"], p["w0"]
        assert bytes(box.children[-1].value) == frames[k], p


def test_explorer_compiles_once_under_vmap_for_frames(ex):
    ex.all_frame_data()
    n = ex._batched._cache_size()
    ex.all_frame_data()
    assert ex._batched._cache_size() == n == 1
    assert isinstance(jax.tree_util.tree_leaves(ex.all_frame_data()[1])[0], np.ndarray)


# -- sliders over named choices -----------------------------------------------------------------------


def test_slider_names_are_shown_instead_of_numbers():
    s = slider("kind", values=[0, 1, 2], names=["raw", "min-max", "standardized"], default=1)
    assert s.values == (0.0, 1.0, 2.0) and s.default == 1.0
    assert [s.text(v) for v in s.values] == ["raw", "min-max", "standardized"]
    with pytest.raises(ValueError, match=r"names must have one entry per value \(3\), got 2"):
        slider("kind", values=[0, 1, 2], names=["raw", "min-max"], default=0)


def test_named_slider_in_both_views():
    names = ["raw", "min-max", "std"]
    s = [slider("kind", values=[0, 1, 2], names=names, default=2, label="input")]
    ex = explore(
        lambda kind: kind * 2.0,
        lambda fig, d, kind: fig.add_subplot().plot([0, d]),
        s,
        alt="x",
        figsize=FIGSIZE,
        dpi=DPI,
    )
    np.testing.assert_allclose(ex.frame_data(kind=1.0), 2.0)  # compute gets the number, not the name
    block = ex.static_html()
    assert payload_of(block)["values"] == [names]
    assert 'aria-valuetext="std"' in block and re.search(r"<output [^>]*>std</output>", block)
    W = pytest.importorskip("ipywidgets")
    box = ex.widget()
    assert isinstance(box.children[0], W.SelectionSlider)
    assert list(box.children[0].options) == [("raw", 0.0), ("min-max", 1.0), ("std", 2.0)]


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


def test_update_function_draws_the_same_frames_and_skips_redrawing(ex, frames):
    fast = explore(compute, _draw_with_update, ex.sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI, colors=32)
    got = fast.frames()
    assert fast._update.calls == {"draw": 1, "update": len(frames) - 1}
    for a, b in zip(got, frames):  # pixel for pixel what a fresh draw gives
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(b))))
    assert fast.frames(fresh=True) == got
    wrong = explore(compute, _draw_with_wrong_update, ex.sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI, colors=32)
    assert wrong.frames(fresh=True) != wrong.frames(), "frames(fresh=True) must catch an update that forgets a change"
    assert fast.render(lr=0.2, w0=-2.0) == frames[0] and fast.compile_count() == 1


def test_a_draw_returning_something_not_callable_redraws_every_frame(ex):
    seen = []

    def draw_returning_axes(fig, data, lr, w0):
        seen.append(lr)
        return fig.add_subplot()

    other = explore(compute, draw_returning_axes, ex.sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI)
    other.render(lr=0.2)
    other.render(lr=1.8)
    assert other._update is None and len(seen) == 2


# -- progress ------------------------------------------------------------------------------------------------


def test_progress_is_the_plain_iterable_in_headless_runs(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv(widgets.PROGRESS_ENV, "off")
    assert widgets.progress(items, desc="x") is items
    monkeypatch.setenv(widgets.PROGRESS_ENV, "on")
    monkeypatch.setenv(widgets.MODE_ENV, "static")  # the book build: no bars either
    assert widgets.progress(items, desc="x") is items


def test_progress_shows_a_bar_in_a_live_session(monkeypatch, capsys):
    monkeypatch.setenv(widgets.PROGRESS_ENV, "on")
    monkeypatch.setenv(widgets.MODE_ENV, "live")
    bar = widgets.progress(range(4), desc="training")
    assert list(bar) == [0, 1, 2, 3]
    assert "training" in capsys.readouterr().err  # tqdm's text bar outside Jupyter


def test_progress_bad_input(monkeypatch):
    with pytest.raises(TypeError, match="^desc must be a string"):
        widgets.progress([1], desc=3)
    monkeypatch.setenv(widgets.PROGRESS_ENV, "yes")
    with pytest.raises(ValueError, match="^DLBOOK_PROGRESS must be one of 'on', 'off'"):
        widgets.progress([1], desc="x")
