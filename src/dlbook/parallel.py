"""Data parallelism: one large batch split across several devices, one gradient.

A mini-batch gradient is a mean over examples, so it can be computed in pieces: each of ``k`` devices takes
``B/k`` rows, computes the mean gradient of its rows, and the ``k`` results are averaged (an *all-reduce*).
:func:`shard_batch` places the rows of a batch across devices with a :class:`jax.sharding.NamedSharding`;
:func:`data_parallel_grad` computes the gradient of such a batch with replicated parameters: ``jax.jit``
inserts the all-reduce itself, and the result equals the single-device gradient up to float rounding.

With one processor there is still a way to see this: start Python with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (before JAX is first used) and the CPU appears as
four devices; :func:`batch_devices` picks those when only one accelerator is present.

Chapter: ``book/ch06_batch_momentum.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp  # noqa: F401 - used in the docstring examples
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlbook._checks import as_array, check_callable

Array = jax.Array
PyTree = Any

__all__ = ["batch_devices", "batch_mesh", "shard_batch", "data_parallel_grad"]


def batch_devices() -> list:
    """The devices to split a batch across: all of ``jax.devices()`` if there are several, else the CPU's.

    On a machine with one GPU (or none) the CPU devices are used, so that a process started with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` shows ``k`` of them.
    """
    devices = jax.devices()
    return list(devices) if len(devices) > 1 else list(jax.devices("cpu"))


def batch_mesh(devices: Sequence | None = None) -> jax.sharding.Mesh:
    """A one-axis mesh named ``"batch"`` over ``devices`` (default :func:`batch_devices`)."""
    devices = list(devices) if devices is not None else batch_devices()
    if not devices:
        raise ValueError("devices must contain at least one device")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices must be jax devices (e.g. jax.devices('cpu')), got {[type(d).__name__ for d in devices]}")
    return jax.make_mesh((len(devices),), ("batch",), devices=devices)


def _batch_axis(mesh: Any) -> int:
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh (see batch_mesh), got {type(mesh).__name__}")
    if "batch" not in mesh.shape:
        raise ValueError(f"mesh must have an axis named 'batch' (see batch_mesh), got axes {tuple(mesh.shape)}")
    return mesh.shape["batch"]


def shard_batch(data: tuple, mesh: jax.sharding.Mesh) -> tuple:
    """Place each array of ``data`` on ``mesh`` with its rows (axis 0) split evenly across the devices.

    Example:
      >>> mesh = batch_mesh(jax.devices()[:1])
      >>> X, = shard_batch((jnp.zeros((8, 3)),), mesh)
      >>> [s.data.shape for s in X.addressable_shards]
      [(8, 3)]
    """
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(f"data must be a tuple of arrays with one row per example, got {type(data).__name__}")
    k = _batch_axis(mesh)
    sharding = NamedSharding(mesh, P("batch"))
    out = []
    for i, a in enumerate(data):
        a = as_array(f"data[{i}]", a)
        if a.ndim == 0 or a.shape[0] % k:
            raise ValueError(f"data[{i}] must have a number of rows divisible by the {k} devices, got shape {a.shape}")
        out.append(jax.device_put(a, sharding))
    return tuple(out)


def data_parallel_grad(loss_fn: Callable[..., Array], params: PyTree, data: tuple,
                       mesh: jax.sharding.Mesh) -> PyTree:
    """``∇loss_fn(params, *data)`` with the rows of ``data`` split across ``mesh`` and ``params`` replicated.

    ``loss_fn`` must be a mean over the rows; each device differentiates the mean over its own rows and the
    compiled program averages them across devices.  Returns the gradient, replicated on every device.

    Example:
      >>> loss = lambda w, X: jnp.mean((X @ w) ** 2)
      >>> X = jnp.arange(8.0).reshape(4, 2)
      >>> g = data_parallel_grad(loss, jnp.ones(2), (X,), batch_mesh(jax.devices()[:1]))
      >>> bool(jnp.allclose(g, jax.grad(loss)(jnp.ones(2), X)))
      True
    """
    check_callable("loss_fn", loss_fn)
    _batch_axis(mesh)
    sharded = shard_batch(data, mesh)
    replicated = jax.device_put(params, NamedSharding(mesh, P()))
    return jax.jit(jax.grad(loss_fn))(replicated, *sharded)
