"""How results are shown: plot helpers for the book's figures, and numbers rounded for printing.

Each plot helper takes ``ax=None`` (a new figure is made if omitted), draws, and returns the axes; none
changes global matplotlib state.  Figure text stays in math symbols or English so it renders on any
machine; the chapter gives the Chinese caption.

Chapter: ``book/ch01_gradient_descent.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.patches import Circle

from dlbook._checks import as_array, check_callable, check_int, check_ndim, check_positive

__all__ = ["rounded", "plot_curve_step", "plot_descent_1d", "plot_contours", "plot_path", "plot_losses", "plot_network"]

MAX_DRAWN_UNITS = 8  # plot_network draws every unit and every weight: small networks only


def rounded(x: ArrayLike, decimals: int = 4) -> float | list:
    """``x`` rounded to ``decimals`` decimals as Python numbers (nested lists for arrays), for printing.

    Rounded in float64 from the float32 values, so the digits printed are those of the number and float32
    noise in the last place never shows; the printed text is the chapters' regression reference (nbval), so
    it must not depend on the machine.

    Example:
      >>> rounded(jnp.array([0.1234567, 2.0]), 3), rounded(jnp.float32(1 / 3))
      ([0.123, 2.0], 0.3333)

    Chapter: ``book/ch02_backprop.ipynb`` (used by every chapter that prints arrays).
    """
    decimals = check_int("decimals", decimals, minimum=0)
    return np.round(np.asarray(as_array("x", x), dtype=np.float64), decimals).tolist()


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when the caller asked us to make a figure

    return plt.figure(figsize=(5, 3.2)).add_subplot()


def plot_curve_step(
    f: Callable[[jax.Array], jax.Array],
    w: float,
    learning_rate: float,
    *,
    xlim: tuple[float, float],
    ax: Axes | None = None,
    num: int = 400,
) -> Axes:
    """A 1-D loss curve with the tangent at ``w`` and one gradient step ``w → w − α 𝓛'(w)``.

    The tangent ``t ↦ 𝓛(w) + 𝓛'(w)(t − w)`` has slope ``𝓛'(w)``; the arrow shows where the update lands on
    the curve.  Draws four lines: the curve, the tangent, the point ``w`` and the point after the step.

    Args:
      f: the loss ``𝓛``, a scalar function of a scalar (differentiable by ``jax.grad``).
      w: the current parameter; learning_rate: the step size ``α > 0``.
      xlim: the range of ``w`` to draw; num: the number of points on the curve.
      ax: the axes to draw into (a new figure if omitted).

    Example:
      >>> from matplotlib.figure import Figure
      >>> ax = plot_curve_step(lambda w: w ** 2, 1.0, 0.25, xlim=(-2.0, 2.0), ax=Figure().add_subplot())
      >>> len(ax.lines), float(ax.lines[-1].get_xdata()[0])   # w − α 𝓛'(w) = 1 − 0.25 · 2
      (4, 0.5)

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    check_callable("f", f)
    check_positive("learning_rate", learning_rate)
    ax = _axes(ax)
    xs = jnp.linspace(*xlim, num)
    ax.plot(xs, jax.vmap(f)(xs), color="0.3", lw=1.5, label=r"$\mathcal{L}(w)$")
    fw, g = jax.value_and_grad(f)(jnp.asarray(w, dtype=xs.dtype))
    half = 0.18 * (xlim[1] - xlim[0])
    t = np.array([w - half, w + half])
    ax.plot(t, fw + g * (t - w), color="tab:orange", lw=1.5, label=rf"tangent, slope $\mathcal{{L}}'(w)={float(g):.2f}$")
    w_new = w - learning_rate * g
    ax.annotate("", xy=(w_new, f(w_new)), xytext=(w, fw), arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5))
    ax.plot([w], [fw], "o", color="tab:blue", label=r"$w$")
    ax.plot([w_new], [f(w_new)], "o", color="tab:red", label=r"$w - \alpha\,\mathcal{L}'(w)$")
    ax.set_xlabel(r"$w$")
    ax.set_ylabel(r"$\mathcal{L}(w)$")
    ax.legend(fontsize=8, loc="upper center")
    return ax


def plot_descent_1d(
    f: Callable[[jax.Array], jax.Array],
    path: ArrayLike,
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float] | None = None,
    ax: Axes | None = None,
    color: str = "tab:red",
    label: str | None = None,
) -> Axes:
    """A 1-D loss curve with the iterates ``w_0, w_1, …`` of a run drawn on it and joined in order.

    Iterates outside ``xlim`` (or not finite) are not drawn; the start ``w_0`` is a black square.

    Args:
      f: the loss ``𝓛``, a scalar function of a scalar; path: the iterates ``(T,)``.
      xlim, ylim: the ranges to show; color, label: the path's style and legend entry.
      ax: the axes to draw into (a new figure if omitted).

    Example:
      >>> from matplotlib.figure import Figure
      >>> ax = plot_descent_1d(lambda w: w ** 2, [1.0, 0.5, 0.25, 5.0], xlim=(-2.0, 2.0), ax=Figure().add_subplot())
      >>> ax.lines[1].get_xdata().tolist()                   # w = 5 lies outside xlim
      [1.0, 0.5, 0.25]

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    check_callable("f", f)
    path = np.asarray(as_array("path", path), dtype=float)
    check_ndim("path", path, 1, "(T,)")
    ax = _axes(ax)
    xs = jnp.linspace(*xlim, 400)
    ax.plot(xs, jax.vmap(f)(xs), color="0.3", lw=1.5)
    shown = path[np.isfinite(path) & (path >= xlim[0]) & (path <= xlim[1])]
    fv = np.asarray(jax.vmap(f)(jnp.asarray(shown))) if shown.size else np.zeros(0)
    ax.plot(shown, fv, "-o", color=color, ms=3.5, lw=0.9, alpha=0.85, label=label)
    if shown.size:
        ax.plot(shown[:1], fv[:1], "s", color="k", ms=5)
    ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(r"$w$")
    ax.set_ylabel(r"$\mathcal{L}(w)$")
    return ax


def plot_contours(
    W1: ArrayLike,
    W2: ArrayLike,
    F: ArrayLike,
    *,
    ax: Axes | None = None,
    levels: int | Sequence[float] = 20,
    log: bool = False,
    filled: bool = True,
) -> Axes:
    """Contour plot of a two-parameter surface ``𝓛(w_1, w_2)`` from :func:`dlbook.surfaces.grid_values`.

    Args:
      W1, W2, F: the grid of ``w_1`` and ``w_2`` and the values ``𝓛(w_1, w_2)``, all the same shape ``(m, k)``.
      levels: the number of levels or their values.
      log: space the levels geometrically (for losses spanning several orders of magnitude; needs ``F > 0``).
      filled: fill between the levels as well as drawing them.
      ax: the axes to draw into (a new figure if omitted).

    Example:
      >>> from matplotlib.figure import Figure
      >>> W1, W2 = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5))
      >>> ax = plot_contours(W1, W2, W1 ** 2 + W2 ** 2, levels=5, ax=Figure().add_subplot())
      >>> ax.get_xlabel(), ax.get_ylabel()
      ('$w_1$', '$w_2$')

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    W1, W2, F = (np.asarray(as_array(n, a)) for n, a in (("W1", W1), ("W2", W2), ("F", F)))
    for name, a in (("W1", W1), ("W2", W2)):
        if a.shape != F.shape:
            raise ValueError(f"{name} must have the same shape as F {F.shape}, got {a.shape}")
    ax = _axes(ax)
    kw: dict = {}
    if log:
        if not np.all(F > 0):
            raise ValueError("F must be > 0 everywhere when log=True")
        lv = np.geomspace(F.min(), F.max(), levels) if isinstance(levels, int) else np.asarray(levels, dtype=float)
        kw = dict(levels=lv, norm=LogNorm(lv[0], lv[-1]))
    else:
        kw = dict(levels=levels)
    if filled:
        ax.contourf(W1, W2, F, cmap="viridis", alpha=0.85, **kw)
    ax.contour(W1, W2, F, colors="white" if filled else "0.4", linewidths=0.5, alpha=0.6, **kw)
    ax.set_xlabel(r"$w_1$")
    ax.set_ylabel(r"$w_2$")
    return ax


def plot_path(
    path: ArrayLike,
    *,
    ax: Axes | None = None,
    color: str = "tab:red",
    label: str | None = None,
    markersize: float = 3.0,
) -> Axes:
    """A 2-D optimisation path ``w_0, w_1, …`` drawn as joined points; the start is a black square.

    Non-finite iterates (a diverged run) are dropped.

    Args:
      path: the iterates ``(T, 2)``; color, label, markersize: the path's style and legend entry.
      ax: the axes to draw into (a new figure if omitted).

    Example:
      >>> from matplotlib.figure import Figure
      >>> ax = plot_path([[0.0, 0.0], [1.0, 1.0], [np.nan, np.inf]], ax=Figure().add_subplot())
      >>> len(ax.lines), ax.lines[0].get_xdata().tolist()     # the path and the start; the non-finite row dropped
      (2, [0.0, 1.0])

    Chapter: ``book/ch01_gradient_descent.ipynb``.
    """
    p = np.asarray(as_array("path", path), dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"path must have shape (T, 2), got {p.shape}")
    p = p[np.all(np.isfinite(p), axis=1)]
    ax = _axes(ax)
    ax.plot(p[:, 0], p[:, 1], "-o", color=color, ms=markersize, lw=1.0, label=label)
    if len(p):
        ax.plot(p[0, 0], p[0, 1], "s", color="k", ms=5)
    return ax


def plot_losses(
    losses: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    log: bool = True,
) -> Axes:
    """Loss curves ``𝓛(w_t)`` against step ``t``, one per row of ``losses``.

    Args:
      losses: ``(T,)`` or ``(K, T)`` (one curve per row).
      labels: ``K`` legend entries (optional); log: a logarithmic loss axis (default).
      ax: the axes to draw into (a new figure if omitted).

    Example:
      >>> from matplotlib.figure import Figure
      >>> ax = plot_losses([[1.0, 0.5, 0.25], [1.0, 0.9, 0.8]], labels=["a", "b"], ax=Figure().add_subplot())
      >>> len(ax.lines), ax.get_yscale()
      (2, 'log')

    Chapter: ``book/ch01_gradient_descent.ipynb`` (also ``book/ch02_backprop.ipynb``).
    """
    L = np.asarray(as_array("losses", losses), dtype=float)
    check_ndim("losses", L, (1, 2), "(T,) or (K, T)")
    L = np.atleast_2d(L)
    if labels is not None and len(labels) != L.shape[0]:
        raise ValueError(f"labels must have one entry per curve ({L.shape[0]}), got {len(labels)}")
    ax = _axes(ax)
    for k, row in enumerate(L):
        ax.plot(np.arange(row.size), row, lw=1.5, label=None if labels is None else labels[k])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"loss $\mathcal{L}(w_t)$")
    if labels is not None:
        ax.legend(fontsize=8)
    return ax


def plot_network(
    params: Sequence,
    fwd=None,
    bwd=None,
    *,
    example: int = 0,
    ax: Axes | None = None,
    weights: bool = True,
) -> Axes:
    """The computational graph of a small MLP: units as circles, weights on the edges, and the values of one example.

    For that example each unit shows its forward value ``a^l_j`` (``x`` for the inputs) and, below it, the
    backward signal ``δ^l_j``.

    Args:
      params: the layers of :func:`dlbook.model.init_mlp` (at most 8 units per layer).
      fwd: a :class:`dlbook.model.Forward` (optional): the values ``a^l`` to write in the units.
      bwd: a :class:`dlbook.backprop.Backward` (optional): the error signals ``δ^l`` to write under them.
      example: which row of the batch to show.
      ax: the axes to draw into (a new figure if omitted).
      weights: write each weight ``W^l_{jk}`` on its edge.

    Example:
      >>> from matplotlib.figure import Figure
      >>> from dlbook.model import Layer
      >>> params = [Layer(jnp.ones((3, 2)), jnp.zeros(3)), Layer(jnp.ones((1, 3)), jnp.zeros(1))]
      >>> ax = plot_network(params, ax=Figure().add_subplot())
      >>> len(ax.lines), len(ax.patches)   # edges 2·3 + 3·1, units 2 + 3 + 1
      (9, 6)

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    if not isinstance(params, (list, tuple)) or not params:
        raise TypeError("params must be a non-empty list of dlbook.model.Layer")
    sizes = [int(params[0].W.shape[1])] + [int(p.W.shape[0]) for p in params]
    if max(sizes) > MAX_DRAWN_UNITS:
        raise ValueError(f"plot_network draws networks with at most {MAX_DRAWN_UNITS} units per layer, got widths {sizes}")
    if fwd is not None and [int(a.shape[-1]) for a in fwd.activations] != sizes:
        raise ValueError(f"fwd does not belong to this network: widths {[a.shape[-1] for a in fwd.activations]}, not {sizes}")
    if bwd is not None and [int(d.shape[-1]) for d in bwd.deltas] != sizes[1:]:
        raise ValueError(f"bwd does not belong to this network: widths {[d.shape[-1] for d in bwd.deltas]}, not {sizes[1:]}")
    batch = None if fwd is None else int(fwd.activations[0].shape[0])
    if batch is not None and not 0 <= example < batch:
        raise ValueError(f"example must be in [0, {batch}), got {example}")
    ax = _axes(ax)
    ys = [np.linspace(-(n - 1) / 2, (n - 1) / 2, n)[::-1] for n in sizes]
    for l, p in enumerate(params):
        W = np.asarray(p.W)
        for j in range(sizes[l + 1]):
            for k in range(sizes[l]):
                ax.plot([l, l + 1], [ys[l][k], ys[l + 1][j]], color="0.7", lw=0.8, zorder=1)
                if weights:
                    t = 0.3 if k % 2 == 0 else 0.62  # stagger labels so crossing edges stay readable
                    ax.text(l + t, ys[l][k] + t * (ys[l + 1][j] - ys[l][k]), f"{W[j, k]:.2f}", fontsize=7,
                            color="0.35", ha="center", va="center", zorder=3,
                            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    for l, n in enumerate(sizes):
        for j in range(n):
            face = "#dbe9f6" if l == 0 else "#fde0c5"
            ax.add_patch(Circle((l, ys[l][j]), 0.17, fc=face, ec="0.3", lw=1, zorder=2))
            if fwd is not None:
                v = float(np.asarray(fwd.activations[l])[example, j])
                ax.text(l, ys[l][j], f"{v:.3f}", fontsize=7.5, ha="center", va="center", zorder=4)
            if bwd is not None and l > 0:
                d = float(np.asarray(bwd.deltas[l - 1])[example, j])
                ax.text(l, ys[l][j] - 0.27, f"δ={d:.3g}", fontsize=7, color="tab:red", ha="center", va="top", zorder=4)
    ax.set_xticks(range(len(sizes)), ["$a^0 = x$"] + [f"$a^{{{l}}}$" for l in range(1, len(sizes))])
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    span = (max(sizes) - 1) / 2
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(-span - 0.7, span + 0.4)
    ax.set_aspect("equal")
    return ax
