"""Checks of the built HTML book (`make book` / the strict build in `make test` must run first).

Static explorers: present, within budget, self-contained (their only script is their JSON data; the site's
dlbook-explorer.js/.css, on every page, wire them up), starting on the default frame; pages within the
page-weight budget; every figure with alt text.  (Browser-driven checks are issue #3's tests.)
"""

from __future__ import annotations

import base64
import json
import re
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dlbook.render import MAX_EXPLORER_BYTES, MAX_PAGE_BYTES

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))
MIN_EXPLORERS = 3

EXPLORER_RE = re.compile(r'<div class="dlbook-explorer" id="(dlx-[0-9a-f]+)" data-dlbook-explorer="(\d+)" style="max-width:\d+px">'
                         r'(.*?)</script></div>', re.S)
SLIDER_RE = re.compile(r'<label><span class="dlx-label">[^<]*</span><input type="range" min="0" max="(\d+)" step="1" '
                       r'value="(\d+)" aria-valuetext="([^"]*)"></label><output aria-live="polite">([^<]*)</output>')


def page(ch: Path) -> Path:
    return HTML / "book" / (ch.stem + ".html")


@pytest.fixture(scope="module", autouse=True)
def built():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test builds it before these checks)")


class _Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))


def explorers(html: str):
    out = []
    for m in EXPLORER_RE.finditer(html):
        block = m.group(0)
        data = json.loads(re.search(r'<script type="application/json" class="dlx-data">(.*?)</script>', block, re.S).group(1))
        out.append((m.group(1), int(m.group(2)), block, data))
    return out


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_weight(ch):
    html = page(ch).read_text(encoding="utf-8")
    p = _Imgs()
    p.feed(html)
    images = [HTML / "book" / i["src"] for i in p.imgs if not i.get("src", "").startswith("data:")]
    total = len(html.encode("utf-8")) + sum(f.stat().st_size for f in images if f.exists())
    print(f"{ch.stem}: {total / 1e6:.2f} MB (HTML + images)")
    assert total <= MAX_PAGE_BYTES


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_every_image_has_alt_text(ch):
    p = _Imgs()
    p.feed(page(ch).read_text(encoding="utf-8"))
    assert p.imgs
    for img in p.imgs:
        assert img.get("alt", "").strip(), f"image without alt text: {img.get('src', '')[:80]}"


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_static_explorers(ch):
    html = page(ch).read_text(encoding="utf-8")
    found = explorers(html)
    assert len(found) >= MIN_EXPLORERS, f"{ch.stem} has {len(found)} static explorers, needs {MIN_EXPLORERS}"
    assert "widget-view+json" not in html and "widget-state+json" not in html  # no dead live widgets
    for uid, start, block, data in found:
        assert len(block.encode("utf-8")) <= MAX_EXPLORER_BYTES
        assert not re.search(r"https?://", block), "explorers must not load anything from the network"
        assert block.count("<script") == 1 and "<style" not in block, "an explorer's only script is its JSON data"
        shape = data["shape"]
        n = 1
        for s in shape:
            n *= s
        assert len(data["frames"]) == n and n > 1
        assert all(base64.b64decode(f)[:8] == b"\x89PNG\r\n\x1a\n" for f in data["frames"])
        assert len(set(data["frames"])) > 1, "all frames identical: the sliders would change nothing"
        ranges = SLIDER_RE.findall(block)  # each slider inside its <label>, its value in the <output> after it
        assert len(ranges) == len(shape) == block.count("<input")
        idx = 0
        for (mx, val, text, shown), size, values in zip(ranges, shape, data["values"]):
            assert int(mx) == size - 1 and html_unescape(text) == html_unescape(shown) == values[int(val)]
            idx = idx * size + int(val)
        assert idx == start, "the first frame shown must be the one of the sliders' default positions"
        img_src = re.search(r'<img class="dlx-img"[^>]* alt="([^"]+)" src="data:image/png;base64,([^"]+)"', block)
        assert img_src and img_src.group(2) == data["frames"][start]


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_pages_load_the_explorer_script_and_style(ch):
    loads = _Loads()
    loads.feed(page(ch).read_text(encoding="utf-8"))
    for asset in ("dlbook-explorer.js", "dlbook-explorer.css"):
        assert any(u.split("?")[0].endswith("_static/" + asset) for u in loads.urls), f"{ch.stem} does not load {asset}"
        assert (HTML / "_static" / asset).is_file()


def test_no_frames_in_committed_notebooks():
    for ch in CHAPTERS:
        assert "data-dlbook-explorer" not in ch.read_text(encoding="utf-8")


class _Loads(HTMLParser):
    """What a page makes the browser fetch: scripts, stylesheets, images, media, frames."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and (a.get("rel") or "") in ("stylesheet", "preload", "icon", "modulepreload"):
            self.urls.append(a["href"])


def test_no_page_loads_anything_from_the_network():
    """The site works offline (the browser tests check it for real; this check needs no browser)."""
    pages = [p for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")]
    assert len(pages) >= 4
    for p in pages:
        loads = _Loads()
        loads.feed(p.read_text(encoding="utf-8"))
        remote = [u for u in loads.urls if re.match(r"(https?:)?//", u)]
        assert not remote, f"{p.relative_to(HTML)} loads {remote}"
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not served by the site"
    assert (HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff").is_file()


def test_performance_appendix_shows_every_benchmark_row():
    data = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    html = (HTML / "book" / "performance.html").read_text(encoding="utf-8")
    body = html[html.index('class="dlbook-benchmarks'):]
    rows = re.findall(r"<tr[ >]", body[: body.index("</table>")])
    assert len(rows) == 1 + len(data["rows"]), "the 性能 table must have a row per benchmark (and a header)"
    assert data["machine"]["cpu"] in html and data["machine"]["date"] in html


class _VisibleText(HTMLParser):
    """The text a reader sees (and the tooltips of links): outside code, scripts, styles and MathJax's math.

    MyST hands every formula to MathJax as ``\\(...\\)`` / ``\\[...\\]`` inside an element of class ``math``;
    TeX anywhere else in the visible text is shown to the reader as raw source.
    """

    SKIP = {"script", "style", "pre", "code", "svg", "math"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []     # per open element: does it hide its text?
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("title"):
            self.chunks.append(a["title"])
        if tag in self.VOID:
            return
        classes = (a.get("class") or "").split()
        self.stack.append(tag in self.SKIP or "math" in classes or any(c.startswith("highlight") for c in classes))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.chunks.append(data)


RAW_TEX_RE = re.compile(r"\$[^$\s][^$]*\$|\\\(|\\\[|\\(?:frac|alpha|lambda|mathcal|nabla|sum|sqrt|log)\b")


def raw_tex(html: str) -> list[str]:
    """Pieces of TeX left in the visible text (and link tooltips) of one page."""
    parser = _VisibleText()
    parser.feed(html)
    text = "\n".join(parser.chunks)
    return [text[max(0, m.start() - 40): m.end() + 40].replace("\n", " ") for m in RAW_TEX_RE.finditer(text)]


def test_raw_tex_is_found():
    """The check below can fail: it finds a formula outside MathJax's elements, and ignores the ones inside."""
    assert raw_tex('<p>rate <span class="math notranslate nohighlight">\\(O(1/k^2)\\)</span> ok</p>') == []
    assert raw_tex("<p>Convergence rate $o(1/k^2)$.</p>")
    assert raw_tex('<a title="Nesterov. Convergence rate $o(1/k^2)$." href="#x">1983</a>')
    assert raw_tex('<div class="highlight"><pre>label = r"$\\alpha$"</pre></div>') == []


def test_no_page_shows_raw_tex():
    """Every formula a page shows is typeset: no ``$...$``, ``\\(`` or TeX command left in its visible text."""
    pages = [p for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")]
    found = {str(p.relative_to(HTML)): raw_tex(p.read_text(encoding="utf-8")) for p in pages}
    assert not any(found.values()), {k: v[:3] for k, v in found.items() if v}
