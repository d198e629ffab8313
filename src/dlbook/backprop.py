"""Backpropagation written out by hand: chapter 2's derivation, line by line, next to the forward pass.

A multilayer perceptron in the notation of the notes (layers ``l = 1..L``, ``W^l`` of shape
``(n_l, n_{l-1})``)::

    z^l = W^l a^{l-1} + b^l,        a^l = f(z^l),        a^0 = x

and, for the loss ``𝓛``, the backward pass::

    δ^L = ∂𝓛/∂a^L ⊙ f'(z^L)                  (output layer)
    δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ f'(z^l)         (every hidden layer, from the top down)
    ∂𝓛/∂W^l = δ^l (a^{l-1})ᵀ,   ∂𝓛/∂b^l = δ^l

For sigmoid units ``f'(z) = a(1 − a)`` and for ``𝓛 = ½‖y − a^L‖²``, ``∂𝓛/∂a^L = a^L − y``: the network of
the notes.  A batch holds one example per *row* (``X`` is ``(B, n_0)``), so the code reads ``Z = A Wᵀ + b``
and ``Δ^l = (Δ^{l+1} W^{l+1}) ⊙ f'(Z^l)``; the gradients are batch means of the per-example outer
products.  Activations and losses are pluggable pairs (the function and its derivative), so later
chapters reuse the same backward pass: :func:`activation` turns any activation of
:mod:`dlbook.activations` into one, :func:`train` runs full-batch training in one ``lax.scan``,
:func:`accuracy` scores a classifier and :func:`dead_units` finds the ReLU units that have stopped
learning (chapter 3).  :func:`loss_value` is the same network for ``jax.grad``: the
tests check that both give the same gradients.

Chapters: ``book/ch02_backprop.ipynb``; ``book/ch03_activations.ipynb`` (other activations, dead units).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from dlbook import activations as act
from dlbook import descent, optim
from dlbook import regularization as reg
from dlbook._checks import as_array, check_int, check_key, is_concrete
from dlbook.linear import _dot  # full float32 precision on every device (no TF32)

__all__ = [
    "Activation", "Loss", "Layer", "Forward", "Backward", "SIGMOID", "TANH", "RELU", "IDENTITY",
    "HALF_SQUARED", "BINARY_CROSS_ENTROPY", "SOFTMAX_CROSS_ENTROPY", "activation", "choose", "init_mlp", "forward",
    "backward", "loss_value", "train", "accuracy", "dead_units",
]


class Activation(NamedTuple):
    """An activation ``f`` and its derivative, written with both ``z`` and ``a = f(z)`` available."""

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array, Array], Array]  # df(z, a) = f'(z)


class Loss(NamedTuple):
    """A per-example loss ``ℓ(a, y)`` (summed over outputs) and its gradient ``∂ℓ/∂a``."""

    name: str
    value: Callable[[Array, Array], Array]  # (B, n) × (B, n) -> (B,)
    grad: Callable[[Array, Array], Array]  # (B, n) × (B, n) -> (B, n)


# The functions come from dlbook.activations; the derivatives are written with a = f(z) where the notes do.
SIGMOID = Activation("sigmoid", act.sigmoid, lambda z, a: a * (1 - a))
TANH = Activation("tanh", act.tanh, lambda z, a: 1 - a**2)
RELU = Activation("relu", act.relu, lambda z, a: act.d_relu(z))  # relu'(0) = 0, as jax.grad
IDENTITY = Activation("identity", act.identity, lambda z, a: act.d_identity(z))

HALF_SQUARED = Loss("½‖y − a‖²", lambda a, y: 0.5 * jnp.sum((y - a) ** 2, axis=-1), lambda a, y: a - y)
# from probabilities a ∈ (0, 1); with a sigmoid output, δ^L = ∂ℓ/∂a ⊙ a(1 − a) = a − y
BINARY_CROSS_ENTROPY = Loss(
    "binary cross-entropy",
    lambda a, y: -jnp.sum(y * jnp.log(a) + (1 - y) * jnp.log1p(-a), axis=-1),
    lambda a, y: (a - y) / (a * (1 - a)),
)
# from scores: use with output=IDENTITY, so a^L holds the scores z^L and the loss applies the softmax itself
# (stable: log_softmax subtracts the maximum).  ∂ℓ/∂z = softmax(z)·Σ_k y_k − y, which is softmax(z) − y for
# one-hot (or any probability-vector) targets.
SOFTMAX_CROSS_ENTROPY = Loss(
    "softmax cross-entropy",
    lambda a, y: -jnp.sum(y * act.log_softmax(a), axis=-1),
    lambda a, y: act.softmax(a) * jnp.sum(y, axis=-1, keepdims=True) - y,
)


def activation(name: str, **params) -> Activation:
    """The activation ``name`` of :mod:`dlbook.activations`, with its parameters, as an :class:`Activation`.

    Args:
      name: one of :data:`dlbook.activations.NAMES`.
      params: the activation's parameters, e.g. ``slope`` for ``"leaky_relu"``, ``alpha`` for ``"elu"``,
        ``beta`` for ``"swish"`` (they may be traced, e.g. a slider value inside ``jit``).

    Example:
      >>> swish2 = activation("swish", beta=2.0)
      >>> float(swish2.df(jnp.array(0.0), None))
      0.5
    """
    pair = act.get(name)
    allowed = [p for p in inspect.signature(pair.f).parameters if p != "x"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no parameters"
        raise TypeError(f"activation {name!r} takes {takes}; got unexpected {', '.join(unknown)}")
    return Activation(name, partial(pair.f, **params), lambda z, a: pair.df(z, **params))


def choose(index: ArrayLike, options: Sequence[Activation]) -> Activation:
    """The activation ``options[index]``, where ``index`` may be traced (``lax.switch``).

    So one compiled function trains networks with different activations: ``vmap`` over ``index`` runs
    them side by side (every option is then evaluated and the chosen one kept), and an explorer's slider
    can pick the activation without recompiling.

    Example:
      >>> pick = choose(jnp.array(1), [SIGMOID, TANH, RELU])
      >>> float(pick.f(jnp.array(-2.0))) == float(jnp.tanh(-2.0))
      True
    """
    options = list(options) if isinstance(options, (list, tuple)) else options
    if not isinstance(options, list) or not options or not all(isinstance(o, Activation) for o in options):
        raise TypeError("options must be a non-empty sequence of dlbook.backprop.Activation (e.g. [SIGMOID, RELU])")
    index = as_array("index", index)
    if index.ndim != 0:
        raise ValueError(f"index must be a scalar, got shape {index.shape} (vmap over it for several)")
    i = jnp.clip(index.astype(jnp.int32), 0, len(options) - 1)
    fs = [o.f for o in options]
    dfs = [o.df for o in options]
    names = "|".join(o.name for o in options)
    return Activation(f"choose({names})", lambda z: jax.lax.switch(i, fs, z),
                      lambda z, a: jax.lax.switch(i, dfs, z, a))


class Layer(NamedTuple):
    """One layer's parameters (or their gradients): ``W`` ``(n_l, n_{l-1})`` and ``b`` ``(n_l,)``."""

    W: Array
    b: Array


class Forward(NamedTuple):
    """What the forward pass keeps for the backward pass: ``zs[l-1] = z^l``, ``activations[l] = a^l``.

    With dropout, ``masks[l-1]`` is hidden layer ``l``'s multiplier (``0`` or ``1/(1 − p)`` per example and
    unit): the next layer sees ``a^l ⊙ m^l``, while ``activations[l]`` keeps ``a^l = f(z^l)`` itself.
    """

    zs: list[Array]
    activations: list[Array]  # activations[0] is the input a^0 = x
    masks: list[Array] | None = None  # one per hidden layer, or None without dropout


class Backward(NamedTuple):
    """Gradients per layer (``grads[l-1] = (∂𝓛/∂W^l, ∂𝓛/∂b^l)``) and the error signals ``deltas[l-1] = δ^l``."""

    grads: list[Layer]
    deltas: list[Array]


def init_mlp(sizes: Sequence[int], *, key: Array) -> list[Layer]:
    """Parameters of an MLP with layer widths ``sizes = (n_0, n_1, …, n_L)``.

    ``W^l ~ N(0, 1/n_{l-1})`` (so ``z^l`` starts with unit-scale variance), ``b^l = 0``.  All randomness
    comes from ``key`` (keyword-only).

    Example:
      >>> params = init_mlp((2, 2, 1), key=jax.random.key(0))
      >>> [p.W.shape for p in params]
      [(2, 2), (1, 2)]
    """
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two layer widths (n_0, …, n_L), got {sizes!r}")
    sizes = [check_int(f"sizes[{i}]", n, minimum=1) for i, n in enumerate(sizes)]
    check_key("key", key)
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append(Layer(jax.random.normal(k, (n_out, n_in)) / jnp.sqrt(n_in), jnp.zeros(n_out)))
    return params


def _check(params, X, Y=None, activation=None, output=None, loss=None):
    if not isinstance(params, (list, tuple)) or not params or not all(isinstance(p, Layer) for p in params):
        raise TypeError("params must be a non-empty list of dlbook.backprop.Layer (see init_mlp)")
    for l, p in enumerate(params, start=1):
        if p.W.ndim != 2 or p.b.shape != (p.W.shape[0],):
            raise ValueError(f"layer {l}: W must be (n_l, n_(l-1)) and b (n_l,), got W {p.W.shape}, b {p.b.shape}")
        if l > 1 and p.W.shape[1] != params[l - 2].W.shape[0]:
            raise ValueError(f"layer {l}: W has {p.W.shape[1]} inputs but layer {l - 1} has {params[l - 2].W.shape[0]} units")
    X = as_array("X", X)
    if X.ndim != 2 or X.shape[1] != params[0].W.shape[1]:
        raise ValueError(f"X must have shape (B, {params[0].W.shape[1]}) (one example per row), got {X.shape}")
    if Y is not None:
        Y = as_array("Y", Y)
        want = (X.shape[0], params[-1].W.shape[0])
        if Y.shape != want:
            raise ValueError(f"Y must have shape {want} (one target row per example), got {Y.shape}")
    for name, value, kind in (("activation", activation, Activation), ("output", output, Activation), ("loss", loss, Loss)):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name} must be a dlbook.backprop.{kind.__name__}, got {type(value).__name__}")
    return X, Y


def forward(params: Sequence[Layer], X: ArrayLike, *, activation: Activation = SIGMOID,
            output: Activation | None = None, dropout: ArrayLike = 0.0, key: Array | None = None) -> Forward:
    """The forward pass ``z^l = W^l a^{l-1} + b^l``, ``a^l = f(z^l)``, keeping every ``z^l`` and ``a^l``.

    ``activation`` is used in the hidden layers and, unless ``output`` is given, in the last layer too.
    With ``dropout = p > 0`` every hidden layer's output is multiplied by an inverted-dropout mask
    ``m^l`` (:func:`dlbook.regularization.dropout`: each unit kept with probability ``1 − p`` and scaled by
    ``1/(1 − p)``) before the next layer uses it; the masks come from ``key`` and are kept in
    :attr:`Forward.masks` so that :func:`backward` routes the error signal through the same units.  ``p``
    may be traced (a sweep under ``vmap``); evaluation is ``dropout=0``.

    Example:
      >>> params = init_mlp((2, 4, 1), key=jax.random.key(0))
      >>> fwd = forward(params, jnp.ones((3, 2)), activation=RELU, dropout=0.5, key=jax.random.key(1))
      >>> sorted(set(fwd.masks[0].ravel().tolist()))         # dropped, or kept and doubled
      [0.0, 2.0]
    """
    X, _ = _check(params, X, activation=activation, output=output)
    reg.check_rate("dropout", dropout)
    masks = None
    if not (is_concrete(dropout) and float(dropout) == 0.0):
        if key is None:
            raise ValueError("key must be given when dropout > 0 (a jax.random key for the dropout masks)")
        check_key("key", key)
        keys = jax.random.split(key, max(len(params) - 1, 1))
        masks = []
    zs, activations = [], [X]
    for l, p in enumerate(params, start=1):
        f = (output or activation) if l == len(params) else activation
        a_in = activations[-1] if masks is None or l == 1 else activations[-1] * masks[-1]
        z = _dot(a_in, p.W.T) + p.b  # row form of W^l a^{l-1} + b^l
        zs.append(z)
        activations.append(f.f(z))
        if masks is not None and l < len(params):
            masks.append(reg.dropout(jnp.ones_like(z), dropout, key=keys[l - 1]))
    return Forward(zs, activations, masks)


def backward(params: Sequence[Layer], fwd: Forward, Y: ArrayLike, *, activation: Activation = SIGMOID,
             output: Activation | None = None, loss: Loss = HALF_SQUARED) -> Backward:
    """The backward pass of the module docstring: ``δ^L``, then ``δ^l`` from the top down, then the gradients.

    The gradients are of the batch mean ``𝓛 = (1/B) Σ_i ℓ(a^L_i, y_i)``.
    """
    _, Y = _check(params, fwd.activations[0], Y, activation, output, loss)
    B = fwd.activations[0].shape[0]
    L = len(params)
    last = output or activation
    aL = fwd.activations[L]
    # what layer l + 1 saw: a^l, or a^l ⊙ m^l with dropout (the input a^0 is never dropped)
    seen = [a if fwd.masks is None or l == 0 else a * fwd.masks[l - 1] for l, a in enumerate(fwd.activations[:-1])]
    delta = loss.grad(aL, Y) * last.df(fwd.zs[L - 1], aL)  # δ^L = ∂𝓛/∂a^L ⊙ f'(z^L)
    deltas = [delta]
    for l in range(L - 1, 0, -1):  # δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ f'(z^l)   (⊙ m^l with dropout)
        back = _dot(delta, params[l].W)
        if fwd.masks is not None:
            back = back * fwd.masks[l - 1]
        delta = back * activation.df(fwd.zs[l - 1], fwd.activations[l])
        deltas.insert(0, delta)
    grads = [
        Layer(_dot(d.T, a_prev) / B, jnp.mean(d, axis=0))  # ∂𝓛/∂W^l = δ^l (a^{l-1})ᵀ, ∂𝓛/∂b^l = δ^l, batch means
        for d, a_prev in zip(deltas, seen)
    ]
    return Backward(grads, deltas)


def loss_value(params: Sequence[Layer], X: ArrayLike, Y: ArrayLike, *, activation: Activation = SIGMOID,
               output: Activation | None = None, loss: Loss = HALF_SQUARED, dropout: ArrayLike = 0.0,
               key: Array | None = None) -> Array:
    """``𝓛 = (1/B) Σ_i ℓ(a^L_i, y_i)``: the same network as a plain function, for ``jax.grad``.

    ``dropout`` and ``key`` are passed to :func:`forward` (the loss of one dropout draw).
    """
    _check(params, X, Y, activation, output, loss)
    aL = forward(params, X, activation=activation, output=output, dropout=dropout, key=key).activations[-1]
    return jnp.mean(loss.value(aL, jnp.asarray(Y)))


def train(params: Sequence[Layer], X: ArrayLike, Y: ArrayLike, *, optimizer: optim.GradientTransformation,
          num_steps: int, activation: Activation = SIGMOID, output: Activation | None = None,
          loss: Loss = HALF_SQUARED, path: bool = False) -> descent.Trajectory:
    """Full-batch training: ``num_steps`` steps of ``optimizer`` on :func:`loss_value`, in one ``lax.scan``.

    The gradients come from ``jax.grad`` of :func:`loss_value`, which equals :func:`backward` (the tests and
    chapter 2 check it).  Traceable, so many runs (learning rates, seeds) train at once under ``vmap``.

    Returns:
      :class:`dlbook.descent.Trajectory`: the final parameters (every iterate with ``path=True``) and the
      ``num_steps + 1`` losses.

    Example:
      >>> X, Y = jnp.array([[0.0], [1.0]]), jnp.array([[0.2], [0.8]])
      >>> run = train(init_mlp((1, 3, 1), key=jax.random.key(0)), X, Y, optimizer=optim.sgd(1.0), num_steps=200)
      >>> round(float(run.losses[0]), 4), round(float(run.losses[-1]), 4)
      (0.0875, 0.01)
    """
    X, Y = _check(params, X, Y, activation, output, loss)
    loss_fn = partial(loss_value, activation=activation, output=output, loss=loss)
    return descent.optimize(loss_fn, list(params), optimizer, num_steps, args=(X, Y), path=path)


def _check_labels(name: str, labels: ArrayLike, n: int, num_classes: int | None = None) -> ArrayLike:
    """Integer class indices ``(n,)``; with ``num_classes``, concrete labels must also lie in ``[0, num_classes)``."""
    labels = as_array(name, labels)
    if labels.shape != (n,) or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{name} must be integer class indices of shape ({n},), got {labels.dtype} {labels.shape}")
    if num_classes is not None and is_concrete(labels) and labels.size:
        lo, hi = int(np.asarray(labels).min()), int(np.asarray(labels).max())  # NumPy: no tracer inside jit
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name} must lie in [0, {num_classes}) (the network has {num_classes} outputs), "
                             f"got {lo}…{hi}")
    return labels


def accuracy(params: Sequence[Layer], X: ArrayLike, labels: ArrayLike, *, activation: Activation = SIGMOID,
             output: Activation | None = None) -> Array:
    """Share of examples whose largest output is at their label: ``mean(argmax(a^L) == label)``.

    ``labels`` are class indices ``(B,)``; for a single output unit the prediction is ``a^L > 1/2`` with
    ``output=SIGMOID``, so use two outputs (one per class) for a binary task scored here.
    """
    X, _ = _check(params, X, activation=activation, output=output)
    labels = _check_labels("labels", labels, X.shape[0])
    scores = forward(params, X, activation=activation, output=output).activations[-1]
    return jnp.mean(jnp.argmax(scores, axis=-1) == labels)


def dead_units(fwd: Forward) -> list[Array]:
    """For each hidden layer, which units have a pre-activation ``z ≤ 0`` on *every* example of the batch.

    For ReLU such a unit outputs 0 and passes back a zero gradient for the whole batch (``relu'(z) = 0``
    for ``z ≤ 0``): its incoming weights stop changing, a "dead" unit.  Leaky ReLU and ELU units in the
    same state still pass back ``slope·δ`` or ``α eᶻ·δ`` and can recover.

    Returns:
      one boolean array ``(n_l,)`` per hidden layer ``l = 1..L−1``.

    Example:
      >>> params = [Layer(jnp.array([[1.0], [-1.0]]), jnp.array([0.0, -0.5])), Layer(jnp.ones((1, 2)), jnp.zeros(1))]
      >>> [d.tolist() for d in dead_units(forward(params, jnp.array([[0.2], [0.4]]), activation=RELU))]
      [[False, True]]
    """
    if not isinstance(fwd, Forward):
        raise TypeError(f"fwd must be the Forward returned by dlbook.backprop.forward, got {type(fwd).__name__}")
    return [jnp.all(z <= 0, axis=0) for z in fwd.zs[:-1]]
