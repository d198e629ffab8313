"""Maintainer tools: execute chapters and store their *text* outputs as the regression reference.

The committed notebooks keep what nbval compares (printed numbers, ``text/plain`` reprs) and nothing
heavy: images, HTML, widget views and widget state are dropped, stderr (warnings) too.  nbval re-executes
the chapter and compares these outputs; the built book re-executes it and renders the figures.

Usage (``make outputs`` runs this on every chapter)::

    python -m dlbook.authoring store book/ch01_gradient_descent.ipynb
    python -m dlbook.authoring check book/*.ipynb     # stored-output checks, no execution
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

#: MIME types stored in committed notebooks; everything else is dropped.
KEPT_MIME = ("text/plain",)
#: Budget for a committed chapter file.
MAX_NOTEBOOK_BYTES = 300_000


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


def store(path: Path, timeout: int = 600) -> None:
    """Execute ``path`` in a fresh kernel (live explorers, no frames) and save it with text outputs only."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = {k: os.environ.get(k) for k in ("DLBOOK_EXPLORERS", "DLBOOK_PROGRESS")}
    os.environ.update(DLBOOK_EXPLORERS="live", DLBOOK_PROGRESS="off")  # no frames, no progress bars
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    strip_outputs(nb)
    nbformat.write(nb, path)
    problems = check(path)
    if problems:
        raise SystemExit("\n".join(problems))
    print(f"stored {path} ({path.stat().st_size / 1024:.0f} KB)")


def check(path: Path) -> list[str]:
    """Problems with a committed chapter's stored outputs (empty list when it is fine)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    problems = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{path}: {size / 1024:.0f} KB, over the {MAX_NOTEBOOK_BYTES // 1000} KB budget")
    if "widgets" in nb.metadata:
        problems.append(f"{path}: stores widget state; run `make outputs`")
    for i, c in enumerate(code):
        if c.get("execution_count") is None:
            problems.append(f"{path}: code cell {i} was never executed; run `make outputs`")
        for out in c.get("outputs", []):
            extra = set(out.get("data", {})) - set(KEPT_MIME)
            if extra:
                problems.append(f"{path}: code cell {i} stores {sorted(extra)}; run `make outputs`")
            if out.output_type == "error":
                problems.append(f"{path}: code cell {i} stores an error")
        if "NBVAL_IGNORE_OUTPUT" in c.source or "NBVAL_SKIP" in c.source:
            problems.append(f"{path}: code cell {i} opts out of nbval's comparison")
    if code and not any(c.get("outputs") for c in code):
        problems.append(f"{path}: committed without outputs, so nbval would compare nothing")
    return problems


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlbook.authoring", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("store", "check"))
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "store":
        for p in args.notebooks:
            store(p)
        return 0
    problems = [msg for p in args.notebooks for msg in check(p)]
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
