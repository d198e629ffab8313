"""dlbook.regularization: penalties against closed forms and optax's weight decay, dropout's statistics,
noise, image augmentation against a NumPy reference (a traced max_shift against the concrete call), early
stopping against a plain-Python reference; the argument names of the book (p, noise, image_shape, l2, l1)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlbook import model as mdl
from dlbook import optim
from dlbook import regularization as rg
from dlbook.activations import IDENTITY, TANH


def net(seed=0):
    return mdl.init_mlp((5, 4, 3), key=jax.random.key(seed))


def test_l2_penalty_value_gradient_and_optax_weight_decay():
    params = [mdl.Layer(l.W, l.b + 1.0) for l in net()]
    l2 = 0.3
    ref = 0.5 * l2 * sum(float(np.sum(np.asarray(l.W, np.float64) ** 2)) for l in params)
    assert float(rg.l2_penalty(params, l2)) == pytest.approx(ref, rel=1e-6)
    g = jax.grad(rg.l2_penalty)(params, l2)
    for gl, l in zip(g, params):
        np.testing.assert_allclose(gl.W, l2 * l.W, rtol=1e-6)
        assert not np.any(gl.b)  # biases are not penalised
    # one GD step on loss + (λ/2)‖W‖² equals optax's add_decayed_weights(λ) (masked to W) followed by sgd
    X, Y = jax.random.normal(jax.random.key(1), (6, 5)), jax.random.normal(jax.random.key(2), (6, 3))
    loss = lambda p: mdl.loss_value(p, X, Y, activation=TANH, output=IDENTITY)
    sgd = optim.sgd(0.1)
    ours = optim.apply_updates(params, sgd.update(jax.grad(lambda p: loss(p) + rg.l2_penalty(p, l2))(params), sgd.init(params), params)[0])
    tx = optax.chain(optax.add_decayed_weights(l2, mask=lambda p: [mdl.Layer(True, False) for _ in p]), optax.sgd(0.1))
    updates, _ = tx.update(jax.grad(loss)(params), tx.init(params), params)
    theirs = optax.apply_updates(params, updates)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a.b, b.b, rtol=1e-6, atol=1e-7)


def test_l1_penalty_value_and_sign_gradient():
    params = [mdl.Layer(jnp.array([[1.0, -2.0, 0.0]]), jnp.array([3.0]))]
    assert float(rg.l1_penalty(params, 0.5)) == pytest.approx(1.5)
    g = jax.grad(rg.l1_penalty)(params, 0.5)
    np.testing.assert_array_equal(g[0].W, [[0.5, -0.5, 0.0]])  # 0 at w = 0
    assert not np.any(g[0].b)


def test_penalties_vmap_over_lambda_and_reject_negative():
    params = net()
    l2s = jnp.array([0.0, 0.1, 1.0])
    v = jax.vmap(lambda l2: rg.l2_penalty(params, l2))(l2s)
    assert float(v[0]) == 0 and float(v[2]) == pytest.approx(10 * float(v[1]), rel=1e-6)
    with pytest.raises(ValueError, match="^l2 must be >= 0, got -0.1"):
        rg.l2_penalty(params, -0.1)
    with pytest.raises(ValueError, match="^l1 must be >= 0, got -1.0"):
        rg.l1_penalty(params, -1.0)
    with pytest.raises(ValueError, match="^l2 must be finite"):
        rg.l2_penalty(params, float("nan"))
    with pytest.raises(ValueError, match="^l1 must be finite"):
        rg.l1_penalty(params, float("inf"))
    with pytest.raises(ValueError, match="^params must contain at least one array"):
        rg.l2_penalty([], 0.1)


def test_soft_threshold_is_the_minimiser_of_the_l1_proximal_problem():
    w = np.asarray(jax.random.normal(jax.random.key(0), (50,)), np.float64)
    grid = np.linspace(-4, 4, 80001)                                    # brute force: argmin ½(v − w)² + t|v|
    for t in (0.0, 0.3, 1.0):
        ref = np.array([grid[np.argmin(0.5 * (grid - wi) ** 2 + t * np.abs(grid))] for wi in w])
        np.testing.assert_allclose(np.asarray(rg.soft_threshold(jnp.asarray(w, jnp.float32), t)), ref, atol=2e-4)
    out = rg.soft_threshold(jnp.array([0.1, -0.1, 0.0]), 0.1)
    assert out.tolist() == [0.0, 0.0, 0.0]                                # exactly zero, not a jump across 0
    assert jax.vmap(rg.soft_threshold, (None, 0))(jnp.ones(3), jnp.array([0.5, 2.0])).tolist() == [[0.5] * 3, [0.0] * 3]


def test_soft_threshold_bad_input():
    with pytest.raises(ValueError, match="^t must be"):
        rg.soft_threshold(jnp.ones(3), -0.1)


def test_dropout_statistics_and_evaluation_identity():
    x = jnp.ones(200_000)
    for rate in (0.0, 0.2, 0.5, 0.9):
        y = rg.dropout(x, rate, key=jax.random.key(3))
        assert float(jnp.mean(y == 0)) == pytest.approx(rate, abs=0.01)
        assert float(jnp.mean(y)) == pytest.approx(1.0, abs=0.02)  # inverted: the expectation is unchanged
        assert bool(jnp.all(rg.dropout(x, rate, key=jax.random.key(3), train=False) == x))
    np.testing.assert_array_equal(rg.dropout(x[:10], 0.0, key=jax.random.key(0)), x[:10])  # rate 0: identity
    rates = jnp.array([0.1, 0.5])  # traced rates under vmap
    kept = jax.vmap(lambda r: jnp.mean(rg.dropout(x, r, key=jax.random.key(4)) > 0))(rates)
    np.testing.assert_allclose(kept, [0.9, 0.5], atol=0.01)


def test_dropout_bad_input():
    with pytest.raises(ValueError, match=r"^p must be a dropout rate in \[0, 1\), got 1.0$"):
        rg.dropout(jnp.ones(3), 1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^p must be a dropout rate in \[0, 1\), got -0.1$"):
        rg.dropout(jnp.ones(3), -0.1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^p must have shape \(\) \(a scalar; vmap over the caller for several\)"):
        rg.dropout(jnp.ones(3), jnp.array([0.1, 0.2]), key=jax.random.key(0))
    with pytest.raises(ValueError, match="^p must be finite"):
        rg.dropout(jnp.ones(3), float("nan"), key=jax.random.key(0))
    with pytest.raises(TypeError, match="^p must be"):
        rg.dropout(jnp.ones(3), "0.5", key=jax.random.key(0))
    with pytest.raises(TypeError, match="^train must be True or False"):
        rg.dropout(jnp.ones(3), 0.5, key=jax.random.key(0), train="no")
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        rg.dropout(jnp.ones(3), 0.5, key=0)


def test_gaussian_noise():
    y = rg.gaussian_noise(jnp.full(100_000, 2.0), 0.3, key=jax.random.key(5))
    assert float(jnp.mean(y)) == pytest.approx(2.0, abs=0.01) and float(jnp.std(y)) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(rg.gaussian_noise(jnp.ones(4), 0.0, key=jax.random.key(0)), jnp.ones(4))
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        rg.gaussian_noise(jnp.ones(3), -1.0, key=jax.random.key(0))


def shifted(img, dy, dx):
    out = np.zeros_like(img)
    h, w = img.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = img[r - dy, c - dx]
    return out


def test_augment_images_are_shifts_of_the_input():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 64)).astype(np.float32)
    out = np.asarray(rg.augment_images(X, key=jax.random.key(6), max_shift=2))
    seen = set()
    for x, o in zip(X, out):
        img = x.reshape(8, 8)
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(shifted(img, dy, dx), o.reshape(8, 8))]
        assert matches, "every augmented image is a shift of its input"
        seen.add(matches[0])
    assert len(seen) > 10  # the shifts vary
    same = rg.augment_images(X, key=jax.random.key(6), max_shift=0)
    np.testing.assert_array_equal(same, X)


def test_augment_images_flip_and_noise():
    X = np.arange(2 * 9, dtype=np.float32).reshape(2, 9).repeat(20, axis=0)
    out = np.asarray(rg.augment_images(X, key=jax.random.key(7), image_shape=(3, 3), max_shift=0, flip=True))
    mirrored = X.reshape(-1, 3, 3)[:, :, ::-1].reshape(-1, 9)
    is_same, is_mirror = np.all(out == X, axis=1), np.all(out == mirrored, axis=1)
    assert np.all(is_same | is_mirror) and is_same.any() and is_mirror.any()
    noisy = rg.augment_images(jnp.zeros((500, 64)), key=jax.random.key(8), max_shift=0, noise=0.2)
    assert float(jnp.std(noisy)) == pytest.approx(0.2, abs=0.01)


def test_augment_images_bad_input():
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 64\) \(one 8×8 image per row\)"):
        rg.augment_images(jnp.zeros((3, 60)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="^max_shift must be >= 0"):
        rg.augment_images(jnp.zeros((3, 64)), key=jax.random.key(0), max_shift=-1)
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        rg.augment_images(jnp.zeros((3, 64)), key=jax.random.key(0), noise=-0.1)


def reference_early_stop(v, patience):
    best, best_t = np.inf, 0
    for t, x in enumerate(v):
        if x <= best:
            best, best_t = x, t
        elif t - best_t >= patience:
            return best_t, t
    return best_t, len(v) - 1


def test_early_stopping_against_a_plain_loop():
    rng = np.random.default_rng(1)
    curves = np.cumsum(rng.normal(size=(40, 30)), axis=1).astype(np.float32)  # random walks
    for patience in (1, 3, 7):
        got = rg.early_stopping(curves, patience)
        assert got.best_epoch.shape == (40,)
        for c, b, s in zip(curves, np.asarray(got.best_epoch), np.asarray(got.stop_epoch)):
            assert (b, s) == reference_early_stop(c, patience)


def test_early_stopping_bad_input():
    with pytest.raises(ValueError, match="^patience must be >= 1"):
        rg.early_stopping(jnp.ones(5), 0)
    with pytest.raises(ValueError, match=r"^val_losses must have shape \(\.\.\., epochs\)"):
        rg.early_stopping(jnp.array(1.0), 2)


def test_check_probability_accepts_rates_in_range_and_names_the_argument():
    """``regularization.check_rate`` is gone; its cases hold for ``_checks.check_probability`` (dropout rates and γ)."""
    from dlbook._checks import check_probability

    assert not hasattr(rg, "check_rate")
    for rate in (0.0, 0.5, 0.999, np.float32(0.3), jnp.array(0.2)):
        check_probability("p", rate, "a dropout rate")  # no error
    jax.jit(lambda r: check_probability("p", r, "a dropout rate") or r)(jnp.array(0.2))  # traced: not inspected
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"^keep_out must be a dropout rate in \[0, 1\), got " + str(bad)):
            check_probability("keep_out", bad, "a dropout rate")
    with pytest.raises(ValueError, match=r"^my_rate must have shape \(\) \(a scalar; vmap over the caller"):
        check_probability("my_rate", np.array([0.1, 0.2]), "a dropout rate")
    with pytest.raises(ValueError, match=r"^my_rate must have shape \(\)"):
        check_probability("my_rate", jnp.array([0.5]), "a dropout rate")
    with pytest.raises(ValueError, match="^my_rate must be finite"):
        check_probability("my_rate", float("nan"), "a dropout rate")
    with pytest.raises(TypeError, match="^my_rate must be"):
        check_probability("my_rate", "0.5", "a dropout rate")


def test_the_arguments_carry_the_book_s_names():
    """dropout(x, p), gaussian_noise(x, noise), augment_images(image_shape=...), l2_penalty(params, l2),
    l1_penalty(params, l1): called by keyword with the new names (the old rate, std, shape, lam are gone)."""
    x, key, params = jnp.ones(1000), jax.random.key(0), net()
    np.testing.assert_array_equal(rg.dropout(x, p=0.3, key=key), rg.dropout(x, 0.3, key=key))
    np.testing.assert_array_equal(rg.gaussian_noise(x, noise=0.2, key=key), rg.gaussian_noise(x, 0.2, key=key))
    assert float(rg.l2_penalty(params, l2=0.5)) == float(rg.l2_penalty(params, 0.5))
    assert float(rg.l1_penalty(params, l1=0.5)) == float(rg.l1_penalty(params, 0.5))
    X = jnp.arange(2 * 12.0).reshape(2, 12)
    assert rg.augment_images(X, key=key, image_shape=(3, 4), max_shift=1).shape == (2, 12)
    for call in (lambda: rg.dropout(x, rate=0.3, key=key), lambda: rg.gaussian_noise(x, std=0.2, key=key),
                 lambda: rg.l2_penalty(params, lam=0.5), lambda: rg.l1_penalty(params, lam=0.5),
                 lambda: rg.augment_images(X, key=key, shape=(3, 4))):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            call()


def test_augment_images_rejects_a_bad_image_shape_naming_it():
    X = jnp.zeros((2, 16))
    with pytest.raises(ValueError, match=r"^image_shape must be \(height, width\), got \(16,\)"):
        rg.augment_images(X, key=jax.random.key(0), image_shape=(16,))
    with pytest.raises(TypeError, match=r"^image_shape\[0\] must be an int"):
        rg.augment_images(X, key=jax.random.key(0), image_shape=("a", 16))
    with pytest.raises(ValueError, match=r"^image_shape\[1\] must be >= 1"):
        rg.augment_images(X, key=jax.random.key(0), image_shape=(16, 0))
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 15\) \(one 3×5 image per row\), got \(2, 16\)"):
        rg.augment_images(X, key=jax.random.key(0), image_shape=(3, 5))


def test_augment_images_with_a_traced_max_shift_equals_the_concrete_call():
    X = jax.random.uniform(jax.random.key(9), (30, 36))
    key = jax.random.key(10)
    shifts = jnp.array([0, 1, 2])
    many = jax.vmap(lambda s: rg.augment_images(X, key=key, image_shape=(6, 6), max_shift=s))(shifts)
    assert many.shape == (3, 30, 36)
    for s, out in zip(shifts.tolist(), many):
        np.testing.assert_array_equal(out, rg.augment_images(X, key=key, image_shape=(6, 6), max_shift=s))
    np.testing.assert_array_equal(many[0], X)  # a traced 0 leaves the images alone
    jitted = jax.jit(lambda s: rg.augment_images(X, key=key, image_shape=(6, 6), max_shift=s, flip=True, noise=0.1))(2)
    ref = rg.augment_images(X, key=key, image_shape=(6, 6), max_shift=2, flip=True, noise=0.1)
    np.testing.assert_allclose(jitted, ref, rtol=1e-6, atol=1e-6)  # jit may fuse the noise's multiply-add
