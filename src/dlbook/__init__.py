"""dlbook: the JAX kernels, figures and sliders behind the interactive textbook.

One module per idea; each function's docstring names the chapter that explains it.

* :mod:`dlbook.surfaces` — test losses (quadratics, surfaces with several minima)
* :mod:`dlbook.optim` — optimizers as ``init``/``update`` pairs (optax style)
* :mod:`dlbook.descent` — gradient-descent runners (``lax.scan`` trajectories, ``vmap`` sweeps)
* :mod:`dlbook.data` — data sets (real ones from scikit-learn, synthetic ones) and input normalisation
* :mod:`dlbook.linear` — linear regression
* :mod:`dlbook.logistic` — logistic regression with its closed-form gradient
* :mod:`dlbook.activations` — activation functions with their derivatives, stable at the extremes
* :mod:`dlbook.backprop` — an MLP's forward pass and chapter 2's backward pass, written by hand
* :mod:`dlbook.losses` — losses (MSE, MAE, Huber, cross-entropies from probabilities or logits, entropy, KL)
* :mod:`dlbook.regularization` — weight penalties, dropout, noise, image augmentation, early stopping
* :mod:`dlbook.training` — training a classifier with regularizers, with train/validation/test curves
* :mod:`dlbook.parallel` — one batch split across several devices (data parallelism)
* :mod:`dlbook.plotting` — plot helpers
* :mod:`dlbook.widgets` — explorers: sliders that work live and in the static book; progress bars
"""

from dlbook import (
    activations,
    backprop,
    data,
    descent,
    linear,
    logistic,
    losses,
    optim,
    parallel,
    plotting,
    regularization,
    training,
    surfaces,
    widgets,
)
from dlbook.backprop import Layer, init_mlp
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
    MinibatchTrajectory,
    critical_learning_rate,
    gradient_descent,
    gradient_descent_sweep,
    gradient_variance,
    minimize,
    optimize,
    optimize_minibatch,
    steps_to_reach,
)
from dlbook.linear import add_bias, least_squares, mse_gradient, mse_hessian, mse_loss, predict
from dlbook.logistic import logistic_gradient, logistic_loss, logistic_predict
from dlbook.losses import mse
from dlbook.optim import GradientTransformation, apply_updates, chain, momentum, nesterov, scale, sgd, trace
from dlbook.plotting import plot_contours, plot_curve_step, plot_descent_1d, plot_losses, plot_network, plot_path
from dlbook.surfaces import grid_values, parabola, quadratic, quadratic_matrix, tilted_double_well, wells
from dlbook.widgets import Explorer, explore, progress, slider

__version__ = "0.1.0"

__all__ = [
    "activations", "backprop", "data", "descent", "linear", "logistic", "losses", "optim", "parallel", "plotting", "regularization", "training",
    "surfaces", "widgets",
    "Layer", "init_mlp",
    "logistic_gradient", "logistic_loss", "logistic_predict",
    "Scaler", "fit_minmax", "fit_standardize", "linear_regression_data", "load_dataset", "make_2d", "normalize", "split",
    "epoch_batches",
    "MinimizeResult", "Trajectory", "critical_learning_rate", "gradient_descent", "gradient_descent_sweep",
    "minimize", "optimize", "steps_to_reach", "MinibatchTrajectory", "optimize_minibatch", "gradient_variance",
    "add_bias", "least_squares", "mse_gradient", "mse_hessian", "mse_loss", "predict",
    "mse",
    "GradientTransformation", "apply_updates", "chain", "momentum", "nesterov", "scale", "sgd", "trace",
    "plot_contours", "plot_curve_step", "plot_descent_1d", "plot_losses", "plot_network", "plot_path",
    "grid_values", "parabola", "quadratic", "quadratic_matrix", "tilted_double_well", "wells",
    "Explorer", "explore", "progress", "slider",
]
