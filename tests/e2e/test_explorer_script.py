"""The site's explorer script and style (book/_static/dlbook-explorer.js, .css) on a small page, in Chromium.

No book build needed: the page holds three blocks made by ``dlbook.render.static_html`` (two identical ones,
so they share their content-derived id, and one with two sliders) and loads the script and style from the
``<head>``, as the Sphinx pages do.  Each block must start on its default frame and follow its own sliders
(C-order frame index, image, ``<output>``, ``aria-valuetext``, alt text, ``data-frame``) without touching
the others; each slider is named by its label.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from dlbook.explorer import explore, slider
from dlbook.render import static_html

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "book" / "_static"


def _draw(fig, data, a, b=0.0):
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, float(data)], lw=3)
    ax.set_ylim(-3, 3)
    ax.set_title(f"{a:.2f} {b:.2f}")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def explorer_page(tmp_path_factory):
    one = explore(lambda a: a, _draw, [slider("a", 0.0, 2.0, 3, default=1.0, label="α")], alt="a line of slope α",
                  figsize=(6, 1.5), dpi=40, colors=16)
    two = explore(lambda a, b: a - b, _draw,
                  [slider("a", 0.0, 2.0, 3, default=0.0, label="α"),
                   slider("b", values=[0, 1], names=["off", "on"], default=1, label="b <switch>")],
                  alt="a line of slope α − b", figsize=(6, 1.5), dpi=40, colors=16)
    blocks = [static_html(one), static_html(one), static_html(two)]
    work = tmp_path_factory.mktemp("explorer-page")
    for asset in ("dlbook-explorer.js", "dlbook-explorer.css"):
        shutil.copy(STATIC / asset, work / asset)
    (work / "index.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>explorers</title>'
        '<link rel="stylesheet" href="dlbook-explorer.css"><script src="dlbook-explorer.js"></script></head><body>'
        + "".join(f"<section><p>{k}</p>{b}</section>" for k, b in enumerate(blocks)) + "</body></html>",
        encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(work)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/index.html", blocks
    server.shutdown()
    server.server_close()


def _state(ex):
    """What the reader sees of one explorer block."""
    return ex.evaluate("""r => ({frame: r.getAttribute('data-frame'), src: r.querySelector('img.dlx-img').src,
        alt: r.querySelector('img.dlx-img').alt, outs: [...r.querySelectorAll('output')].map(o => o.textContent),
        texts: [...r.querySelectorAll('input')].map(i => i.getAttribute('aria-valuetext')),
        values: [...r.querySelectorAll('input')].map(i => i.value)})""")


def _expect(ex, data, idx, alt):
    frame = 0
    for k, i in enumerate(idx):
        frame = frame * data["shape"][k] + i
    ex.page.wait_for_function("([el, f]) => el.getAttribute('data-frame') === String(f)",
                              arg=[ex.element_handle(), frame], timeout=5_000)
    s = _state(ex)
    assert s["src"] == "data:image/png;base64," + data["frames"][frame]
    shown = [data["values"][k][i] for k, i in enumerate(idx)]
    assert s["outs"] == shown and s["texts"] == shown and s["values"] == [str(i) for i in idx]
    if alt is not None:
        assert s["alt"] == alt
    return s


def test_every_block_is_wired_and_follows_only_its_own_sliders(tab, explorer_page):
    url, blocks = explorer_page
    tab.page.goto(url, wait_until="load")
    explorers = tab.page.locator(".dlbook-explorer")
    assert explorers.count() == 3
    ids = [explorers.nth(k).get_attribute("id") for k in range(3)]
    assert ids[0] == ids[1] != ids[2]  # identical explorers share their id; nothing may rely on it
    data = [json.loads(explorers.nth(k).locator("script.dlx-data").text_content()) for k in range(3)]
    starts = [int(explorers.nth(k).get_attribute("data-dlbook-explorer")) for k in range(3)]
    assert starts == [1, 1, 1]
    alts = [html.unescape(b.split(' alt="', 1)[1].split('"', 1)[0]) for b in blocks]
    on_load = [_expect(explorers.nth(0), data[0], [1], alts[0]), _expect(explorers.nth(1), data[1], [1], alts[1]),
               _expect(explorers.nth(2), data[2], [0, 1], alts[2])]
    assert tab.page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")

    # the first of the two identical explorers: its slider moves it, and only it
    first = explorers.nth(0).locator("input[type=range]")
    first.focus()
    first.press("ArrowRight")
    moved = _expect(explorers.nth(0), data[0], [2], f"{alts[0]} (α = 2)")
    assert moved["src"] != on_load[0]["src"]
    assert _state(explorers.nth(1)) == on_load[1]
    assert _state(explorers.nth(2)) == on_load[2]

    # two sliders: frames in C order; a named position shows its name
    a, b = (explorers.nth(2).locator("input[type=range]").nth(k) for k in range(2))
    a.focus()
    a.press("ArrowRight")
    _expect(explorers.nth(2), data[2], [1, 1], f"{alts[2]} (α = 1, b <switch> = on)")
    b.focus()
    b.press("ArrowLeft")
    _expect(explorers.nth(2), data[2], [1, 0], f"{alts[2]} (α = 1, b <switch> = off)")
    assert _state(explorers.nth(1)) == on_load[1]

    # the second of the two identical explorers (same id): it moves, the first stays where it was
    held = _state(explorers.nth(0))
    second = explorers.nth(1).locator("input[type=range]")
    second.focus()
    second.press("ArrowLeft")
    _expect(explorers.nth(1), data[1], [0], f"{alts[1]} (α = 0)")
    assert _state(explorers.nth(0)) == held

    first.press("ArrowLeft")
    back = _expect(explorers.nth(0), data[0], [1], None)
    assert back["src"] == on_load[0]["src"]
    tab.assert_clean()


def test_sliders_are_named_by_their_labels_and_laid_out_in_columns(tab, explorer_page):
    url, _ = explorer_page
    tab.page.goto(url, wait_until="load")
    assert tab.page.get_by_role("slider", name="α", exact=True).count() == 3
    assert tab.page.get_by_role("slider", name="b <switch>", exact=True).count() == 1
    # clicking the label's text focuses its slider (the <input> is inside the <label>: no ids needed)
    tab.page.locator(".dlbook-explorer").nth(1).locator(".dlx-label").click()
    assert tab.page.evaluate("() => document.activeElement.closest('.dlbook-explorer')"
                             " === document.querySelectorAll('.dlbook-explorer')[1]")
    assert tab.page.evaluate("() => document.activeElement.type") == "range"
    # the style: each block as wide as its frames; label, slider and value side by side on one row
    ex = tab.page.locator(".dlbook-explorer").nth(2)
    assert ex.evaluate("r => r.getBoundingClientRect().width") == 240
    label, slider_, out = (ex.locator(sel).first.bounding_box() for sel in (".dlx-label", "input", "output"))
    assert label["x"] + label["width"] <= slider_["x"] < slider_["x"] + slider_["width"] <= out["x"]
    assert abs((label["y"] + label["height"] / 2) - (slider_["y"] + slider_["height"] / 2)) < 8
    tab.assert_clean()
