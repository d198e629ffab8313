"""Loss functions.  Chapter 1 needs the mean squared error; chapter 4 (损失函数) extends this module.

Chapter: ``book/ch01_gradient_descent.ipynb`` (MSE for linear regression), ``book/ch04_losses.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dlbook._checks import as_array

Array = jax.Array

__all__ = ["mse"]


def mse(predictions: ArrayLike, targets: ArrayLike) -> Array:
    """Mean squared error ``𝓛 = (1/n) Σᵢ (yᵢ − ŷᵢ)²``.

    Args:
      predictions: ``ŷ``, any shape.
      targets: ``y``, the same shape as ``predictions``.

    Example:
      >>> float(mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))
      2.0
    """
    p = as_array("predictions", predictions)
    t = as_array("targets", targets)
    if jnp.shape(p) != jnp.shape(t):
        raise ValueError(
            f"predictions and targets must have the same shape, got {tuple(jnp.shape(p))} and {tuple(jnp.shape(t))}"
        )
    return jnp.mean((jnp.asarray(p) - jnp.asarray(t)) ** 2)
