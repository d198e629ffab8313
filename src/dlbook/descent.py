"""Gradient-descent runners: whole trajectories in one ``lax.scan``, sweeps in one ``vmap``.

``w_{t+1} = w_t − α ∇𝓛(w_t)``.  :func:`optimize` runs any :mod:`dlbook.optim` optimizer for a fixed
number of steps and returns every iterate and every loss; :func:`gradient_descent` is the jitted plain-GD
case; :func:`gradient_descent_sweep` runs many learning rates and starting points at once;
:func:`minimize` stops when the change of the loss falls below a tolerance or a step cap is reached.

:func:`optimize_minibatch` is the same loop on mini-batches reshuffled every epoch (stochastic gradient
descent), and :func:`gradient_variance` measures how far a mini-batch gradient strays from the full one.

Chapters: ``book/ch01_gradient_descent.ipynb``; ``book/ch06_batch_momentum.ipynb`` (mini-batches).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dlbook import optim
from dlbook._checks import (
    as_array,
    check_callable,
    check_finite,
    check_int,
    check_key,
    check_ndim,
    check_non_negative,
    check_positive,
    is_concrete,
)
from dlbook.data import epoch_batches

Array = jax.Array
PyTree = Any
LossFn = Callable[..., Array]

__all__ = [
    "Trajectory",
    "MinimizeResult",
    "optimize",
    "gradient_descent",
    "gradient_descent_sweep",
    "minimize",
    "critical_learning_rate",
    "steps_to_reach",
    "MinibatchTrajectory",
    "optimize_minibatch",
    "gradient_variance",
    "sampling_variance",
    "Tuning",
    "optimal_gd",
    "optimal_momentum",
    "optimal_nesterov",
]


class Trajectory(NamedTuple):
    """Iterates and losses of a run: ``params[t]`` is ``w_t`` (leading axis ``num_steps + 1``)."""

    params: PyTree
    losses: Array


class MinimizeResult(NamedTuple):
    """Final parameters and loss, the number of steps taken and whether the tolerance was met."""

    params: PyTree
    loss: Array
    num_steps: Array
    converged: Array


def optimize(
    loss_fn: LossFn,
    params: PyTree,
    optimizer: optim.GradientTransformation,
    num_steps: int,
    *,
    args: tuple = (),
    path: bool = True,
) -> Trajectory:
    """Run ``optimizer`` on ``loss_fn`` for ``num_steps`` steps with one ``lax.scan``.

    Each step evaluates ``𝓛(w_t)`` and ``∇𝓛(w_t)`` together (``jax.value_and_grad``) and applies
    ``w_{t+1} = w_t + update(∇𝓛(w_t))``.  Traceable: call it inside ``jit``/``vmap``.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: initial parameters ``w_0`` (any pytree of float arrays).
      optimizer: a :class:`dlbook.optim.GradientTransformation`.
      num_steps: number of updates ``T`` (static).
      args: extra arguments passed to ``loss_fn`` (e.g. the data ``X, y``).
      path: keep every ``w_t`` (default).  With ``False`` only the final ``w_T`` is returned and the path
        is never stored: less memory, and about twice as fast when each step is cheap.

    Returns:
      :class:`Trajectory` with ``params`` stacked to ``(T + 1, ...)`` (with ``path=False``: ``w_T`` alone)
      and ``losses`` of shape ``(T + 1,)``.
    """
    check_callable("loss_fn", loss_fn)
    optim._check_optimizer("optimizer", optimizer)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(carry, _):
        w, state = carry
        loss, g = value_and_grad(w, *args)
        updates, state = optimizer.update(g, state, w)
        return (optim.apply_updates(w, updates), state), (w if path else None, loss)

    (w_last, _), (ws, losses) = lax.scan(step, (params, optimizer.init(params)), length=num_steps)
    losses = jnp.append(losses, loss_fn(w_last, *args))
    if not path:
        return Trajectory(w_last, losses)
    all_w = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]]), ws, w_last)
    return Trajectory(all_w, losses)


@partial(jax.jit, static_argnames=("loss_fn", "num_steps"))
def _gd(loss_fn: LossFn, w0: PyTree, learning_rate: Array, num_steps: int, args: tuple) -> Trajectory:
    return optimize(loss_fn, w0, optim.sgd(learning_rate), num_steps, args=args)


def _check_start(name: str, w0: Any) -> Any:
    if isinstance(w0, list):  # a reader's [1.0, 2.0] means a vector, not a pytree of two scalars
        w0 = as_array(name, w0)
    leaves = jax.tree_util.tree_leaves(w0)
    if not leaves:
        raise ValueError(f"{name} must contain at least one array, got {w0!r}")
    for leaf in leaves:
        arr = as_array(name, leaf)
        if not jnp.issubdtype(arr.dtype, jnp.floating) and not jnp.issubdtype(arr.dtype, jnp.integer):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        check_finite(name, arr)
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.result_type(float)), w0)


def gradient_descent(
    loss_fn: LossFn, w0: PyTree, learning_rate: float, num_steps: int, *, args: tuple = ()
) -> Trajectory:
    """Plain gradient descent ``w ← w − α ∇𝓛(w)``, jitted; returns the whole trajectory.

    ``loss_fn`` is a static argument: the first call with a new ``loss_fn``/``num_steps`` compiles, later
    calls with other ``w0``, ``learning_rate`` or ``args`` (same shapes) reuse the compiled code.

    Args:
      loss_fn: ``loss_fn(w, *args) -> scalar``; must be hashable (a module-level function or a
        ``functools.partial`` kept in a variable).
      w0: starting point (pytree of arrays).
      learning_rate: ``α > 0``.
      num_steps: number of updates.
      args: extra (traced) arguments of ``loss_fn``.

    Example:
      >>> from dlbook.surfaces import parabola
      >>> traj = gradient_descent(parabola, 4.0, 0.5, 3)
      >>> [round(float(w), 3) for w in traj.params]
      [4.0, 2.0, 1.0, 0.5]
    """
    check_callable("loss_fn", loss_fn)
    w0 = _check_start("w0", w0)
    optim._check_rate(learning_rate)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    return _gd(loss_fn, w0, jnp.asarray(learning_rate, dtype=jnp.result_type(float)), num_steps, tuple(args))


@partial(jax.jit, static_argnames=("loss_fn", "num_steps", "path"))
def _gd_sweep(loss_fn: LossFn, w0s: PyTree, learning_rates: Array, num_steps: int, args: tuple, path: bool) -> Trajectory:
    run = lambda w0, lr: optimize(loss_fn, w0, optim.sgd(lr), num_steps, args=args, path=path)  # noqa: E731
    return jax.vmap(run)(w0s, learning_rates)


def gradient_descent_sweep(
    loss_fn: LossFn, w0s: PyTree, learning_rates: ArrayLike, num_steps: int, *, args: tuple = (),
    path: bool = True,
) -> Trajectory:
    """Many gradient-descent runs at once: run ``k`` starts at ``w0s[k]`` with rate ``learning_rates[k]``.

    One ``vmap`` over the runs around one ``lax.scan`` over the steps, compiled once.  To sweep learning
    rates from one start, repeat the start (``jnp.broadcast_to``); for a grid of both, flatten the grid.

    Args:
      loss_fn: ``loss_fn(w, *args) -> scalar`` (hashable, see :func:`gradient_descent`).
      w0s: starting points, every leaf with a leading axis of size ``K``.
      learning_rates: shape ``(K,)``, all > 0.
      num_steps: number of updates per run.
      args: extra arguments of ``loss_fn``, shared by all runs.
      path: keep every run's path (default); ``False`` keeps only the final parameters (see :func:`optimize`).

    Returns:
      :class:`Trajectory` with ``params`` of shape ``(K, T + 1, ...)`` (with ``path=False``: ``(K, ...)``)
      and ``losses`` ``(K, T + 1)``.

    Example:
      >>> from dlbook.surfaces import parabola
      >>> lrs = jnp.array([0.5, 1.0, 2.5])
      >>> traj = gradient_descent_sweep(parabola, jnp.full(3, 1.0), lrs, 2)
      >>> [round(float(w), 3) for w in traj.params[:, -1]]
      [0.25, 0.0, 2.25]
    """
    check_callable("loss_fn", loss_fn)
    lrs = as_array("learning_rates", learning_rates)
    check_ndim("learning_rates", lrs, 1, "(K,)")
    check_positive("learning_rates", lrs)
    w0s = _check_start("w0s", w0s)
    for leaf in jax.tree_util.tree_leaves(w0s):
        if leaf.ndim == 0 or leaf.shape[0] != lrs.shape[0]:
            raise ValueError(
                f"w0s must have a leading axis of size K={lrs.shape[0]} to match learning_rates, "
                f"got shape {tuple(leaf.shape)}"
            )
    num_steps = check_int("num_steps", num_steps, minimum=0)
    if not isinstance(path, bool):
        raise TypeError(f"path must be True or False, got {path!r}")
    return _gd_sweep(loss_fn, w0s, jnp.asarray(lrs, dtype=jnp.result_type(float)), num_steps, tuple(args), path)


@partial(jax.jit, static_argnames=("loss_fn", "max_steps"))
def _minimize(loss_fn, w0, learning_rate, tol, max_steps, args):
    value_and_grad = jax.value_and_grad(loss_fn)

    def cond(c):
        _, _, _, t, done = c
        return jnp.logical_and(t < max_steps, jnp.logical_not(done))

    def body(c):
        w, loss, g, t, _ = c
        w_new = jax.tree_util.tree_map(lambda p, gi: p - learning_rate * gi, w, g)
        loss_new, g_new = value_and_grad(w_new, *args)
        return w_new, loss_new, g_new, t + 1, jnp.abs(loss - loss_new) < tol

    loss0, g0 = value_and_grad(w0, *args)
    w, loss, _, t, done = lax.while_loop(cond, body, (w0, loss0, g0, jnp.array(0), jnp.array(False)))
    return MinimizeResult(w, loss, t, done)


def minimize(
    loss_fn: LossFn,
    w0: PyTree,
    learning_rate: float,
    *,
    tol: float = 1e-6,
    max_steps: int = 10_000,
    args: tuple = (),
) -> MinimizeResult:
    """Gradient descent until ``|𝓛(w_{t+1}) − 𝓛(w_t)| < tol`` or ``max_steps`` updates (``lax.while_loop``).

    This is the textbook stopping rule: converged when the training loss stops changing, or give up after
    a cap.  A diverging run ends at the cap with ``converged == False`` (or a non-finite loss).

    Example:
      >>> from dlbook.surfaces import parabola
      >>> r = minimize(parabola, 1.0, 0.5, tol=1e-4)
      >>> int(r.num_steps), bool(r.converged)
      (7, True)
    """
    check_callable("loss_fn", loss_fn)
    w0 = _check_start("w0", w0)
    optim._check_rate(learning_rate)
    check_positive("tol", tol)
    max_steps = check_int("max_steps", max_steps, minimum=1)
    dtype = jnp.result_type(float)
    return _minimize(loss_fn, w0, jnp.asarray(learning_rate, dtype), jnp.asarray(tol, dtype), max_steps, tuple(args))


def critical_learning_rate(hessian: ArrayLike) -> Array:
    """Largest stable learning rate of gradient descent on a quadratic: ``α* = 2 / λ_max(H)``.

    On ``𝓛(w) = ½ (w − w*)ᵀ H (w − w*)`` the error evolves as ``e_{t+1} = (I − αH) e_t``; along the
    eigenvector of ``λ_max`` the factor is ``1 − α λ_max``, which has modulus < 1 iff ``α < 2/λ_max``.

    Args:
      hessian: symmetric positive-definite matrix, shape ``(d, d)``.

    Example:
      >>> float(critical_learning_rate(jnp.diag(jnp.array([1.0, 4.0]))))
      0.5
    """
    H = as_array("hessian", hessian)
    check_ndim("hessian", H, 2, "(d, d)")
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be square, got shape {tuple(H.shape)}")
    check_finite("hessian", H)
    if is_concrete(H):
        Hn = np.asarray(H, dtype=float)
        if np.abs(Hn - Hn.T).max() > 1e-5 * np.abs(Hn).max():  # float32 round-off allowed
            raise ValueError("hessian must be symmetric")
        if np.linalg.eigvalsh(Hn).max() <= 0:
            raise ValueError("hessian must have a positive eigenvalue; gradient descent has no stable rate otherwise")
    return 2.0 / jnp.linalg.eigvalsh(jnp.asarray(H))[-1]


def steps_to_reach(losses: ArrayLike, target: ArrayLike) -> Array:
    """First step ``t`` with ``𝓛_t ≤ target``; ``len(losses)`` if never reached (nan counts as not reached).

    Works on the last axis, so a batch of trajectories (a sweep, or runs over learning rates × seeds)
    gives one count per run.

    Example:
      >>> int(steps_to_reach(jnp.array([4.0, 2.0, 1.0, 0.5]), 1.0))
      2
    """
    losses = jnp.asarray(as_array("losses", losses))
    if losses.ndim < 1:
        raise ValueError(f"losses must have shape (..., T) (one loss per step on the last axis), got shape {losses.shape}")
    target = as_array("target", target)
    check_ndim("target", target, 0, "() (a scalar)")
    hit = losses <= target
    n = losses.shape[-1]
    return jnp.where(jnp.any(hit, axis=-1), jnp.argmax(hit, axis=-1), n)


class MinibatchTrajectory(NamedTuple):
    """A mini-batch run: final parameters (every iterate with ``path=True``), the full-data loss after every
    step and each step's batch loss."""

    params: PyTree
    losses: Array  # (num_steps + 1,): the loss on all the data before the first step and after each step
    batch_losses: Array  # (num_steps,): the loss on the batch each step used


def _check_data(data: Any) -> tuple:
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(f"data must be a tuple of arrays with one row per example, got {type(data).__name__}")
    arrays = tuple(jnp.asarray(as_array(f"data[{i}]", a)) for i, a in enumerate(data))
    n = arrays[0].shape[0] if arrays[0].ndim else None
    if n is None or any(a.ndim == 0 or a.shape[0] != n for a in arrays):
        raise ValueError(f"data must be arrays with the same leading axis (one row per example), got shapes "
                         f"{[tuple(a.shape) for a in arrays]}")
    return arrays


def _check_batches(loss_fn: Any, data: Any, batch_size: Any, key: Any) -> tuple[tuple, int, int]:
    """The checks shared by the mini-batch functions: a loss, data rows, a batch size that fits, a key."""
    check_callable("loss_fn", loss_fn)
    data = _check_data(data)
    n = data[0].shape[0]
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= {n} (the number of examples), got {batch_size}")
    check_key("key", key)
    return data, n, batch_size


def optimize_minibatch(
    loss_fn: LossFn,
    params: PyTree,
    optimizer: optim.GradientTransformation,
    data: tuple,
    *,
    batch_size: int,
    num_epochs: int,
    key: Array,
    path: bool = False,
) -> MinibatchTrajectory:
    """Mini-batch training: every epoch reshuffles the data and takes one step per batch (one ``lax.scan``).

    ``loss_fn(params, *batch)`` is the mean loss on the rows ``batch`` of ``data``; each epoch draws its
    order from ``jax.random.fold_in(key, epoch)`` (:func:`dlbook.data.epoch_batches`), so an epoch has
    ``n // batch_size`` steps and ``batch_size = n`` is plain gradient descent.  After every step the
    loss on all of ``data`` is recorded too, so runs with different batch sizes compare per step and per
    epoch.  With ``path=True`` every iterate is kept (``params`` stacked to ``(num_steps + 1, ...)``).
    Traceable (``key``, the optimizer's hyperparameters and ``params`` may be traced; a batch size is a
    shape, so each batch size compiles once).

    Example:
      >>> X = jnp.linspace(-1, 1, 8)[:, None]; y = 3 * X[:, 0]
      >>> loss = lambda w, X, y: jnp.mean((X @ w - y) ** 2)
      >>> run = optimize_minibatch(loss, jnp.zeros(1), optim.sgd(0.5), (X, y), batch_size=2, num_epochs=3,
      ...                          key=jax.random.key(0))
      >>> run.losses.shape, run.batch_losses.shape, bool(run.losses[-1] < 0.01 * run.losses[0])
      ((13,), (12,), True)
    """
    data, n, batch_size = _check_batches(loss_fn, data, batch_size, key)
    optim._check_optimizer("optimizer", optimizer)
    params = _check_start("params", params)
    num_epochs = check_int("num_epochs", num_epochs, minimum=0)
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(carry, idx):
        w, state = carry
        loss, g = value_and_grad(w, *(a[idx] for a in data))
        updates, state = optimizer.update(g, state, w)
        w = optim.apply_updates(w, updates)
        return (w, state), (loss, loss_fn(w, *data), w if path else None)

    def epoch(carry, e):
        return lax.scan(step, carry, epoch_batches(n, batch_size, key=jax.random.fold_in(key, e)))

    (w, _), (batch_losses, losses, ws) = lax.scan(epoch, (params, optimizer.init(params)), jnp.arange(num_epochs))
    full = jnp.concatenate([loss_fn(params, *data)[None], losses.reshape(-1)])
    if path:
        w = jax.tree_util.tree_map(lambda p0, p: jnp.concatenate([p0[None], p.reshape(-1, *p0.shape)]), params, ws)
    return MinibatchTrajectory(w, full, batch_losses.reshape(-1))


def gradient_variance(loss_fn: LossFn, params: PyTree, data: tuple, batch_size: int, *, key: Array,
                      num_draws: int = 256) -> Array:
    """``E‖g_B − g‖²``: how far the gradient on a random mini-batch of ``batch_size`` rows (drawn without
    replacement) strays from the gradient ``g`` on all of ``data``, estimated from ``num_draws`` batches.

    For per-example gradients with total variance ``σ² = (1/n) Σᵢ ‖gᵢ − g‖²`` sampling theory gives
    ``E‖g_B − g‖² = (σ²/B) · (n − B)/(n − 1)``: the ``1/B`` law, exactly 0 at ``B = n``.  The tests check
    the estimate against that formula.

    Example:
      >>> X = jnp.arange(6.0)[:, None]; y = jnp.zeros(6)
      >>> loss = lambda w, X, y: jnp.mean((X @ w - y) ** 2)
      >>> round(float(gradient_variance(loss, jnp.ones(1), (X, y), 6, key=jax.random.key(0))), 6)  # full batch
      0.0
    """
    data, n, batch_size = _check_batches(loss_fn, data, batch_size, key)
    num_draws = check_int("num_draws", num_draws, minimum=1)
    grad = jax.grad(loss_fn)
    full = grad(params, *data)

    def one(k):
        idx = epoch_batches(n, batch_size, key=k)[0]
        g = grad(params, *(a[idx] for a in data))
        return sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(full)))

    return jnp.mean(lax.map(one, jax.random.split(key, num_draws)))


def sampling_variance(sigma2: ArrayLike, n: int, batch_size: ArrayLike) -> Array:
    """``E‖g_B − g‖² = (σ²/B)·(n − B)/(n − 1)``: the expected squared error of the mean of ``B`` of ``n`` values
    drawn without replacement.

    ``σ² = (1/n) Σᵢ ‖gᵢ − g‖²`` is the total variance of the ``n`` per-example gradients.  :func:`gradient_variance`
    measures the left-hand side.

    Example:
      >>> [round(float(sampling_variance(10.0, 101, b)), 3) for b in (1, 10, 101)]
      [10.0, 0.91, 0.0]
    """
    check_non_negative("sigma2", sigma2)
    n = check_int("n", n, minimum=2)
    B = jnp.asarray(as_array("batch_size", batch_size), dtype=jnp.result_type(float))
    if is_concrete(B) and (np.any(np.asarray(B) < 1) or np.any(np.asarray(B) > n)):
        raise ValueError(f"batch_size must lie in [1, n = {n}], got {np.asarray(B).tolist()}")
    return jnp.asarray(sigma2) / B * (n - B) / (n - 1)


class Tuning(NamedTuple):
    """The best constant hyperparameters for a quadratic with Hessian eigenvalues in ``[λ_min, λ_max]`` and the
    rate ``ρ`` they give: the distance to the minimum shrinks like ``ρᵗ`` (like ``t·ρᵗ`` for the momentum
    methods, whose iteration matrix has a repeated eigenvalue at these settings)."""

    learning_rate: Array
    gamma: Array
    rate: Array


def _check_spectrum(l_min: ArrayLike, l_max: ArrayLike) -> tuple[Array, Array]:
    for name, v in (("l_min", l_min), ("l_max", l_max)):
        check_positive(name, v)
        check_ndim(name, as_array(name, v), 0, "() (a scalar eigenvalue)")
    if is_concrete((l_min, l_max)) and not float(l_min) <= float(l_max):
        raise ValueError(f"l_min must be <= l_max, got l_min={float(l_min)}, l_max={float(l_max)}")
    return jnp.asarray(l_min, jnp.result_type(float)), jnp.asarray(l_max, jnp.result_type(float))


def optimal_gd(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """Gradient descent on a quadratic: ``α = 2/(λ_min + λ_max)`` gives ``ρ = (κ − 1)/(κ + 1)``, ``κ = λ_max/λ_min``.

    Example:
      >>> [round(float(v), 4) for v in optimal_gd(1.0, 100.0)]
      [0.0198, 0.0, 0.9802]
    """
    lo, hi = _check_spectrum(l_min, l_max)
    k = hi / lo
    return Tuning(2 / (lo + hi), jnp.zeros_like(k), (k - 1) / (k + 1))


def optimal_momentum(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """Heavy-ball momentum on a quadratic (Polyak 1964): ``η = 4/(√λ_max + √λ_min)²``,
    ``γ = ((√κ − 1)/(√κ + 1))²`` give ``ρ = (√κ − 1)/(√κ + 1)``: the condition number enters as ``√κ``.

    Example:
      >>> [round(float(v), 4) for v in optimal_momentum(1.0, 100.0)]
      [0.0331, 0.6694, 0.8182]
    """
    lo, hi = _check_spectrum(l_min, l_max)
    q = (jnp.sqrt(hi / lo) - 1) / (jnp.sqrt(hi / lo) + 1)
    return Tuning(4 / (jnp.sqrt(hi) + jnp.sqrt(lo)) ** 2, q**2, q)


def optimal_nesterov(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """Nesterov's method with its textbook constants for a strongly convex quadratic: ``η = 1/λ_max``,
    ``γ = (√κ − 1)/(√κ + 1)``, rate ``ρ = 1 − 1/√κ`` (Nesterov 1983; Sutskever et al. 2013).

    Example:
      >>> [round(float(v), 4) for v in optimal_nesterov(1.0, 100.0)]
      [0.01, 0.8182, 0.9]
    """
    lo, hi = _check_spectrum(l_min, l_max)
    k = hi / lo
    return Tuning(1 / hi, (jnp.sqrt(k) - 1) / (jnp.sqrt(k) + 1), 1 - 1 / jnp.sqrt(k))
