"""Benchmarks of the book as readers and maintainers meet it: live sliders, static frames, the build.

* Every explorer of every chapter: the chapter is executed in this process (as in Jupyter), then each
  slider is dragged across all its positions, timing what a live slider move costs (the jitted compute,
  the matplotlib redraw, the PNG), and counting recompilations after the first draw.
* The static frames of each explorer, as ``make book`` renders them (and, first, a check that frames
  drawn by a ``draw``'s update function are pixel for pixel the frames drawn from scratch).
* ``make book`` from clean (each chapter executed once, two at a time) and again with nothing changed; each
  chapter executed on its own (the rebuild after editing that chapter); ``make test`` on a fresh clone.
  Every build row names the machine and the number of chapters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import subprocess
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

    moves, recompiles, frame_times, compile_times, names, sizes = [], 0, [], [], [], []
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
            twin = dataclasses.replace(ex)  # the same explorer, nothing compiled yet: as the build meets it
            t0 = time.perf_counter()
            twin.frame_data()  # the one compilation (shared by the live view, the chapter's frame_data, the frames)
            compile_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            html = static_html(twin)  # all frames, as the build renders them
            frame_times.append(time.perf_counter() - t0)
            recompiles += twin.compile_count() - 1
            if frames(ex) != frames(ex, fresh=True):  # an update function must draw what draw draws
                raise AssertionError(f"{name}: frames drawn by draw's update function differ from fresh draws")
            names.append(f"{name}（{_n_frames(ex)} 帧，{len(html) / 1e6:.2f} MB）")
            sizes.append(len(html.encode("utf-8")))
    p50, p95 = 1e3 * percentile(moves, 50), 1e3 * percentile(moves, 95)
    worst = max(range(len(frame_times)), key=frame_times.__getitem__)
    worst_total = max(range(len(frame_times)), key=lambda i: frame_times[i] + compile_times[i])
    return [
        Row("slider_p50", f"实时滑块移动（计算 + 重画），{len(names)} 个探索器共 {len(moves)} 次移动的中位数",
            "—", "p50 ≤ 100 ms", p50, "ms", p50 <= 100, f"p95 {p95:.0f} ms，最慢 {1e3 * max(moves):.0f} ms"),
        Row("slider_p95", "实时滑块移动的第 95 百分位", "—", "p95 ≤ 250 ms", p95, "ms", p95 <= 250, ""),
        Row("slider_recompiles", "第一次绘制之后的重新编译次数（滑块移动与静态画面）", "—", "0", float(recompiles), "",
            recompiles == 0, "每个探索器的计算只编译一次，实时视图和静态画面共用"),
        Row("static_frames", "一个探索器的全部静态画面（最慢的探索器：计算、画图、编码）", "—", "每个 ≤ 5 s",
            frame_times[worst], "s", max(frame_times) <= 5,
            f"{_where()}；画面（编译另列：实时视图、章节里的 frame_data 和静态画面共用这一次编译；连编译一起算，"
            f"最慢的是 {names[worst_total]} {frame_times[worst_total] + compile_times[worst_total]:.1f} s）：" + "；".join(
                f"{n}: {t:.1f} s（编译 {c:.1f} s）" for n, t, c in zip(names, frame_times, compile_times))),
        Row("static_frames_size", "一个探索器的静态 HTML（最大的探索器）", "—", "每个 ≤ 1.5 MB", max(sizes) / 1e6, "MB",
            max(sizes) <= 1.5e6, f"{_where()}；{names[max(range(len(sizes)), key=sizes.__getitem__)]}"),
    ]


def _n_frames(ex) -> int:
    n = 1
    for s in ex.sliders:
        n *= len(s.values)
    return n


EXECUTED = re.compile(r"(\S+\.ipynb): executed in ([\d.]+) seconds")
PASSED = re.compile(r"passed[^\n]* in ([\d.]+)s")


def _where() -> str:
    """The machine and the book measured, for every build row."""
    from .harness import machine

    info = machine()
    return f"{info['cores']} 核 {info['cpu']}，{len(CHAPTERS)} 章"


def _make(args: list[str], cwd: Path = ROOT) -> tuple[float, str]:
    from . import ORIGINAL_XLA_FLAGS

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not this process's simulated devices
    if ORIGINAL_XLA_FLAGS is not None:
        env["XLA_FLAGS"] = ORIGINAL_XLA_FLAGS
    t0 = time.perf_counter()
    proc = subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"make {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return dt, proc.stdout + proc.stderr


def _alone(chapter: Path) -> float:
    """Seconds to execute one chapter on its own, as `make book` does after an edit to that chapter alone."""
    with tempfile.TemporaryDirectory(prefix="dlbook-bench-chapter-") as cache:
        _, log = _make(["execute", f"OUT={cache}", f"CHAPTER_NOTEBOOKS={chapter.relative_to(ROOT)}"])
    return float(EXECUTED.findall(log)[0][1])


def bench_build() -> list[Row]:
    """`make book` from clean and again unchanged, each chapter alone, and `make test` on a clean clone."""
    n, where = len(CHAPTERS), _where()
    out = Path(tempfile.mkdtemp(prefix="dlbook-bench-build-"))
    try:
        t_clean, log = _make(["book", f"OUT={out}"])
        t_again, _ = _make(["book", f"OUT={out}"])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    together = {Path(p).stem: float(s) for p, s in EXECUTED.findall(log)}
    alone = {ch.stem: _alone(ch) for ch in CHAPTERS}
    worst = max(alone, key=alone.get)
    t_test, parts = _clean_clone_test()
    budget = 60 * n + parts["unit"]
    return [
        Row("build_clean", "从零开始 make book（每章执行一次，各章并行，再生成网页）", "—", "≤ 5 min（到十章为止）",
            t_clean, "s", t_clean <= 300, where),
        Row("build_clean_per_chapter", "从零开始 make book，平均每章", "—", "≤ 30 s", t_clean / n, "s",
            t_clean / n <= 30, where),
        Row("build_nochange", "什么都没改时再 make book", "—", "≤ 30 s", t_again, "s", t_again <= 30, where),
        Row("build_chapter", "一章单独执行（改了这一章之后的 make book；最慢的一章）", "—", "每章 ≤ 60 s", alone[worst],
            "s", max(alone.values()) <= 60,
            f"{where}。单独执行：" + "，".join(f"{k} {v:.0f} s" for k, v in alone.items())
            + "。在从零开始的构建中（两章同时执行）：" + "，".join(f"{k} {v:.0f} s" for k, v in together.items())),
        Row("test_clean", "新克隆上的 make test（建环境、单元测试、nbval、严格构建、网页检查、浏览器测试）", "—",
            "≤ 每章 60 s + 单元测试", t_test, "s", t_test <= budget,
            f"{where}；预算 60 s × {n} + 单元测试 {parts['unit']:.0f} s = {budget:.0f} s。"
            + "，".join(f"{k} {v:.0f} s" for k, v in parts.items() if k != "unit")
            + "（make unit 含建环境）"),
    ]


def _clean_clone_test() -> tuple[float, dict[str, float]]:
    """`make test` on a fresh `git clone` of HEAD (its own .venv), timed target by target."""
    parts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dlbook-bench-clone-") as tmp:
        clone = Path(tmp) / "dlbook"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        for target in ("unit", "nbval", "book-strict", "site-checks", "browser"):  # = make test, in its order
            parts[f"make {target}"], log = _make([target], cwd=clone)
            if target == "unit":
                parts["unit"] = float(PASSED.findall(log)[-1])
    total = sum(v for k, v in parts.items() if k.startswith("make "))
    return total, parts


ALL = {"explorers": bench_explorers, "build": bench_build}
