"""Batch and layer normalization: the forward pass, the hand-written backward pass, and the running averages.

Both normalize a pre-activation ``z`` along one axis, then scale and shift it with learnable ``γ, β``
(one per unit)::

    μ = mean(z),   σ² = mean((z − μ)²),   ẑ = (z − μ) / √(σ² + ε),   y = γ ⊙ ẑ + β

*Batch* normalization (BN, Ioffe & Szegedy 2015) takes the mean over the examples of the batch (axis 0, one
``μ, σ²`` per unit); *layer* normalization (LN, Ba et al. 2016) over the units of one example (axis 1, one
``μ, σ²`` per example), so it does not depend on the rest of the batch.  At evaluation BN uses fixed
statistics (:class:`Stats`: running averages or the training set's) instead of the batch's.

The backward pass, derived in chapter 10 (``g = ∂ℓ/∂y``, means along the normalized axis)::

    ∂ℓ/∂β = Σ_batch g,    ∂ℓ/∂γ = Σ_batch g ⊙ ẑ,
    ∂ℓ/∂z = (ĝ − mean(ĝ) − ẑ ⊙ mean(ĝ ⊙ ẑ)) / √(σ² + ε)   with ĝ = γ ⊙ g

(for BN ``γ`` is the same for every example and factors out: the compact formula
``∂ℓ/∂z = γ/√(σ²+ε) · (g − mean(g) − ẑ mean(g ẑ))``).  :func:`add_norm` gives an MLP of
:func:`dlbook.model.init_mlp` its ``γ = 1, β = 0``; :func:`dlbook.model.forward` applies either
normalization (``norm=``) to those layers, so the networks of every chapter gain it without a second
forward pass.

Reference: ``ioffe2015batch``; ``ba2016layer``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_choice, check_ndim, check_positive, check_probability, check_scalar, is_concrete

__all__ = ["EPS", "Stats", "batch_stats", "batch_norm", "layer_norm", "batch_norm_backward", "layer_norm_backward",
           "running_average", "add_norm", "covariate_shift", "along_gradient", "NORMS", "norm_code", "normalize"]

EPS = 1e-5
"""The ``ε`` under the square root (the value of Ioffe & Szegedy's and of the common libraries)."""


class Stats(NamedTuple):
    """Per-unit statistics of a pre-activation ``z`` ``(B, n)`` over the batch: ``mean`` and ``var`` ``(n,)``.

    ``var`` is the biased variance ``mean((z − μ)²)`` that the batch itself is normalized with.

    Chapter: ``book/ch10_normalization_residual.ipynb``.
    """

    mean: Array
    var: Array


def _check(z: ArrayLike, gamma: ArrayLike, beta: ArrayLike | None, eps: ArrayLike) -> tuple[Array, Array]:
    z = jnp.asarray(as_array("z", z))
    check_ndim("z", z, 2, "(B, n) (one example per row)")
    gamma = jnp.asarray(as_array("gamma", gamma))
    if gamma.shape != (z.shape[1],):
        raise ValueError(f"gamma must have shape ({z.shape[1]},) (one per unit of z), got {gamma.shape}")
    if beta is not None and jnp.shape(beta) != (z.shape[1],):
        raise ValueError(f"beta must have shape ({z.shape[1]},) (one per unit of z), got {jnp.shape(beta)}")
    check_positive("eps", eps)
    check_scalar("eps", eps)
    return z, gamma


def _normalize(z: Array, axis: int, eps: ArrayLike, stats: Stats | None = None) -> tuple[Array, Array]:
    """``(ẑ, σ² + ε)`` along ``axis``; with ``stats`` (axis 0 only) the given ``μ, σ²`` replace the batch's."""
    if stats is None:
        mu = jnp.mean(z, axis=axis, keepdims=True)
        var = jnp.mean((z - mu) ** 2, axis=axis, keepdims=True)
    else:
        mu, var = stats.mean[None], stats.var[None]
    return (z - mu) * jax.lax.rsqrt(var + eps), var + eps


def batch_stats(z: ArrayLike) -> Stats:
    """The batch's per-unit mean and (biased) variance of ``z`` ``(B, n)``: ``μ = mean_i z_i``, ``σ² = mean_i (z_i − μ)²``.

    Example:
      >>> s = batch_stats(jnp.array([[1.0, 0.0], [3.0, 0.0]]))
      >>> s.mean.tolist(), s.var.tolist()
      ([2.0, 0.0], [1.0, 0.0])

    Reference: ``ioffe2015batch``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    z = jnp.asarray(as_array("z", z))
    check_ndim("z", z, 2, "(B, n) (one example per row)")
    mu = jnp.mean(z, axis=0)
    return Stats(mu, jnp.mean((z - mu) ** 2, axis=0))


def batch_norm(z: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, stats: Stats | None = None,
               eps: ArrayLike = EPS) -> Array:
    """Batch normalization ``y = γ ⊙ (z − μ)/√(σ² + ε) + β``, ``μ, σ²`` per unit over the batch (axis 0).

    Training mode (``stats=None``): the batch's own ``μ, σ²``, so every example's output depends on the others.
    Evaluation mode: ``stats`` (:class:`Stats`, e.g. running averages or the training set's statistics) are used
    instead, and each example is transformed on its own.

    Args:
      z: pre-activations ``(B, n)``; gamma, beta: ``(n,)``; stats: fixed statistics or ``None``; eps: ``ε > 0``.

    Example:
      >>> batch_norm(jnp.array([[1.0], [3.0]]), jnp.array([2.0]), jnp.array([0.5]), eps=1e-12).tolist()   # ẑ = ∓1
      [[-1.5], [2.5]]
      >>> batch_norm(jnp.array([[1.0]]), jnp.ones(1), jnp.zeros(1), stats=Stats(jnp.array([3.0]), jnp.array([4.0])),
      ...            eps=1e-12).tolist()                                                           # (1 − 3)/2
      [[-1.0]]

    Reference: ``ioffe2015batch``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    z, gamma = _check(z, gamma, beta, eps)
    if stats is not None and (not isinstance(stats, Stats) or jnp.shape(stats.mean) != (z.shape[1],)
                              or jnp.shape(stats.var) != (z.shape[1],)):
        raise ValueError(f"stats must be a dlbook.normalization.Stats of two ({z.shape[1]},) arrays (mean, var)")
    return gamma * _normalize(z, 0, eps, stats)[0] + beta


def layer_norm(z: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, eps: ArrayLike = EPS) -> Array:
    """Layer normalization ``y = γ ⊙ (z − μ)/√(σ² + ε) + β``, ``μ, σ²`` per example over its units (axis 1).

    The same in training and evaluation, and independent of the batch: an example's output does not change
    when the other examples do.

    Example:
      >>> layer_norm(jnp.array([[1.0, 3.0]]), jnp.array([1.0, 2.0]), jnp.zeros(2), eps=1e-12).tolist()
      [[-1.0, 2.0]]

    Reference: ``ba2016layer``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    z, gamma = _check(z, gamma, beta, eps)
    return gamma * _normalize(z, 1, eps)[0] + beta


NORMS = ("none", "batch", "layer")
"""The normalizations :func:`dlbook.model.forward` knows, by code: ``1`` is ``"batch"``, ``2`` is ``"layer"``."""


def norm_code(norm) -> int | Array | None:
    """``None`` (no normalization), or the code of ``norm`` in :data:`NORMS` (an int, or a traced integer scalar).

    Example:
      >>> norm_code("layer"), norm_code(None), norm_code(1)
      (2, None, 1)

    Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    if norm is None:
        return None
    if isinstance(norm, str):
        return NORMS.index(check_choice("norm", norm, NORMS))
    norm = check_scalar("norm", norm, "() (a code 0, 1, 2 of NORMS; vmap over the caller for several)")
    if not jnp.issubdtype(jnp.asarray(norm).dtype, jnp.integer):
        raise TypeError(f"norm must be None, one of {NORMS} or an integer code, got dtype {jnp.asarray(norm).dtype}")
    if is_concrete(norm) and int(norm) not in (0, 1, 2):
        raise ValueError(f"norm must be a code 0, 1 or 2 (none, batch, layer), got {int(norm)}")
    return int(norm) if is_concrete(norm) else norm


def normalize(code, z: Array, gamma: Array, beta: Array, *, stats: Stats | None = None) -> Array:
    """``z`` (code 0), :func:`batch_norm` (1) or :func:`layer_norm` (2) of ``z`` for a :func:`norm_code`.

    A concrete code computes only its branch; a traced one (a sweep under ``vmap``) selects with ``where``.

    Example:
      >>> z = jnp.array([[1.0, 3.0], [3.0, 5.0]])
      >>> normalize(2, z, jnp.ones(2), jnp.zeros(2)).round(3).tolist()          # each row: mean 0, variance 1
      [[-1.0, 1.0], [-1.0, 1.0]]

    Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    batch = lambda: batch_norm(z, gamma, beta, stats=stats)  # noqa: E731
    layer = lambda: layer_norm(z, gamma, beta)  # noqa: E731
    if is_concrete(code):
        return z if code == 0 else batch() if code == 1 else layer()
    return jnp.where(code == 1, batch(), jnp.where(code == 2, layer(), z))


def _backward(g: ArrayLike, z: ArrayLike, gamma: ArrayLike, axis: int, eps: ArrayLike) -> tuple[Array, Array, Array]:
    z, gamma = _check(z, gamma, None, eps)
    g = jnp.asarray(as_array("g", g))
    if g.shape != z.shape:
        raise ValueError(f"g must have the shape of z {z.shape} (∂ℓ/∂y for each output), got {g.shape}")
    zhat, var_eps = _normalize(z, axis, eps)
    gh = g * gamma                                                     # ĝ = ∂ℓ/∂ẑ = γ ⊙ g
    dz = (gh - jnp.mean(gh, axis=axis, keepdims=True)
          - zhat * jnp.mean(gh * zhat, axis=axis, keepdims=True)) * jax.lax.rsqrt(var_eps)
    return dz, jnp.sum(g * zhat, axis=0), jnp.sum(g, axis=0)


def batch_norm_backward(g: ArrayLike, z: ArrayLike, gamma: ArrayLike, *, eps: ArrayLike = EPS
                        ) -> tuple[Array, Array, Array]:
    """The backward pass of :func:`batch_norm` (training mode), by the compact formula.

    ``∂ℓ/∂z = γ/√(σ²+ε) · (g − mean_i g − ẑ ⊙ mean_i(g ⊙ ẑ))``, ``∂ℓ/∂γ = Σ_i g ⊙ ẑ``, ``∂ℓ/∂β = Σ_i g``, where
    ``g = ∂ℓ/∂y`` ``(B, n)`` and the means run over the batch.  The two subtracted terms are the paths through
    ``μ`` and through ``σ²``: every example's ``z`` moves every other example's output.

    Args:
      g: ``∂ℓ/∂y`` ``(B, n)``; z: the pre-activations the forward pass normalized; gamma: ``(n,)``; eps: ``ε``.

    Returns:
      ``(∂ℓ/∂z, ∂ℓ/∂γ, ∂ℓ/∂β)`` of shapes ``(B, n)``, ``(n,)``, ``(n,)``.

    Example:
      >>> dz, dgamma, dbeta = batch_norm_backward(jnp.array([[1.0], [1.0]]), jnp.array([[1.0], [3.0]]), jnp.ones(1))
      >>> dz.tolist(), dbeta.tolist()           # a shift of every output moves no ẑ: ∂ℓ/∂z = 0
      ([[0.0], [0.0]], [2.0])

    Reference: ``ioffe2015batch``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    return _backward(g, z, gamma, 0, eps)


def layer_norm_backward(g: ArrayLike, z: ArrayLike, gamma: ArrayLike, *, eps: ArrayLike = EPS
                        ) -> tuple[Array, Array, Array]:
    """The backward pass of :func:`layer_norm`: the same formula with the means over each example's units.

    ``∂ℓ/∂z = (ĝ − mean_j ĝ − ẑ ⊙ mean_j(ĝ ⊙ ẑ)) / √(σ²+ε)`` with ``ĝ = γ ⊙ g``; ``∂ℓ/∂γ = Σ_i g ⊙ ẑ``,
    ``∂ℓ/∂β = Σ_i g`` (``γ, β`` are per unit, shared by the examples).

    Example:
      >>> dz, _, _ = layer_norm_backward(jnp.array([[2.0, 2.0]]), jnp.array([[1.0, 3.0]]), jnp.ones(2))
      >>> dz.tolist()                            # the same push on every unit of an example does nothing
      [[0.0, 0.0]]

    Reference: ``ba2016layer``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    return _backward(g, z, gamma, 1, eps)


def running_average(running: Stats, batch: Stats, momentum: ArrayLike = 0.1) -> Stats:
    """One update of BN's running statistics: ``r ← (1 − ρ) r + ρ s`` for the mean and the variance.

    Training keeps these exponential moving averages of the batch statistics ``s`` (:func:`batch_stats`) and
    evaluation uses them in place of the batch's (``batch_norm(..., stats=r)``).

    Args:
      running: the current averages; batch: this batch's :class:`Stats`; momentum: ``ρ`` in ``[0, 1)``.

    Example:
      >>> r = running_average(Stats(jnp.zeros(1), jnp.ones(1)), Stats(jnp.array([2.0]), jnp.array([3.0])), 0.5)
      >>> r.mean.tolist(), r.var.tolist()
      ([1.0], [2.0])

    Reference: ``ioffe2015batch``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    check_probability("momentum", momentum, "a running-average momentum ρ")
    if not isinstance(running, Stats) or not isinstance(batch, Stats):
        raise TypeError("running and batch must be dlbook.normalization.Stats (mean, var)")
    return jax.tree_util.tree_map(lambda r, s: (1 - momentum) * r + momentum * s, running, batch)


def add_norm(params: Sequence) -> list:
    """The layers of an MLP with ``γ = 1`` and ``β = 0`` added to every hidden layer (the last stays plain).

    :func:`dlbook.model.forward` normalizes exactly the layers that carry ``γ, β``; with ``γ = 1, β = 0`` the
    normalized ``ẑ`` itself goes into the activation at the start, as in Ioffe & Szegedy.

    Example:
      >>> from dlbook.model import init_mlp
      >>> params = add_norm(init_mlp((2, 3, 1), key=jax.random.key(0)))
      >>> params[0].gamma.tolist(), params[0].beta.tolist(), params[1].gamma
      ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], None)

    Reference: ``ioffe2015batch``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    from dlbook.model import Layer  # model imports this module

    if not isinstance(params, (list, tuple)) or not params or not all(isinstance(p, Layer) for p in params):
        raise TypeError("params must be a non-empty list of dlbook.model.Layer (see init_mlp)")
    n = len(params)
    return [p._replace(gamma=jnp.ones_like(p.b), beta=jnp.zeros_like(p.b)) if l < n - 1 else p
            for l, p in enumerate(params)]


def _layer_index(params: Sequence) -> list[Array]:
    """For each entry of ``params``, the layer numbers ``l`` (0-based) it holds: one, or ``k`` for a stack."""
    out, l = [], 0
    for p in params:
        k = p.W.shape[0] if p.W.ndim == 3 else 1
        out.append(jnp.arange(l, l + k) if p.W.ndim == 3 else jnp.array(l))
        l += k
    return out


def covariate_shift(loss_fn, before: Sequence, after: Sequence, *args) -> Array:
    """Santurkar et al.'s internal covariate shift of each layer: ``‖G_l − G'_l‖ / ‖G_l‖``.

    ``G_l = ∂𝓛/∂W^l`` at the parameters ``before`` a step; ``G'_l`` the same gradient after the layers *below*
    ``l`` (``1..l−1``) have taken the step (``after``) and the others have not: how much layer ``l``'s
    gradient changes only because its inputs' distribution moved.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``; before, after: the layers (:class:`dlbook.model.Layer`,
        stacks allowed) at steps ``t`` and ``t + 1``; args: the data.

    Returns:
      ``(L,)``, one value per layer (the first is 0: nothing lies below it).

    Example:
      >>> from dlbook.model import Layer, loss_value
      >>> from dlbook.activations import IDENTITY
      >>> p = [Layer(jnp.ones((1, 1)), jnp.zeros(1)), Layer(jnp.ones((1, 1)), jnp.zeros(1))]
      >>> q = [Layer(2 * jnp.ones((1, 1)), jnp.zeros(1)), p[1]]            # layer 1 doubled
      >>> f = lambda w, X, Y: loss_value(w, X, Y, activation=IDENTITY)        # ½ (y − W² W¹ x)², x = 1, y = 0
      >>> covariate_shift(f, p, q, jnp.ones((1, 1)), jnp.zeros((1, 1))).tolist()   # ∂/∂W² = W²(W¹)²: 1 → 4
      [0.0, 3.0]

    Reference: ``santurkar2018how``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    index = _layer_index(before)
    n = sum(int(i.size) for i in index)
    grad = jax.grad(loss_fn)

    def norms(g):
        return jnp.concatenate([jnp.atleast_1d(jnp.sqrt(jnp.sum(q.W ** 2, axis=(-2, -1)))) for q in g])

    def shifted(l):
        mixed = [jax.tree_util.tree_map(
            lambda b, a, i=i: jnp.where((i < l).reshape(i.shape + (1,) * (b.ndim - i.ndim)), a, b), p, q)
            for p, q, i in zip(before, after, index)]
        g, h = grad(list(before), *args), grad(mixed, *args)
        diff = norms([jax.tree_util.tree_map(jnp.subtract, x, y) for x, y in zip(g, h)])
        return diff[l] / norms(g)[l]

    return jax.vmap(shifted)(jnp.arange(n))


def along_gradient(loss_fn, params, etas: ArrayLike, *args) -> tuple[Array, Array]:
    """The loss and the gradient's change along the gradient direction: Santurkar et al.'s landscape probes.

    With ``g = ∇𝓛(w)``: ``𝓛(w − η g)`` and ``‖∇𝓛(w − η g) − g‖`` for each step ``η`` of ``etas``.  The spread of
    the first over ``η`` is the loss landscape's variation along the step, the second its gradient
    predictiveness (small: the gradient at ``w`` still describes the landscape a step away).

    Example:
      >>> f = lambda w: 0.5 * 4.0 * jnp.sum(w ** 2)                     # curvature 4
      >>> loss, dg = along_gradient(f, jnp.array([1.0]), jnp.array([0.0, 0.25]))
      >>> loss.tolist(), dg.tolist()                                  # w − η·4w: 1 → 0; ∇ changes by 4·η·4
      ([2.0, 0.0], [0.0, 4.0])

    Reference: ``santurkar2018how``.  Chapter: ``book/ch10_normalization_residual.ipynb``.
    """
    etas = jnp.asarray(as_array("etas", etas))
    check_ndim("etas", etas, 1, "(E,) (one step size per entry)")
    value_grad = jax.value_and_grad(loss_fn)
    _, g = value_grad(params, *args)
    flat = lambda t: jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(t)])

    def probe(eta):
        w = jax.tree_util.tree_map(lambda p, d: p - eta * d, params, g)
        value, h = value_grad(w, *args)
        return value, jnp.linalg.norm(flat(h) - flat(g))

    return jax.vmap(probe)(etas)
