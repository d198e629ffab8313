"""Optimizers as pairs of pure functions, in the style of optax.

An optimizer is a :class:`GradientTransformation`: ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; the new parameters are
``apply_updates(params, updates)``.  Named optimizers are chains of small pieces: plain gradient descent
is ``chain(scale(-α))``, i.e. ``w ← w − α ∇𝓛(w)``.  Later chapters add momentum, Nesterov and adaptive
methods as further ``scale_by_*`` pieces.

Hyperparameters are checked when an optimizer is *built* (not inside ``update``); a traced value (e.g. a
learning rate swept with ``vmap``) is accepted unchecked, the sweep's caller checks the concrete array.

Chapter: ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp  # noqa: F401 - used in the docstring examples
from jax.typing import ArrayLike

from dlbook._checks import check_callable, check_finite, check_positive

__all__ = ["GradientTransformation", "EmptyState", "scale", "chain", "sgd", "apply_updates"]

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
    check_positive("learning_rate", learning_rate)
    return chain(scale(-learning_rate))


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """``params + updates``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda p, u: p + u, params, updates)


def _check_optimizer(name: str, opt: Any) -> None:
    if not isinstance(opt, GradientTransformation):
        raise TypeError(f"{name} must be a GradientTransformation (e.g. dlbook.optim.sgd(0.1)), got {type(opt).__name__}")
    check_callable(f"{name}.init", opt.init)
    check_callable(f"{name}.update", opt.update)
