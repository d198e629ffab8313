"""Tests for dlbook.losses: the MSE against numpy and its gradient against the closed form and optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlbook.losses import mse


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4), (2, 3, 2)])
def test_mse_against_numpy(shape):
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(mse(p, t), np.mean((p.astype(np.float64) - t) ** 2), rtol=1e-5)
    # optax.l2_loss is ½ (p − t)² elementwise
    np.testing.assert_allclose(mse(p, t), 2 * np.mean(optax.l2_loss(p, t)), rtol=1e-5)


def test_mse_gradient_closed_form():
    p, t = jnp.array([1.0, 2.0, -0.5]), jnp.array([0.5, 4.0, -0.5])
    np.testing.assert_allclose(jax.grad(mse)(p, t), 2 * (np.asarray(p) - np.asarray(t)) / 3, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(mse, argnums=1)(p, t), -2 * (np.asarray(p) - np.asarray(t)) / 3, rtol=1e-6)


def test_mse_scalar_and_special_values():
    np.testing.assert_allclose(mse(3.0, 1.0), 4.0)
    assert float(mse(jnp.array([0.0, np.inf]), jnp.array([0.0, 0.0]))) == np.inf
    assert np.isnan(float(mse(jnp.array([0.0, np.nan]), jnp.array([0.0, 0.0]))))


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    p=hnp.arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e3, 1e3)),
    shift=st.floats(-10, 10),
)
def test_mse_property_against_numpy(p, shift):
    t = p + shift
    np.testing.assert_allclose(float(mse(p, t)), np.mean((p - t) ** 2), rtol=1e-4, atol=1e-4)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^predictions and targets must have the same shape, got \(2,\) and \(3,\)"):
        mse(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="^predictions and targets must have the same shape"):
        mse(np.ones((3, 1)), np.ones(3))  # no silent broadcasting to (3, 3)
    with pytest.raises(TypeError, match="^predictions must be"):
        mse("a", np.ones(1))
    with pytest.raises(TypeError, match="^targets must be"):
        mse(np.ones(1), None)
