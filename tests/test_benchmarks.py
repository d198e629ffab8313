"""The benchmark harness and baselines (benchmarks/): correct, not fast.  No test here asserts a time.

The NumPy baselines must compute what dlbook computes, or the ratios of `make bench` compare different
work; the results file must be one the 性能 appendix can render.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import dlbook as db
from benchmarks import harness, kernels

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"


def _site_ext():
    spec = importlib.util.spec_from_file_location("dlbook_site", ROOT / "book" / "_ext" / "dlbook_site.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_percentile_matches_numpy():
    xs = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    for q in (0, 25, 50, 95, 100):
        assert harness.percentile(xs, q) == pytest.approx(np.percentile(xs, q))
    with pytest.raises(ValueError, match="empty"):
        harness.percentile([], 50)


def test_interleaved_measures_each_function():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1
        time.sleep(0.002)

    def b():
        calls["b"] += 1

    t = harness.interleaved({"a": a, "b": b}, rounds=3, min_time=0.004)
    assert set(t) == {"a", "b"} and t["a"] > t["b"] > 0
    assert calls["a"] >= 1 + 1 + 3 and calls["b"] > calls["a"]  # warm-up, calibration, ≥ 1 per round
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        harness.interleaved({"a": a}, rounds=0)


def test_speedup_row_verdicts():
    row = harness.speedup_row("k", "w", "b", {"ours": 1.0, "theirs": 60.0}, "ours", "theirs", 50)
    assert row.value == 60 and row.ok and row.verdict() == "达标"
    row = harness.speedup_row("k", "w", "b", {"ours": 1.0, "theirs": 2.0}, "ours", "theirs", 3)
    assert not row.ok and row.verdict() == "未达标" and row.shown() == "2×"
    assert harness.Row("k", "w", "b", "t", None, "×", None).verdict() == "待测"


def test_table_columns_line_up_with_chinese_text():
    rows = [harness.Row("a", "学习率扫描", "NumPy", "快 ≥ 3 倍", 4.5, "×", True),
            harness.Row("b", "sweep", "优化器", "≤ 1.1", 1.05, "×", True)]
    lines = harness.table(rows).splitlines()
    starts = {harness._width(line[: line.index(mark)]) for line, mark in zip(lines[2:], ("NumPy", "优化器"))}
    assert len(starts) == 1 and len(lines) == 4


def test_save_keeps_rows_a_partial_run_did_not_measure(tmp_path):
    path = tmp_path / "r.json"
    one = harness.Row("one", "w", "b", "t", 1.0, "×", True)
    two = harness.Row("two", "w", "b", "t", 2.0, "×", True)
    harness.save(path, [one, two], {"cpu": "x"})
    harness.save(path, [harness.Row("two", "w", "b", "t", 3.0, "×", True)], {"cpu": "y"})
    info, rows = harness.load(path)
    assert info == {"cpu": "y"} and [(r.key, r.value) for r in rows] == [("one", 1.0), ("two", 3.0)]


@pytest.mark.parametrize("problem", kernels._problems(), ids=lambda p: p[0])
def test_numpy_sweep_baselines_compute_what_dlbook_computes(problem):
    _, _, loss_fn, args, grad_loss, w0, lrs = problem
    lrs = lrs[::32].astype(np.float32)
    w0s = np.tile(w0, (len(lrs), 1))
    W_loop, L_loop = kernels.sweep_numpy_loop(grad_loss, w0s, lrs, 50)
    W_vec, L_vec = kernels.sweep_numpy_vectorized(grad_loss, w0s, lrs, 50)
    ours = db.gradient_descent_sweep(loss_fn, jnp.asarray(w0s), jnp.asarray(lrs), 50, args=args, path=False)
    np.testing.assert_allclose(L_loop, L_vec, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(W_loop, W_vec, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ours.losses), L_vec, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ours.params), W_vec, rtol=1e-3, atol=1e-5)


def test_committed_results_render_in_the_appendix():
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    keys = [r["key"] for r in data["rows"]]
    assert len(keys) == len(set(keys)) and {"cpu", "cores", "jax", "date"} <= set(data["machine"])
    for r, row in zip(data["rows"], harness.load(RESULTS)[1]):
        assert (r["value"] is None) == (r["ok"] is None), r["key"]
        assert r["shown"] == row.shown(), r["key"]
    md = _site_ext().benchmark_markdown(data)
    table = [line for line in md if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + len(data["rows"])
    assert all(line.count(" | ") == 4 for line in table), "a row's text broke the table"
