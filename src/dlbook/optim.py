"""Optimizers as pairs of pure functions, in the style of optax.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; the new parameters are
``apply_updates(params, updates)``.  Named optimizers are chains of small pieces: plain gradient descent
is ``chain(scale(-α))``, i.e. ``w ← w − α ∇𝓛(w)``; :func:`momentum` and :func:`nesterov` put
:func:`trace` (a running sum of past gradients) in front of the same scale.

Hyperparameters are checked when an optimizer is *built* (not inside ``update``); a traced value (e.g. a
learning rate swept with ``vmap``) is accepted unchecked, the sweep's caller checks the concrete array.

Chapters: ``book/ch01_gradient_descent.ipynb`` (sgd), ``book/ch06_batch_momentum.ipynb`` (momentum, Nesterov).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp  # noqa: F401 - used in the docstring examples
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_callable, check_finite, check_ndim, check_positive, is_concrete

__all__ = ["GradientTransformation", "EmptyState", "TraceState", "scale", "trace", "chain", "sgd", "momentum",
           "nesterov", "apply_updates"]

PyTree = Any


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[PyTree], Any]
    update: Callable[..., tuple[PyTree, Any]]


class EmptyState(NamedTuple):
    """State of a stateless transformation."""


def scale(step_size: ArrayLike) -> GradientTransformation:
    """Multiply every gradient by a constant: ``u = s · g``.

    Example:
      >>> t = scale(-0.1)
      >>> u, _ = t.update(jnp.array([1.0, 2.0]), t.init(None))
      >>> [round(float(v), 3) for v in u]
      [-0.1, -0.2]
    """
    check_finite("step_size", step_size)

    def init(params: PyTree) -> EmptyState:
        del params
        return EmptyState()

    def update(grads: PyTree, state: EmptyState, params: PyTree = None) -> tuple[PyTree, EmptyState]:
        del params
        return jax.tree_util.tree_map(lambda g: step_size * g, grads), state

    return GradientTransformation(init, update)


class TraceState(NamedTuple):
    """The state of :func:`trace`: the running sum of past gradients ``m`` (same structure as the params)."""

    trace: PyTree


def trace(decay: ArrayLike, *, nesterov: bool = False) -> GradientTransformation:
    """A decaying sum of past gradients: ``m ← γ m + g``; the update is ``m`` (or ``g + γ m`` with ``nesterov``).

    Followed by ``scale(−η)`` this is momentum as the notes write it, ``v ← γ v + η ∇J``, ``θ ← θ − v``,
    with ``v = η m`` (the two agree step for step while ``η`` is constant).  With ``nesterov=True`` the
    update ``g + γ m`` is Nesterov's accelerated gradient (Nesterov 1983; Sutskever et al. 2013) after the
    change of variables ``φ = θ − γ v`` of Bengio, Boulanger-Lewandowski and Pascanu (2013): the iterates are
    the look-ahead points, so only the gradient at the current parameters is needed.  ``m`` starts at zero.  Same as ``optax.trace``.

    Args:
      decay: ``γ`` in ``[0, 1)`` (may be traced).
      nesterov: use the look-ahead form.

    Example:
      >>> t = trace(0.9)
      >>> u, s = t.update(jnp.array([1.0]), t.init(jnp.zeros(1)))
      >>> u, s = t.update(jnp.array([1.0]), s)
      >>> [round(float(v), 3) for v in u]                  # 0.9 · 1 + 1
      [1.9]
    """
    check_finite("decay", decay)
    check_ndim("decay", as_array("decay", decay), 0, "() (a scalar; vmap over the optimizer for several)")
    if is_concrete(decay) and not 0 <= float(decay) < 1:
        raise ValueError(f"decay must be in [0, 1) (the momentum γ), got {float(decay)}")

    def init(params: PyTree) -> TraceState:
        return TraceState(jax.tree_util.tree_map(jnp.zeros_like, params))

    def update(grads: PyTree, state: TraceState, params: PyTree = None) -> tuple[PyTree, TraceState]:
        del params
        m = jax.tree_util.tree_map(lambda g, t: g + decay * t, grads, state.trace)
        out = jax.tree_util.tree_map(lambda g, t: g + decay * t, grads, m) if nesterov else m
        return out, TraceState(m)

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations in sequence; the state is the tuple of their states."""
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"transforms[{i}] must be a GradientTransformation, got {type(t).__name__}")

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
    the update rule of chapter 1; with ``g`` from a mini-batch it is SGD (chapter 6).

    Args:
      learning_rate: ``α > 0``.

    Reference: Cauchy (1847); Ruder (2016), "An overview of gradient descent optimization algorithms".

    Example:
      >>> opt = sgd(0.1)
      >>> w = jnp.array([1.0])
      >>> u, _ = opt.update(jnp.array([2.0]), opt.init(w))
      >>> [round(float(v), 3) for v in apply_updates(w, u)]
      [0.8]
    """
    _check_rate(learning_rate)
    return chain(scale(-learning_rate))


def momentum(learning_rate: ArrayLike, gamma: ArrayLike = 0.9) -> GradientTransformation:
    """Gradient descent with momentum: ``v ← γ v + η ∇J(θ)``, ``θ ← θ − v`` (a ball rolling downhill).

    ``chain(trace(γ), scale(−η))``; equal to ``optax.sgd(η, momentum=γ)``.  ``γ = 0`` is :func:`sgd`.

    Reference: Polyak (1964); Goh (2017), "Why Momentum Really Works".

    Example:
      >>> opt = momentum(0.1, 0.9)
      >>> w, s = jnp.array([1.0]), opt.init(jnp.array([1.0]))
      >>> for _ in range(2):                                 # constant gradient 1: steps 0.1, then 0.19
      ...     u, s = opt.update(jnp.array([1.0]), s)
      ...     w = apply_updates(w, u)
      >>> [round(float(v), 3) for v in w]
      [0.71]
    """
    _check_rate(learning_rate)
    return chain(trace(gamma), scale(-learning_rate))


def nesterov(learning_rate: ArrayLike, gamma: ArrayLike = 0.9) -> GradientTransformation:
    """Nesterov's accelerated gradient: momentum whose gradient is taken at the look-ahead point ``θ − γ v``.

    ``chain(trace(γ, nesterov=True), scale(−η))``; equal to ``optax.sgd(η, momentum=γ, nesterov=True)``.

    Reference: Nesterov (1983); Sutskever, Martens, Dahl and Hinton (2013); Bengio, Boulanger-Lewandowski and
    Pascanu (2013) for the form without an explicit look-ahead.
    """
    _check_rate(learning_rate)
    return chain(trace(gamma, nesterov=True), scale(-learning_rate))


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """``params + updates``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda p, u: p + u, params, updates)


def _check_rate(learning_rate: Any) -> None:
    """One learning rate: a finite scalar > 0 (a sweep vmaps over the optimizer or the runner)."""
    check_positive("learning_rate", learning_rate)
    check_ndim("learning_rate", as_array("learning_rate", learning_rate), 0, "() (a scalar)")


def _check_optimizer(name: str, opt: Any) -> None:
    if not isinstance(opt, GradientTransformation):
        raise TypeError(f"{name} must be a GradientTransformation (e.g. dlbook.optim.sgd(0.1)), got {type(opt).__name__}")
    check_callable(f"{name}.init", opt.init)
    check_callable(f"{name}.update", opt.update)
