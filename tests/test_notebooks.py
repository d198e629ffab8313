"""The committed chapters are a valid regression reference, and nbval really compares them.

* every chapter stores its text outputs (and nothing heavy) -- see dlbook.authoring.check;
* a stored number that no longer matches the kernel's output fails nbval;
* a cell committed without its outputs fails nbval (it cannot pass by comparing nothing).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dlbook import authoring

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found under book/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_stores_text_outputs_only(path):
    assert authoring.check(path) == []


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
    authoring.strip_outputs(nb)
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"]
    assert outs[1].data == {"text/plain": "<Figure>"}
    assert "widgets" not in nb.metadata


PROBE = 'import dlbook as db\nprint(f"{float(db.parabola(3.0, curvature=2.0)):.4f}")'


def _run_nbval(tmp_path: Path, stored_text: str | list[str] | None, source: str = PROBE) -> subprocess.CompletedProcess:
    """Run nbval, configured as for the book (the root conftest.py), on a one-cell notebook."""
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
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
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
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


def test_nbval_compares_text_not_how_it_was_split(tmp_path):
    # the reference stores the printout in two stream outputs (as a kernel may send it): nbval joins
    # consecutive streams on both sides, so only the text counts (authoring.store merges them too)
    res = _run_nbval(tmp_path, ["a\n", "b\n"], source="print('a')\nprint('b')")
    assert res.returncode == 0, res.stdout + res.stderr


def test_merge_streams_joins_consecutive_streams_only():
    out = nbformat.v4.new_output
    merged = authoring.merge_streams([
        out("stream", name="stdout", text="a\n"), out("stream", name="stdout", text="b\n"),
        out("stream", name="stderr", text="w\n"), out("display_data", data={"text/plain": "x"}),
        out("stream", name="stdout", text="c\n"),
    ])
    assert [(o.output_type, o.get("name"), o.get("text")) for o in merged] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "w\n"), ("display_data", None, None),
        ("stream", "stdout", "c\n"),
    ]
