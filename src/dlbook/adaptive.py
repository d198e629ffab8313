"""Adaptive learning rates: one step size per parameter, from the history of that parameter's gradients.

Each method is a :func:`dlbook.optim.chain` of a ``scale_by_*`` piece (which divides the gradient by a running
root-mean-square) and :func:`dlbook.optim.scale_by_learning_rate`; the state is a NamedTuple.  Every optimizer
is identical, step for step, to its optax counterpart with the same hyperparameters (the tests check it),
including optax's conventions for ``ε``:

* :func:`adagrad` ``G_t = G_0 + Σ g²`` with ``G_0 = 0.1`` and ``u = −α g / √(G_t + ε)`` (ε inside the root);
* :func:`rmsprop` ``v_t = ρ v + (1 − ρ) g²``, ``u = −α g / √(v_t + ε)`` (``eps_in_sqrt=False``: ``√v_t + ε``);
* :func:`adadelta` ``u = −α · √(E[Δw²] + ε) / √(E[g²] + ε) · g`` (Zeiler's rule is ``α = 1``);
* :func:`adam` ``u = −α m̂ / (√v̂ + ε)`` with bias correction ``m̂ = m / (1 − β₁ᵗ)``, switchable;
* :func:`adamw` Adam plus ``−α λ w`` added after the rescaling (decoupled weight decay).

Any ``learning_rate`` may be a schedule ``t ↦ α(t)`` from :mod:`dlbook.schedules`.

Chapter: ``book/ch08_adaptive_lr.ipynb``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import check_bool, check_non_negative, check_probability, check_scalar
from dlbook.optim import (GradientTransformation, PyTree, Schedule, _increment, add_decayed_weights, chain,
                          scale_by_learning_rate)

__all__ = ["RssState", "RmsState", "AdaDeltaState", "AdamState", "scale_by_rss", "scale_by_rms",
           "scale_by_adadelta", "scale_by_adam", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]

_map = jax.tree_util.tree_map


def _ema(g: PyTree, t: PyTree, decay: ArrayLike, order: int) -> PyTree:
    """``(1 − ρ) gᵒʳᵈᵉʳ + ρ t`` leaf by leaf: an exponential moving average of the gradient's power."""
    return _map(lambda g, t: (1 - decay) * (g ** order) + decay * t, g, t)


def _eps(eps: ArrayLike) -> None:
    check_non_negative("eps", eps)
    check_scalar("eps", eps)


class RssState(NamedTuple):
    """The state of :func:`scale_by_rss`: ``G``, the running sum of squared gradients (plus ``G_0``).

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """

    sum_of_squares: PyTree


def scale_by_rss(initial_accumulator_value: ArrayLike = 0.1, eps: ArrayLike = 1e-7) -> GradientTransformation:
    """AdaGrad's rescaling: ``G_t = G_{t−1} + g_t²``, ``u = g_t / √(G_t + ε)`` (``u = 0`` where ``G_t = 0``).

    Per coordinate, the step is the gradient divided by the root of the sum of *all* its past squares, so a
    coordinate with a constant gradient ``g`` takes steps ``g/√(t g²) = 1/√t``.  ``G_0`` is
    ``initial_accumulator_value`` (optax's default 0.1; Duchi et al. start at 0).  Same as ``optax.scale_by_rss``.

    Args:
      initial_accumulator_value: ``G_0 ≥ 0``.
      eps: ``ε ≥ 0``, added inside the square root.

    Example:
      >>> t = scale_by_rss(0.0, 0.0)
      >>> s = t.init(jnp.zeros(1))
      >>> for _ in range(4):
      ...     u, s = t.update(jnp.array([2.0]), s)
      >>> round(float(u[0]), 3)                              # 2 / √(4 · 2²) = 1/√4
      0.5

    Reference: ``ch08-duchi2011adaptive``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_non_negative("initial_accumulator_value", initial_accumulator_value)
    check_scalar("initial_accumulator_value", initial_accumulator_value)
    _eps(eps)

    def init(params: PyTree) -> RssState:
        return RssState(_map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads: PyTree, state: RssState, params: PyTree = None) -> tuple[PyTree, RssState]:
        del params
        acc = _map(lambda g, t: g * g + t, grads, state.sum_of_squares)
        out = _map(lambda g, t: jnp.where(t > 0, jax.lax.rsqrt(t + eps), 0.0) * g, grads, acc)
        return out, RssState(acc)

    return GradientTransformation(init, update)


class RmsState(NamedTuple):
    """The state of :func:`scale_by_rms`: ``v``, the moving average of squared gradients.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """

    nu: PyTree


def scale_by_rms(decay: ArrayLike = 0.9, eps: ArrayLike = 1e-8, *, eps_in_sqrt: bool = True) -> GradientTransformation:
    """RMSProp's rescaling: ``v_t = ρ v_{t−1} + (1 − ρ) g_t²``, ``u = g_t / √(v_t + ε)``.

    The moving average forgets: a gradient ``k`` steps old weighs ``ρᵏ``, so about the last ``1/(1 − ρ)``
    steps count.  ``v_0 = 0``.  With ``eps_in_sqrt=False`` the denominator is ``√v_t + ε``.  Same as
    ``optax.scale_by_rms`` (``initial_scale=0``, no bias correction).

    Args:
      decay: ``ρ ∈ [0, 1)``.
      eps: ``ε ≥ 0``.
      eps_in_sqrt: where ``ε`` goes.

    Example:
      >>> t = scale_by_rms(0.5, 0.0)
      >>> u, s = t.update(jnp.array([2.0]), t.init(jnp.zeros(1)))
      >>> round(float(u[0]), 3)                              # 2 / √(0.5 · 4) = √2
      1.414

    Reference: ``ch08-tieleman2012lecture``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_probability("decay", decay, "the decay ρ")
    _eps(eps)
    check_bool("eps_in_sqrt", eps_in_sqrt)

    def init(params: PyTree) -> RmsState:
        return RmsState(_map(jnp.zeros_like, params))

    def update(grads: PyTree, state: RmsState, params: PyTree = None) -> tuple[PyTree, RmsState]:
        del params
        nu = _ema(grads, state.nu, decay, 2)
        if eps_in_sqrt:
            out = _map(lambda n, g: jax.lax.rsqrt(n + eps) * g, nu, grads)
        else:
            out = _map(lambda n, g: 1 / (jnp.sqrt(n) + eps) * g, nu, grads)
        return out, RmsState(nu)

    return GradientTransformation(init, update)


class AdaDeltaState(NamedTuple):
    """The state of :func:`scale_by_adadelta`: ``E[g²]`` and ``E[Δw²]``, moving averages.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """

    e_g: PyTree
    e_x: PyTree


def scale_by_adadelta(rho: ArrayLike = 0.9, eps: ArrayLike = 1e-6) -> GradientTransformation:
    """AdaDelta's rescaling: ``E[g²]_t = ρ E[g²]_{t−1} + (1 − ρ) g²``, ``Δ = √(E[Δ²]_{t−1} + ε)/√(E[g²]_t + ε) · g``,
    then ``E[Δ²]_t = ρ E[Δ²]_{t−1} + (1 − ρ) Δ²``.

    The ratio of two RMS values has the units of the parameter (Zeiler 2012), so no learning rate is needed:
    the update is ``−Δ``.  Both averages start at 0, so the first steps are about ``√ε / |g| · g``, tiny.
    Same as ``optax.scale_by_adadelta``.

    Args:
      rho: ``ρ ∈ [0, 1)``.
      eps: ``ε ≥ 0``.

    Example:
      >>> t = scale_by_adadelta(0.0, 1e-6)
      >>> u, s = t.update(jnp.array([1.0]), t.init(jnp.zeros(1)))
      >>> round(float(u[0]) * 1e3, 3)                        # √1e-6 / √(1 + 1e-6) ≈ 1e-3
      1.0

    Reference: ``ch08-zeiler2012adadelta``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_probability("rho", rho, "the decay ρ")
    _eps(eps)

    def init(params: PyTree) -> AdaDeltaState:
        return AdaDeltaState(_map(jnp.zeros_like, params), _map(jnp.zeros_like, params))

    def update(grads: PyTree, state: AdaDeltaState, params: PyTree = None) -> tuple[PyTree, AdaDeltaState]:
        del params
        e_g = _ema(grads, state.e_g, rho, 2)
        out = _map(lambda g, eg, ex: (jnp.sqrt(ex + eps) / jnp.sqrt(eg + eps)) * g, grads, e_g, state.e_x)
        return out, AdaDeltaState(e_g, _ema(out, state.e_x, rho, 2))

    return GradientTransformation(init, update)


@functools.partial(jax.jit, inline=True)
def _debias(moment: PyTree, decay: ArrayLike, count: jax.Array) -> PyTree:
    """``moment / (1 − decayᵗ)``: the bias correction of an average that started at 0 (jitted inline, as optax's)."""
    c = 1 - decay ** count
    return _map(lambda t: t / c.astype(t.dtype), moment)


class AdamState(NamedTuple):
    """The state of :func:`scale_by_adam`: the step count ``t``, the moving averages ``m`` (of ``g``) and ``v`` (of ``g²``).

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """

    count: jax.Array
    mu: PyTree
    nu: PyTree


def scale_by_adam(b1: ArrayLike = 0.9, b2: ArrayLike = 0.999, eps: ArrayLike = 1e-8, *,
                  bias_correction: bool | jax.Array = True) -> GradientTransformation:
    """Adam's rescaling: ``m_t = β₁ m + (1 − β₁) g``, ``v_t = β₂ v + (1 − β₂) g²``, ``u = m̂_t / (√v̂_t + ε)``.

    With bias correction ``m̂_t = m_t / (1 − β₁ᵗ)``, ``v̂_t = v_t / (1 − β₂ᵗ)``: both averages start at 0, and the
    correction undoes that start (for a constant gradient ``m̂ = g`` from the first step).  With
    ``bias_correction=False`` ``m̂ = m``, ``v̂ = v`` — the experiment of chapter 8.  Same as ``optax.scale_by_adam``.

    Args:
      b1: ``β₁ ∈ [0, 1)``.
      b2: ``β₂ ∈ [0, 1)``.
      eps: ``ε ≥ 0``, outside the square root.
      bias_correction: divide by ``1 − βᵗ``.  ``True``/``False``, or a boolean JAX scalar (may be traced: a
        ``vmap`` over with/without correction compiles once; the choice is then made by ``jnp.where``).

    Example:
      >>> t = scale_by_adam()
      >>> u, s = t.update(jnp.array([-3.0]), t.init(jnp.zeros(1)))
      >>> round(float(u[0]), 3)                              # m̂/√v̂ = g/|g| on the first step
      -1.0

    Reference: ``ch08-kingma2015adam``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_probability("b1", b1, "the decay β₁")
    check_probability("b2", b2, "the decay β₂")
    _eps(eps)
    if not (isinstance(bias_correction, bool) or (isinstance(bias_correction, jax.Array) and bias_correction.shape == ()
                                                  and bias_correction.dtype == jnp.bool_)):
        raise TypeError(f"bias_correction must be True, False or a boolean JAX scalar (may be traced), got {bias_correction!r}")

    def init(params: PyTree) -> AdamState:
        return AdamState(jnp.zeros([], jnp.int32), _map(jnp.zeros_like, params), _map(jnp.zeros_like, params))

    def update(grads: PyTree, state: AdamState, params: PyTree = None) -> tuple[PyTree, AdamState]:
        del params
        mu, nu = _ema(grads, state.mu, b1, 1), _ema(grads, state.nu, b2, 2)
        count = _increment(state.count)
        if isinstance(bias_correction, bool):
            mu_hat, nu_hat = (_debias(mu, b1, count), _debias(nu, b2, count)) if bias_correction else (mu, nu)
        else:
            pick = lambda on, off: jnp.where(bias_correction, on, off)
            mu_hat = _map(pick, _debias(mu, b1, count), mu)
            nu_hat = _map(pick, _debias(nu, b2, count), nu)
        out = _map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        return out, AdamState(count, mu, nu)

    return GradientTransformation(init, update)


LearningRate = ArrayLike | Schedule


def adagrad(learning_rate: LearningRate, initial_accumulator_value: ArrayLike = 0.1,
            eps: ArrayLike = 1e-7) -> GradientTransformation:
    """AdaGrad: ``w ← w − α g / √(G_0 + Σ_{τ≤t} g_τ² + ε)``, per coordinate.

    ``chain(scale_by_rss(G_0, ε), scale_by_learning_rate(α))``; same as ``optax.adagrad`` (whose ``G_0 = 0.1``).

    Example:
      >>> opt = adagrad(1.0, 0.0, 0.0)
      >>> u, _ = opt.update(jnp.array([5.0, 0.01]), opt.init(jnp.zeros(2)))
      >>> [round(float(v), 3) for v in u]                   # the first step is −α sign(g), whatever |g|
      [-1.0, -1.0]

    Reference: ``ch08-duchi2011adaptive``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(scale_by_rss(initial_accumulator_value, eps), last)


def rmsprop(learning_rate: LearningRate, decay: ArrayLike = 0.9, eps: ArrayLike = 1e-8, *,
            eps_in_sqrt: bool = True) -> GradientTransformation:
    """RMSProp: ``v ← ρ v + (1 − ρ) g²``, ``w ← w − α g / √(v + ε)``.

    ``chain(scale_by_rms(ρ, ε), scale_by_learning_rate(α))``; same as ``optax.rmsprop``.

    Example:
      >>> opt = rmsprop(0.1, 0.0, 0.0)
      >>> u, _ = opt.update(jnp.array([4.0]), opt.init(jnp.zeros(1)))
      >>> round(float(u[0]), 3)                              # ρ = 0: −α g/|g|
      -0.1

    Reference: ``ch08-tieleman2012lecture``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(scale_by_rms(decay, eps, eps_in_sqrt=eps_in_sqrt), last)


def adadelta(learning_rate: LearningRate = 1.0, rho: ArrayLike = 0.9, eps: ArrayLike = 1e-6) -> GradientTransformation:
    """AdaDelta: ``w ← w − α √(E[Δw²] + ε)/√(E[g²] + ε) · g``; Zeiler's method is ``α = 1`` ("no learning rate").

    ``chain(scale_by_adadelta(ρ, ε), scale_by_learning_rate(α))``; same as ``optax.adadelta(α, ρ, ε)``.

    Example:
      >>> opt = adadelta()
      >>> u, _ = opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))
      >>> round(float(u[0]) * 1e3, 2)                        # −√ε/√(0.1 · 1 + ε) ≈ −√(1e-5)
      -3.16

    Reference: ``ch08-zeiler2012adadelta``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(scale_by_adadelta(rho, eps), last)


def adam(learning_rate: LearningRate, b1: ArrayLike = 0.9, b2: ArrayLike = 0.999, eps: ArrayLike = 1e-8, *,
         bias_correction: bool | jax.Array = True) -> GradientTransformation:
    """Adam: RMSProp's per-coordinate scale, momentum's average of gradients, and bias correction.

    ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``, ``w ← w − α m̂/(√v̂ + ε)``;
    ``chain(scale_by_adam(β₁, β₂, ε), scale_by_learning_rate(α))``, same as ``optax.adam``.

    Example:
      >>> opt = adam(0.1)
      >>> u, _ = opt.update(jnp.array([50.0, -0.02]), opt.init(jnp.zeros(2)))
      >>> [round(float(v), 3) for v in u]                   # the first step is −α sign(g)
      [-0.1, 0.1]

    Reference: ``ch08-kingma2015adam``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(scale_by_adam(b1, b2, eps, bias_correction=bias_correction), last)


def adamw(learning_rate: LearningRate, b1: ArrayLike = 0.9, b2: ArrayLike = 0.999, eps: ArrayLike = 1e-8,
          weight_decay: ArrayLike = 1e-4, mask: Any = None) -> GradientTransformation:
    """AdamW: ``w ← w − α (m̂/(√v̂ + ε) + λ w)``: the decay is added after Adam's rescaling (decoupled).

    Adam with an L2 penalty ``½λ‖w‖²`` in the loss puts ``λ w`` *into* ``g``, where ``√v̂`` divides it, so
    coordinates with large gradients are barely decayed; AdamW does not (Loshchilov and Hutter 2019).
    ``chain(scale_by_adam, add_decayed_weights(λ, mask), scale_by_learning_rate(α))``; same as ``optax.adamw``
    (the decay is multiplied by ``α``, as in optax and PyTorch).

    Args:
      mask: which leaves decay (see :func:`dlbook.optim.add_decayed_weights`).

    Example:
      >>> opt = adamw(0.1, weight_decay=0.5)
      >>> w = jnp.array([2.0])
      >>> u, _ = opt.update(jnp.array([3.0]), opt.init(w), w)
      >>> round(float(u[0]), 3)                              # −0.1 · (1 + 0.5 · 2)
      -0.2

    Reference: ``ch08-loshchilov2019decoupled``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay, mask), last)

