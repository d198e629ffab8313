"""Tests for dlbook.plotting: helpers return the axes they drew on, make one when ax is None, draw the right
data (checked against closed-form math and numpy), and leave matplotlib's global state alone."""

import matplotlib

matplotlib.use("Agg")

import subprocess  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dlbook.plotting import plot_contours, plot_curve_step, plot_descent_1d, plot_losses, plot_network, plot_path  # noqa: E402
from dlbook.surfaces import grid_values, parabola, wells  # noqa: E402


def f1(w):
    return parabola(w, 2.0, 0.5)


@pytest.fixture
def ax():
    fig = Figure(figsize=(2, 1.5), dpi=40)
    yield fig.add_subplot()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


W1, W2, F = (np.asarray(a) for a in grid_values(wells, (-3, 3), (-3, 3), 15))
PATH2 = np.array([[0.0, 0.0], [1.0, 0.5], [np.nan, 1.0], [2.0, np.inf], [1.5, 1.0]])

CALLS = {
    "plot_curve_step": lambda ax: plot_curve_step(f1, 2.0, 0.2, xlim=(-2.0, 3.0), ax=ax, num=50),
    "plot_descent_1d": lambda ax: plot_descent_1d(
        f1, [2.0, 1.0, 0.7, np.nan], xlim=(-2.0, 3.0), ylim=(0, 5), ax=ax, label="run"
    ),
    "plot_contours": lambda ax: plot_contours(W1, W2, F, ax=ax, levels=8),
    "plot_contours_log": lambda ax: plot_contours(W1, W2, F - F.min() + 0.1, ax=ax, levels=6, log=True, filled=False),
    "plot_path": lambda ax: plot_path(PATH2, ax=ax, label="gd"),
    "plot_losses": lambda ax: plot_losses(np.array([[1.0, 0.5, 0.25], [1.0, 0.9, 0.8]]), labels=["a", "b"], ax=ax),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_returns_the_axes_it_was_given_and_draws(name, ax):
    out = CALLS[name](ax)
    assert out is ax
    assert len(ax.lines) + len(ax.collections) > 0


@pytest.mark.parametrize("name", sorted(CALLS))
def test_creates_axes_when_none_given(name):
    before = set(plt.get_fignums())
    out = CALLS[name](None)
    assert isinstance(out, Axes)
    assert len(out.lines) + len(out.collections) > 0
    assert set(plt.get_fignums()) - before  # a new figure was made


@pytest.mark.parametrize("name", sorted(CALLS))
def test_does_not_change_rcparams(name, ax):
    before = dict(matplotlib.rcParams)
    CALLS[name](ax)
    CALLS[name](None)
    assert dict(matplotlib.rcParams) == before


def test_importing_dlbook_does_not_touch_pyplot_or_need_ipywidgets():
    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"  # make `import ipywidgets` fail
        # dict.items: reading rcParams['backend'] through RcParams itself would import pyplot
        "import matplotlib; before = dict(dict.items(matplotlib.rcParams))\n"
        "import dlbook\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert dict(dict.items(matplotlib.rcParams)) == before, 'rcParams changed'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- what is drawn ------------------------------------------------------------------------------------


def test_plot_curve_step_tangent_and_step(ax):
    w, lr = 2.0, 0.2
    plot_curve_step(f1, w, lr, xlim=(-2.0, 3.0), ax=ax, num=50)
    curve, tangent, start, end = ax.lines
    xs = np.linspace(-2.0, 3.0, 50)
    np.testing.assert_allclose(curve.get_ydata(), (xs - 0.5) ** 2, rtol=1e-5, atol=1e-6)  # ½·2·(w − c)²
    tx, ty = np.asarray(tangent.get_xdata()), np.asarray(tangent.get_ydata())
    np.testing.assert_allclose((ty[1] - ty[0]) / (tx[1] - tx[0]), 2.0 * (w - 0.5), rtol=1e-5)  # f'(w)
    w_new = w - lr * 2.0 * (w - 0.5)
    np.testing.assert_allclose(end.get_xdata(), [w_new], rtol=1e-6)
    np.testing.assert_allclose(end.get_ydata(), [(w_new - 0.5) ** 2], rtol=1e-5)
    np.testing.assert_allclose(start.get_ydata(), [(w - 0.5) ** 2], rtol=1e-6)


def test_plot_descent_1d_draws_finite_in_range_iterates(ax):
    path = np.array([2.0, 1.0, -5.0, 0.7, np.nan, 0.6])
    plot_descent_1d(f1, path, xlim=(-2.0, 3.0), ax=ax)
    shown = path[np.isfinite(path) & (path >= -2.0) & (path <= 3.0)]
    iter_line = ax.lines[1]
    np.testing.assert_allclose(iter_line.get_xdata(), shown)
    np.testing.assert_allclose(iter_line.get_ydata(), (shown - 0.5) ** 2, rtol=1e-5)
    assert ax.get_xlim() == (-2.0, 3.0)


def test_plot_descent_1d_all_out_of_range_is_fine(ax):
    out = plot_descent_1d(f1, [10.0, np.inf], xlim=(-1.0, 1.0), ax=ax)
    assert out is ax and len(ax.lines[1].get_xdata()) == 0


def test_plot_path_drops_non_finite_iterates(ax):
    plot_path(PATH2, ax=ax)
    kept = PATH2[np.all(np.isfinite(PATH2), axis=1)]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), kept[:, 0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), kept[:, 1])
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [kept[0, 0]])  # the start marker


def test_plot_losses_one_curve_per_row_log_scale(ax):
    L = np.array([[1.0, 0.5, 0.25, 0.125], [1.0, 0.9, 0.8, 0.7], [2.0, 4.0, 8.0, 16.0]])
    plot_losses(L, labels=["a", "b", "c"], ax=ax)
    assert len(ax.lines) == 3
    for line, row in zip(ax.lines, L):
        np.testing.assert_allclose(line.get_xdata(), np.arange(4))
        np.testing.assert_allclose(line.get_ydata(), row)
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    ax2 = Figure().add_subplot()
    plot_losses(L[0], ax=ax2, log=False)
    assert len(ax2.lines) == 1 and ax2.get_yscale() == "linear" and ax2.get_legend() is None


def test_plot_contours_log_levels_are_geometric(ax):
    G = F - F.min() + 0.1
    plot_contours(W1, W2, G, ax=ax, levels=5, log=True)
    cs = ax.collections[-1]
    np.testing.assert_allclose(cs.levels, np.geomspace(G.min(), G.max(), 5), rtol=1e-6)


# -- bad input ----------------------------------------------------------------------------------------


def test_plot_contours_log_with_non_positive_values_raises(ax):
    with pytest.raises(ValueError, match="^F must be > 0 everywhere when log=True"):
        plot_contours(W1, W2, F, ax=ax, log=True)  # the wells surface is negative near its minima
    with pytest.raises(ValueError, match="^F must be > 0"):
        plot_contours(W1, W2, np.zeros_like(F), ax=ax, log=True)


def test_bad_input_names_the_argument(ax):
    with pytest.raises(ValueError, match="^W1 must have the same shape as F"):
        plot_contours(W1[:-1], W2, F, ax=ax)
    with pytest.raises(ValueError, match="^W2 must have the same shape as F"):
        plot_contours(W1, W2.T[:, :-1], F, ax=ax)
    for lr in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="^learning_rate must be > 0"):
            plot_curve_step(f1, 1.0, lr, xlim=(-1, 1), ax=ax)
    with pytest.raises(TypeError, match="^f must be callable"):
        plot_curve_step("f", 1.0, 0.1, xlim=(-1, 1), ax=ax)
    with pytest.raises(ValueError, match=r"^path must have shape \(T,\)"):
        plot_descent_1d(f1, np.ones((3, 2)), xlim=(-1, 1), ax=ax)
    with pytest.raises(ValueError, match=r"^path must have shape \(T, 2\)"):
        plot_path(np.ones((3, 3)), ax=ax)
    with pytest.raises(ValueError, match=r"^losses must have shape \(T,\) or \(K, T\)"):
        plot_losses(np.ones((2, 2, 2)), ax=ax)
    with pytest.raises(ValueError, match=r"^labels must have one entry per curve \(2\)"):
        plot_losses(np.ones((2, 3)), labels=["only one"], ax=ax)
    with pytest.raises(TypeError, match="^losses must be"):
        plot_losses("abc", ax=ax)


def test_helpers_accept_jax_arrays(ax):
    traj = jnp.stack([jnp.linspace(2.0, 0.5, 5), jnp.linspace(1.0, 0.0, 5)], axis=1)
    assert plot_path(traj, ax=ax) is ax
    assert plot_losses(jax.vmap(f1)(traj[:, 0]) + 1.0, ax=ax) is ax


def test_plot_network_writes_every_value_and_weight():
    from dlbook import backprop as bp
    from dlbook import model as mlp

    params = mlp.init_mlp((2, 3, 1), key=jax.random.key(0))
    X, Y = jnp.array([[0.5, -1.0], [1.0, 2.0]]), jnp.array([[1.0], [0.0]])
    fwd = mlp.forward(params, X)
    bwd = bp.backward(params, fwd, Y)
    ax = plot_network(params, fwd, bwd, example=1)
    texts = [t.get_text() for t in ax.texts]
    assert len(ax.patches) == 6  # one circle per unit
    assert len(ax.lines) == 2 * 3 + 3 * 1  # one edge per weight
    assert f"{float(fwd.activations[2][1, 0]):.3f}" in texts and "2.000" in texts  # a^L and the input of example 1
    assert f"δ={float(bwd.deltas[0][1, 2]):.3g}" in texts
    assert f"{float(params[0].W[1, 0]):.2f}" in texts
    bare = plot_network(params, weights=False)
    assert not bare.texts


def test_plot_network_rejects_bad_input():
    from dlbook import backprop as bp
    from dlbook import model as mlp

    params = mlp.init_mlp((2, 3, 1), key=jax.random.key(0))
    fwd = mlp.forward(params, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="^plot_network draws networks with at most 8 units per layer"):
        plot_network(mlp.init_mlp((2, 9, 1), key=jax.random.key(0)))
    with pytest.raises(ValueError, match=r"^example must be in \[0, 2\)"):
        plot_network(params, fwd, example=2)
    with pytest.raises(ValueError, match="^fwd does not belong to this network"):
        plot_network(mlp.init_mlp((2, 2, 1), key=jax.random.key(0)), fwd)
    with pytest.raises(TypeError, match="^params must be a non-empty list"):
        plot_network([])
