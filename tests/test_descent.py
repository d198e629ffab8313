"""Tests for dlbook.descent: trajectories against the closed form of GD on a quadratic, sweeps against single
runs, the stopping rule of minimize against a float64 re-implementation (and, bit for bit, against the
implementation it replaced), and no recompilation; mini-batch runs of optimize against a plain loop of
optim.step and, bit for bit, against the former optimize_minibatch; the mini-batch gradient variance against
the sampling formula.  The closed forms themselves are tested in test_theory.py."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlbook import descent, optim
from dlbook.data import epoch_batches
from dlbook.descent import (
    MinimizeResult,
    Trajectory,
    gradient_descent,
    gradient_descent_sweep,
    minimize,
    optimize,
    steps_to_reach,
)
from dlbook._checks import check_params
from dlbook.optim import sgd
from dlbook.theory import gradient_variance
from dlbook.surfaces import parabola, quadratic, quadratic_matrix
from dlbook.theory import critical_learning_rate, sampling_variance

A_ILL = np.asarray(quadratic_matrix([1.0, 10.0], 0.3), dtype=np.float64)  # λ = 1, 10; α* = 0.2
CENTER = np.array([0.5, -1.0])
W0 = np.array([2.0, 1.5])


def bowl(w, A, c):
    """Module-level (hashable, stable) loss used by the cache tests."""
    return quadratic(w, A, c)


def closed_form_quadratic_path(A, c, w0, lr, T):
    """w_t − c = (I − αA)^t (w0 − c), in float64."""
    M = np.eye(len(w0)) - lr * A
    out, e = [], np.asarray(w0, dtype=np.float64) - c
    for _ in range(T + 1):
        out.append(c + e)
        e = M @ e
    return np.array(out)


# -- optimize / gradient_descent ------------------------------------------------------------------


def test_gradient_descent_on_quadratic_matches_closed_form():
    lr, T = 0.15, 30
    traj = gradient_descent(bowl, W0, lr, T, args=(A_ILL, CENTER))
    assert isinstance(traj, Trajectory)
    assert traj.params.shape == (T + 1, 2) and traj.losses.shape == (T + 1,)
    ref = closed_form_quadratic_path(A_ILL, CENTER, W0, lr, T)
    np.testing.assert_allclose(traj.params, ref, rtol=1e-5, atol=1e-5)
    ref_losses = [0.5 * (w - CENTER) @ A_ILL @ (w - CENTER) for w in ref]
    np.testing.assert_allclose(traj.losses, ref_losses, rtol=1e-4, atol=1e-6)


def test_gradient_descent_parabola_closed_form_and_zero_steps():
    traj = gradient_descent(parabola, 4.0, 0.5, 6, args=(1.0, 1.0))
    np.testing.assert_allclose(traj.params, 1.0 + 0.5 ** np.arange(7) * 3.0, rtol=1e-6)
    np.testing.assert_allclose(traj.losses, 0.5 * (np.asarray(traj.params) - 1.0) ** 2, rtol=1e-6)
    traj0 = gradient_descent(parabola, 4.0, 0.5, 0)
    np.testing.assert_allclose(traj0.params, [4.0])
    np.testing.assert_allclose(traj0.losses, [8.0])


@pytest.mark.parametrize("factor, converges", [(0.9, True), (0.98, True), (1.02, False), (1.1, False)])
def test_gradient_descent_threshold_two_over_lambda_max(factor, converges):
    """Converges for α < 2/λ_max and diverges for α > 2/λ_max, with α* from critical_learning_rate."""
    a_star = float(critical_learning_rate(A_ILL))
    np.testing.assert_allclose(a_star, 2.0 / np.linalg.eigvalsh(A_ILL).max(), rtol=1e-6)
    lr, T = factor * a_star, 400
    traj = gradient_descent(bowl, W0, lr, T, args=(A_ILL, CENTER))
    # the slowest/fastest mode decays/grows by max |1 − αλ| per step: compare the size with the closed form
    rate = np.max(np.abs(1 - lr * np.linalg.eigvalsh(A_ILL)))
    err = np.linalg.norm(np.asarray(traj.params[-1], dtype=np.float64) - CENTER)
    if converges:
        assert rate < 1
        assert err < 1e-4
        assert float(traj.losses[-1]) < 1e-8
    else:
        assert rate > 1
        assert not np.isfinite(err) or err > 1e3 * np.linalg.norm(W0 - CENTER)


def test_gradient_descent_with_pytree_params_matches_optax():
    def loss(p):
        return jnp.sum((p["w"] - 1.0) ** 2) + 3.0 * (p["b"] + 2.0) ** 2

    p0 = {"w": jnp.array([0.0, 3.0]), "b": jnp.array(1.0)}
    traj = gradient_descent(loss, p0, 0.1, 20)
    opt = optax.sgd(0.1)
    p, s = p0, opt.init(p0)
    for t in range(21):
        np.testing.assert_allclose(traj.params["w"][t], p["w"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(traj.params["b"][t], p["b"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(traj.losses[t], loss(p), rtol=1e-6, atol=1e-7)
        u, s = opt.update(jax.grad(loss)(p), s)
        p = optax.apply_updates(p, u)


def test_optimize_is_traceable_and_equals_gradient_descent():
    run = jax.jit(lambda lr: optimize(parabola, jnp.array(2.0), sgd(lr), 5).params)
    np.testing.assert_allclose(run(0.3), gradient_descent(parabola, 2.0, 0.3, 5).params, rtol=1e-6)
    np.testing.assert_allclose(run(0.3), 2.0 * 0.7 ** np.arange(6), rtol=1e-6)


def counted(f):
    """``f`` and a list that grows each time JAX traces it (a Python side effect runs only while tracing)."""
    traces = []

    def g(*args):
        traces.append(1)
        return f(*args)

    return g, traces


def test_gradient_descent_does_not_recompile_for_new_rates_and_starts():
    loss, traces = counted(bowl)
    gradient_descent(loss, W0, 0.1, 12, args=(A_ILL, CENTER))
    n = len(traces)
    t1 = gradient_descent(loss, np.array([-1.0, 0.3]), 0.05, 12, args=(A_ILL, CENTER))
    t2 = gradient_descent(loss, jnp.array([3.0, 3.0]), 0.17, 12, args=(2.0 * A_ILL, CENTER))
    assert len(traces) == n > 0
    ref1 = closed_form_quadratic_path(A_ILL, CENTER, [-1.0, 0.3], 0.05, 12)
    ref2 = closed_form_quadratic_path(2 * A_ILL, CENTER, [3.0, 3.0], 0.17, 12)
    np.testing.assert_allclose(t1.params, ref1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t2.params, ref2, rtol=1e-5, atol=1e-6)


def test_gradient_descent_works_under_vmap_and_jit():
    lrs = jnp.array([0.1, 0.5, 1.2])
    got = jax.vmap(lambda lr: gradient_descent(parabola, 1.0, lr, 4).params)(lrs)
    ref = np.array([(1 - float(lr)) ** np.arange(5) for lr in lrs])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)


# -- gradient_descent_sweep -----------------------------------------------------------------------


def test_sweep_equals_one_run_per_learning_rate():
    lrs = np.array([0.02, 0.1, 0.19, 0.21])
    w0s = np.array([[2.0, 1.5], [-1.0, 0.0], [0.5, 3.0], [1.0, 1.0]])
    sw = gradient_descent_sweep(bowl, w0s, lrs, 25, args=(A_ILL, CENTER))
    assert sw.params.shape == (4, 26, 2) and sw.losses.shape == (4, 26)
    for k in range(4):
        one = gradient_descent(bowl, w0s[k], lrs[k], 25, args=(A_ILL, CENTER))
        np.testing.assert_allclose(sw.params[k], one.params, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sw.losses[k], one.losses, rtol=1e-5, atol=1e-6)


def test_sweep_docstring_case_against_closed_form_and_no_recompile():
    lrs = jnp.array([0.5, 1.0, 2.5])
    sw = gradient_descent_sweep(parabola, jnp.full(3, 1.0), lrs, 3)
    ref = np.array([(1 - float(lr)) ** np.arange(4) for lr in lrs])
    np.testing.assert_allclose(sw.params, ref, rtol=1e-6)
    loss, traces = counted(parabola)
    gradient_descent_sweep(loss, jnp.full(3, 1.0), lrs, 3)
    n = len(traces)
    gradient_descent_sweep(loss, jnp.full(3, -2.0), jnp.array([0.1, 0.2, 0.3]), 3)
    assert len(traces) == n > 0


def test_sweep_without_path_keeps_losses_and_final_params():
    lrs = np.array([0.02, 0.1, 0.19, 0.21])
    w0s = np.array([[2.0, 1.5], [-1.0, 0.0], [0.5, 3.0], [1.0, 1.0]])
    full = gradient_descent_sweep(bowl, w0s, lrs, 25, args=(A_ILL, CENTER))
    last = gradient_descent_sweep(bowl, w0s, lrs, 25, args=(A_ILL, CENTER), path=False)
    assert last.params.shape == (4, 2) and last.losses.shape == (4, 26)
    np.testing.assert_allclose(last.params, full.params[:, -1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(last.losses, full.losses, rtol=1e-6, atol=1e-7)
    traj = optimize(bowl, jnp.asarray(w0s[0]), sgd(0.1), 25, args=(A_ILL, CENTER), path=False)
    np.testing.assert_allclose(traj.params, gradient_descent(bowl, w0s[0], 0.1, 25, args=(A_ILL, CENTER)).params[-1], rtol=1e-6)
    with pytest.raises(TypeError, match="^path must be True or False"):
        gradient_descent_sweep(bowl, w0s, lrs, 25, args=(A_ILL, CENTER), path="no")


def test_sweep_with_pytree_starts():
    w0s = {"a": jnp.array([1.0, 2.0]), "b": jnp.array([[1.0, 1.0], [0.0, 2.0]])}

    def loss(p):
        return 0.5 * p["a"] ** 2 + 0.5 * jnp.sum(p["b"] ** 2)

    sw = gradient_descent_sweep(loss, w0s, [0.5, 0.25], 3)
    assert sw.params["a"].shape == (2, 4) and sw.params["b"].shape == (2, 4, 2)
    np.testing.assert_allclose(sw.params["a"][1], 2.0 * 0.75 ** np.arange(4), rtol=1e-6)
    np.testing.assert_allclose(sw.params["b"][0, :, 1], 1.0 * 0.5 ** np.arange(4), rtol=1e-6)


# -- minimize -------------------------------------------------------------------------------------


def reference_stop_step(losses, tol):
    """First t ≥ 1 with |L_t − L_{t−1}| < tol, from a float64 sequence."""
    for t in range(1, len(losses)):
        if abs(losses[t] - losses[t - 1]) < tol:
            return t
    return None


@pytest.mark.parametrize("a, lr, w0, tol", [(1.0, 0.5, 1.0, 1e-4), (2.0, 0.1, 3.0, 1e-5), (0.5, 1.0, -2.0, 1e-3)])
def test_minimize_stops_by_the_tolerance_rule_on_a_parabola(a, lr, w0, tol):
    r = minimize(parabola, w0, lr, tol=tol, args=(a, 0.0))
    assert isinstance(r, MinimizeResult)
    # float64 closed form: L_t = ½ a ((1 − αa)^t w0)²
    L = [0.5 * a * ((1 - lr * a) ** t * w0) ** 2 for t in range(2000)]
    T = reference_stop_step(L, tol)
    # make sure the case is not borderline in float32
    assert abs(abs(L[T] - L[T - 1]) - tol) > 1e-3 * tol and abs(abs(L[T - 1] - L[T - 2]) - tol) > 1e-3 * tol
    assert int(r.num_steps) == T and bool(r.converged)
    np.testing.assert_allclose(float(r.params), (1 - lr * a) ** T * w0, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(float(r.loss), L[T], rtol=1e-3, atol=1e-9)


def test_minimize_on_quadratic_checks_the_rule_at_the_end_and_not_before():
    tol = 1e-6
    r = minimize(bowl, W0, 0.15, tol=tol, args=(A_ILL, CENTER))
    T = int(r.num_steps)
    assert bool(r.converged) and 1 <= T < 10_000
    traj = gradient_descent(bowl, W0, 0.15, T, args=(A_ILL, CENTER))
    dL = np.abs(np.diff(np.asarray(traj.losses, dtype=np.float64)))
    assert dL[-1] < tol
    assert np.all(dL[:-1] >= tol)
    np.testing.assert_allclose(r.params, traj.params[-1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(r.loss, traj.losses[-1], rtol=1e-6, atol=1e-9)


def test_minimize_stops_at_max_steps_for_a_diverging_rate():
    a_star = float(critical_learning_rate(A_ILL))
    r = minimize(bowl, W0, 1.3 * a_star, tol=1e-6, max_steps=40, args=(A_ILL, CENTER))
    assert int(r.num_steps) == 40
    assert not bool(r.converged)
    assert float(r.loss) > 1e3 * float(bowl(W0, A_ILL, CENTER))
    # so large that it overflows: still stops at the cap, not converged
    r = minimize(bowl, W0, 5 * a_star, tol=1e-6, max_steps=300, args=(A_ILL, CENTER))
    assert int(r.num_steps) == 300 and not bool(r.converged)


def test_minimize_does_not_recompile():
    loss, traces = counted(bowl)
    minimize(loss, W0, 0.1, tol=1e-5, max_steps=500, args=(A_ILL, CENTER))
    n = len(traces)
    minimize(loss, -W0, 0.05, tol=1e-4, max_steps=500, args=(A_ILL, CENTER))
    assert len(traces) == n > 0


# -- steps_to_reach -------------------------------------------------------------------------------


def reference_steps(row, target):
    return next((t for t, v in enumerate(row) if v <= target), len(row))


def test_steps_to_reach_hand_made():
    assert int(steps_to_reach(jnp.array([4.0, 2.0, 1.0, 0.5]), 1.0)) == 2
    assert int(steps_to_reach(jnp.array([4.0, 2.0, 1.0, 0.5]), 10.0)) == 0
    assert int(steps_to_reach(jnp.array([4.0, 2.0, 1.0, 0.5]), 0.1)) == 4  # never: len(losses)
    assert int(steps_to_reach(jnp.array([np.nan, np.nan, 0.5]), 1.0)) == 2  # nan is not reached
    assert int(steps_to_reach(jnp.array([np.nan, np.inf]), 1.0)) == 2
    assert int(steps_to_reach([3.0, 0.5, 2.0, 0.1], 1.0)) == 1  # first, not last


def test_steps_to_reach_batched_2d_and_3d():
    L = np.array(
        [
            [5.0, 3.0, 1.0, 0.2, 0.1],
            [5.0, 6.0, 7.0, 8.0, 9.0],
            [0.5, 0.4, 0.3, 0.2, 0.1],
            [np.nan, np.nan, np.nan, np.nan, np.nan],
        ]
    )
    got = np.asarray(steps_to_reach(L, 0.5))
    assert got.shape == (4,)
    assert got.tolist() == [reference_steps(r, 0.5) for r in L] == [3, 5, 0, 5]
    L3 = np.stack([L, L[::-1]])
    got3 = np.asarray(steps_to_reach(L3, 0.5))
    assert got3.shape == (2, 4)
    assert got3.tolist() == [[reference_steps(r, 0.5) for r in M] for M in L3]
    L4 = np.stack([L3, L3[:, ::-1]])  # any number of leading axes (activations × rates × seeds, ...)
    got4 = np.asarray(steps_to_reach(L4, 0.5))
    assert got4.shape == (2, 2, 4) and got4[0].tolist() == got3.tolist()


def test_steps_to_reach_on_a_sweep():
    lrs = np.array([0.05, 0.1, 0.4, 1.9, 2.5])
    sw = gradient_descent_sweep(parabola, np.ones(5), lrs, 60)
    got = np.asarray(steps_to_reach(sw.losses, 1e-3))
    assert got.tolist() == [reference_steps(r, 1e-3) for r in np.asarray(sw.losses)]
    assert got[-1] == 61  # the diverging run never gets there


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf])
def test_gradient_descent_rejects_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="^learning_rate must be > 0"):
        gradient_descent(parabola, 1.0, lr, 3)


def test_gradient_descent_rejects_non_scalar_or_non_numeric_learning_rate():
    with pytest.raises(ValueError, match=r"^learning_rate must have shape \(\)"):
        gradient_descent(parabola, 1.0, np.array([0.1, 0.2]), 3)
    with pytest.raises(TypeError, match="^learning_rate must be"):
        gradient_descent(parabola, 1.0, "0.1", 3)


def test_gradient_descent_rejects_bad_start_and_steps():
    with pytest.raises(ValueError, match="^w0 must be finite"):
        gradient_descent(parabola, np.nan, 0.1, 3)
    with pytest.raises(ValueError, match="^w0 must be finite"):
        gradient_descent(bowl, np.array([1.0, np.inf]), 0.1, 3, args=(A_ILL, CENTER))
    with pytest.raises(ValueError, match="^w0 must contain at least one array"):
        gradient_descent(parabola, None, 0.1, 3)
    with pytest.raises(TypeError, match="^w0 must (hold real numbers|be a number or numeric array, got a boolean)"):
        gradient_descent(parabola, np.array([True, False]), 0.1, 3)
    with pytest.raises(TypeError, match="^w0 must be"):
        gradient_descent(parabola, "one", 0.1, 3)
    for bad in (3.0, "3", np.float32(3.0), True):
        with pytest.raises(TypeError, match="^num_steps must be an int"):
            gradient_descent(parabola, 1.0, 0.1, bad)
    with pytest.raises(ValueError, match="^num_steps must be >= 0"):
        gradient_descent(parabola, 1.0, 0.1, -1)
    with pytest.raises(TypeError, match="^loss_fn must be callable"):
        gradient_descent("parabola", 1.0, 0.1, 3)


def test_gradient_descent_shape_mismatch_between_w_and_A_names_A():
    with pytest.raises(ValueError, match=r"^A must have shape \(3, 3\) to match w"):
        gradient_descent(bowl, np.ones(3), 0.1, 3, args=(A_ILL, np.zeros(3)))


def test_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="^learning_rates must be > 0"):
        gradient_descent_sweep(parabola, np.ones(2), [0.1, -0.1], 3)
    with pytest.raises(ValueError, match="^learning_rates must be > 0"):
        gradient_descent_sweep(parabola, np.ones(2), [0.1, np.nan], 3)
    with pytest.raises(ValueError, match=r"^learning_rates must have shape \(K,\)"):
        gradient_descent_sweep(parabola, np.ones(2), 0.1, 3)
    with pytest.raises(ValueError, match="^w0s must have a leading axis of size K=3"):
        gradient_descent_sweep(parabola, np.ones(2), [0.1, 0.2, 0.3], 3)
    with pytest.raises(ValueError, match="^w0s must have a leading axis"):
        gradient_descent_sweep(parabola, 1.0, [0.1], 3)
    with pytest.raises(ValueError, match="^w0s must be finite"):
        gradient_descent_sweep(parabola, np.array([1.0, np.nan]), [0.1, 0.2], 3)
    with pytest.raises(TypeError, match="^num_steps must be an int"):
        gradient_descent_sweep(parabola, np.ones(2), [0.1, 0.2], 3.5)


def test_minimize_rejects_bad_input():
    for lr in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="^learning_rate must be > 0"):
            minimize(parabola, 1.0, lr)
    for tol in (0.0, -1e-3, np.nan):
        with pytest.raises(ValueError, match="^tol must be > 0"):
            minimize(parabola, 1.0, 0.1, tol=tol)
    with pytest.raises(ValueError, match="^max_steps must be >= 1"):
        minimize(parabola, 1.0, 0.1, max_steps=0)
    with pytest.raises(TypeError, match="^max_steps must be an int"):
        minimize(parabola, 1.0, 0.1, max_steps=1e4)
    with pytest.raises(ValueError, match="^w0 must be finite"):
        minimize(parabola, np.inf, 0.1)


def test_minimize_rejects_non_scalar_learning_rate():
    with pytest.raises(ValueError, match="learning_rate"):
        minimize(bowl, W0, np.array([0.1, 0.05]), args=(A_ILL, CENTER))


def test_optimize_rejects_bad_num_steps_and_loss():
    with pytest.raises(TypeError, match="^num_steps must be an int"):
        optimize(parabola, jnp.array(1.0), sgd(0.1), 2.0)
    with pytest.raises(TypeError, match="^loss_fn must be callable"):
        optimize(None, jnp.array(1.0), sgd(0.1), 2)


def test_steps_to_reach_rejects_bad_losses():
    with pytest.raises(ValueError, match=r"^losses must have shape \(\.\.\., T\)"):
        steps_to_reach(1.0, 0.5)
    with pytest.raises(TypeError, match="^losses must be"):
        steps_to_reach("abc", 0.5)


def test_steps_to_reach_rejects_non_numeric_target():
    with pytest.raises((TypeError, ValueError), match="target"):
        steps_to_reach(np.ones(3), "a")


# -- mini-batches (chapter 6) -------------------------------------------------------------------------------

def _regression(n=24, d=3, seed=0):
    kx, kw = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(kx, (n, d))
    y = X @ jnp.arange(1.0, d + 1.0) + 0.3 * jax.random.normal(kw, (n,))
    return X, y


def _mse(w, X, y):
    return jnp.mean((X @ w - y) ** 2)


def _old_optimize_minibatch(loss_fn, params, optimizer, data, *, batch_size, num_epochs, key, path=False):
    """The body of the former ``descent.optimize_minibatch`` (checks left out), kept verbatim as the reference
    that ``optimize(..., batch_size=B, key=k)`` must reproduce bit for bit."""
    n = data[0].shape[0]
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(carry, idx):
        w, state = carry
        loss, g = value_and_grad(w, *(a[idx] for a in data))
        updates, state = optimizer.update(g, state, w)
        w = optim.apply_updates(w, updates)
        return (w, state), (loss, loss_fn(w, *data), w if path else None)

    def epoch(carry, e):
        return jax.lax.scan(step, carry, epoch_batches(n, batch_size, key=jax.random.fold_in(key, e)))

    (w, _), (batch_losses, losses, ws) = jax.lax.scan(epoch, (params, optimizer.init(params)), jnp.arange(num_epochs))
    full = jnp.concatenate([loss_fn(params, *data)[None], losses.reshape(-1)])
    if path:
        w = jax.tree_util.tree_map(lambda p0, p: jnp.concatenate([p0[None], p.reshape(-1, *p0.shape)]), params, ws)
    return w, full, batch_losses.reshape(-1)


def _assert_trees_equal(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _pytree_mse(p, X, y):
    return jnp.mean((X @ p["w"] + p["b"] - y) ** 2)


@pytest.mark.parametrize("opt_name, batch_size, num_epochs, path", [
    ("sgd", 5, 3, False),          # 4 rows sit each epoch out
    ("momentum", 7, 2, True),      # 3 rows out, every iterate kept
    ("nesterov", 24, 2, False),    # the full batch
    ("momentum", 1, 1, True),      # one row per step
])
def test_optimize_minibatch_is_bit_identical_to_the_former_optimize_minibatch(opt_name, batch_size, num_epochs, path):
    """old ``optimize_minibatch(loss, w0, opt, data, batch_size=B, num_epochs=E, key=k, path=p)`` ==
    new ``optimize(loss, w0, opt, E * (n // B), args=data, batch_size=B, key=k, path=p)``, every bit."""
    X, y = _regression()
    opt = {"sgd": optim.sgd(0.05), "momentum": optim.momentum(0.05, 0.9), "nesterov": optim.nesterov(0.05, 0.8)}[opt_name]
    key = jax.random.key(11)
    for loss, w0 in ((_mse, jnp.zeros(3)), (_pytree_mse, {"w": jnp.ones(3), "b": jnp.array(0.5)})):
        new = optimize(loss, w0, opt, num_epochs * (24 // batch_size), args=(X, y), batch_size=batch_size, key=key,
                       path=path)
        old = _old_optimize_minibatch(loss, w0, opt, (X, y), batch_size=batch_size, num_epochs=num_epochs, key=key,
                                      path=path)
        assert isinstance(new, Trajectory)
        _assert_trees_equal(new.params, old[0])
        np.testing.assert_array_equal(new.losses, old[1])
        np.testing.assert_array_equal(new.batch_losses, old[2])


def test_optimize_minibatch_equals_a_plain_loop_of_optim_step_over_epoch_batches():
    """The mini-batch runner is one optim.step per batch of epoch_batches(n, B, fold_in(key, e)), nothing else."""
    X, y = _regression()
    opt, key = optim.nesterov(0.05, 0.9), jax.random.key(4)
    step = jax.jit(lambda w, s, Xb, yb: optim.step(_mse, w, s, opt, Xb, yb))
    w, state = jnp.zeros(3), opt.init(jnp.zeros(3))
    ws, batch_losses = [w], []
    for e in range(3):
        for idx in epoch_batches(24, 5, key=jax.random.fold_in(key, e)):
            w, state, loss = step(w, state, X[idx], y[idx])
            ws.append(w)
            batch_losses.append(loss)
    run = optimize(_mse, jnp.zeros(3), opt, 12, args=(X, y), batch_size=5, key=key)
    np.testing.assert_allclose(run.params, np.stack(ws), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(run.batch_losses, batch_losses, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(run.losses, [float(_mse(v, X, y)) for v in ws], rtol=1e-6, atol=1e-7)


def test_optimize_minibatch_equals_a_plain_loop_with_momentum():
    X, y = _regression()
    opt = optim.momentum(0.05, 0.9)
    key = jax.random.key(3)
    run = optimize(_mse, jnp.zeros(3), opt, 3 * 4, args=(X, y), batch_size=5, key=key, path=False)
    w, state = jnp.zeros(3), opt.init(jnp.zeros(3))
    losses, batch_losses = [float(_mse(w, X, y))], []
    for e in range(3):
        for idx in epoch_batches(24, 5, key=jax.random.fold_in(key, e)):
            batch_losses.append(float(_mse(w, X[idx], y[idx])))
            u, state = opt.update(jax.grad(_mse)(w, X[idx], y[idx]), state, w)
            w = optim.apply_updates(w, u)
            losses.append(float(_mse(w, X, y)))
    assert run.params.shape == (3,)
    assert run.losses.shape == (3 * 4 + 1,) and run.batch_losses.shape == (12,)
    with_path = optimize(_mse, jnp.zeros(3), opt, 3 * 4, args=(X, y), batch_size=5, key=key)  # path=True by default
    assert with_path.params.shape == (13, 3)
    np.testing.assert_allclose(with_path.params[-1], run.params, rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(lambda w: _mse(w, X, y))(with_path.params), run.losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.params, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.losses, losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.batch_losses, batch_losses, rtol=1e-5, atol=1e-6)


def test_optimize_minibatch_with_the_full_batch_is_gradient_descent():
    X, y = _regression()
    run = optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 15, args=(X, y), batch_size=24, key=jax.random.key(0))
    ref = optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 15, args=(X, y))
    assert ref.batch_losses is None  # full-batch runs have no batch losses
    np.testing.assert_allclose(run.params, ref.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(run.losses, ref.losses, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(run.batch_losses, ref.losses[:-1], rtol=1e-5, atol=1e-7)


def test_optimize_minibatch_vmaps_over_keys_and_learning_rates():
    X, y = _regression()

    def final(lr, key):
        return optimize(_mse, jnp.zeros(3), optim.sgd(lr), 2 * 6, args=(X, y), batch_size=4, key=key).losses

    lrs, keys = jnp.array([0.01, 0.05]), jax.random.split(jax.random.key(1), 2)
    batched = jax.jit(jax.vmap(final))(lrs, keys)
    for k in range(2):
        np.testing.assert_allclose(batched[k], final(float(lrs[k]), keys[k]), rtol=1e-5, atol=1e-7)
    assert not np.allclose(final(0.05, keys[0]), final(0.05, keys[1]))  # the key decides the order


def test_optimize_minibatch_bad_input():
    X, y = _regression()
    kw = dict(batch_size=4, key=jax.random.key(0))
    # the rows are passed as args; the message still calls them data (see the report)
    with pytest.raises(TypeError, match="^(data|args) must be a tuple of arrays"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 6, args=X, **kw)
    with pytest.raises(ValueError, match="^(data|args) must be arrays with the same leading axis"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 6, args=(X, y[:5]), **kw)
    with pytest.raises(ValueError, match=r"^batch_size must be <= n = 24 \(the number of examples\), got 25"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 1, args=(X, y), batch_size=25, key=jax.random.key(0))
    with pytest.raises(TypeError, match="^optimizer must be a GradientTransformation"):
        optimize(_mse, jnp.zeros(3), 0.1, 6, args=(X, y), **kw)
    with pytest.raises(TypeError, match="^params must be a number or numeric array, got a boolean"):
        optimize(_mse, jnp.zeros(3, jnp.bool_), optim.sgd(0.1), 6, args=(X, y), **kw)
    with pytest.raises(TypeError, match="^batch_size must be an int"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 6, args=(X, y), batch_size=4.0, key=jax.random.key(0))


def test_optimize_minibatch_num_steps_must_be_whole_epochs():
    """24 rows in batches of 5: 4 steps an epoch (4 rows sit each epoch out); 5 or 6 steps are no whole epoch."""
    X, y = _regression()
    for bad in (1, 5, 6, 13):
        with pytest.raises(ValueError, match=r"^num_steps must be a whole number of epochs of n // batch_size = 4 "
                                             rf"steps, got {bad}$"):
            optimize(_mse, jnp.zeros(3), optim.sgd(0.1), bad, args=(X, y), batch_size=5, key=jax.random.key(0))
    for good in (0, 4, 8):
        run = optimize(_mse, jnp.zeros(3), optim.sgd(0.1), good, args=(X, y), batch_size=5, key=jax.random.key(0))
        assert run.losses.shape == (good + 1,) and run.batch_losses.shape == (good,)


def test_optimize_key_only_with_batch_size_and_batch_size_needs_a_key():
    X, y = _regression()
    with pytest.raises(ValueError, match="^key is only used with batch_size"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 4, args=(X, y), key=jax.random.key(0))
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 4, args=(X, y), batch_size=6)


@pytest.mark.parametrize("batch_size", [None, 6])
@pytest.mark.parametrize("bad", ["no", 1, 0, None, np.bool_(True)])
def test_optimize_path_must_be_a_bool(batch_size, bad):
    """path="no" used to be accepted (and meant True, a non-empty string being truthy)."""
    X, y = _regression()
    kw = dict(batch_size=batch_size, key=jax.random.key(0)) if batch_size else {}
    with pytest.raises(TypeError, match=f"^path must be True or False, got {bad!r}$"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 4, args=(X, y), path=bad, **kw)


def _old_minimize(loss_fn, w0, learning_rate, tol, max_steps, args):
    """The former ``descent._minimize`` (before minimize took its steps with optim.step), verbatim."""
    value_and_grad = jax.value_and_grad(loss_fn)

    def cond(c):
        _, _, _, t, done = c
        return jnp.logical_and(t < max_steps, jnp.logical_not(done))

    def body(c):
        w, loss, g, t, _ = c
        w_new = jax.tree_util.tree_map(lambda p, gi: p - learning_rate * gi, w, g)
        loss_new, g_new = value_and_grad(w_new, *args)
        return w_new, loss_new, g_new, t + 1, jnp.abs(loss - loss_new) < tol

    loss0, g0 = value_and_grad(w0, *args)
    w, loss, _, t, done = jax.lax.while_loop(cond, body, (w0, loss0, g0, jnp.array(0), jnp.array(False)))
    return MinimizeResult(w, loss, t, done)


_old_minimize_jit = jax.jit(_old_minimize, static_argnames=("loss_fn", "max_steps"))


def _pytree_bowl(p):
    return jnp.sum((p["w"] - 1.0) ** 2) + 3.0 * (p["b"] + 2.0) ** 2


MINIMIZE_CASES = {  # name: (loss_fn, w0, learning rate, tol, max_steps, args, what must happen)
    "parabola converges": (parabola, 1.0, 0.5, 1e-4, 10_000, (), "converged"),
    "bowl converges": (bowl, W0, 0.15, 1e-6, 10_000, (A_ILL, CENTER), "converged"),
    "pytree converges": (_pytree_bowl, {"w": jnp.array([0.0, 3.0]), "b": jnp.array(1.0)}, 0.1, 1e-7, 10_000, (),
                         "converged"),
    "slow run hits max_steps": (bowl, W0, 0.005, 1e-9, 50, (A_ILL, CENTER), "cap"),
    "diverges to the cap": (bowl, W0, 0.26, 1e-6, 40, (A_ILL, CENTER), "cap"),
    "overflows to nan": (bowl, W0, 1.0, 1e-6, 300, (A_ILL, CENTER), "nan"),
}


@pytest.mark.parametrize("case", sorted(MINIMIZE_CASES))
def test_minimize_gives_what_the_former_implementation_gave(case):
    """minimize now takes its steps with optim.step: (params, loss, num_steps, converged) must not change a bit."""
    loss_fn, w0, lr, tol, max_steps, args, what = MINIMIZE_CASES[case]
    new = minimize(loss_fn, w0, lr, tol=tol, max_steps=max_steps, args=args)
    start = check_params("w0", w0)
    old = _old_minimize_jit(loss_fn, start, jnp.asarray(lr, jnp.result_type(float)),
                            jnp.asarray(tol, jnp.result_type(float)), max_steps,
                            tuple(args))
    assert isinstance(new, MinimizeResult)
    _assert_trees_equal(new.params, old.params)
    np.testing.assert_array_equal(new.loss, old.loss)
    assert int(new.num_steps) == int(old.num_steps) and bool(new.converged) == bool(old.converged)
    # and each case is the kind it claims to be
    if what == "converged":
        assert bool(new.converged) and 1 <= int(new.num_steps) < max_steps
    elif what == "cap":
        assert int(new.num_steps) == max_steps and not bool(new.converged) and np.isfinite(float(new.loss))
    else:
        assert int(new.num_steps) == max_steps and not bool(new.converged) and not np.isfinite(float(new.loss))


@pytest.mark.parametrize("batch_size", [1, 4, 12])
def test_gradient_variance_follows_the_sampling_formula(batch_size):
    X, y = _regression(n=48)
    w = jnp.zeros(3)
    per_example = jax.vmap(lambda x, t: jax.grad(_mse)(w, x[None], t[None]))(X, y)     # (n, 3)
    sigma2 = float(jnp.mean(jnp.sum((per_example - per_example.mean(0)) ** 2, axis=1)))
    n = 48
    expected = sigma2 / batch_size * (n - batch_size) / (n - 1)
    assert float(sampling_variance(sigma2, n, batch_size)) == pytest.approx(expected, rel=1e-5)
    got = float(gradient_variance(_mse, w, (X, y), batch_size, key=jax.random.key(5), num_draws=4000))
    assert got == pytest.approx(expected, rel=0.08)


def test_gradient_variance_bad_input():
    X, y = _regression()
    with pytest.raises(ValueError, match=r"^batch_size must be <= n = 24 \(the number of examples\), got 30"):
        gradient_variance(_mse, jnp.zeros(3), (X, y), 30, key=jax.random.key(0))
    with pytest.raises(ValueError, match="^num_draws must be >= 1"):
        gradient_variance(_mse, jnp.zeros(3), (X, y), 3, key=jax.random.key(0), num_draws=0)
    with pytest.raises(TypeError, match="^key must be a jax.random key"):
        gradient_variance(_mse, jnp.zeros(3), (X, y), 3, key=0)


def test_optimize_names_bad_args_and_non_scalar_losses():
    with pytest.raises(TypeError, match=r"^args must be a tuple of arrays \(the extra arguments of loss_fn, e.g. \(X, y\)\), got ArrayImpl"):
        optimize(lambda w, X: jnp.sum(X @ w), jnp.ones(2), sgd(0.1), 3, args=jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"^loss_fn must return a scalar \(the mean loss\), got shape \(2,\)"):
        optimize(lambda w: w**2, jnp.ones(2), sgd(0.1), 3)
    with pytest.raises(ValueError, match=r"^loss_fn must return a scalar"):
        gradient_descent(lambda w: w**2, jnp.ones(2), 0.1, 3)


def test_optimize_full_batch_takes_integer_starts_as_floats():
    run = optimize(lambda w: jnp.sum(w**2), jnp.array([1, 2]), sgd(0.25), 1)
    assert run.params.tolist() == [[1.0, 2.0], [0.5, 1.0]]                   # w ← w − α·2w = w/2


def test_jitted_runners_name_an_unhashable_loss():
    class Unhashable:
        __eq__ = lambda self, other: True  # noqa: E731 - defining __eq__ alone makes instances unhashable

        def __call__(self, w):
            return jnp.sum(w**2)

    for run in (lambda f: gradient_descent(f, jnp.ones(2), 0.1, 3), lambda f: minimize(f, jnp.ones(2), 0.1),
                lambda f: gradient_descent_sweep(f, jnp.ones((2, 2)), jnp.array([0.1, 0.2]), 3)):
        with pytest.raises(TypeError, match=r"^loss_fn must be hashable"):
            run(Unhashable())


@pytest.mark.parametrize("path", [True, False])
def test_optimize_epoch_losses_are_the_per_step_losses_at_epoch_ends(path):
    """epoch_losses=True takes the same steps; its losses are every (n // B)-th per-step loss."""
    X, y = _regression()
    opt, key = optim.momentum(0.05, 0.9), jax.random.key(5)
    every = optimize(_mse, jnp.zeros(3), opt, 12, args=(X, y), batch_size=5, key=key, path=path)
    epochs = optimize(_mse, jnp.zeros(3), opt, 12, args=(X, y), batch_size=5, key=key, path=path, epoch_losses=True)
    np.testing.assert_array_equal(epochs.params, every.params)
    np.testing.assert_array_equal(epochs.batch_losses, every.batch_losses)
    np.testing.assert_allclose(epochs.losses, every.losses[::4], rtol=1e-6)
    assert epochs.losses.shape == (4,)


def test_optimize_epoch_losses_bad_input():
    X, y = _regression()
    with pytest.raises(ValueError, match="^epoch_losses is only used with batch_size"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 2, args=(X, y), epoch_losses=True)
    with pytest.raises(TypeError, match="^epoch_losses must be"):
        optimize(_mse, jnp.zeros(3), optim.sgd(0.1), 4, args=(X, y), batch_size=5, key=jax.random.key(0), epoch_losses=1)
