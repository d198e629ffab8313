"""Tests for dlbook.data: the synthetic data sets (shapes, ranges, keys; sine_data against sin(πx)) and the
normalisations against numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlbook import data
from dlbook.data import Scaler, epoch_batches, fit_minmax, fit_standardize, linear_regression_data, normalize

W_TRUE = np.array([0.02, 3.0])
LOW = np.array([30.0, 1.0])
HIGH = np.array([150.0, 6.0])


def make(n=200, key=0, noise=0.5, **kw):
    return linear_regression_data(n, W_TRUE, 1.5, low=LOW, high=HIGH, noise=noise, key=jax.random.key(key), **kw)


# -- linear_regression_data ---------------------------------------------------------------------------


def test_shapes_and_ranges():
    X, y = make(n=300)
    assert X.shape == (300, 2) and y.shape == (300,)
    Xn = np.asarray(X)
    assert np.all(Xn >= LOW) and np.all(Xn <= HIGH)
    # the uniform samples fill their range (a loose check on the spread, not on our own numbers)
    assert np.all(Xn.min(axis=0) < LOW + 0.05 * (HIGH - LOW))
    assert np.all(Xn.max(axis=0) > HIGH - 0.05 * (HIGH - LOW))


def test_reproducible_with_same_key_different_with_another():
    X1, y1 = make(key=7)
    X2, y2 = make(key=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, y3 = make(key=8)
    assert not np.allclose(X1, X3)
    assert not np.allclose(y1, y3)


def test_legacy_uint32_key_is_accepted_and_reproducible():
    a = linear_regression_data(5, W_TRUE, 0.0, low=LOW, high=HIGH, noise=0.1, key=jax.random.PRNGKey(3))
    b = linear_regression_data(5, W_TRUE, 0.0, low=LOW, high=HIGH, noise=0.1, key=jax.random.PRNGKey(3))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_noise_free_targets_are_exactly_linear():
    X, y = make(n=50, noise=0.0)
    np.testing.assert_allclose(y, np.asarray(X, dtype=np.float64) @ W_TRUE + 1.5, rtol=1e-5)


def test_noise_level_and_least_squares_recovery():
    X, y = make(n=4000, noise=0.5)
    Xb = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(Xb, np.asarray(y, dtype=np.float64), rcond=None)
    np.testing.assert_allclose(coef, [*W_TRUE, 1.5], atol=0.1)
    resid = np.asarray(y, dtype=np.float64) - Xb @ np.array([*W_TRUE, 1.5])
    assert abs(resid.std() - 0.5) < 0.05
    assert abs(resid.mean()) < 0.05


def test_bad_input_names_the_argument():
    key = jax.random.key(0)
    kw = dict(low=LOW, high=HIGH, noise=0.1, key=key)
    with pytest.raises(ValueError, match="^n must be >= 1"):
        linear_regression_data(0, W_TRUE, 0.0, **kw)
    with pytest.raises(TypeError, match="^n must be an int"):
        linear_regression_data(10.0, W_TRUE, 0.0, **kw)
    with pytest.raises(ValueError, match=r"^weights must have shape \(d,\)"):
        linear_regression_data(10, np.ones((2, 2)), 0.0, **kw)
    with pytest.raises(ValueError, match=r"^low must have shape \(2,\) to match weights"):
        linear_regression_data(10, W_TRUE, 0.0, low=[0.0, 0.0, 0.0], high=HIGH, noise=0.1, key=key)
    with pytest.raises(ValueError, match=r"^high must have shape \(2,\)"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=[1.0], noise=0.1, key=key)
    with pytest.raises(ValueError, match="^low must be < high"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=[150.0, 1.0], noise=0.1, key=key)
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=HIGH, noise=-0.1, key=key)
    with pytest.raises(ValueError, match="^noise must be finite"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=HIGH, noise=np.nan, key=key)
    with pytest.raises(ValueError, match="^bias must be finite"):
        linear_regression_data(10, W_TRUE, np.inf, **kw)
    with pytest.raises(ValueError, match="^weights must be finite"):
        linear_regression_data(10, [1.0, np.nan], 0.0, **kw)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=HIGH, noise=0.1, key=0)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        linear_regression_data(10, W_TRUE, 0.0, low=LOW, high=HIGH, noise=0.1, key=jnp.zeros(3, jnp.uint32))
    with pytest.raises(TypeError):  # key is keyword-only
        linear_regression_data(10, W_TRUE, 0.0, LOW, HIGH, 0.1, key)


def test_non_numeric_bias_names_the_argument():
    with pytest.raises(TypeError, match="^bias must be numeric"):
        linear_regression_data(10, W_TRUE, "1.5", low=LOW, high=HIGH, noise=0.1, key=jax.random.key(0))


# -- fit_minmax / fit_standardize / normalize ---------------------------------------------------------


def features(seed=0, n=40):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(30, 150, n), rng.integers(1, 7, n), rng.normal(0, 1e-3, n)]).astype(np.float32)


def test_fit_minmax_against_numpy():
    X = features()
    s = fit_minmax(X)
    assert isinstance(s, Scaler)
    np.testing.assert_allclose(s.shift, X.min(axis=0))
    np.testing.assert_allclose(s.scale, X.max(axis=0) - X.min(axis=0), rtol=1e-6)
    Z = np.asarray(normalize(X, s))
    np.testing.assert_allclose(Z, (X - X.min(0)) / (X.max(0) - X.min(0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Z.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(Z.max(axis=0), 1.0, atol=1e-6)


def test_fit_standardize_against_numpy():
    X = features(1)
    s = fit_standardize(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(s.shift, X64.mean(axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s.scale, X64.std(axis=0), rtol=1e-4)  # population std (ddof=0)
    Z = np.asarray(normalize(X, s), dtype=np.float64)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-4)


def test_normalize_applies_the_training_scaler_to_new_data():
    X_train, X_test = features(2), features(3, n=10)
    for fit in (fit_minmax, fit_standardize):
        s = fit(X_train)
        np.testing.assert_allclose(
            normalize(X_test, s), (X_test - np.asarray(s.shift)) / np.asarray(s.scale), rtol=1e-6, atol=1e-7
        )


@pytest.mark.parametrize("fit", [fit_minmax, fit_standardize])
@pytest.mark.parametrize("value", [0.0, 2.0, -0.5, 1024.0])
def test_constant_column_gets_scale_one_and_maps_to_zero(fit, value):
    X = np.column_stack([np.linspace(0, 1, 9), np.full(9, value)]).astype(np.float32)
    s = fit(X)
    assert float(s.scale[1]) == 1.0
    Z = np.asarray(normalize(X, s))
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert np.all(np.isfinite(Z))


@pytest.mark.parametrize("n", [7, 100])
@pytest.mark.parametrize("value", [0.1, 7.7, -123.456])
def test_constant_column_not_exactly_representable_maps_to_zero(value, n):
    """float32 rounding leaves the std of such a column a few ulps above 0: it must still count as constant."""
    X = np.column_stack([np.linspace(0, 1, n), np.full(n, value)]).astype(np.float32)
    s = fit_standardize(X)
    assert float(s.scale[1]) == 1.0
    Z = np.asarray(normalize(X, s))
    np.testing.assert_allclose(Z[:, 1], 0.0, atol=1e-3)
    np.testing.assert_allclose(s.scale[0], X[:, 0].astype(np.float64).std(), rtol=1e-5)  # a real column is kept


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    X=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4),
        elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False),
    )
)
def test_minmax_output_range_property(X):
    """normalize(X, fit_minmax(X)) lies in [0, 1]; every non-constant column spans exactly 0..1."""
    Z = np.asarray(normalize(X, fit_minmax(X)))
    assert np.all(np.isfinite(Z))
    assert np.all(Z >= -1e-6) and np.all(Z <= 1 + 1e-6)
    rng = X.max(axis=0) - X.min(axis=0)
    np.testing.assert_allclose(Z.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(Z.max(axis=0)[rng > 0], 1.0, atol=1e-5)
    np.testing.assert_array_equal(Z[:, rng == 0], 0.0)


@settings(max_examples=20, deadline=None, database=None, derandomize=True)
@given(
    X=hnp.arrays(
        np.float32,
        st.tuples(st.integers(3, 5), st.integers(1, 3)),
        elements=st.floats(-100, 100, width=32, allow_subnormal=False),
    ).filter(lambda X: np.all(X.astype(np.float64).std(axis=0) > 1e-2))
)
def test_standardize_moments_property(X):
    Z = np.asarray(normalize(X, fit_standardize(X)), dtype=np.float64)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-3)


def test_normalisation_bad_input():
    for fit in (fit_minmax, fit_standardize):
        with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
            fit(np.ones(3))
        with pytest.raises(ValueError, match="^X must be finite"):
            fit(np.array([[1.0, np.nan]]))
        with pytest.raises(TypeError, match="^X must be"):
            fit("X")
    s = fit_minmax(np.ones((3, 2)))
    with pytest.raises(TypeError, match="^scaler must be a Scaler"):
        normalize(np.ones((3, 2)), (0.0, 1.0))
    with pytest.raises(ValueError, match=r"^scaler.shift must have shape \(3,\) to match X"):
        normalize(np.ones((3, 3)), s)
    with pytest.raises(ValueError, match=r"^X must have shape \(n, d\)"):
        normalize(np.ones(2), s)


def test_normalize_checks_scale_shape():
    with pytest.raises(ValueError, match="scaler.scale"):
        normalize(np.ones((3, 2)), Scaler(jnp.zeros(2), jnp.ones(3)))


# -- real data sets and splits ------------------------------------------------------------------------


def test_load_dataset_matches_scikit_learn():
    import sklearn.datasets

    for name, (loader, _) in data.DATASETS.items():
        X, y, names = data.load_dataset(name)
        ref = getattr(sklearn.datasets, loader)()
        np.testing.assert_array_equal(np.asarray(X), ref.data.astype(np.float32))
        np.testing.assert_array_equal(np.asarray(y), ref.target)
        assert X.dtype == jnp.float32 and y.dtype == jnp.int32 and len(names) == X.shape[1]
    with pytest.raises(ValueError, match=r"^name must be one of \['breast_cancer', 'digits', 'iris', 'wine'\], got 'mnist'"):
        data.load_dataset("mnist")


def test_split_is_a_deterministic_partition():
    X = jnp.arange(200.0).reshape(100, 2)
    y = jnp.arange(100)
    parts = data.split(X, y, key=jax.random.key(3), fractions=(0.7, 0.15, 0.15))
    assert [len(p[1]) for p in parts] == [70, 15, 15]
    seen = np.concatenate([np.asarray(p[1]) for p in parts])
    assert sorted(seen.tolist()) == list(range(100))  # every row exactly once
    for Xp, yp in parts:  # rows stay with their labels
        np.testing.assert_array_equal(np.asarray(Xp[:, 0]), 2.0 * np.asarray(yp))
    again = data.split(X, y, key=jax.random.key(3), fractions=(0.7, 0.15, 0.15))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(parts, again))
    other = data.split(X, y, key=jax.random.key(4), fractions=(0.7, 0.15, 0.15))
    assert not np.array_equal(parts[0][1], other[0][1])


def test_split_rejects_bad_input():
    X, y = jnp.ones((10, 2)), jnp.zeros(10)
    with pytest.raises(ValueError, match="^fractions must be two or more positive numbers summing to 1"):
        data.split(X, y, key=jax.random.key(0), fractions=(0.5, 0.4))
    with pytest.raises(ValueError, match="^fractions must be two or more"):
        data.split(X, y, key=jax.random.key(0), fractions=(1.0,))
    with pytest.raises(ValueError, match="leave a part empty for n = 10"):
        data.split(X, y, key=jax.random.key(0), fractions=(0.05, 0.95))
    with pytest.raises(ValueError, match=r"^y must have one entry per row of X \(10\)"):
        data.split(X, y[:5], key=jax.random.key(0))
    with pytest.raises(TypeError, match="^key must be a jax.random.key"):
        data.split(X, y, key=0)


# -- make_2d -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(data.SHAPES_2D))
def test_make_2d_shapes_balance_and_keys(name):
    X, y = data.make_2d(name, 101, key=jax.random.key(3))
    assert X.shape == (101, 2) and X.dtype == jnp.float32 and y.shape == (101,) and y.dtype == jnp.int32
    assert int(y.sum()) == 51 and set(np.unique(y).tolist()) == {0, 1}
    X2, y2 = data.make_2d(name, 101, key=jax.random.key(3))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = data.make_2d(name, 101, key=jax.random.key(4))
    assert not np.array_equal(X, X3)
    assert 20 < np.sum(np.asarray(y)[:50]) < 30  # shuffled: the classes are not in two blocks


def test_make_2d_geometry_without_noise():
    key = jax.random.key(0)
    X, y = (np.asarray(a) for a in data.make_2d("circles", 400, key=key, noise=0.0))
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.where(y == 1, 0.5, 1.0), rtol=1e-6)
    X, y = (np.asarray(a) for a in data.make_2d("xor", 400, key=key, noise=0.0))
    assert np.all((X[:, 0] * X[:, 1] > 0) == (y == 1)) and np.all(np.abs(X) <= 1)
    X, y = (np.asarray(a) for a in data.make_2d("moons", 400, key=key, noise=0.0))
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0, rtol=1e-6)  # the upper arc
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0, rtol=1e-5)  # the lower arc
    assert np.all(X[y == 0, 1] >= 0) and np.all(X[y == 1, 1] <= 0.5)
    X, y = (np.asarray(a) for a in data.make_2d("spiral", 400, key=key, noise=0.0))
    r = np.linalg.norm(X, axis=1)
    assert np.all((r >= 0.2 - 1e-6) & (r <= 1 + 1e-6))
    # the two arms are the same curve turned by π: a point of arm 1 turned back lies on arm 0
    t = (r - 0.2) / 0.8
    angle = np.arctan2(X[:, 1], X[:, 0])
    expected = 3 * np.pi * t + np.pi * y
    assert np.allclose(np.cos(angle - expected), 1.0, atol=1e-4)


def test_make_2d_noise_scales_the_spread():
    key = jax.random.key(1)
    X0, _ = data.make_2d("circles", 2000, key=key, noise=0.0)
    X1, _ = data.make_2d("circles", 2000, key=key, noise=0.2)
    assert abs(float(jnp.std(X1 - X0)) - 0.2) < 0.01


def test_make_2d_bad_input():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"^name must be one of \['circles', 'moons', 'spiral', 'xor'\], got 'ring'"):
        data.make_2d("ring", 10, key=key)
    with pytest.raises(ValueError, match="^n must be >= 2"):
        data.make_2d("moons", 1, key=key)
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        data.make_2d("moons", 10, key=key, noise=-0.1)
    with pytest.raises(ValueError, match="^noise must be finite"):
        data.make_2d("moons", 10, key=key, noise=float("nan"))
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        data.make_2d("moons", 10, key=0)


# -- sine_data ---------------------------------------------------------------------------------------------


def test_sine_data_shapes_and_range():
    x, y = data.sine_data(500, key=jax.random.key(0))
    assert x.shape == (500,) and y.shape == (500,) and x.dtype == jnp.float32 and y.dtype == jnp.float32
    xn = np.asarray(x)
    assert np.all((xn >= -1) & (xn <= 1))
    assert xn.min() < -0.95 and xn.max() > 0.95  # spread over the whole interval
    resid = np.asarray(y, np.float64) - np.sin(np.pi * xn.astype(np.float64))
    assert abs(resid.std() - 0.2) < 0.02 and abs(resid.mean()) < 0.03  # the default noise 0.2


def test_sine_data_without_noise_is_exactly_the_sine():
    x, y = data.sine_data(100, key=jax.random.key(1), noise=0.0)
    np.testing.assert_array_equal(y, jnp.sin(jnp.pi * x))
    np.testing.assert_allclose(y, np.sin(np.pi * np.asarray(x, np.float64)), atol=1e-6)


def test_sine_data_even_spacing():
    x, y = data.sine_data(11, key=jax.random.key(2), noise=0.0, even=True)
    np.testing.assert_allclose(x, np.linspace(-1, 1, 11), atol=1e-7)
    np.testing.assert_allclose(y, np.sin(np.pi * np.linspace(-1, 1, 11)), atol=1e-6)
    x1, y1 = data.sine_data(11, key=jax.random.key(2), noise=0.3, even=True)
    x2, _ = data.sine_data(11, key=jax.random.key(3), noise=0.3, even=True)
    np.testing.assert_array_equal(x1, x)  # only the noise is random
    np.testing.assert_array_equal(x2, x)
    assert not np.allclose(y1, y)
    assert data.sine_data(1, key=jax.random.key(0), even=True)[0].shape == (1,)


def test_sine_data_is_determined_by_the_key():
    a, b = data.sine_data(20, key=jax.random.key(4)), data.sine_data(20, key=jax.random.key(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = data.sine_data(20, key=jax.random.key(5))
    assert not np.allclose(a[0], c[0]) and not np.allclose(a[1], c[1])


def test_sine_data_bad_input():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="^n must be >= 1, got 0"):
        data.sine_data(0, key=key)
    with pytest.raises(TypeError, match="^n must be an int"):
        data.sine_data(10.0, key=key)
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        data.sine_data(10, key=key, noise=-0.1)
    with pytest.raises(ValueError, match="^noise must be finite"):
        data.sine_data(10, key=key, noise=np.inf)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        data.sine_data(10, key=0)
    with pytest.raises(TypeError):  # key is keyword-only
        data.sine_data(10, key)


def test_epoch_batches_are_a_shuffled_partition():
    idx = np.asarray(epoch_batches(10, 3, key=jax.random.key(0)))
    assert idx.shape == (3, 3) and len(set(idx.ravel())) == 9 and idx.min() >= 0 and idx.max() < 10
    full = np.asarray(epoch_batches(10, 10, key=jax.random.key(0)))
    assert sorted(full.ravel().tolist()) == list(range(10))
    other = np.asarray(epoch_batches(10, 3, key=jax.random.key(1)))
    assert not np.array_equal(idx, other)                                     # a new key, a new order
    traced = jax.jit(lambda k: epoch_batches(10, 3, key=k))(jax.random.key(0))
    np.testing.assert_array_equal(traced, idx)


def test_epoch_batches_bad_input():
    with pytest.raises(ValueError, match=r"^batch_size must be <= n = 10 \(the number of examples\), got 11"):
        epoch_batches(10, 11, key=jax.random.key(0))
    with pytest.raises(ValueError, match="^batch_size must be >= 1"):
        epoch_batches(10, 0, key=jax.random.key(0))
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        epoch_batches(10, 2, key=0)


def test_split_fractions_must_be_a_sequence():
    from dlbook.data import split

    with pytest.raises(ValueError, match=r"^fractions must be two or more positive numbers summing to 1, got 0.5"):
        split(jnp.ones((4, 2)), jnp.ones(4), key=jax.random.key(0), fractions=0.5)
