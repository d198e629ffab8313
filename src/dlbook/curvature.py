"""Curvature of a loss at a point: the Hessian, its products with vectors, its extreme eigenpairs, critical points.

The parameters are any pytree; they are flattened with :func:`jax.flatten_util.ravel_pytree` into one vector
``θ ∈ ℝᵖ`` so that the Hessian ``H = ∇²𝓛(θ)`` is a ``(p, p)`` matrix.

* :func:`hessian` — ``H`` itself, for small models (``p`` Hessian-vector products, ``p²`` numbers of memory);
* :func:`hvp` / :func:`hvp_fn` — ``Hv`` without forming ``H`` (forward-over-reverse, Pearlmutter 1994): about
  the cost of two gradients (1.75 measured in floating-point operations, the same at p = 460 and 2410) and the
  memory of one;
* :func:`lanczos` — the extreme eigenvalues and their eigenvectors from ``k`` products ``Hv`` (Lanczos 1950);
* :func:`spectrum_counts`, :func:`classify_critical_point` — positive / negative / near-zero eigenvalues at an
  explicit tolerance, and what they make of a critical point (minimum, maximum, saddle, degenerate);
* :func:`find_critical_point` — a point where ``∇𝓛 = 0`` (minimum *or* saddle), by damped Gauss–Newton
  (Levenberg–Marquardt) on ``½‖∇𝓛‖²``.

Chapter: ``book/ch07_critical_points.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from dlbook._checks import (
    as_array,
    check_args,
    check_callable,
    check_int,
    check_key,
    check_ndim,
    check_non_negative,
    check_params,
    check_positive,
    is_concrete,
)

PyTree = Any
Array = jax.Array
LossFn = Callable[..., Array]

__all__ = ["hessian", "hvp", "hvp_fn", "lanczos", "spectrum_counts", "classify_critical_point",
           "CriticalPoint", "find_critical_point"]

KINDS = ("minimum", "maximum", "saddle", "degenerate")


def _flat_loss(loss_fn: LossFn, params: PyTree, args: tuple) -> tuple[Array, Callable[..., Array], Callable]:
    """Checked ``(θ, f, unravel)``: ``θ`` flat, ``f(w, a=args) = loss_fn(unravel(w), *a)`` (the data may be passed
    as an argument, so a compiled caller does not bake them in as constants)."""
    check_callable("loss_fn", loss_fn)
    check_args(args)
    params = check_params("params", params)
    flat, unravel = ravel_pytree(params)
    return flat, (lambda w, a=args: loss_fn(unravel(w), *a)), unravel


def _matvec(f: Callable[..., Array], w: Array, args: tuple) -> Callable[[Array], Array]:
    """``v ↦ Hv`` at ``w``: the forward-mode derivative (``jax.jvp``) of the reverse-mode gradient of ``f(·, args)``."""
    grad = jax.grad(f)
    return lambda v: jax.jvp(lambda u: grad(u, args), (w,), (v,))[1]


def hessian(loss_fn: LossFn, params: PyTree, args: tuple = ()) -> Array:
    """The Hessian ``H_ij = ∂²𝓛/∂θ_i∂θ_j`` of ``loss_fn`` at ``params``, flattened to a ``(p, p)`` matrix.

    The parameters are flattened in the order of :func:`jax.flatten_util.ravel_pytree` (the same order as
    :func:`hvp_fn` and :func:`lanczos` use).  Cost: ``p`` Hessian-vector products and ``p²`` numbers of memory —
    only for small models (a network with a million parameters would need 4 TB in float32).

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the point ``θ`` (any pytree of float arrays), ``p`` numbers in all.
      args: extra arguments of ``loss_fn`` (the data).

    Returns:
      ``H``, shape ``(p, p)``, symmetric.

    Example:
      >>> hessian(lambda w: (1.0 - w[0] * w[1]) ** 2, jnp.zeros(2)).tolist()   # y = w₁w₂x, x = y = 1, at 0
      [[0.0, -2.0], [-2.0, 0.0]]

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    flat, f, _ = _flat_loss(loss_fn, params, args)
    # one compiled program (p products Hv batched, not p dispatches); the data enter as arguments, not constants
    return jax.jit(jax.hessian(f))(flat, args)


def hvp_fn(loss_fn: LossFn, params: PyTree, args: tuple = ()) -> tuple[Array, Callable[[Array], Array]]:
    """The flat point ``θ`` and the map ``v ↦ Hv`` on flat vectors ``v ∈ ℝᵖ`` (forward-over-reverse).

    ``Hv = d/dε ∇𝓛(θ + εv)|_{ε=0}``: one forward-mode derivative (``jax.jvp``) of the reverse-mode gradient
    (Pearlmutter 1994).  Each call costs about two gradient evaluations (1.75 in floating-point operations on the
    chapter's networks, independent of ``p``) and the memory of one; ``H`` is never formed.  To measure that cost,
    call it inside the compiled function with ``θ`` as an argument: a closed-over ``θ`` is a constant that XLA
    folds away, leaving only the tangent half to count.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the point (any pytree of float arrays).
      args: extra arguments of ``loss_fn``.

    Returns:
      ``(θ, matvec)``: ``θ`` shape ``(p,)`` and ``matvec(v) -> Hv``, shape ``(p,)``.

    Example:
      >>> theta, Hv = hvp_fn(lambda w: (1.0 - w[0] * w[1]) ** 2, jnp.zeros(2))
      >>> Hv(jnp.array([1.0, 1.0])).tolist()                  # H (1, 1) = (−2, −2): (1, 1) has eigenvalue −2
      [-2.0, -2.0]

    Reference: ``ch07-pearlmutter1994fast``.

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    flat, f, _ = _flat_loss(loss_fn, params, args)
    return flat, _matvec(f, flat, args)


def hvp(loss_fn: LossFn, params: PyTree, v: PyTree, args: tuple = ()) -> PyTree:
    """The Hessian-vector product ``Hv`` with ``v`` a pytree like ``params``; returns a pytree like ``params``.

    Same product as :func:`hvp_fn` (forward-over-reverse, about two gradients' cost), for callers who
    keep their vectors in the model's own structure.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the point.
      v: the direction, the same structure and shapes as ``params``.
      args: extra arguments of ``loss_fn``.

    Returns:
      ``Hv``, the structure of ``params``.

    Example:
      >>> hvp(lambda w: jnp.sum(w["a"] ** 2), {"a": jnp.ones(2)}, {"a": jnp.array([1.0, 0.0])})["a"].tolist()
      [2.0, 0.0]

    Reference: ``ch07-pearlmutter1994fast``.

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    flat, f, unravel = _flat_loss(loss_fn, params, args)
    vf, _ = ravel_pytree(v)
    if jax.tree_util.tree_structure(v) != jax.tree_util.tree_structure(params) or vf.shape != flat.shape:
        raise ValueError(f"v must have the structure and shapes of params ({flat.shape[0]} numbers), got "
                         f"{vf.shape[0]} numbers in {jax.tree_util.tree_structure(v)}")
    return unravel(_matvec(f, flat, args)(vf.astype(flat.dtype)))


def lanczos(loss_fn: LossFn, params: PyTree, args: tuple = (), *, key: Array,
            num_iters: int = 30) -> tuple[Array, Array]:
    """Ritz approximations to the eigenvalues and eigenvectors of ``H`` from ``num_iters`` products ``Hv``.

    Lanczos' method builds an orthonormal basis ``V = (v_1 … v_k)`` of the Krylov space
    ``span{v, Hv, …, H^{k−1}v}`` (``v`` random, drawn with ``key``) in which ``T = VᵀHV`` is tridiagonal:
    ``β_{j+1} v_{j+1} = H v_j − α_j v_j − β_j v_{j−1}``, ``α_j = v_jᵀHv_j`` (re-orthogonalised against all earlier
    ``v``, which float32 needs).  The eigenvalues of the small ``T`` (the Ritz values) approach the *extreme*
    eigenvalues of ``H`` first, both ends at once, much faster than power iteration; with ``k = p`` they are
    all of them.  Cost: ``k`` Hessian-vector products (each about two gradients) and ``k·p`` numbers of
    memory for ``V``; ``H`` is never formed.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the point (any pytree of float arrays), ``p`` numbers.
      args: extra arguments of ``loss_fn``.
      key: the ``jax.random`` key of the starting vector.
      num_iters: ``k``, the number of products, in ``[1, p]``.

    Returns:
      ``(eigenvalues, eigenvectors)``: the ``k`` Ritz values ascending, shape ``(k,)``, and the Ritz vectors
      as columns, shape ``(p, k)`` (unit length, in the flat order of :func:`hessian`).  The first and the last
      are the estimates of ``λ_min`` and ``λ_max``.

    Example:
      >>> vals, vecs = lanczos(lambda w: (1.0 - w[0] * w[1]) ** 2, jnp.zeros(2), key=jax.random.key(0), num_iters=2)
      >>> [round(float(x), 4) for x in vals]                       # H = [[0, −2], [−2, 0]]: eigenvalues ±2
      [-2.0, 2.0]

    Reference: ``ch07-lanczos1950iteration``; ``ch07-pearlmutter1994fast``.

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    check_key("key", key)
    flat, f, _ = _flat_loss(loss_fn, params, args)
    p = flat.shape[0]
    k = check_int("num_iters", num_iters, minimum=1)
    if k > p:
        raise ValueError(f"num_iters must be <= p = {p} (the number of parameters; k = p gives every eigenvalue), got {k}")
    tiny = jnp.finfo(flat.dtype).tiny

    def body(j, carry, matvec):
        V, alphas, betas = carry
        w = matvec(V[j])
        alpha = V[j] @ w
        w = w - V.T @ (V @ w)              # full re-orthogonalisation (rows of V not yet filled are zero)
        w = w - V.T @ (V @ w)              # twice is enough (Parlett's "twice is enough")
        beta = jnp.linalg.norm(w)
        nxt = jnp.where(beta > 1e3 * tiny, w / jnp.maximum(beta, tiny), 0.0)
        V = jnp.where(j + 1 < k, V.at[jnp.minimum(j + 1, k - 1)].set(nxt), V)
        return V, alphas.at[j].set(alpha), betas.at[j].set(beta)

    @jax.jit
    def run(flat, args, key):
        matvec = _matvec(f, flat, args)    # flat and args are arguments here: no constants folded in
        v0 = jax.random.normal(key, (p,), flat.dtype)
        V = jnp.zeros((k, p), flat.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
        V, alphas, betas = lax.fori_loop(0, k, lambda j, c: body(j, c, matvec),
                                         (V, jnp.zeros(k, flat.dtype), jnp.zeros(k, flat.dtype)))
        T = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
        vals, Y = jnp.linalg.eigh(T)
        vecs = V.T @ Y
        return vals, vecs / jnp.linalg.norm(vecs, axis=0, keepdims=True)

    return run(flat, args, key)


def _eigenvalues(eigenvalues: ArrayLike, tol: ArrayLike) -> tuple[Array, Array]:
    lam = as_array("eigenvalues", eigenvalues)
    check_ndim("eigenvalues", lam, 1, "(p,)")
    check_non_negative("tol", tol)
    return jnp.asarray(lam), jnp.asarray(tol, jnp.result_type(float))


def spectrum_counts(eigenvalues: ArrayLike, tol: ArrayLike) -> Array:
    """How many eigenvalues are positive (``λ > tol``), negative (``λ < −tol``) and near zero (``|λ| ≤ tol``).

    The tolerance is explicit because a computed eigenvalue is never exactly 0: symmetries of a network
    (swapping hidden units, rescaling across a ReLU) and dead units give eigenvalues that are 0 in exact
    arithmetic and round-off-sized in float32.  The *index* of a critical point is the share of negative
    eigenvalues; LeeDL's "minimum ratio" is the share of positive ones.  Traceable (``vmap`` over points).

    Args:
      eigenvalues: ``λ``, shape ``(p,)``.
      tol: the tolerance ``≥ 0`` below which ``|λ|`` counts as zero, a scalar.

    Returns:
      ``(positive, negative, zero)``, int32, shape ``(3,)``.

    Example:
      >>> spectrum_counts(jnp.array([-2.0, 1e-7, 2.0, 3.0]), 1e-4).tolist()
      [2, 1, 1]

    Reference: ``ch07-dauphin2014identifying`` (index of a critical point).

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    lam, tol = _eigenvalues(eigenvalues, tol)
    return jnp.array([jnp.sum(lam > tol), jnp.sum(lam < -tol), jnp.sum(jnp.abs(lam) <= tol)], jnp.int32)


def classify_critical_point(eigenvalues: ArrayLike, tol: ArrayLike) -> str:
    """What the Hessian's eigenvalues make of a critical point (``∇𝓛 = 0``), at tolerance ``tol``.

    From the second-order Taylor expansion ``𝓛(θ′ + δ) ≈ 𝓛(θ′) + ½ δᵀHδ``: ``"minimum"`` if every ``λ > tol``,
    ``"maximum"`` if every ``λ < −tol``, ``"saddle"`` if some ``λ > tol`` and some ``λ < −tol`` (a direction goes
    down whatever the zero eigenvalues do), and ``"degenerate"`` otherwise: some ``|λ| ≤ tol`` and no sign
    change, so the second order cannot decide (higher terms do).

    Args:
      eigenvalues: ``λ``, shape ``(p,)``, concrete.
      tol: the tolerance ``≥ 0`` for zero.

    Returns:
      one of ``"minimum"``, ``"maximum"``, ``"saddle"``, ``"degenerate"``.

    Example:
      >>> [classify_critical_point(jnp.array(l), 1e-6) for l in ([1.0, 2.0], [-1.0, 2.0], [0.0, 2.0], [-1.0, -2.0])]
      ['minimum', 'saddle', 'degenerate', 'maximum']

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    lam, tol = _eigenvalues(eigenvalues, tol)
    if not is_concrete(lam):
        raise TypeError("eigenvalues must be concrete (the answer is a string); use spectrum_counts under jit/vmap")
    pos, neg, zero = (int(c) for c in spectrum_counts(lam, tol))
    if pos and neg:
        return "saddle"
    if zero:
        return "degenerate"
    return "minimum" if pos else "maximum"


class CriticalPoint(NamedTuple):
    """What :func:`find_critical_point` found: ``params`` (the structure of the start), ``grad_norm`` ``‖∇𝓛‖``
    there, ``loss`` ``𝓛`` there and the history ``grad_norms`` ``(num_steps + 1,)`` of the accepted points.

    Chapter: ``book/ch07_critical_points.ipynb``.
    """

    params: PyTree
    grad_norm: Array
    loss: Array
    grad_norms: Array


def find_critical_point(loss_fn: LossFn, params: PyTree, args: tuple = (), *, num_steps: int = 100,
                        damping: ArrayLike = 1e-2) -> CriticalPoint:
    """A nearby critical point (``∇𝓛 = 0``: minimum, saddle or maximum) by Levenberg–Marquardt on ``½‖∇𝓛‖²``.

    Minimising ``½‖g(θ)‖²`` with ``g = ∇𝓛`` treats the gradient as a residual whose Jacobian is ``H``; the damped
    Gauss–Newton step is ``δ = −(H² + μI)⁻¹ H g``, computed from the eigendecomposition ``H = U diag(λ) Uᵀ`` as
    ``δ = −U diag(λ/(λ² + μ)) Uᵀ g`` (forming ``H²`` would square the condition number).  Unlike gradient descent on ``𝓛`` it also converges to saddles
    (Dauphin et al. 2014 use Newton-type methods the same way to collect saddles).  It is biased towards
    well-conditioned critical points: quadratic convergence where ``H`` is non-singular, only sublinear near flat or
    degenerate ones (often the low-loss ones), so a fixed ``num_steps`` filters those out — report the starts
    that did not converge.  The
    step is accepted when ``‖g‖`` falls, and then ``μ ← μ/3``; otherwise ``θ`` stays and ``μ ← 3μ``.  The answer is
    only as critical as ``grad_norm`` says: report it.  Cost per step: one :func:`hessian` (``p`` products
    ``Hv``) and a ``p × p`` eigendecomposition (``O(p³)``), so small models only.  Traceable: ``vmap`` it over many starts.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the start (any pytree of float arrays).
      args: extra arguments of ``loss_fn``.
      num_steps: steps, ≥ 1 (static).
      damping: the initial ``μ > 0``.

    Returns:
      :class:`CriticalPoint`.

    Example:
      >>> cp = find_critical_point(lambda w: (1.0 - w[0] * w[1]) ** 2, jnp.array([0.3, -0.2]), num_steps=30)
      >>> [round(float(x), 4) + 0.0 for x in cp.params], float(cp.grad_norm) < 1e-6     # the saddle at the origin
      ([0.0, 0.0], True)

    Reference: ``ch07-dauphin2014identifying``; ``ch07-pearlmutter1994fast``.

    Chapter: ``book/ch07_critical_points.ipynb``.
    """
    flat, f, unravel = _flat_loss(loss_fn, params, args)
    num_steps = check_int("num_steps", num_steps, minimum=1)
    check_positive("damping", damping)
    grad = jax.grad(f)

    def body(carry, _):
        w, g, mu = carry
        H = jax.hessian(f)(w)
        lam, U = jnp.linalg.eigh((H + H.T) / 2)             # (H² + μI)⁻¹H = U diag(λ/(λ² + μ)) Uᵀ, stable in float32
        d = -U @ (lam / (lam**2 + mu) * (U.T @ g))
        w_new = w + d
        g_new = grad(w_new)
        better = jnp.linalg.norm(g_new) < jnp.linalg.norm(g)
        w, g = jnp.where(better, w_new, w), jnp.where(better, g_new, g)
        mu = jnp.clip(jnp.where(better, mu / 3, mu * 3), 1e-12, 1e12)
        return (w, g, mu), jnp.linalg.norm(g)

    g0 = grad(flat)
    (w, g, _), norms = lax.scan(body, (flat, g0, jnp.asarray(damping, flat.dtype)), None, length=num_steps)
    return CriticalPoint(unravel(w), jnp.linalg.norm(g), f(w), jnp.concatenate([jnp.linalg.norm(g0)[None], norms]))
