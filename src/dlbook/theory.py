"""Closed forms on quadratics and sampling: what the experiments of the book are checked against.

On ``𝓛(w) = ½ (w − w*)ᵀ H (w − w*)`` gradient descent, momentum and Nesterov's method are linear
recurrences, so their stability limit and their best constant hyperparameters have closed forms in the
extreme eigenvalues ``λ_min ≤ λ_max`` of ``H`` (condition number ``κ = λ_max/λ_min``):

* :func:`critical_learning_rate` — ``α* = 2/λ_max``, the edge between converging and diverging;
* :func:`optimal_gd`, :func:`optimal_momentum`, :func:`optimal_nesterov` — the fastest constant settings
  and the convergence factor ``ρ`` they give (the error shrinks like ``ρᵗ``), as a :class:`Tuning`;
* :func:`sampling_variance` — the variance of a mini-batch gradient, ``(σ²/B)·(n − B)/(n − 1)``, and
  :func:`gradient_variance`, the same quantity measured on a network by drawing batches;
* :func:`momentum_matrix` — the 2×2 iteration matrix of heavy-ball momentum along one eigen-direction
  (its eigenvalues give the stability region ``0 < ηλ < 2(1 + γ)`` and the damping regimes);
* :func:`noise_scale` — the gradient noise scale ``B_noise = tr(Σ)/‖G‖²`` of McCandlish et al.;
* :func:`top_hessian_eigenvalue` — the sharpness ``λ_max`` of any loss, by power iteration on
  Hessian-vector products.

The runners of :mod:`dlbook.descent` measure what these predict; the tests check each formula against a
float64 recurrence or a direct computation.

Chapters: ``book/ch01_gradient_descent.ipynb`` (critical learning rate), ``book/ch06_batch_momentum.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
from jax.typing import ArrayLike

from dlbook._checks import (
    as_array,
    check_batches,
    check_callable,
    check_finite,
    check_int,
    check_key,
    check_ndim,
    check_non_negative,
    check_positive,
    check_scalar,
    is_concrete,
)
from dlbook.curvature import hvp_fn
from dlbook.data import epoch_batches

PyTree = Any
LossFn = Callable[..., jax.Array]

Array = jax.Array

__all__ = ["critical_learning_rate", "Tuning", "optimal_gd", "optimal_momentum", "optimal_nesterov", "sampling_variance",
           "gradient_variance", "momentum_matrix", "noise_scale", "top_hessian_eigenvalue"]


def critical_learning_rate(hessian: ArrayLike) -> Array:
    """Largest stable learning rate of gradient descent on a quadratic: ``α* = 2 / λ_max(H)``.

    On ``𝓛(w) = ½ (w − w*)ᵀ H (w − w*)`` the error evolves as ``e_{t+1} = (I − αH) e_t``; along the
    eigenvector of ``λ_max`` the factor is ``1 − α λ_max``, which has modulus < 1 iff ``α < 2/λ_max``.

    Args:
      hessian: the Hessian ``H``, shape ``(d, d)``: symmetric, with at least one positive eigenvalue.

    Returns:
      ``α*``, a scalar.

    Example:
      >>> float(critical_learning_rate(jnp.diag(jnp.array([1.0, 4.0]))))      # λ_max = 4: α* = 2/4
      0.5

    Reference: ``ch01-nocedal2006numerical`` (gradient descent on quadratics).

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    H = as_array("hessian", hessian)
    check_ndim("hessian", H, 2, "(d, d)")
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be square, got shape {tuple(H.shape)}")
    check_finite("hessian", H)
    if is_concrete(H):
        Hn = np.asarray(H, dtype=float)
        if np.abs(Hn - Hn.T).max() > 1e-5 * np.abs(Hn).max():  # float32 round-off allowed
            raise ValueError("hessian must be symmetric")
        if np.linalg.eigvalsh(Hn).max() <= 0:
            raise ValueError("hessian must have a positive eigenvalue; gradient descent has no stable rate otherwise")
    return 2.0 / jnp.linalg.eigvalsh(jnp.asarray(H))[-1]




def sampling_variance(sigma2: ArrayLike, n: int, batch_size: ArrayLike) -> Array:
    """The variance of a mini-batch gradient: ``E‖g_B − g‖² = (σ²/B)·(n − B)/(n − 1)``.

    ``g_B`` is the mean of ``B`` of the ``n`` per-example gradients ``gᵢ`` drawn without replacement, ``g`` the mean
    of all ``n``, and ``σ² = (1/n) Σᵢ ‖gᵢ − g‖²`` their total variance: the ``1/B`` law, times the correction
    ``(n − B)/(n − 1)`` that makes it 0 at ``B = n``.  :func:`dlbook.theory.gradient_variance` measures the
    left-hand side.

    Args:
      sigma2: ``σ² ≥ 0``, a scalar.
      n: the number of examples, an int ≥ 2.
      batch_size: ``B`` in ``[1, n]``, a scalar or an array ``(k,)`` of batch sizes.

    Returns:
      ``E‖g_B − g‖²``, the shape of ``batch_size``.

    Example:
      >>> [round(float(sampling_variance(10.0, 101, b)), 3) for b in (1, 10, 101)]   # 10·100/100, 1·91/100, 10·0/100
      [10.0, 0.91, 0.0]

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    check_non_negative("sigma2", sigma2)
    check_scalar("sigma2", sigma2)
    n = check_int("n", n, minimum=2)
    B = jnp.asarray(as_array("batch_size", batch_size), dtype=jnp.result_type(float))
    if is_concrete(B) and (np.any(np.asarray(B) < 1) or np.any(np.asarray(B) > n)):
        raise ValueError(f"batch_size must lie in [1, n = {n}], got {np.asarray(B).tolist()}")
    return jnp.asarray(sigma2) / B * (n - B) / (n - 1)




class Tuning(NamedTuple):
    """The best constant hyperparameters for a quadratic, and the convergence factor ``ρ`` they give.

    For Hessian eigenvalues in ``[λ_min, λ_max]`` the distance to the minimum shrinks like ``ρᵗ`` (like ``t·ρᵗ``
    for the momentum methods, whose iteration matrix has a repeated eigenvalue at these settings).  Fields:
    ``learning_rate`` (``α`` or ``η``), ``gamma`` (the momentum ``γ``; 0 for gradient descent) and ``rho`` (``ρ``).

    Example:
      >>> t = optimal_gd(1.0, 3.0)                           # α = 2/(1 + 3), γ = 0, ρ = (3 − 1)/(3 + 1)
      >>> float(t.learning_rate), float(t.gamma), float(t.rho)
      (0.5, 0.0, 0.5)

    Reference: ``ch06-goh2017momentum``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """

    learning_rate: Array
    gamma: Array
    rho: Array


def _check_spectrum(l_min: ArrayLike, l_max: ArrayLike) -> tuple[Array, Array]:
    for name, v in (("l_min", l_min), ("l_max", l_max)):
        check_positive(name, v)
        check_scalar(name, v, "() (a scalar eigenvalue)")
    if is_concrete((l_min, l_max)) and not float(l_min) <= float(l_max):
        raise ValueError(f"l_min must be <= l_max, got l_min={float(l_min)}, l_max={float(l_max)}")
    return jnp.asarray(l_min, jnp.result_type(float)), jnp.asarray(l_max, jnp.result_type(float))


def optimal_gd(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """The fastest constant learning rate of gradient descent on a quadratic: ``α = 2/(λ_min + λ_max)``.

    It balances the slowest and the fastest eigen-direction, ``|1 − α λ_min| = |1 − α λ_max|``, and gives
    ``ρ = (κ − 1)/(κ + 1)`` with ``κ = λ_max/λ_min``; ``γ = 0``.

    Args:
      l_min: ``λ_min > 0``, the smallest eigenvalue of the Hessian (a scalar).
      l_max: ``λ_max ≥ λ_min``, the largest (a scalar).

    Returns:
      :class:`Tuning` ``(α, 0, ρ)``.

    Example:
      >>> [round(float(v), 4) for v in optimal_gd(1.0, 100.0)]        # 2/101, 0, 99/101
      [0.0198, 0.0, 0.9802]

    Reference: ``ch01-nocedal2006numerical``; ``ch06-goh2017momentum``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    lo, hi = _check_spectrum(l_min, l_max)
    k = hi / lo
    return Tuning(2 / (lo + hi), jnp.zeros_like(k), (k - 1) / (k + 1))


def optimal_momentum(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """Heavy-ball momentum tuned for a quadratic: ``η = 4/(√λ_max + √λ_min)²``, ``γ = ((√κ − 1)/(√κ + 1))²``.

    With these settings ``v ← γ v + η ∇𝓛(θ)``, ``θ ← θ − v`` converges with ``ρ = (√κ − 1)/(√κ + 1)``: the condition
    number ``κ = λ_max/λ_min`` enters as ``√κ`` instead of ``κ``.

    Args:
      l_min: ``λ_min > 0``, the smallest eigenvalue of the Hessian (a scalar).
      l_max: ``λ_max ≥ λ_min``, the largest (a scalar).

    Returns:
      :class:`Tuning` ``(η, γ, ρ)``.

    Example:
      >>> [round(float(v), 4) for v in optimal_momentum(1.0, 100.0)]  # √κ = 10: 4/11², (9/11)², 9/11
      [0.0331, 0.6694, 0.8182]

    Reference: ``ch06-polyak1964some``; ``ch06-goh2017momentum``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    lo, hi = _check_spectrum(l_min, l_max)
    q = (jnp.sqrt(hi / lo) - 1) / (jnp.sqrt(hi / lo) + 1)
    return Tuning(4 / (jnp.sqrt(hi) + jnp.sqrt(lo)) ** 2, q**2, q)


def optimal_nesterov(l_min: ArrayLike, l_max: ArrayLike) -> Tuning:
    """Nesterov's method with its textbook constants: ``η = 1/λ_max``, ``γ = (√κ − 1)/(√κ + 1)``, ``ρ = 1 − 1/√κ``.

    The constants for a strongly convex quadratic with ``κ = λ_max/λ_min``; the update is
    ``v ← γ v + η ∇𝓛(θ − γ v)``, ``θ ← θ − v`` (:func:`dlbook.optim.nesterov`).

    Args:
      l_min: ``λ_min > 0``, the smallest eigenvalue of the Hessian (a scalar).
      l_max: ``λ_max ≥ λ_min``, the largest (a scalar).

    Returns:
      :class:`Tuning` ``(η, γ, ρ)``.

    Example:
      >>> [round(float(v), 4) for v in optimal_nesterov(1.0, 100.0)]  # √κ = 10: 1/100, 9/11, 1 − 1/10
      [0.01, 0.8182, 0.9]

    Reference: ``ch06-nesterov1983method``; ``ch06-sutskever2013importance``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    lo, hi = _check_spectrum(l_min, l_max)
    k = hi / lo
    return Tuning(1 / hi, (jnp.sqrt(k) - 1) / (jnp.sqrt(k) + 1), 1 - 1 / jnp.sqrt(k))


def gradient_variance(loss_fn: LossFn, params: PyTree, data: tuple, batch_size: int, *, key: Array,
                      num_draws: int = 256) -> Array:
    """``E‖g_B − g‖²``: how far the gradient on a random mini-batch strays from the full gradient, estimated.

    ``g_B`` is the gradient on ``batch_size`` rows of ``data`` drawn without replacement, ``g`` the gradient on all
    of them; the mean is over ``num_draws`` batches.  For per-example gradients with total variance
    ``σ² = (1/n) Σᵢ ‖gᵢ − g‖²`` sampling theory gives ``E‖g_B − g‖² = (σ²/B) · (n − B)/(n − 1)``
    (:func:`dlbook.theory.sampling_variance`): the ``1/B`` law, exactly 0 at ``B = n``.  The tests check the
    estimate against that formula.

    Args:
      loss_fn: ``loss_fn(params, *rows) -> scalar``, the mean loss over the rows given.
      params: the parameters at which the gradients are taken (any pytree).
      data: a tuple of arrays with one row per example, ``(n, ...)`` each.
      batch_size: ``B`` in ``[1, n]``.
      key: the ``jax.random`` key of the draws.
      num_draws: the number of batches averaged, ≥ 1.

    Returns:
      the estimate, a scalar.

    Example:
      >>> X = jnp.array([[1.0], [3.0]]); y = jnp.zeros(2)
      >>> loss = lambda w, X, y: jnp.mean((X @ w - y) ** 2)
      >>> # gᵢ = 2xᵢ²w = 2, 18 and g = 10: either single row strays by 8, and σ² = 64 gives (64/1)·(1/1)
      >>> float(gradient_variance(loss, jnp.ones(1), (X, y), 1, key=jax.random.key(0)))
      64.0
      >>> float(gradient_variance(loss, jnp.ones(1), (X, y), 2, key=jax.random.key(0)))   # B = n: g_B = g
      0.0

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    check_callable("loss_fn", loss_fn)
    data, n, batch_size = check_batches(data, batch_size, key)
    num_draws = check_int("num_draws", num_draws, minimum=1)
    grad = jax.grad(loss_fn)
    full = grad(params, *data)

    def one(k):
        idx = epoch_batches(n, batch_size, key=k)[0]
        g = grad(params, *(a[idx] for a in data))
        return sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(full)))

    return jnp.mean(lax.map(one, jax.random.split(key, num_draws)))


def momentum_matrix(learning_rate: ArrayLike, gamma: ArrayLike, curvature: ArrayLike) -> Array:
    """The iteration matrix of heavy-ball momentum on ``½ λ e²``: ``(e_{t+1}, e_t) = M (e_t, e_{t−1})``.

    With ``v_t = θ_{t−1} − θ_t`` the update ``v ← γ v + η λ e``, ``θ ← θ − v`` becomes
    ``e_{t+1} = (1 + γ − ηλ) e_t − γ e_{t−1}``, so ``M = [[1 + γ − ηλ, −γ], [1, 0]]``.  Its eigenvalues solve
    ``r² − (1 + γ − ηλ) r + γ = 0``: two positive real roots for ``ηλ < (1 − √γ)²`` (over-damped, monotone
    decay); complex with ``|r| = √γ`` for ``(1 − √γ)² < ηλ < (1 + √γ)²`` (under-damped, the error oscillates),
    a repeated root at either end (critically damped); two negative real roots for ``ηλ > (1 + √γ)²`` (the
    error changes sign every step).  Both have ``|r| < 1`` exactly when ``0 < ηλ < 2(1 + γ)`` (for ``0 ≤ γ < 1``): momentum is
    stable up to ``η < 2(1 + γ)/λ_max``, not ``2/λ_max``.  On a quadratic each eigen-direction of the Hessian has
    its own ``M``.

    Args:
      learning_rate: ``η``, a scalar.
      gamma: the momentum ``γ``, a scalar.
      curvature: ``λ``, the curvature (a Hessian eigenvalue), a scalar.

    Returns:
      ``M``, shape ``(2, 2)``.

    Example:
      >>> momentum_matrix(0.5, 0.25, 1.0).tolist()          # 1 + ¼ − ½ = ¾; r² − ¾ r + ¼ has complex roots
      [[0.75, -0.25], [1.0, 0.0]]

    Reference: ``ch06-polyak1964some``; ``ch06-goh2017momentum``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    for name, v in (("learning_rate", learning_rate), ("gamma", gamma), ("curvature", curvature)):
        check_finite(name, v)
        check_scalar(name, v)
    eta, g, lam = (jnp.asarray(v, jnp.result_type(float)) for v in (learning_rate, gamma, curvature))
    return jnp.array([[1 + g - eta * lam, -g], [jnp.ones_like(g), jnp.zeros_like(g)]])


def noise_scale(per_example_grads: ArrayLike, hessian: ArrayLike | None = None) -> Array:
    """The gradient noise scale ``B_noise = tr(Σ)/‖G‖²`` (with a Hessian: ``tr(HΣ)/(Gᵀ H G)``).

    ``G = (1/n) Σᵢ gᵢ`` is the full gradient and ``Σ = (1/n) Σᵢ (gᵢ − G)(gᵢ − G)ᵀ`` the covariance of the per-example
    gradients, so ``tr(Σ) = σ²`` of :func:`sampling_variance`.  A batch of ``B`` has noise ``σ²/B``; it is as large
    as the signal ``‖G‖²`` at ``B = B_noise``.  McCandlish et al. show that with the best learning rate per batch,
    the gain of one step is ``∝ 1/(1 + B_noise/B)``: batches well below ``B_noise`` scale perfectly (twice the batch,
    half the steps), batches well above it gain almost nothing per step.  The Hessian form weights each direction
    by its curvature (the exact statement on a quadratic); without it ("simple" noise scale) all count alike.

    Args:
      per_example_grads: ``gᵢ``, shape ``(n, p)``, one flattened gradient per example (``n ≥ 2``).
      hessian: optional ``H``, shape ``(p, p)``.

    Returns:
      ``B_noise``, a scalar.

    Example:
      >>> g = jnp.array([[0.0, 1.0], [2.0, 1.0]])      # G = (1, 1), ‖G‖² = 2; deviations (∓1, 0): tr(Σ) = 1
      >>> float(noise_scale(g))
      0.5
      >>> float(noise_scale(g, jnp.diag(jnp.array([0.0, 1.0]))))   # H ignores the noisy direction: tr(HΣ) = 0
      0.0

    Reference: ``ch06-mccandlish2018empirical``.

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    g = as_array("per_example_grads", per_example_grads)
    check_ndim("per_example_grads", g, 2, "(n, p)")
    if g.shape[0] < 2:
        raise ValueError(f"per_example_grads must have at least 2 rows (examples), got {g.shape[0]}")
    G = jnp.mean(g, axis=0)
    dev = g - G
    if hessian is None:
        return jnp.mean(jnp.sum(dev**2, axis=1)) / jnp.sum(G**2)
    H = as_array("hessian", hessian)
    check_ndim("hessian", H, 2, "(p, p)")
    if H.shape != (g.shape[1], g.shape[1]):
        raise ValueError(f"hessian must have shape ({g.shape[1]}, {g.shape[1]}), got {tuple(H.shape)}")
    return jnp.mean(jnp.sum((dev @ H) * dev, axis=1)) / (G @ H @ G)


def top_hessian_eigenvalue(loss_fn: LossFn, params: PyTree, args: tuple = (), *, key: Array,
                           num_iters: int = 20) -> Array:
    """The sharpness ``λ_max(∇²𝓛)`` at ``params``, by power iteration ``v ← Hv/‖Hv‖`` on Hessian-vector products.

    ``Hv`` is the directional derivative of the gradient, ``jax.jvp(jax.grad(𝓛), (w,), (v,))``
    (:func:`dlbook.curvature.hvp_fn`): the Hessian is never formed.  For both ends of the spectrum at once, with
    eigenvectors, use :func:`dlbook.curvature.lanczos`.  After ``num_iters`` products from a random unit ``v`` (drawn with ``key``) the Rayleigh quotient
    ``vᵀHv`` is returned.  Power iteration finds the eigenvalue of largest *modulus*; at or near a minimum that is
    the largest (positive) one.  It converges like ``(λ₂/λ₁)^k``: more iterations when the top two are close.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar``.
      params: the point (any pytree of float arrays).
      args: extra arguments of ``loss_fn`` (the data).
      key: the ``jax.random`` key of the starting vector.
      num_iters: Hessian-vector products, ≥ 1.

    Returns:
      the estimate of ``λ_max``, a scalar.

    Example:
      >>> loss = lambda w: 0.5 * (w[0] ** 2 + 5 * w[1] ** 2)    # H = diag(1, 5)
      >>> round(float(top_hessian_eigenvalue(loss, jnp.zeros(2), key=jax.random.key(0))), 4)
      5.0

    Reference: ``ch06-keskar2017large`` (sharpness of minima).

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    check_callable("loss_fn", loss_fn)
    check_key("key", key)
    num_iters = check_int("num_iters", num_iters, minimum=1)
    flat, hvp = hvp_fn(loss_fn, params, args)   # forward-over-reverse products Hv (dlbook.curvature)
    v = jax.random.normal(key, flat.shape, flat.dtype)
    v = lax.fori_loop(0, num_iters, lambda _, v: (lambda h: h / jnp.linalg.norm(h))(hvp(v)), v / jnp.linalg.norm(v))
    return v @ hvp(v)
