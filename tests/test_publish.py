"""tools/publish.py: the chapters as Colab, Binder and the downloads get them (no execution here).

The install cell is first in every published chapter, pinned to the repository and commit of the build,
a no-op where dlbook imports (this environment) and a pip install of exactly that commit where it does not;
the committed chapters never hold it.  The `notebooks` branch is committed on top of itself without
touching the work tree.  Running a published chapter in a fresh hosted-like environment is
tests/hosted (`make hosted`).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))
SHA = "0123456789abcdef0123456789abcdef01234567"


def _load_tool():
    if "dlbook_tools_publish" in sys.modules:
        return sys.modules["dlbook_tools_publish"]
    spec = importlib.util.spec_from_file_location("dlbook_tools_publish", ROOT / "tools" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


publish = _load_tool()
SOURCE = publish.Source("some-owner/some-book", SHA)


def test_repository_and_commit_from_the_workflow():
    env = {"GITHUB_REPOSITORY": "octo/dl-book", "GITHUB_SHA": SHA}
    s = publish.Source.from_env(env)
    assert (s.repository, s.commit) == ("octo/dl-book", SHA)
    assert s.requirement == f"dlbook[chapters] @ git+https://github.com/octo/dl-book@{SHA}"
    assert publish.Source.from_env({**env, "DLBOOK_REPOSITORY": "fork/x"}).repository == "fork/x"
    assert publish.Source.from_env({**env, "DLBOOK_INSTALL_SPEC": "/src/dlbook"}).requirement == "/src/dlbook"
    with pytest.raises(ValueError, match="GITHUB_REPOSITORY"):
        publish.repository({"GITHUB_REPOSITORY": "not a repo; rm -rf"})


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/octo/dl-book.git", "octo/dl-book"),
    ("git@github.com:octo/dl-book.git", "octo/dl-book"),
    ("https://github.com/octo/dl.book", "octo/dl.book"),
    ("/work/main", None),
    ("https://gitlab.com/octo/dl-book.git", None),
])
def test_repository_from_the_origin_remote(monkeypatch, url, expected):
    monkeypatch.setattr(publish, "_git", lambda *a, **k: url)
    assert publish.repository({}) == expected


def test_without_a_repository_the_cell_says_how_to_install():
    s = publish.Source(None, SHA)
    assert s.requirement is None
    src = publish.install_cell_source(s)
    assert "pip install -e ." in src and "raise ModuleNotFoundError" in src


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda p: p.stem)
def test_published_chapter_is_the_committed_one_with_the_install_cell_first(ch, tmp_path):
    before = ch.read_bytes()
    nb = publish.published(ch, SOURCE)
    committed = nbformat.read(ch, as_version=4)
    assert ch.read_bytes() == before, "publishing must not touch the committed chapter"
    first = nb.cells[0]
    assert first.cell_type == "code" and first.metadata["tags"] == [publish.INSTALL_TAG]
    assert f"git+https://github.com/some-owner/some-book@{SHA}" in first.source
    assert not any(publish.INSTALL_TAG in c.metadata.get("tags", []) for c in committed.cells)
    assert [(c.cell_type, c.source, c.get("outputs")) for c in nb.cells[1:]] == \
        [(c.cell_type, c.source, c.get("outputs")) for c in committed.cells]
    assert nb.metadata["dlbook"]["commit"] == SHA and "formats" not in nb.metadata.get("jupytext", {})
    nbformat.validate(nb)
    nbformat.write(nb, tmp_path / ch.name)
    with pytest.raises(ValueError, match="already holds an install cell"):
        publish.published(tmp_path / ch.name, SOURCE)


def test_install_cell_is_a_no_op_where_dlbook_imports(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda *a, **k: calls.append(a))
    exec(publish.install_cell_source(SOURCE), {})
    assert calls == []


def test_install_cell_installs_the_pinned_commit_where_dlbook_is_missing(monkeypatch):
    calls = []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlbook" else real(name, *a))
    monkeypatch.setattr(subprocess, "check_call", lambda args, **k: calls.append(args))
    exec(publish.install_cell_source(SOURCE), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet",
                      f"dlbook[chapters] @ git+https://github.com/some-owner/some-book@{SHA}"]]


def test_downloads_hold_every_chapter_as_notebook_and_myst_and_one_zip(tmp_path):
    files = publish.write_downloads(tmp_path, SOURCE)
    names = {f.name for f in files}
    for ch in CHAPTERS:
        assert {f"{ch.stem}.ipynb", f"{ch.stem}.md"} <= names
        md = (tmp_path / f"{ch.stem}.md").read_text(encoding="utf-8")
        assert md.index(publish.INSTALL_TAG) < md.index("\n# "), "the install cell comes before the title"
    with zipfile.ZipFile(tmp_path / publish.ARCHIVE) as z:
        inside = set(z.namelist())
    assert {f"dlbook-notebooks/{ch.stem}.{ext}" for ch in CHAPTERS for ext in ("ipynb", "md")} <= inside
    assert "dlbook-notebooks/README.md" in inside
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["commit"] == SHA and manifest["chapters"] == [c.stem for c in CHAPTERS]


def test_branch_tree_has_the_binder_image_pinned_to_the_same_commit(tmp_path):
    publish.write_branch(tmp_path, SOURCE)
    assert sorted(p.name for p in (tmp_path / "book").glob("ch*.ipynb")) == [c.name for c in CHAPTERS]
    req = (tmp_path / "binder" / "requirements.txt").read_text()
    assert f"dlbook[widgets,chapters] @ git+https://github.com/some-owner/some-book@{SHA}" in req
    with pytest.raises(SystemExit, match="DLBOOK_REPOSITORY"):
        publish.write_branch(tmp_path / "x", publish.Source(None, SHA), paths=[])


def _run(*args, cwd):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_commit_goes_on_top_of_the_remote_branch_without_touching_the_work_tree(tmp_path):
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    _run("git", "init", "-q", "--bare", str(remote), cwd=tmp_path)
    _run("git", "init", "-q", str(repo), cwd=tmp_path)
    _run("git", "remote", "add", "origin", str(remote), cwd=repo)
    (repo / "tracked.txt").write_text("main\n")
    tree = tmp_path / "tree"
    (tree / "book").mkdir(parents=True)
    (tree / "book" / "ch01.ipynb").write_text("{}\n")
    first = publish.commit_tree(tree, "one", remote="origin", push=True, repo=repo)
    (tree / "book" / "ch02.ipynb").write_text("{}\n")
    second = publish.commit_tree(tree, "two", remote="origin", push=True, repo=repo)
    assert _run("git", "rev-parse", "refs/heads/notebooks", cwd=remote) == second
    assert _run("git", "rev-parse", f"{second}^", cwd=remote) == first
    assert _run("git", "ls-tree", "-r", "--name-only", second, cwd=remote).split() == ["book/ch01.ipynb", "book/ch02.ipynb"]
    assert (repo / "tracked.txt").read_text() == "main\n" and not (repo / "book").exists()


def test_launch_buttons_only_with_a_repository_and_the_published_ref():
    assert publish.launch_options({"GITHUB_REPOSITORY": "octo/dl-book"}) == {}
    opts = publish.launch_options({"GITHUB_REPOSITORY": "octo/dl-book", "DLBOOK_LAUNCH_REF": SHA})
    assert opts["repository_url"] == "https://github.com/octo/dl-book"
    assert opts["repository_branch"] == SHA and opts["path_to_docs"] == ""
    assert opts["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert opts["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
