"""The built site's downloads and launch buttons (book/_ext/dlbook_site.py, tools/publish.py).

Every chapter page's download menu offers the chapter as published (``downloads/chNN_*.ipynb``, install
cell first, dlbook pinned to the commit recorded in ``downloads/manifest.json``) and as MyST text, and
every page offers the zip of all chapters; the files are there and hold what they say.  Launch buttons:
when the build knew the repository and the published ref (the publishing workflow), every chapter page has
a Colab and a Binder button opening that chapter at that ref; otherwise (a local build) no page has one.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
DOWNLOADS = HTML / "downloads"
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))
INSTALL_TAG = "dlbook-install"


@pytest.fixture(scope="module")
def manifest():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test builds it before these checks)")
    path = DOWNLOADS / "manifest.json"
    assert path.is_file(), "the build wrote no downloads/manifest.json (book/_ext/dlbook_site.py)"
    return json.loads(path.read_text(encoding="utf-8"))


def links(page: Path) -> list[str]:
    return [htmllib.unescape(h) for h in re.findall(r'<a [^>]*href="([^"]+)"', page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_offers_the_published_notebook_and_its_myst_text(manifest, ch):
    page = HTML / "book" / f"{ch.stem}.html"
    hrefs = links(page)
    for name in (f"{ch.stem}.ipynb", f"{ch.stem}.md", "dlbook-notebooks.zip"):
        assert f"../downloads/{name}" in hrefs, f"{page.name} does not link downloads/{name}"
        assert (DOWNLOADS / name).is_file()
    nb = nbformat.read(DOWNLOADS / f"{ch.stem}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.metadata.get("tags") == [INSTALL_TAG]
    assert manifest["commit"][:12] in first.source    # the commit built (in full in the pip requirement)
    if manifest["requirement"]:
        assert manifest["requirement"] in first.source
    committed = nbformat.read(ch, as_version=4)
    assert [c.source for c in nb.cells[1:]] == [c.source for c in committed.cells]
    md = (DOWNLOADS / f"{ch.stem}.md").read_text(encoding="utf-8")
    assert INSTALL_TAG in md and committed.cells[0].source.splitlines()[0] in md


def test_zip_holds_every_chapter(manifest):
    with zipfile.ZipFile(DOWNLOADS / "dlbook-notebooks.zip") as z:
        names = set(z.namelist())
    for ch in CHAPTERS:
        assert {f"dlbook-notebooks/{ch.stem}.ipynb", f"dlbook-notebooks/{ch.stem}.md"} <= names
    assert manifest["chapters"] == [c.stem for c in CHAPTERS]


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_launch_buttons_open_this_chapter_at_the_published_ref(manifest, ch):
    hrefs = links(HTML / "book" / f"{ch.stem}.html")
    launch = [h for h in hrefs if "colab.research.google.com" in h or "mybinder.org" in h]
    repo, ref = manifest["repository"], manifest["launch_ref"]
    if not (repo and ref):
        assert not launch, "launch buttons on a build that did not know where the published chapters are"
        return
    assert f"https://colab.research.google.com/github/{repo}/blob/{ref}/book/{ch.stem}.ipynb" in hrefs
    assert f"https://mybinder.org/v2/gh/{repo}/{ref}?urlpath=lab/tree/book/{ch.stem}.ipynb" in hrefs
