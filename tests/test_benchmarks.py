"""The benchmark harness and baselines (benchmarks/): correct, not fast.  No test here asserts a time.

The NumPy baselines must compute what dlbook computes, or the ratios of `make bench` compare different
work; the results file must be one the 性能 appendix can render.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dlbook as db
from benchmarks import harness, kernels
from dlbook import model

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


def _small_mlp_problem(sizes=(8, 6, 3), n=20, seed=0):
    params = model.init_mlp(sizes, key=jax.random.key(seed))
    kx, ky, kp = jax.random.split(jax.random.key(seed + 1), 3)
    X = jax.random.normal(kx, (n, sizes[0]))
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    return params, X, y, jax.random.permutation(kp, n)


def _numpy_cross_entropy(params, X, y):
    """Mean −log softmax(z^L)_y of the ReLU MLP, in float64 NumPy."""
    a = np.asarray(X, np.float64)
    for l, (W, b) in enumerate((p.W, p.b) for p in params):
        z = a @ np.asarray(W, np.float64).T + np.asarray(b, np.float64)
        a = np.maximum(z, 0) if l < len(params) - 1 else z
    logp = a - a.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), np.asarray(y)])


def test_mlp_loss_is_the_softmax_cross_entropy_of_the_relu_mlp():
    params, X, y, _ = _small_mlp_problem()
    assert float(kernels.mlp_loss(params, X, y)) == pytest.approx(_numpy_cross_entropy(params, X, y), rel=1e-5)


def test_epoch_jax_is_sgd_over_the_batches_in_perm_order():
    """The scan-fused epoch against a plain loop: w ← w − α ∇𝓛_batch(w), batches of ``perm`` in order (the rows
    past the last whole batch sit out), the loss of each batch before its step."""
    params, X, y, perm = _small_mlp_problem()
    lr, batch = 0.3, 6  # 20 rows: 3 batches of 6, 2 rows left out
    new, losses = kernels.epoch_jax(params, X, y, perm, lr, batch)
    p, ref_losses = params, []
    for s in range(3):
        i = np.asarray(perm[s * batch:(s + 1) * batch])
        ref_losses.append(_numpy_cross_entropy(p, X[i], y[i]))
        g = jax.grad(kernels.mlp_loss)(p, X[i], y[i])
        p = [model.Layer(l.W - lr * gl.W, l.b - lr * gl.b) for l, gl in zip(p, g)]
    assert losses.shape == (3,)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for a, b in zip(new, p):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.b, b.b, rtol=1e-5, atol=1e-6)


def test_the_pytorch_epoch_trains_what_epoch_jax_trains():
    """The PyTorch baseline must do the same work as dlbook's epoch (skipped where torch is not installed)."""
    pytest.importorskip("torch")
    X, y = kernels._digits()
    X, y = X[:320], y[:320]
    params = model.init_mlp(kernels.MLP_SIZES, key=jax.random.key(0))
    perm = np.asarray(jax.random.permutation(jax.random.key(1), X.shape[0]))
    new, _ = kernels.epoch_jax(params, jnp.asarray(X), jnp.asarray(y), jnp.asarray(perm), kernels.LR, kernels.BATCH)
    net, run = kernels.torch_epoch(params, X, y, perm, kernels.LR, kernels.BATCH)
    run()
    linears = [m for m in net if hasattr(m, "weight")]
    for ours, theirs in zip(new, linears):
        np.testing.assert_allclose(ours.W, theirs.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.b, theirs.bias.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_optimizer_pairs_give_identical_updates():
    pytest.importorskip("optax")
    params = [jnp.arange(6.0).reshape(2, 3), jnp.array([1.0, -1.0])]
    grads = [jnp.full((2, 3), 0.5), jnp.array([2.0, -3.0])]
    for name, ours, ref in kernels._optimizer_pairs():
        u_a, _ = ours.update(grads, ours.init(params), params)
        u_b, _ = ref.update(grads, ref.init(params), params)
        for a, b in zip(u_a, u_b):
            np.testing.assert_array_equal(a, b, err_msg=name)


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
