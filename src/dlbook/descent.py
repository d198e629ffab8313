"""Runners: an optimizer run on a loss for many steps, in one ``lax.scan``; sweeps in one ``vmap``.

``w_{t+1} = w_t + update(∇𝓛(w_t))``, one :func:`dlbook.optim.step` at a time.  Three verbs run an optimizer,
each with its own meaning:

* :func:`optimize` — any optimizer for a fixed number of steps; every iterate and every loss (full-batch),
  or, given ``batch_size`` and a ``key``, on mini-batches reshuffled every epoch (stochastic gradient
  descent) with the loss on all the data after every step;
* :func:`gradient_descent` — the jitted plain-GD case ``w ← w − α ∇𝓛(w)`` of chapter 1, and
  :func:`gradient_descent_sweep`, many learning rates and starting points at once;
* :func:`minimize` — gradient descent until the loss stops changing (a tolerance) or a step cap.

(:func:`dlbook.training.fit` is the fourth: a classifier trained with its validation curves.)
:func:`steps_to_reach` reads a run.  The closed forms these runs are checked against, and the measured
variance of a mini-batch gradient (:func:`dlbook.theory.gradient_variance`), are in :mod:`dlbook.theory`.

Chapters: ``book/ch01_gradient_descent.ipynb``; ``book/ch06_batch_momentum.ipynb`` (mini-batches).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from dlbook import optim
from dlbook._checks import (
    as_array,
    check_args,
    check_batches,
    check_bool,
    check_callable,
    check_hashable,
    check_int,
    check_learning_rate,
    check_ndim,
    check_optimizer,
    check_params,
    check_positive,
    check_scalar,
)
from dlbook.data import epoch_batches

Array = jax.Array
PyTree = Any
LossFn = Callable[..., Array]

__all__ = ["Trajectory", "MinimizeResult", "optimize", "gradient_descent", "gradient_descent_sweep", "minimize",
           "steps_to_reach"]


class Trajectory(NamedTuple):
    """A run of an optimizer: the iterates ``w_t``, the losses ``𝓛(w_t)`` and, on mini-batches, the batch losses.

    ``params[t]`` is ``w_t`` (leading axis ``T + 1``; only ``w_T`` with ``path=False``), ``losses[t] = 𝓛(w_t)`` on
    all the data, and on mini-batches ``batch_losses[t]``, the loss on the batch step ``t`` used (``None`` for
    full-batch runs).

    Example:
      >>> run = optimize(lambda w: w**2, jnp.array(1.0), optim.sgd(0.25), 1)
      >>> run.params.tolist(), run.losses.tolist(), run.batch_losses      # w₁ = (1 − 2α) w₀, 𝓛 = w²
      ([1.0, 0.5], [1.0, 0.25], None)

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """

    params: PyTree
    losses: Array
    batch_losses: Array | None = None


class MinimizeResult(NamedTuple):
    """What :func:`minimize` returns: the last ``w_T`` and ``𝓛(w_T)``, the steps taken ``T``, whether ``tol`` was met.

    Example:
      >>> from dlbook.surfaces import parabola
      >>> r = minimize(parabola, 1.0, 1.0, tol=1e-3)       # α = 1/a lands on the minimum: 𝓛 = ½, 0, 0
      >>> float(r.params), float(r.loss), int(r.num_steps), bool(r.converged)
      (0.0, 0.0, 2, True)

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """

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
    batch_size: int | None = None,
    key: Array | None = None,
    epoch_losses: bool = False,
) -> Trajectory:
    """Run ``optimizer`` on ``loss_fn`` for ``num_steps`` steps of :func:`dlbook.optim.step`, in one ``lax.scan``.

    ``w_{t+1} = w_t + update(∇𝓛(w_t))``.  Full batch (default): every step uses ``loss_fn(params, *args)``.
    Mini-batch (``batch_size`` given): the ``args`` are data arrays with one row per example (``n`` rows); every
    epoch reshuffles them with ``jax.random.fold_in(key, epoch)`` (:func:`dlbook.data.epoch_batches`) and takes
    one step per batch of ``batch_size`` rows, ``n // batch_size`` steps an epoch, so ``num_steps`` must be a whole
    number of epochs (``batch_size = n`` is plain gradient descent).  After every step the loss on all the rows is
    recorded too, so runs with different batch sizes compare per step and per epoch.  Traceable: call it inside
    ``jit``/``vmap`` (``key``, ``params`` and the optimizer's hyperparameters may be traced; a batch size is a shape).

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar`` (with mini-batches: the mean loss over the rows given).
      params: initial parameters ``w_0`` (any pytree of float arrays).
      optimizer: a :class:`dlbook.optim.GradientTransformation` (or an optax optimizer).
      num_steps: number of updates ``T`` (static).
      args: extra arguments of ``loss_fn`` (the data ``X, y``; with mini-batches, arrays ``(n, ...)``).
      path: keep every ``w_t`` (default).  With ``False`` only ``w_T`` is returned and the path is never
        stored: less memory, and about twice as fast when each step is cheap.
      batch_size: rows per mini-batch (static); ``None`` for full-batch steps.
      key: the ``jax.random`` key of the shuffles (mini-batch runs only).
      epoch_losses: mini-batch runs only: measure the loss on all the rows once per epoch (after its last step)
        instead of after every step, so ``losses`` is ``(epochs + 1,)``.  The steps are the same; a step on a
        small batch then no longer pays for a pass over all the data.

    Returns:
      :class:`Trajectory`: ``params`` stacked to ``(T + 1, ...)`` (``w_T`` alone with ``path=False``), ``losses``
      ``(T + 1,)`` and, for mini-batch runs, ``batch_losses`` ``(T,)``.

    Example:
      >>> run = optimize(lambda w: jnp.sum(w**2), jnp.array([1.0]), optim.sgd(0.25), 2)
      >>> run.params[:, 0].tolist(), run.losses.tolist()    # w_t = (1 − 2α)ᵗ w_0 = 0.5ᵗ; the loss is w_t²
      ([1.0, 0.5, 0.25], [1.0, 0.25, 0.0625])
      >>> X = jnp.linspace(-1, 1, 8)[:, None]; y = 3 * X[:, 0]
      >>> run = optimize(lambda w, X, y: jnp.mean((X @ w - y) ** 2), jnp.zeros(1), optim.sgd(0.5), 12,
      ...                args=(X, y), batch_size=2, key=jax.random.key(0))
      >>> run.losses.shape, run.batch_losses.shape          # 3 epochs of 8 // 2 = 4 steps
      ((13,), (12,))
      >>> optimize(lambda w, X, y: jnp.mean((X @ w - y) ** 2), jnp.zeros(1), optim.sgd(0.5), 12, args=(X, y),
      ...          batch_size=2, key=jax.random.key(0), epoch_losses=True).losses.shape    # w_0, then 3 epochs
      (4,)

    Reference: ``ch01-cauchy1847methode``; ``ch01-ruder2016overview`` (mini-batches).

    Chapter: ``book/ch01_gradient_descent.ipynb`` (mini-batches: ``book/ch06_batch_momentum.ipynb``).
    """
    check_callable("loss_fn", loss_fn)
    check_optimizer("optimizer", optimizer)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    check_bool("path", path)
    check_args(args)
    params = check_params("params", params)
    check_bool("epoch_losses", epoch_losses)
    if batch_size is not None:
        return _optimize_minibatch(loss_fn, params, optimizer, num_steps, args, path, batch_size, key, epoch_losses)
    if epoch_losses:
        raise ValueError("epoch_losses is only used with batch_size (mini-batch runs have epochs); got it without one")
    if key is not None:
        raise ValueError("key is only used with batch_size (the shuffles of mini-batch runs); got a key without one")
    _check_scalar_loss(loss_fn, params, args)

    def body(carry, _):
        w, state = carry
        w_next, state, loss = optim.step(loss_fn, w, state, optimizer, *args)
        return (w_next, state), (w if path else None, loss)

    (w_last, _), (ws, losses) = lax.scan(body, (params, optimizer.init(params)), length=num_steps)
    losses = jnp.append(losses, loss_fn(w_last, *args))
    return Trajectory(_with_last(ws, w_last) if path else w_last, losses)


def _check_scalar_loss(loss_fn: LossFn, params: PyTree, args: tuple) -> None:
    """``loss_fn(params, *args)`` must be a scalar (its shape is found without running it)."""
    shape = jax.eval_shape(loss_fn, params, *args).shape
    if shape != ():
        raise ValueError(f"loss_fn must return a scalar (the mean loss), got shape {shape}")


def _with_last(ws: PyTree, w_last: PyTree) -> PyTree:
    """The stacked iterates ``w_0 … w_{T−1}`` with ``w_T`` appended."""
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]]), ws, w_last)


def _optimize_minibatch(loss_fn, params, optimizer, num_steps, data, path, batch_size, key, epoch_losses=False) -> Trajectory:
    data, n, batch_size = check_batches(data, batch_size, key, name="args")
    _check_scalar_loss(loss_fn, params, data)
    per_epoch = n // batch_size
    if num_steps % per_epoch:
        raise ValueError(f"num_steps must be a whole number of epochs of n // batch_size = {per_epoch} steps, "
                         f"got {num_steps}")

    def body(carry, idx):
        w, state = carry
        w, state, batch_loss = optim.step(loss_fn, w, state, optimizer, *(a[idx] for a in data))
        return (w, state), (batch_loss, None if epoch_losses else loss_fn(w, *data), w if path else None)

    def epoch(carry, e):
        carry, out = lax.scan(body, carry, epoch_batches(n, batch_size, key=jax.random.fold_in(key, e)))
        return carry, (out[0], loss_fn(carry[0], *data)[None], out[2]) if epoch_losses else out

    (w, _), (batch_losses, losses, ws) = lax.scan(epoch, (params, optimizer.init(params)),
                                                  jnp.arange(num_steps // per_epoch))
    full = jnp.concatenate([loss_fn(params, *data)[None], losses.reshape(-1)])
    if path:
        w = jax.tree_util.tree_map(lambda p0, p: jnp.concatenate([p0[None], p.reshape(-1, *p0.shape)]), params, ws)
    return Trajectory(w, full, batch_losses.reshape(-1))


@partial(jax.jit, static_argnames=("loss_fn", "num_steps"))
def _gd(loss_fn: LossFn, w0: PyTree, learning_rate: Array, num_steps: int, args: tuple) -> Trajectory:
    return optimize(loss_fn, w0, optim.sgd(learning_rate), num_steps, args=args)


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

    Returns:
      :class:`Trajectory` with ``params`` ``(T + 1, ...)`` and ``losses`` ``(T + 1,)``.

    Example:
      >>> from dlbook.surfaces import parabola
      >>> traj = gradient_descent(parabola, 4.0, 0.5, 3)
      >>> [round(float(w), 3) for w in traj.params]         # ½w²: w_t = (1 − α)ᵗ w_0 = 4 · 0.5ᵗ
      [4.0, 2.0, 1.0, 0.5]

    Reference: ``ch01-cauchy1847methode``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    check_callable("loss_fn", loss_fn)
    check_hashable("loss_fn", loss_fn)
    w0 = check_params("w0", w0)
    check_learning_rate(learning_rate)
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
      >>> [round(float(w), 3) for w in traj.params[:, -1]]  # (1 − α)²: 0.5², 0², (−1.5)²
      [0.25, 0.0, 2.25]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    check_callable("loss_fn", loss_fn)
    check_hashable("loss_fn", loss_fn)
    lrs = as_array("learning_rates", learning_rates)
    check_ndim("learning_rates", lrs, 1, "(K,)")
    check_positive("learning_rates", lrs)
    w0s = check_params("w0s", w0s)
    for leaf in jax.tree_util.tree_leaves(w0s):
        if leaf.ndim == 0 or leaf.shape[0] != lrs.shape[0]:
            raise ValueError(
                f"w0s must have a leading axis of size K={lrs.shape[0]} to match learning_rates, "
                f"got shape {tuple(leaf.shape)}"
            )
    num_steps = check_int("num_steps", num_steps, minimum=0)
    check_bool("path", path)
    return _gd_sweep(loss_fn, w0s, jnp.asarray(lrs, dtype=jnp.result_type(float)), num_steps, tuple(args), path)


@partial(jax.jit, static_argnames=("loss_fn", "max_steps"))
def _minimize(loss_fn, w0, learning_rate, tol, max_steps, args):
    opt = optim.sgd(learning_rate)

    # carry: (next iterate, optimizer state, current iterate w_t, 𝓛(w_t), t, converged); t = −1 before the first
    def cond(c):
        return jnp.logical_and(c[4] < max_steps, jnp.logical_not(c[5]))

    def body(c):
        w, state, _, loss_prev, t, _ = c
        w_next, state, loss = optim.step(loss_fn, w, state, opt, *args)
        return w_next, state, w, loss, t + 1, jnp.abs(loss_prev - loss) < tol

    nan = jnp.array(jnp.nan, jnp.result_type(float))
    start = (w0, opt.init(w0), w0, nan, jnp.array(-1), jnp.array(False))
    _, _, w, loss, t, done = lax.while_loop(cond, body, start)
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
    a cap.  A diverging run ends at the cap with ``converged == False`` (or a non-finite loss).  Each update is
    one :func:`dlbook.optim.step` of ``sgd(learning_rate)``.

    Args:
      loss_fn: ``loss_fn(w, *args) -> scalar`` (hashable, see :func:`gradient_descent`).
      w0: starting point (pytree of arrays).
      learning_rate: ``α > 0``.
      tol: the tolerance on the change of the loss, > 0.
      max_steps: the cap on the number of updates, ≥ 1.
      args: extra arguments of ``loss_fn``.

    Returns:
      :class:`MinimizeResult` ``(w_T, 𝓛(w_T), T, converged)``.

    Example:
      >>> from dlbook.surfaces import parabola
      >>> # ½w² from 1 with α = 0.5: w_t = 0.5ᵗ, 𝓛_t = ½·0.25ᵗ, so |𝓛_t − 𝓛_{t−1}| = 0.375·0.25^(t−1)
      >>> min(t for t in range(1, 20) if 0.375 * 0.25 ** (t - 1) < 1e-4)
      7
      >>> r = minimize(parabola, 1.0, 0.5, tol=1e-4)
      >>> int(r.num_steps), bool(r.converged), float(r.params)             # w_7 = 0.5⁷
      (7, True, 0.0078125)

    Reference: ``ch01-nocedal2006numerical``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    check_callable("loss_fn", loss_fn)
    check_hashable("loss_fn", loss_fn)
    w0 = check_params("w0", w0)
    check_learning_rate(learning_rate)
    check_positive("tol", tol)
    max_steps = check_int("max_steps", max_steps, minimum=1)
    dtype = jnp.result_type(float)
    return _minimize(loss_fn, w0, jnp.asarray(learning_rate, dtype), jnp.asarray(tol, dtype), max_steps, tuple(args))


def steps_to_reach(losses: ArrayLike, target: ArrayLike) -> Array:
    """First step ``t`` with ``𝓛_t ≤ target``; ``len(losses)`` if never reached (nan counts as not reached).

    Works on the last axis, so a batch of trajectories (a sweep, or runs over learning rates × seeds)
    gives one count per run.

    Args:
      losses: ``(..., T)``, one loss per step on the last axis.
      target: the loss to reach, a scalar.

    Returns:
      an int array of the leading shape ``(...)``.

    Example:
      >>> int(steps_to_reach(jnp.array([4.0, 2.0, 1.0, 0.5]), 1.0))         # 𝓛_2 = 1 is the first ≤ 1
      2
      >>> steps_to_reach(jnp.array([[4.0, 2.0], [jnp.nan, 0.5]]), 0.1).tolist()   # never: T = 2
      [2, 2]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    losses = jnp.asarray(as_array("losses", losses))
    if losses.ndim < 1:
        raise ValueError(f"losses must have shape (..., T) (one loss per step on the last axis), got shape {losses.shape}")
    check_scalar("target", target)
    hit = losses <= target
    n = losses.shape[-1]
    return jnp.where(jnp.any(hit, axis=-1), jnp.argmax(hit, axis=-1), n)
