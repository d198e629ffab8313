"""Numerical conventions shared by the kernels.

``dot`` is the one matrix product of the library: full float32 precision on every device.  On GPUs the
default for float32 products may be TF32 (about 3 significant digits), which would make the book's printed
numbers depend on the device.
"""

from functools import partial

import jax
import jax.numpy as jnp

dot = partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)
