"""The chapters as readers get them outside the book's own environment: Colab, Binder, downloads.

Every published chapter is the committed ``book/chNN_*.ipynb`` (its cells and stored text outputs) with one
cell put first, the *install cell*: where ``dlbook`` cannot be imported (Colab, a fresh Jupyter) it installs
the library from the repository **at the commit the book was built from**; where ``dlbook`` is importable
(the book's own ``.venv``, Binder, whose image installs it) it does nothing.  The committed chapters never
hold this cell, so nbval and the book never see it.  Which repository and commit are filled in at build
time (no owner is written anywhere in the repository):

* repository: ``DLBOOK_REPOSITORY`` or ``GITHUB_REPOSITORY`` (``owner/name``, set by GitHub Actions), else
  the GitHub URL of ``git remote get-url origin``; none (a local clone) -> the cell explains how to install;
* commit: ``DLBOOK_COMMIT`` or ``GITHUB_SHA``, else ``git rev-parse HEAD``.

``DLBOOK_INSTALL_SPEC`` replaces the pip requirement the cell installs (tests point it at a local checkout).

Commands (from the repository root, with the book's ``.venv``)::

    .venv/bin/python tools/publish.py downloads DIR    # DIR/chNN_*.ipynb, .md, dlbook-notebooks.zip
    .venv/bin/python tools/publish.py branch DIR       # the tree of the `notebooks` branch Colab/Binder open
    .venv/bin/python tools/publish.py commit DIR [--remote origin] [--branch notebooks] [--push]

``downloads`` is what the book build does itself (``book/_ext/dlbook_site.py`` writes ``_build/html/downloads``).
``branch`` writes ``book/chNN_*.ipynb`` (+ ``.md``) and ``binder/`` (the Binder image: dlbook at the same
commit, ipywidgets, jupyterlab-myst); ``commit`` makes a commit of that tree on top of the branch (fetched
from the remote when it exists), optionally pushes it, and prints its hash: the publishing workflow passes
that hash to the build as ``DLBOOK_LAUNCH_REF``, so every page's Colab/Binder button opens exactly the
notebooks built with it.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The tag of the install cell in a published chapter.
INSTALL_TAG = "dlbook-install"
#: The zip of every published chapter (``downloads/`` of the site).
ARCHIVE = "dlbook-notebooks.zip"
#: Where Colab and Binder are; the branch the workflow pushes the published chapters to.
COLAB_URL = "https://colab.research.google.com"
BINDER_URL = "https://mybinder.org"
NOTEBOOKS_BRANCH = "notebooks"
_GITHUB = re.compile(r"github\.com[:/]+([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def _git(*args: str, cwd: Path = ROOT, **kw) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def repository(env: dict | None = None) -> str | None:
    """``owner/name`` of the GitHub repository the book is published from, or None when unknown."""
    env = os.environ if env is None else env
    for key in ("DLBOOK_REPOSITORY", "GITHUB_REPOSITORY"):
        if env.get(key):
            value = env[key].strip()
            if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
                raise ValueError(f"{key}={value!r} is not owner/name")
            return value
    try:
        m = _GITHUB.search(_git("remote", "get-url", "origin"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{m.group(1)}/{m.group(2)}" if m else None


def commit(env: dict | None = None) -> str:
    """The commit the book is built from (``GITHUB_SHA`` in Actions, else ``git rev-parse HEAD``)."""
    env = os.environ if env is None else env
    for key in ("DLBOOK_COMMIT", "GITHUB_SHA"):
        if env.get(key):
            return env[key].strip()
    try:
        return _git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass(frozen=True)
class Source:
    """Where the published chapters install dlbook from."""

    repository: str | None
    commit: str
    spec: str | None = None  # an explicit pip requirement (DLBOOK_INSTALL_SPEC)

    @classmethod
    def from_env(cls, env: dict | None = None) -> Source:
        env = os.environ if env is None else env
        return cls(repository(env), commit(env), env.get("DLBOOK_INSTALL_SPEC") or None)

    @property
    def requirement(self) -> str | None:
        """The pip requirement of dlbook at this commit (None: the repository is unknown)."""
        if self.spec:
            return self.spec
        if self.repository and self.commit != "unknown":
            return f"dlbook[chapters] @ git+https://github.com/{self.repository}@{self.commit}"
        return None

    def as_dict(self) -> dict:
        return {"repository": self.repository, "commit": self.commit, "requirement": self.requirement}


def install_cell_source(source: Source) -> str:
    """The install cell: a no-op where dlbook imports, else ``pip install`` of the pinned commit."""
    short = source.commit[:12]
    head = [
        f"# 安装本书的库 dlbook（本章构建时的版本 {short}）。在 Colab 或任何还没有 dlbook 的 Jupyter 里，",
        "# 这一格用 pip 把它装进当前内核的环境（JAX、NumPy、matplotlib 已有的版本只升不降）；",
        "# 在本书自己的环境或 Binder 里 dlbook 已经装好，这一格什么也不做。",
        "import importlib.util",
        "",
        'if importlib.util.find_spec("dlbook") is None:',
    ]
    if source.requirement is None:
        body = [
            "    raise ModuleNotFoundError(",
            '        "找不到 dlbook：在本书仓库的根目录运行 `pip install -e .`，或从发布的网站打开本章（其中的笔记本会自动安装）"',
            "    )",
        ]
    else:
        body = [
            "    import subprocess, sys",
            "",
            f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", {source.requirement!r}])',
            "    importlib.invalidate_caches()",
        ]
    return "\n".join(head + body)


def chapters(root: Path = ROOT) -> list[Path]:
    """Every chapter notebook, by glob (a new chapter is published without editing this tool)."""
    return sorted((root / "book").glob("ch*.ipynb"))


def published(path: Path, source: Source):
    """The published copy of a chapter (an ``nbformat`` notebook): the install cell first, then its cells."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb = copy.deepcopy(nb)
    if any(INSTALL_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ValueError(f"{path} already holds an install cell (tag {INSTALL_TAG!r}): the committed chapters never do")
    cell = nbformat.v4.new_code_cell(install_cell_source(source), metadata={"tags": [INSTALL_TAG]})
    nb.cells.insert(0, cell)
    nb.metadata.get("jupytext", {}).pop("formats", None)  # a published copy is not half of a jupytext pair
    if not nb.metadata.get("jupytext"):
        nb.metadata.pop("jupytext", None)
    nb.metadata["dlbook"] = source.as_dict()
    if nb.nbformat_minor >= 5:
        cell["id"] = INSTALL_TAG
    else:
        cell.pop("id", None)
    nbformat.validate(nb)
    return nb


def _write_pair(nb, stem: str, out: Path) -> list[Path]:
    import jupytext
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    ipynb, md = out / f"{stem}.ipynb", out / f"{stem}.md"
    nbformat.write(nb, ipynb)
    md.write_text(jupytext.writes(nb, fmt="md:myst"), encoding="utf-8")
    return [ipynb, md]


def readme(source: Source) -> str:
    where = f"https://github.com/{source.repository}" if source.repository else "本书的仓库"
    return "\n".join([
        "# dlbook 的章节笔记本",
        "",
        f"这些笔记本来自 {where} 的提交 `{source.commit}`。每章的第一格安装同一提交的 `dlbook` 库"
        "（已安装时什么也不做），之后从上到下运行即可；带滑块的探索器需要 ipywidgets。",
        "",
        "These are the chapters of dlbook as published with the book, built from commit "
        f"`{source.commit}` of {where}. The first cell of each chapter installs the `dlbook` library of that "
        "commit where it is missing (Colab, a fresh Jupyter) and does nothing where it is installed. "
        "Each chapter is there as a notebook (`.ipynb`) and as MyST markdown (`.md`, jupytext).",
        "",
    ])


def write_downloads(out: Path, source: Source, paths: Iterable[Path] | None = None) -> list[Path]:
    """``out/chNN_*.ipynb`` and ``.md`` for each chapter, and ``out/dlbook-notebooks.zip`` holding them all."""
    paths = list(chapters() if paths is None else paths)
    out = Path(out)
    written: list[Path] = []
    for p in paths:
        written += _write_pair(published(p, source), p.stem, out)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in written:
            z.write(f, f"dlbook-notebooks/{f.name}")
        z.writestr("dlbook-notebooks/README.md", readme(source))
    (out / ARCHIVE).write_bytes(buf.getvalue())
    launch = launch_options()
    (out / "manifest.json").write_text(json.dumps(
        {**source.as_dict(), "chapters": [p.stem for p in paths], "archive": ARCHIVE,
         "launch_ref": launch.get("repository_branch")}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    return [*written, out / ARCHIVE, out / "manifest.json"]


def binder_requirements(source: Source) -> str:
    req = source.requirement
    if req is None:
        raise SystemExit("the repository is unknown (set DLBOOK_REPOSITORY=owner/name): Binder could not install dlbook")
    if " @ " in req:
        url = req.split(" @ ", 1)[1]
        req = f"dlbook[widgets,chapters] @ {url}"
    return "\n".join([
        "# The Binder image of the published chapters: dlbook at the commit the book was built from.",
        req,
        "jupyterlab-myst>=2.4,<3   # the chapters' MyST markdown (admonitions, solutions) rendered in JupyterLab",
        "",
    ])


def write_branch(out: Path, source: Source, paths: Iterable[Path] | None = None) -> list[Path]:
    """The tree of the ``notebooks`` branch: ``book/chNN_*.ipynb`` (+ ``.md``), ``binder/``, ``README.md``."""
    paths = list(chapters() if paths is None else paths)
    out = Path(out)
    written: list[Path] = []
    for p in paths:
        written += _write_pair(published(p, source), p.stem, out / "book")
    (out / "binder").mkdir(parents=True, exist_ok=True)
    (out / "binder" / "requirements.txt").write_text(binder_requirements(source), encoding="utf-8")
    (out / "binder" / "runtime.txt").write_text("python-3.11\n", encoding="utf-8")
    (out / "README.md").write_text(readme(source), encoding="utf-8")
    return [*written, out / "binder" / "requirements.txt", out / "binder" / "runtime.txt", out / "README.md"]


def commit_tree(tree_dir: Path, message: str, remote: str | None = "origin", branch: str = NOTEBOOKS_BRANCH,
                push: bool = False, repo: Path = ROOT) -> str:
    """Commit the files under ``tree_dir`` on top of ``branch`` (fetched from ``remote`` if it has it).

    Uses a temporary index, so neither the work tree nor the checked-out branch of ``repo`` changes.  With
    ``push``, the commit is pushed to ``remote``'s ``branch``.  Returns the new commit's hash.
    """
    parent = None
    if remote:
        heads = _git("ls-remote", remote, f"refs/heads/{branch}", cwd=repo)
        if heads:
            _git("fetch", "--quiet", "--depth=1", remote, f"refs/heads/{branch}", cwd=repo)
            parent = heads.split()[0]
    else:
        try:
            parent = _git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo)
        except subprocess.CalledProcessError:
            parent = None
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "dlbook publisher"),
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "dlbook-publisher@users.noreply.github.com"),
    }
    env["GIT_COMMITTER_NAME"] = os.environ.get("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env["GIT_COMMITTER_EMAIL"] = os.environ.get("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    with tempfile.TemporaryDirectory() as tmp:
        env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
        _git("--work-tree", str(Path(tree_dir).resolve()), "add", "--all", "--force", ".", cwd=repo, env=env)
        tree = _git("write-tree", cwd=repo, env=env)
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        sha = _git(*args, cwd=repo, env=env)
    if push:
        _git("push", "--quiet", remote, f"{sha}:refs/heads/{branch}", cwd=repo)
    elif not remote:
        _git("update-ref", f"refs/heads/{branch}", sha, cwd=repo)
    return sha


def launch_options(env: dict | None = None) -> dict:
    """sphinx-book-theme options for the Colab and Binder buttons, or {} when there is nothing to launch.

    Buttons need the repository and ``DLBOOK_LAUNCH_REF``, the ref of the published chapters (the commit on
    the ``notebooks`` branch the workflow pushes): the buttons open ``book/chNN_*.ipynb`` at that ref.
    """
    env = os.environ if env is None else env
    repo, ref = repository(env), (env.get("DLBOOK_LAUNCH_REF") or "").strip()
    if not (repo and ref):
        return {}
    return {
        "repository_url": f"https://github.com/{repo}",
        "repository_branch": ref,
        "path_to_docs": "",
        "launch_buttons": {"notebook_interface": "jupyterlab", "colab_url": COLAB_URL, "binderhub_url": BINDER_URL},
    }


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/publish.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("downloads", "branch", "commit"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--remote", default="origin", help="commit: the remote holding the branch ('' for none)")
    parser.add_argument("--branch", default=NOTEBOOKS_BRANCH)
    parser.add_argument("--push", action="store_true", help="commit: push the new commit to the remote's branch")
    args = parser.parse_args(list(argv) if argv is not None else None)
    source = Source.from_env()
    if args.command == "downloads":
        files = write_downloads(args.dir, source)
        print(f"{len(files)} files in {args.dir} (dlbook from {source.requirement})")
    elif args.command == "branch":
        files = write_branch(args.dir, source)
        print(f"{len(files)} files in {args.dir} (dlbook from {source.requirement})")
    else:
        sha = commit_tree(args.dir, f"Published chapters of {source.commit}", remote=args.remote or None,
                          branch=args.branch, push=args.push)
        print(sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
