"""Signal propagation through depth: per-layer diagnostics of any MLP of :mod:`dlbook.model`.

Backpropagation multiplies per-layer factors.  With ``g^l = ∂ℓ/∂a^l`` the backward signal at layer ``l``'s
output and ``J^l = ∂a^l/∂a^{l-1} = diag(f'(z^l)) W^l`` the layer's Jacobian::

    g^{l-1} = (J^l)ᵀ g^l,        δ^l = ∂ℓ/∂z^l = f'(z^l) ⊙ g^l,        ∂ℓ/∂W^l = δ^l (a^{l-1})ᵀ

so ``‖g^0‖ / ‖g^{L-1}‖`` is a product of ``L − 1`` factors, each about the root-mean-square singular value
of ``J^l`` for a signal in a random direction: below 1 it vanishes, above 1 it explodes.  This module measures
each piece on a network: :func:`layer_gradients` (``‖∂𝓛/∂W^l‖``, ``‖δ^l‖``, ``‖g^{l-1}‖``),
:func:`jacobians` and :func:`jacobians_closed_form` (``J^l`` for one example, by ``jax.jacfwd`` and by the formula)
with :func:`singular_values`, :func:`activation_stats` (mean, variance, share saturated of each ``a^l``) and
:func:`weight_change` (``‖W^l_t − W^l_0‖ / ‖W^l_0‖``).  :func:`deep_profile` measures the same quantities on a
deep stack of equal hidden layers in one ``lax.scan`` (one compiled layer body, whatever the depth).  Everything runs through the public
:func:`dlbook.model.forward` / :func:`dlbook.model.loss_value`, so the same diagnostics apply to whatever
options those take.

Chapter: ``book/ch09_initialization.ipynb``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from dlbook import model as mlp
from dlbook._checks import as_array, check_non_negative
from dlbook.activations import SIGMOID, Activation
from dlbook.losses import HALF_SQUARED, Loss
from dlbook.model import Layer

__all__ = ["Signals", "LayerStats", "Profile", "layer_gradients", "jacobians", "jacobians_closed_form", "singular_values",
           "activation_stats", "weight_change", "deep_profile"]


class Signals(NamedTuple):
    """Per-layer sizes of the backward pass, one entry per layer ``l = 1..L``.

    ``weights[l-1] = ‖∂𝓛/∂W^l‖_F`` (the batch-mean loss); ``deltas[l-1]`` the root mean square over the
    examples of ``‖δ^l_i‖ = ‖∂ℓ_i/∂z^l‖``; ``inputs[l-1]`` that of ``‖g^{l-1}_i‖ = ‖(W^l)ᵀ δ^l_i‖`` (the signal
    that leaves layer ``l`` toward the input; ``inputs[0]`` is ``‖∂ℓ/∂x‖``).

    Chapter: ``book/ch09_initialization.ipynb``.
    """

    weights: Array
    deltas: Array
    inputs: Array


class LayerStats(NamedTuple):
    """Statistics of each layer's output ``a^l`` (``l = 1..L``) over the batch and the units.

    ``mean``, ``var``: mean and variance of the entries of ``a^l``; ``saturated``: the share of entries with
    ``|f'(z^l)| < tol`` (in a flat tail of a sigmoid or tanh; for ReLU the units at ``z ≤ 0``).

    Chapter: ``book/ch09_initialization.ipynb``.
    """

    mean: Array
    var: Array
    saturated: Array


def _rms_norm(v: Array) -> Array:
    """Root mean square over the rows of the rows' Euclidean norms: ``√(mean_i ‖v_i‖²)``, safe at any scale.

    ``v`` is divided by ``m = max|v|`` before squaring and the result multiplied back by ``m``: squaring a
    float32 below ``~1e-19`` (or above ``~1e19``) would under- (over-)flow although the norm itself is
    representable, so the plain formula reports 0 (or ∞) for signals that are merely small (or large).
    """
    m = jnp.max(jnp.abs(v))
    s = jnp.where((m > 0) & jnp.isfinite(m), m, jnp.ones_like(m))
    return s * jnp.sqrt(jnp.mean(jnp.sum((v / s) ** 2, axis=-1)))


def layer_gradients(params: Sequence[Layer], X: ArrayLike, Y: ArrayLike, *, activation: Activation = SIGMOID,
                    output: Activation | None = None, loss: Loss = HALF_SQUARED, **options: Any) -> Signals:
    """Per-layer gradient sizes of a network on a batch: ``‖∂𝓛/∂W^l‖``, RMS ``‖δ^l_i‖`` and RMS ``‖g^{l-1}_i‖``.

    ``∂𝓛/∂W^l`` is ``jax.grad`` of :func:`dlbook.model.loss_value`.  ``δ^l_i = ∂ℓ_i/∂z^l`` is the gradient of
    example ``i``'s own loss with respect to ``b^l`` (``z^l = W^l a^{l-1} + b^l``, so ``∂z^l/∂b^l = I``), one
    example at a time under ``vmap``; ``g^{l-1}_i = (W^l)ᵀ δ^l_i`` is the signal passed on to ``a^{l-1}`` (the
    gradient with respect to ``a^{l-1}`` when nothing else reads ``a^{l-1}``, i.e. without residual shortcuts).

    Args:
      params: the layers (:func:`dlbook.model.init_mlp`); X: ``(B, n_0)``; Y: ``(B, n_L)``.
      activation, output, loss: as :func:`dlbook.model.loss_value`; options: its other keywords.

    Returns:
      :class:`Signals`, each field ``(L,)``.

    Example:
      >>> from dlbook.activations import IDENTITY
      >>> params = [Layer(jnp.array([[2.0]]), jnp.zeros(1)), Layer(jnp.array([[3.0]]), jnp.zeros(1))]
      >>> s = layer_gradients(params, jnp.ones((1, 1)), jnp.zeros((1, 1)), activation=IDENTITY)
      >>> s.deltas.tolist(), s.inputs.tolist()      # δ² = a − y = 6, δ¹ = 3·6, g⁰ = 2·18
      ([18.0, 6.0], [36.0, 18.0])

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    X, Y = mlp.check_network(params, X, Y, activation, output, loss)
    params = list(params)
    kw = dict(activation=activation, output=output, loss=loss, **options)
    W_grads = jax.grad(lambda ps: mlp.loss_value(ps, X, Y, **kw))(params)

    def one(x, y):
        def by_bias(bs):
            return mlp.loss_value([p._replace(b=b) for p, b in zip(params, bs)], x[None], y[None], **kw)
        return jax.grad(by_bias)([p.b for p in params])

    deltas = jax.vmap(one)(X, Y)                                   # one (B, n_l) per layer
    return Signals(jnp.stack([jnp.linalg.norm(g.W) for g in W_grads]),
                   jnp.stack([_rms_norm(d) for d in deltas]),
                   jnp.stack([_rms_norm(d @ p.W) for d, p in zip(deltas, params)]))


def _one_example(params: Sequence[Layer], x: ArrayLike) -> Array:
    x = as_array("x", x)
    if x.ndim != 1:
        raise ValueError(f"x must be one example (n_0,), got shape {x.shape}")
    return mlp.check_network(params, x[None])[0][0]


def jacobians(params: Sequence[Layer], x: ArrayLike, *, activation: Activation = SIGMOID,
              output: Activation | None = None) -> list[Array]:
    """Each layer's Jacobian ``J^l = ∂a^l/∂a^{l-1}`` ``(n_l, n_{l-1})`` at one example ``x``, by ``jax.jacfwd``.

    Layer ``l`` is run alone through :func:`dlbook.model.forward` (``[params[l-1]]`` on ``a^{l-1}``), with
    ``output`` for the last layer and ``activation`` for the others.

    Args:
      params: the layers; x: one example ``(n_0,)``; activation, output: as :func:`dlbook.model.forward`.

    Example:
      >>> from dlbook.activations import RELU
      >>> params = [Layer(jnp.array([[1.0, 2.0], [-1.0, 1.0]]), jnp.zeros(2))]
      >>> jacobians(params, jnp.array([1.0, 0.0]), activation=RELU)[0].tolist()    # z = (1, −1): row 2 is off
      [[1.0, 2.0], [0.0, 0.0]]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    x = _one_example(params, x)
    fwd = mlp.forward(params, x[None], activation=activation, output=output)
    out = []
    for l, p in enumerate(params, start=1):
        f = (output or activation) if l == len(params) else activation
        layer = lambda a, p=p, f=f: mlp.forward([p], a[None], activation=f).activations[-1][0]
        out.append(jax.jacfwd(layer)(fwd.activations[l - 1][0]))
    return out


def jacobians_closed_form(params: Sequence[Layer], x: ArrayLike, *, activation: Activation = SIGMOID,
                          output: Activation | None = None) -> list[Array]:
    """The same Jacobians by the formula ``J^l = diag(f'(z^l)) W^l`` (needs the activations' ``df``).

    Example:
      >>> from dlbook.activations import SIGMOID
      >>> params = [Layer(jnp.array([[2.0, -1.0]]), jnp.zeros(1))]
      >>> jacobians_closed_form(params, jnp.array([0.0, 0.0]), activation=SIGMOID)[0].tolist()   # σ'(0) = 1/4
      [[0.5, -0.25]]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    x = _one_example(params, x)
    for name, f in (("activation", activation), ("output", output)):
        if f is not None and f.df is None:
            raise ValueError(f"{name} {f.name!r} has no derivative df; use jacobians (jax.jacfwd) instead")
    fwd = mlp.forward(params, x[None], activation=activation, output=output)
    out = []
    for l, (p, z) in enumerate(zip(params, fwd.zs), start=1):
        f = (output or activation) if l == len(params) else activation
        out.append(f.df(z[0])[:, None] * p.W)
    return out


def singular_values(jacobians: Sequence[ArrayLike]) -> list[Array]:
    """The singular values ``s_1 ≥ s_2 ≥ …`` of each Jacobian (``jnp.linalg.svd``).

    For a signal ``g`` in a random direction, ``E‖Jᵀ g‖² = (‖J‖_F²/n_l) ‖g‖² = mean(s²) ‖g‖²``: the typical
    per-layer factor is the root mean square ``√mean(s²)``; the largest ``s_1`` bounds it.

    Example:
      >>> [s.tolist() for s in singular_values([jnp.diag(jnp.array([3.0, -0.5]))])]
      [[3.0, 0.5]]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    if not isinstance(jacobians, (list, tuple)):
        raise TypeError(f"jacobians must be a list of (n_l, n_(l-1)) matrices, got {type(jacobians).__name__}")
    out = []
    for l, J in enumerate(jacobians, start=1):
        J = as_array(f"jacobians[{l - 1}]", J)
        if J.ndim != 2:
            raise ValueError(f"jacobians[{l - 1}] must be a matrix (n_l, n_(l-1)), got shape {J.shape}")
        out.append(jnp.linalg.svd(J, compute_uv=False))
    return out


def activation_stats(params: Sequence[Layer], X: ArrayLike, *, activation: Activation = SIGMOID,
                     output: Activation | None = None, tol: ArrayLike = 0.01, **options: Any) -> LayerStats:
    """Mean, variance and share saturated (``|f'(z^l)| < tol``) of every layer's output ``a^l`` on a batch.

    For the sigmoid ``σ'(z) < 0.01`` means ``|z| > 4.6``: the flat tails, where almost no gradient passes.

    Args:
      params: the layers; X: ``(B, n_0)``; activation, output: as :func:`dlbook.model.forward` (each needs
        its ``df``); tol: the derivative below which a unit counts as saturated, ``≥ 0``; options: other
        keywords of :func:`dlbook.model.forward`.

    Returns:
      :class:`LayerStats`, each field ``(L,)``.

    Example:
      >>> params = [Layer(jnp.array([[10.0], [0.0]]), jnp.zeros(2))]           # z = 10x (tail) and 0 (middle)
      >>> activation_stats(params, jnp.ones((4, 1))).saturated.tolist()
      [0.5]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    X, _ = mlp.check_network(params, X, activation=activation, output=output)
    check_non_negative("tol", tol)
    for name, f in (("activation", activation), ("output", output)):
        if f is not None and f.df is None:
            raise ValueError(f"{name} {f.name!r} has no derivative df, needed for the saturated share")
    fwd = mlp.forward(params, X, activation=activation, output=output, **options)
    saturated = []
    for l, z in enumerate(fwd.zs, start=1):
        f = (output or activation) if l == len(params) else activation
        saturated.append(jnp.mean(jnp.abs(f.df(z)) < tol))
    acts = fwd.activations[1:]
    return LayerStats(jnp.stack([jnp.mean(a) for a in acts]), jnp.stack([jnp.var(a) for a in acts]),
                      jnp.stack(saturated))


def weight_change(params: Sequence[Layer], params0: Sequence[Layer]) -> Array:
    """Each layer's relative weight change ``‖W^l − W^l_0‖_F / ‖W^l_0‖_F``, ``(L,)``.

    Args:
      params: the trained layers; params0: the initial ones (same shapes).

    Example:
      >>> w0 = [Layer(jnp.ones((2, 2)), jnp.zeros(2))]
      >>> weight_change([Layer(1.5 * jnp.ones((2, 2)), jnp.zeros(2))], w0).tolist()
      [0.5]

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    for name, ps in (("params", params), ("params0", params0)):
        if not isinstance(ps, (list, tuple)) or not ps or not all(isinstance(p, Layer) for p in ps):
            raise TypeError(f"{name} must be a non-empty list of dlbook.model.Layer")
    if [p.W.shape for p in params] != [p.W.shape for p in params0]:
        raise ValueError(f"params and params0 must have the same shapes, got {[p.W.shape for p in params]} "
                         f"and {[p.W.shape for p in params0]}")
    return jnp.stack([jnp.linalg.norm(p.W - q.W) / jnp.linalg.norm(q.W) for p, q in zip(params, params0)])


class Profile(NamedTuple):
    """What :func:`deep_profile` measures, layer by layer (``L`` layers, ``L − 1`` hidden).

    ``signal[l]`` (``l = 0..L−1``): root mean square over the examples of ``‖g^l_i‖ = ‖∂ℓ_i/∂a^l‖`` (``l = 0``
    is the input).  ``gain[l-1]`` (hidden ``l = 1..L−1``): the predicted per-layer factor
    ``√(mean_i ‖J^l_i‖_F² / n_l)``, the root-mean-square singular value of ``J^l = diag(f'(z^l)) W^l`` (averaged
    over the examples), so that ``signal[l-1] ≈ gain[l-1] · signal[l]``.  ``mean``, ``var``, ``saturated``
    (hidden layers): as :class:`LayerStats`.

    Chapter: ``book/ch09_initialization.ipynb``.
    """

    signal: Array
    gain: Array
    mean: Array
    var: Array
    saturated: Array


def deep_profile(params: Sequence[Layer], X: ArrayLike, Y: ArrayLike, *, activation: Activation = SIGMOID,
                 output: Activation | None = None, loss: Loss = HALF_SQUARED, tol: ArrayLike = 0.01) -> Profile:
    """Backward signal, predicted per-layer factors and activation statistics of a deep MLP, in one ``lax.scan``.

    The hidden layers ``2..L−1`` must all be ``n × n``; each step of the scan runs one of them through
    :func:`dlbook.model.forward`, so the compiled program does not grow with the depth (the list functions of
    this module unroll the layers: fine for a few, slow to compile for fifty).  ``g^l_i`` is the gradient of
    example ``i``'s loss with respect to ``a^l`` (a zero added to ``a^l`` and differentiated), and the
    prediction uses the closed form ``‖J^l_i‖_F² = Σ_j f'(z^l_ij)² ‖W^l_j‖²`` (row ``j`` of ``W^l``).

    Args:
      params: at least three layers, hidden widths all equal; X: ``(B, n_0)``; Y: ``(B, n_L)``.
      activation, output, loss: as :func:`dlbook.model.loss_value` (``activation`` needs its ``df``).
      tol: the derivative below which a unit counts as saturated (:func:`activation_stats`).

    Returns:
      a :class:`Profile`.

    Example:
      >>> from dlbook.activations import IDENTITY
      >>> params = [Layer(jnp.eye(2), jnp.zeros(2)), Layer(2 * jnp.eye(2), jnp.zeros(2)), Layer(jnp.eye(2), jnp.zeros(2))]
      >>> p = deep_profile(params, jnp.ones((1, 2)), jnp.zeros((1, 2)), activation=IDENTITY)
      >>> p.signal.tolist(), p.gain.tolist()       # g² = a − y = (2, 2), g¹ = 2 g², g⁰ = g¹; J¹ = I, J² = 2I
      ([5.656854152679443, 5.656854152679443, 2.8284270763397217], [1.0, 2.0])

    Chapter: ``book/ch09_initialization.ipynb``.
    """
    X, Y = mlp.check_network(params, X, Y, activation, output, loss)
    check_non_negative("tol", tol)
    if len(params) < 3 or len({p.W.shape for p in params[1:-1]}) != 1 or params[1].W.shape[0] != params[1].W.shape[1]:
        raise ValueError("params must have at least three layers whose hidden layers 2..L-1 are all n × n, got "
                         f"{[p.W.shape for p in params]}")
    if activation.df is None:
        raise ValueError(f"activation {activation.name!r} has no derivative df, needed for the Jacobians")
    first, last = params[0], params[-1]
    hidden = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[Layer(p.W, p.b) for p in params[1:-1]])
    B = X.shape[0]

    def stats(p, z):
        d = activation.df(z)
        a = activation.f(z)
        jac = jnp.sum(d ** 2 * jnp.sum(p.W ** 2, axis=1), axis=1) / p.W.shape[0]      # ‖J_i‖_F² / n_l per example
        return jnp.stack([jnp.mean(a), jnp.var(a), jnp.mean(jnp.abs(d) < tol), jnp.mean(jac)])

    def total(x, eps):
        fwd = mlp.forward([first], x, activation=activation)
        a = fwd.activations[-1] + eps[0]
        rows = [stats(first, fwd.zs[0])]

        def body(a, pe):
            p, e = pe
            f = mlp.forward([p], a, activation=activation)
            return f.activations[-1] + e, stats(p, f.zs[0])

        a, more = jax.lax.scan(body, a, (hidden, eps[1:]))
        aL = mlp.forward([last], a, activation=output or activation).activations[-1]
        return jnp.sum(loss.value(aL, Y)), jnp.concatenate([jnp.stack(rows), more])

    n = first.W.shape[0]
    eps = jnp.zeros((len(params) - 1, B, n), X.dtype)
    (gx, ge), rows = jax.grad(total, argnums=(0, 1), has_aux=True)(X, eps)
    signal = jnp.concatenate([_rms_norm(gx)[None], jax.vmap(_rms_norm)(ge)])
    return Profile(signal, jnp.sqrt(rows[:, 3]), rows[:, 0], rows[:, 1], rows[:, 2])
