"""dlbook.autodiff: every gradient against jax.grad (a trusted autodiff engine), and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

from dlbook.autodiff import Value, graph_table, plot_graph, topological_order



@pytest.fixture(autouse=True)
def x64():
    """Compare in double precision (Value computes in Python floats)."""
    with jax.enable_x64(True):
        yield

UNARY = {  # Value method -> the same function in jax.numpy
    "exp": jnp.exp, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu,
    "log": lambda x: jnp.log(jnp.abs(x) + 0.5), "square": lambda x: x ** 2, "cube": lambda x: x ** 3,
}


def unary(name, x):
    """The Value version of UNARY[name] (log of |x| + 0.5 so that it stays defined)."""
    if name == "log":
        return ((x * x) ** 0.5 + 0.5).log()
    if name in ("square", "cube"):
        return x ** (2 if name == "square" else 3)
    return getattr(x, name)()


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("x", [-1.7, -0.3, 0.4, 2.2])
def test_each_unary_gradient_matches_jax_grad(name, x):
    v = Value(x)
    out = unary(name, v)
    out.backward()
    assert out.data == pytest.approx(float(UNARY[name](x)), rel=1e-12)
    assert v.grad == pytest.approx(float(jax.grad(UNARY[name])(x)), rel=1e-12, abs=1e-15)


def test_binary_operations_and_mixed_numbers_match_jax_grad():
    def f(x, y):
        return (x * y - x / y + 2.0 - y ** 2 + 3.0 / x - 1.0 * (-x)) * (1.0 + x) - (4.0 - y)

    x, y = Value(1.3), Value(-0.7)
    out = f(x, y)
    out.backward()
    gx, gy = jax.grad(f, argnums=(0, 1))(1.3, -0.7)
    assert out.data == pytest.approx(float(f(1.3, -0.7)))
    assert (x.grad, y.grad) == pytest.approx((float(gx), float(gy)), rel=1e-12)


def test_a_value_used_twice_receives_the_sum_of_both_paths():
    x = Value(0.8)
    h = x.tanh()
    out = h * x + h.exp()  # x feeds tanh and ×; h feeds × and exp
    out.backward()
    f = lambda x: jnp.tanh(x) * x + jnp.exp(jnp.tanh(x))
    assert x.grad == pytest.approx(float(jax.grad(f)(0.8)), rel=1e-12)
    # backward twice gives the same gradients (they are reset, not accumulated across calls)
    out.backward()
    assert x.grad == pytest.approx(float(jax.grad(f)(0.8)), rel=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_random_expressions_match_jax_grad(seed):
    """Random expression graphs (reusing intermediate values) over three leaves, built twice: Value and jnp."""
    rng = np.random.default_rng(seed)
    ops = ["+", "*", "-", "tanh", "sigmoid", "exp_small", "square"]
    program = [(rng.choice(ops), int(rng.integers(0, 3 + i)), int(rng.integers(0, 3 + i))) for i in range(12)]

    def run(leaves, tanh, sigmoid, exp):
        vals = list(leaves)
        for op, i, j in program:
            a, b = vals[i], vals[j]
            vals.append({"+": lambda: a + b, "*": lambda: a * b, "-": lambda: a - b, "tanh": lambda: tanh(a),
                         "sigmoid": lambda: sigmoid(a), "exp_small": lambda: exp(tanh(a)), "square": lambda: a ** 2}[op]())
        return vals[-1] + 0.5 * vals[-2]

    x0 = rng.normal(size=3) * 0.7
    leaves = [Value(float(v)) for v in x0]
    out = run(leaves, Value.tanh, Value.sigmoid, Value.exp)
    out.backward()
    ref = jax.grad(lambda v: run(list(v), jnp.tanh, jax.nn.sigmoid, jnp.exp))(jnp.asarray(x0))
    assert out.data == pytest.approx(float(run(list(jnp.asarray(x0)), jnp.tanh, jax.nn.sigmoid, jnp.exp)), rel=1e-10)
    np.testing.assert_allclose([v.grad for v in leaves], np.asarray(ref), rtol=1e-9, atol=1e-12)


def test_a_small_network_matches_jax_grad():
    rng = np.random.default_rng(0)
    W1, b1, W2, x = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=2)

    def loss(W1, b1, W2, xp):
        h = [sum((W1[j][k] * x[k] for k in range(2)), b1[j]) for j in range(3)]
        act = [xp(hj) for hj in h]
        return 0.5 * (sum(W2[j] * act[j] for j in range(3)) - 1.0) ** 2

    V1 = [[Value(float(w)) for w in row] for row in W1]
    c1, V2 = [Value(float(b)) for b in b1], [Value(float(w)) for w in W2]
    out = loss(V1, c1, V2, Value.sigmoid)
    out.backward()
    g1, gb, g2 = jax.grad(lambda a, b, c: loss(a, b, c, jax.nn.sigmoid), argnums=(0, 1, 2))(W1, b1, W2)
    np.testing.assert_allclose([[v.grad for v in row] for row in V1], g1, rtol=1e-10)
    np.testing.assert_allclose([v.grad for v in c1], gb, rtol=1e-10)
    np.testing.assert_allclose([v.grad for v in V2], g2, rtol=1e-10)


def test_stable_sigmoid_and_relu_kink():
    assert Value(-800.0).sigmoid().data == 0.0 and Value(800.0).sigmoid().data == 1.0
    v = Value(0.0)
    v.relu().backward()
    assert v.grad == 0.0  # relu'(0) = 0, as jax.nn.relu
    assert float(jax.grad(jax.nn.relu)(0.0)) == 0.0


def test_topological_order_puts_every_parent_first_and_handles_deep_graphs():
    x = Value(0.1, label="x")
    y = x
    for _ in range(5000):  # deeper than Python's recursion limit
        y = y * 1.0 + x
    order = topological_order(y)
    pos = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is y and len(order) == len(pos)
    assert all(pos[id(p)] < pos[id(n)] for n in order for p in n.parents)
    y.backward()
    assert x.grad == pytest.approx(5001.0)


def test_graph_table_and_plot_graph():
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    f = x * y + x
    f.backward()
    assert graph_table(f) == [("x", "", 2.0, 4.0), ("y", "", 3.0, 2.0), ("v0", "x × y", 6.0, 1.0),
                              ("v1", "v0 + x", 8.0, 1.0)]
    assert graph_table(Value(2.0) ** 3)[-1][1] == "c0^3"
    ax = plot_graph(f, ax=Figure().add_subplot())
    texts = [t.get_text() for t in ax.texts]
    assert "x\n2" in texts and "4" in texts and len(ax.patches) == 4
    assert len(plot_graph(f, ax=Figure().add_subplot(), grads=False).texts) == 4
    # columns: an operation at its depth, a leaf just left of its first use
    w, b = Value(0.5, label="w"), Value(0.1, label="b")
    ax = plot_graph((w * x).tanh() + b, ax=Figure().add_subplot(), grads=False)
    column = {t.get_text().split("\n")[0]: t.get_position()[0] for t in ax.texts}
    assert column == {"w": 0, "x": 0, "×": 1, "tanh": 2, "b": 2, "+": 3}


@pytest.mark.parametrize("bad, match", [
    (lambda: Value("1"), "data must be a real number, got str"),
    (lambda: Value(True), "data must be a real number, got bool"),
    (lambda: Value(math.nan), "data must be finite"),
    (lambda: Value(1.0, label=3), "label must be a str"),
    (lambda: Value(1.0) * "2", "other operand must be a real number, got str"),
    (lambda: Value(1.0) ** Value(2.0), "exponent must be a real number, got Value"),
    (lambda: Value(0.0) ** -1, "base must be nonzero"),
    (lambda: Value(-1.0).log(), "log needs a positive argument, got -1.0"),
    (lambda: topological_order(1.0), "root must be a Value, got float"),
])
def test_bad_input_names_the_argument(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        bad()


def test_division_by_zero_is_named():
    with pytest.raises(ZeroDivisionError, match="divisor"):
        Value(1.0) / 0.0


@pytest.mark.parametrize("seed", range(30))
def test_topological_order_on_random_graphs(seed):
    """Random DAGs (any node may use any earlier one, some twice): every parent before its user, each node once,
    only the nodes the root depends on, root last."""
    rng = np.random.default_rng(seed)
    nodes = [Value(float(v)) for v in rng.normal(size=3)]
    for _ in range(int(rng.integers(5, 40))):
        a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), size=2))
        nodes.append(a * b if rng.random() < 0.5 else a + b)
    root = nodes[-1]
    order = topological_order(root)
    pos = {id(n): i for i, n in enumerate(order)}
    reachable, todo = set(), [root]
    while todo:  # the ancestors of root, by plain search
        n = todo.pop()
        if id(n) not in reachable:
            reachable.add(id(n))
            todo.extend(n.parents)
    assert order[-1] is root and len(order) == len(pos) == len(reachable) and set(pos) == reachable
    assert all(pos[id(p)] < pos[id(n)] for n in order for p in n.parents)


def test_powers_of_negative_bases_and_zero_exponent():
    v = Value(-2.0)
    (v ** 3).backward()
    assert v.grad == pytest.approx(12.0)  # 3·(−2)²
    z = Value(0.0)
    out = z ** 0
    out.backward()
    assert out.data == 1.0 and z.grad == 0.0
    with pytest.raises(ValueError, match="exponent must be an integer when the base is negative"):
        Value(-2.0) ** 0.5


def test_overflow_is_named():
    with pytest.raises(OverflowError, match=r"exp of \(800\)"):
        Value(800.0).exp()
    with pytest.raises(OverflowError, match="× of"):
        Value(1e200) * 1e200


def test_plot_graph_names_constants_as_graph_table_does():
    f = Value(2.0, label="x") * 3.0
    f.backward()
    assert graph_table(f)[1][0] == "c0"
    texts = [t.get_text().split("\n")[0] for t in plot_graph(f, ax=Figure().add_subplot(), grads=False).texts]
    assert "c0" in texts and "const" not in texts
