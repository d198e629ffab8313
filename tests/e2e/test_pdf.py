"""The PDF edition (tools/pdf.py, ``make pdf``), printed from the built site by the Chromium of these tests.

The PDF is built once per run (into a temporary folder) and opened with pypdf.  Checked: every chapter has
a bookmark, and the pages it points to hold the chapter's title and a Chinese sentence of its opening; the
contents page gives the same first page, whose foot carries that number; chapter 1's formulas are text
typeset by MathJax; each of its explorers has its line pointing to the online version; the bibliography is
there.  (Text is extracted only from the pages a check needs: pypdf takes ~0.2 s a page.)  Skipped, with
the reason, where the PDF cannot be printed (no Chinese font: Debian's fonts-noto-cjk; no pypdf).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))
# One PDF per run: under pytest-xdist (`make browser` uses --dist loadgroup) these tests share one worker.
pytestmark = pytest.mark.xdist_group("pdf")
CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e“”‘’、，。：；（）《》]{12,}")


def _tool():
    if "dlbook_tools_pdf" not in sys.modules:
        spec = importlib.util.spec_from_file_location("dlbook_tools_pdf", ROOT / "tools" / "pdf.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["dlbook_tools_pdf"]


# Where Chromium is there but a Chinese font (or pypdf) is not, the whole module is skipped: one line.
# (Without Chromium, tests/e2e/conftest.py leaves every browser test out, this one too, and says so.)
if _tool().find_chromium() is not None and _tool().missing():
    pytest.skip(f"PDF TEST SKIPPED: {_tool().missing()}", allow_module_level=True)


def squash(text: str) -> str:
    """Text without whitespace (the PDF breaks lines and spaces CJK text its own way), NFKC-normalized."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def title_of(md: Path) -> str:
    return next(line[2:].strip() for line in md.read_text(encoding="utf-8").splitlines() if line.startswith("# "))


def sentence_of(md: Path) -> str:
    """The first run of plain Chinese prose (12+ characters, no markup or math) after the chapter's title."""
    text = md.read_text(encoding="utf-8").split("\n# ", 1)[1]
    for para in text.split("\n\n")[1:]:
        if para.startswith((":::", "```", "{", "|", "-", "*", ">", "$")):
            continue
        m = CJK_RUN.search(para)
        if m:
            return m.group(0)
    raise AssertionError(f"no Chinese paragraph found in {md.name}")


class Book:
    """The built PDF: its pages' text, extracted on demand (pypdf takes ~0.2 s a page), and bookmarks."""

    def __init__(self, path: Path, info: dict):
        from pypdf import PdfReader

        self.reader, self.info, self._text = PdfReader(path), info, {}
        self.bookmarks = {}  # top-level bookmark title -> first page (0-based)
        for item in self.reader.outline:
            if not isinstance(item, list):
                self.bookmarks[unicodedata.normalize("NFKC", str(item.title))] = self.reader.get_destination_page_number(item)
        self.starts = sorted(self.bookmarks.values()) + [len(self.reader.pages)]

    def page(self, k: int) -> str:
        if k not in self._text:
            self._text[k] = self.reader.pages[k].extract_text() or ""
        return self._text[k]

    def text(self, first: int, count: int | None = None) -> str:
        """The squashed text of ``count`` pages from ``first`` (None: to the next top-level bookmark)."""
        end = next(s for s in self.starts if s > first) if count is None else min(first + count, len(self.reader.pages))
        return squash("".join(self.page(k) for k in range(first, end)))

    def start_of(self, title: str) -> int:
        found = [p for t, p in self.bookmarks.items() if squash(title) in squash(t)]
        assert found, f"no bookmark for {title!r} in {list(self.bookmarks)}"
        return found[0]


@pytest.fixture(scope="module")
def book_pdf(browser, tmp_path_factory):
    pdf = _tool()
    reason = pdf.missing()
    if reason:
        pytest.skip(f"PDF TEST SKIPPED: {reason}")
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test builds it before these tests)")
    out = tmp_path_factory.mktemp("pdf") / "dlbook.pdf"
    info = pdf.build(HTML, out, site_url="https://example.org/dlbook/", browser=browser)
    print(f"\nPDF: {info['page_count']} pages, {info['bytes'] / 1e6:.1f} MB, built in {info['seconds']:.0f} s")
    return Book(out, info)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_title_and_a_chinese_sentence_are_in_the_pdf(book_pdf, md):
    title, sentence = title_of(md), sentence_of(md)
    first = book_pdf.start_of(title)           # its bookmark
    opening = book_pdf.text(first, 4)
    assert squash(title) in opening, f"chapter title {title!r} not on the page its bookmark points to"
    assert squash(sentence) in opening, f"{md.stem}: the sentence {sentence!r} is not in the PDF text"
    # the CJK font draws 页 and the radical ⻚ with one glyph: the PDF's text must say 页 (tools/pdf.py _unradical)
    radicals = _tool().RADICAL.findall("".join(book_pdf.page(k) for k in range(first, first + 4)))
    assert not radicals, f"{md.stem}: CJK radicals instead of ideographs in the PDF's text: {radicals[:10]}"


def test_contents_page_gives_where_each_chapter_starts(book_pdf):
    contents = book_pdf.page(0)
    assert "目录" in contents
    for md in CHAPTERS:
        title = title_of(md)
        m = re.search(re.escape(title) + r"[\s.…]*(\d+)", contents)
        assert m, f"{title!r} is not in the contents"
        first = int(m.group(1))
        assert first - 1 == book_pdf.start_of(title), f"{title!r}: contents and bookmark disagree"
        assert squash(title) in squash(book_pdf.page(first - 1)), f"{title!r} does not start on page {first}"
        assert book_pdf.page(first - 1).split()[-1] == str(first), f"page {first} has no page number at its foot"


def test_formulas_are_typeset_text_not_images(book_pdf):
    # chapter 1's update rule and threshold, $w \leftarrow w - \alpha\,\partial\mathcal{L}/\partial w$ and
    # $\alpha < 2/\lambda_{\max}$, as MathJax typesets them: its fonts map glyphs to Unicode, so the formulas are
    # searchable text in the PDF
    text = book_pdf.text(book_pdf.start_of(title_of(CHAPTERS[0])), 4)
    assert "w←w−α∂L/∂w" in text
    assert "α<2/λmax" in text


def test_explorers_point_to_the_online_version(book_pdf):
    md = CHAPTERS[0]
    explorers = (HTML / "book" / f"{md.stem}.html").read_text(encoding="utf-8").count('<div class="dlbook-explorer"')
    text = book_pdf.text(book_pdf.start_of(title_of(md)))   # the whole chapter
    assert explorers >= 3 and text.count("可交互版本") == explorers, "each explorer's line pointing online, once"
    assert text.count(f"https://example.org/dlbook/book/{md.stem}.html#dlx-") == explorers
    first = book_pdf.start_of(title_of(md))
    uris = [a.get_object().get("/A", {}).get("/URI", "") for k in range(first, first + 12)
            for a in book_pdf.reader.pages[k].get("/Annots") or []]
    assert any(str(u).startswith("https://example.org/dlbook/") for u in uris), "no link into the online book"
    assert not [u for u in uris if "127.0.0.1" in str(u)], "links to the local server the PDF was printed from"


def test_bibliography_is_there(book_pdf):
    text = book_pdf.text(book_pdf.start_of("参考文献"))
    assert "参考文献" in text and "Cauchy" in text and "ComptesRendus" in text   # chapter 1's first citation
