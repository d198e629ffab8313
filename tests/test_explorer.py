"""Tests for dlbook.explorer: slider grids against numpy, argument checks, explorer numbers against the closed
form of GD on a parabola, no recompilation when sliders move, the display picked by mode, the summary."""

import numpy as np
import pytest

from dlbook import explorer, render, session
from dlbook.descent import optimize
from dlbook.explorer import Explorer, Slider, explore, slider
from dlbook.optim import sgd
from dlbook.surfaces import parabola

T = 4
FIGSIZE, DPI = (2, 1.5), 40
ALT = 'GD on ½w² for learning rate α and start w₀ ("parabola")'


def compute(lr, w0):
    return optimize(parabola, w0, sgd(lr), T)


def draw(fig, data, lr, w0):
    ax = fig.add_subplot()
    ax.plot(data.params, "-o", ms=2)
    ax.set_ylim(-2.5, 2.5)


def closed_form(lr, w0):
    """GD on ½w²: w_t = (1 − α)^t w0."""
    return (1 - lr) ** np.arange(T + 1) * w0


def make():
    sliders = [
        slider("lr", 0.2, 1.8, 3, default=0.9, label="α"),  # grid 0.2, 1.0, 1.8: default snaps to 1.0
        slider("w0", values=[-2.0, 2.0], default=2.0, label="w₀", fmt=".1f"),
    ]
    return explore(compute, draw, sliders, alt=ALT, figsize=FIGSIZE, dpi=DPI, colors=32)


@pytest.fixture(scope="module")
def ex():
    return make()


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


def test_explore_returns_plain_data(ex):
    assert isinstance(ex, Explorer)
    assert ex.sliders == tuple(ex.sliders) and all(isinstance(s, Slider) for s in ex.sliders)
    assert (ex.alt, ex.figsize, ex.dpi, ex.colors, ex.max_bytes) == (ALT, (2.0, 1.5), DPI, 32, render.MAX_EXPLORER_BYTES)
    with pytest.raises(AttributeError):
        ex.alt = "changed"  # frozen: nothing is swapped after creation
    assert not hasattr(explorer, "_ids")  # no module-global counter


# -- the numbers --------------------------------------------------------------------------------------


def test_defaults_and_shape(ex):
    assert ex.defaults == {"lr": 1.0, "w0": 2.0}
    assert ex.shape == (3, 2)
    assert ex.names == ("lr", "w0")


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
        render.FrameRenderer(ex).at(lr=0.2, step=3)


def test_all_frame_data_matches_frame_data_per_frame(ex):
    params, data = ex.all_frame_data()
    grid = [dict(lr=a, w0=b) for a in ex.sliders[0].values for b in ex.sliders[1].values]  # C order
    assert params == grid
    assert data.params.shape == (6, T + 1) and data.losses.shape == (6, T + 1)
    assert isinstance(data.params, np.ndarray)
    for k, p in enumerate(params):
        one = ex.frame_data(**p)
        np.testing.assert_allclose(data.params[k], one.params, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(data.losses[k], one.losses, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(data.params[k], closed_form(p["lr"], p["w0"]), rtol=1e-5, atol=1e-6)


# -- compilations ---------------------------------------------------------------------------------------


def test_moving_sliders_does_not_recompile():
    ex = make()
    assert ex.compile_count() == 0  # nothing traced before the first frame
    ex.frame_data()
    assert ex.compile_count() == 1
    for lr in ex.sliders[0].values:  # every position of every slider, as a live view would ask for them
        for w0 in ex.sliders[1].values:
            ex.frame_data(lr=lr, w0=w0)
    ex.frame_data(lr=0.37)  # off the grid too
    assert ex.compile_count() == 1


def test_static_frames_share_the_live_program():
    # one compilation per explorer, whichever view asks first: the static frames are the live view's numbers
    ex = make()
    ex.all_frame_data()
    assert ex.compile_count() == 1
    ex.frame_data(lr=0.37)
    render.frames(ex)
    assert ex.compile_count() == 1


def test_iter_frames_computes_the_next_frame_before_the_caller_draws_this_one(monkeypatch):
    import concurrent.futures
    import threading

    import dlbook.explorer as explorer_module

    submitted, threads = [], []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            submitted.append(kwargs)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(explorer_module, "ThreadPoolExecutor", Recording)
    ex = make()
    compute = type(ex).frame_data
    monkeypatch.setattr(type(ex), "frame_data",
                        lambda self, **p: threads.append(threading.current_thread().name) or compute(self, **p))
    seen = []
    for params, data in ex.iter_frames():
        seen.append(params)
        np.testing.assert_allclose(data.params, closed_form(params["lr"], params["w0"]), rtol=1e-5, atol=1e-6)
        assert len(submitted) == min(len(seen) + 1, len(ex.frame_params()))  # one frame ahead, never more
    assert submitted == seen == ex.frame_params()
    assert len(threads) == len(seen) and all(t.startswith("dlbook-frames") for t in threads)  # off the caller's thread


def test_compile_count_counts_every_trace():
    """The count is not vacuous: a call JAX has to compile again (new shapes) is counted."""
    ex = make()
    ex.frame_data()
    ex._live(0.5, 2.0)  # Python floats (weakly typed), not float32 arrays: a new trace and compilation
    assert ex.compile_count() == 2
    ex._live(0.25, -2.0)  # the same types again: cached
    ex.frame_data(lr=0.2)
    assert ex.compile_count() == 2


def test_explorers_count_their_own_compilations():
    a, b = make(), make()
    a.frame_data()
    assert (a.compile_count(), b.compile_count()) == (1, 0)


# -- display modes ------------------------------------------------------------------------------------


def test_mimebundle_static_mode(ex, monkeypatch):
    monkeypatch.setenv(session.MODE_ENV, "static")
    bundle = ex._repr_mimebundle_()
    assert bundle == {"text/html": render.static_html(ex), "text/plain": ex.summary()}


@pytest.mark.parametrize("env", [None, "", "live"])
def test_mimebundle_live_mode(ex, monkeypatch, env):
    W = pytest.importorskip("ipywidgets")
    if env is None:
        monkeypatch.delenv(session.MODE_ENV, raising=False)
    else:
        monkeypatch.setenv(session.MODE_ENV, env)
    bundle = ex._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    state = W.Widget.get_manager_state()["state"]
    assert state[view["model_id"]]["model_name"] == "VBoxModel"
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
    assert text == ("Explorer: α ∈ [0.2, 1.8] (3 positions, default 1); w₀ ∈ [-2.0, 2.0] (2 positions, default 2.0). "
                    "Run the cell in Jupyter for live sliders.")


def test_summary_is_what_the_chapters_store():
    """Byte for byte the text/plain output stored in book/ch01_gradient_descent.ipynb (nbval compares it)."""
    ex = explore(lambda alpha: alpha, draw, [slider("alpha", 0.05, 2.3, 16, log=True, default=0.3, label="α")], alt="x")
    assert ex.summary() == "Explorer: α ∈ [0.05, 2.3] (16 positions, default 0.298). Run the cell in Jupyter for live sliders."


# -- sliders over named choices -----------------------------------------------------------------------


def test_slider_names_are_shown_instead_of_numbers():
    s = slider("kind", values=[0, 1, 2], names=["raw", "min-max", "standardized"], default=1)
    assert s.values == (0.0, 1.0, 2.0) and s.default == 1.0
    assert [s.text(v) for v in s.values] == ["raw", "min-max", "standardized"]
    with pytest.raises(ValueError, match=r"names must have one entry per value \(3\), got 2"):
        slider("kind", values=[0, 1, 2], names=["raw", "min-max"], default=0)


def test_named_slider_computes_with_the_number():
    s = [slider("kind", values=[0, 1, 2], names=["raw", "min-max", "std"], default=2, label="input")]
    ex = explore(lambda kind: kind * 2.0, draw, s, alt="x")
    np.testing.assert_allclose(ex.frame_data(kind=1.0), 2.0)
    assert ex.summary() == "Explorer: input ∈ [raw, std] (3 positions, default std). Run the cell in Jupyter for live sliders."


def test_the_package_exports():
    import dlbook as db

    assert db.explore is explore and db.slider is slider and db.Explorer is Explorer
    assert db.progress is session.progress
