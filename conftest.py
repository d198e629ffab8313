"""pytest configuration shared by the unit tests and the nbval run over the chapters.

nbval compares every stored output of a chapter with the re-executed one.  What it compares is the text:
printed numbers and ``text/plain`` reprs, which the committed notebooks keep (see tools/chapters.py).
Figures, HTML and stderr (library warnings that differ between machines) are not compared; the numbers
a figure shows are printed and asserted in the chapter itself.

One execution per chapter (``make test``): ``make nbval`` runs nbval with ``DLBOOK_EXPLORERS=static`` and
``DLBOOK_EXECUTION_CACHE`` set to the book's jupyter-cache (``_build/.jupyter_cache``); for each chapter
whose every cell passed, the executed notebook (all its outputs: figures, the explorers' static frames) is
put there.  The strict book build then finds every chapter in the cache and executes none.  Without
``DLBOOK_EXECUTION_CACHE`` (a run by hand, the unit tests) the explorers are live and nothing is cached.
What is cached is what nbval records of the kernel's messages; it ignores ``clear_output`` and display
updates, which no chapter uses (tests/test_notebooks.py checks).
"""

import importlib.util
import os
import time
from pathlib import Path

# The kernels nbval starts compute with XLA's CPU code capped at AVX2, as `make` and tools/chapters.py do, so
# that no machine vectorizes wider than the one the references were stored on (tools/chapters.py: PORTABLE_XLA_FLAG).
_spec = importlib.util.spec_from_file_location("dlbook_tools_chapters", Path(__file__).parent / "tools" / "chapters.py")
_chapters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_chapters)
_chapters.use_portable_xla_flags()

#: The book's execution cache to fill (MyST-NB reads ``<outdir>/../.jupyter_cache``); set by ``make nbval``.
EXECUTION_CACHE = os.environ.get("DLBOOK_EXECUTION_CACHE", "")
if not EXECUTION_CACHE:
    os.environ["DLBOOK_EXPLORERS"] = "live"  # by hand and in the unit tests: live explorers, no frames built
os.environ["DLBOOK_PROGRESS"] = "off"        # no progress bars (they are not part of the reference)

_runs = {}  # chapter node id -> {"outputs": {cell_num: outputs}, "failed": bool, "start": time}


def pytest_collectstart(collector):
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "image/svg+xml", "application/javascript", "stderr")


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def pytest_runtest_logreport(report):
    run = _runs.get(report.nodeid.split("::")[0])
    if run is not None and report.failed:
        run["failed"] = True


def pytest_runtest_setup(item):
    if _is_cell(item):
        _runs.setdefault(item.parent.nodeid, {"outputs": {}, "failed": False, "start": time.time()})


def pytest_runtest_teardown(item, nextitem):
    if not _is_cell(item):
        return
    run = _runs.get(item.parent.nodeid)
    if run is None:  # its setup never ran (another setup hook raised first): the chapter failed anyway
        return
    if item.test_outputs is not None:
        run["outputs"][item.cell_num] = list(item.test_outputs)
    if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
        del _runs[item.parent.nodeid]
        try:
            _cache_executed(item.parent, run)
        except Exception as exc:  # the chapter passed; say plainly that only storing it failed
            raise RuntimeError(f"{item.parent.nodeid} passed, but storing its execution in {EXECUTION_CACHE} "
                               f"failed ({type(exc).__name__}: {exc}); the book build would execute it again") from exc


def _cache_executed(nbfile, run) -> None:
    """Store a chapter nbval executed into the book's execution cache (only a static-mode, all-passed run)."""
    if not EXECUTION_CACHE or os.environ.get("DLBOOK_EXPLORERS") != "static" or run["failed"]:
        return
    import copy

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(nbfile.nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if set(run["outputs"]) != set(range(len(code))):  # a -k selection, a skipped cell: not a whole execution
        return
    for k, cell in enumerate(code):
        outputs = []
        for out in run["outputs"][k]:
            if out.output_type == "error":
                return
            if out.output_type == "execute_result":
                out = nbformat.v4.new_output("execute_result", data=out.data, metadata=out.metadata,
                                             execution_count=k + 1)
            outputs.append(out)
        cell.outputs, cell.execution_count = outputs, k + 1   # streams are merged when the book renders them
    nbformat.validate(nb)
    bundle = CacheBundleIn(nb, os.path.abspath(nbfile.fspath.strpath),
                           data={"execution_seconds": time.time() - run["start"], "executed_by": "nbval"})
    get_cache(EXECUTION_CACHE).cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
