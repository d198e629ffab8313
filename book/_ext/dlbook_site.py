"""Sphinx extension for the dlbook site: everything a page loads comes from the build itself.

* MathJax 3 is served from ``_static/mathjax`` instead of a CDN.  The files come from the
  ``sphinx-mathjax-offline`` wheel on PyPI (installed by requirements.txt), so the rendered book typesets
  its math with no network at all.  Only the pieces ``tex-chtml.js`` loads are copied: the component
  itself, the TeX extensions it autoloads, the CHTML fonts and the accessibility / menu modules.
* Thebe (the "live code" button, which would start a kernel on a remote Binder) is not used by this book:
  its scripts are left out of the pages.  (Jupyter Book always loads the sphinx-thebe extension, which
  also adds its configuration script twice, a "redeclared const" error on every page.)
* Chinese search: Sphinx cuts the pages into words with jieba, helped by ``search_terms.txt`` (the book's
  terms, so that 学习率 or 反向传播 are one word each), and ``_static/dlbook-search.js`` cuts a query the
  same way against the index, so a query need not be a single indexed word.
* The ``dlbook-benchmarks`` directive renders ``benchmarks/results.json`` (written by ``make bench``) as
  the table of the 性能 appendix, with the machine it was measured on.
* ``_static/dlbook.css`` (book/_static) sets a CJK-aware font stack and line height and styles the static
  explorers.  No web font is fetched: readers' own system fonts render the Chinese text.
* ``_static/dlbook-print.css`` (media print): the page on paper, for the browser's Print and the PDF
  edition (tools/pdf.py): each explorer at its default frame with its slider values, no sliders.
* ``_static/dlbook-explorer.js`` and ``_static/dlbook-explorer.css``, on every page, wire up and lay out
  every static explorer (``dlbook.render.static_html``): the blocks carry only markup and their frames.
* Run it anywhere (tools/publish.py): ``_build/html/downloads`` gets each chapter as published -- its
  ``.ipynb`` and MyST ``.md`` with the install cell first, dlbook pinned to the commit built -- and all of
  them as one zip; every page's download menu offers them (and the book's PDF, ``downloads/dlbook.pdf``,
  when the build is told ``DLBOOK_PDF=1``: ``make pdf`` prints it after the HTML).  Colab and Binder
  buttons appear on every chapter when the build knows the repository and ``DLBOOK_LAUNCH_REF``, the
  commit of the published chapters (set by the publishing workflow); else there are none.

Enabled from _config.yml (``sphinx.local_extensions``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

MATHJAX_DIST = "sphinx-mathjax-offline"
MATHJAX_VERSION = "3.2.2"
MATHJAX_COMPONENT = "tex-chtml.js"
# Relative to the MathJax root: what tex-chtml.js may load at run time.
MATHJAX_PARTS = (MATHJAX_COMPONENT, "input/tex/extensions", "output/chtml", "a11y", "sre", "ui", "adaptors")
STATIC = Path(__file__).resolve().parents[1] / "_static"
SEARCH_TERMS = Path(__file__).resolve().parent / "search_terms.txt"
ROOT = Path(__file__).resolve().parents[2]
#: Where the published chapters, their zip and the PDF go, inside the built site.
DOWNLOADS = "downloads"
PDF_NAME = "dlbook.pdf"


def _publish():
    """tools/publish.py (a script beside tools/chapters.py, not part of the dlbook package)."""
    if "dlbook_tools_publish" not in sys.modules:
        spec = importlib.util.spec_from_file_location("dlbook_tools_publish", ROOT / "tools" / "publish.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["dlbook_tools_publish"]


def mathjax_root() -> Path:
    try:
        dist = distribution(MATHJAX_DIST)
    except PackageNotFoundError as err:  # pragma: no cover - a broken environment
        raise RuntimeError(
            f"the book serves MathJax itself and needs the {MATHJAX_DIST!r} package: run `make book`, "
            "which installs requirements.txt"
        ) from err
    root = Path(dist.locate_file(f"{MATHJAX_DIST}/static/mathjax"))
    component = root / MATHJAX_COMPONENT
    if not component.is_file():  # pragma: no cover
        raise RuntimeError(f"{component} is missing: reinstall {MATHJAX_DIST}")
    head = component.read_text(encoding="utf-8", errors="replace")[:400_000]
    if f'VERSION="{MATHJAX_VERSION}"' not in head:  # pragma: no cover
        raise RuntimeError(f"{component} is not MathJax {MATHJAX_VERSION}")
    return root


def _config_inited(app, config):
    mathjax_root()  # fail early, with a clear message, if the package is missing
    config.mathjax_path = f"mathjax/{MATHJAX_COMPONENT}"
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    if (config.language or "").startswith("zh"):
        config.html_search_options = {**(config.html_search_options or {}), "dict": str(SEARCH_TERMS)}
    # Colab / Binder buttons (sphinx-book-theme) when the publishing workflow says where the chapters are.
    options = dict(config.html_theme_options or {})
    options.pop("launch_buttons", None)
    config.html_theme_options = {**options, **_publish().launch_options()}
    config.dlbook_pdf = os.environ.get("DLBOOK_PDF") == "1"  # a config value: toggling it rewrites the pages


def _is_chapter(pagename: str) -> bool:
    return pagename.startswith("book/ch")


def _chapter_pages(app) -> list[str]:
    return sorted(d for d in app.env.found_docs if _is_chapter(d))


def _downloads_menu(app, pagename, templatename, context, doctree):
    """Every page's download menu: this chapter as published (.ipynb, .md), every chapter (.zip), the PDF."""
    group = next((b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"), None)
    if group is None:
        return
    base = context["pathto"](DOWNLOADS, 1)
    buttons = list(group["buttons"])  # the theme's: the page's source, "print this page" (dlbook-print.css)
    if _is_chapter(pagename):
        stem = pagename.split("/")[-1]
        buttons = [
            {"type": "link", "url": f"{base}/{stem}.ipynb", "text": ".ipynb", "icon": "fas fa-code",
             "tooltip": "本章笔记本（第一格安装 dlbook）", "label": "download-notebook-button"},
            {"type": "link", "url": f"{base}/{stem}.md", "text": ".md (MyST)", "icon": "fas fa-file",
             "tooltip": "本章的 MyST markdown 文本（jupytext）", "label": "download-myst-button"},
        ] + [b for b in buttons if b.get("label") != "download-source-button"]
    buttons.append({"type": "link", "url": f"{base}/{_publish().ARCHIVE}", "text": "全部章节 .zip",
                    "icon": "fas fa-file-archive", "tooltip": "所有章节的笔记本和 MyST 文本",
                    "label": "download-archive-button"})
    if app.config.dlbook_pdf:
        buttons.append({"type": "link", "url": f"{base}/{PDF_NAME}", "text": "全书 PDF", "icon": "fas fa-file-pdf",
                        "tooltip": "全书的 PDF 版（离线阅读、打印）", "label": "download-book-pdf-button"})
    group["buttons"] = buttons


def _write_downloads(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    pub = _publish()
    paths = [ROOT / f"{d}.ipynb" for d in _chapter_pages(app)]
    pub.write_downloads(Path(app.outdir) / DOWNLOADS, pub.Source.from_env(), paths)


def _copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    root = mathjax_root()
    out = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = root / part, out / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _thebe_enabled(app) -> bool:
    return bool((app.config.html_theme_options or {}).get("launch_buttons", {}).get("thebe"))


def _is_thebe(asset) -> bool:
    name = getattr(asset, "filename", None) or str(asset)
    body = (getattr(asset, "attributes", None) or {}).get("body", "")
    return "sphinx-thebe" in name or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree):
    if _thebe_enabled(app):
        return
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_thebe(a)]


VERDICT = {True: "达标", False: "**未达标**", None: "待测"}
MACHINE_FIELDS = (("cpu", "处理器"), ("cores", "核数"), ("memory_gib", "内存 (GiB)"), ("device", "JAX 设备"),
                  ("os", "系统"), ("python", "Python"), ("jax", "JAX"), ("numpy", "NumPy"), ("torch", "PyTorch"),
                  ("date", "测量时间"))


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def benchmark_markdown(results: dict) -> list[str]:
    """The appendix table (MyST markdown lines) for the contents of benchmarks/results.json."""
    m = results["machine"]
    lines = ["| 测量项目 | 对比对象 | 结果 | 目标 | 结论 |", "| --- | --- | --- | --- | --- |"]
    for r in results["rows"]:  # "shown": the value as `make bench` printed it (benchmarks/harness.py)
        lines.append(f"| {_cell(r['what'])} | {_cell(r['baseline'])} | {_cell(r['shown'])} | {_cell(r['target'])} | {VERDICT[r['ok']]} |")
    lines += ["", "测量环境：" + "；".join(f"{label} {m[k]}" for k, label in MACHINE_FIELDS if k in m) + "。", ""]
    details = [f"- `{r['key']}`：{_cell(r['detail'])}" for r in results["rows"] if r.get("detail")]
    if details:
        lines += ["各项的原始数据：", "", *details, ""]
    return lines


def _benchmarks_directive():
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class BenchmarksDirective(SphinxDirective):
        """``{dlbook-benchmarks} path/to/results.json``: the results of ``make bench`` as a table."""

        required_arguments = 1

        def run(self):
            rel, path = self.env.relfn2path(self.arguments[0])
            self.env.note_dependency(rel)
            try:
                results = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise self.error(f"cannot read the benchmark results {path}: {err} (run `make bench`)") from err
            box = nodes.container(classes=["dlbook-benchmarks"])
            self.state.nested_parse(StringList(benchmark_markdown(results), source=path), self.content_offset, box)
            return [box]

    return BenchmarksDirective


def setup(app):
    app.add_config_value("dlbook_pdf", False, "html")
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _write_downloads)
    app.connect("html-page-context", _downloads_menu, priority=600)  # after sphinx-book-theme's buttons (501)
    app.connect("html-page-context", _drop_thebe)
    app.add_directive("dlbook-benchmarks", _benchmarks_directive())
    app.add_css_file("dlbook.css")
    app.add_css_file("dlbook-explorer.css")
    app.add_css_file("dlbook-print.css", media="print")
    app.add_js_file("dlbook-search.js")
    app.add_js_file("dlbook-explorer.js")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
