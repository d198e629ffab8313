"""Benchmarks of the book's kernels against what a reader would write instead.

* a learning-rate sweep (vmap + jit + scan) against a NumPy Python loop and NumPy vectorized over the sweep;
* one epoch of a small MLP on scikit-learn's digits (scan-fused, jitted) against the same model, data,
  batches and optimizer in eager PyTorch;
* each dlbook optimizer's update against the matching optax optimizer (time, and identical numbers);
* an MLP training step at a realistic size against this machine's measured matrix-multiply peak.

* chapter 2's hand-written backprop against ``jax.grad`` on the same network.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import dlbook as db
from dlbook import backprop, model, optim
from dlbook.activations import IDENTITY, RELU
from dlbook.losses import SOFTMAX_CROSS_ENTROPY

from .harness import Row, fmt_time, interleaved, speedup_row

# ---------------------------------------------------------------------------------------------------------
# 1. Hyperparameter sweep: K learning rates × T steps of gradient descent on linear regression (chapter 1)

SWEEP_K, SWEEP_T = 256, 1000


def _house_data():
    X, y = db.linear_regression_data(200, jnp.array([0.05, 0.8]), 1.0, low=jnp.array([30.0, 1.0]),
                                     high=jnp.array([200.0, 5.0]), noise=0.3, key=jax.random.key(0), decimals=0)
    Xs = db.add_bias(db.normalize(X, db.fit_standardize(X)))
    return np.asarray(Xs, np.float32), np.asarray(y, np.float32)


def sweep_numpy_loop(grad_loss, w0s, lrs, T):
    """What one writes first: a Python loop over the runs and over the steps."""
    losses = np.empty((len(lrs), T + 1), np.float32)
    W = np.empty_like(w0s)
    for k, lr in enumerate(lrs):
        w = w0s[k]
        for t in range(T):
            g, losses[k, t] = grad_loss(w)
            w = w - lr * g
        losses[k, T] = grad_loss(w)[1]
        W[k] = w
    return W, losses


def sweep_numpy_vectorized(grad_loss, w0s, lrs, T):
    """The better NumPy: one loop over the steps, every run at once as a matrix."""
    losses = np.empty((len(lrs), T + 1), np.float32)
    W, lr = w0s, lrs[:, None]
    for t in range(T):
        G, losses[:, t] = grad_loss(W)
        W = W - lr * G
    losses[:, T] = grad_loss(W)[1]
    return W, losses


def _problems():
    """The chapter-1 sweeps: a κ = 10 quadratic bowl (the 2/λmax experiment) and linear regression."""
    A = np.asarray(db.quadratic_matrix(jnp.array([1.0, 10.0]), 0.5), np.float32)

    # Each works for one run (d,) and for all runs (K, d), in NumPy (xp=np, the baselines) or, traced by
    # jax.jit, in jax.numpy (xp=jnp: the same sweep written by hand as one JAX program).
    def bowl(W, xp=np):
        G = W @ A
        return G, 0.5 * xp.sum(W * G, axis=-1)

    X, y = _house_data()
    n = X.shape[0]

    def linreg(W, xp=np):
        R = W @ X.T - y
        return (2.0 / n) * (R @ X), xp.mean(R * R, axis=-1)

    return [
        ("bowl", "二次碗，κ = 10", db.quadratic, (jnp.asarray(A),), bowl, np.array([2.0, 1.0], np.float32),
         np.geomspace(1e-3, 0.19, SWEEP_K)),
        ("linreg", "线性回归，200 × 3", db.mse_loss, (jnp.asarray(X), jnp.asarray(y)), linreg,
         np.zeros(3, np.float32), np.geomspace(1e-3, 0.9, SWEEP_K)),
    ]


def bench_sweep() -> list[Row]:
    rows = []
    for key, label, loss_fn, args, grad_loss, w0, lrs in _problems():
        lrs = lrs.astype(np.float32)
        w0s = np.tile(w0, (SWEEP_K, 1))
        w0j, lrj = jnp.asarray(w0s), jnp.asarray(lrs)

        def ours():
            return db.gradient_descent_sweep(loss_fn, w0j, lrj, SWEEP_T, args=args, path=False)

        ref = sweep_numpy_vectorized(grad_loss, w0s, lrs, SWEEP_T)[1]
        got = np.asarray(ours().losses)
        assert np.allclose(got, ref, rtol=2e-3, atol=1e-5), f"the {key} sweep disagrees with NumPy"
        # The pure-Python loop is slow (K·T iterations): time 16 of the runs and scale to all K.
        part = 16
        contenders = {"dlbook": ours, "NumPy vectorized": lambda: sweep_numpy_vectorized(grad_loss, w0s, lrs, SWEEP_T),
                      "loop": lambda: sweep_numpy_loop(grad_loss, w0s[:part], lrs[:part], SWEEP_T)}
        # The limit: the same sweep as one hand-written JAX program (the gradient formula of the NumPy
        # baseline, all runs as one matrix, no autodiff, no vmap): what XLA on this CPU can do at this size.
        hand = jax.jit(partial(_sweep_jax_by_hand, grad_loss=partial(grad_loss, xp=jnp), num_steps=SWEEP_T))
        assert np.allclose(np.asarray(hand(w0j, lrj)), ref, rtol=2e-3, atol=1e-5), f"the hand-written {key} sweep disagrees"
        contenders["JAX by hand"] = lambda: hand(w0j, lrj)
        t = interleaved(contenders, rounds=7)
        t["NumPy loop"] = t.pop("loop") * SWEEP_K / part
        what = f"学习率扫描（{label}）：{SWEEP_K} 个学习率 × {SWEEP_T} 步（vmap + jit + scan）"
        vec = speedup_row(f"sweep_{key}_vs_vectorized", what, "NumPy：对整个扫描向量化", t, "dlbook", "NumPy vectorized", 3)
        vec.detail += (f"；同一扫描手写成一个 JAX 程序（NumPy 基线的梯度公式，所有运行一个矩阵，不用自动微分）"
                       f" {fmt_time(t['JAX by hand'])}，比 NumPy 快 {t['NumPy vectorized'] / t['JAX by hand']:.1f} 倍；"
                       f"dlbook 每步 {1e6 * t['dlbook'] / SWEEP_T:.0f} µs，NumPy 每步 {1e6 * t['NumPy vectorized'] / SWEEP_T:.0f} µs")
        rows += [
            speedup_row(f"sweep_{key}_vs_loop", what, "NumPy：Python 循环遍历每次运行和每一步", t, "dlbook", "NumPy loop", 50),
            vec,
        ]
    return rows


def _sweep_jax_by_hand(W, lrs, *, grad_loss, num_steps):
    def body(W, _):
        G, loss = grad_loss(W)
        return W - lrs[:, None] * G, loss

    W, losses = jax.lax.scan(body, W, length=num_steps)
    return jnp.concatenate([losses.T, grad_loss(W)[1][:, None]], axis=1)


# ---------------------------------------------------------------------------------------------------------
# 2. One epoch of a small MLP on the digits (64-128-128-10, ReLU, softmax cross-entropy, SGD, batch 32)

MLP_SIZES = (64, 128, 128, 10)
BATCH = 32
LR = 0.05


def _digits():
    X, y, _ = db.load_dataset("digits")
    return np.asarray(X) / 16.0, np.asarray(y)


def mlp_loss(params, x, y):
    """Mean softmax cross-entropy of dlbook's MLP (ReLU hidden layers, linear output) on integer labels: the
    model's loss (``model.loss_value`` with ``losses.SOFTMAX_CROSS_ENTROPY``) on one-hot targets."""
    Y = jax.nn.one_hot(y, params[-1].W.shape[0], dtype=x.dtype)
    return model.loss_value(params, x, Y, activation=RELU, output=IDENTITY, loss=SOFTMAX_CROSS_ENTROPY)


@partial(jax.jit, static_argnames=("batch",))
def epoch_jax(params, X, y, perm, lr, batch):
    """One epoch: the batches in ``perm`` order, one ``lax.scan`` over ``dlbook.optim.step`` with dlbook's SGD."""
    opt = db.sgd(lr)
    steps = perm.shape[0] // batch
    idx = perm[: steps * batch].reshape(steps, batch)

    def step(carry, i):
        p, s, loss = optim.step(mlp_loss, *carry, opt, X[i], y[i])
        return (p, s), loss

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), idx)
    return params, losses


def torch_epoch(params, X, y, perm, lr, batch):
    """The PyTorch baseline of :func:`epoch_jax`: the same MLP (a copy of ``params``), data, batches and SGD, eager.

    Returns ``(net, run)``: ``run()`` resets ``net`` to ``params`` and trains it for one epoch (returns the last
    batch's loss).
    """
    import torch

    layers = []
    for i, (W, b) in enumerate((p.W, p.b) for p in params):  # dlbook's W is (out, in), as torch's Linear.weight
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        layers += [lin] + ([torch.nn.ReLU()] if i < len(params) - 1 else [])
    net = torch.nn.Sequential(*layers)
    state0 = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(np.asarray(X)), torch.from_numpy(np.asarray(y).astype(np.int64))
    steps = len(perm) // batch
    batches = [torch.from_numpy(np.asarray(perm[s * batch:(s + 1) * batch]).astype(np.int64)) for s in range(steps)]

    def run():
        net.load_state_dict(state0)
        for i in batches:
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(Xt[i]), yt[i])
            loss.backward()
            opt.step()
        return loss

    return net, run


def bench_mlp_epoch() -> list[Row]:
    import torch

    X, y = _digits()
    params = model.init_mlp(MLP_SIZES, key=jax.random.key(0))
    perm = np.asarray(jax.random.permutation(jax.random.key(1), X.shape[0]))
    Xj, yj, pj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(perm)
    steps = X.shape[0] // BATCH
    net, theirs = torch_epoch(params, X, y, perm, LR, BATCH)

    def ours():
        return epoch_jax(params, Xj, yj, pj, LR, BATCH)

    new_params, losses = ours()
    theirs()
    same = np.allclose(np.asarray(new_params[-1].W), net[-1].weight.detach().numpy(), rtol=1e-3, atol=1e-4)
    assert same, "the JAX and PyTorch epochs disagree: they must train the same model the same way"
    t = interleaved({"dlbook": ours, "PyTorch": theirs}, rounds=7)
    return [speedup_row("mlp_epoch_vs_torch", f"digits 上 MLP {'-'.join(map(str, MLP_SIZES))} 训练一个 epoch，批量 {BATCH}"
                        f"（{steps} 步，scan 融合，jit）", f"PyTorch {torch.__version__} 即时模式（CPU），同样的模型、数据、批次与 SGD",
                        t, "dlbook", "PyTorch", 1.5, extra={"torch_threads": torch.get_num_threads()})]


# ---------------------------------------------------------------------------------------------------------
# 3. Each dlbook optimizer's update against optax's (same numbers, time ratio ≤ 1.1)

OPT_PARAMS = 4_000_000


def _optimizer_pairs():
    import optax

    return [("sgd", db.sgd(0.1), optax.sgd(0.1)),
            ("adagrad", db.adagrad(0.1), optax.adagrad(0.1)),
            ("rmsprop", db.rmsprop(1e-3), optax.rmsprop(1e-3)),
            ("adadelta", db.adadelta(1.0), optax.adadelta(1.0)),
            ("adam", db.adam(1e-3), optax.adam(1e-3)),
            ("adamw", db.adamw(1e-3, weight_decay=1e-2), optax.adamw(1e-3, weight_decay=1e-2))]


def bench_optimizers() -> list[Row]:
    import optax

    rows = []
    keys = jax.random.split(jax.random.key(2), 4)
    shapes = [(1000, 2000), (2000,), (2000, 1000), (1000,)]
    params = [jax.random.normal(k, s) for k, s in zip(keys, shapes)]
    grads = [jax.random.normal(k, s) for k, s in zip(jax.random.split(jax.random.key(3), 4), shapes)]
    n = sum(p.size for p in params)
    for name, ours_opt, ref_opt in _optimizer_pairs():
        def make(opt, apply):
            @jax.jit
            def step(p, s, g):
                u, s = opt.update(g, s, p)
                return apply(p, u), s
            return step

        s_ours, s_ref = ours_opt.init(params), ref_opt.init(params)
        f_ours, f_ref = make(ours_opt, db.apply_updates), make(ref_opt, optax.apply_updates)
        a, b = f_ours(params, s_ours, grads)[0], f_ref(params, s_ref, grads)[0]
        same = all(bool(jnp.array_equal(x, y)) for x, y in zip(a, b))
        t = interleaved({"dlbook": lambda: f_ours(params, s_ours, grads), "optax": lambda: f_ref(params, s_ref, grads)},
                        rounds=9, min_time=0.1)
        ratio = t["dlbook"] / t["optax"]
        rows.append(Row(f"optim_{name}", f"优化器更新：dlbook.{name}（{n / 1e6:.0f}M 个参数，jit）",
                        f"optax.{name}", "时间 ≤ 1.1 倍，结果相同", ratio, "×", bool(ratio <= 1.1 and same),
                        f"dlbook {fmt_time(t['dlbook'])}，optax {fmt_time(t['optax'])}；结果"
                        + ("逐位相同" if same else "不同")))
    return rows


# ---------------------------------------------------------------------------------------------------------
# 4. An MLP training step at a realistic size against the machine's matmul peak

PEAK_SIZES = (1024, 2048, 3072)  # the peak is the best of these square float32 products
STEP_SIZES = (784, 2048, 2048, 10)
STEP_BATCH = 1024


def bench_mlp_step() -> list[Row]:
    mm = jax.jit(lambda a, b: a @ b)
    squares = {n: (jax.random.normal(jax.random.key(4), (n, n)), jax.random.normal(jax.random.key(5), (n, n)))
               for n in PEAK_SIZES}

    params = model.init_mlp(STEP_SIZES, key=jax.random.key(6))
    x = jax.random.normal(jax.random.key(7), (STEP_BATCH, STEP_SIZES[0]))
    y = jax.random.randint(jax.random.key(8), (STEP_BATCH,), 0, STEP_SIZES[-1])
    opt = db.sgd(0.01)

    @jax.jit
    def step(p, s):
        p, s, _ = optim.step(mlp_loss, p, s, opt, x, y)
        return p, s

    s0 = opt.init(params)
    # the peak and the step side by side, so that both see the same machine
    fns = {n: (lambda ab=ab: mm(*ab)) for n, ab in squares.items()}
    t = interleaved({**fns, "step": lambda: step(params, s0)}, rounds=9, min_time=0.2)
    best = max(PEAK_SIZES, key=lambda n: 2 * n**3 / t[n])
    peak, t_step = 2 * best**3 / t[best], t["step"]
    macs = sum(m * n for m, n in zip(STEP_SIZES[:-1], STEP_SIZES[1:]))
    # forward B·Σ m·n multiply-adds; backward twice that (input and weight gradients), less the first layer's
    # input gradient, which is not needed
    flops = 2 * STEP_BATCH * (3 * macs - STEP_SIZES[0] * STEP_SIZES[1])
    share = 100 * flops / t_step / peak
    return [Row("mlp_step_vs_peak", f"MLP 训练一步（{'-'.join(map(str, STEP_SIZES))}，批量 {STEP_BATCH}）",
                f"本机实测的矩阵乘法峰值 FLOP/s（{best}² float32，{'/'.join(map(str, PEAK_SIZES))} 中最快）", "≥ 峰值的 50%", share, "%", share >= 50,
                f"训练步 {flops / t_step / 1e9:.1f} GFLOP/s，峰值 {peak / 1e9:.1f} GFLOP/s，每步 {fmt_time(t_step)}")]


BACKPROP_SIZES = (64, 256, 256, 10)
BACKPROP_BATCH = 256


def bench_backprop() -> list[Row]:
    """Chapter 2's hand-written backward pass against jax.grad of the same network (sigmoid, ½‖y − a‖²)."""
    params = model.init_mlp(BACKPROP_SIZES, key=jax.random.key(9))
    X = jax.random.normal(jax.random.key(10), (BACKPROP_BATCH, BACKPROP_SIZES[0]))
    Y = jax.random.uniform(jax.random.key(11), (BACKPROP_BATCH, BACKPROP_SIZES[-1]))
    ours = jax.jit(lambda p, X, Y: backprop.backward(p, model.forward(p, X), Y).grads)
    ref = jax.jit(jax.grad(model.loss_value))
    for g, r in zip(ours(params, X, Y), ref(params, X, Y)):
        assert np.allclose(g.W, r.W, rtol=1e-4, atol=1e-7), "hand-written backprop disagrees with jax.grad"
    t = interleaved({"dlbook": lambda: ours(params, X, Y), "jax.grad": lambda: ref(params, X, Y)}, rounds=9)
    ratio = t["dlbook"] / t["jax.grad"]
    return [Row("backprop_vs_grad", f"手写反向传播（第 2 章，MLP {'-'.join(map(str, BACKPROP_SIZES))}，sigmoid，批量 {BACKPROP_BATCH}，jit）",
                "同一网络上的 jax.grad", "时间 ≤ 1.2 倍", ratio, "×", ratio <= 1.2,
                f"dlbook {fmt_time(t['dlbook'])}，jax.grad {fmt_time(t['jax.grad'])}；梯度一致")]


ALL = {"sweep": bench_sweep, "mlp_epoch": bench_mlp_epoch, "backprop": bench_backprop,
       "optimizers": bench_optimizers, "mlp_step": bench_mlp_step}
