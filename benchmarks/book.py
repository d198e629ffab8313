"""Benchmarks of the book as readers and maintainers meet it: live sliders, static frames, the build.

* Every explorer of every chapter: the chapter is executed in this process (as in Jupyter), then each
  slider is dragged across all its positions, timing what a live slider move costs (the jitted compute,
  the matplotlib redraw, the PNG), and counting recompilations after the first draw.
* The static frames of each explorer, as ``make book`` renders them (and, first, a check that frames
  drawn by a ``draw``'s update function are pixel for pixel the frames drawn from scratch).
* ``make book`` from clean, again with nothing changed, and each chapter's execution in that build.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import Row, percentile

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))


def chapter_explorers(path: Path):
    """Execute a chapter in this process (live mode, as in Jupyter) and return its explorers."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from dlbook.explorer import Explorer
    from dlbook.session import MODE_ENV

    os.environ[MODE_ENV] = "live"
    shell = InteractiveShell.instance()
    shell.reset(new_session=True)
    nb = nbformat.read(path, as_version=4)
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    shell.run_cell(cell.source, store_history=True).raise_error()
    finally:
        os.chdir(cwd)
    found = {}  # in the order the chapter defines them (its variables, then displayed values)
    for value in [*shell.user_ns.values(), *shell.user_ns.get("Out", {}).values()]:
        if isinstance(value, Explorer):
            found[id(value)] = value
    import matplotlib.pyplot as plt

    plt.close("all")
    return list(found.values())


def bench_explorers() -> list[Row]:
    from dlbook.render import FrameRenderer, frames, static_html

    moves, recompiles, frame_times, names = [], 0, [], []
    for ch in CHAPTERS:
        for k, ex in enumerate(chapter_explorers(ch)):
            name = f"{ch.stem}#{k + 1}"
            live = FrameRenderer(ex)  # what the live view redraws with: draw once, then draw's update
            live.at()  # the first draw compiles
            before = ex.compile_count()
            for s in ex.sliders:
                for v in s.values:  # drag the slider across its whole range
                    t0 = time.perf_counter()
                    live.at(**{s.name: v})
                    moves.append(time.perf_counter() - t0)
            recompiles += ex.compile_count() - before
            t0 = time.perf_counter()
            html = static_html(ex)  # all frames, as the build renders them (compile included)
            frame_times.append(time.perf_counter() - t0)
            if frames(ex) != frames(ex, fresh=True):  # an update function must draw what draw draws
                raise AssertionError(f"{name}: frames drawn by draw's update function differ from fresh draws")
            names.append(f"{name}（{_n_frames(ex)} 帧，{len(html) / 1e6:.2f} MB）")
    p50, p95 = 1e3 * percentile(moves, 50), 1e3 * percentile(moves, 95)
    worst = max(range(len(frame_times)), key=frame_times.__getitem__)
    return [
        Row("slider_p50", f"实时滑块移动（计算 + 重画），{len(names)} 个探索器共 {len(moves)} 次移动的中位数",
            "—", "p50 ≤ 100 ms", p50, "ms", p50 <= 100, f"p95 {p95:.0f} ms，最慢 {1e3 * max(moves):.0f} ms"),
        Row("slider_p95", "实时滑块移动的第 95 百分位", "—", "p95 ≤ 250 ms", p95, "ms", p95 <= 250, ""),
        Row("slider_recompiles", "第一次绘制之后的重新编译次数", "—", "0", float(recompiles), "", recompiles == 0,
            "每个探索器的计算只编译一次"),
        Row("static_frames", "一个探索器的全部静态画面（最慢的探索器）", "—", "每个 ≤ 5 s",
            frame_times[worst], "s", max(frame_times) <= 5,
            "；".join(f"{n}: {t:.1f} s" for n, t in zip(names, frame_times))),
    ]


def _n_frames(ex) -> int:
    n = 1
    for s in ex.sliders:
        n *= len(s.values)
    return n


EXECUTED = re.compile(r"(\S+\.ipynb): Executed notebook in ([\d.]+) seconds")


def _build(out: Path) -> tuple[float, str]:
    env = dict(os.environ, DLBOOK_EXPLORERS="static")
    exe = Path(sys.executable).with_name("jupyter-book")
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "build", "--keep-going", "--path-output", str(out), str(ROOT)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return dt, proc.stdout + proc.stderr


def bench_build() -> list[Row]:
    out = Path(tempfile.mkdtemp(prefix="dlbook-bench-build-"))
    try:
        t_clean, log = _build(out)
        t_again, _ = _build(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    per = {Path(p).stem: float(s) for p, s in EXECUTED.findall(log)}
    worst = max(per, key=per.get) if per else None
    return [
        Row("build_clean", "从零开始 make book（执行每一章）", "—", "≤ 5 min", t_clean, "s", t_clean <= 300,
            f"{len(per)} 章"),
        Row("build_nochange", "什么都没改时再 make book", "—", "≤ 30 s", t_again, "s", t_again <= 30, ""),
        Row("build_chapter", "构建中的一章（最慢的一章）", "—", "≤ 60 s", per[worst] if per else None, "s",
            (max(per.values()) <= 60) if per else None, "；".join(f"{k}: {v:.0f} s" for k, v in per.items())),
    ]


ALL = {"explorers": bench_explorers, "build": bench_build}
