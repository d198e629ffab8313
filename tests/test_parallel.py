"""dlbook.parallel: a batch split across (simulated) devices gives the single-device gradient.

The multi-device checks run in a fresh Python process started with four simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``), since the flag only acts before JAX starts.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import parallel

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from dlbook import backprop as bp, parallel
    assert len(parallel.batch_devices()) == 4, parallel.batch_devices()
    mesh = parallel.batch_mesh()
    X = jax.random.normal(jax.random.key(0), (64, 5))
    Y = jax.nn.one_hot(jnp.arange(64) % 3, 3)
    params = bp.init_mlp((5, 7, 3), key=jax.random.key(1))
    loss = lambda p, X, Y: bp.loss_value(p, X, Y, activation=bp.TANH, output=bp.IDENTITY, loss=bp.SOFTMAX_CROSS_ENTROPY)
    Xs, Ys = parallel.shard_batch((X, Y), mesh)
    assert [s.data.shape for s in Xs.addressable_shards] == [(16, 5)] * 4
    assert len({s.device for s in Xs.addressable_shards}) == 4
    g4 = parallel.data_parallel_grad(loss, params, (X, Y), mesh)
    g1 = jax.grad(loss)(params, X, Y)
    for a, b in zip(jax.tree_util.tree_leaves(g4), jax.tree_util.tree_leaves(g1)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    hlo = jax.jit(jax.grad(loss)).lower(jax.device_put(params, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())), Xs, Ys).compile().as_text()
    assert "all-reduce" in hlo
    try:
        parallel.shard_batch((X[:63],), mesh)
    except ValueError as e:
        assert str(e).startswith("data[0] must have a number of rows divisible by the 4 devices"), e
    else:
        raise AssertionError("63 rows over 4 devices were accepted")
    print("ok")
""")


def test_four_simulated_devices_give_the_single_device_gradient():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr


def test_one_device_mesh_and_bad_input():
    mesh = parallel.batch_mesh(jax.devices()[:1])
    loss = lambda w, X: jnp.mean((X @ w) ** 2)  # noqa: E731
    X = jnp.arange(12.0).reshape(6, 2)
    np.testing.assert_allclose(parallel.data_parallel_grad(loss, jnp.ones(2), (X,), mesh), jax.grad(loss)(jnp.ones(2), X))
    with pytest.raises(TypeError, match="^data must be a tuple of arrays"):
        parallel.shard_batch(X, mesh)
    with pytest.raises(ValueError, match="^data\\[0\\] must have a number of rows divisible"):
        parallel.shard_batch((jnp.float32(1.0),), mesh)
    with pytest.raises(ValueError, match="^devices must contain at least one device"):
        parallel.batch_mesh([])
    with pytest.raises(TypeError, match="^loss_fn must be callable"):
        parallel.data_parallel_grad(None, jnp.ones(2), (X,), mesh)


def test_bad_meshes_and_devices():
    X = jnp.ones((4, 2))
    with pytest.raises(TypeError, match="^mesh must be a jax.sharding.Mesh"):
        parallel.shard_batch((X,), "mesh")
    with pytest.raises(TypeError, match="^mesh must be a jax.sharding.Mesh"):
        parallel.data_parallel_grad(lambda w, X: jnp.mean(X @ w), jnp.ones(2), (X,), "mesh")
    with pytest.raises(TypeError, match="^devices must be jax devices"):
        parallel.batch_mesh([1, 2])
    other = jax.make_mesh((1,), ("model",), devices=jax.devices()[:1])
    with pytest.raises(ValueError, match="^mesh must have an axis named 'batch'"):
        parallel.shard_batch((X,), other)
