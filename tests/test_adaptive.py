"""Tests for dlbook.adaptive, dlbook.schedules and chapter 8's pieces of dlbook.optim (scale with a schedule,
clipping, decoupled weight decay): every optimizer and every schedule against optax, step by step, on a
parabola, on Rosenbrock and on a pytree; the update rules written out by hand; and bad hyperparameters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlbook import adaptive, schedules
from dlbook.descent import optimize
from dlbook.optim import (EmptyState, add_decayed_weights, apply_updates, chain, clip_by_global_norm, global_norm,
                          momentum, scale, sgd)
from test_optim import parabola_loss, rosenbrock, run_both

W0 = [-1.0, 1.5]

PAIRS = {
    "adagrad": (lambda: adaptive.adagrad(0.05), lambda: optax.adagrad(0.05)),
    "adagrad-G0": (lambda: adaptive.adagrad(0.05, initial_accumulator_value=0.0, eps=1e-6),
                   lambda: optax.adagrad(0.05, initial_accumulator_value=0.0, eps=1e-6)),
    "rmsprop": (lambda: adaptive.rmsprop(1e-3), lambda: optax.rmsprop(1e-3)),
    "rmsprop-eps-out": (lambda: adaptive.rmsprop(1e-3, 0.99, 1e-4, eps_in_sqrt=False),
                        lambda: optax.rmsprop(1e-3, 0.99, 1e-4, eps_in_sqrt=False)),
    "adadelta": (lambda: adaptive.adadelta(), lambda: optax.adadelta(1.0)),
    "adadelta-lr": (lambda: adaptive.adadelta(3.0, 0.95, 1e-5), lambda: optax.adadelta(3.0, 0.95, 1e-5)),
    "adam": (lambda: adaptive.adam(1e-2), lambda: optax.adam(1e-2)),
    "adam-b": (lambda: adaptive.adam(3e-3, 0.5, 0.9, 1e-6), lambda: optax.adam(3e-3, 0.5, 0.9, 1e-6)),
    "adamw": (lambda: adaptive.adamw(1e-2, weight_decay=0.1), lambda: optax.adamw(1e-2, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_optimizer_matches_optax_on_rosenbrock(name):
    ours, theirs = PAIRS[name]
    a, b = run_both(rosenbrock, W0, ours(), theirs(), 200)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_optimizer_matches_optax_on_a_parabola(name):
    ours, theirs = PAIRS[name]
    a, b = run_both(parabola_loss, [2.0, -1.0, 0.25], ours(), theirs(), 60)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_optimizer_matches_optax_on_a_pytree_with_optimize(name):
    ours, theirs = PAIRS[name]

    def loss(p):
        return jnp.sum((p["W"] @ p["b"] - 1.0) ** 2) + 0.1 * jnp.sum(p["b"] ** 4)

    p0 = {"W": jnp.arange(6.0).reshape(2, 3) / 6, "b": jnp.array([0.5, -1.0, 2.0])}
    a = optimize(loss, p0, ours(), 30, path=False).params
    b = optimize(loss, p0, theirs(), 30, path=False).params
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)


def test_adamw_mask_matches_optax():
    p0 = {"W": jnp.ones((2, 2)), "b": jnp.array([1.0, -2.0])}
    loss = lambda p: jnp.sum((p["W"] @ p["b"]) ** 2)  # noqa: E731
    for mask in ({"W": True, "b": False}, lambda p: {"W": False, "b": True}):
        a = optimize(loss, p0, adaptive.adamw(0.05, weight_decay=0.3, mask=mask), 20, path=False).params
        b = optimize(loss, p0, optax.adamw(0.05, weight_decay=0.3, mask=mask), 20, path=False).params
        jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)
    # the mask matters: without it the biases decay too
    full = optimize(loss, p0, adaptive.adamw(0.05, weight_decay=0.3), 20, path=False).params
    masked = optimize(loss, p0, adaptive.adamw(0.05, weight_decay=0.3, mask={"W": True, "b": False}), 20, path=False).params
    assert not np.allclose(full["b"], masked["b"])


def test_adam_is_the_paper_algorithm_written_out():
    """Kingma & Ba, Algorithm 1, with and without the bias correction."""
    grad = jax.grad(rosenbrock)
    a, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    for bc in (True, False):
        theta, m, v = np.array(W0, np.float64), np.zeros(2), np.zeros(2)
        opt = adaptive.adam(a, b1, b2, eps, bias_correction=bc)
        w, s = jnp.array(W0), opt.init(jnp.array(W0))
        for t in range(1, 51):
            g = np.asarray(grad(jnp.asarray(theta, jnp.float32)), np.float64)
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if bc else (m, v)
            theta = theta - a * mh / (np.sqrt(vh) + eps)
            u, s = opt.update(grad(w), s, w)
            w = apply_updates(w, u)
        np.testing.assert_allclose(w, theta, rtol=1e-4)


def test_adam_without_bias_correction_and_b1_zero_is_optax_rmsprop_eps_outside():
    a, b = run_both(rosenbrock, W0, adaptive.adam(1e-3, 0.0, 0.9, 1e-8, bias_correction=False),
                    optax.rmsprop(1e-3, 0.9, 1e-8, eps_in_sqrt=False), 100)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_adagrad_steps_shrink_as_one_over_root_t():
    opt = adaptive.adagrad(1.0, 0.0, 0.0)
    s, g = opt.init(jnp.zeros(2)), jnp.array([3.0, -0.01])
    for t in range(1, 10):
        u, s = opt.update(g, s)
        np.testing.assert_allclose(u, -np.sign(g) / np.sqrt(t), rtol=1e-6)


def test_adadelta_is_zeilers_algorithm_written_out():
    grad = jax.grad(rosenbrock)
    rho, eps = 0.95, 1e-6
    x, eg, ex = np.array(W0), np.zeros(2), np.zeros(2)
    opt = adaptive.adadelta(1.0, rho, eps)
    w, s = jnp.array(W0), opt.init(jnp.array(W0))
    for _ in range(40):
        g = np.asarray(grad(jnp.asarray(x, jnp.float32)), np.float64)
        eg = rho * eg + (1 - rho) * g * g
        dx = -np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
        ex = rho * ex + (1 - rho) * dx * dx
        x = x + dx
        u, s = opt.update(grad(w), s, w)
        w = apply_updates(w, u)
    np.testing.assert_allclose(w, x, rtol=1e-4)


@pytest.mark.parametrize("make", [lambda lr: adaptive.adam(lr), lambda lr: adaptive.rmsprop(lr),
                                  lambda lr: adaptive.adagrad(lr)], ids=["adam", "rmsprop", "adagrad"])
def test_adaptive_optimizers_vmap_over_learning_rates_without_recompiling(make):
    traces = []

    @jax.jit
    def final(lrs):
        traces.append(1)
        return jax.vmap(lambda lr: optimize(rosenbrock, jnp.array(W0), make(lr), 20, path=False).params)(lrs)

    out = final(jnp.array([1e-3, 1e-2]))
    final(jnp.array([2e-3, 3e-2]))
    assert len(traces) == 1
    np.testing.assert_allclose(out[1], optimize(rosenbrock, jnp.array(W0), make(1e-2), 20, path=False).params, rtol=1e-5)


# -- schedules --------------------------------------------------------------------------------------------

SCHEDULES = {
    "step": (lambda: schedules.step_decay(0.5, {10: 0.1, 30: 0.5}),
             lambda: optax.piecewise_constant_schedule(0.5, {10: 0.1, 30: 0.5})),
    "exp": (lambda: schedules.exponential_decay(0.3, 7, 0.8), lambda: optax.exponential_decay(0.3, 7, 0.8)),
    "exp-stair": (lambda: schedules.exponential_decay(0.3, 7, 0.8, staircase=True),
                  lambda: optax.exponential_decay(0.3, 7, 0.8, staircase=True)),
    "cosine": (lambda: schedules.cosine_decay(0.2, 40, 0.1), lambda: optax.cosine_decay_schedule(0.2, 40, 0.1)),
    "linear": (lambda: schedules.linear_schedule(0.0, 0.4, 12), lambda: optax.linear_schedule(0.0, 0.4, 12)),
    "warmup-cosine": (lambda: schedules.warmup_cosine_decay(0.0, 0.3, 10, 50, 0.01),
                      lambda: optax.warmup_cosine_decay_schedule(0.0, 0.3, 10, 50, 0.01)),
    "join": (lambda: schedules.join_schedules([schedules.linear_schedule(0.01, 0.2, 5),
                                               schedules.exponential_decay(0.2, 10, 0.5)], [5]),
             lambda: optax.join_schedules([optax.linear_schedule(0.01, 0.2, 5), optax.exponential_decay(0.2, 10, 0.5)], [5])),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_optax(name):
    ours, theirs = SCHEDULES[name][0](), SCHEDULES[name][1]()
    t = jnp.arange(0, 80)
    np.testing.assert_allclose(jax.vmap(ours)(t), jax.vmap(theirs)(t), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose([float(ours(k)) for k in (0, 3, 45)], [float(theirs(k)) for k in (0, 3, 45)], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_scheduled_optimizers_match_optax(name):
    ours, theirs = SCHEDULES[name][0](), SCHEDULES[name][1]()
    for mine, ref in ((sgd(ours), optax.sgd(theirs)), (adaptive.adam(ours), optax.adam(theirs)),
                      (momentum(ours, 0.9), optax.sgd(theirs, momentum=0.9))):
        a, b = run_both(parabola_loss, [2.0, -1.0, 0.25], mine, ref, 60)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_scale_with_a_schedule_counts_steps():
    t = scale(lambda k: -(k + 1.0))
    s = t.init(None)
    for k in range(4):
        u, s = t.update(jnp.array([2.0]), s)
        np.testing.assert_allclose(u, [-2.0 * (k + 1)])
    assert int(s.count) == 4


def test_warmup_cosine_shape():
    f = schedules.warmup_cosine_decay(0.0, 1.0, 10, 110, 0.0)
    v = jax.vmap(f)(jnp.arange(111))
    np.testing.assert_allclose(v[:11], np.arange(11) / 10, atol=1e-6)
    np.testing.assert_allclose(v[10:], 0.5 * (1 + np.cos(np.pi * np.arange(101) / 100)), atol=1e-6)


# -- clipping and decoupled weight decay ------------------------------------------------------------------


def test_global_norm_and_clipping_match_optax():
    g = {"W": jnp.array([[3.0, 0.0], [0.0, 4.0]]), "b": jnp.array([12.0])}
    np.testing.assert_allclose(global_norm(g), 13.0)
    for c in (1.0, 13.0, 20.0):
        u, s = clip_by_global_norm(c).update(g, clip_by_global_norm(c).init(g))
        r, _ = optax.clip_by_global_norm(c).update(g, optax.clip_by_global_norm(c).init(g))
        jax.tree_util.tree_map(np.testing.assert_allclose, u, r)
        np.testing.assert_allclose(global_norm(u), min(c, 13.0), rtol=1e-6)
        assert s == EmptyState()
    a, b = run_both(rosenbrock, W0, chain(clip_by_global_norm(1.0), sgd(1e-2)),
                    optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(1e-2)), 100)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_add_decayed_weights_matches_optax():
    p, g = jnp.array([1.0, -2.0]), jnp.array([0.5, 0.5])
    u, _ = add_decayed_weights(0.1).update(g, EmptyState(), p)
    r, _ = optax.add_decayed_weights(0.1).update(g, optax.add_decayed_weights(0.1).init(p), p)
    np.testing.assert_allclose(u, r)
    np.testing.assert_allclose(u, g + 0.1 * p)


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build, match", [
    (lambda: adaptive.adam(-1.0), "^learning_rate must be > 0"),
    (lambda: adaptive.adam(0.1, b1=1.0), r"^b1 must be the decay β₁ in \[0, 1\), got 1.0"),
    (lambda: adaptive.adam(0.1, b2=-0.1), r"^b2 must be the decay β₂ in \[0, 1\)"),
    (lambda: adaptive.adam(0.1, eps=-1e-8), "^eps must be"),
    (lambda: adaptive.rmsprop(0.1, decay=1.5), r"^decay must be the decay ρ in \[0, 1\)"),
    (lambda: adaptive.adadelta(1.0, rho=1.0), r"^rho must be the decay ρ in \[0, 1\)"),
    (lambda: adaptive.adagrad(0.1, initial_accumulator_value=-1.0), "^initial_accumulator_value must be"),
    (lambda: adaptive.adamw(0.1, weight_decay=-0.1), "^weight_decay must be"),
    (lambda: clip_by_global_norm(0.0), "^max_norm must be > 0"),
    (lambda: schedules.cosine_decay(0.1, 0), "^decay_steps must be"),
    (lambda: schedules.warmup_cosine_decay(0.0, 0.1, 10, 10), "^decay_steps must be > warmup_steps"),
    (lambda: schedules.exponential_decay(0.1, 10, 0.0), "^decay_rate must be > 0"),
    (lambda: schedules.join_schedules([lambda t: t, lambda t: t], [3, 4]), "^boundaries must have"),
    (lambda: schedules.step_decay(0.1, {5: -0.1}), r"^boundaries_and_scales \(a factor\) must be"),
])
def test_bad_hyperparameters_fail_when_built(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_types_fail_when_built():
    with pytest.raises(TypeError, match="^bias_correction must be"):
        adaptive.adam(0.1, bias_correction="yes")
    with pytest.raises(TypeError, match="^bias_correction must be"):
        adaptive.adam(0.1, bias_correction=jnp.array(1.0))        # a float, not a boolean switch
    with pytest.raises(TypeError, match="^boundaries_and_scales must be a dict"):
        schedules.step_decay(0.1, [(5, 0.1)])
    with pytest.raises(TypeError, match=r"^schedules\[1\] must be"):
        schedules.join_schedules([lambda t: t, 0.1], [3])
    with pytest.raises(TypeError, match="^mask must be None"):
        add_decayed_weights(0.1, mask={"W": 1})
    with pytest.raises(ValueError, match="^params must be given"):
        add_decayed_weights(0.1).update(jnp.ones(2), EmptyState())


def test_warmup_length_may_be_traced_without_recompiling():
    traces = []

    @jax.jit
    def curve(W):
        traces.append(1)
        return jax.vmap(schedules.warmup_cosine_decay(0.0, 0.3, W, 60, 0.01))(jnp.arange(80))

    for W in (5, 10, 20):
        ref = optax.warmup_cosine_decay_schedule(0.0, 0.3, W, 60, 0.01)
        np.testing.assert_allclose(curve(W), jax.vmap(ref)(jnp.arange(80)), rtol=1e-6, atol=1e-7)
    assert len(traces) == 1


def test_adam_bias_correction_as_a_traced_switch_matches_the_static_choice():
    """A vmap over with/without correction (one compiled program) gives the static runs step for step."""
    def run(bc):
        return optimize(rosenbrock, jnp.asarray(W0, jnp.float32), adaptive.adam(1e-2, bias_correction=bc), 50).params
    traced = jax.jit(jax.vmap(run))(jnp.array([True, False]))
    for k, bc in enumerate((True, False)):
        np.testing.assert_allclose(traced[k], run(bc), rtol=1e-6, atol=1e-7)
    assert not np.allclose(traced[0], traced[1])                    # the switch does something
