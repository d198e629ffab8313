"""dlbook: the JAX kernels, figures and sliders behind the interactive textbook.

One module per idea, in the order the book needs them; every public function's docstring gives the formula
in the book's notation, an example, the reference and the chapter that teaches it.

* :mod:`dlbook.surfaces` — test losses (quadratics, surfaces with several minima)
* :mod:`dlbook.optim` — optimizers as ``init``/``update`` pairs (optax style) and the one training :func:`~dlbook.optim.step`
* :mod:`dlbook.adaptive` — adaptive learning rates: AdaGrad, RMSProp, AdaDelta, Adam, AdamW (each equal to optax's)
* :mod:`dlbook.schedules` — learning-rate schedules ``t ↦ α(t)``: step and exponential decay, cosine, warm-up
* :mod:`dlbook.descent` — runners: :func:`optimize` (fixed steps, full-batch or mini-batch), :func:`gradient_descent`, :func:`minimize`
* :mod:`dlbook.theory` — closed forms the experiments are checked against (critical and optimal learning rates, batch variance,
  the momentum iteration matrix, the gradient noise scale, the top Hessian eigenvalue)
* :mod:`dlbook.curvature` — the Hessian of any model, Hessian-vector products, Lanczos' extreme eigenpairs, critical points
* :mod:`dlbook.data` — data sets (real ones from scikit-learn, synthetic ones), normalisation, splits, mini-batches
* :mod:`dlbook.linear` — linear regression, polynomial features, ridge
* :mod:`dlbook.logistic` — logistic regression with its closed-form gradient
* :mod:`dlbook.activations` — activation functions with their derivatives, stable at the extremes
* :mod:`dlbook.losses` — losses (MSE, MAE, Huber, Gaussian/Laplace negative log-likelihoods, one cross-entropy for
  probabilities and scores, label smoothing, entropy, KL)
* :mod:`dlbook.model` — the MLP: parameters, the one forward pass, its loss, predictions and accuracy
* :mod:`dlbook.backprop` — chapter 2's backward pass, written by hand, rule by rule
* :mod:`dlbook.normalization` — batch and layer normalization with their hand-written backward passes, BN's running statistics
* :mod:`dlbook.autodiff` — a scalar reverse-mode autodiff (:class:`~dlbook.autodiff.Value`): the computational graph, made visible
* :mod:`dlbook.regularization` — weight penalties and L1's soft threshold, dropout, noise, image augmentation, early stopping
* :mod:`dlbook.initializers` — initializers (Gaussian σ, constant, LeCun, Xavier/Glorot, He/Kaiming, orthogonal), ``jax.nn.initializers``' convention
* :mod:`dlbook.propagation` — signal propagation through depth: per-layer gradient norms, Jacobians and their singular values, activation statistics, weight change
* :mod:`dlbook.training` — :func:`~dlbook.training.fit`: a classifier trained with train/validation/test curves
* :mod:`dlbook.parallel` — one batch split across several devices (data parallelism)
* :mod:`dlbook.plotting` — plot helpers and numbers rounded for printing
* :mod:`dlbook.explorer` — explorers: sliders that work live and in the static book
* :mod:`dlbook.render` — an explorer's views: PNG frames, the static HTML block, the live ipywidgets view
* :mod:`dlbook.session` — how a chapter is run (live in Jupyter or static in the book build); progress bars

Vocabulary.  Four verbs run an optimizer, each with one meaning: ``optimize`` (a fixed number of steps),
``gradient_descent`` (chapter 1's jitted plain GD), ``minimize`` (until the loss stops changing) and ``fit``
(a classifier with its validation curves).  Parameter names follow the book: ``learning_rate`` (α or η),
``gamma`` (momentum γ), ``p`` / ``dropout`` (a dropout rate), ``l2`` / ``l1`` (penalty strengths λ₂, λ₁),
``noise`` (a standard deviation of Gaussian noise), ``image_shape``, ``key`` (a ``jax.random`` key).
"""

from dlbook import (
    activations,
    adaptive,
    autodiff,
    backprop,
    curvature,
    data,
    descent,
    initializers,
    linear,
    logistic,
    losses,
    model,
    normalization,
    optim,
    parallel,
    plotting,
    propagation,
    regularization,
    surfaces,
    theory,
    training,
    explorer,
    render,
    schedules,
    session,
)
from dlbook.data import (
    Scaler,
    fit_minmax,
    fit_standardize,
    linear_regression_data,
    load_dataset,
    epoch_batches,
    make_2d,
    normalize,
    split,
)
from dlbook.descent import (
    MinimizeResult,
    Trajectory,
    gradient_descent,
    gradient_descent_sweep,
    minimize,
    optimize,
    steps_to_reach,
)
from dlbook.linear import add_bias, least_squares, mse_gradient, mse_hessian, mse_loss
from dlbook.logistic import logistic_accuracy, logistic_gradient, logistic_loss, logistic_predict
from dlbook.model import Layer, init_mlp
from dlbook.optim import (GradientTransformation, add_decayed_weights, apply_updates, chain, clip_by_global_norm,
                          momentum, nesterov, scale, sgd, step, trace)
from dlbook.adaptive import adadelta, adagrad, adam, adamw, rmsprop
from dlbook.plotting import (
    plot_contours,
    plot_curve_step,
    plot_descent_1d,
    plot_losses,
    plot_network,
    plot_path,
    rounded,
)
from dlbook.theory import critical_learning_rate, gradient_variance
from dlbook.surfaces import grid_values, parabola, quadratic, quadratic_matrix, tilted_double_well, wells
from dlbook.explorer import Explorer, explore, slider
from dlbook.session import progress

__version__ = "0.1.0"

__all__ = [
    "activations", "adaptive", "autodiff", "backprop", "curvature", "data", "descent", "linear", "logistic", "losses", "model", "normalization", "optim", "parallel",
    "plotting", "initializers", "propagation", "regularization", "surfaces", "theory", "training", "explorer", "render", "schedules", "session",
    "Layer", "init_mlp",
    "logistic_accuracy", "logistic_gradient", "logistic_loss", "logistic_predict",
    "Scaler", "fit_minmax", "fit_standardize", "linear_regression_data", "load_dataset", "make_2d", "normalize", "split",
    "epoch_batches",
    "MinimizeResult", "Trajectory", "critical_learning_rate", "gradient_descent", "gradient_descent_sweep",
    "minimize", "optimize", "steps_to_reach", "gradient_variance",
    "add_bias", "least_squares", "mse_gradient", "mse_hessian", "mse_loss",
    "GradientTransformation", "apply_updates", "chain", "momentum", "nesterov", "scale", "sgd", "step", "trace",
    "add_decayed_weights", "clip_by_global_norm", "adadelta", "adagrad", "adam", "adamw", "rmsprop",
    "plot_contours", "plot_curve_step", "plot_descent_1d", "plot_losses", "plot_network", "plot_path", "rounded",
    "grid_values", "parabola", "quadratic", "quadratic_matrix", "tilted_double_well", "wells",
    "Explorer", "explore", "progress", "slider",
]
