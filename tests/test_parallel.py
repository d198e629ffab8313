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
    from dlbook import parallel
    assert len(parallel.batch_devices()) == 4, parallel.batch_devices()
    mesh = parallel.batch_mesh()
    X = jax.random.normal(jax.random.key(0), (64, 5))
    Y = jax.nn.one_hot(jnp.arange(64) % 3, 3)
    k1, k2 = jax.random.split(jax.random.key(1))
    params = {"W1": 0.5 * jax.random.normal(k1, (5, 7)), "b1": jnp.full(7, 0.1),
              "W2": 0.5 * jax.random.normal(k2, (7, 3)), "b2": jnp.zeros(3)}
    def loss(p, X, Y):  # a 5-7-3 tanh network, softmax cross-entropy: a mean over the rows
        scores = jnp.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(scores), axis=1))
    Xs, Ys = parallel.shard_batch((X, Y), mesh)
    assert [s.data.shape for s in Xs.addressable_shards] == [(16, 5)] * 4
    assert len({s.device for s in Xs.addressable_shards}) == 4
    traces = []
    def counted(p, X, Y):
        traces.append(None)  # a Python side effect: runs only while JAX traces the loss
        return loss(p, X, Y)
    # the program data_parallel_grad runs: compiled once, it averages across the devices (an all-reduce)
    compiled = parallel.compile_data_parallel_grad(counted, params, (X, Y), mesh)
    assert isinstance(compiled, jax.stages.Compiled), type(compiled)
    assert "all-reduce" in compiled.as_text()
    assert len(traces) == 1, traces
    g4 = parallel.data_parallel_grad(counted, params, (X, Y), mesh)
    g4_again = parallel.data_parallel_grad(counted, params, (X, Y), mesh)
    assert len(traces) == 1, f"data_parallel_grad traced again ({len(traces)} traces): it must run the program inspected above"
    assert parallel.compile_data_parallel_grad(counted, params, (X, Y), mesh) is compiled
    g1 = jax.grad(loss)(params, X, Y)
    for a, a2, b in zip(jax.tree_util.tree_leaves(g4), jax.tree_util.tree_leaves(g4_again), jax.tree_util.tree_leaves(g1)):
        assert a.sharding.device_set == set(mesh.devices.flat) and a.sharding.is_fully_replicated, a.sharding
        np.testing.assert_array_equal(np.asarray(a), np.asarray(a2))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    # another loss with the same shapes gets its own program
    g_twice = parallel.data_parallel_grad(lambda p, X, Y: 2.0 * loss(p, X, Y), params, (X, Y), mesh)
    for a, b in zip(jax.tree_util.tree_leaves(g_twice), jax.tree_util.tree_leaves(g1)):
        np.testing.assert_allclose(np.asarray(a), 2.0 * np.asarray(b), rtol=1e-5, atol=1e-7)
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
    with pytest.raises(TypeError, match="^loss_fn must be callable"):
        parallel.compile_data_parallel_grad(None, jnp.ones(2), (X,), mesh)
    with pytest.raises(TypeError, match="^data must be a tuple of arrays"):
        parallel.compile_data_parallel_grad(lambda w, X: jnp.mean(X @ w), jnp.ones(2), X, mesh)


def test_data_parallel_grad_compiles_once_per_loss_and_shapes():
    mesh = parallel.batch_mesh(jax.devices()[:1])
    traces = []

    def loss(w, X):
        traces.append(None)  # runs only while JAX traces the loss
        return jnp.mean((X @ w) ** 2)

    X = jnp.arange(12.0).reshape(6, 2)
    grads = [parallel.data_parallel_grad(loss, jnp.ones(2), (X,), mesh) for _ in range(3)]
    assert len(traces) == 1, f"data_parallel_grad recompiled the same loss on the same shapes ({len(traces)} traces)"
    for g in grads:
        np.testing.assert_array_equal(g, grads[0])
    parallel.data_parallel_grad(loss, jnp.zeros(2), (X + 1.0,), mesh)  # other values, same shapes: no new program
    assert len(traces) == 1
    parallel.data_parallel_grad(loss, jnp.ones(2), (X[:4],), mesh)  # another batch size is another program
    assert len(traces) == 2
    compiled = parallel.compile_data_parallel_grad(loss, jnp.ones(2), (X,), mesh)
    assert len(traces) == 2 and isinstance(compiled, jax.stages.Compiled)
    assert "all-reduce" not in compiled.as_text()  # one device: nothing to average across


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
