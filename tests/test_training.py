"""dlbook.training: fit against a plain-Python training loop built from jax.grad of model.loss_value plus the
regularization penalties (with the documented per-step keys for dropout, noise and augmentation), its curves
against evaluate, vmap against separate calls; evaluate against a NumPy log-softmax reference; trend and
diagnose on constructed curves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlbook import model as mdl
from dlbook import optim
from dlbook import regularization as reg
from dlbook import training as tr
from dlbook.activations import IDENTITY, RELU, TANH
from dlbook.losses import SOFTMAX_CROSS_ENTROPY


def dataset(n, d=5, classes=3, seed=0):
    kx, ky = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, (n, d)), jax.random.randint(ky, (n,), 0, classes)


TRAIN, VAL, TEST = dataset(12, seed=0), dataset(8, seed=1), dataset(6, seed=2)


def params0(sizes=(5, 4, 3), seed=3):
    return mdl.init_mlp(sizes, key=jax.random.key(seed))


def sgd_step(p, g, lr):
    return [mdl.Layer(l.W - lr * gl.W, l.b - lr * gl.b) for l, gl in zip(p, g)]


def assert_params_close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.W, y.W, rtol=rtol, atol=atol)
        np.testing.assert_allclose(x.b, y.b, rtol=rtol, atol=atol)


def step_keys(key, t):
    return jax.random.split(jax.random.fold_in(key, t), 3)  # (k_aug, k_noise, k_drop)


# -- fit against a plain loop --------------------------------------------------------------------------


def test_fit_equals_a_plain_python_training_loop_with_penalties():
    (X, y), (Xv, yv) = TRAIN, VAL
    Y = jax.nn.one_hot(y, 3)
    lr, l2, l1 = 0.5, 0.01, 0.001

    def objective(p):
        data = mdl.loss_value(p, X, Y, activation=RELU, output=IDENTITY, loss=SOFTMAX_CROSS_ENTROPY)
        return data + reg.l2_penalty(p, l2) + reg.l1_penalty(p, l1)

    p = params0()
    objectives, curves = [], [(tr.evaluate(p, X, y), tr.evaluate(p, Xv, yv))]
    for t in range(6):
        value, g = jax.value_and_grad(objective)(p)
        objectives.append(float(value))
        p = sgd_step(p, g, lr)
        if (t + 1) % 2 == 0:
            curves.append((tr.evaluate(p, X, y), tr.evaluate(p, Xv, yv)))

    run = tr.fit(params0(), TRAIN, VAL, optimizer=optim.sgd(lr), num_steps=6, key=jax.random.key(4),
                 l2=l2, l1=l1, eval_every=2)
    assert_params_close(run.params, p)
    np.testing.assert_allclose(run.objective, objectives, rtol=1e-5)
    np.testing.assert_allclose(run.train_loss, [c[0][0] for c in curves], rtol=1e-5)
    np.testing.assert_allclose(run.train_accuracy, [c[0][1] for c in curves], rtol=1e-6)
    np.testing.assert_allclose(run.val_loss, [c[1][0] for c in curves], rtol=1e-5)
    np.testing.assert_allclose(run.val_accuracy, [c[1][1] for c in curves], rtol=1e-6)
    assert run.objective[-1] < run.objective[0]  # it did learn


def test_fit_with_dropout_and_noise_uses_the_documented_per_step_keys():
    X, y = TRAIN
    Y = jax.nn.one_hot(y, 3)
    key = jax.random.key(5)
    p, objectives = params0(), []
    for t in range(2):
        _, k_noise, k_drop = step_keys(key, t)
        X_step = reg.gaussian_noise(X, 0.1, key=k_noise)
        value, g = jax.value_and_grad(lambda q: mdl.loss_value(
            q, X_step, Y, activation=RELU, output=IDENTITY, loss=SOFTMAX_CROSS_ENTROPY,
            dropout=0.3, key=k_drop))(p)
        objectives.append(float(value))
        p = sgd_step(p, g, 0.5)
    run = tr.fit(params0(), TRAIN, VAL, optimizer=optim.sgd(0.5), num_steps=2, key=key, dropout=0.3, noise=0.1)
    assert_params_close(run.params, p)
    np.testing.assert_allclose(run.objective, objectives, rtol=1e-5)
    np.testing.assert_allclose(run.train_loss[-1], tr.evaluate(p, X, y)[0], rtol=1e-5)


def test_fit_with_max_shift_trains_on_augment_images_of_the_step_key():
    X, y = dataset(12, d=16, seed=6)
    Y = jax.nn.one_hot(y, 3)
    key = jax.random.key(7)
    p, objectives = params0((16, 4, 3)), []
    for t in range(2):
        k_aug, _, _ = step_keys(key, t)
        X_step = reg.augment_images(X, key=k_aug, image_shape=(4, 4), max_shift=1)
        value, g = jax.value_and_grad(lambda q: mdl.loss_value(
            q, X_step, Y, activation=RELU, output=IDENTITY, loss=SOFTMAX_CROSS_ENTROPY))(p)
        objectives.append(float(value))
        p = sgd_step(p, g, 0.5)
    run = tr.fit(params0((16, 4, 3)), (X, y), (X, y), optimizer=optim.sgd(0.5), num_steps=2, key=key,
                 max_shift=1, image_shape=(4, 4))
    assert_params_close(run.params, p)
    np.testing.assert_allclose(run.objective, objectives, rtol=1e-5)


def test_curves_are_measured_in_evaluation_mode():
    X, y = TRAIN
    run = tr.fit(params0(), TRAIN, VAL, optimizer=optim.sgd(0.5), num_steps=2, key=jax.random.key(8),
                 dropout=0.5, noise=0.3, l2=0.1)
    loss0, acc0 = tr.evaluate(params0(), X, y)
    np.testing.assert_allclose(run.train_loss[0], loss0, rtol=1e-6)
    np.testing.assert_allclose(run.train_accuracy[0], acc0)
    np.testing.assert_allclose(run.val_loss[0], tr.evaluate(params0(), *VAL)[0], rtol=1e-6)
    # the objective is one training-mode draw plus the penalty: not the evaluation loss
    assert abs(float(run.objective[0]) - float(loss0)) > 1e-3


def test_fit_vmaps_over_l2_dropout_and_seed_like_separate_calls():
    def run(l2, rate, seed):
        return tr.fit(params0(seed=seed), TRAIN, VAL, optimizer=optim.sgd(0.5), num_steps=4,
                      key=jax.random.key(seed), l2=l2, dropout=rate, eval_every=2)

    l2s, rates, seeds = jnp.array([0.0, 0.05, 0.2]), jnp.array([0.0, 0.3, 0.5]), jnp.array([1, 2, 3])
    many = jax.vmap(run)(l2s, rates, seeds)
    assert many.train_loss.shape == (3, 3) and many.objective.shape == (3, 4)
    for i in range(3):
        one = run(float(l2s[i]), float(rates[i]), int(seeds[i]))
        for field in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "objective"):
            np.testing.assert_allclose(getattr(many, field)[i], getattr(one, field), rtol=1e-5, atol=1e-6, err_msg=field)
        assert_params_close([mdl.Layer(l.W[i], l.b[i]) for l in many.params], one.params)


def test_fit_with_a_traced_max_shift_of_zero_equals_no_shift():
    X, y = dataset(12, d=16, seed=9)
    kw = dict(optimizer=optim.sgd(0.5), num_steps=2, key=jax.random.key(10), image_shape=(4, 4))
    traced = jax.vmap(lambda s: tr.fit(params0((16, 4, 3)), (X, y), (X, y), max_shift=s, **kw))(jnp.array([0, 0]))
    plain = tr.fit(params0((16, 4, 3)), (X, y), (X, y), max_shift=0, **kw)
    for i in range(2):
        np.testing.assert_allclose(traced.objective[i], plain.objective, rtol=1e-6)
        np.testing.assert_allclose(traced.train_loss[i], plain.train_loss, rtol=1e-6)
        assert_params_close([mdl.Layer(l.W[i], l.b[i]) for l in traced.params], plain.params, rtol=1e-6)


def test_test_curves_are_present_only_with_a_test_set_and_shapes():
    kw = dict(optimizer=optim.sgd(0.5), num_steps=6, key=jax.random.key(11), eval_every=3)
    without = tr.fit(params0(), TRAIN, VAL, **kw)
    assert without.test_loss is None and without.test_accuracy is None
    for curve in (without.train_loss, without.val_loss, without.train_accuracy, without.val_accuracy):
        assert curve.shape == (3,)
    assert without.objective.shape == (6,)
    with_test = tr.fit(params0(), TRAIN, VAL, test=TEST, **kw)
    assert with_test.test_loss.shape == (3,) and with_test.test_accuracy.shape == (3,)
    np.testing.assert_allclose(with_test.test_loss[0], tr.evaluate(params0(), *TEST)[0], rtol=1e-6)
    np.testing.assert_allclose(with_test.test_loss[-1], tr.evaluate(with_test.params, *TEST)[0], rtol=1e-5)
    np.testing.assert_allclose(with_test.val_loss, without.val_loss, rtol=1e-6)  # the test set changes nothing


def test_fit_bad_input():
    X, y = TRAIN
    kw = dict(optimizer=optim.sgd(0.1), num_steps=4, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^train labels must lie in \[0, 3\)"):
        tr.fit(params0(), (X, y.at[0].set(3)), VAL, **kw)
    with pytest.raises(ValueError, match=r"^val labels must lie in \[0, 3\)"):
        tr.fit(params0(), TRAIN, (VAL[0], VAL[1].at[0].set(-1)), **kw)
    with pytest.raises(ValueError, match=r"^train labels must be integer class indices of shape \(12,\)"):
        tr.fit(params0(), (X, y.astype(jnp.float32)), VAL, **kw)
    with pytest.raises(ValueError, match="^num_steps must be a multiple of eval_every = 3, got 4"):
        tr.fit(params0(), TRAIN, VAL, eval_every=3, **kw)
    with pytest.raises(ValueError, match="^l2 must be >= 0"):
        tr.fit(params0(), TRAIN, VAL, l2=-0.1, **kw)
    with pytest.raises(ValueError, match="^l1 must be >= 0"):
        tr.fit(params0(), TRAIN, VAL, l1=-0.1, **kw)
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        tr.fit(params0(), TRAIN, VAL, noise=-0.1, **kw)
    with pytest.raises(ValueError, match=r"^dropout must be a dropout rate in \[0, 1\)"):
        tr.fit(params0(), TRAIN, VAL, dropout=1.0, **kw)
    for name in ("l2", "l1", "noise"):  # one strength per run: a sweep is a vmap over fit
        with pytest.raises(ValueError, match=rf"^{name} must have shape \(\) \(a scalar; vmap over fit for several\)"):
            tr.fit(params0(), TRAIN, VAL, **{name: jnp.array([0.1, 0.2])}, **kw)
    with pytest.raises(TypeError, match=r"^train must be a pair \(X, labels\)"):
        tr.fit(params0(), X, VAL, **kw)
    with pytest.raises(TypeError, match=r"^val must be a pair \(X, labels\)"):
        tr.fit(params0(), TRAIN, (X, y, y), **kw)
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 5\)"):
        tr.fit(params0(), (X[:, :4], y), VAL, **kw)
    with pytest.raises(ValueError, match=r"^image_shape \(8, 8\) has 64 pixels but X has 5 columns"):
        tr.fit(params0(), TRAIN, VAL, max_shift=1, **kw)
    with pytest.raises(TypeError, match="^activation must be a dlbook.activations.Activation"):
        tr.fit(params0(), TRAIN, VAL, activation="relu", **kw)
    with pytest.raises(TypeError, match="^optimizer must be a GradientTransformation"):
        tr.fit(params0(), TRAIN, VAL, optimizer=0.1, num_steps=4, key=jax.random.key(0))
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        tr.fit(params0(), TRAIN, VAL, optimizer=optim.sgd(0.1), num_steps=4, key=0)


@pytest.mark.parametrize("image_shape, error, message", [
    ((16,), ValueError, r"^image_shape must be \(height, width\), got \(16,\)$"),
    ((4, 4, 1), ValueError, r"^image_shape must be \(height, width\), got \(4, 4, 1\)$"),
    ("44", ValueError, r"^image_shape must be \(height, width\), got '44'$"),
    (None, ValueError, r"^image_shape must be \(height, width\), got None$"),
    (("a", 16), TypeError, r"^image_shape\[0\] must be an int, got str 'a'$"),
    ((4.0, 4.0), TypeError, r"^image_shape\[0\] must be an int, got float 4.0$"),
    ((4, True), TypeError, r"^image_shape\[1\] must be an int, got bool True$"),
    ((-4, -4), ValueError, r"^image_shape\[0\] must be >= 1, got -4$"),
    ((16, 0), ValueError, r"^image_shape\[1\] must be >= 1, got 0$"),
    ((3, 5), ValueError, r"^image_shape \(3, 5\) has 15 pixels but X has 16 columns$"),
])
def test_fit_rejects_a_bad_image_shape_naming_it(image_shape, error, message):
    """Before, (8,) failed inside with "not enough values to unpack", ("a", 8) reached a message with 'aaaaaaaa'
    pixels, and the others were reported as ``shape[0]``."""
    X, y = dataset(12, d=16, seed=6)
    with pytest.raises(error, match=message):
        tr.fit(params0((16, 4, 3)), (X, y), (X, y), optimizer=optim.sgd(0.5), num_steps=2, key=jax.random.key(0),
               max_shift=1, image_shape=image_shape)


def test_fit_accepts_any_factorisation_of_the_row_length_as_image_shape():
    X, y = dataset(12, d=16, seed=6)
    kw = dict(optimizer=optim.sgd(0.5), num_steps=2, key=jax.random.key(0), max_shift=1)
    for shape in ((4, 4), [2, 8], (16, 1), (np.int64(4), 4)):
        run = tr.fit(params0((16, 4, 3)), (X, y), (X, y), image_shape=shape, **kw)
        assert run.objective.shape == (2,) and bool(jnp.all(jnp.isfinite(run.objective)))


# -- evaluate ----------------------------------------------------------------------------------------------


def test_evaluate_is_mean_cross_entropy_and_argmax_accuracy():
    X, y = (np.asarray(a) for a in TRAIN)
    p = params0(seed=12)
    W1, b1, W2, b2 = (np.asarray(a, np.float64) for a in (p[0].W, p[0].b, p[1].W, p[1].b))
    for activation, f in ((RELU, lambda z: np.maximum(z, 0)), (TANH, np.tanh)):
        scores = f(X @ W1.T + b1) @ W2.T + b2
        log_p = scores - scores.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        loss, acc = tr.evaluate(p, X, y, activation=activation)
        assert float(loss) == pytest.approx(-np.mean(log_p[np.arange(len(y)), y]), rel=1e-5)
        assert float(acc) == pytest.approx(np.mean(scores.argmax(axis=1) == y))


def test_evaluate_bad_input():
    X, y = TRAIN
    with pytest.raises(ValueError, match=r"^data labels must lie in \[0, 3\)"):
        tr.evaluate(params0(), X, y + 3)
    with pytest.raises(TypeError, match="^activation must be a dlbook.activations.Activation"):
        tr.evaluate(params0(), X, y, activation=jax.nn.relu)


# -- trend and diagnose ------------------------------------------------------------------------------------

FALLING, FLAT, RISING = np.geomspace(1.0, 0.1, 100), np.full(100, 0.5), np.geomspace(0.1, 1.0, 100)
CURVES = {"falling": FALLING, "flat": FLAT, "rising": RISING}


def test_trend_on_constructed_curves():
    assert tr.trend(FALLING) == "falling" and tr.trend(FLAT) == "flat" and tr.trend(RISING) == "rising"
    assert tr.trend(np.linspace(0.002, 0.001, 100)) == "falling"  # on a log scale, as a fall from 2 to 1
    assert tr.trend(np.linspace(2.0, 1.0, 100)) == "falling"
    assert tr.trend(0.5 * (1 + 0.01 * np.sin(np.arange(100)))) == "flat"  # wiggles within tol
    assert tr.trend(np.linspace(1.0, 1.04, 100)) == "flat"  # ~2% over the second half: within tol = 0.05
    assert tr.trend(np.linspace(1.0, 1.04, 100), tol=0.01) == "rising"
    assert tr.trend(jnp.geomspace(1.0, 1e-3, 50).astype(jnp.float32)) == "falling"  # a jax array


def test_trend_counts_nan_or_inf_in_the_second_half_as_rising():
    for bad in (np.nan, np.inf):
        c = FALLING.copy()
        c[70:] = bad
        assert tr.trend(c) == "rising"
        c = FALLING.copy()
        c[-1] = bad
        assert tr.trend(c) == "rising"


@pytest.mark.parametrize("pair", sorted(tr.PATTERNS))
def test_every_pattern_is_reachable(pair):
    assert tr.diagnose(CURVES[pair[0]], CURVES[pair[1]]) == tr.PATTERNS[pair]


def test_an_unlisted_pair_is_none_of_the_five():
    assert ("rising", "falling") not in tr.PATTERNS
    assert tr.diagnose(RISING, FALLING) == "none of the five"
    assert tr.diagnose(RISING, FLAT) == "none of the five"


def test_diagnose_on_an_overfitting_pair_and_the_tolerance():
    t = np.linspace(0, 1, 100)
    assert tr.diagnose(np.exp(-5 * t), 0.3 + (t - 0.3) ** 2) == "overfitting"
    slow = np.linspace(1.0, 0.97, 100)  # falls ~1.5% over the second half
    assert tr.diagnose(slow, slow) == "converged or stuck"
    assert tr.diagnose(slow, slow, tol=0.005) == "still learning"


def test_trend_and_diagnose_bad_input():
    with pytest.raises(ValueError, match=r"^curve must be one curve of at least 4 points \(shape \(T,\)\)"):
        tr.trend(np.ones((2, 10)))
    with pytest.raises(ValueError, match=r"^curve must have at least 4 points on its last axis \(shape \(\.\.\., T\)\), "
                                         r"got shape \(3,\)"):
        tr.trend(np.ones(3))
    with pytest.raises(ValueError, match="^tol must be > 0"):
        tr.trend(FALLING, tol=0.0)
    with pytest.raises(ValueError, match="^tol must be > 0"):
        tr.trend(FALLING, tol=-0.1)
    for window in (0.0, 0.6, -0.1):
        with pytest.raises(ValueError, match=r"^window must be in \(0, 0.5\]"):
            tr.trend(FALLING, window=window)
    with pytest.raises(ValueError, match="^curve must be positive"):
        tr.trend(np.zeros(20))
    with pytest.raises(ValueError, match="^curve must be positive"):
        tr.trend(-FALLING)
    with pytest.raises(ValueError, match=r"^window must be in \(0, 0.5\]"):
        tr.diagnose(FALLING, FALLING, window=0.7)
    with pytest.raises(TypeError, match="^curve must be"):
        tr.trend("falling")


def test_trend_counts_nan_in_the_middle_window_as_rising():
    c = np.geomspace(1.0, 0.1, 100)
    c[49] = np.nan  # just before the middle, but inside the window that is compared
    assert tr.trend(c) == "rising"
    c = np.geomspace(1.0, 0.1, 100)
    c[10] = np.nan  # early, outside both windows: the comparison is unaffected
    assert tr.trend(c) == "falling"


def test_window_means_and_bad_input():
    o = jnp.arange(12.0).reshape(2, 6)
    np.testing.assert_allclose(tr.window_means(o, 3), [[1.0, 4.0], [7.0, 10.0]])
    with pytest.raises(ValueError, match="^objective must have a last axis that is a multiple of eval_every = 4"):
        tr.window_means(o, 4)


def test_input_sensitivity_against_finite_differences():
    params = mdl.init_mlp((5, 7, 3), key=jax.random.key(0))
    X = jax.random.normal(jax.random.key(1), (4, 5))
    f = lambda x: mdl.forward(params, x[None], activation=TANH, output=IDENTITY).activations[-1][0]
    eps = 1e-3
    norms = []
    for x in np.asarray(X, np.float64):
        J = np.stack([(np.asarray(f(jnp.asarray(x + eps * e, jnp.float32))) - np.asarray(f(jnp.asarray(x - eps * e, jnp.float32))))
                      / (2 * eps) for e in np.eye(5)], axis=1)
        norms.append(np.linalg.norm(J))
    np.testing.assert_allclose(float(tr.input_sensitivity(params, X, activation=TANH)), np.mean(norms), rtol=2e-3)
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 5\)"):
        tr.input_sensitivity(params, X[:, :4])


def test_ablate_units_against_a_numpy_forward_pass_with_the_unit_masked():
    params = mdl.init_mlp((5, 7, 6, 3), key=jax.random.key(2))
    X = np.asarray(jax.random.normal(jax.random.key(3), (40, 5)), np.float64)
    y = np.asarray(jax.random.randint(jax.random.key(4), (40,), 0, 3))
    Ws = [(np.asarray(p.W, np.float64), np.asarray(p.b, np.float64)) for p in params]
    for layer, width in ((1, 7), (2, 6)):
        losses, accs = tr.ablate_units(params, X, y, layer=layer, activation=TANH)
        assert losses.shape == accs.shape == (width,)
        for j in range(width):
            a = X
            for l, (W, b) in enumerate(Ws[:-1], 1):
                a = np.tanh(a @ W.T + b)
                if l == layer:
                    a[:, j] = 0.0
            scores = a @ Ws[-1][0].T + Ws[-1][1]
            log_p = scores - scores.max(axis=1, keepdims=True)
            log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
            assert float(losses[j]) == pytest.approx(-np.mean(log_p[np.arange(40), y]), rel=1e-5)
            assert float(accs[j]) == pytest.approx(np.mean(scores.argmax(axis=1) == y))


def test_ablate_units_bad_input():
    params = mdl.init_mlp((5, 7, 3), key=jax.random.key(2))
    X, y = jnp.zeros((4, 5)), jnp.zeros(4, jnp.int32)
    for layer in (0, 2):
        with pytest.raises(ValueError, match="^layer must"):
            tr.ablate_units(params, X, y, layer=layer)
    with pytest.raises(ValueError, match=r"^X must have shape \(B, 5\)"):
        tr.ablate_units(params, X[:, :4], y)


def test_fit_and_evaluate_need_one_output_per_class():
    """A one-output network is a binary classifier for model.accuracy, but fit/evaluate train a softmax: refuse it
    by name instead of failing deep inside the cross-entropy."""
    one = mdl.init_mlp((2, 1), key=jax.random.key(0))
    X, y = jnp.ones((3, 2)), jnp.array([0, 1, 0])
    with pytest.raises(ValueError, match=r"^params must end in one output per class \(a softmax classifier, at least 2\)"):
        tr.fit(one, (X, y), (X, y), optimizer=optim.sgd(0.1), num_steps=2, key=jax.random.key(1))
    with pytest.raises(ValueError, match=r"^params must end in one output per class"):
        tr.evaluate(one, X, y)


def test_trend_window_must_be_a_number():
    with pytest.raises(ValueError, match=r"^window must be in \(0, 0.5\]"):
        tr.trend(jnp.ones(10), window="a")
