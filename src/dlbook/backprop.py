"""Backpropagation written out by hand: chapter 2's derivation, one rule per line.

The forward pass (:func:`dlbook.model.forward`) and, beside each of its rules, the rule the backward pass
applies, from the loss down (``⊙`` is the elementwise product)::

    forward                              backward
    ℓ = ℓ(a^L, y)                        ∂ℓ/∂a^L                        (loss.grad)
    a^l = f(z^l)                         δ^l = ∂ℓ/∂a^l ⊙ f'(z^l)          (activation.df)
    z^l = W^l a^{l-1} + b^l              ∂ℓ/∂W^l = δ^l (a^{l-1})ᵀ,  ∂ℓ/∂b^l = δ^l,  ∂ℓ/∂a^{l-1} = (W^l)ᵀ δ^l

so ``δ^L = ∂ℓ/∂a^L ⊙ f'(z^L)`` and ``δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ f'(z^l)`` for every hidden layer, from the top
down.  For sigmoid units ``f'(z) = a(1 − a)`` and for ``ℓ = ½‖y − a^L‖²``, ``∂ℓ/∂a^L = a^L − y``: the network
of the notes.  With one example per *row* the code reads ``Δ^l = (Δ^{l+1} W^{l+1}) ⊙ f'(Z^l)``, and the
gradients are batch means of the per-example outer products.  With dropout, ``a^l ⊙ m^l`` is what layer
``l + 1`` saw, so the error signal passes back through the same mask.

The tests and chapter 2 check :func:`backward` against ``jax.grad`` of :func:`dlbook.model.loss_value`.

Reference: ``rumelhart1986learning``.  Chapter: ``book/ch02_backprop.ipynb``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from dlbook._numerics import dot
from dlbook.activations import SIGMOID, Activation
from dlbook.losses import HALF_SQUARED, Loss
from dlbook.model import Forward, Layer, check_network

__all__ = ["Backward", "backward"]


class Backward(NamedTuple):
    """What the backward pass returns: the gradients per layer and the error signals ``δ^l``.

    ``grads[l-1] = (∂𝓛/∂W^l, ∂𝓛/∂b^l)`` as a :class:`dlbook.model.Layer` (the shapes of ``W^l`` and ``b^l``),
    and ``deltas[l-1] = δ^l = ∂ℓ/∂z^l`` ``(B, n_l)``, one row per example.

    Chapter: ``book/ch02_backprop.ipynb``.
    """

    grads: list[Layer]
    deltas: list[Array]


def backward(params: Sequence[Layer], fwd: Forward, Y: ArrayLike, *, activation: Activation = SIGMOID,
             output: Activation | None = None, loss: Loss = HALF_SQUARED) -> Backward:
    """The backward pass: ``δ^L = ∂ℓ/∂a^L ⊙ f'(z^L)``, then ``δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ f'(z^l)`` from the top down.

    The gradients are those of the batch mean ``𝓛 = (1/B) Σ_i ℓ(a^L_i, y_i)``: ``∂𝓛/∂W^l`` and ``∂𝓛/∂b^l`` are
    the batch means of ``δ^l (a^{l-1})ᵀ`` and ``δ^l`` (see the module docstring for every rule).

    Args:
      params: the layers; fwd: the :class:`dlbook.model.Forward` record of ``forward(params, X, …)`` with the same
        ``activation``/``output``; Y: the targets ``(B, n_L)``.
      activation, output: the hidden and last layers' :class:`dlbook.activations.Activation` (``output``
        defaults to ``activation``); loss: a :class:`dlbook.losses.Loss` (default ``½‖y − a‖²``).

    Example:
      >>> from dlbook.activations import IDENTITY
      >>> from dlbook.model import forward
      >>> params = [Layer(jnp.array([[2.0]]), jnp.array([0.0]))]               # a^1 = z^1 = 2x
      >>> fwd = forward(params, jnp.array([[1.0]]), activation=IDENTITY)
      >>> bwd = backward(params, fwd, jnp.array([[0.5]]), activation=IDENTITY)
      >>> bwd.deltas[0].tolist(), bwd.grads[0].W.tolist()    # δ = a − y = 2 − 0.5 = 1.5, ∂𝓛/∂W = δ·x = 1.5
      ([[1.5]], [[1.5]])

    Reference: ``rumelhart1986learning``.  Chapter: ``book/ch02_backprop.ipynb``.
    """
    if not isinstance(fwd, Forward):
        raise TypeError(f"fwd must be the Forward returned by dlbook.model.forward, got {type(fwd).__name__}")
    if fwd.norm is not None or fwd.residual is not None:
        raise ValueError("backward handles the plain MLP only: fwd was computed with norm or residual; use jax.grad "
                         "of dlbook.model.loss_value (batch normalization's own backward: dlbook.normalization)")
    _, Y = check_network(params, fwd.activations[0], Y, activation, output, loss)
    B, L = fwd.activations[0].shape[0], len(params)
    last, aL = output or activation, fwd.activations[L]
    # what layer l + 1 saw: a^l, or a^l ⊙ m^l with dropout (the input a^0 is never dropped)
    seen = [a if fwd.masks is None or l == 0 else a * fwd.masks[l - 1] for l, a in enumerate(fwd.activations[:-1])]
    delta = loss.grad(aL, Y) * last.df(fwd.zs[L - 1])  # δ^L = ∂ℓ/∂a^L ⊙ f'(z^L)
    deltas = [delta]
    for l in range(L - 1, 0, -1):  # δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ f'(z^l)   (⊙ m^l with dropout)
        back = dot(delta, params[l].W)
        if fwd.masks is not None:
            back = back * fwd.masks[l - 1]
        delta = back * activation.df(fwd.zs[l - 1])
        deltas.insert(0, delta)
    # ∂𝓛/∂W^l = δ^l (a^{l-1})ᵀ and ∂𝓛/∂b^l = δ^l, as batch means
    grads = [Layer(dot(d.T, a_prev) / B, jnp.mean(d, axis=0)) for d, a_prev in zip(deltas, seen)]
    return Backward(grads, deltas)
