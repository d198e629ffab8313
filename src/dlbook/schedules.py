"""Learning-rate schedules: functions ``t ↦ α(t)`` of the step count, usable as any optimizer's ``learning_rate``.

``sgd(cosine_decay(0.1, 1000))`` runs step ``t`` with ``α(t)`` (:func:`dlbook.optim.scale` keeps the count).
Each schedule is the same function as its optax counterpart (``piecewise_constant_schedule``,
``exponential_decay``, ``cosine_decay_schedule``, ``linear_schedule``, ``join_schedules``,
``warmup_cosine_decay_schedule``); hyperparameters are checked when the schedule is built.

Chapter: ``book/ch08_adaptive_lr.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import check_bool, check_callable, check_int, is_concrete, check_non_negative, check_positive, check_scalar
from dlbook.optim import Schedule

__all__ = ["step_decay", "exponential_decay", "cosine_decay", "linear_schedule", "join_schedules",
           "warmup_cosine_decay"]


def _steps(name: str, x: ArrayLike, minimum: int) -> ArrayLike:
    """A number of steps: a Python int ``≥ minimum``; a traced value (a ``vmap``-ped warm-up length) is accepted
    unchecked, so a slider or a sweep over it does not recompile."""
    return x if not is_concrete(x) else check_int(name, x, minimum=minimum)


def _value(name: str, x: ArrayLike) -> None:
    check_non_negative(name, x)
    check_scalar(name, x)


def step_decay(init_value: ArrayLike, boundaries_and_scales: Mapping[int, float]) -> Schedule:
    """Step decay: ``α(t) = α_0 · Π_{b ≤ t} s_b`` — multiply by ``s_b`` once step ``b`` is reached.

    Same as ``optax.piecewise_constant_schedule``.

    Args:
      init_value: ``α_0 ≥ 0``.
      boundaries_and_scales: ``{b: s_b}``, steps ``b ≥ 0`` (ints) and factors ``s_b ≥ 0``.

    Example:
      >>> f = step_decay(1.0, {10: 0.1, 20: 0.5})
      >>> [round(float(f(t)), 3) for t in (0, 9, 10, 25)]
      [1.0, 1.0, 0.1, 0.05]

    Reference: ``ch08-goyal2017accurate`` (÷10 at fixed epochs).

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    _value("init_value", init_value)
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(f"boundaries_and_scales must be a dict {{step: factor}}, got {boundaries_and_scales!r}")
    for b, s in boundaries_and_scales.items():
        check_int("boundaries_and_scales (a step)", b, minimum=0)
        _value("boundaries_and_scales (a factor)", s)
    items = sorted(boundaries_and_scales.items())

    def schedule(count: ArrayLike) -> jax.Array:
        v = init_value
        for b, s in items:
            indicator = jnp.maximum(0.0, jnp.sign(b - count))
            v = v * indicator + (1 - indicator) * s * v
        return v

    return schedule


def exponential_decay(init_value: ArrayLike, transition_steps: int, decay_rate: ArrayLike, *,
                      staircase: bool = False) -> Schedule:
    """Exponential decay: ``α(t) = α_0 · r^{t/T}`` (``r^{⌊t/T⌋}`` with ``staircase``).

    Same as ``optax.exponential_decay``.

    Args:
      init_value: ``α_0 ≥ 0``.
      transition_steps: ``T ≥ 1``, steps per factor ``r``.
      decay_rate: ``r > 0``.
      staircase: decay in whole steps of ``T``.

    Example:
      >>> f = exponential_decay(1.0, 10, 0.5)
      >>> [round(float(f(t)), 3) for t in (0, 5, 10, 20)]
      [1.0, 0.707, 0.5, 0.25]

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    _value("init_value", init_value)
    transition_steps = check_int("transition_steps", transition_steps, minimum=1)
    check_positive("decay_rate", decay_rate)
    check_scalar("decay_rate", decay_rate)
    check_bool("staircase", staircase)

    def schedule(count: ArrayLike) -> jax.Array:
        p = count / transition_steps
        if staircase:
            p = jnp.floor(p)
        return jnp.where(count <= 0, init_value, init_value * jnp.power(decay_rate, p))

    return schedule


def cosine_decay(init_value: ArrayLike, decay_steps: int, alpha: ArrayLike = 0.0) -> Schedule:
    """Cosine decay: ``α(t) = α_0 [(1 − a) · ½(1 + cos(π min(t, T)/T)) + a]`` — from ``α_0`` to ``a α_0`` in ``T`` steps.

    Loshchilov and Hutter's SGDR (2017) without restarts.  Same as ``optax.cosine_decay_schedule``.

    Args:
      init_value: ``α_0 ≥ 0``.
      decay_steps: ``T ≥ 1``.
      alpha: ``a ≥ 0``, the final value as a fraction of ``α_0``.

    Example:
      >>> f = cosine_decay(1.0, 100)
      >>> [round(float(f(t)), 3) for t in (0, 50, 100, 200)]
      [1.0, 0.5, 0.0, 0.0]

    Reference: ``ch08-loshchilov2017sgdr``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    _value("init_value", init_value)
    decay_steps = _steps("decay_steps", decay_steps, 1)
    _value("alpha", alpha)
    T = float(decay_steps) if isinstance(decay_steps, int) else decay_steps

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.minimum(count, T)
        c = 0.5 * (1 + jnp.cos(jnp.pi * count / T))
        return init_value * ((1 - alpha) * c ** 1.0 + alpha)

    return schedule


def linear_schedule(init_value: ArrayLike, end_value: ArrayLike, transition_steps: int) -> Schedule:
    """A straight line from ``α_0`` to ``α_1`` in ``T`` steps, then constant: ``α(t) = α_0 + (α_1 − α_0) min(t, T)/T``.

    From 0 to the peak rate this is linear warm-up (Goyal et al. 2017).  Same as ``optax.linear_schedule``.

    Args:
      init_value: ``α_0 ≥ 0``.
      end_value: ``α_1 ≥ 0``.
      transition_steps: ``T ≥ 1`` (may be traced).

    Example:
      >>> f = linear_schedule(0.0, 1.0, 4)
      >>> [round(float(f(t)), 3) for t in (0, 1, 4, 9)]
      [0.0, 0.25, 1.0, 1.0]

    Reference: ``ch08-goyal2017accurate``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    _value("init_value", init_value)
    _value("end_value", end_value)
    transition_steps = _steps("transition_steps", transition_steps, 1)

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.clip(count, 0, transition_steps)
        frac = 1 - count / transition_steps
        return (init_value - end_value) * (frac ** 1) + end_value

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` restarted at 0, and so on.

    ``join_schedules([warm-up, decay], [W])`` is warm-up for ``W`` steps joined to a decay.  Same as
    ``optax.join_schedules``.

    Args:
      schedules: ``k`` callables.
      boundaries: ``k − 1`` increasing steps.

    Example:
      >>> f = join_schedules([linear_schedule(0.0, 1.0, 2), cosine_decay(1.0, 4)], [2])
      >>> [round(float(f(t)), 3) for t in range(7)]
      [0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    if not isinstance(schedules, (list, tuple)) or not schedules:
        raise TypeError(f"schedules must be a non-empty list of callables, got {schedules!r}")
    for i, s in enumerate(schedules):
        check_callable(f"schedules[{i}]", s)
    boundaries = [_steps(f"boundaries[{i}]", b, 0) for i, b in enumerate(boundaries)]
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} steps, got {len(boundaries)}")
    if is_concrete(boundaries) and any(b >= c for b, c in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be increasing, got {boundaries}")

    def schedule(count: ArrayLike) -> jax.Array:
        out = schedules[0](count)
        for b, s in zip(boundaries, schedules[1:]):
            out = jnp.where(count < b, out, s(count - b))
        return out

    return schedule


def warmup_cosine_decay(init_value: ArrayLike, peak_value: ArrayLike, warmup_steps: int, decay_steps: int,
                        end_value: ArrayLike = 0.0) -> Schedule:
    """Linear warm-up from ``α_0`` to the peak in ``W`` steps, then cosine decay to ``end_value`` at step ``T``.

    ``join_schedules([linear_schedule(α_0, peak, W), cosine_decay(peak, T − W, end/peak)], [W])``; same as
    ``optax.warmup_cosine_decay_schedule``.

    Args:
      init_value: ``α_0 ≥ 0``.
      peak_value: the peak ``> 0``.
      warmup_steps: ``W ≥ 1`` (may be traced: a sweep over warm-up lengths compiles once).
      decay_steps: ``T > W``, the total length (warm-up included; may be traced).
      end_value: the final rate ``≥ 0``.

    Example:
      >>> f = warmup_cosine_decay(0.0, 1.0, 10, 110)
      >>> [round(float(f(t)), 3) for t in (0, 5, 10, 60, 110)]
      [0.0, 0.5, 1.0, 0.5, 0.0]

    Reference: ``ch08-goyal2017accurate``; ``ch08-loshchilov2017sgdr``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_positive("peak_value", peak_value)
    check_scalar("peak_value", peak_value)
    warmup_steps = _steps("warmup_steps", warmup_steps, 1)
    decay_steps = _steps("decay_steps", decay_steps, 1)
    if is_concrete((warmup_steps, decay_steps)) and decay_steps <= warmup_steps:
        raise ValueError(f"decay_steps must be > warmup_steps = {warmup_steps} (it counts the warm-up), got {decay_steps}")
    _value("end_value", end_value)
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           cosine_decay(peak_value, decay_steps - warmup_steps, end_value / peak_value)],
                          [warmup_steps])
