"""Training a small classifier and watching it: train, validation (and test) curves from one ``lax.scan``.

:func:`fit` trains an MLP of :mod:`dlbook.backprop` with softmax cross-entropy on integer labels, and every
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
of training (:func:`trend`): the five patterns of :data:`PATTERNS`.

λ, the dropout rate, the noise level and the learning rate (inside the optimizer) may be traced, and all
randomness comes from ``key``: so ``jax.vmap`` over any of them (and over the seed of
:func:`dlbook.backprop.init_mlp`) trains many networks in one compiled call.

Chapter: ``book/ch05_regularization.ipynb``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dlbook import backprop as bp
from dlbook import optim
from dlbook import regularization as reg
from dlbook._checks import as_array, check_int, check_key, check_ndim, check_non_negative, check_positive, is_concrete

Array = jax.Array

__all__ = ["Curves", "evaluate", "fit", "window_means", "input_sensitivity", "PATTERNS", "trend", "diagnose"]


class Curves(NamedTuple):
    """A training run: final parameters and the curves measured every ``eval_every`` steps.

    ``train_loss[k]``, ``val_loss[k]``, … are measured after ``k · eval_every`` steps (``k = 0`` is the
    initial network), in evaluation mode; ``test_*`` are ``None`` unless a test set was given.
    ``objective[t]`` is what step ``t`` minimised (one dropout/noise/augmentation draw, plus penalties).
    """

    params: list[bp.Layer]
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
    X, _ = bp._check(params, X, activation=activation)
    labels = bp._check_labels(f"{name} labels", labels, X.shape[0], num_classes=params[-1].W.shape[0])
    return jnp.asarray(X), jnp.asarray(labels)


def evaluate(params: list[bp.Layer], X: ArrayLike, labels: ArrayLike, *,
             activation: bp.Activation = bp.RELU) -> tuple[Array, Array]:
    """Mean softmax cross-entropy and accuracy of a classifier (scores from the last layer, no dropout).

    Example:
      >>> params = bp.init_mlp((4, 3), key=jax.random.key(0))
      >>> loss, acc = evaluate(params, jnp.zeros((2, 4)), jnp.array([0, 1]))
      >>> round(float(loss), 4), float(acc)          # all scores 0: log 3, and argmax picks class 0
      (1.0986, 0.5)
    """
    X, labels = _check_set("data", (X, labels), params, activation)
    return _evaluate(params, X, labels, activation)


def _evaluate(params, X, labels, activation):
    scores = bp.forward(params, X, activation=activation, output=bp.IDENTITY).activations[-1]
    Y = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    loss = jnp.mean(bp.SOFTMAX_CROSS_ENTROPY.value(scores, Y))
    return loss, jnp.mean(jnp.argmax(scores, axis=-1) == labels)


def fit(params: list[bp.Layer], train: tuple[ArrayLike, ArrayLike], val: tuple[ArrayLike, ArrayLike], *,
        optimizer: optim.GradientTransformation, num_steps: int, key: Array,
        activation: bp.Activation = bp.RELU, l2: ArrayLike = 0.0, l1: ArrayLike = 0.0, dropout: ArrayLike = 0.0,
        noise: ArrayLike = 0.0, max_shift: int = 0, image_shape: tuple[int, int] = (8, 8), eval_every: int = 1,
        test: tuple[ArrayLike, ArrayLike] | None = None) -> Curves:
    """Full-batch training of a classifier with optional regularizers; returns its train/validation curves.

    Each of the ``num_steps`` steps takes one gradient of::

        mean_i CE(softmax(f(x̃_i)), y_i) + (λ₂/2) Σ w² + λ₁ Σ |w|

    where ``x̃`` is the training input after augmentation (random shifts up to ``max_shift`` pixels) and
    input noise, and ``f`` drops hidden units at rate ``dropout``, all drawn afresh each step from ``key``.
    With the whole training set in every step, one step is one pass over the data (an epoch).

    Args:
      params: the initial network (:func:`dlbook.backprop.init_mlp`); its last layer has one output per class.
      train, val: pairs ``(X, labels)``, ``X`` ``(n, n_0)`` and integer ``labels`` ``(n,)``.
      optimizer: a :class:`dlbook.optim.GradientTransformation` (e.g. ``sgd(α)``; ``α`` may be traced).
      num_steps: number of steps, a multiple of ``eval_every`` (static).
      key: the ``jax.random`` key for dropout masks, noise and augmentation.
      activation: the hidden layers' activation (default ReLU).
      l2, l1: penalty strengths ``λ₂, λ₁ ≥ 0`` (may be traced).
      dropout: hidden-unit dropout rate in ``[0, 1)`` (may be traced).
      noise: standard deviation ``≥ 0`` of the Gaussian noise added to the inputs (may be traced).
      max_shift: largest random shift in pixels for augmentation (static; 0 = none); ``image_shape`` is
        the images' ``(height, width)``.
      eval_every: measure the curves every this many steps (static).
      test: an optional third pair ``(X, labels)`` measured like ``val`` (never used for any decision).

    Returns:
      :class:`Curves` with ``num_steps // eval_every + 1`` points per curve and ``num_steps`` objectives.

    Example:
      >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0]]); y = jnp.array([0, 1])
      >>> run = fit(bp.init_mlp((2, 8, 2), key=jax.random.key(0)), (X, y), (X, y), optimizer=optim.sgd(1.0),
      ...           num_steps=50, key=jax.random.key(1), eval_every=10)
      >>> run.train_loss.shape, float(run.train_accuracy[-1]), bool(run.val_loss[-1] < run.val_loss[0])
      ((6,), 1.0, True)
    """
    X, labels = _check_set("train", train, params, activation)
    sets = [_check_set("val", val, params, activation)]
    if test is not None:
        sets.append(_check_set("test", test, params, activation))
    optim._check_optimizer("optimizer", optimizer)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    num_steps = check_int("num_steps", num_steps, minimum=0)
    if num_steps % eval_every:
        raise ValueError(f"num_steps must be a multiple of eval_every = {eval_every}, got {num_steps}")
    check_key("key", key)
    for name, value in (("l2", l2), ("l1", l1), ("noise", noise)):
        check_non_negative(name, value)
        check_ndim(name, as_array(name, value), 0, "() (a scalar; vmap over fit for several)")
    reg.check_rate("dropout", dropout)
    if is_concrete(max_shift):
        max_shift = check_int("max_shift", max_shift, minimum=0)
    use_shift = not (is_concrete(max_shift) and max_shift == 0)
    if use_shift:
        h, w = image_shape
        if h * w != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} has {h * w} pixels but X has {X.shape[1]} columns")
    use_noise = not (is_concrete(noise) and float(noise) == 0.0)
    Y = jax.nn.one_hot(labels, params[-1].W.shape[0], dtype=X.dtype)

    def objective(p, X_step, k_drop):
        data = bp.loss_value(p, X_step, Y, activation=activation, output=bp.IDENTITY,
                             loss=bp.SOFTMAX_CROSS_ENTROPY, dropout=dropout, key=k_drop)
        return data + reg.l2_penalty(p, l2) + reg.l1_penalty(p, l1)

    value_and_grad = jax.value_and_grad(objective)

    def step(carry, t):
        p, state = carry
        k_aug, k_noise, k_drop = jax.random.split(jax.random.fold_in(key, t), 3)
        X_step = reg.augment_images(X, key=k_aug, shape=tuple(image_shape), max_shift=max_shift) if use_shift else X
        if use_noise:
            X_step = reg.gaussian_noise(X_step, noise, key=k_noise)
        value, g = value_and_grad(p, X_step, k_drop)
        updates, state = optimizer.update(g, state, p)
        return (optim.apply_updates(p, updates), state), value

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
    """The per-step ``objective`` of :func:`fit` averaged over each window of ``eval_every`` steps (last axis).

    Point ``k`` is the mean of steps ``k·eval_every … (k+1)·eval_every − 1``: the training-mode loss on the
    same time axis as the curves (without their point 0).

    Example:
      >>> window_means(jnp.arange(6.0), 3).tolist()
      [1.0, 4.0]
    """
    o = jnp.asarray(as_array("objective", objective))
    eval_every = check_int("eval_every", eval_every, minimum=1)
    if o.ndim < 1 or o.shape[-1] % eval_every:
        raise ValueError(f"objective must have a last axis that is a multiple of eval_every = {eval_every}, got shape {o.shape}")
    return o.reshape(*o.shape[:-1], o.shape[-1] // eval_every, eval_every).mean(axis=-1)


def input_sensitivity(params: list[bp.Layer], X: ArrayLike, *, activation: bp.Activation = bp.RELU) -> Array:
    """How strongly the scores react to the input: the mean over the rows of ``X`` of ``‖∂z^L/∂x‖_F``.

    ``z^L`` are the last layer's scores (no dropout); the Jacobian ``(n_L, n_0)`` of each example comes
    from ``jax.jacfwd``.  A smaller value means a smoother function of the input, the quantity that
    training with input noise penalises (Bishop 1995).

    Example:
      >>> params = [bp.Layer(jnp.array([[3.0, 4.0]]), jnp.zeros(1))]          # one linear layer: ‖W‖_F = 5
      >>> float(input_sensitivity(params, jnp.ones((2, 2)), activation=bp.IDENTITY))
      5.0
    """
    X, _ = bp._check(params, X, activation=activation)

    def scores(x):
        return bp.forward(params, x[None], activation=activation, output=bp.IDENTITY).activations[-1][0]

    J = jax.vmap(jax.jacfwd(scores))(jnp.asarray(X))
    return jnp.mean(jnp.sqrt(jnp.sum(J**2, axis=(1, 2))))


#: The five shapes of a (training, validation) pair of loss curves and what each suggests.
PATTERNS = {
    ("falling", "falling"): "still learning",
    ("falling", "flat"): "overfitting",
    ("falling", "rising"): "overfitting",
    ("flat", "falling"): "check the data split",
    ("flat", "flat"): "converged or stuck",
    ("rising", "rising"): "diverging",
}


def trend(curve: ArrayLike, *, tol: float = 0.05, window: float = 0.1) -> str:
    """``"falling"``, ``"flat"`` or ``"rising"``: the trend of a loss curve over the second half of training.

    Compares the mean of the last ``window`` of the curve with the mean of the same number of points
    around its middle, on a log scale (``log(end / middle)``), so a loss going from 0.002 to 0.001 falls
    as clearly as one going from 2 to 1; a change within ``±tol`` is flat.  A curve that reaches nan or
    inf from its middle window on is rising (it diverged).

    Example:
      >>> trend(jnp.linspace(2.0, 1.0, 100)), trend(jnp.full(100, 0.3)), trend(jnp.geomspace(1, 1e6, 100))
      ('falling', 'flat', 'rising')
    """
    c = np.asarray(as_array("curve", curve), dtype=np.float64)
    if c.ndim != 1 or c.size < 4:
        raise ValueError(f"curve must be one curve of at least 4 points (shape (T,)), got shape {c.shape}")
    check_positive("tol", tol)
    if not 0 < window <= 0.5:
        raise ValueError(f"window must be in (0, 0.5] (a fraction of the curve), got {window}")
    w = max(1, int(round(window * c.size)))
    start = c.size // 2 - w // 2  # the middle window is c[start:start + w]
    if not np.all(np.isfinite(c[start:])):
        return "rising"
    middle, end = c[start:start + w].mean(), c[-w:].mean()
    if middle <= 0 or end <= 0:
        raise ValueError("curve must be positive (a loss) to compare on a log scale")
    r = np.log(end / middle)
    return "falling" if r < -tol else "rising" if r > tol else "flat"


def diagnose(train_loss: ArrayLike, val_loss: ArrayLike, *, tol: float = 0.05, window: float = 0.1) -> str:
    """The pattern of :data:`PATTERNS` that a training and a validation loss curve make (or ``"none of the five"``).

    Example:
      >>> t = jnp.linspace(0, 1, 100)
      >>> diagnose(jnp.exp(-5 * t), 0.3 + (t - 0.3) ** 2)            # train keeps falling, validation turns up
      'overfitting'
    """
    pair = (trend(train_loss, tol=tol, window=window), trend(val_loss, tol=tol, window=window))
    return PATTERNS.get(pair, "none of the five")
