"""The book's PDF edition (``make pdf``): the built HTML pages printed by Chromium, in the order of _toc.yml.

Why the browser and not Jupyter Book's LaTeX builder: the pages are printed exactly as readers see them --
MathJax's typesetting, the figures and every explorer's default frame, cross-references and the bibliography
as the site renders them -- by the Chromium the browser tests already drive (Playwright, from PyPI).  The
LaTeX route drops what a notebook outputs as HTML, which is what every explorer is (its frames would need a
second, LaTeX-only rendering that no test looks at), and needs a TeX installation: texlive-xetex,
texlive-lang-chinese, texlive-latex-extra and latexmk are 33 Debian 12 packages, 171 MB to download and
470 MB installed (apt, measured here), against fonts-noto-cjk's 57 MB / 91 MB on top of the Chromium the
tests install anyway.  Chinese text needs a CJK font on the system (Debian: ``fonts-noto-cjk``).

What it does, from the built site ``_build/html`` (``make book`` first):

* every page of ``_toc.yml`` (front page, chapters, appendices) is opened on a local server with no
  network, MathJax is awaited, folded solutions are unfolded, and each explorer gets a line under its
  figure pointing to the online, interactive version (``DLBOOK_SITE_URL``, the published site; set by the
  publishing workflow) -- the figure itself is the explorer's default frame, what the page starts on; links
  into the site (cross-references between chapters) go to the published site, or are plain text without it;
* each page is printed (A4, the site's print style sheet ``_static/dlbook-print.css``) with its headings
  as PDF bookmarks; a title and contents page, listing where each chapter starts, is printed first;
* the parts are merged with pypdf into one file with one bookmark per page (the page's sections nested
  under it) and page numbers stamped at the foot of every page but the first;
* the text behind the CJK glyphs is fixed: the CJK fonts draw 页 and the radical ⻚ with one glyph and
  Chromium writes the radical, so a search for 网页 would not find ⽹⻚ (:func:`_unradical`).

Usage::

    .venv/bin/python tools/pdf.py [--html _build/html] [--out _build/pdf/dlbook.pdf]

The PDF is also copied to ``_build/html/downloads/dlbook.pdf``, where the site links it when built with
``DLBOOK_PDF=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "pdf" / "dlbook.pdf"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-component-update",
                 "--disable-background-networking", "--disable-dev-shm-usage"]
MARGIN = {"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}


def find_chromium() -> str | None:
    """The Chromium to print with: ``DLBOOK_CHROMIUM``, else the first of :data:`BROWSERS` on PATH."""
    env = os.environ.get("DLBOOK_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def cjk_fonts() -> list[str]:
    """Fonts fontconfig offers for Chinese (``fc-list :lang=zh``); empty when there is none (or no fc-list)."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})


def missing() -> str | None:
    """Why the PDF cannot be built here (None when it can)."""
    if find_chromium() is None:
        return "no Chromium found (Debian: apt-get install chromium; or DLBOOK_CHROMIUM=/path/to/chromium)"
    if not cjk_fonts():
        return "no Chinese font (fc-list :lang=zh is empty; Debian: apt-get install fonts-noto-cjk)"
    for module in ("playwright", "pypdf"):
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {module} is missing (make installs requirements.txt)"
    return None


def toc_pages(root: Path = ROOT) -> list[tuple[str | None, str]]:
    """``(part caption, page)`` for every page of _toc.yml, in reading order (``page``: ``book/ch01_…``)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [(None, toc["root"])]

    def walk(entries, caption):
        for e in entries or []:
            if "file" in e:
                pages.append((caption, e["file"]))
            walk(e.get("sections"), caption)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), part.get("caption"))
    walk(toc.get("chapters"), None)
    return [(c, str(Path(p).with_suffix(""))) for c, p in pages]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def _local_only(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


# Before printing: solutions unfolded, heading permalinks ("#") gone, each explorer's pointer to its live version.
PREPARE = r"""([online, page]) => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.dropdown.admonition').forEach(e => e.classList.add('toggle-shown'));
  document.querySelectorAll('a.headerlink, button.toggle-button').forEach(e => e.remove());
  // links into the site point to the published site (the local server is gone once printed), else are text
  for (const a of document.querySelectorAll('a[href]')) {
    if (a.href.startsWith(location.origin + '/')) {
      if (online) a.href = online + a.href.slice(location.origin.length + 1); else a.removeAttribute('href');
    }
  }
  for (const x of document.querySelectorAll('.dlbook-explorer')) {
    const p = document.createElement('p');
    p.className = 'dlx-print-link';
    p.textContent = '可交互版本（拖动滑块，图随之重算）：';
    if (online) {
      const a = document.createElement('a');
      a.href = a.textContent = online + page + '.html#' + x.id;
      p.append(a);
    } else {
      p.append('本书网页版的同一节');
    }
    x.after(p);
  }
  return document.querySelector('main h1, article h1, h1')?.textContent.replace(/[#¶]\s*$/, '').trim() || document.title;
}"""


def _wait_for_math(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && document.querySelector('mjx-container'))", timeout=120_000)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => document.fonts.ready")


def contents_html(title: str, entries: list[tuple[str | None, str, int]], note: str) -> str:
    """The title and contents page: ``entries`` are ``(part caption, page title, first PDF page)``."""
    rows, caption = [], object()
    for cap, name, first in entries:
        if cap != caption and cap:
            rows.append(f'<li class="part">{html.escape(cap)}</li>')
        caption = cap
        rows.append(f'<li><span>{html.escape(name)}</span><span class="dots"></span><span>{first}</span></li>')
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
 body {{ font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", "WenQuanYi Zen Hei", serif; margin: 0; }}
 h1 {{ font-size: 26pt; margin: 30mm 0 6mm; line-height: 1.3; }}
 .note {{ color: #555; font-size: 10pt; margin-bottom: 18mm; }}
 h2 {{ font-size: 16pt; border-bottom: 1px solid #999; padding-bottom: 2mm; }}
 ol {{ list-style: none; padding: 0; font-size: 12pt; }}
 li {{ display: flex; margin: 2.5mm 0; }}
 li.part {{ font-weight: bold; margin-top: 6mm; }}
 .dots {{ flex: 1; border-bottom: 1px dotted #888; margin: 0 2mm 1.2mm; }}
</style></head><body><h1>{html.escape(title)}</h1><p class="note">{html.escape(note)}</p>
<h2>目录</h2><ol>{''.join(rows)}</ol></body></html>"""


def numbers_html(first: int, count: int) -> str:
    """``count`` empty A4 pages, each with its page number (from ``first``) at the foot: stamped onto the book."""
    pages = "".join(f'<div class="p"><span>{first + k}</span></div>' for k in range(count))
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
 @page {{ size: A4; margin: 0; }} body {{ margin: 0; }}
 .p {{ height: 297mm; position: relative; page-break-after: always; font: 9pt sans-serif; color: #666; }}
 .p span {{ position: absolute; bottom: 8mm; width: 100%; text-align: center; }}
</style></head><body>{pages}</body></html>"""


def build(html_dir: Path = HTML, out: Path = OUT, site_url: str | None = None, browser=None,
          log=print) -> dict:
    """Print the book into ``out``; returns what was printed: ``{"pages": [...], "seconds": …, "bytes": …}``."""
    from pypdf import PdfReader, PdfWriter

    t0 = time.perf_counter()
    html_dir, out = Path(html_dir), Path(out)
    if not (html_dir / "index.html").is_file():
        raise SystemExit(f"{html_dir} holds no built book: run `make book` first")
    reason = missing() if browser is None else None
    if reason:
        raise SystemExit(f"cannot build the PDF: {reason}")
    site_url = site_url if site_url is not None else os.environ.get("DLBOOK_SITE_URL", "")
    if site_url and not site_url.endswith("/"):
        site_url += "/"
    pages = [(cap, p) for cap, p in toc_pages() if (html_dir / f"{p}.html").is_file()]
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve(html_dir))
        if browser is None:
            from playwright.sync_api import sync_playwright

            pw = stack.enter_context(sync_playwright())
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            stack.callback(browser.close)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 1400})
        stack.callback(context.close)
        context.route("**/*", _local_only)
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        tab.emulate_media(media="print")
        parts: list[tuple[str | None, str, str, bytes]] = []
        for cap, name in pages:
            t = time.perf_counter()
            tab.goto(base + name + ".html", wait_until="load")
            _wait_for_math(tab)
            title = tab.evaluate(PREPARE, [site_url, name])
            data = tab.pdf(format="A4", margin=MARGIN, print_background=True, outline=True, tagged=True)
            parts.append((cap, name, title, data))
            log(f"printed {name}: {len(PdfReader(io.BytesIO(data)).pages)} pages in {time.perf_counter() - t:.1f} s")
        # the title and contents page: one page assumed for it; printed again if it takes more
        readers = [PdfReader(io.BytesIO(d)) for *_, d in parts]
        book_title = tab.evaluate("() => document.querySelector('.navbar-brand .logo__title, .logo__title')"
                                  "?.textContent.trim() || document.title")
        publish = _publish()
        src = publish.Source.from_env()
        note = (f"PDF 版，由网页版逐页打印而成（提交 {src.commit[:12]}，{time.strftime('%Y-%m-%d')}）。"
                + (f"可交互的网页版：{site_url}" if site_url else "每个探索器在这里显示默认画面，拖动滑块请看网页版。"))
        front = 1
        while True:
            starts, n = [], front
            for (cap, _, title, _), r in zip(parts, readers):
                starts.append((cap, title, n + 1))
                n += len(r.pages)
            tab.set_content(contents_html(book_title, starts, note))
            contents = tab.pdf(format="A4", margin=MARGIN, print_background=True)
            if len(PdfReader(io.BytesIO(contents)).pages) == front:
                break
            front = len(PdfReader(io.BytesIO(contents)).pages)
        total = n
        tab.set_content(numbers_html(1, total))
        numbers = PdfReader(io.BytesIO(tab.pdf(format="A4", print_background=False, prefer_css_page_size=True)))

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(contents)), import_outline=False)
    writer.add_outline_item(title="目录", page_number=0)
    for (_, _, title, _), reader in zip(parts, readers):
        start = len(writer.pages)
        writer.append(reader, import_outline=False)
        parent = writer.add_outline_item(title=title, page_number=start)
        _copy_outline(reader, reader.outline, writer, parent, start)
    for k, page in enumerate(writer.pages):
        if k:  # the title page carries no number
            page.merge_page(numbers.pages[k])
            page.compress_content_streams(level=9)  # merging leaves the page's content uncompressed (3× the size)
    radicals = _unradical(writer)
    writer.compress_identical_objects()
    writer.add_metadata({"/Title": book_title, "/Subject": f"dlbook {src.commit}"})
    writer.page_mode = "/UseOutlines"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        writer.write(f)
    seconds = time.perf_counter() - t0
    copy = html_dir / "downloads" / out.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, copy)
    log(f"{out}: {total} pages, {out.stat().st_size / 1e6:.1f} MB, {seconds:.0f} s (also {copy}); "
        f"{radicals} glyphs' text mapped from CJK radicals to ideographs")
    return {"pages": [(name, title) for _, name, title, _ in parts], "seconds": seconds,
            "bytes": out.stat().st_size, "page_count": total}


RADICAL = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf]")
#: CJK radicals (Supplement) with no NFKC decomposition, and the Simplified-Chinese ideograph the CJK font draws
#: with the same glyph (read from Noto Sans CJK SC's cmap); the Kangxi radicals otherwise go through NFKC.
RADICAL_PAIRS = ("⺂乛⺃乚⺅亻⺉刂⺏尣⺐尢⺒巳⺓幺⺔彑⺕彐⺖忄⺘扌⺙攵⺛旡⺞歺⺠民⺡氵⺣灬⺤爫⺦丬⺨犭⺭礻⺯糹⺰纟⺱罓⺹耂⺺肀"
                 "⺾艹⻂衤⻅见⻆角⻈讠⻉贝⻋车⻌辶⻐钅⻑長⻒镸⻓长⻔门⻖阝⻘青⻙韦⻚页⻛风⻜飞⻝食⻟飠⻠饣⻢马⻣骨⻤鬼⻥鱼"
                 "⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻮齿⻯竜⻰龙⻱龜⻲亀⼾户")
RADICAL_TO_IDEOGRAPH = dict(zip(RADICAL_PAIRS[0::2], RADICAL_PAIRS[1::2]))


def ideographs(text: str) -> str:
    """``text`` with each CJK radical replaced by the ideograph it stands for (see :data:`RADICAL_PAIRS`)."""
    import unicodedata

    return RADICAL.sub(lambda m: RADICAL_TO_IDEOGRAPH.get(m.group(0)) or unicodedata.normalize("NFKC", m.group(0)), text)


def _cmap_entries(text: str) -> dict[str, str] | None:
    """A ToUnicode CMap's mappings ``{source code hex: unicode text}`` (None: not a CMap read here)."""
    out: dict[str, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[src] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = bytes.fromhex(dst).decode("utf-16-be")
            for k in range(int(hi, 16) - int(lo, 16) + 1):
                out[f"{int(lo, 16) + k:0{len(lo)}X}"] = first[:-1] + chr(ord(first[-1]) + k)
        if "[" in block:  # array form: not written by Chromium; leave such a CMap alone
            return None
    return out


def _unradical(writer) -> int:
    """Map CJK radicals in the fonts' ToUnicode CMaps to the ideographs they stand for (NFKC).

    The CJK fonts draw 一 (U+4E00) and the Kangxi radical ⼀ (U+2F00) with one glyph, and Chromium's PDF
    writes the radical as the glyph's text: copied or searched, 网络 would read ⽹络.  Returns how many
    mappings were fixed.
    """
    fixed, seen = 0, set()
    for page in writer.pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            if "/ToUnicode" not in font:
                continue
            tu = font.raw_get("/ToUnicode")
            key = getattr(tu, "idnum", None) or id(tu)
            if key in seen:
                continue
            seen.add(key)
            stream = tu.get_object()
            text = stream.get_data().decode("latin-1")
            if not re.search(r"<2[EF][0-9A-Fa-f]{2}>", text):  # no radical (U+2E80-U+2FDF) at all
                continue
            entries = _cmap_entries(text)
            if not entries or not any(RADICAL.search(v) for v in entries.values()):
                continue
            fixed += sum(bool(RADICAL.search(v)) for v in entries.values())
            entries = {k: ideographs(v) for k, v in entries.items()}
            items = sorted(entries.items())
            blocks = []
            for i in range(0, len(items), 100):
                chunk = items[i:i + 100]
                blocks.append(f"{len(chunk)} beginbfchar\n" + "".join(
                    f"<{k}> <{v.encode('utf-16-be').hex().upper()}>\n" for k, v in chunk) + "endbfchar\n")
            head = text[: text.index("endcodespacerange") + len("endcodespacerange")] + "\n"
            stream.set_data((head + "".join(blocks) + "endcmap\nCMapName currentdict /CMap defineresource pop\n"
                             "end\nend\n").encode("latin-1"))
    return fixed


def _clean_title(title: str) -> str:
    """A heading as a bookmark: no permalink sign; "1.3. 1.3. 习题习题" (some headings come out twice) once."""
    title = title.rstrip("#¶ ").strip()
    m = re.fullmatch(r"(\d[\d.]*\s+)\1(.+)", title)
    if m and len(m.group(2)) % 2 == 0 and m.group(2)[: len(m.group(2)) // 2] == m.group(2)[len(m.group(2)) // 2:]:
        title = m.group(1) + m.group(2)[: len(m.group(2)) // 2]
    return title


def _copy_outline(reader, items, writer, parent, offset) -> None:
    """The page's own bookmarks (its headings, from Chromium) under ``parent``, the page's top heading skipped."""
    last = None
    for item in items:
        if isinstance(item, list):
            if last is not None:
                _copy_outline(reader, item, writer, last, offset)
            continue
        page = reader.get_destination_page_number(item)
        if page is None:
            continue
        title = _clean_title(str(item.title))
        if parent is not None and title == str(parent["/Title"]):  # the page's h1 is its bookmark already
            last = parent
            continue
        if title == "目录":  # the theme's printed contents of the page: not a section
            continue
        last = writer.add_outline_item(title=title, page_number=offset + page, parent=parent)


def _publish():
    import importlib.util

    if "dlbook_tools_publish" not in sys.modules:
        spec = importlib.util.spec_from_file_location("dlbook_tools_publish", ROOT / "tools" / "publish.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["dlbook_tools_publish"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/pdf.py", description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    build(args.html, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
