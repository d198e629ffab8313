"""tools/pdf.py's pieces that need no browser (the PDF itself is built and read back by tests/e2e/test_pdf.py).

The pages printed are _toc.yml's, in its order, so a new chapter is in the PDF once it is in the book; a
ToUnicode CMap's radicals become the ideographs the glyphs stand for; doubled headings are bookmarked once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load_tool():
    if "dlbook_tools_pdf" not in sys.modules:
        spec = importlib.util.spec_from_file_location("dlbook_tools_pdf", ROOT / "tools" / "pdf.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["dlbook_tools_pdf"]


pdf = _load_tool()


def test_pages_are_the_toc_in_reading_order():
    pages = pdf.toc_pages()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    assert pages[0] == (None, toc["root"])
    listed = [e["file"] for part in toc["parts"] for e in part["chapters"]]
    assert [p for _, p in pages[1:]] == listed
    chapters = {f"book/{p.stem}" for p in (ROOT / "book").glob("ch*.ipynb")}
    in_toc = {p for _, p in pages}
    assert {c for c in chapters if c in in_toc} == {p for p in in_toc if p.startswith("book/ch")}


def test_toc_with_a_new_chapter(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n      - file: book/ch01_x\n"
        "      - file: book/ch09_new.ipynb\n        sections:\n          - file: book/ch09_more\n", encoding="utf-8")
    assert pdf.toc_pages(tmp_path) == [(None, "book/intro"), ("A", "book/ch01_x"), ("A", "book/ch09_new"),
                                      ("A", "book/ch09_more")]


def test_radicals_become_the_ideographs():
    assert pdf.ideographs("⽹⻚的⼀个⻓度") == "网页的一个长度"
    assert pdf.ideographs("梯度下降 α<2/λ") == "梯度下降 α<2/λ"
    assert not pdf.RADICAL.search(pdf.ideographs("".join(pdf.RADICAL_TO_IDEOGRAPH)))


def test_cmap_entries_read_chars_and_ranges():
    text = ("1 begincodespacerange\n<00> <FF>\nendcodespacerange\n2 beginbfchar\n<03> <8BEF>\n<4C> <2F95>\n"
            "endbfchar\n1 beginbfrange\n<10> <12> <0041>\nendbfrange\nendcmap\n")
    entries = pdf._cmap_entries(text)
    assert entries == {"03": "误", "4C": "\u2f95", "10": "A", "11": "B", "12": "C"}
    assert pdf._cmap_entries("1 beginbfrange\n<10> <11> [<0041> <0042>]\nendbfrange\n") is None


@pytest.mark.parametrize("raw, clean", [
    ("1.13. 1.13. 参考文献参考文献", "1.13. 参考文献"),
    ("2.3. 手算一遍#", "2.3. 手算一遍"),
    ("1.5. 稳定阈值：", "1.5. 稳定阈值："),
    ("习题习题", "习题习题"),
])
def test_bookmark_titles(raw, clean):
    assert pdf._clean_title(raw) == clean


def test_contents_page_lists_parts_and_first_pages():
    page = pdf.contents_html("书名", [(None, "前言", 2), ("训练的基础", "梯度下降", 5), ("附录", "参考文献", 418)], "说明")
    assert page.index("前言") < page.index("训练的基础") < page.index("梯度下降") < page.index("附录")
    assert "<span>418</span>" in page and "目录" in page
