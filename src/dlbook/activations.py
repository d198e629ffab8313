"""Activation functions and their derivatives, written out, stable at the extremes.

Each activation ``f`` comes with its analytic derivative ``d_f`` (the tests compare both with ``jax.nn``
and ``jax.grad``).  Conventions, where the formula alone does not decide:

* at a kink the derivative takes the value of the branch ``jax.grad`` takes: ``relu'(0) = 0``,
  ``leaky_relu'(0) = 1``, ``elu'(0) = α`` (= 1 for the default ``α = 1``);
* at ``±inf`` each function and derivative is its limit (``swish(−inf) = 0``, ``gelu(−inf) = 0``,
  ``σ'(±inf) = 0``); ``nan`` in, ``nan`` out;
* ``softmax`` and ``log_softmax`` subtract the maximum first, so large inputs do not overflow; their
  derivatives are the Jacobians ``diag(s) − s sᵀ`` and ``I − 1 sᵀ``.

:func:`activation` returns one of them and its derivative as an :class:`Activation` by name (with its
parameter, checked), :func:`choose` picks one by a traced index; :data:`SIGMOID`, :data:`TANH`, :data:`RELU`
and :data:`IDENTITY` are ready-made.

Chapter: ``book/ch03_activations.ipynb`` (used by :mod:`dlbook.model` and :mod:`dlbook.backprop` from
chapter 2 on).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import erfc
from jax.typing import ArrayLike

from dlbook._checks import as_array, check_non_negative, check_positive, check_scalar

__all__ = [
    "sigmoid", "d_sigmoid", "tanh", "d_tanh", "relu", "d_relu", "leaky_relu", "d_leaky_relu", "elu", "d_elu",
    "swish", "d_swish", "gelu", "d_gelu", "identity", "d_identity", "softmax", "softmax_jacobian",
    "log_softmax", "log_softmax_jacobian", "Activation", "activation", "choose", "NAMES", "SIGMOID", "TANH", "RELU",
    "IDENTITY",
]

_SQRT_2 = 1.4142135623730951
_INV_SQRT_2PI = 0.3989422804014327


def _x(x: ArrayLike) -> Array:
    x = jnp.asarray(as_array("x", x))
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    return x


def sigmoid(x: ArrayLike) -> Array:
    """Logistic sigmoid ``σ(x) = 1/(1 + e^{−x})``, in ``(0, 1)``; computed without overflow for any ``x``.

    Elementwise, any shape (floating point).

    Example:
      >>> float(sigmoid(jnp.array(0.0)))                     # σ(0) = 1/(1 + 1)
      0.5
      >>> sigmoid(jnp.array([-1000.0, 1000.0])).tolist()     # the limits 0 and 1, no overflow
      [0.0, 1.0]

    Reference: ``glorot2010understanding`` (saturating sigmoid units in deep networks).
    Chapter: ``book/ch03_activations.ipynb`` (first used in ``book/ch02_backprop.ipynb``).
    """
    return jax.nn.sigmoid(_x(x))


def d_sigmoid(x: ArrayLike) -> Array:
    """Derivative of the sigmoid, ``σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4``, with the maximum at ``x = 0``.

    Elementwise, any shape.

    Example:
      >>> float(d_sigmoid(jnp.array(0.0)))                   # σ(0)(1 − σ(0)) = ½ · ½
      0.25
      >>> d_sigmoid(jnp.array([-jnp.inf, jnp.inf])).tolist()  # saturated: σ'(±inf) = 0
      [0.0, 0.0]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: ArrayLike) -> Array:
    """Hyperbolic tangent ``tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ) = 2σ(2x) − 1``, in ``(−1, 1)`` and zero-centred.

    Elementwise, any shape.

    Example:
      >>> float(tanh(jnp.array(0.0)))                        # (1 − 1)/(1 + 1)
      0.0
      >>> x = jnp.linspace(-3.0, 3.0, 7)
      >>> bool(jnp.allclose(tanh(x), 2 * sigmoid(2 * x) - 1, atol=1e-6))   # a stretched, shifted sigmoid
      True

    Chapter: ``book/ch03_activations.ipynb``.
    """
    return jnp.tanh(_x(x))


def d_tanh(x: ArrayLike) -> Array:
    """Derivative of tanh, ``tanh'(x) = 1 − tanh²(x) ≤ 1``, with the maximum at ``x = 0``.

    Elementwise, any shape.

    Example:
      >>> float(d_tanh(jnp.array(0.0)))                      # 1 − 0², four times σ'(0)
      1.0

    Chapter: ``book/ch03_activations.ipynb``.
    """
    t = tanh(x)
    return 1 - t * t


def relu(x: ArrayLike) -> Array:
    """Rectified linear unit ``relu(x) = max(x, 0)``.

    Elementwise, any shape.

    Example:
      >>> relu(jnp.array([-2.0, 0.0, 3.0])).tolist()
      [0.0, 0.0, 3.0]

    Reference: ``nair2010rectified``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    return jax.nn.relu(_x(x))


def d_relu(x: ArrayLike) -> Array:
    """Derivative of ReLU: ``relu'(x) = 1`` for ``x > 0``, else ``0`` (``relu'(0) = 0``, as ``jax.grad``).

    Elementwise, any shape; ``nan`` stays ``nan``.

    Example:
      >>> d_relu(jnp.array([-2.0, 0.0, 3.0])).tolist()
      [0.0, 0.0, 1.0]

    Reference: ``nair2010rectified``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    return jnp.where(jnp.isnan(x), x, (x > 0).astype(x.dtype))


def leaky_relu(x: ArrayLike, slope: float = 0.01) -> Array:
    """Leaky ReLU: ``f(x) = x`` for ``x ≥ 0``, ``slope · x`` below, so negative inputs keep a small gradient.

    Args:
      x: any shape (elementwise).
      slope: the slope ``≥ 0`` for ``x < 0`` (default 0.01).

    Example:
      >>> leaky_relu(jnp.array([-2.0, 3.0]), slope=0.25).tolist()     # 0.25 · (−2), then 3
      [-0.5, 3.0]

    Reference: ``maas2013rectifier``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    return jax.nn.leaky_relu(_x(x), negative_slope=slope)


def d_leaky_relu(x: ArrayLike, slope: float = 0.01) -> Array:
    """Derivative of Leaky ReLU: ``1`` for ``x ≥ 0``, ``slope`` below (``leaky_relu'(0) = 1``, as ``jax.grad``).

    Args:
      x: any shape (elementwise).
      slope: the slope ``≥ 0`` for ``x < 0`` (default 0.01).

    Example:
      >>> d_leaky_relu(jnp.array([-2.0, 0.0, 3.0]), slope=0.25).tolist()
      [0.25, 1.0, 1.0]

    Reference: ``maas2013rectifier``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    return jnp.where(jnp.isnan(x), x, jnp.where(x >= 0, 1.0, slope).astype(x.dtype))


def elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """Exponential linear unit: ``f(x) = x`` for ``x > 0``, ``α(eˣ − 1)`` below.

    Smooth for ``α = 1``; saturates at ``−α`` for ``x → −inf``.

    Args:
      x: any shape (elementwise).
      alpha: ``α > 0`` (default 1).

    Example:
      >>> float(elu(jnp.array(2.0))), float(elu(jnp.array(0.0)))
      (2.0, 0.0)
      >>> float(elu(jnp.array(-100.0), alpha=2.0))           # α(e^{−100} − 1) ≈ −α
      -2.0

    Reference: ``clevert2016fast``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    return jax.nn.elu(_x(x), alpha=alpha)


def d_elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    """Derivative of ELU: ``1`` for ``x > 0``, ``α eˣ`` below (``elu'(0) = α``, as ``jax.grad``).

    Args:
      x: any shape (elementwise).
      alpha: ``α > 0`` (default 1).

    Example:
      >>> d_elu(jnp.array([0.0, 3.0]), alpha=2.0).tolist()    # α e⁰ = α at the kink, 1 above
      [2.0, 1.0]
      >>> round(float(d_elu(jnp.array(-1.0))), 4)            # e^{−1} = 1/e
      0.3679

    Reference: ``clevert2016fast``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    return jnp.where(x > 0, jnp.ones_like(x), alpha * jnp.exp(jnp.minimum(x, 0)))


def swish(x: ArrayLike, beta: float = 1.0) -> Array:
    """Swish ``swish(x) = x σ(βx)`` (SiLU for ``β = 1``): unbounded above, bounded below, smooth.

    ``swish(−inf) = 0``.

    Args:
      x: any shape (elementwise).
      beta: ``β ≥ 0`` (default 1; ``β = 0`` gives ``x/2``).

    Example:
      >>> float(swish(jnp.array(0.0))), float(swish(jnp.array(-jnp.inf)))
      (0.0, 0.0)
      >>> round(float(swish(jnp.array(1.0))), 4)             # 1 · σ(1) = 1/(1 + e^{−1})
      0.7311
      >>> float(swish(jnp.array(2.0), beta=0.0))             # x σ(0) = x/2
      1.0

    Reference: ``ramachandran2017searching``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), x * jax.nn.sigmoid(beta * x))


def d_swish(x: ArrayLike, beta: float = 1.0) -> Array:
    """Derivative of Swish, ``swish'(x) = σ(βx) + βx σ(βx)(1 − σ(βx))``; ``1`` at ``+inf`` and ``0`` at ``−inf``.

    Args:
      x: any shape (elementwise).
      beta: ``β ≥ 0`` (default 1).

    Example:
      >>> float(d_swish(jnp.array(0.0)))                     # σ(0) + 0
      0.5
      >>> d_swish(jnp.array([-jnp.inf, jnp.inf])).tolist()
      [0.0, 1.0]

    Reference: ``ramachandran2017searching``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    s = jax.nn.sigmoid(beta * x)
    tail = jnp.where(jnp.isinf(x), jnp.zeros_like(x), beta * x * s * (1 - s))
    return s + tail


def gelu(x: ArrayLike) -> Array:
    """Gaussian error linear unit ``gelu(x) = x Φ(x)``, ``Φ`` the standard normal CDF (the exact GELU).

    Elementwise, any shape; ``gelu(−inf) = 0``.

    Example:
      >>> float(gelu(jnp.array(0.0))), float(gelu(jnp.array(-jnp.inf)))
      (0.0, 0.0)
      >>> round(float(gelu(jnp.array(1.0))), 4)              # 1 · Φ(1) = ½ erfc(−1/√2)
      0.8413

    Reference: ``hendrycks2016gaussian``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    return jnp.where(jnp.isneginf(x), jnp.zeros_like(x), x * 0.5 * erfc(-x / _SQRT_2))  # erfc: no cancellation for x ≪ 0


def d_gelu(x: ArrayLike) -> Array:
    """Derivative of GELU, ``gelu'(x) = Φ(x) + x φ(x)`` (``φ`` the normal density); ``1`` at ``+inf``, ``0`` at ``−inf``.

    Elementwise, any shape.

    Example:
      >>> float(d_gelu(jnp.array(0.0)))                      # Φ(0) + 0 · φ(0)
      0.5
      >>> d_gelu(jnp.array([-jnp.inf, jnp.inf])).tolist()
      [0.0, 1.0]

    Reference: ``hendrycks2016gaussian``.
    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    tail = jnp.where(jnp.isinf(x), jnp.zeros_like(x), x * _INV_SQRT_2PI * jnp.exp(-0.5 * x * x))
    return 0.5 * erfc(-x / _SQRT_2) + tail


def identity(x: ArrayLike) -> Array:
    """Identity ``f(x) = x``: no activation (the output of a regression network, or scores for a softmax loss).

    Elementwise, any shape.

    Example:
      >>> identity(jnp.array([-1.5, 2.0])).tolist()
      [-1.5, 2.0]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    return _x(x)


def d_identity(x: ArrayLike) -> Array:
    """Derivative of the identity, ``f'(x) = 1``.

    Elementwise, any shape.

    Example:
      >>> d_identity(jnp.array([-1.5, 2.0])).tolist()
      [1.0, 1.0]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    return jnp.ones_like(_x(x))


def softmax(x: ArrayLike, axis: int = -1) -> Array:
    """Softmax ``s_i = e^{x_i} / Σ_j e^{x_j}``: scores to a probability vector, never overflowing.

    Computed as ``e^{x_i − max x} / Σ_j e^{x_j − max x}``, so no exponent exceeds ``e⁰ = 1``.

    Args:
      x: scores, any shape.
      axis: the axis along which the result sums to 1 (default the last).

    Example:
      >>> softmax(jnp.zeros(4)).tolist()                     # e⁰/(4 e⁰)
      [0.25, 0.25, 0.25, 0.25]
      >>> softmax(jnp.array([1000.0, 1000.0])).tolist()      # e^{1000} overflows; shifted: e⁰/(e⁰ + e⁰)
      [0.5, 0.5]

    Chapter: ``book/ch03_activations.ipynb`` (the output of the classifiers of ``book/ch04_losses.ipynb``).
    """
    x = _x(x)
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(z)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> Array:
    """Log-softmax ``log s_i = x_i − max x − log Σ_j e^{x_j − max x}``: the log-probabilities.

    Finite where softmax underflows to 0 (``log 0 = −inf``).

    Args:
      x: scores, any shape.
      axis: the axis of the classes (default the last).

    Example:
      >>> round(float(log_softmax(jnp.zeros(2))[0]), 4)      # log ½ = −log 2
      -0.6931
      >>> log_softmax(jnp.array([1000.0, 0.0])).tolist()     # log(1/(1 + e^{−1000})) ≈ 0, and −1000 − 0
      [0.0, -1000.0]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return z - jnp.log(jnp.sum(jnp.exp(z), axis=axis, keepdims=True))


def softmax_jacobian(x: ArrayLike) -> Array:
    """Jacobian of softmax, ``∂s_i/∂x_j = s_i (δ_ij − s_j)``: the matrix ``diag(s) − s sᵀ``.

    Args:
      x: a vector ``(n,)``; the result is ``(n, n)``.

    Example:
      >>> softmax_jacobian(jnp.zeros(2)).tolist()            # s = (½, ½): diag(s) − s sᵀ
      [[0.25, -0.25], [-0.25, 0.25]]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (n,), got shape {x.shape}")
    s = softmax(x)
    return jnp.diag(s) - jnp.outer(s, s)


def log_softmax_jacobian(x: ArrayLike) -> Array:
    """Jacobian of log-softmax, ``∂ log s_i / ∂x_j = δ_ij − s_j``: the matrix ``I − 1 sᵀ``.

    Args:
      x: a vector ``(n,)``; the result is ``(n, n)``.

    Example:
      >>> log_softmax_jacobian(jnp.zeros(2)).tolist()        # s = (½, ½): I − 1 sᵀ
      [[0.5, -0.5], [-0.5, 0.5]]

    Chapter: ``book/ch03_activations.ipynb``.
    """
    x = _x(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (n,), got shape {x.shape}")
    return jnp.eye(x.shape[0], dtype=x.dtype) - softmax(x)[None, :]


class Activation(NamedTuple):
    """An elementwise activation ``f`` and its derivative ``df = f'``, both ``z -> array``, with a name.

    The unit of the model (:mod:`dlbook.model`, the forward pass ``a^l = f(z^l)``) and of the hand-written
    backward pass (:mod:`dlbook.backprop`, ``δ^l = ∂ℓ/∂a^l ⊙ df(z^l)``).  Build one by name with
    :func:`activation`, or pick one by a traced index with :func:`choose`.

    Example:
      >>> float(SIGMOID.f(jnp.array(0.0))), float(SIGMOID.df(jnp.array(0.0)))   # σ(0), σ'(0)
      (0.5, 0.25)

    Chapter: ``book/ch03_activations.ipynb`` (the sigmoid network of ``book/ch02_backprop.ipynb``).
    """

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array], Array] | None


_FUNCTIONS = {
    "sigmoid": (sigmoid, d_sigmoid),
    "tanh": (tanh, d_tanh),
    "relu": (relu, d_relu),
    "leaky_relu": (leaky_relu, d_leaky_relu),
    "elu": (elu, d_elu),
    "swish": (swish, d_swish),
    "gelu": (gelu, d_gelu),
    "identity": (identity, d_identity),
}
#: The names :func:`activation` accepts.
NAMES = tuple(_FUNCTIONS)
#: What each parameter must be: ``slope`` (Leaky ReLU) and ``beta`` (Swish) ``≥ 0``, ``alpha`` (ELU) ``> 0``.
_PARAMETERS = {"slope": (check_non_negative, "leaky_relu"), "alpha": (check_positive, "elu"),
               "beta": (check_non_negative, "swish")}


def activation(name: str, **params: ArrayLike) -> Activation:
    """The activation ``name`` (one of :data:`NAMES`) with its parameters, as an :class:`Activation`.

    Args:
      name: ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"swish"``, ``"gelu"`` or
        ``"identity"``.
      params: the activation's parameter, if it has one: ``slope ≥ 0`` for ``"leaky_relu"``, ``alpha > 0`` for
        ``"elu"``, ``beta ≥ 0`` for ``"swish"``; a scalar, which may be traced (a slider value inside ``jit``).

    Example:
      >>> swish2 = activation("swish", beta=2.0)
      >>> float(swish2.f(jnp.array(1.0))) == float(jax.nn.sigmoid(2.0))      # x σ(βx) at x = 1
      True
      >>> float(swish2.df(jnp.array(0.0)))                                   # σ(0) + 0
      0.5

    Chapter: ``book/ch03_activations.ipynb``.
    """
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(NAMES)}")
    f, df = _FUNCTIONS[name]
    allowed = [p for p, (_, owner) in _PARAMETERS.items() if owner == name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no parameters"
        raise TypeError(f"activation {name!r} takes {takes}; got unexpected {', '.join(unknown)}")
    for p, value in params.items():
        _PARAMETERS[p][0](p, value)
        check_scalar(p, value)
    if not params:
        return Activation(name, f, df)
    return Activation(name, partial(f, **params), partial(df, **params))


def choose(index: ArrayLike, options: Sequence[Activation]) -> Activation:
    """The activation ``options[index]``, where ``index`` may be traced (``lax.switch``).

    So one compiled function trains networks with different activations: ``vmap`` over ``index`` runs them
    side by side (every option is then evaluated and the chosen one kept), and an explorer's slider can pick
    the activation without recompiling.  An index outside ``[0, len(options))`` is clipped.

    Example:
      >>> pick = choose(jnp.array(1), [SIGMOID, TANH, RELU])
      >>> float(pick.f(jnp.array(-2.0))) == float(jnp.tanh(-2.0))
      True

    Chapter: ``book/ch03_activations.ipynb``.
    """
    options = list(options) if isinstance(options, (list, tuple)) else options
    if not isinstance(options, list) or not options or not all(isinstance(o, Activation) for o in options):
        raise TypeError("options must be a non-empty sequence of dlbook.activations.Activation (e.g. [SIGMOID, RELU])")
    index = check_scalar("index", index, "() (a scalar; vmap over it for several)")
    i = jnp.clip(jnp.asarray(index).astype(jnp.int32), 0, len(options) - 1)
    fs = [o.f for o in options]
    dfs = [o.df for o in options]
    names = "|".join(o.name for o in options)
    df = None if any(d is None for d in dfs) else (lambda z: jax.lax.switch(i, dfs, z))
    return Activation(f"choose({names})", lambda z: jax.lax.switch(i, fs, z), df)


SIGMOID = activation("sigmoid")
TANH = activation("tanh")
RELU = activation("relu")
IDENTITY = activation("identity")
