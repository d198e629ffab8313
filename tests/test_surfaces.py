"""Tests for dlbook.surfaces: every surface against closed-form math, jax.grad/jax.hessian, central finite
differences in float64, and dense grid search for the minima."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook.descent import gradient_descent
from dlbook.surfaces import (
    WELL_CENTERS,
    grid_values,
    parabola,
    quadratic,
    quadratic_matrix,
    tilted_double_well,
    wells,
)


def central_difference_grad(f, w, h=1e-6):
    """Central finite differences of a scalar function of a float64 vector (reference gradient)."""
    w = np.asarray(w, dtype=np.float64)
    g = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e.flat[i] = h
        g.flat[i] = (float(f(w + e)) - float(f(w - e))) / (2 * h)
    return g


def grid_local_minima(F):
    """Indices of strict local minima of a 2-D array over the 8-neighbourhood (interior points only)."""
    F = np.asarray(F)
    out = []
    for i in range(1, F.shape[0] - 1):
        for j in range(1, F.shape[1] - 1):
            nb = F[i - 1 : i + 2, j - 1 : j + 2]
            if F[i, j] == nb.min() and np.sum(nb == F[i, j]) == 1:
                out.append((i, j))
    return out


# -- parabola ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, c", [(1.0, 0.0), (2.5, -1.0), (0.3, 4.0)])
def test_parabola_value_gradient_curvature_closed_form(a, c):
    ws = np.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(parabola(ws, a, c), 0.5 * a * (ws - c) ** 2, rtol=1e-6, atol=1e-6)
    g = jax.vmap(jax.grad(parabola), in_axes=(0, None, None))(jnp.asarray(ws), a, c)
    np.testing.assert_allclose(g, a * (ws - c), rtol=1e-6, atol=1e-6)
    h = jax.vmap(jax.grad(jax.grad(parabola)), in_axes=(0, None, None))(jnp.asarray(ws), a, c)
    np.testing.assert_allclose(h, np.full_like(ws, a), rtol=1e-6)


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    a=st.floats(0.2, 5.0),
    c=st.floats(-2.0, 2.0),
    w0=st.floats(-4.0, 4.0),
    ratio=st.floats(0.05, 1.95),
)
def test_parabola_gd_factor_law(a, c, w0, ratio):
    """GD on ½a(w−c)² gives w_t = c + (1 − αa)^t (w0 − c): the distance shrinks by |1 − αa| per step."""
    lr = ratio / a  # αa = ratio ∈ (0, 2): the stable range
    T = 8
    traj = gradient_descent(parabola, w0, lr, T, args=(a, c))
    t = np.arange(T + 1)
    expected = c + (1 - lr * a) ** t * (w0 - c)
    np.testing.assert_allclose(traj.params, expected, rtol=1e-4, atol=1e-4 * (1 + abs(w0 - c)))


def test_parabola_gd_diverges_past_2_over_a():
    a, c, w0 = 2.0, 1.0, 3.0
    for ratio in (2.2, 3.0):
        lr = ratio / a
        traj = gradient_descent(parabola, w0, lr, 10, args=(a, c))
        expected = c + (1 - ratio) ** np.arange(11) * (w0 - c)
        np.testing.assert_allclose(traj.params, expected, rtol=1e-4)
        assert abs(float(traj.params[-1]) - c) > abs(w0 - c)


# -- quadratic_matrix and quadratic -----------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 0.3, -1.1, np.pi / 4])
def test_quadratic_matrix_eigen_decomposition(angle):
    lam = np.array([0.5, 7.0])
    A = np.asarray(quadratic_matrix(lam, angle), dtype=np.float64)
    np.testing.assert_allclose(A, A.T, atol=1e-6)
    np.testing.assert_allclose(np.linalg.eigvalsh(A), lam, rtol=1e-5)
    v1 = np.array([np.cos(angle), np.sin(angle)])  # first column of R(θ)
    v2 = np.array([-np.sin(angle), np.cos(angle)])
    np.testing.assert_allclose(A @ v1, lam[0] * v1, atol=1e-5)
    np.testing.assert_allclose(A @ v2, lam[1] * v2, atol=1e-5)


def test_quadratic_value_gradient_hessian():
    A = np.asarray(quadratic_matrix([1.0, 10.0], 0.4))
    c = np.array([0.5, -1.5], dtype=np.float32)
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.normal(size=2).astype(np.float32)
        d = (w - c).astype(np.float64)
        np.testing.assert_allclose(quadratic(w, A, c), 0.5 * d @ A @ d, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(jax.grad(quadratic)(w, A, c), A @ d, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jax.hessian(quadratic)(w, A, c), A, rtol=1e-5, atol=1e-6)
    # center omitted means c = 0
    w = np.array([1.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(quadratic(w, A), 0.5 * w @ A @ w, rtol=1e-6)


def test_quadratic_works_in_higher_dimension_and_under_vmap():
    rng = np.random.default_rng(1)
    M = rng.normal(size=(4, 4))
    A = (M @ M.T + np.eye(4)).astype(np.float32)
    W = rng.normal(size=(6, 4)).astype(np.float32)
    got = jax.vmap(quadratic, in_axes=(0, None))(W, A)
    expected = 0.5 * np.einsum("ki,ij,kj->k", W.astype(float), A.astype(float), W.astype(float))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# -- tilted double well -----------------------------------------------------------------------------


def test_tilted_double_well_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        for t in (0.0, 0.3, 1.2):
            f = lambda w: tilted_double_well(w[0], t)  # noqa: E731
            for w in (-1.7, -0.4, 0.0, 0.25, 1.3):
                g = float(jax.grad(tilted_double_well)(jnp.float64(w), t))
                np.testing.assert_allclose(g, central_difference_grad(f, [w])[0], rtol=1e-7, atol=1e-7)
                np.testing.assert_allclose(g, 4 * w * (w**2 - 1) + t, rtol=1e-12, atol=1e-12)


@settings(max_examples=10, deadline=None, database=None, derandomize=True)
@given(tilt=st.floats(0.05, 1.4))
def test_tilted_double_well_minima_grid_search_agrees_with_gd(tilt):
    """Two minima for 0 < t < 1.5, the left one global; GD from nearby starts lands on each."""
    xs = np.linspace(-2.0, 2.0, 8001)
    with jax.enable_x64(True):  # float32 is too coarse to tell neighbouring grid points apart near a minimum
        f = np.asarray(tilted_double_well(jnp.asarray(xs), tilt))
    idx = [i for i in range(1, xs.size - 1) if f[i] < f[i - 1] and f[i] < f[i + 1]]
    assert len(idx) == 2
    left, right = xs[idx[0]], xs[idx[1]]
    assert left < 0 < right
    assert f[idx[0]] < f[idx[1]]  # the left minimum is the global one
    assert np.argmin(f) == idx[0]
    h = xs[1] - xs[0]
    for start, wmin in ((-1.5, left), (1.5, right)):
        traj = gradient_descent(tilted_double_well, start, 0.02, 600, args=(tilt,))
        assert abs(float(traj.params[-1]) - wmin) <= 2 * h


def test_tilted_double_well_default_tilt_is_0_3():
    ws = jnp.linspace(-2.0, 2.0, 9)
    np.testing.assert_allclose(tilted_double_well(ws), tilted_double_well(ws, 0.3))
    w = np.asarray(ws, dtype=np.float64)
    np.testing.assert_allclose(tilted_double_well(ws, 0.3), (w**2 - 1) ** 2 + 0.3 * w, rtol=1e-6, atol=1e-6)


# -- wells ------------------------------------------------------------------------------------------


def wells_numpy(w):
    """The wells formula of the docstring, written independently in float64 numpy."""
    w = np.asarray(w, dtype=np.float64)
    c = np.asarray(WELL_CENTERS, dtype=np.float64)
    d = np.array([2.0, 1.3, 0.9])
    s = 0.75
    return 0.08 * np.sum(w**2) - np.sum(d * np.exp(-np.sum((w - c) ** 2, axis=1) / (2 * s**2)))


def test_wells_matches_formula_and_finite_differences():
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        for _ in range(6):
            w = rng.uniform(-3, 3, size=2)
            np.testing.assert_allclose(float(wells(jnp.asarray(w))), wells_numpy(w), rtol=1e-12, atol=1e-12)
            g = np.asarray(jax.grad(wells)(jnp.asarray(w)))
            np.testing.assert_allclose(g, central_difference_grad(wells_numpy, w), rtol=1e-6, atol=1e-7)


def test_wells_three_minima_by_grid_search_agree_with_gd():
    num = 321
    W1, W2, F = grid_values(wells, (-4.0, 4.0), (-4.0, 4.0), num)
    W1, W2, F = map(np.asarray, (W1, W2, F))
    mins = grid_local_minima(F)
    assert len(mins) == 3
    pts = np.array([[W1[i, j], W2[i, j]] for i, j in mins])
    vals = np.array([F[i, j] for i, j in mins])
    # each grid minimum sits in the basin of one well, the deepest well holds the global minimum
    centers = np.asarray(WELL_CENTERS)
    nearest = [int(np.argmin(np.linalg.norm(centers - p, axis=1))) for p in pts]
    assert sorted(nearest) == [0, 1, 2]
    order = np.argsort(vals)
    assert [nearest[k] for k in order] == [0, 1, 2]  # depths 2.0 > 1.3 > 0.9
    i, j = np.unravel_index(np.argmin(F), F.shape)
    assert nearest[mins.index((i, j))] == 0
    h = 8.0 / (num - 1)
    for p, k in zip(pts, nearest):
        start = centers[k] + np.array([0.15, -0.1])
        traj = gradient_descent(wells, jnp.asarray(start, dtype=jnp.float32), 0.3, 1500)
        w_end = np.asarray(traj.params[-1])
        assert np.all(np.abs(w_end - p) <= 1.5 * h), (k, w_end, p)
        np.testing.assert_allclose(np.asarray(jax.grad(wells)(traj.params[-1])), 0.0, atol=1e-4)


def test_wells_integer_input_is_evaluated_as_float():
    np.testing.assert_allclose(float(wells(jnp.array([1, 2]))), wells_numpy([1.0, 2.0]), rtol=1e-5)


# -- grid_values ------------------------------------------------------------------------------------


def test_grid_values_equals_python_double_loop():
    xlim, ylim, num = (-2.0, 1.0), (-1.0, 3.0), 7
    W1, W2, F = grid_values(wells, xlim, ylim, num)
    assert W1.shape == W2.shape == F.shape == (num, num)
    xs, ys = np.linspace(*xlim, num), np.linspace(*ylim, num)
    ref = np.empty((num, num))
    for i in range(num):
        for j in range(num):
            np.testing.assert_allclose(W1[i, j], xs[j], atol=1e-6)
            np.testing.assert_allclose(W2[i, j], ys[i], atol=1e-6)
            ref[i, j] = wells_numpy([xs[j], ys[i]])
    np.testing.assert_allclose(F, ref, rtol=1e-5, atol=1e-6)


def test_grid_values_on_quadratic_and_numpy_int_num():
    A = jnp.diag(jnp.array([1.0, 3.0]))
    f = lambda w: quadratic(w, A)  # noqa: E731
    W1, W2, F = grid_values(f, (-1.0, 1.0), (-2.0, 2.0), np.int64(5))
    np.testing.assert_allclose(F, 0.5 * (np.asarray(W1) ** 2 + 3 * np.asarray(W2) ** 2), rtol=1e-6)


# -- bad input --------------------------------------------------------------------------------------


def test_quadratic_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match=r"^w must have shape \(d,\)"):
        quadratic(jnp.ones((2, 2)), jnp.eye(2))
    with pytest.raises(ValueError, match=r"^A must have shape \(3, 3\)"):
        quadratic(jnp.ones(3), jnp.eye(2))
    with pytest.raises(ValueError, match="^A must have shape"):
        quadratic(jnp.ones(2), jnp.ones(2))


def test_quadratic_center_shape_is_checked():
    with pytest.raises((TypeError, ValueError), match="center"):
        quadratic(jnp.ones(2), jnp.eye(2), center=jnp.ones(3))


def test_quadratic_matrix_bad_input():
    with pytest.raises(ValueError, match=r"^eigenvalues must have shape \(2,\)"):
        quadratic_matrix([1.0, 2.0, 3.0])
    for bad in ([0.0, 1.0], [-1.0, 2.0], [np.nan, 1.0], [np.inf, 1.0]):
        with pytest.raises(ValueError, match="^eigenvalues must be > 0"):
            quadratic_matrix(bad)
    with pytest.raises(ValueError, match="^angle must be finite"):
        quadratic_matrix([1.0, 2.0], np.nan)
    with pytest.raises(TypeError, match="^eigenvalues must be"):
        quadratic_matrix("ab")


def test_wells_bad_shape():
    with pytest.raises(ValueError, match=r"^w must have shape \(2\)"):
        wells(jnp.ones(3))


def test_grid_values_bad_input():
    with pytest.raises(ValueError, match="^num must be >= 2"):
        grid_values(wells, (-1, 1), (-1, 1), 1)
    with pytest.raises(TypeError, match="^num must be an int"):
        grid_values(wells, (-1, 1), (-1, 1), 5.0)
    with pytest.raises(ValueError, match="^xlim must satisfy low < high"):
        grid_values(wells, (1, -1), (-1, 1), 5)
    with pytest.raises(ValueError, match="^ylim must satisfy low < high"):
        grid_values(wells, (-1, 1), (0, 0), 5)
    with pytest.raises(ValueError, match=r"^ylim must have shape \(low, high\)"):
        grid_values(wells, (-1, 1), (-1, 0, 1), 5)
    with pytest.raises(ValueError, match="^xlim must be finite"):
        grid_values(wells, (-1, np.nan), (-1, 1), 5)
    with pytest.raises(TypeError, match="^xlim must be"):
        grid_values(wells, "ab", (-1, 1), 5)


def test_grid_values_compiles_once_per_function_and_grid_shape():
    """The chapters redraw contours of the same surface many times: one trace per (f, num), not per call."""
    traces = []

    def counted(w):
        traces.append(None)  # a Python side effect: runs only while JAX traces `counted`
        return wells(w)

    first = grid_values(counted, (-1.0, 1.0), (-1.0, 1.0), 5)
    assert len(traces) == 1
    again = grid_values(counted, (-1.0, 1.0), (-1.0, 1.0), 5)
    moved = grid_values(counted, (-3, 2), (0.5, 4.0), np.int64(5))  # other limits, same grid shape
    assert len(traces) == 1, f"grid_values retraced the same function on the same grid shape ({len(traces)} traces)"
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(moved[2], grid_values(wells, (-3, 2), (0.5, 4.0), 5)[2], rtol=1e-6)
    grid_values(counted, (-1.0, 1.0), (-1.0, 1.0), 7)  # a new grid shape is a new program
    assert len(traces) == 2
    other = grid_values(lambda w: 2.0 * counted(w), (-1.0, 1.0), (-1.0, 1.0), 5)  # another function
    np.testing.assert_allclose(other[2], 2.0 * first[2], rtol=1e-6)


def test_grid_values_bad_function():
    with pytest.raises(TypeError, match="^f must be callable"):
        grid_values("wells", (-1, 1), (-1, 1), 5)


# -- parabola and tilted_double_well: argument checks, tracing, unchanged numbers ---------------------


def test_parabola_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="^w must be numeric"):
        parabola("ab")
    with pytest.raises(TypeError, match="^w must be numeric"):
        parabola(True)
    for bad in (0.0, -1.0, np.nan, np.inf, [1.0, -2.0]):
        with pytest.raises(ValueError, match="^curvature must be > 0 and finite"):
            parabola(jnp.ones(2), curvature=bad)
    with pytest.raises(TypeError, match="^curvature must be numeric"):
        parabola(1.0, curvature="steep")
    for bad in (np.nan, -np.inf, [0.0, np.nan]):
        with pytest.raises(ValueError, match="^center must be finite"):
            parabola(jnp.ones(2), center=bad)
    with pytest.raises(TypeError, match="^center must be numeric"):
        parabola(1.0, center=None)
    with pytest.raises(ValueError, match=r"^center must be a scalar or broadcast against w of shape \(2,\), got shape \(3,\)"):
        parabola(jnp.ones(2), center=jnp.ones(3))
    with pytest.raises(ValueError, match=r"^curvature must be a scalar or broadcast against w of shape \(4,\)"):
        parabola(jnp.ones(4), curvature=jnp.ones((2, 3)))


def test_tilted_double_well_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="^w must be numeric"):
        tilted_double_well("ab")
    for bad in (np.nan, np.inf, -np.inf, [0.3, np.nan]):
        with pytest.raises(ValueError, match="^tilt must be finite"):
            tilted_double_well(jnp.ones(2), bad)
    with pytest.raises(TypeError, match="^tilt must be numeric"):
        tilted_double_well(0.5, "0.3")
    with pytest.raises(ValueError, match=r"^tilt must be a scalar or broadcast against w of shape \(2,\), got shape \(3,\)"):
        tilted_double_well(jnp.ones(2), jnp.ones(3))


def test_parabola_and_double_well_broadcast_their_parameters():
    ws = jnp.linspace(-2.0, 2.0, 5)
    a = jnp.array([[1.0], [2.0]])  # (2, 1) against (5,): two parabolas at once
    np.testing.assert_allclose(parabola(ws, a, 0.5), 0.5 * np.asarray(a) * (np.asarray(ws) - 0.5) ** 2, rtol=1e-6)
    t = jnp.array([[0.0], [0.3]])
    w = np.asarray(ws, dtype=np.float64)
    np.testing.assert_allclose(tilted_double_well(ws, t), (w**2 - 1) ** 2 + np.asarray(t, np.float64) * w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("x64", [False, True])
def test_checks_keep_numbers_bit_identical_and_work_under_jit_grad_vmap(x64):
    """The stored chapter outputs depend on these numbers: the checks must not change a single bit, and
    traced arguments (which cannot be inspected) must pass through jit, grad and vmap unchecked."""
    with jax.enable_x64(x64):
        ws = jnp.linspace(-2.5, 2.5, 11, dtype=jnp.float32)
        for a, c in ((1.0, 0.0), (2.5, -1.0), (0.3, 4.0)):
            np.testing.assert_array_equal(parabola(ws, a, c), 0.5 * a * (ws - c) ** 2)
            np.testing.assert_array_equal(parabola(3, a, c), 0.5 * a * (jnp.asarray(3) - c) ** 2)
            np.testing.assert_array_equal(jax.jit(parabola)(ws, a, c), jax.jit(lambda w, a, c: 0.5 * a * (w - c) ** 2)(ws, a, c))
        for t in (0.0, 0.3, 1.2):
            np.testing.assert_array_equal(tilted_double_well(ws, t), (ws**2 - 1.0) ** 2 + t * ws)
        np.testing.assert_array_equal(tilted_double_well(ws), (ws**2 - 1.0) ** 2 + 0.3 * ws)
        # every argument traced: jit, grad with respect to each parameter, vmap over each parameter
        np.testing.assert_allclose(jax.grad(parabola, argnums=(0, 1, 2))(3.0, 2.0, 1.0), (4.0, 2.0, -4.0))
        np.testing.assert_allclose(jax.vmap(parabola, in_axes=(None, 0, 0))(3.0, jnp.array([1.0, 2.0]), jnp.array([0.0, 1.0])), [4.5, 4.0])
        np.testing.assert_allclose(jax.grad(tilted_double_well, argnums=1)(2.0, 0.3), 2.0)
        np.testing.assert_allclose(jax.jit(jax.vmap(tilted_double_well))(jnp.array([0.0, 2.0]), jnp.array([0.3, 0.5])), [1.0, 10.0])
        # a tracer's value cannot be inspected, so inside jit even a negative curvature is evaluated
        np.testing.assert_allclose(jax.jit(parabola)(1.0, -1.0), -0.5)


def test_quadratic_and_wells_name_non_numeric_input():
    from dlbook.surfaces import quadratic, wells

    with pytest.raises(TypeError, match=r"^w must be numeric array-like"):
        quadratic("ab", jnp.eye(2))
    with pytest.raises(TypeError, match=r"^A must be numeric array-like"):
        quadratic(jnp.ones(2), "ab")
    with pytest.raises(TypeError, match=r"^w must be numeric array-like"):
        wells("ab")
