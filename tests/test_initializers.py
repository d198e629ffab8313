"""dlbook.initializers: in distribution against jax.nn.initializers (moments and a two-sample Kolmogorov–Smirnov
test over many draws), orthogonality, init_mlp's init= (bit-identical default), bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import initializers as I
from dlbook import model as mlp

JI = jax.nn.initializers
SHAPE = (30, 50)                                   # dlbook: (n_out, n_in) = 30 units fed by 50 inputs
DRAWS = 64                                         # 64 × 1500 = 96 000 entries per distribution


def ks_statistic(a, b):
    """Two-sample Kolmogorov–Smirnov statistic D = sup_x |F_a(x) − F_b(x)| (empirical CDFs)."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    x = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, x, side="right") / a.size - np.searchsorted(b, x, side="right") / b.size)))


def ks_critical(n, m, alpha=1e-3):
    """The asymptotic critical value c(α) √((n + m)/(n m)), c(α) = √(−ln(α/2)/2)."""
    return np.sqrt(-np.log(alpha / 2) / 2) * np.sqrt((n + m) / (n * m))


def test_ks_statistic_against_brute_force_and_known_cases():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=37), rng.normal(0.3, 1.2, size=53)
    grid = np.concatenate([a, b, a - 1e-9, b - 1e-9])   # sup is attained just at or before a sample point
    brute = max(abs(np.mean(a <= x) - np.mean(b <= x)) for x in grid)
    assert ks_statistic(a, b) == pytest.approx(brute, abs=1e-12)
    assert ks_statistic(a, a) == 0.0
    assert ks_statistic([0.0, 1.0], [2.0, 3.0]) == 1.0
    # calibrated: at α = 0.01 two samples of one distribution are rejected about 1% of the time
    rejected = np.mean([ks_statistic(rng.normal(size=500), rng.normal(size=500)) > ks_critical(500, 500, 0.01)
                        for _ in range(400)])
    assert rejected < 0.03
    assert ks_statistic(rng.normal(size=2000), rng.normal(0.2, 1, size=2000)) > ks_critical(2000, 2000)


def draws(init, shape=SHAPE, n=DRAWS, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    return np.asarray(jax.vmap(lambda k: init(k, shape))(keys))


# (ours, jax's with dlbook's axes, the variance of an entry for SHAPE: fan_in 50, fan_out 30)
PAIRS = {
    "lecun_normal": (I.lecun_normal(), JI.variance_scaling(1.0, "fan_in", "normal", in_axis=-1, out_axis=-2), 1 / 50),
    "xavier_normal": (I.xavier_normal(), JI.variance_scaling(1.0, "fan_avg", "normal", in_axis=-1, out_axis=-2), 2 / 80),
    "xavier_uniform": (I.xavier_uniform(), JI.glorot_uniform(in_axis=-1, out_axis=-2), 2 / 80),
    "xavier_normal_gain": (I.xavier_normal(gain=2.0), JI.variance_scaling(4.0, "fan_avg", "normal", in_axis=-1, out_axis=-2), 8 / 80),
    "he_normal": (I.he_normal(), JI.variance_scaling(2.0, "fan_in", "normal", in_axis=-1, out_axis=-2), 2 / 50),
    "he_uniform": (I.he_uniform(), JI.he_uniform(in_axis=-1, out_axis=-2), 2 / 50),
    "he_leaky": (I.he_normal(negative_slope=0.5), JI.variance_scaling(2 / 1.25, "fan_in", "normal", in_axis=-1, out_axis=-2), 2 / (1.25 * 50)),
    "gaussian": (I.gaussian(0.3), JI.normal(0.3), 0.09),
    "orthogonal": (I.orthogonal(1.5), JI.orthogonal(1.5), 1.5 ** 2 / 50),   # rows orthonormal: Σ_j W_ij² = gain²
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_same_distribution_as_jax(name):
    ours, ref, var = PAIRS[name]
    a, b = draws(ours, seed=1), draws(ref, seed=2)
    n = a.size
    assert a.shape == b.shape == (DRAWS,) + SHAPE and a.dtype == np.float32
    # moments: mean 0, the variance of the rule (standard errors of the sample mean and variance)
    assert abs(a.mean()) < 5 * np.sqrt(var / n)
    assert abs(a.var() / var - 1) < 5 * np.sqrt(2 / n) + (0.02 if name == "orthogonal" else 0)
    # the whole distribution: a two-sample KS test against jax's samples
    assert ks_statistic(a, b) < ks_critical(a.size, b.size)


def test_ks_tells_jax_default_axes_and_truncated_normal_apart():
    """The test above can fail: jax's he_normal with its default axes (fan_in = 30 here) and its truncated normal
    are different distributions from dlbook's He for W of shape (n_out, n_in)."""
    a = draws(I.he_normal(), seed=1)
    wrong_axes = draws(JI.variance_scaling(2.0, "fan_in", "normal"), seed=2)
    truncated = draws(JI.he_normal(in_axis=-1, out_axis=-2), seed=3)
    assert ks_statistic(a, wrong_axes) > ks_critical(a.size, wrong_axes.size)
    assert ks_statistic(a, truncated) > ks_critical(a.size, truncated.size)
    assert np.abs(truncated).max() <= 2 * np.sqrt(2 / 50) / 0.8796 + 1e-6   # jax truncates at 2 std (rescaled)


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (6, 6), (3, 5, 8)])
def test_orthogonal_rows_or_columns(shape):
    W = np.asarray(I.orthogonal(gain=2.0)(jax.random.key(3), shape), dtype=np.float64)
    n_out, n_in = shape[-2], shape[-1]
    gram = W @ np.swapaxes(W, -1, -2) if n_out <= n_in else np.swapaxes(W, -1, -2) @ W
    np.testing.assert_allclose(gram, np.broadcast_to(4 * np.eye(min(n_in, n_out)), gram.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 2.0, rtol=1e-5)


def test_variance_rules_by_formula():
    rng = jax.random.key(4)
    for init, shape, var in [(I.he_normal(), (200, 400), 2 / 400), (I.he_uniform(), (400, 200), 2 / 200),
                             (I.xavier_uniform(), (100, 500), 2 / 600), (I.lecun_normal(), (300, 100), 1 / 100)]:
        W = np.asarray(init(rng, shape))
        assert W.var() == pytest.approx(var, rel=0.03)
    assert np.abs(np.asarray(I.xavier_uniform(3.0)(rng, (10, 20)))).max() <= 3 * np.sqrt(6 / 30)
    assert np.asarray(I.constant(-0.2)(rng, (2, 3))).tolist() == [[np.float32(-0.2)] * 3] * 2


def test_traced_scale_under_jit_and_vmap_and_dtype():
    stds = jnp.array([0.1, 1.0, 3.0])
    Ws = jax.jit(jax.vmap(lambda s: I.gaussian(s)(jax.random.key(5), (100, 100))))(stds)
    np.testing.assert_allclose(np.asarray(Ws).std(axis=(1, 2)), stds, rtol=0.03)
    np.testing.assert_allclose(Ws[0] * 10, Ws[1], rtol=1e-6)      # one draw, scaled (0.1 is not exact in float32)
    gains = jax.jit(jax.vmap(lambda g: I.orthogonal(g)(jax.random.key(5), (4, 4))))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(gains[1], 2 * gains[0], rtol=1e-6)
    assert I.he_normal()(jax.random.key(0), (3, 4), jnp.float16).dtype == jnp.float16
    assert I.orthogonal()(jax.random.key(0), (3, 4), jnp.float16).dtype == jnp.float16


def test_init_mlp_default_is_bit_identical_and_init_is_used():
    key = jax.random.key(11)
    sizes = (64, 32, 32, 10)
    default = mlp.init_mlp(sizes, key=key)
    for k, (n_in, n_out), p in zip(jax.random.split(key, 3), zip(sizes[:-1], sizes[1:]), default):
        np.testing.assert_array_equal(p.W, jax.random.normal(k, (n_out, n_in)) / jnp.sqrt(n_in))
    he = mlp.init_mlp(sizes, key=key, init=I.he_normal())
    assert [p.W.shape for p in he] == [(32, 64), (32, 32), (10, 32)] and all(not np.any(p.b) for p in he)
    for k, p in zip(jax.random.split(key, 3), he):
        np.testing.assert_array_equal(p.W, I.he_normal()(k, p.W.shape))
    jaxs = mlp.init_mlp(sizes, key=key, init=JI.glorot_uniform(in_axis=-1, out_axis=-2))
    assert [p.W.shape for p in jaxs] == [(32, 64), (32, 32), (10, 32)]
    # the LeCun initializer and the default draw the same distribution (equal up to the last bit)
    np.testing.assert_allclose(mlp.init_mlp(sizes, key=key, init=I.lecun_normal())[0].W, default[0].W, rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="std must be >= 0"):
        I.gaussian(-1.0)
    with pytest.raises(ValueError, match="gain must be finite"):
        I.xavier_normal(float("nan"))
    with pytest.raises(ValueError, match="negative_slope must be >= 0"):
        I.he_uniform(-0.1)
    with pytest.raises(ValueError, match="gain must be >= 0"):
        I.orthogonal(-2.0)
    with pytest.raises(ValueError, match="value must be finite"):
        I.constant(float("inf"))
    with pytest.raises(ValueError, match="std must have shape"):
        I.gaussian(jnp.ones(3))
    with pytest.raises(TypeError, match="key must be a jax.random key"):
        I.he_normal()(0, (3, 4))
    with pytest.raises(ValueError, match="shape must be a tuple of at least two positive ints"):
        I.xavier_uniform()(jax.random.key(0), (5,))
    with pytest.raises(ValueError, match="shape must be a tuple"):
        I.fans((3, 0))
    with pytest.raises(TypeError, match="init must be None or an initializer"):
        mlp.init_mlp((2, 3), key=jax.random.key(0), init="he")
    with pytest.raises(ValueError, match=r"init must return an array of shape \(3, 2\)"):
        mlp.init_mlp((2, 3), key=jax.random.key(0), init=lambda k, s: jnp.zeros((2, 3)))
