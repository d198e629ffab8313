"""Timing, results and the table of `make bench`.

Machines are noisy, so every comparison is measured side by side in one run: the contenders are called in
turn, round after round, and each one's median over the rounds is kept.  Results are ratios against the
baseline of the same run; absolute times are kept only as detail.  Nothing here asserts a time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable


def block(x: Any) -> Any:
    """Wait for JAX's asynchronous dispatch (a no-op on NumPy / PyTorch results)."""
    try:
        import jax

        return jax.block_until_ready(x)
    except (ImportError, TypeError):
        return x


def interleaved(fns: dict[str, Callable[[], Any]], *, rounds: int = 7, min_time: float = 0.05) -> dict[str, float]:
    """Median seconds per call of each function, measured in interleaved rounds after one warm-up call each.

    In each round every function runs ``n`` times back to back, with ``n`` chosen once so that a round of
    the fastest one lasts at least ``min_time``; the calls of a round are timed together.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for f in fns.values():  # compile / warm caches
        block(f())
    reps = {}
    for name, f in fns.items():
        t0 = time.perf_counter()
        block(f())
        one = max(time.perf_counter() - t0, 1e-7)
        reps[name] = max(1, int(min_time / one))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                out = f()
            block(out)
            samples[name].append((time.perf_counter() - t0) / reps[name])
    return {k: statistics.median(v) for k, v in samples.items()}


def percentile(xs: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy.percentile."""
    if not xs:
        raise ValueError("percentile of an empty list")
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Row:
    """One line of the results table.

    ``value`` is the measured figure of merit in ``unit`` (a speed-up ``×``, a time ratio ``×``, a share of
    peak ``%``, milliseconds, seconds); ``ok`` says whether it meets ``target`` (None: not measured).
    """

    key: str
    what: str
    baseline: str
    target: str
    value: float | None
    unit: str
    ok: bool | None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> str:
        if self.value is None:
            return "—"
        v = self.value
        txt = f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return f"{txt} {self.unit}".strip() if self.unit not in ("×", "%") else f"{txt}{self.unit}"

    def verdict(self) -> str:
        return {True: "达标", False: "未达标", None: "待测"}[self.ok]


def speedup_row(key, what, baseline, times: dict[str, float], ours: str, theirs: str, at_least: float, **kw) -> Row:
    """A row for "ours is at least ``at_least`` times faster than theirs"."""
    ratio = times[theirs] / times[ours]
    detail = f"{ours} {fmt_time(times[ours])}，{theirs} {fmt_time(times[theirs])}"
    return Row(key, what, baseline, f"快 ≥ {at_least:g} 倍", ratio, "×", ratio >= at_least, detail, **kw)


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    import jax
    import numpy as np

    info["jax"] = jax.__version__
    info["numpy"] = np.__version__
    info["device"] = ", ".join(sorted({d.device_kind for d in jax.devices()})) + f" ({jax.default_backend()})"
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


COLUMNS = ("测量项目", "对比对象", "结果", "目标", "结论")


def table(rows: list[Row]) -> str:
    """The results as a fixed-width text table (what `make bench` prints)."""
    cells = [COLUMNS] + [(r.what, r.baseline, r.shown(), r.target, r.verdict()) for r in rows]
    widths = [max(_width(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(_pad(x, w) for x, w in zip(c, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(s: str) -> int:
    # CJK and other wide characters take two columns in a terminal
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


def save(path: Path, rows: list[Row], info: dict[str, Any]) -> None:
    """Write the results file the book's 性能 appendix renders (rows in the order measured).

    Each row carries its value as :meth:`Row.shown` writes it, so the appendix shows exactly what the
    terminal table shows.  A partial run (``--only``) keeps the rows it did not measure.
    """
    old = {r.key: r for r in load(path)[1]} if path.exists() else {}
    new = {r.key: r for r in rows}
    merged = [new.pop(k, r) for k, r in old.items()] + list(new.values())
    data = {"machine": info, "rows": [{**asdict(r), "shown": r.shown()} for r in merged]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load(path: Path) -> tuple[dict[str, Any], list[Row]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["machine"], [Row(**{k: v for k, v in r.items() if k != "shown"}) for r in data["rows"]]
