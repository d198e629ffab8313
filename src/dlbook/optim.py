"""Optimizers as pairs of pure functions, in the style of optax.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; the new parameters are
``apply_updates(params, updates)``.  Named optimizers are chains of small pieces: plain gradient descent
is ``chain(scale(-α))``, i.e. ``w ← w − α ∇𝓛(w)``; :func:`momentum` and :func:`nesterov` put
:func:`trace` (a running sum of past gradients) in front of the same scale.

One step of training is :func:`step`: the loss and its gradient at the current parameters, the optimizer's
update, the new parameters.  Every runner of the library (:mod:`dlbook.descent`, :mod:`dlbook.training`)
and every training loop of the benchmarks takes its steps with it (the optimizer benchmark times ``update``
and :func:`apply_updates` alone, against optax's).

Hyperparameters are checked when an optimizer is *built* (not inside ``update``); a traced value (e.g. a
learning rate swept with ``vmap``) is accepted unchecked, the sweep's caller checks the concrete array.

Adaptive methods (AdaGrad, RMSProp, AdaDelta, Adam, AdamW) are chains of the same pieces in
:mod:`dlbook.adaptive`; learning-rate schedules, callables ``t ↦ α(t)`` any ``learning_rate`` accepts, are in
:mod:`dlbook.schedules`.

Chapters: ``book/ch01_gradient_descent.ipynb`` (sgd), ``book/ch06_batch_momentum.ipynb`` (momentum, Nesterov),
``book/ch08_adaptive_lr.ipynb`` (schedules, clipping, decoupled weight decay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import (check_finite, check_learning_rate, check_non_negative, check_optimizer, check_positive,
                            check_probability, check_scalar)

__all__ = ["GradientTransformation", "EmptyState", "ScaleState", "TraceState", "scale", "scale_by_learning_rate", "trace",
           "chain", "sgd", "momentum", "nesterov", "global_norm", "clip_by_global_norm", "add_decayed_weights",
           "apply_updates", "step"]

PyTree = Any


class GradientTransformation(NamedTuple):
    """An optimizer, two pure functions: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``.

    The new parameters are ``apply_updates(params, updates)``, i.e. ``w_{t+1} = w_t + u_t``; for gradient descent
    ``u_t = −α ∇𝓛(w_t)``.  The same interface as optax's, so optax optimizers run in dlbook's runners too.

    Example:
      >>> opt = sgd(0.5)
      >>> u, state = opt.update(jnp.array([2.0]), opt.init(None))
      >>> u.tolist()                                         # u = −α g = −0.5 · 2
      [-1.0]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """

    init: Callable[[PyTree], Any]
    update: Callable[..., tuple[PyTree, Any]]


class EmptyState(NamedTuple):
    """The state of a stateless transformation (:func:`scale`): nothing to remember between steps.

    Example:
      >>> scale(2.0).init(jnp.zeros(3))
      EmptyState()

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """


def _no_state(params: PyTree) -> EmptyState:
    """The ``init`` of every stateless transformation (:func:`scale`, :func:`clip_by_global_norm`, ...)."""
    del params
    return EmptyState()


class ScaleState(NamedTuple):
    """The state of :func:`scale` with a schedule: the number of updates made so far, ``t`` (starts at 0).

    Example:
      >>> t = scale(lambda k: -0.1 / (1.0 + k))
      >>> _, s = t.update(jnp.array([1.0]), t.init(None))
      >>> int(s.count)
      1

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """

    count: jax.Array


Schedule = Callable[[jax.Array], jax.Array]


def scale(step_size: ArrayLike | Schedule) -> GradientTransformation:
    """Multiply every gradient by a constant ``u = s · g``, or by a schedule ``u_t = s(t) · g_t``.

    ``scale(−α)`` turns a gradient into the gradient-descent step ``−α g``; it is the last piece of :func:`sgd`,
    :func:`momentum` and :func:`nesterov`.  Given a callable ``step → factor`` (a learning-rate schedule of
    :mod:`dlbook.schedules`, negated) the state counts the updates, ``t = 0, 1, 2, …``, and step ``t`` uses
    ``s(t)``; the same as ``optax.scale_by_schedule``.

    Args:
      step_size: the factor ``s``, a finite scalar (may be traced), or a callable ``s(t)`` of the step count.

    Example:
      >>> t = scale(-0.1)
      >>> u, _ = t.update(jnp.array([1.0, 2.0]), t.init(None))
      >>> [round(float(v), 3) for v in u]                   # −0.1 · (1, 2)
      [-0.1, -0.2]
      >>> t = scale(lambda k: -0.5 ** k)                    # s(t) = −0.5ᵗ
      >>> s = t.init(None)
      >>> for _ in range(3):
      ...     u, s = t.update(jnp.array([1.0]), s)
      >>> u.tolist(), int(s.count)                          # the third step uses s(2) = −0.25
      ([-0.25], 3)

    Chapter: ``book/ch06_batch_momentum.ipynb`` (``sgd`` of ``book/ch01_gradient_descent.ipynb`` is ``scale(−α)``);
    schedules: ``book/ch08_adaptive_lr.ipynb``.
    """
    if callable(step_size):
        def init_s(params: PyTree) -> ScaleState:
            del params
            return ScaleState(jnp.zeros([], jnp.int32))

        def update_s(grads: PyTree, state: ScaleState, params: PyTree = None) -> tuple[PyTree, ScaleState]:
            del params
            s = step_size(state.count)
            out = jax.tree_util.tree_map(lambda g: jnp.array(s, dtype=g.dtype) * g, grads)
            return out, ScaleState(_increment(state.count))

        return GradientTransformation(init_s, update_s)
    check_finite("step_size", step_size)

    def update(grads: PyTree, state: EmptyState, params: PyTree = None) -> tuple[PyTree, EmptyState]:
        del params
        return jax.tree_util.tree_map(lambda g: step_size * g, grads), state

    return GradientTransformation(_no_state, update)


def _increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest int32 (as optax's ``safe_increment``)."""
    big = jnp.iinfo(jnp.int32).max
    return jnp.where(count < big, count + 1, big).astype(jnp.int32)


def scale_by_learning_rate(learning_rate: ArrayLike | Schedule) -> GradientTransformation:
    """The last piece of every named optimizer: ``u = −α g``, or ``u_t = −α(t) g_t`` for a schedule ``α(t)``.

    Same as ``optax.scale_by_learning_rate``.  A constant ``α`` is checked (a finite scalar > 0); a schedule
    must be a callable of the step count.

    Args:
      learning_rate: ``α > 0`` (may be traced), or a schedule ``t ↦ α(t)`` (:mod:`dlbook.schedules`).

    Example:
      >>> u, _ = scale_by_learning_rate(0.5).update(jnp.array([2.0]), EmptyState())
      >>> u.tolist()                                        # −0.5 · 2
      [-1.0]

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    if callable(learning_rate):
        return scale(lambda t: -learning_rate(t))
    check_learning_rate(learning_rate)
    return scale(-learning_rate)


class TraceState(NamedTuple):
    """The state of :func:`trace`: the running sum of past gradients ``m`` (same structure as the params).

    ``m_0 = 0`` and ``m_t = γ m_{t−1} + g_t``.

    Example:
      >>> t = trace(0.5)
      >>> _, s = t.update(jnp.array([2.0]), t.init(jnp.zeros(1)))
      >>> _, s = t.update(jnp.array([2.0]), s)
      >>> s.trace.tolist()                                   # m = 0.5 · 2 + 2
      [3.0]

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """

    trace: PyTree


def trace(gamma: ArrayLike, *, nesterov: bool = False) -> GradientTransformation:
    """A decaying sum of past gradients: ``m ← γ m + g``; the update is ``m`` (or ``g + γ m`` with ``nesterov``).

    Followed by ``scale(−η)`` this is momentum as the notes write it, ``v ← γ v + η ∇J``, ``θ ← θ − v``,
    with ``v = η m`` (the two agree step for step while ``η`` is constant).  With ``nesterov=True`` the
    update ``g + γ m`` is Nesterov's accelerated gradient (Nesterov 1983; Sutskever et al. 2013) after the
    change of variables ``φ = θ − γ v`` of Bengio, Boulanger-Lewandowski and Pascanu (2013): the iterates are
    the look-ahead points, so only the gradient at the current parameters is needed.  ``m`` starts at zero.
    Same as ``optax.trace``.

    Args:
      gamma: the momentum ``γ`` in ``[0, 1)``, a scalar (may be traced).
      nesterov: use the look-ahead form.

    Example:
      >>> t = trace(0.9)
      >>> u, s = t.update(jnp.array([1.0]), t.init(jnp.zeros(1)))
      >>> u, s = t.update(jnp.array([1.0]), s)
      >>> [round(float(v), 3) for v in u]                  # m = 0.9 · 1 + 1
      [1.9]
      >>> t = trace(0.9, nesterov=True)
      >>> u, s = t.update(jnp.array([1.0]), t.init(jnp.zeros(1)))
      >>> u, s = t.update(jnp.array([1.0]), s)
      >>> [round(float(v), 3) for v in u]                  # g + γ m = 1 + 0.9 · 1.9
      [2.71]

    Reference: ``ch06-polyak1964some``; ``ch06-bengio2013advances`` (the look-ahead form).

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    check_probability("gamma", gamma, "the momentum γ")

    def init(params: PyTree) -> TraceState:
        return TraceState(jax.tree_util.tree_map(jnp.zeros_like, params))

    def update(grads: PyTree, state: TraceState, params: PyTree = None) -> tuple[PyTree, TraceState]:
        del params
        m = jax.tree_util.tree_map(lambda g, t: g + gamma * t, grads, state.trace)
        out = jax.tree_util.tree_map(lambda g, t: g + gamma * t, grads, m) if nesterov else m
        return out, TraceState(m)

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations in sequence: ``u = t_k(… t_2(t_1(g)))``; the state is the tuple of their states.

    Args:
      transforms: the :class:`GradientTransformation` s, applied first to last.

    Example:
      >>> t = chain(scale(2.0), scale(-0.25))
      >>> u, state = t.update(jnp.array([1.0, -4.0]), t.init(None))
      >>> u.tolist(), state                                  # −0.25 · (2 · g)
      ([-0.5, 2.0], (EmptyState(), EmptyState()))

    Chapter: ``book/ch06_batch_momentum.ipynb`` (``momentum`` is ``chain(trace(γ), scale(−η))``).
    """
    for i, t in enumerate(transforms):
        check_optimizer(f"transforms[{i}]", t)

    def init(params: PyTree) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(grads: PyTree, state: tuple, params: PyTree = None) -> tuple[PyTree, tuple]:
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def sgd(learning_rate: ArrayLike) -> GradientTransformation:
    """(Stochastic) gradient descent: ``w ← w − α g``.

    With ``g`` the gradient of the loss on the whole training set this is plain (batch) gradient descent,
    the update rule of chapter 1; with ``g`` from a mini-batch it is SGD (chapter 6).  ``chain(scale(−α))``.

    Args:
      learning_rate: ``α > 0``, a scalar (may be traced), or a schedule ``t ↦ α(t)``.

    Example:
      >>> opt = sgd(0.1)
      >>> w = jnp.array([1.0])
      >>> u, _ = opt.update(jnp.array([2.0]), opt.init(w))
      >>> [round(float(v), 3) for v in apply_updates(w, u)]   # 1 − 0.1 · 2
      [0.8]

    Reference: ``ch01-cauchy1847methode``; ``ch01-ruder2016overview``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    return chain(scale_by_learning_rate(learning_rate))


def momentum(learning_rate: ArrayLike, gamma: ArrayLike = 0.9) -> GradientTransformation:
    """Gradient descent with momentum: ``v ← γ v + η ∇J(θ)``, ``θ ← θ − v`` (a ball rolling downhill).

    ``chain(trace(γ), scale(−η))``; equal to ``optax.sgd(η, momentum=γ)``.  ``γ = 0`` is :func:`sgd`.

    Args:
      learning_rate: ``η > 0``, a scalar (may be traced), or a schedule ``t ↦ η(t)``.
      gamma: the momentum ``γ`` in ``[0, 1)``, a scalar (may be traced).

    Example:
      >>> opt = momentum(0.1, 0.9)
      >>> w, s = jnp.array([1.0]), opt.init(jnp.array([1.0]))
      >>> for _ in range(2):                                 # constant gradient 1: v = 0.1, then 0.9 · 0.1 + 0.1
      ...     u, s = opt.update(jnp.array([1.0]), s)
      ...     w = apply_updates(w, u)
      >>> [round(float(v), 3) for v in w]                   # 1 − 0.1 − 0.19
      [0.71]

    Reference: ``ch06-polyak1964some``; ``ch06-goh2017momentum``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(trace(gamma), last)


def nesterov(learning_rate: ArrayLike, gamma: ArrayLike = 0.9) -> GradientTransformation:
    """Nesterov's accelerated gradient: momentum whose gradient is taken at the look-ahead point ``θ − γ v``.

    ``v ← γ v + η ∇J(θ − γ v)``, ``θ ← θ − v``, run on the look-ahead points ``φ = θ − γ v`` so that only the
    gradient at the current parameters is needed: ``chain(trace(γ, nesterov=True), scale(−η))``; equal to
    ``optax.sgd(η, momentum=γ, nesterov=True)``.

    Args:
      learning_rate: ``η > 0``, a scalar (may be traced), or a schedule ``t ↦ η(t)``.
      gamma: the momentum ``γ`` in ``[0, 1)``, a scalar (may be traced).

    Example:
      >>> opt = nesterov(0.1, 0.9)
      >>> w, s = jnp.array([1.0]), opt.init(jnp.array([1.0]))
      >>> for _ in range(2):                                 # constant gradient 1: m = 1, then 1.9; step η(1 + γ m)
      ...     u, s = opt.update(jnp.array([1.0]), s)
      ...     w = apply_updates(w, u)
      >>> [round(float(v), 3) for v in w]                   # 1 − 0.1 · 1.9 − 0.1 · 2.71
      [0.539]

    Reference: ``ch06-nesterov1983method``; ``ch06-sutskever2013importance``; ``ch06-bengio2013advances``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    last = scale_by_learning_rate(learning_rate)
    return chain(trace(gamma, nesterov=True), last)


def global_norm(tree: PyTree) -> jax.Array:
    """The Euclidean norm of all the leaves together, ``‖g‖ = √(Σ_leaves Σ g²)``.

    Example:
      >>> float(global_norm([jnp.array([3.0]), jnp.array([[4.0]])]))
      5.0

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    sums = jax.tree_util.tree_map(lambda g: jnp.sum(jnp.square(g)), tree)
    return jnp.sqrt(jax.tree_util.tree_reduce(lambda a, b: a + b, sums, 0))


def clip_by_global_norm(max_norm: ArrayLike) -> GradientTransformation:
    """Gradient clipping by norm: ``g ← g · c / ‖g‖`` when ``‖g‖ > c``, else ``g`` unchanged.

    The direction is kept and only the length is capped, so a cliff in the loss (a huge gradient) moves the
    parameters at most ``α c`` in one step (Pascanu, Mikolov and Bengio 2013).  ``‖g‖`` is :func:`global_norm`
    over all the leaves.  Same as ``optax.clip_by_global_norm``; put it first in a :func:`chain`.

    Args:
      max_norm: the threshold ``c > 0``, a scalar.

    Example:
      >>> u, _ = clip_by_global_norm(1.0).update(jnp.array([3.0, 4.0]), EmptyState())
      >>> [round(float(v), 3) for v in u]                   # (3, 4) · 1/5
      [0.6, 0.8]

    Reference: ``ch08-pascanu2013difficulty``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_positive("max_norm", max_norm)
    check_scalar("max_norm", max_norm)

    def update(grads: PyTree, state: EmptyState, params: PyTree = None) -> tuple[PyTree, EmptyState]:
        del params
        norm = global_norm(grads)
        keep = norm < max_norm
        out = jax.tree_util.tree_map(lambda g: jax.lax.select(keep, g, (g / norm.astype(g.dtype)) * max_norm), grads)
        return out, state

    return GradientTransformation(_no_state, update)


def add_decayed_weights(weight_decay: ArrayLike, mask: PyTree | Callable[[PyTree], PyTree] | None = None
                        ) -> GradientTransformation:
    """Decoupled weight decay: ``u = g + λ w`` (on the leaves where ``mask`` is True).

    Placed *after* an adaptive rescaling (:func:`dlbook.adaptive.adamw`) the decay ``λ w`` is not divided by
    ``√v̂``, which is what Loshchilov and Hutter (2019) call decoupled; placed before it (or as an L2 penalty in
    the loss, chapter 5) it is.  Same as ``optax.add_decayed_weights``.

    Args:
      weight_decay: ``λ ≥ 0``, a scalar.
      mask: ``None`` (decay every leaf), a pytree of bools with the structure of the params, or a callable
        ``params → that pytree`` (e.g. no decay on biases).

    Example:
      >>> t = add_decayed_weights(0.1)
      >>> u, _ = t.update(jnp.array([1.0]), t.init(None), jnp.array([2.0]))
      >>> [round(float(v), 3) for v in u]                   # 1 + 0.1 · 2
      [1.2]

    Reference: ``ch08-loshchilov2019decoupled``.

    Chapter: ``book/ch08_adaptive_lr.ipynb``.
    """
    check_non_negative("weight_decay", weight_decay)
    check_scalar("weight_decay", weight_decay)
    if mask is not None and not callable(mask) and not all(isinstance(m, bool) for m in jax.tree_util.tree_leaves(mask)):
        raise TypeError(f"mask must be None, a pytree of bools or a callable returning one, got {mask!r}")

    def update(grads: PyTree, state: EmptyState, params: PyTree = None) -> tuple[PyTree, EmptyState]:
        if params is None:
            raise ValueError("params must be given to add_decayed_weights' update (the decay is λ w), got None")
        m = mask(params) if callable(mask) else mask
        if m is None:
            return jax.tree_util.tree_map(lambda g, w: g + weight_decay * w, grads, params), state
        return jax.tree_util.tree_map(lambda g, w, k: g + weight_decay * w if k else g, grads, params, m), state

    return GradientTransformation(_no_state, update)


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """The new parameters ``w + u``, leaf by leaf (the two pytrees must have the same structure).

    Args:
      params: the parameters ``w``, any pytree of arrays.
      updates: the update ``u`` from an optimizer's ``update``, the same structure and shapes as ``params``.

    Example:
      >>> apply_updates({"w": jnp.array([1.0])}, {"w": jnp.array([-0.25])})["w"].tolist()   # 1 − 0.25
      [0.75]
      >>> apply_updates({"w": jnp.array([1.0])}, {"v": jnp.array([-0.25])})
      Traceback (most recent call last):
      ...
      ValueError: updates must have the structure of params, got ...

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    p_tree, u_tree = jax.tree_util.tree_structure(params), jax.tree_util.tree_structure(updates)
    if p_tree != u_tree:
        raise ValueError(f"updates must have the structure of params, got {u_tree} for params {p_tree}")
    return jax.tree_util.tree_map(lambda p, u: p + u, params, updates)


def step(loss_fn: Callable[..., jax.Array], params: PyTree, state: Any, optimizer: GradientTransformation,
         *args: Any) -> tuple[PyTree, Any, jax.Array]:
    """One training step: ``𝓛(w_t)`` and ``∇𝓛(w_t)`` together, then ``w_{t+1} = w_t + update(∇𝓛(w_t))``.

    The one place the library turns a gradient into new parameters; traceable (it is the body of every
    ``lax.scan`` that trains).  ``args`` are passed to ``loss_fn`` after the parameters (data, a batch, a key).

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the parameters ``w_t``, any pytree of arrays.
      state: the optimizer's state (from ``optimizer.init`` or the previous step).
      optimizer: a :class:`GradientTransformation` (or an optax optimizer).
      args: extra arguments of ``loss_fn``.

    Returns:
      ``(w_{t+1}, new optimizer state, 𝓛(w_t))`` — the loss *before* the step.

    Example:
      >>> opt = sgd(0.25)
      >>> w, s, loss = step(lambda w: jnp.sum(w**2), jnp.array([2.0]), opt.init(None), opt)
      >>> w.tolist(), float(loss)                       # w − α·2w = 2 − 0.25·4; the loss is w² = 4
      ([1.0], 4.0)

    Reference: ``ch01-cauchy1847methode``.

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    loss, grads = jax.value_and_grad(loss_fn)(params, *args)
    updates, state = optimizer.update(grads, state, params)
    return apply_updates(params, updates), state, loss
