"""The model: a multilayer perceptron's parameters, its one forward pass, its loss and its predictions.

In the notation of the book (layers ``l = 1..L``, ``W^l`` of shape ``(n_l, n_{l-1})``)::

    a^0 = x,        z^l = W^l a^{l-1} + b^l,        a^l = f(z^l)

A batch holds one example per *row* (``X`` is ``(B, n_0)``), so the code reads ``Z = A Wᵀ + b``.  The hidden
layers use ``activation``, the last one ``output`` (default: the same); both are
:class:`dlbook.activations.Activation`.  :func:`forward` keeps every ``z^l`` and ``a^l`` in a :class:`Forward`
record: :func:`loss_value` and :func:`predict` read its last entry, the hand-written backward pass of
:mod:`dlbook.backprop` reads all of it, :func:`dead_units` reads the hidden ``z^l``; so there is one forward
pass, and whatever later chapters add to it (initializers, normalization, residual connections) every user
sees at once.  Losses are :class:`dlbook.losses.Loss` pairs (:data:`dlbook.losses.HALF_SQUARED` by default,
the network of chapter 2).

Chapters: ``book/ch02_backprop.ipynb``; ``book/ch03_activations.ipynb`` (other activations, dead units).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from dlbook import normalization as nm
from dlbook import regularization as reg
from dlbook._checks import as_array, check_finite, check_int, check_key, check_probability, check_scalar, is_concrete
from dlbook._numerics import dot
from dlbook.activations import SIGMOID, Activation
from dlbook.losses import HALF_SQUARED, Loss

__all__ = ["Layer", "Forward", "NORMS", "stack", "init_mlp", "check_network", "check_labels", "num_classes", "forward", "loss_value", "predict", "classify", "accuracy",
           "dead_units"]


class Layer(NamedTuple):
    """One layer's parameters (or their gradients): ``W^l`` ``(n_l, n_{l-1})`` and ``b^l`` ``(n_l,)``.

    The layer computes ``z^l = W^l a^{l-1} + b^l``.  A hidden layer may also carry a normalization's scale and
    shift ``γ^l, β^l`` ``(n_l,)`` (:func:`dlbook.normalization.add_norm`); they are ``None`` otherwise.

    Chapter: ``book/ch02_backprop.ipynb``; ``γ, β`` ``book/ch10_normalization_residual.ipynb``.
    """

    W: Array
    b: Array
    gamma: Array | None = None
    beta: Array | None = None


class Forward(NamedTuple):
    """What the forward pass keeps: ``zs[l-1] = z^l`` ``(B, n_l)`` and ``activations[l] = a^l = f(z^l)``.

    ``activations[0]`` is the input ``a^0 = x`` ``(B, n_0)``.  With normalization, ``stats[k]`` holds the batch
    statistics (:class:`dlbook.normalization.Stats`) of the ``k``-th normalized ``z^l``.  With dropout, ``masks[l-1]`` is hidden layer
    ``l``'s multiplier (``0`` or ``1/(1 − p)`` per example and unit): the next layer sees ``a^l ⊙ m^l``, while
    ``activations[l]`` keeps ``a^l = f(z^l)`` itself.

    Chapter: ``book/ch02_backprop.ipynb``; dropout masks ``book/ch05_regularization.ipynb``.
    """

    zs: list[Array]
    activations: list[Array]
    masks: list[Array] | None = None  # one per hidden layer, or None without dropout
    stats: list[nm.Stats] | None = None  # with norm: the batch's statistics of each normalized z^l
    norm: Any = None  # the normalization code (0 none, 1 batch, 2 layer) when norm was given
    residual: Any = None  # the weight of the identity shortcut when residual was given


def init_mlp(sizes: Sequence[int], *, key: Array, init: Callable[..., Array] | None = None) -> list[Layer]:
    """Parameters of an MLP with layer widths ``sizes = (n_0, n_1, …, n_L)``: ``W^l ~ N(0, 1/n_{l-1})``, ``b^l = 0``.

    The variance ``1/n_{l-1}`` gives every ``z^l`` a unit-scale variance at the start (LeCun et al. 1998, 2012).
    ``init`` draws ``W^l = init(key_l, (n_l, n_{l-1}))`` instead: any :mod:`dlbook.initializers` function or a
    ``jax.nn.initializers`` one (mind its ``in_axis=-1, out_axis=-2`` for dlbook's ``(n_out, n_in)``).

    Args:
      sizes: the widths ``(n_0, …, n_L)``, at least two, each ``≥ 1``.
      key: a ``jax.random`` key (keyword-only), the only source of randomness.
      init: ``init(key, shape) -> W`` (``jax.nn.initializers`` convention), or ``None`` for ``N(0, 1/n_{l-1})``.

    Returns:
      a list of ``L`` :class:`Layer`, ``W^l`` ``(n_l, n_{l-1})`` and ``b^l`` ``(n_l,)``.

    Example:
      >>> params = init_mlp((2, 3, 1), key=jax.random.key(0))
      >>> [p.W.shape for p in params], [p.b.tolist() for p in params]
      ([(3, 2), (1, 3)], [[0.0, 0.0, 0.0], [0.0]])

    Reference: ``lecun2012efficient``.  Chapter: ``book/ch02_backprop.ipynb``; ``init`` ``book/ch09_initialization.ipynb``.
    """
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two layer widths (n_0, …, n_L), got {sizes!r}")
    sizes = [check_int(f"sizes[{i}]", n, minimum=1) for i, n in enumerate(sizes)]
    check_key("key", key)
    if init is not None and not callable(init):
        raise TypeError(f"init must be None or an initializer init(key, shape), got {type(init).__name__}")
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        W = jax.random.normal(k, (n_out, n_in)) / jnp.sqrt(n_in) if init is None else jnp.asarray(init(k, (n_out, n_in)))
        if W.shape != (n_out, n_in):
            raise ValueError(f"init must return an array of shape {(n_out, n_in)} (n_l, n_(l-1)), got {W.shape}")
        params.append(Layer(W, jnp.zeros(n_out)))
    return params


def check_network(params, X, Y=None, activation=None, output=None, loss=None) -> tuple:
    """Check a network and its data before any tracing; returns ``(X, Y)`` as arrays.

    ``params`` a non-empty list of :class:`Layer` whose shapes chain, ``X`` ``(B, n_0)``, ``Y`` ``(B, n_L)``,
    ``activation``/``output`` :class:`dlbook.activations.Activation`, ``loss`` a :class:`dlbook.losses.Loss`;
    every mismatch is named.  Every function of this module, :mod:`dlbook.backprop` and :mod:`dlbook.training`
    that takes a network calls it.

    Example:
      >>> check_network(init_mlp((2, 1), key=jax.random.key(0)), jnp.ones((5, 3)))
      Traceback (most recent call last):
      ...
      ValueError: X must have shape (B, 2) (one example per row), got (5, 3)

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    if not isinstance(params, (list, tuple)) or not params or not all(isinstance(p, Layer) for p in params):
        raise TypeError("params must be a non-empty list of dlbook.model.Layer (see init_mlp)")
    for l, p in enumerate(params, start=1):
        stacked = p.W.ndim == 3 and p.W.shape[1] == p.W.shape[2] and 1 < l < len(params)  # k layers n → n (stack)
        if not (p.W.ndim == 2 or stacked) or p.b.shape != p.W.shape[:-1]:
            raise ValueError(f"layer {l}: W must be (n_l, n_(l-1)) and b (n_l,) (or a hidden stack of k square "
                             f"layers, W (k, n, n) and b (k, n)), got W {p.W.shape}, b {p.b.shape}")
        if l > 1 and p.W.shape[-1] != params[l - 2].W.shape[-2]:
            raise ValueError(f"layer {l}: W has {p.W.shape[-1]} inputs but layer {l - 1} has {params[l - 2].W.shape[-2]} units")
        if (p.gamma is None) != (p.beta is None) or (p.gamma is not None and (
                l == len(params) or jnp.shape(p.gamma) != p.b.shape or jnp.shape(p.beta) != p.b.shape)):
            raise ValueError(f"layer {l}: gamma and beta must both be None or both ({p.b.shape[0]},) on a hidden "
                             f"layer (see dlbook.normalization.add_norm)")
    X = as_array("X", X)
    if X.ndim != 2 or X.shape[1] != params[0].W.shape[-1]:
        raise ValueError(f"X must have shape (B, {params[0].W.shape[1]}) (one example per row), got {X.shape}")
    if Y is not None:
        Y = as_array("Y", Y)
        want = (X.shape[0], params[-1].W.shape[-2])
        if Y.shape != want:
            raise ValueError(f"Y must have shape {want} (one target row per example), got {Y.shape}")
    for name, value, kind, where in (("activation", activation, Activation, "activations"),
                                     ("output", output, Activation, "activations"), ("loss", loss, Loss, "losses")):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name} must be a dlbook.{where}.{kind.__name__}, got {type(value).__name__}")
    return X, Y


NORMS = nm.NORMS
"""The normalizations :func:`forward` knows, by code (:data:`dlbook.normalization.NORMS`)."""


def forward(params: Sequence[Layer], X: ArrayLike, *, activation: Activation = SIGMOID,
            output: Activation | None = None, dropout: ArrayLike = 0.0, key: Array | None = None,
            norm: Any = None, residual: ArrayLike = 0.0, stats: Sequence[nm.Stats] | None = None) -> Forward:
    """The forward pass ``z^l = W^l a^{l-1} + b^l``, ``a^l = f(z^l)``, keeping every ``z^l`` and ``a^l``.

    With ``dropout = p > 0`` every hidden layer's output is multiplied by an inverted-dropout mask ``m^l``
    (:func:`dlbook.regularization.dropout`: each unit kept with probability ``1 − p`` and scaled by
    ``1/(1 − p)``) before the next layer uses it; the masks come from ``key`` and are kept in
    :attr:`Forward.masks`, so the backward pass routes the error signal through the same units.  ``p`` may be
    traced (a sweep under ``vmap``); evaluation is ``dropout=0``.

    With ``norm`` (``"batch"``, ``"layer"`` or a code of :data:`NORMS`, which may be traced) every layer that
    carries ``γ^l, β^l`` (:func:`dlbook.normalization.add_norm`) computes ``a^l = f(γ^l ⊙ ẑ^l + β^l)`` with
    ``ẑ^l`` its ``z^l`` normalized over the batch or over the units (:mod:`dlbook.normalization`); batch
    normalization uses ``stats`` (one :class:`dlbook.normalization.Stats` per normalized layer: evaluation
    mode) when they are given, the batch's own statistics otherwise (training mode).  With ``residual = r``
    (``0`` or ``1``, may be traced) every hidden layer after the first whose width equals its input's adds the
    identity shortcut: ``a^l = f(·) + r a^{l-1}``, so ``∂a^l/∂a^{l-1} = r I + ∂f(·)/∂a^{l-1}``.

    Args:
      params: the layers (:func:`init_mlp`); X: ``(B, n_0)``, one example per row.
      activation: the hidden layers' :class:`dlbook.activations.Activation`; output: the last layer's
        (default ``activation``).
      dropout: the dropout rate ``p`` in ``[0, 1)``; key: its ``jax.random`` key (needed when ``p > 0``).
      norm: ``None``, ``"none"``, ``"batch"``, ``"layer"`` or their code 0, 1, 2; residual: the shortcut's
        weight ``r``; stats: fixed statistics for batch normalization (evaluation mode), or ``None``.

    Example:
      >>> from dlbook.activations import IDENTITY
      >>> params = [Layer(jnp.array([[1.0, -1.0]]), jnp.array([0.5]))]
      >>> fwd = forward(params, jnp.array([[2.0, 1.0]]), activation=IDENTITY)
      >>> fwd.zs[0].tolist()                                  # 1·2 − 1·1 + 0.5
      [[1.5]]

    Chapter: ``book/ch02_backprop.ipynb``; dropout ``book/ch05_regularization.ipynb``; normalization and
    residual connections ``book/ch10_normalization_residual.ipynb``.
    """
    X, _ = check_network(params, X, activation=activation, output=output)
    check_probability("dropout", dropout, "a dropout rate")
    code = nm.norm_code(norm)
    normed = [l for l, p in enumerate(params) if p.gamma is not None]
    if code is not None and not normed:
        raise ValueError("norm needs layers that carry gamma and beta (see dlbook.normalization.add_norm)")
    if stats is not None and (not isinstance(stats, (list, tuple)) or len(stats) != len(normed)):
        raise ValueError(f"stats must be a list of {len(normed)} dlbook.normalization.Stats (one per normalized "
                         f"layer, e.g. forward(...).stats), got {stats!r:.80}")
    check_finite("residual", residual)
    check_scalar("residual", residual, "() (a scalar; vmap over the caller for several)")
    shortcut = not (is_concrete(residual) and float(residual) == 0.0)
    masks = None
    if not (is_concrete(dropout) and float(dropout) == 0.0):
        if key is None:
            raise ValueError("key must be given when dropout > 0 (a jax.random key for the dropout masks)")
        check_key("key", key)
        keys = jax.random.split(key, max(len(params) - 1, 1))
        masks = []
    if masks is not None and any(p.W.ndim == 3 for p in params):
        raise ValueError("dropout is not supported with stacked layers (see stack); unstack them or use dropout=0")

    def layer(p, a_in, fixed, f, skip):
        z = dot(a_in, p.W.T) + p.b  # row form of W^l a^{l-1} + b^l
        u, s = z, None
        if code is not None and p.gamma is not None:  # γ ⊙ ẑ + β, ẑ over the batch or over the units
            s = nm.batch_stats(z)
            u = nm.normalize(code, z, p.gamma, p.beta, stats=fixed)
        a = f.f(u)
        if skip and a.shape == a_in.shape:
            a = a + residual * a_in  # identity shortcut: a^l = f(·) + r a^{l-1}
        return z, s, a

    zs, activations, batch, a_prev = [], [X], [] if code is not None else None, X
    for l, p in enumerate(params, start=1):
        f = (output or activation) if l == len(params) else activation
        a_in = a_prev if masks is None or l == 1 else a_prev * masks[-1]
        fixed = None if stats is None or p.gamma is None else stats[len(batch)]
        skip = shortcut and 1 < l < len(params)
        if p.W.ndim == 3:  # a stack of k square layers: one lax.scan, so compiling does not grow with k
            def body(a, q, f=f, skip=skip):
                z, s, a = layer(q[0], a, q[1], f, skip)
                return a, (z, s, a)
            a_prev, (z, s, a) = jax.lax.scan(body, a_in, (p, fixed))
        else:
            z, s, a = layer(p, a_in, fixed, f, skip)
            a_prev = a
        zs.append(z)
        if s is not None:
            batch.append(s)
        activations.append(a)
        if masks is not None and l < len(params):
            masks.append(reg.dropout(jnp.ones_like(z), dropout, key=keys[l - 1]))
    return Forward(zs, activations, masks, batch, code, residual if shortcut else None)


def stack(params: Sequence[Layer]) -> list[Layer]:
    """The same network with each run of identical square hidden layers (``n → n``) merged into one stacked layer.

    A stack holds ``k`` layers as ``W`` ``(k, n, n)``, ``b`` ``(k, n)`` (and ``γ, β`` ``(k, n)``); :func:`forward`
    applies it with one ``lax.scan``, so a 50-layer network compiles as fast as a 3-layer one.  The first and
    the last layer are never stacked.  The computation is the same; in :class:`Forward` a stack's ``zs``,
    ``activations`` and ``stats`` entries carry a leading axis ``k``.

    Example:
      >>> net = stack(init_mlp((3, 4, 4, 4, 4, 2), key=jax.random.key(0)))
      >>> [p.W.shape for p in net]
      [(4, 3), (3, 4, 4), (2, 4)]

    Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    if not isinstance(params, (list, tuple)) or not params or not all(isinstance(p, Layer) for p in params):
        raise TypeError("params must be a non-empty list of dlbook.model.Layer (see init_mlp)")
    check_network(params, jnp.zeros((1, params[0].W.shape[-1])))
    out, run = [params[0]], []

    def flush():
        if run:
            out.append(run[0] if len(run) == 1 else jax.tree_util.tree_map(lambda *a: jnp.stack(a), *run))
            run.clear()

    for p in params[1:-1]:
        square = p.W.ndim == 2 and p.W.shape[0] == p.W.shape[1]
        if run and not (square and p.W.shape == run[0].W.shape and (p.gamma is None) == (run[0].gamma is None)):
            flush()
        if square:
            run.append(p)
        else:
            out.append(p)
    flush()
    return out + [params[-1]] if len(params) > 1 else out


def loss_value(params: Sequence[Layer], X: ArrayLike, Y: ArrayLike, *, activation: Activation = SIGMOID,
               output: Activation | None = None, loss: Loss = HALF_SQUARED, dropout: ArrayLike = 0.0,
               key: Array | None = None, norm: Any = None, residual: ArrayLike = 0.0,
               stats: Sequence[nm.Stats] | None = None) -> Array:
    """The network's mean loss on a batch, ``𝓛 = (1/B) Σ_i ℓ(a^L_i, y_i)``: a plain function for ``jax.grad``.

    Args:
      params: the layers (:func:`init_mlp`); X: ``(B, n_0)``, one example per row.
      Y: the targets ``(B, n_L)`` (one-hot rows for a classifier).
      activation, output: the hidden and last layers' activations (as :func:`forward`).
      loss: a :class:`dlbook.losses.Loss` (default ``½‖y − a‖²``).
      dropout, key: passed to :func:`forward` (the loss of one dropout draw).
      norm, residual, stats: passed to :func:`forward` (normalization, shortcuts, BN's evaluation statistics).

    Example:
      >>> params = [Layer(jnp.zeros((1, 2)), jnp.zeros(1))]                    # σ(0) = 0.5 for every input
      >>> float(loss_value(params, jnp.ones((3, 2)), jnp.ones((3, 1))))       # ½ (1 − 0.5)²
      0.125

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    check_network(params, X, Y, activation, output, loss)
    aL = forward(params, X, activation=activation, output=output, dropout=dropout, key=key, norm=norm,
                 residual=residual, stats=stats).activations[-1]
    return jnp.mean(loss.value(aL, jnp.asarray(Y)))


def predict(params: Sequence[Layer], X: ArrayLike, *, activation: Activation = SIGMOID,
            output: Activation | None = None, norm: Any = None, residual: ArrayLike = 0.0,
            stats: Sequence[nm.Stats] | None = None) -> Array:
    """The predicted class of each row of ``X``: ``argmax_k z^L_k``, or with one output ``1`` where ``z^L > 0``.

    With one output unit, ``z^L > 0`` is ``σ(z^L) > 1/2`` for a sigmoid output.  Decided on the scores ``z^L``,
    which every increasing output activation keeps in order, so the answer does not depend on ``output``.

    Args:
      params: the layers; X: ``(B, n_0)``, one example per row; activation, output, norm, residual, stats: as
        :func:`forward`.

    Returns:
      integer classes ``(B,)``.

    Example:
      >>> two = [Layer(jnp.array([[1.0], [-1.0]]), jnp.zeros(2))]              # scores (x, −x)
      >>> predict(two, jnp.array([[2.0], [-3.0]])).tolist()
      [0, 1]
      >>> one = [Layer(jnp.array([[1.0]]), jnp.zeros(1))]                       # one score x
      >>> predict(one, jnp.array([[2.0], [-3.0]])).tolist()
      [1, 0]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    X, _ = check_network(params, X, activation=activation, output=output)
    return classify(forward(params, X, activation=activation, output=output, norm=norm, residual=residual,
                            stats=stats).zs[-1])


def classify(scores: ArrayLike) -> Array:
    """The class each row of scores ``z^L`` ``(B, n_L)`` stands for: ``argmax_k z^L_k``, or with one score ``1``
    where ``z^L > 0`` — the rule of :func:`predict`, for callers that already have the scores.

    Example:
      >>> classify(jnp.array([[0.2, 1.5, -1.0], [3.0, 0.0, 0.0]])).tolist(), classify(jnp.array([[0.5], [-2.0]])).tolist()
      ([1, 0], [1, 0])

    Chapter: ``book/ch03_activations.ipynb``.
    """
    scores = as_array("scores", scores)
    if np.ndim(scores) != 2:
        raise ValueError(f"scores must have shape (B, n_L) (one row per example), got shape {np.shape(scores)}")
    if scores.shape[-1] == 1:
        return (scores[:, 0] > 0).astype(jnp.int32)
    return jnp.argmax(scores, axis=-1)


def check_labels(name: str, labels: ArrayLike, n: int, num_classes: int) -> ArrayLike:
    """Check integer class indices ``(n,)``; concrete labels must lie in ``[0, num_classes)``.  Returns the labels.

    Args:
      name: the argument's name, for the error message.
      labels: integer class indices, shape ``(n,)``.
      n: the number of examples (rows of ``X``).
      num_classes: the classes the network tells apart (:func:`num_classes`).

    Example:
      >>> check_labels("labels", jnp.array([0, 1]), 2, 2).tolist()
      [0, 1]
      >>> check_labels("labels", jnp.array([0, 2]), 2, 2)
      Traceback (most recent call last):
      ...
      ValueError: labels must lie in [0, 2) (the network predicts 2 classes), got 0…2

    Chapter: ``book/ch03_activations.ipynb`` (the labels of :func:`accuracy`).
    """
    labels = as_array(name, labels)
    if labels.shape != (n,) or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{name} must be integer class indices of shape ({n},), got {labels.dtype} {labels.shape}")
    if is_concrete(labels) and labels.size:
        lo, hi = int(np.asarray(labels).min()), int(np.asarray(labels).max())  # NumPy: no tracer inside jit
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name} must lie in [0, {num_classes}) (the network predicts {num_classes} classes), "
                             f"got {lo}…{hi}")
    return labels


def num_classes(params: Sequence[Layer]) -> int:
    """Classes the network tells apart: its number of outputs ``n_L``, or 2 for a single output unit.

    Args:
      params: the layers; the last one's ``W^L`` is ``(n_L, n_{L-1})``.

    Example:
      >>> num_classes([Layer(jnp.zeros((3, 4)), jnp.zeros(3))]), num_classes([Layer(jnp.zeros((1, 4)), jnp.zeros(1))])
      (3, 2)

    Chapter: ``book/ch03_activations.ipynb``.
    """
    return max(params[-1].W.shape[0], 2)


def accuracy(params: Sequence[Layer], X: ArrayLike, labels: ArrayLike, *, activation: Activation = SIGMOID,
             output: Activation | None = None, norm: Any = None, residual: ArrayLike = 0.0,
             stats: Sequence[nm.Stats] | None = None) -> Array:
    """Share of examples whose :func:`predict`-ed class is their label: ``(1/B) Σ_i [ŷ_i = label_i]``.

    Args:
      params: the layers; X: ``(B, n_0)``, one example per row; activation, output, norm, residual, stats: as
        :func:`forward`.
      labels: integer class indices ``(B,)`` in ``[0, classes)``, where a single output unit has the two
        classes 0 and 1.

    Example:
      >>> one = [Layer(jnp.array([[1.0]]), jnp.zeros(1))]
      >>> acc = accuracy(one, jnp.array([[2.0], [-3.0], [1.0]]), jnp.array([1, 0, 0]))   # predicts 1, 0, 1
      >>> round(float(acc), 6) == round(2 / 3, 6)                                        # 2 of 3 right
      True

    Chapter: ``book/ch03_activations.ipynb``.
    """
    X, _ = check_network(params, X, activation=activation, output=output)
    labels = check_labels("labels", labels, X.shape[0], num_classes(params))
    return jnp.mean(predict(params, X, activation=activation, output=output, norm=norm, residual=residual,
                            stats=stats) == labels)


def dead_units(fwd: Forward) -> list[Array]:
    """For each hidden layer, which units have a pre-activation ``z ≤ 0`` on *every* example of the batch.

    For ReLU such a unit outputs 0 and passes back a zero gradient for the whole batch (``relu'(z) = 0``
    for ``z ≤ 0``): its incoming weights stop changing, a "dead" unit.  Leaky ReLU and ELU units in the
    same state still pass back ``slope·δ`` or ``α eᶻ·δ`` and can recover.

    Returns:
      one boolean array ``(n_l,)`` per hidden layer ``l = 1..L−1``.

    Example:
      >>> from dlbook.activations import RELU
      >>> params = [Layer(jnp.array([[1.0], [-1.0]]), jnp.array([0.0, -0.5])), Layer(jnp.ones((1, 2)), jnp.zeros(1))]
      >>> [d.tolist() for d in dead_units(forward(params, jnp.array([[0.2], [0.4]]), activation=RELU))]
      [[False, True]]

    Reference: ``lu2019dying``.  Chapter: ``book/ch03_activations.ipynb``.
    """
    if not isinstance(fwd, Forward):
        raise TypeError(f"fwd must be the Forward returned by dlbook.model.forward, got {type(fwd).__name__}")
    return [jnp.all(z <= 0, axis=0) for z in fwd.zs[:-1]]
