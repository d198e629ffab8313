"""pytest configuration shared by the unit tests and the nbval run over the chapters.

nbval compares every stored output of a chapter with the re-executed one.  What it compares is the text:
printed numbers and ``text/plain`` reprs, which the committed notebooks keep (see tools/chapters.py).
Figures, HTML and stderr (library warnings that differ between machines) are not compared; the numbers
a figure shows are printed and asserted in the chapter itself.
"""

import os

os.environ["DLBOOK_EXPLORERS"] = "live"   # nbval runs the live explorers: no frames are built
os.environ["DLBOOK_PROGRESS"] = "off"     # and shows no progress bars (they are not part of the reference)


def pytest_collectstart(collector):
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "image/svg+xml", "application/javascript", "stderr")

