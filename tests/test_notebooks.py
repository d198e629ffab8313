"""The committed chapters are a valid regression reference, nbval really compares them, and each
notebook agrees with its MyST-markdown twin.

* every chapter stores its text outputs (and nothing heavy), and no cell opts out of nbval's comparison
  by a comment or a tag -- see tools/chapters.py (check);
* every chapter book/chNN_*.ipynb has its twin book/chNN_*.md, paired by jupytext, with the same cells
  (type, source, metadata) and notebook metadata -- tools/chapters.py (pair_problems); `make sync` fixes it;
* a stored number that no longer matches the kernel's output fails nbval;
* a cell committed without its outputs fails nbval (it cannot pass by comparing nothing).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))


def _load_tool():
    """tools/chapters.py, the maintainer tool (a script, not part of the dlbook package)."""
    spec = importlib.util.spec_from_file_location("dlbook_tools_chapters", ROOT / "tools" / "chapters.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


chapters = _load_tool()


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found under book/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_stores_text_outputs_only(path):
    assert chapters.check(path) == []


def _toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for v in node.values():
            found += _toc_files(v)
    elif isinstance(node, list):
        for v in node:
            found += _toc_files(v)
    return found


def test_every_chapter_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = set(_toc_files(toc)) | {toc["root"]}
    for p in CHAPTERS:
        assert f"book/{p.stem}" in listed, f"{p.name} is missing from _toc.yml"
    for f in listed:
        assert any((ROOT / f).with_suffix(s).exists() for s in (".ipynb", ".md")), f"_toc.yml lists missing {f}"


def test_strip_outputs_keeps_text_and_drops_the_rest():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    nb.metadata["widgets"] = {"state": {}}
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1.2345\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {}}),
    ]
    chapters.strip_outputs(nb)
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"]
    assert outs[1].data == {"text/plain": "<Figure>"}
    assert "widgets" not in nb.metadata


PROBE = 'import dlbook as db\nprint(f"{float(db.parabola(3.0, curvature=2.0)):.4f}")'


def _copy_conftest(tmp_path: Path) -> None:
    """The root conftest.py into tmp_path, with tools/chapters.py, from which it takes the portable XLA flags."""
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tools").mkdir(exist_ok=True)
    shutil.copy(ROOT / "tools" / "chapters.py", tmp_path / "tools" / "chapters.py")


def _run_nbval(tmp_path: Path, stored_text: str | list[str] | None, source: str = PROBE,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run nbval, configured as for the book (the root conftest.py), on a one-cell notebook."""
    _copy_conftest(tmp_path)
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = 1
    if stored_text is not None:
        texts = [stored_text] if isinstance(stored_text, str) else stored_text
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, **(env or {})},
    )


def test_nbval_accepts_the_right_number(tmp_path):
    res = _run_nbval(tmp_path, "9.0000\n")
    assert res.returncode == 0, res.stdout + res.stderr


def test_nbval_rejects_a_changed_number(tmp_path):
    res = _run_nbval(tmp_path, "9.0001\n")
    assert res.returncode != 0 and "9.0001" in res.stdout


def test_nbval_rejects_a_cell_stored_without_outputs(tmp_path):
    res = _run_nbval(tmp_path, None)
    assert res.returncode != 0 and "Unexpected output fields" in res.stdout


def _cached(tmp_path: Path, name: str = "probe.ipynb"):
    """A notebook's record in the execution cache the run wrote to, as the book build looks it up (or None)."""
    from jupyter_cache import get_cache

    cache = tmp_path / "cache"
    if not cache.exists():
        return None
    try:
        return get_cache(str(cache)).merge_match_into_notebook(nbformat.read(tmp_path / name, as_version=4))[1]
    except KeyError:
        return None


PLOT = ('import matplotlib.pyplot as plt\nimport dlbook as db\nprint(f"{float(db.parabola(3.0, curvature=2.0)):.4f}")'
        '\nplt.plot([0, 1])\nplt.show()')
FIGURE = "<Figure size 640x480 with 1 Axes>"


def _static_run(tmp_path: Path, cells: dict[str, list[tuple[str, list]]], *args: str) -> subprocess.CompletedProcess:
    """nbval as `make nbval` runs it (static explorers, filling the cache in tmp_path/cache) on the notebooks
    ``{name: [(source, stored outputs), ...]}``."""
    _copy_conftest(tmp_path)
    for name, spec in cells.items():
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(src, execution_count=k + 1, outputs=outs) for k, (src, outs) in enumerate(spec)],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, tmp_path / name)
    env = {**os.environ, "DLBOOK_EXPLORERS": "static", "DLBOOK_EXECUTION_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                           "-q", "--rootdir", str(tmp_path), *args, *(str(tmp_path / n) for n in cells)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)


def _stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_nbval_in_static_mode_caches_each_chapter_for_the_book(tmp_path):
    # make test: nbval's execution is the one the book renders (figures included), so the strict build
    # finds every chapter in the cache and executes none; two notebooks in one run: each is cached whole
    figure = nbformat.v4.new_output("display_data", data={"text/plain": FIGURE})
    res = _static_run(tmp_path, {"probe.ipynb": [(PLOT, [_stdout("9.0000\n"), figure])],
                                 "second.ipynb": [("x = 2", []), ("print(x + 1)", [_stdout("3\n")])]})
    assert res.returncode == 0, res.stdout + res.stderr
    executed = _cached(tmp_path)
    assert executed is not None, "the passing static run was not cached"
    outs = executed.cells[0].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"] and outs[0].text == "9.0000\n"
    assert "image/png" in outs[1].data  # the figure itself, which the committed notebook does not store
    second = _cached(tmp_path, "second.ipynb")
    assert second is not None and second.cells[1].outputs[0].text == "3\n"


def test_nbval_caches_nothing_from_a_partial_run(tmp_path):
    res = _static_run(tmp_path, {"probe.ipynb": [("x = 2", []), ("print(x + 1)", [_stdout("3\n")])]},
                      "--deselect", "probe.ipynb::Cell 1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert _cached(tmp_path) is None


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_outputs_are_what_nbval_records(path):
    # the book renders nbval's record of each execution, and nbval drops clear_output and display-update
    # messages (nbclient would apply them): a chapter that used them would render differently
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    for call in ("clear_output", "display_id", "update_display"):
        assert call not in code, f"{path.name} uses {call}: nbval's record of the execution would differ from the book's"


@pytest.mark.parametrize("case", ["live", "wrong number"])
def test_nbval_caches_nothing_from_a_live_or_failed_run(tmp_path, case):
    env = {"DLBOOK_EXECUTION_CACHE": str(tmp_path / "cache"), "DLBOOK_EXPLORERS": "static" if case != "live" else "live"}
    res = _run_nbval(tmp_path, "9.0001\n" if case == "wrong number" else "9.0000\n", env=env)
    assert (res.returncode == 0) == (case == "live"), res.stdout + res.stderr
    assert _cached(tmp_path) is None


def test_nbval_compares_text_not_how_it_was_split(tmp_path):
    # the reference stores the printout in two stream outputs (as a kernel may send it): nbval joins
    # consecutive streams on both sides, so only the text counts (tools/chapters.py store merges them too)
    res = _run_nbval(tmp_path, ["a\n", "b\n"], source="print('a')\nprint('b')")
    assert res.returncode == 0, res.stdout + res.stderr


def test_merge_streams_joins_consecutive_streams_only():
    out = nbformat.v4.new_output
    merged = chapters.merge_streams([
        out("stream", name="stdout", text="a\n"), out("stream", name="stdout", text="b\n"),
        out("stream", name="stderr", text="w\n"), out("display_data", data={"text/plain": "x"}),
        out("stream", name="stdout", text="c\n"),
    ])
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "w\n"), ("display_data", None, None),
        ("stream", "stdout", "c\n"),
    ]


# --- no cell opts out of nbval's comparison ------------------------------------------------------------


def _probe_notebook(path: Path, tags: list[str] | None = None, source: str = "print(1)",
                    stored: str = "1\n") -> Path:
    """A one-cell notebook that passes the check unless its tags or source say otherwise."""
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    if tags is not None:
        cell.metadata["tags"] = tags
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_check_accepts_the_probe(tmp_path):
    assert chapters.check(_probe_notebook(tmp_path / "probe.ipynb")) == []


@pytest.mark.parametrize("tag", [
    "nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "raises-exception",
    "pytest-validate-ignore-output",
])
def test_check_rejects_a_cell_tag_that_opts_out_of_nbval(tmp_path, tag):
    path = _probe_notebook(tmp_path / "probe.ipynb", tags=["hide-input", tag])
    problems = chapters.check(path)
    assert len(problems) == 1, problems
    assert "code cell 0" in problems[0] and tag in problems[0]


@pytest.mark.parametrize("marker", [
    "NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION", "PYTEST_VALIDATE_IGNORE_OUTPUT",
])
def test_check_rejects_a_comment_that_opts_out_of_nbval(tmp_path, marker):
    path = _probe_notebook(tmp_path / "probe.ipynb", source=f"# {marker}\nprint(1)")
    problems = chapters.check(path)
    assert len(problems) == 1 and "code cell 0" in problems[0] and marker in problems[0], problems


def test_check_accepts_tags_that_do_not_opt_out(tmp_path):
    # display tags of the book, and nbval's explicit request for the comparison --nbval makes anyway
    path = _probe_notebook(tmp_path / "probe.ipynb", tags=["hide-input", "remove-stderr", "nbval-check-output"])
    assert chapters.check(path) == []


def test_check_knows_every_opt_out_nbval_has():
    # nbval's own tables of comment markers and tags: any marker that is not "compare the outputs"
    # (ignore the outputs, skip the cell, accept an exception) must be rejected by the check
    from nbval import plugin

    def opts_out(marker) -> bool:
        return (marker if isinstance(marker, tuple) else (marker, True)) != ("check", True)

    assert {t for t, m in plugin.metadata_tags.items() if opts_out(m)} <= set(chapters.OPT_OUT_TAGS)
    assert {c for c, m in plugin.comment_markers.items() if opts_out(m)} <= set(chapters.OPT_OUT_COMMENTS)


def test_nbval_really_skips_tagged_cells(tmp_path):
    # why the tags are rejected: a wrong stored number in a cell tagged like this passes nbval
    _copy_conftest(tmp_path)
    cells = []
    for tag in ("nbval-ignore-output", "nbval-skip"):
        cell = nbformat.v4.new_code_cell("print(1)")
        cell.execution_count = len(cells) + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
        cell.metadata["tags"] = [tag]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert [p.split("(")[-1] for p in chapters.check(path)] == ["tag 'nbval-ignore-output')", "tag 'nbval-skip')"]


# --- each chapter's .ipynb agrees with its MyST-markdown twin (.md) ---------------------------------------

BOOK = ROOT / "book"
CHAPTER_STEMS = sorted({p.stem for p in BOOK.glob("ch*.ipynb")} | {p.stem for p in BOOK.glob("ch*.md")})


@pytest.mark.parametrize("stem", CHAPTER_STEMS)
def test_chapter_has_its_twin_and_the_pairing(stem):
    ipynb, md = BOOK / f"{stem}.ipynb", BOOK / f"{stem}.md"
    assert ipynb.exists(), (f"book/{stem}.md has no notebook book/{stem}.ipynb (the book builds only the "
                            f".ipynb): run `make sync`")
    assert md.exists(), (f"book/{stem}.ipynb has no MyST-markdown twin book/{stem}.md: run "
                         f"`.venv/bin/jupytext --set-formats ipynb,md:myst book/{stem}.ipynb`")
    formats = nbformat.read(ipynb, as_version=4).metadata.get("jupytext", {}).get("formats")
    assert formats == "ipynb,md:myst", f"book/{stem}.ipynb: jupytext formats {formats!r}"
    header = jupytext.read(md).metadata.get("jupytext", {})
    assert header.get("formats") == "ipynb,md:myst", f"book/{stem}.md: jupytext formats {header.get('formats')!r}"
    assert header.get("text_representation", {}).get("format_name") == "myst", f"book/{stem}.md is not MyST"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_agrees_with_its_md_twin(path):
    problems = chapters.pair_problems(path)
    assert not problems, "\n".join(problems)


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    """A copy of chapter 1's pair (in sync) in tmp_path/book."""
    (tmp_path / "book").mkdir()
    src = CHAPTERS[0]
    ipynb = Path(shutil.copy(src, tmp_path / "book" / src.name))
    md = Path(shutil.copy(src.with_suffix(".md"), ipynb.with_suffix(".md")))
    assert chapters.pair_problems(ipynb) == []
    return ipynb, md


def _first_code_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def _edit_code(nb):
    i = _first_code_cell(nb)
    nb.cells[i].source += "\nx_changed_in_the_md = 1"
    return f"cell {i} (code"


def _edit_tag(nb):
    i = _first_code_cell(nb)
    nb.cells[i].metadata["tags"] = [*nb.cells[i].metadata.get("tags", []), "hide-input"]
    return f"cell {i} (code"


def _edit_markdown(nb):
    i = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown")
    nb.cells[i].source += "\n\n新加的一句话。"
    return f"cell {i} (markdown"


def _remove_cell(nb):
    i = _first_code_cell(nb)
    del nb.cells[i]
    return f"only the .ipynb has cell {i} (code"


def _edit_kernelspec(nb):
    nb.metadata["kernelspec"] = {**nb.metadata["kernelspec"], "name": "python2"}
    return "'kernelspec'"


@pytest.mark.parametrize("edit", [_edit_code, _edit_tag, _edit_markdown, _remove_cell, _edit_kernelspec],
                         ids=lambda f: f.__name__[1:])
def test_pair_check_reports_a_changed_md(pair, edit):
    ipynb, md = pair
    twin = jupytext.read(md)
    where = edit(twin)
    jupytext.write(twin, md, fmt="md:myst")
    problems = chapters.pair_problems(ipynb)
    assert problems, "the changed .md was not reported"
    text = "\n".join(problems)
    assert md.name in text and where in text, text
    assert "make sync" in problems[-1], problems[-1]


def test_pair_check_reports_a_hand_edited_md(pair):
    ipynb, md = pair
    md.write_text(md.read_text(encoding="utf-8") + "\n最后加的一段文字。\n", encoding="utf-8")
    problems = chapters.pair_problems(ipynb)
    assert problems and "最后加的一段文字" in "\n".join(problems) and "make sync" in problems[-1], problems


def test_pair_check_reports_a_missing_twin_or_pairing(pair):
    ipynb, md = pair
    nb = nbformat.read(ipynb, as_version=4)
    del nb.metadata["jupytext"]
    nbformat.write(nb, ipynb)
    assert "jupytext formats metadata" in "\n".join(chapters.pair_problems(ipynb))
    md.unlink()
    assert "has no MyST-markdown twin" in "\n".join(chapters.pair_problems(ipynb))


def test_check_command_fails_on_a_pair_out_of_sync(pair):
    ipynb, md = pair
    md.write_text(md.read_text(encoding="utf-8") + "\n最后加的一段文字。\n", encoding="utf-8")
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "chapters.py"), "check", str(ipynb)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "make sync" in res.stdout, res.stdout + res.stderr


def test_sync_copies_the_md_into_the_notebook_and_keeps_its_outputs(pair):
    ipynb, md = pair
    before = nbformat.read(ipynb, as_version=4)
    twin = jupytext.read(md)
    i = _first_code_cell(twin)
    twin.cells[i].source += "\n# 只改了注释"
    jupytext.write(twin, md, fmt="md:myst")
    edited = md.read_text(encoding="utf-8")
    t = ipynb.stat().st_mtime
    os.utime(md, (t + 10, t + 10))      # the .md is the newer file, as after an author's edit
    assert chapters.sync(ipynb) is True
    assert chapters.pair_problems(ipynb) == []
    after = nbformat.read(ipynb, as_version=4)
    assert after.cells[i].source.endswith("# 只改了注释")
    assert md.read_text(encoding="utf-8") == edited
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    assert chapters.check(ipynb) == []
    assert chapters.sync(ipynb) is False     # nothing left to do


def test_store_executes_what_the_md_says(tmp_path):
    # a chapter that exists only as its .md: store syncs (creating the .ipynb), executes, stores the
    # text output, and leaves the .md the newer file of the pair
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 探针"),
                                         nbformat.v4.new_code_cell("print(2 + 2)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["jupytext"] = {"formats": "ipynb,md:myst"}
    md = tmp_path / "ch99_probe.md"
    jupytext.write(nb, md, fmt="md:myst")
    ipynb = md.with_suffix(".ipynb")
    chapters.store(md)
    stored = nbformat.read(ipynb, as_version=4)
    assert [o.get("text") for o in stored.cells[1].outputs] == ["4\n"]
    assert chapters.check(ipynb) == [] and chapters.pair_problems(ipynb) == []
    assert md.stat().st_mtime >= ipynb.stat().st_mtime


# --- tools/chapters.py execute: the book build's execution ------------------------------------------------


def test_execute_runs_each_chapter_once_caches_it_and_names_a_failure(tmp_path):
    # the command `make book` runs (a process of its own: jupyter-cache forks its pool, which must not copy JAX)
    from jupyter_cache import get_cache

    from benchmarks.book import EXECUTED

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    for path, source in ((good, "import os\nprint(os.environ['DLBOOK_EXPLORERS'])"), (bad, "1 / 0")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
        nbformat.write(nb, path)
    cache = tmp_path / "cache"

    def execute(path):
        return subprocess.run([sys.executable, str(ROOT / "tools" / "chapters.py"), "execute", "--cache", str(cache),
                               str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT)

    first = execute(good)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [Path(p).name for p, _ in EXECUTED.findall(first.stdout)] == ["good.ipynb"]
    assert "1 of 1 chapters executed, 0 from the cache" in first.stdout
    _, executed = get_cache(str(cache)).merge_match_into_notebook(nbformat.read(good, as_version=4))
    assert executed.cells[0].outputs[0].text == "static\n"  # the book's execution: static explorers
    again = execute(good)
    assert again.returncode == 0 and "0 of 1 chapters executed, 1 from the cache" in again.stdout
    assert EXECUTED.findall(again.stdout) == []
    failed = execute(bad)
    assert failed.returncode != 0 and "bad.ipynb failed:" in failed.stderr and "ZeroDivisionError" in failed.stderr


def test_benchmark_reads_pytest_summaries():
    from benchmarks.book import PASSED

    for line, seconds in [("904 passed in 185.98s (0:03:05)", "185.98"), ("894 passed, 1 skipped in 213.73s", "213.73"),
                          ("45 passed in 96.24s (0:01:36)", "96.24")]:
        assert PASSED.findall(line) == [seconds]


def test_bibliography_keys_are_unique_and_every_citation_resolves():
    """A repeated key makes pybtex reject the whole file (every citation of the book then fails the strict
    build); a chapter citing a missing key fails it too.  Both are found here, without building the book."""
    import re
    from collections import Counter

    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = Counter(re.findall(r"^@\w+\{([^,\s]+),", bib, re.M))
    assert not [k for k, n in keys.items() if n > 1], "repeated keys in book/references.bib"
    for md in sorted((ROOT / "book").glob("ch*.md")):
        prefix = md.stem[:4] + "-"                  # the chapter's bibliography keyprefix, e.g. ch01-
        for group in re.findall(r"\{cite:\w+\}`([^`]+)`", md.read_text(encoding="utf-8")):
            for key in (k.strip() for k in group.split(",")):
                assert key.startswith(prefix) and key[len(prefix):] in keys, f"{md.name} cites {key!r}"


# --- one set of bits on every x86-64 machine (tools/chapters.py: PORTABLE_XLA_FLAG) -------------------------

def test_portable_xla_flags_add_the_cap_once_and_keep_the_users(monkeypatch):
    monkeypatch.setattr(chapters.platform, "machine", lambda: "x86_64")
    assert chapters.portable_xla_flags(None) == chapters.PORTABLE_XLA_FLAG
    assert chapters.portable_xla_flags(" --a=1 ") == f"--a=1 {chapters.PORTABLE_XLA_FLAG}"
    assert chapters.portable_xla_flags(chapters.portable_xla_flags("--a=1")) == f"--a=1 {chapters.PORTABLE_XLA_FLAG}"
    assert chapters.portable_xla_flags("--xla_cpu_max_isa=SSE4_2") == "--xla_cpu_max_isa=SSE4_2"
    monkeypatch.setattr(chapters.platform, "machine", lambda: "arm64")
    assert chapters.portable_xla_flags("--a=1") == "--a=1"


def test_pytest_runs_with_the_portable_flags():
    """conftest.py set them, so the kernels nbval starts inherit them."""
    assert os.environ.get("XLA_FLAGS", "") == chapters.portable_xla_flags(os.environ.get("XLA_FLAGS"))


_ISA_PROBE = """
import hashlib, jax, jax.numpy as jnp, numpy as np
A = jax.random.normal(jax.random.key(0), (64, 1000)); x = jax.random.normal(jax.random.key(1), (100000,))
out = jax.jit(lambda A, x: (A @ A.T, jnp.sum(jnp.tanh(x))))(A, x)
print(hashlib.sha256(b"".join(np.asarray(o).tobytes() for o in out)).hexdigest())
"""


def _probe(flags: str) -> str:
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", _ISA_PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def test_xla_honours_the_isa_cap():
    """The cap is not a no-op: capped lower, XLA computes other bits (so the cap to AVX2 is what decides them)."""
    flags = chapters.portable_xla_flags("")
    if not flags:
        pytest.skip("not an x86-64 machine: the ISA cap does not apply")
    with open("/proc/cpuinfo") as f:
        if " avx2" not in f.read():
            pytest.skip("this CPU has no AVX2")
    assert _probe(flags) != _probe("--xla_cpu_max_isa=SSE4_2")
