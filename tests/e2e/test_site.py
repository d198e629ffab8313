"""The built book (``_build/html``) in a real Chromium, offline, as a reader uses it.

Every page: loads with no JavaScript error and no failed request, tries nothing outside localhost, every
image has alt text, every internal link (and its #fragment) resolves, all math is typeset by the MathJax
the site serves itself.  Every static explorer: its first frame is the default one, and each slider moved
with the keyboard changes the figure and the value shown.  Search finds chapters from Chinese queries.
Each chapter page's weight (everything the browser loaded) is reported and kept within the budget.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from dlbook.render import MAX_PAGE_BYTES

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"

CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("ch*.ipynb"))
# Every HTML page of the site (once it is built; an empty list before, and the `site` fixture fails).
PAGES = sorted(
    str(p.relative_to(HTML)) for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")
) if HTML.exists() else []
# one indexed word; book terms from book/_ext/search_terms.txt; a phrase that is no single word
SEARCHES = [("梯度", "ch01_gradient_descent"), ("学习率", "ch01_gradient_descent"), ("归一化", "ch01_gradient_descent"),
            ("梯度下降的学习率", "ch01_gradient_descent"), ("激活函数的梯度消失", "ch03_activations"),
            ("交叉熵", "ch04_losses"), ("过拟合与正则化", "ch05_regularization"),
            ("动量", "ch06_batch_momentum")]


REFRESH = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.I)


def open_page(tab, url: str):
    tab.page.goto(url, wait_until="load")
    path = HTML / unquote(urlsplit(url).path)[1:]
    redirect = REFRESH.search(path.read_text(encoding="utf-8")) if path.is_file() else None
    if redirect:  # the site's front door, index.html, forwards to the first page
        tab.page.wait_for_url(re.compile(re.escape(redirect.group(1)) + "$"))
        tab.page.wait_for_load_state("load")
    # MathJax typesets asynchronously; wait for it wherever the page has math.
    tab.page.wait_for_function(
        "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && document.querySelector('mjx-container'))"
    )
    tab.page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")


@lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def test_pages_found():
    assert "book/ch01_gradient_descent.html" in PAGES and "search.html" in PAGES
    assert {f"book/{c}.html" for c in CHAPTERS} <= set(PAGES)


def test_the_network_block_is_real(tab, site):
    """The harness itself: a request off localhost is aborted and recorded, so `assert_clean` means something."""
    open_page(tab, site + "book/intro.html")
    tab.page.evaluate("() => fetch('https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js').catch(() => null)")
    assert tab.blocked == ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_with_no_errors(tab, site, path):
    open_page(tab, site + path)
    page = tab.page
    # images: every one has alt text and actually decoded
    imgs = page.evaluate("() => [...document.images].map(i => [i.getAttribute('alt'), i.currentSrc.slice(0, 80),"
                         " i.complete && i.naturalWidth > 0])")
    for alt, src, ok in imgs:
        assert alt and alt.strip(), f"image without alt text: {src}"
        assert ok, f"image did not load: {src}"
    # internal links: the target file exists and so does the #fragment in it
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    internal = [h for h in hrefs if h.startswith(site)]
    assert internal, "a page of the book with no internal links at all"
    for href in internal:
        parts = urlsplit(href)
        rel = unquote(parts.path)[1:]
        target = HTML / (rel + "index.html" if rel.endswith("/") or not rel else rel)
        assert target.is_file(), f"broken link {href} on {path}"
        if parts.fragment and target.suffix == ".html":
            assert unquote(parts.fragment) in _ids(target), f"link {href} on {path}: no #{parts.fragment} in {target.name}"
    # math: every formula typeset by the site's own MathJax, none with a TeX error
    math = page.evaluate("() => [document.querySelectorAll('.math').length,"
                         " [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).length,"
                         " document.querySelectorAll('mjx-merror').length]")
    n_math, untypeset, errors = math
    assert untypeset == 0 and errors == 0, f"{untypeset} of {n_math} formulas not typeset, {errors} TeX errors"
    if n_math:
        assert page.evaluate("() => MathJax.version") == "3.2.2"
        src = page.evaluate("() => document.querySelector('script[src*=\"mathjax\"]').src")
        assert src.startswith(site + "_static/mathjax/"), src
    tab.assert_clean()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_math_uses_local_fonts(tab, site, chapter):
    open_page(tab, site + f"book/{chapter}.html")
    assert tab.page.evaluate("() => document.querySelectorAll('mjx-container').length") > 10
    tab.page.evaluate("() => document.fonts.ready")
    fonts = tab.page.evaluate("() => [...document.fonts].filter(f => f.family.startsWith('MJX')"
                              " && f.status === 'loaded').length")
    assert fonts > 0, "MathJax's fonts did not load"
    tab.assert_clean()


def _expect_frame(explorer, data, idx, shape, what):
    frame = int(np.ravel_multi_index(idx, shape))
    explorer.page.wait_for_function("([el, f]) => el.getAttribute('data-frame') === String(f)",
                                    arg=[explorer.element_handle(), frame], timeout=5_000)
    src = explorer.locator("img.dlx-img").get_attribute("src")
    assert src == "data:image/png;base64," + data["frames"][frame], f"{what}: wrong figure"
    outs = explorer.locator("output")
    ins = explorer.locator("input[type=range]")
    for k, i in enumerate(idx):
        shown = data["values"][k][i]
        assert outs.nth(k).text_content() == shown, f"{what}: slider {data['labels'][k]} shows the wrong value"
        assert ins.nth(k).get_attribute("aria-valuetext") == shown
        assert ins.nth(k).input_value() == str(i)
    return src


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_static_explorers_respond_to_the_keyboard(tab, site, chapter):
    open_page(tab, site + f"book/{chapter}.html")
    explorers = tab.page.locator(".dlbook-explorer")
    assert explorers.count() >= 3
    for e in range(explorers.count()):
        ex = explorers.nth(e)
        ex.scroll_into_view_if_needed()
        data = json.loads(ex.locator("script.dlx-data").text_content())
        shape = tuple(data["shape"])
        start = int(ex.get_attribute("data-dlbook-explorer"))
        idx = [int(i) for i in np.unravel_index(start, shape)]
        first = _expect_frame(ex, data, idx, shape, f"explorer {e} on load")
        assert ex.locator("img.dlx-img").evaluate("i => i.complete && i.naturalWidth > 0")
        for k, size in enumerate(shape):
            slider = ex.locator("input[type=range]").nth(k)
            forward, back = ("ArrowRight", "ArrowLeft") if idx[k] < size - 1 else ("ArrowLeft", "ArrowRight")
            slider.focus()
            slider.press(forward)
            moved = list(idx)
            moved[k] += 1 if forward == "ArrowRight" else -1
            new = _expect_frame(ex, data, moved, shape, f"explorer {e}, slider {k} moved")
            assert new != first, f"explorer {e}: moving slider {data['labels'][k]} did not change the figure"
            alt = ex.locator("img.dlx-img").get_attribute("alt")
            assert data["values"][k][moved[k]] in alt, "the alt text names the new slider value"
            slider.press(back)
            _expect_frame(ex, data, idx, shape, f"explorer {e}, slider {k} moved back")
    tab.assert_clean()


@pytest.mark.parametrize(("query", "chapter"), SEARCHES)
def test_search_in_chinese(tab, site, query, chapter):
    tab.page.goto(site + "search.html?q=" + query, wait_until="load")
    tab.page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
    hits = tab.page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
    assert any(f"book/{chapter}.html" in h for h in hits), f"searching {query!r} did not find {chapter}: {hits}"
    tab.assert_clean()


def test_search_without_a_match_finds_nothing(tab, site):
    tab.page.goto(site + "search.html?q=区块链", wait_until="load")
    tab.page.wait_for_function("() => /\\S/.test(document.querySelector('#search-results p.search-summary')?.textContent || '')")
    assert tab.page.locator("#search-results ul.search li").count() == 0
    tab.assert_clean()


def wait_until_quiet(page, started: list, settled: list, quiet_ms: int = 500, timeout_ms: int = 60_000):
    """Wait until every request the page started has settled and none started for ``quiet_ms``.

    Playwright's own "networkidle" state is a lifecycle event Chromium fires once per navigation; on a
    loaded CI machine it once never arrived for a page whose requests had all finished (a 60 s timeout
    with nothing to show).  Counting the requests ourselves waits for the same thing and, when a request
    really hangs, names it.
    """
    quiet, last = 0, None
    for _ in range(timeout_ms // 100):
        page.wait_for_timeout(100)  # also lets Playwright deliver the request events
        state = (len(started), len(settled))
        quiet = quiet + 100 if state == last and state[0] <= state[1] else 0
        if quiet >= quiet_ms:
            return
        last = state
    pending = list(started)
    for url in settled:
        if url in pending:
            pending.remove(url)
    pytest.fail(f"requests still open after {timeout_ms / 1000:.0f} s: {pending}")


@pytest.mark.parametrize("chapter", ["intro", *CHAPTERS])
def test_page_weight(tab, site, chapter, page_weights):
    """Everything the browser loads for the page, cold cache, reported in the run's summary."""
    loaded, started, settled = [], [], []
    tab.page.on("request", lambda r: started.append(r.url))
    tab.page.on("requestfinished", lambda r: (loaded.append(r), settled.append(r.url)))
    tab.page.on("requestfailed", lambda r: settled.append(r.url))
    open_page(tab, site + f"book/{chapter}.html")
    tab.page.evaluate("() => document.fonts.ready")
    wait_until_quiet(tab.page, started, settled)
    weight = {k: 0 for k in ("document", "image", "script", "stylesheet", "font")}
    for r in loaded:
        kind = r.resource_type if r.resource_type in weight else "script"  # fetch/xhr: the search index
        weight[kind] += r.sizes()["responseBodySize"]
    weight["total"] = sum(weight.values())
    weight["requests"] = len(loaded)
    page_weights[f"book/{chapter}.html"] = weight
    assert weight["document"] > 0 and weight["total"] <= MAX_PAGE_BYTES, weight
    tab.assert_clean()
