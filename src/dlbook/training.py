"""Training a small classifier and watching it: train, validation (and test) curves from one ``lax.scan``.

:func:`fit` trains an MLP of :mod:`dlbook.model` with softmax cross-entropy on integer labels, and every
``eval_every`` steps measures the loss and accuracy of the current parameters on the training set and on
held-out sets.  The regularizers of :mod:`dlbook.regularization` are switched on by its arguments:

* ``l2`` / ``l1``: penalties ``(λ₂/2) Σ w² + λ₁ Σ |w|`` on the weight matrices, added to the objective;
* ``dropout``: inverted dropout on every hidden layer, a fresh mask each step;
* ``noise``: Gaussian noise of that standard deviation added to the inputs, fresh each step;
* ``max_shift``: each step trains on randomly shifted copies of the images (data augmentation).

The curves are always measured in *evaluation mode* (no dropout, no noise, no penalty, the original
images), so the training curve and the validation curve differ only in the data: their gap is the
generalisation gap.  What the optimizer actually minimised at each step is returned too (``objective``).

:func:`diagnose` reads a pair of curves the way the notes do, by the trend of each over the second half
of training (:func:`trend`): the five patterns of :data:`PATTERNS` (overfitting shows as two trend pairs).

:func:`ablate_units` removes each hidden unit in turn and measures the loss and accuracy without it: how
much a trained network relies on any single unit (what dropout is meant to reduce).

λ, the dropout rate, the noise level and the learning rate (inside the optimizer) may be traced, and all
randomness comes from ``key``: so ``jax.vmap`` over any of them (and over the seed of
:func:`dlbook.model.init_mlp`) trains many networks in one compiled call.

Chapter: ``book/ch05_regularization.ipynb``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dlbook import optim
from dlbook import regularization as reg
from dlbook._checks import (
    as_array,
    check_image_shape,
    check_int,
    check_key,
    check_non_negative,
    check_optimizer,
    check_positive,
    check_probability,
    check_scalar,
    is_concrete,
)
from dlbook.activations import IDENTITY, RELU, Activation
from dlbook.losses import SOFTMAX_CROSS_ENTROPY
from dlbook.model import Layer, check_labels, check_network, classify, forward, loss_value, num_classes

Array = jax.Array

__all__ = ["Curves", "evaluate", "fit", "window_means", "input_sensitivity", "ablate_units", "PATTERNS", "trend_windows", "trend",
           "diagnose"]


class Curves(NamedTuple):
    """A training run: final parameters and the curves measured every ``eval_every`` steps.

    ``train_loss[k]``, ``val_loss[k]``, … are measured after ``k · eval_every`` steps (``k = 0`` is the
    initial network), in evaluation mode; ``test_*`` are ``None`` unless a test set was given.
    ``objective[t]`` is what step ``t`` minimised (one dropout/noise/augmentation draw, plus penalties).

    Example:
      >>> from dlbook.model import Layer
      >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0]]); y = jnp.array([0, 1])
      >>> run = fit([Layer(jnp.zeros((2, 2)), jnp.zeros(2))], (X, y), (X, y), optimizer=optim.sgd(1.0),
      ...           num_steps=4, key=jax.random.key(0), eval_every=2)
      >>> run.train_loss.shape, run.objective.shape, run.test_loss     # 4 // 2 + 1 points, one objective a step
      ((3,), (4,), None)

    Chapter: ``book/ch05_regularization.ipynb``.
    """

    params: list[Layer]
    train_loss: Array
    val_loss: Array
    train_accuracy: Array
    val_accuracy: Array
    test_loss: Array | None
    test_accuracy: Array | None
    objective: Array


def _check_set(name: str, data, params, activation) -> tuple[Array, Array]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, labels), got {type(data).__name__}")
    X, labels = data
    X, _ = check_network(params, X, activation=activation)
    if params[-1].W.shape[0] < 2:
        raise ValueError(f"params must end in one output per class (a softmax classifier, at least 2), got "
                         f"{params[-1].W.shape[0]} output")
    labels = check_labels(f"{name} labels", labels, X.shape[0], num_classes(params))
    return jnp.asarray(X), jnp.asarray(labels)


def evaluate(params: list[Layer], X: ArrayLike, labels: ArrayLike, *,
             activation: Activation = RELU) -> tuple[Array, Array]:
    """Mean softmax cross-entropy and accuracy of a classifier (scores from the last layer, no dropout).

    The loss is ``−(1/n) Σᵢ log softmax(z^L(xᵢ))_{yᵢ}`` and the accuracy ``mean(classify(z^L) = y)`` (:func:`dlbook.model.classify`: argmax), with the scores
    ``z^L`` of the network in evaluation mode.

    Args:
      params: the network (a list of :class:`dlbook.model.Layer`); its last layer has one output per class.
      X: the inputs, ``(n, n_0)``.
      labels: integer class indices, ``(n,)``.
      activation: the hidden layers' activation (default ReLU).

    Returns:
      ``(loss, accuracy)``, two scalars.

    Example:
      >>> from dlbook.model import init_mlp
      >>> params = init_mlp((4, 3), key=jax.random.key(0))
      >>> loss, acc = evaluate(params, jnp.zeros((2, 4)), jnp.array([0, 1]))
      >>> round(float(loss), 4), float(acc)          # all scores 0: −log(1/3) = log 3, and argmax picks class 0
      (1.0986, 0.5)

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X, labels = _check_set("data", (X, labels), params, activation)
    return _evaluate(params, X, labels, activation)


def _evaluate(params, X, labels, activation):
    scores = forward(params, X, activation=activation, output=IDENTITY).activations[-1]
    Y = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    loss = jnp.mean(SOFTMAX_CROSS_ENTROPY.value(scores, Y))
    return loss, jnp.mean(classify(scores) == labels)


def fit(params: list[Layer], train: tuple[ArrayLike, ArrayLike], val: tuple[ArrayLike, ArrayLike], *,
        optimizer: optim.GradientTransformation, num_steps: int, key: Array,
        activation: Activation = RELU, l2: ArrayLike = 0.0, l1: ArrayLike = 0.0, dropout: ArrayLike = 0.0,
        noise: ArrayLike = 0.0, max_shift: int = 0, image_shape: tuple[int, int] = (8, 8), eval_every: int = 1,
        test: tuple[ArrayLike, ArrayLike] | None = None) -> Curves:
    """Full-batch training of a classifier with optional regularizers; returns its train/validation curves.

    Each of the ``num_steps`` steps is one :func:`dlbook.optim.step` on::

        mean_i CE(softmax(f(x̃_i)), y_i) + (λ₂/2) Σ w² + λ₁ Σ |w|

    where ``x̃`` is the training input after augmentation (random shifts up to ``max_shift`` pixels) and
    input noise, and ``f`` drops hidden units at rate ``dropout``, all drawn afresh each step from ``key``.
    With the whole training set in every step, one step is one pass over the data (an epoch).

    Args:
      params: the initial network (:func:`dlbook.model.init_mlp`); its last layer has one output per class.
      train, val: pairs ``(X, labels)``, ``X`` ``(n, n_0)`` and integer ``labels`` ``(n,)``.
      optimizer: a :class:`dlbook.optim.GradientTransformation` (e.g. ``sgd(α)``; ``α`` may be traced).
      num_steps: number of steps, a multiple of ``eval_every`` (static).
      key: the ``jax.random`` key for dropout masks, noise and augmentation.
      activation: the hidden layers' activation (default ReLU).
      l2, l1: penalty strengths ``λ₂, λ₁ ≥ 0`` (may be traced).
      dropout: hidden-unit dropout rate in ``[0, 1)`` (may be traced).
      noise: standard deviation ``≥ 0`` of the Gaussian noise added to the inputs (may be traced).
      max_shift: largest random shift in pixels for augmentation (static; 0 = none).
      image_shape: the images' ``(height, width)``, two ints ≥ 1 with ``height · width = n_0`` (checked when
        ``max_shift`` is not 0).
      eval_every: measure the curves every this many steps (static).
      test: an optional third pair ``(X, labels)`` measured like ``val`` (never used for any decision).

    Returns:
      :class:`Curves` with ``num_steps // eval_every + 1`` points per curve and ``num_steps`` objectives.

    Example:
      One linear layer from zero weights on two examples: the scores start equal, so the loss is ``log 2``; the
      gradient ``(1/n) Σ (softmax(z) − y) xᵀ = ±¼`` moves the weights to ``W = [[−¼, ¼], [¼, −¼]]`` with
      ``α = 1``, and each example's true class then leads by ``½``: the loss is ``log(1 + e^(−½))``.

      >>> from dlbook.model import Layer
      >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0]]); y = jnp.array([0, 1])
      >>> run = fit([Layer(jnp.zeros((2, 2)), jnp.zeros(2))], (X, y), (X, y), optimizer=optim.sgd(1.0),
      ...           num_steps=1, key=jax.random.key(0))
      >>> [round(float(v), 4) for v in run.train_loss], run.params[0].W.tolist()   # log 2, log(1 + e^(−½))
      ([0.6931, 0.4741], [[-0.25, 0.25], [0.25, -0.25]])
      >>> run.train_accuracy.tolist()                          # tied scores pick class 0; then both right
      [0.5, 1.0]

    Reference: ``ch05-goodfellow2016deep`` (regularization for deep learning).

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X, labels = _check_set("train", train, params, activation)
    sets = [_check_set("val", val, params, activation)]
    if test is not None:
        sets.append(_check_set("test", test, params, activation))
    check_optimizer("optimizer", optimizer)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    if num_steps % eval_every:
        raise ValueError(f"num_steps must be a multiple of eval_every = {eval_every}, got {num_steps}")
    check_key("key", key)
    for name, value in (("l2", l2), ("l1", l1), ("noise", noise)):
        check_non_negative(name, value)
        check_scalar(name, value, "() (a scalar; vmap over fit for several)")
    check_probability("dropout", dropout, "a dropout rate")
    if is_concrete(max_shift):
        max_shift = check_int("max_shift", max_shift, minimum=0)
    use_shift = not (is_concrete(max_shift) and max_shift == 0)
    if use_shift:
        h, w = check_image_shape(image_shape)
        if h * w != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} has {h * w} pixels but X has {X.shape[1]} columns")
    use_noise = not (is_concrete(noise) and float(noise) == 0.0)
    Y = jax.nn.one_hot(labels, params[-1].W.shape[0], dtype=X.dtype)

    def objective(p, X_step, k_drop):
        data = loss_value(p, X_step, Y, activation=activation, output=IDENTITY,
                          loss=SOFTMAX_CROSS_ENTROPY, dropout=dropout, key=k_drop)
        return data + reg.l2_penalty(p, l2) + reg.l1_penalty(p, l1)

    def step(carry, t):
        p, state = carry
        k_aug, k_noise, k_drop = jax.random.split(jax.random.fold_in(key, t), 3)
        X_step = reg.augment_images(X, key=k_aug, image_shape=tuple(image_shape), max_shift=max_shift) if use_shift else X
        if use_noise:
            X_step = reg.gaussian_noise(X_step, noise, key=k_noise)
        p, state, value = optim.step(objective, p, state, optimizer, X_step, k_drop)
        return (p, state), value

    def measure(p):
        return [_evaluate(p, Xs, ys, activation) for Xs, ys in [(X, labels), *sets]]

    def chunk(carry, k):
        carry, values = lax.scan(step, carry, k * eval_every + jnp.arange(eval_every))
        return carry, (measure(carry[0]), values)

    params = list(params)
    first = measure(params)
    (params, _), (later, values) = lax.scan(chunk, (params, optimizer.init(params)), jnp.arange(num_steps // eval_every))
    curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, later)
    (train_loss, train_acc), (val_loss, val_acc) = curves[0], curves[1]
    test_loss, test_acc = curves[2] if test is not None else (None, None)
    return Curves(params, train_loss, val_loss, train_acc, val_acc, test_loss, test_acc, values.reshape(-1))


def window_means(objective: ArrayLike, eval_every: int) -> Array:
    """The per-step ``objective`` of :func:`fit` averaged over windows of ``eval_every`` steps (last axis).

    Point ``k`` is ``(1/E) Σ_{t=kE}^{(k+1)E−1} objective[t]`` with ``E = eval_every``: the training-mode loss on the
    same time axis as the curves (without their point 0).

    Args:
      objective: ``(..., T)`` with ``T`` a multiple of ``eval_every``.
      eval_every: the window ``E`` ≥ 1.

    Returns:
      ``(..., T // E)``.

    Example:
      >>> window_means(jnp.arange(6.0), 3).tolist()            # (0 + 1 + 2)/3, (3 + 4 + 5)/3
      [1.0, 4.0]

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    o = jnp.asarray(as_array("objective", objective))
    eval_every = check_int("eval_every", eval_every, minimum=1)
    if o.ndim < 1 or o.shape[-1] % eval_every:
        raise ValueError(f"objective must have a last axis that is a multiple of eval_every = {eval_every}, got shape {o.shape}")
    return o.reshape(*o.shape[:-1], o.shape[-1] // eval_every, eval_every).mean(axis=-1)


def input_sensitivity(params: list[Layer], X: ArrayLike, *, activation: Activation = RELU) -> Array:
    """How strongly the scores react to the input: the mean over the rows of ``X`` of ``‖∂z^L/∂x‖_F``.

    ``z^L`` are the last layer's scores (no dropout); the Jacobian ``(n_L, n_0)`` of each example comes
    from ``jax.jacfwd``.  A smaller value means a smoother function of the input, the quantity that
    training with input noise penalises.

    Args:
      params: the network (a list of :class:`dlbook.model.Layer`).
      X: the inputs, ``(n, n_0)``.
      activation: the hidden layers' activation (default ReLU).

    Returns:
      a scalar.

    Example:
      >>> params = [Layer(jnp.array([[3.0, 4.0]]), jnp.zeros(1))]          # one linear layer: ∂z/∂x = W
      >>> float(input_sensitivity(params, jnp.ones((2, 2)), activation=IDENTITY))   # ‖W‖_F = √(3² + 4²)
      5.0

    Reference: ``ch05-bishop1995training``.

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X, _ = check_network(params, X, activation=activation)

    def scores(x):
        return forward(params, x[None], activation=activation, output=IDENTITY).activations[-1][0]

    J = jax.vmap(jax.jacfwd(scores))(jnp.asarray(X))
    return jnp.mean(jnp.sqrt(jnp.sum(J**2, axis=(1, 2))))


def ablate_units(params: list[Layer], X: ArrayLike, labels: ArrayLike, *, layer: int = 1,
                 activation: Activation = RELU) -> tuple[Array, Array]:
    """Loss and accuracy with each unit of hidden layer ``layer`` removed in turn (its output ``a^l_j`` set to 0).

    Removing unit ``j`` of layer ``l`` is zeroing column ``j`` of ``W^{l+1}``: nothing it computes reaches the
    next layer.  Comparing :func:`evaluate` with these values measures how much the network relies on
    each single unit, the co-adaptation that dropout is meant to prevent.

    Args:
      params: the network (a list of :class:`dlbook.model.Layer`) with at least one hidden layer.
      X: the inputs, ``(n, n_0)``.
      labels: integer class indices, ``(n,)``.
      layer: which hidden layer, ``1 ≤ l ≤ L − 1`` (static).
      activation: the hidden layers' activation (default ReLU).

    Returns:
      ``(loss, accuracy)``, each ``(n_l,)``: the values of :func:`evaluate` without unit ``j``.

    Example:
      >>> params = [Layer(jnp.eye(2), jnp.zeros(2)), Layer(jnp.eye(2), jnp.zeros(2))]   # copies x through
      >>> X = jnp.array([[2.0, 0.0], [0.0, 1.0]]); y = jnp.array([0, 1])
      >>> ablate_units(params, X, y)[1].tolist()   # without unit 1, example 1's scores tie and class 0 wins
      [1.0, 0.5]

    Reference: ``ch05-srivastava2014dropout`` (co-adaptation).

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    X, labels = _check_set("data", (X, labels), params, activation)
    layer = check_int("layer", layer, minimum=1)
    if layer > len(params) - 1:
        raise ValueError(f"layer must be a hidden layer in [1, {len(params) - 1}], got {layer}")
    W = params[layer].W

    def without(j):
        p = list(params)
        p[layer] = p[layer]._replace(W=W.at[:, j].set(0.0))
        return _evaluate(p, X, labels, activation)

    return jax.vmap(without)(jnp.arange(W.shape[1]))


#: The five patterns of a (training, validation) pair of loss curves, keyed by their trends, and what each
#: suggests (overfitting has two keys: validation flat or rising).
PATTERNS = {
    ("falling", "falling"): "still learning",
    ("falling", "flat"): "overfitting",
    ("falling", "rising"): "overfitting",
    ("flat", "falling"): "check the data split",
    ("flat", "flat"): "converged or stuck",
    ("rising", "rising"): "diverging",
}


def _windows(c: np.ndarray, window: float) -> tuple[int, int]:
    """Where the middle window of a curve starts, and the number ``w`` of points in each window."""
    if c.ndim < 1 or c.shape[-1] < 4:
        raise ValueError(f"curve must have at least 4 points on its last axis (shape (..., T)), got shape {c.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 < window <= 0.5:
        raise ValueError(f"window must be in (0, 0.5] (a fraction of the curve), got {window}")
    w = max(1, int(round(window * c.shape[-1])))
    return c.shape[-1] // 2 - w // 2, w


def trend_windows(curve: ArrayLike, *, window: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The two means :func:`trend` compares: over the points around the middle of a curve and over its last points.

    Each window holds ``w = max(1, round(window · T))`` points; the middle one starts at ``T // 2 − w // 2``.  Works
    on the last axis: a batch of curves gives one pair of means per curve.

    Args:
      curve: ``(..., T)`` with ``T ≥ 4``.
      window: the fraction of the curve in each window, in ``(0, 0.5]``.

    Returns:
      ``(middle, end)``, each of the leading shape.

    Example:
      >>> [float(m) for m in trend_windows(jnp.arange(10.0), window=0.2)]   # w = 2: means of points 4, 5 and of 8, 9
      [4.5, 8.5]

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    c = np.asarray(as_array("curve", curve), dtype=np.float64)
    start, w = _windows(c, window)
    return c[..., start:start + w].mean(axis=-1), c[..., -w:].mean(axis=-1)


def trend(curve: ArrayLike, *, tol: float = 0.05, window: float = 0.1) -> str:
    """``"falling"``, ``"flat"`` or ``"rising"``: the trend of a loss curve over the second half of training.

    Compares the mean of the last ``window`` of the curve with the mean of the same number of points
    around its middle (:func:`trend_windows`) on a log scale, ``r = log(end / middle)``, so a loss going from
    0.002 to 0.001 falls as clearly as one going from 2 to 1: ``r < −tol`` is falling, ``r > tol`` rising, and
    flat in between.  A curve that reaches nan or inf from its middle window on is rising (it diverged).

    Args:
      curve: one loss curve, ``(T,)`` with ``T ≥ 4``, positive.
      tol: the flat band for ``r``, > 0.
      window: the fraction of the curve in each window, in ``(0, 0.5]``.

    Example:
      >>> # r = log(1.05/1.5) = −0.36, log(0.3/0.3) = 0 and log(10⁶/10³) > 0
      >>> trend(jnp.linspace(2.0, 1.0, 100)), trend(jnp.full(100, 0.3)), trend(jnp.geomspace(1, 1e6, 100))
      ('falling', 'flat', 'rising')

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    c = np.asarray(as_array("curve", curve), dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"curve must be one curve of at least 4 points (shape (T,)), got shape {c.shape}")
    check_positive("tol", tol)
    start, _ = _windows(c, window)
    if not np.all(np.isfinite(c[start:])):
        return "rising"
    middle, end = trend_windows(c, window=window)
    if middle <= 0 or end <= 0:
        raise ValueError("curve must be positive (a loss) to compare on a log scale")
    r = np.log(end / middle)
    return "falling" if r < -tol else "rising" if r > tol else "flat"


def diagnose(train_loss: ArrayLike, val_loss: ArrayLike, *, tol: float = 0.05, window: float = 0.1) -> str:
    """The pattern of :data:`PATTERNS` that a training and a validation loss curve make (or ``"none of the five"``).

    The pair ``(trend(train_loss), trend(val_loss))`` looked up in :data:`PATTERNS`, e.g. training falling while
    validation is flat or rising is overfitting.

    Args:
      train_loss: the training curve, ``(T,)``.
      val_loss: the validation curve, ``(T,)``.
      tol: the flat band of :func:`trend`.
      window: the window fraction of :func:`trend`.

    Example:
      >>> t = jnp.linspace(0, 1, 100)
      >>> diagnose(jnp.exp(-5 * t), 0.3 + (t - 0.3) ** 2)            # train keeps falling, validation turns up
      'overfitting'

    Chapter: ``book/ch05_regularization.ipynb``.
    """
    pair = (trend(train_loss, tol=tol, window=window), trend(val_loss, tol=tol, window=window))
    return PATTERNS.get(pair, "none of the five")
