"""Maintainer tool for the chapters: each ``book/chNN_*.ipynb`` and its MyST-markdown twin ``book/chNN_*.md``.

The two files of a chapter are a jupytext pair (``"jupytext": {"formats": "ipynb,md:myst"}``).  People edit
and review the ``.md``; the ``.ipynb`` holds the same cells plus the stored *text* outputs nbval compares
(printed numbers, ``text/plain`` reprs) and is what the book builds from.  Images, HTML, widget views,
widget state and stderr are never stored: nbval re-executes the chapter and compares the text, and the
built book renders the figures of an execution (nbval's, under ``make test``; else ``execute``'s).

Usage, from the repository root (``make sync`` and ``make outputs`` run it on every chapter)::

    .venv/bin/python tools/chapters.py sync  book/ch01_gradient_descent.md     # .md edits into the .ipynb
    .venv/bin/python tools/chapters.py store book/ch01_gradient_descent.ipynb  # execute, store text outputs
    .venv/bin/python tools/chapters.py check book/ch*.ipynb                    # no execution
    .venv/bin/python tools/chapters.py execute book/ch*.ipynb                  # the book's execution, in parallel
    .venv/bin/python tools/chapters.py xla-flags                               # XLA_FLAGS for a portable reference

``sync`` runs ``jupytext --sync`` on each pair that differs: the inputs of the newer of the two files are
copied into the other, and the ``.ipynb`` keeps its outputs.  ``store`` syncs first, so what it executes
is what the ``.md`` says.  ``check`` reports stored-output problems and pairs out of sync; the unit tests
(tests/test_notebooks.py) run the same checks.  ``execute`` is the book build's execution (``make book``
runs it before Jupyter Book): every chapter not yet in the book's jupyter-cache (``_build/.jupyter_cache``,
keyed by the chapter's code) is executed with explorers ``static``, concurrently, by jupyter-cache's
``local-parallel`` executor (one process per core), and cached; Jupyter Book then executes nothing.
A chapter may be named by either of its two files.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: MIME types stored in committed notebooks; everything else is dropped.
KEPT_MIME = ("text/plain",)
#: Budget for a committed chapter file.
MAX_NOTEBOOK_BYTES = 300_000
#: The jupytext pairing of every chapter.
PAIR_FORMATS = "ipynb,md:myst"
TWIN_FORMAT = "md:myst"

#: Cell comments (``# NBVAL_SKIP``) and cell tags with which nbval stops comparing a cell's outputs, skips
#: the cell, or lets it raise (nbval.plugin.comment_markers / metadata_tags; ``raises-exception`` is also
#: honoured by nbclient, so the book build and ``store`` would let such a cell fail).  A chapter uses none:
#: its numbers are rounded so they agree across machines, and each one it stores is compared.
#: (``NBVAL_CHECK_OUTPUT`` / ``nbval-check-output`` only ask for the comparison ``--nbval`` makes anyway.)
OPT_OUT_COMMENTS = ("NBVAL_IGNORE_OUTPUT", "PYTEST_VALIDATE_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")
OPT_OUT_TAGS = (
    "nbval-ignore-output", "pytest-validate-ignore-output", "nbval-skip", "nbval-raises-exception",
    "raises-exception",
)

#: XLA's CPU code generation capped at AVX2, so that no machine vectorizes wider than the one the stored outputs
#: were computed on (chapters 3-5 stored on an AVX-512 machine failed their asserts on an AVX2 one).  Necessary,
#: not sufficient: an AMD EPYC and an Intel Xeon, both capped at AVX2, still differ in the last bits of long
#: training runs (chapter 9 stored on the one fails 6 cells on the other), so the references are those of CI's
#: machine (a 2-core Intel Xeon); see the README.  Every kernel started by this tool, by nbval (conftest.py)
#: and by make (the Makefile exports it) gets it.
PORTABLE_XLA_FLAG = "--xla_cpu_max_isa=AVX2"


def portable_xla_flags(flags: str | None) -> str:
    """An ``XLA_FLAGS`` value: ``flags`` with :data:`PORTABLE_XLA_FLAG` added on x86-64.

    Kept as it is where ``flags`` already caps the ISA (the user's choice) or the machine is not x86-64
    (the flag names x86 instruction sets).
    """
    flags = (flags or "").strip()
    if "xla_cpu_max_isa" in flags or platform.machine().lower() not in ("x86_64", "amd64"):
        return flags
    return f"{flags} {PORTABLE_XLA_FLAG}".strip()


def use_portable_xla_flags() -> None:
    """Set ``XLA_FLAGS`` in this process's environment (inherited by the kernels it starts) to the portable value."""
    os.environ["XLA_FLAGS"] = portable_xla_flags(os.environ.get("XLA_FLAGS"))


def _show(path: Path) -> str:
    """``path`` as the author types it: relative to the repository root when it lies inside."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _notebook_path(path: Path) -> Path:
    """The ``.ipynb`` of the chapter named by ``path`` (either of its two files)."""
    return Path(path).with_suffix(".ipynb")


# ---------------------------------------------------------------------------------------------------------
# Stored outputs
# ---------------------------------------------------------------------------------------------------------


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same name (stdout/stderr) into one.

    How a kernel splits printed text into stream messages depends on timing, so the same cell can store
    one stdout block on one run and three on the next; merged, the text is the same every time.
    """
    merged: list = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            prev = merged[-1]
            text = "".join(prev["text"]) if isinstance(prev["text"], list) else prev["text"]
            add = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
            merged[-1] = type(prev)({**prev, "text": text + add})
        else:
            merged.append(out)
    return merged


def strip_outputs(nb) -> None:
    """Keep only text outputs (in place): see :data:`KEPT_MIME`; drop stderr and widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                if out.name == "stderr":
                    continue
            elif out.output_type in ("display_data", "execute_result"):
                out["data"] = {k: v for k, v in out.get("data", {}).items() if k in KEPT_MIME}
                out["metadata"] = {}
                if not out["data"]:
                    continue
            kept.append(out)
        cell.outputs = merge_streams(kept)


def _tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def check(path: Path) -> list[str]:
    """Problems with a committed chapter's stored outputs (empty list when it is fine)."""
    import nbformat

    path = _notebook_path(path)
    name = _show(path)
    nb = nbformat.read(path, as_version=4)
    problems = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{name}: {size / 1024:.0f} KB, over the {MAX_NOTEBOOK_BYTES // 1000} KB budget")
    if "widgets" in nb.metadata:
        problems.append(f"{name}: stores widget state; run `make outputs`")
    for i, c in enumerate(code):
        if c.get("execution_count") is None:
            problems.append(f"{name}: code cell {i} was never executed; run `make outputs`")
        for out in c.get("outputs", []):
            extra = set(out.get("data", {})) - set(KEPT_MIME)
            if extra:
                problems.append(f"{name}: code cell {i} stores {sorted(extra)}; run `make outputs`")
            if out.output_type == "error":
                problems.append(f"{name}: code cell {i} stores an error")
        for marker in OPT_OUT_COMMENTS:
            if marker in c.source:
                problems.append(f"{name}: code cell {i} opts out of nbval's comparison (comment {marker})")
        for tag in _tags(c):
            if tag in OPT_OUT_TAGS:
                problems.append(f"{name}: code cell {i} opts out of nbval's comparison (tag {tag!r})")
    if code and not any(c.get("outputs") for c in code):
        problems.append(f"{name}: committed without outputs, so nbval would compare nothing")
    return problems


# ---------------------------------------------------------------------------------------------------------
# The pair: .ipynb and .md
# ---------------------------------------------------------------------------------------------------------


def _cell_key(cell) -> tuple:
    return (cell.cell_type, cell.source, json.dumps(dict(cell.metadata), sort_keys=True, ensure_ascii=False))


def _cell_label(i: int, cell) -> str:
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"cell {i} ({cell.cell_type}{', ' + repr(first) if first else ''})"


def _source_diff(ipynb_src: str, md_src: str, limit: int = 12) -> str:
    lines = list(difflib.unified_diff(
        ipynb_src.splitlines(), md_src.splitlines(), ".ipynb", ".md", n=1, lineterm="",
    ))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join("      " + line for line in lines)


def _metadata_without_version(metadata) -> dict:
    """Notebook metadata as the twin stores it, less jupytext's own notes on how it wrote the file."""
    meta = json.loads(json.dumps(dict(metadata)))
    for key in ("text_representation", "default_lexer"):   # jupytext's version; the code cells' lexer
        meta.get("jupytext", {}).pop(key, None)
    return meta


def pair_problems(path: Path, max_cells: int = 5) -> list[str]:
    """How a chapter's ``.ipynb`` and its ``.md`` twin differ (empty list when they agree).

    What is compared is what jupytext carries between the two: the cells (type, source, metadata such as
    tags) and the notebook's metadata (kernelspec, the pairing).  The ``.ipynb`` is written to MyST
    markdown and read back, so both sides pass through the same jupytext filters (cell metadata such as
    ``execution`` or ``scrolled`` never reaches the ``.md``); outputs and execution counts are not compared.
    """
    import jupytext
    import nbformat

    ipynb = _notebook_path(path)
    md = ipynb.with_suffix(".md")
    name = _show(ipynb)
    md_name = _show(md)
    fix = f"run `make sync` (or `.venv/bin/python tools/chapters.py sync {md_name}`)"
    problems = []
    if not ipynb.exists():
        return [f"{md_name}: has no notebook {name}; {fix}"]
    if not md.exists():
        return [f"{name}: has no MyST-markdown twin {md_name}; "
                f"run `.venv/bin/jupytext --set-formats {PAIR_FORMATS} {name}`"]

    nb = nbformat.read(ipynb, as_version=4)
    formats = nb.metadata.get("jupytext", {}).get("formats")
    if formats != PAIR_FORMATS:
        problems.append(f"{name}: jupytext formats metadata is {formats!r}, not {PAIR_FORMATS!r}; "
                        f"run `.venv/bin/jupytext --set-formats {PAIR_FORMATS} {name}`")
    twin = jupytext.read(md, fmt=TWIN_FORMAT)
    twin_formats = twin.metadata.get("jupytext", {}).get("formats")
    if twin_formats != PAIR_FORMATS:
        problems.append(f"{md_name}: jupytext formats in its header is {twin_formats!r}, not {PAIR_FORMATS!r}")
    if problems:
        return problems

    # the .md that `jupytext --sync` would write from the .ipynb now, read back
    expected = jupytext.reads(jupytext.writes(nb, fmt=TWIN_FORMAT), fmt=TWIN_FORMAT)

    head = f"{md_name} and {name} differ"
    have, want = _metadata_without_version(twin.metadata), _metadata_without_version(expected.metadata)
    for key in sorted(set(have) | set(want)):
        if have.get(key) != want.get(key):
            problems.append(f"{head} in the notebook metadata {key!r}: "
                            f".ipynb has {want.get(key)!r}, .md has {have.get(key)!r}")

    a, b = expected.cells, twin.cells
    matcher = difflib.SequenceMatcher(None, [_cell_key(c) for c in a], [_cell_key(c) for c in b], autojunk=False)
    reported = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            pairs = list(zip(range(i1, i2), range(j1, j2)))
        else:
            pairs = []
        for i, j in pairs:
            x, y = a[i], b[j]
            what = []
            if x.cell_type != y.cell_type:
                what.append(f"type: .ipynb {x.cell_type}, .md {y.cell_type}")
            if dict(x.metadata) != dict(y.metadata):
                what.append(f"metadata: .ipynb {dict(x.metadata)!r}, .md {dict(y.metadata)!r}")
            if x.source != y.source:
                what.append("source:\n" + _source_diff(x.source, y.source))
            label = _cell_label(j, y) if j == i else f"{_cell_label(j, y)} of the .md, cell {i} of the .ipynb"
            problems.append(f"{head} at {label}: " + "; ".join(what))
            reported += 1
        if not pairs:
            only_ipynb = [_cell_label(i, a[i]) for i in range(i1, i2)]
            only_md = [_cell_label(j, b[j]) for j in range(j1, j2)]
            if only_md:
                problems.append(f"{head}: only the .md has {', '.join(only_md)}")
            if only_ipynb:
                problems.append(f"{head}: only the .ipynb has {', '.join(only_ipynb)}")
            reported += 1
        if reported >= max_cells:
            problems.append(f"{head}: (further differences not listed)")
            break
    if problems:
        problems.append(f"{name}: to bring the pair together, {fix}; jupytext copies the inputs of the "
                        f"newer of the two files into the other, and the .ipynb keeps its outputs")
    return problems


def _touch_twin(ipynb: Path) -> None:
    """Give the ``.md`` the ``.ipynb``'s time, so the text file counts as the newer one (as jupytext does)."""
    md = ipynb.with_suffix(".md")
    if md.exists():
        t = max(ipynb.stat().st_mtime, md.stat().st_mtime)
        os.utime(md, (t, t))


def sync(path: Path) -> bool:
    """Bring a chapter's pair together with ``jupytext --sync``; False when it was already in sync."""
    from jupytext.cli import jupytext as jupytext_cli

    ipynb = _notebook_path(path)
    md = ipynb.with_suffix(".md")
    if ipynb.exists() and md.exists() and not pair_problems(ipynb):
        return False
    # jupytext names the pair by either file; a new chapter may exist as its .md only
    source = ipynb if ipynb.exists() else md
    rc = jupytext_cli(["--sync", str(source)])
    if rc:
        raise SystemExit(f"jupytext --sync {_show(source)} failed ({rc})")
    problems = pair_problems(ipynb)
    if problems:
        raise SystemExit("\n".join(problems))
    return True


@contextlib.contextmanager
def _environment(**values: str):
    """Set environment variables (inherited by the kernels started meanwhile), then restore them."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def store(path: Path, timeout: int = 600) -> None:
    """Execute a chapter in a fresh kernel (live explorers, no frames) and save it with text outputs only.

    The pair is synced first, so the cells executed are the ones the ``.md`` holds.
    """
    import nbformat
    from nbclient import NotebookClient

    path = _notebook_path(path)
    sync(path)
    nb = nbformat.read(path, as_version=4)
    with _environment(DLBOOK_EXPLORERS="live", DLBOOK_PROGRESS="off"):  # no frames, no progress bars
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    strip_outputs(nb)
    nbformat.write(nb, path)
    _touch_twin(path)
    problems = check(path) + pair_problems(path)
    if problems:
        raise SystemExit("\n".join(problems))
    print(f"stored {_show(path)} ({path.stat().st_size / 1024:.0f} KB)")


#: The book's execution cache (where MyST-NB looks: ``<html outdir>/../.jupyter_cache``).
EXECUTION_CACHE = ROOT / "_build" / ".jupyter_cache"


def execute(paths: Iterable[Path], timeout: int = 600, cache_path: Path = EXECUTION_CACHE) -> list[tuple[Path, float]]:
    """Execute, as the book build does, the chapters not in the execution cache: concurrently, then cached.

    Explorers are ``static`` (the frames are built) and progress bars off.  Uses jupyter-cache's
    ``local-parallel`` executor: a pool of one process per core, each running a chapter in its own kernel
    in the chapter's folder.  Returns ``(chapter, seconds)`` for each chapter executed now (none when all
    were cached); raises ``SystemExit`` with the traceback when a chapter fails.
    """
    import logging

    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    uris = [str(_notebook_path(p).resolve()) for p in paths]
    cache = get_cache(str(cache_path))
    for uri in uris:
        cache.add_nb_to_project(uri)
    logger = logging.getLogger("dlbook.execute")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[execute] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    with _environment(DLBOOK_EXPLORERS="static", DLBOOK_PROGRESS="off"):  # inherited by every kernel
        result = load_executor("local-parallel", cache, logger=logger).run_and_cache(
            filter_uris=uris, timeout=timeout, allow_errors=False)
    failed = result.excepted + result.errored
    if failed:
        records = {r.uri: r for r in cache.list_project_records(filter_uris=failed)}
        raise SystemExit("\n\n".join(
            f"{_show(Path(u))} failed:\n" + ((records[u].traceback if u in records else None)
                                            or "(no traceback recorded: see the [execute] log above)")
            for u in failed))
    done = []
    for uri in result.succeeded:
        record = cache.get_cached_project_nb(uri)
        if record is None:
            raise SystemExit(f"{_show(Path(uri))} was executed but is not in the cache {_show(Path(cache_path))}")
        done.append((Path(uri), float(record.data.get("execution_seconds", float("nan")))))
        print(f"{_show(Path(uri))}: executed in {done[-1][1]:.1f} seconds")
    print(f"{len(done)} of {len(uris)} chapters executed, {len(uris) - len(done)} from the cache")
    return done


def _chapters(paths: Iterable[Path]) -> list[Path]:
    """The chapters named (by either file), each once, as their ``.ipynb`` paths, in order."""
    seen: dict[Path, None] = {}
    for p in paths:
        seen.setdefault(_notebook_path(Path(p)), None)
    return list(seen)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/chapters.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("sync", "store", "check", "execute", "xla-flags"))
    parser.add_argument("chapters", nargs="*", type=Path, help="book/chNN_*.ipynb or book/chNN_*.md")
    parser.add_argument("--cache", type=Path, default=EXECUTION_CACHE,
                        help=f"execute: the execution cache (default {_show(EXECUTION_CACHE)})")
    args = parser.parse_intermixed_args(list(argv) if argv is not None else None)
    if args.command == "xla-flags":  # what the Makefile exports
        print(portable_xla_flags(os.environ.get("XLA_FLAGS")))
        return 0
    if not args.chapters:
        parser.error(f"{args.command} needs at least one chapter (book/chNN_*.ipynb or book/chNN_*.md)")
    use_portable_xla_flags()
    chapters = _chapters(args.chapters)
    if args.command == "sync":
        changed = [p for p in chapters if sync(p)]
        print("\n".join(f"synced {_show(p)}" for p in changed) or "all pairs in sync")
        return 0
    if args.command == "store":
        for p in chapters:
            store(p)
        return 0
    if args.command == "execute":
        execute(chapters, cache_path=args.cache)
        return 0
    problems = [msg for p in chapters for msg in (check(p) if p.exists() else []) + pair_problems(p)]
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
