"""Data parallelism: one large batch split across several devices, one gradient.

A mini-batch gradient is a mean over examples, so it can be computed in pieces: each of ``k`` devices takes
``B/k`` rows, computes the mean gradient of its rows, and the ``k`` results are averaged (an *all-reduce*).
:func:`shard_batch` places the rows of a batch across devices with a :class:`jax.sharding.NamedSharding`;
:func:`data_parallel_grad` computes the gradient of such a batch with replicated parameters: ``jax.jit``
inserts the all-reduce itself, and the result equals the single-device gradient up to float rounding.
:func:`compile_data_parallel_grad` returns the compiled program that :func:`data_parallel_grad` runs (compiled
once per loss function, shapes and mesh), so that its all-reduce can be seen in ``.as_text()``.

With one processor there is still a way to see this: start Python with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (before JAX is first used) and the CPU appears as
four devices; :func:`batch_devices` picks those when only one accelerator is present.

Chapter: ``book/ch06_batch_momentum.ipynb``.
"""

from __future__ import annotations

from functools import lru_cache
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp  # noqa: F401 - used in the docstring examples
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlbook._checks import as_array, check_callable

Array = jax.Array
PyTree = Any

__all__ = ["batch_devices", "batch_mesh", "shard_batch", "compile_data_parallel_grad", "data_parallel_grad"]


def batch_devices() -> list:
    """The devices to split a batch across: all of ``jax.devices()`` if there are several, else the CPU's.

    On a machine with one GPU (or none) the CPU devices are used, so that a process started with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` shows ``k`` of them.  These are the ``k`` devices
    of data parallelism: with a batch of ``B`` rows each takes ``B/k``.

    Returns:
      A list of ``k ≥ 1`` :class:`jax.Device`.

    Example:
      There is always at least one device, and all of them are of one kind:

      >>> devices = batch_devices()
      >>> len(devices) >= 1, len({d.platform for d in devices})
      (True, 1)

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    devices = jax.devices()
    return list(devices) if len(devices) > 1 else list(jax.devices("cpu"))


def batch_mesh(devices: Sequence | None = None) -> jax.sharding.Mesh:
    """A one-axis mesh named ``"batch"`` over ``k`` devices (default :func:`batch_devices`).

    Args:
      devices: ``k ≥ 1`` :class:`jax.Device`, e.g. ``jax.devices("cpu")[:4]``.

    Returns:
      A :class:`jax.sharding.Mesh` of shape ``{"batch": k}``.

    Example:
      >>> mesh = batch_mesh(jax.devices()[:1])
      >>> mesh.axis_names, mesh.devices.size
      (('batch',), 1)

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
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

    With ``B`` rows and ``k`` devices, device ``j`` (``j = 0, …, k−1``) holds rows ``jB/k`` to ``(j+1)B/k − 1``.

    Args:
      data: tuple of arrays, each of shape ``(B, ...)`` with ``B`` divisible by ``k``.
      mesh: a mesh with an axis ``"batch"`` of ``k`` devices (see :func:`batch_mesh`).

    Returns:
      The tuple of arrays, each sharded along axis 0: every device holds a ``(B/k, ...)`` block.

    Example:
      One device holds all ``B/k = 8/1 = 8`` rows:

      >>> mesh = batch_mesh(jax.devices()[:1])
      >>> X, = shard_batch((jnp.zeros((8, 3)),), mesh)
      >>> [s.data.shape for s in X.addressable_shards]
      [(8, 3)]

    Chapter: ``book/ch06_batch_momentum.ipynb``.
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


def _place(loss_fn: Any, params: PyTree, data: tuple, mesh: Any) -> tuple[PyTree, tuple]:
    """Check the arguments; return ``params`` replicated on ``mesh`` and ``data`` split along its rows."""
    check_callable("loss_fn", loss_fn)
    _batch_axis(mesh)
    sharded = shard_batch(data, mesh)
    replicated = jax.device_put(params, NamedSharding(mesh, P()))
    return replicated, sharded


def _compiled(loss_fn: Callable[..., Array], replicated: PyTree, sharded: tuple) -> jax.stages.Compiled:
    """``jax.jit(jax.grad(loss_fn))`` lowered for these placed arguments and compiled, cached per loss function,
    the shapes, dtypes and shardings (so the mesh) of the arguments and the JAX settings that change tracing
    (64-bit mode, default matmul precision)."""
    leaves, treedef = jax.tree_util.tree_flatten((replicated, sharded))
    specs = tuple(jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding) for x in leaves)
    config = (jax.config.read("jax_enable_x64"), jax.config.jax_default_matmul_precision)
    try:
        hash(loss_fn)
    except TypeError:  # an unhashable loss function cannot key the cache: compile for this call only
        return _compile.__wrapped__(loss_fn, treedef, specs, config)
    return _compile(loss_fn, treedef, specs, config)


@lru_cache(maxsize=32)
def _compile(loss_fn: Callable[..., Array], treedef: Any, specs: tuple, config: tuple) -> jax.stages.Compiled:
    del config  # part of the cache key only
    replicated, sharded = jax.tree_util.tree_unflatten(treedef, specs)
    return jax.jit(jax.grad(loss_fn)).lower(replicated, *sharded).compile()


def compile_data_parallel_grad(loss_fn: Callable[..., Array], params: PyTree, data: tuple,
                               mesh: jax.sharding.Mesh) -> jax.stages.Compiled:
    """The compiled program that :func:`data_parallel_grad` runs for these arguments.

    It computes ``∇J(θ) = (1/k) Σⱼ ∇Jⱼ(θ)``, where ``Jⱼ`` is the mean loss over the ``B/k`` rows of device ``j``;
    with ``k > 1`` devices its text (``.as_text()``) contains the ``all-reduce`` that averages the ``k``
    partial gradients.  The program is compiled once per loss function (the same Python object), mesh and
    shapes/dtypes of ``params`` and ``data`` and then reused, also by :func:`data_parallel_grad`.  Call it as
    ``compiled(params, *data)`` with ``params`` replicated on ``mesh`` and ``data`` placed by :func:`shard_batch`.

    Args:
      loss_fn: ``J(θ, *data)``, a mean over the rows of ``data``, returning a scalar.
      params: ``θ``, a pytree of arrays.
      data: tuple of arrays of shape ``(B, ...)``, ``B`` divisible by the ``k`` devices of ``mesh``.
      mesh: a mesh with an axis ``"batch"`` (see :func:`batch_mesh`).

    Returns:
      A :class:`jax.stages.Compiled`.

    Example:
      With one device there is nothing to average across, so no all-reduce:

      >>> loss = lambda w, X: jnp.mean(X @ w)
      >>> compiled = compile_data_parallel_grad(loss, jnp.ones(2), (jnp.ones((4, 2)),), batch_mesh(jax.devices()[:1]))
      >>> "all-reduce" in compiled.as_text()
      False

    Reference: ``ch06-goyal2017accurate`` (data-parallel training with large mini-batches).

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    replicated, sharded = _place(loss_fn, params, data, mesh)
    return _compiled(loss_fn, replicated, sharded)


def data_parallel_grad(loss_fn: Callable[..., Array], params: PyTree, data: tuple,
                       mesh: jax.sharding.Mesh) -> PyTree:
    """The gradient ``∇J(θ)`` of a mean loss, with the rows of ``data`` split across ``mesh``.

    ``J(θ) = (1/B) Σᵢ ℓᵢ(θ)`` is a mean over the ``B`` rows, so with ``k`` devices each holding ``B/k`` rows
    ``∇J(θ) = (1/k) Σⱼ ∇Jⱼ(θ)``, ``Jⱼ`` the mean over the rows of device ``j``: each device differentiates its
    own mean, with ``θ`` replicated, and the compiled program averages the ``k`` results (an all-reduce).
    The result equals the single-device gradient up to float rounding.  The program is the one
    :func:`compile_data_parallel_grad` returns, compiled once per loss function, mesh and shapes.

    Args:
      loss_fn: ``J(θ, *data)``, a mean over the rows of ``data``, returning a scalar.
      params: ``θ``, a pytree of arrays.
      data: tuple of arrays of shape ``(B, ...)``, ``B`` divisible by the ``k`` devices of ``mesh``.
      mesh: a mesh with an axis ``"batch"`` (see :func:`batch_mesh`).

    Returns:
      The gradient, a pytree like ``params``, replicated on every device of ``mesh``.

    Example:
      For ``J(w) = mean(X w)`` the gradient is the mean row of ``X``; the rows ``(0, 1), (2, 3), (4, 5), (6, 7)``
      average to ``(3, 4)``:

      >>> loss = lambda w, X: jnp.mean(X @ w)
      >>> X = jnp.arange(8.0).reshape(4, 2)
      >>> data_parallel_grad(loss, jnp.ones(2), (X,), batch_mesh(jax.devices()[:1])).tolist()
      [3.0, 4.0]

    Reference: ``ch06-goyal2017accurate`` (data-parallel training with large mini-batches).

    Chapter: ``book/ch06_batch_momentum.ipynb``.
    """
    replicated, sharded = _place(loss_fn, params, data, mesh)
    return _compiled(loss_fn, replicated, sharded)(replicated, *sharded)
