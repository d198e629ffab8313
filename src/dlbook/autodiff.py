"""A scalar reverse-mode automatic differentiation engine: the computational graph, made visible.

Every arithmetic operation on :class:`Value` objects creates a new node that remembers its inputs
(``parents``) and the **local gradients** ``∂node/∂parent``, evaluated during the forward computation.
:meth:`Value.backward` then visits the nodes in reverse topological order and applies the chain rule in
one line::

    parent.grad += local * node.grad          # local gradient × upstream gradient

The ``+=`` sums the contributions of every path: a value that feeds two nodes receives the gradient of both.
Each node is visited once, after every node that uses it, so the whole backward pass costs a small
constant times the forward pass (dynamic programming over the graph).  This is what ``jax.grad`` does, on
arrays instead of scalars.  The design follows micrograd (Karpathy), with the local gradients stored as
numbers beside the parents instead of closures, so that a graph can be listed and drawn.

Reference: ``baydin2018automatic``.  Chapter: ``book/ch02_backprop.ipynb``.
"""

from __future__ import annotations

import math
import sys
from numbers import Real
from typing import Any, Iterable, Sequence

__all__ = ["Value", "topological_order", "graph_table", "plot_graph"]


def _number(name: str, x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    if not math.isfinite(float(x)):
        raise ValueError(f"{name} must be finite, got {x}")
    return float(x)


class Value:
    """A scalar node of a computational graph: its value ``data``, its gradient ``grad`` and how it was made.

    ``Value(2.0, label="x")`` is a leaf (an input or a parameter); ``x * y``, ``x + 1``, ``x ** 2``,
    ``x.exp()``, ``x.log()``, ``x.tanh()``, ``x.sigmoid()``, ``x.relu()`` build new nodes whose ``parents`` and
    ``local`` (the local gradients ``∂node/∂parent``) the backward pass uses.  Plain numbers mixed in become
    constant leaves.  ``relu'(0) = 0``.

    Example:
      >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
      >>> f = x * y + x             # x is used twice
      >>> f.backward()
      >>> f.data, x.grad, y.grad    # ∂f/∂x = y + 1, ∂f/∂y = x
      (8.0, 4.0, 2.0)

    Reference: ``baydin2018automatic``.  Chapter: ``book/ch02_backprop.ipynb``.
    """

    __slots__ = ("data", "grad", "parents", "local", "op", "label")

    def __init__(self, data: float, *, label: str = "", parents: Sequence[Value] = (), local: Sequence[float] = (),
                 op: str = "") -> None:
        self.data = _number("data", data)
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        if len(parents) != len(local) or not all(isinstance(p, Value) for p in parents):
            raise TypeError("parents must be Values, one local gradient each")
        self.grad, self.parents, self.local, self.op, self.label = 0.0, tuple(parents), tuple(local), op, label

    def __repr__(self) -> str:
        name = f"{self.label}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other: Any) -> Value:
        return other if isinstance(other, Value) else Value(_number("other operand", other))

    def _node(self, data: float, op: str, parents: Sequence[Value], local: Sequence[float]) -> Value:
        if not (math.isfinite(data) and all(math.isfinite(g) for g in local)):
            inputs = ", ".join(f"{p.data:g}" for p in parents)
            raise OverflowError(f"{op} of ({inputs}) is not a finite float (value {data}, local gradients {tuple(local)})")
        return Value(data, parents=parents, local=local, op=op)

    # binary operations: the forward value and, beside it, the local gradients
    def __add__(self, other: Any) -> Value:
        o = self._lift(other)
        return self._node(self.data + o.data, "+", (self, o), (1.0, 1.0))

    def __mul__(self, other: Any) -> Value:
        o = self._lift(other)
        return self._node(self.data * o.data, "×", (self, o), (o.data, self.data))

    def __pow__(self, exponent: Any) -> Value:
        k = _number("exponent", exponent)
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"exponent must be an integer when the base is negative, got base {self.data} and exponent {k}")
        if k == 0:
            return self._node(1.0, "^0", (self,), (0.0,))
        if self.data == 0 and k < 1:
            raise ValueError(f"base must be nonzero for an exponent < 1, got base 0 and exponent {k}")
        return self._node(self.data ** k, f"^{k:g}", (self,), (k * self.data ** (k - 1),))

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Any) -> Value:
        o = self._lift(other)
        return self._node(self.data - o.data, "−", (self, o), (1.0, -1.0))

    def __truediv__(self, other: Any) -> Value:
        o = self._lift(other)
        if o.data == 0:
            raise ZeroDivisionError("the divisor must be nonzero, got 0")
        return self._node(self.data / o.data, "÷", (self, o), (1.0 / o.data, -self.data / o.data ** 2))

    def __radd__(self, other: Any) -> Value:
        return self._lift(other) + self

    def __rmul__(self, other: Any) -> Value:
        return self._lift(other) * self

    def __rsub__(self, other: Any) -> Value:
        return self._lift(other) - self

    def __rtruediv__(self, other: Any) -> Value:
        return self._lift(other) / self

    # functions of one argument
    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp of ({self.data:g}) is not a finite float (it exceeds {math.log(sys.float_info.max):.1f})") from None
        return self._node(e, "exp", (self,), (e,))

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive argument, got {self.data}")
        return self._node(math.log(self.data), "log", (self,), (1.0 / self.data,))

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._node(t, "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self) -> Value:
        z = self.data
        s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return self._node(s, "σ", (self,), (s * (1.0 - s),))

    def relu(self) -> Value:
        return self._node(max(self.data, 0.0), "relu", (self,), (1.0 if self.data > 0 else 0.0,))

    def backward(self) -> None:
        """Set ``grad`` of every node this one depends on to ``∂self/∂node`` (reverse topological order).

        Every gradient of the graph is reset first, so calling it twice gives the same gradients (micrograd
        instead adds to the gradients already there, and needs them zeroed before the next pass).
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local):
                parent.grad += local * node.grad  # local gradient × upstream gradient, summed over paths


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its parents (a topological order), ``root`` last.

    Example:
      >>> x = Value(2.0, label="x")
      >>> [n.label or n.op for n in topological_order(x * x + 1.0)]
      ['x', '×', '', '+']

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:  # depth-first, without recursion (deep graphs would exceed Python's recursion limit)
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order


def _names(order: Sequence[Value]) -> dict[int, str]:
    """A node's label, or ``v0``, ``v1`` … for unlabelled operations and ``c0``, ``c1`` … for unlabelled constants."""
    names: dict[int, str] = {}
    count = {"v": 0, "c": 0}
    for node in order:
        kind = "v" if node.parents else "c"
        names[id(node)] = node.label or f"{kind}{count[kind]}"
        count[kind] += not node.label
    return names


def graph_table(root: Value) -> list[tuple[str, str, float, float]]:
    """The graph of ``root`` as rows ``(name, made of, value, grad)`` in topological order, for printing.

    Leaves are named by their ``label`` (or ``c0``, ``c1`` … for constants), operations ``v0``, ``v1`` … unless
    labelled; "made of" reads e.g. ``x × y``.

    Example:
      >>> x = Value(3.0, label="x")
      >>> f = x * x
      >>> f.backward()
      >>> graph_table(f)
      [('x', '', 3.0, 6.0), ('v0', 'x × x', 9.0, 1.0)]

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    order = topological_order(root)
    names = _names(order)
    rows = []
    for node in order:
        p = [names[id(q)] for q in node.parents]
        made = f"{p[0]} {node.op} {p[1]}" if len(p) == 2 else (f"{node.op}({p[0]})" if p else "")
        if node.op.startswith("^"):
            made = f"{p[0]}{node.op}"
        rows.append((names[id(node)], made, node.data, node.grad))
    return rows


def plot_graph(root: Value, *, ax: Any = None, grads: bool = True, order: Iterable[Value] | None = None) -> Any:
    """Draw the computational graph of ``root``: one box per node (name or operation, value, gradient), arrows forward.

    An operation's column is its depth (the longest path from a leaf), a leaf's is just left of its first use;
    the boxes show ``data`` and, below it in red, ``grad`` (after :meth:`Value.backward`).  ``order`` (optional) fixes the top-to-bottom order in each column.

    Example:
      >>> from matplotlib.figure import Figure
      >>> x = Value(2.0, label="x")
      >>> ax = plot_graph(x * x + 1.0, ax=Figure().add_subplot())
      >>> len(ax.texts), len(ax.patches)      # 4 nodes (value and gradient each); 4 edges (x enters × twice)
      (8, 4)

    Chapter: ``book/ch02_backprop.ipynb``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    nodes = topological_order(root)
    names = _names(nodes)
    if ax is None:
        ax = plt.figure().add_subplot()
    rank = {id(n): i for i, n in enumerate(order if order is not None else nodes)}
    depth: dict[int, int] = {}
    for n in nodes:
        depth[id(n)] = 1 + max((depth[id(p)] for p in n.parents), default=-1)
    first_use: dict[int, int] = {}  # a leaf sits just left of its first use, not all leaves in one column
    for n in nodes:
        for p in n.parents:
            if not p.parents:
                first_use[id(p)] = min(first_use.get(id(p), depth[id(n)]), depth[id(n)] - 1)
    depth.update(first_use)
    columns: dict[int, list[Value]] = {}
    for n in sorted(nodes, key=lambda n: rank.get(id(n), len(rank))):
        columns.setdefault(depth[id(n)], []).append(n)
    height = max(len(c) for c in columns.values())
    xy = {id(n): (d, (len(col) - 1) / 2 - i) for d, col in columns.items() for i, n in enumerate(col)}
    for n in nodes:
        for i, p in enumerate(n.parents):
            bend = 0.35 if p in n.parents[:i] else 0.0  # a value entering one node twice: a second, bent edge
            ax.add_patch(FancyArrowPatch(xy[id(p)], xy[id(n)], arrowstyle="-|>", mutation_scale=8, color="0.6",
                                         lw=0.8, shrinkA=14, shrinkB=14, zorder=1, connectionstyle=f"arc3,rad={bend}"))
    for n in nodes:
        x, y = xy[id(n)]
        name = n.label or (n.op if n.parents else names[id(n)])  # constants as in graph_table: c0, c1 …
        ax.text(x, y, f"{name}\n{n.data:.3g}", ha="center", va="center", fontsize=7, zorder=3, linespacing=1.1,
                bbox=dict(boxstyle="round,pad=0.25", fc="#fde0c5" if n.parents else "#dbe9f6", ec="0.3", lw=0.8))
        if grads:
            ax.text(x, y - 0.36, f"{n.grad:.3g}", ha="center", va="top", fontsize=6.5, color="tab:red", zorder=3)
    ax.set(xlim=(-0.6, max(columns) + 0.6), ylim=(-height / 2, height / 2), xticks=[], yticks=[])
    for side in ax.spines.values():
        side.set_visible(False)
    return ax
