"""dlbook.activations against jax.nn and jax.grad; finite and correct at the extremes; conventions at kinks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook import activations as A

settings.register_profile("dlbook", database=None, derandomize=True, max_examples=200, deadline=None)
settings.load_profile("dlbook")

GRID = jnp.concatenate([jnp.linspace(-8, 8, 161), jnp.array([0.0, -1e-3, 1e-3])])
REFERENCE = {  # our function -> jax.nn's
    "sigmoid": (A.sigmoid, jax.nn.sigmoid),
    "tanh": (A.tanh, jnp.tanh),
    "relu": (A.relu, jax.nn.relu),
    "leaky_relu": (lambda x: A.leaky_relu(x, 0.1), lambda x: jax.nn.leaky_relu(x, 0.1)),
    "elu": (lambda x: A.elu(x, 0.7), lambda x: jax.nn.elu(x, 0.7)),
    "swish": (A.swish, jax.nn.silu),
    "gelu": (A.gelu, lambda x: jax.nn.gelu(x, approximate=False)),
    "identity": (A.identity, lambda x: x),
}
DERIVATIVES = {
    "sigmoid": (A.sigmoid, A.d_sigmoid),
    "tanh": (A.tanh, A.d_tanh),
    "relu": (A.relu, A.d_relu),
    "leaky_relu": (lambda x: A.leaky_relu(x, 0.1), lambda x: A.d_leaky_relu(x, 0.1)),
    "elu": (lambda x: A.elu(x, 0.7), lambda x: A.d_elu(x, 0.7)),
    "swish_b1": (A.swish, A.d_swish),
    "swish_b2.5": (lambda x: A.swish(x, 2.5), lambda x: A.d_swish(x, 2.5)),
    "gelu": (A.gelu, A.d_gelu),
    "identity": (A.identity, A.d_identity),
}


@pytest.mark.parametrize("name", REFERENCE)
def test_values_match_jax_nn(name):
    ours, ref = REFERENCE[name]
    np.testing.assert_allclose(ours(GRID), ref(GRID), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", DERIVATIVES)
def test_derivatives_match_autodiff_including_the_kinks(name):
    f, df = DERIVATIVES[name]
    np.testing.assert_allclose(df(GRID), jax.vmap(jax.grad(f))(GRID), rtol=1e-5, atol=1e-6)


def test_conventions_at_the_kinks():
    zero = jnp.array(0.0)
    assert float(A.d_relu(zero)) == 0.0 and float(A.d_leaky_relu(zero, 0.1)) == 1.0
    assert float(A.d_elu(zero, 0.7)) == pytest.approx(0.7) and float(A.d_sigmoid(zero)) == 0.25


def test_limits_at_infinity():
    inf = jnp.array([-jnp.inf, jnp.inf])
    for f, lo, hi in [(A.sigmoid, 0, 1), (A.tanh, -1, 1), (A.relu, 0, np.inf), (A.swish, 0, np.inf),
                      (A.gelu, 0, np.inf), (lambda x: A.elu(x, 0.7), -0.7, np.inf),
                      (lambda x: A.leaky_relu(x, 0.1), -np.inf, np.inf)]:
        np.testing.assert_allclose(f(inf), [lo, hi], rtol=1e-6)
    for df, lo, hi in [(A.d_sigmoid, 0, 0), (A.d_tanh, 0, 0), (A.d_relu, 0, 1), (A.d_swish, 0, 1),
                       (lambda x: A.d_swish(x, 3.0), 0, 1), (A.d_gelu, 0, 1), (A.d_elu, 0, 1),
                       (lambda x: A.d_leaky_relu(x, 0.1), 0.1, 1)]:
        np.testing.assert_allclose(df(inf), [lo, hi])
    for f in (A.sigmoid, A.d_sigmoid, A.relu, A.d_relu, A.swish, A.d_swish, A.gelu, A.d_gelu, A.d_elu, A.d_leaky_relu):
        assert np.isnan(f(jnp.array(jnp.nan)))  # nan in, nan out


finite32 = st.floats(-1e4, 1e4, width=32, allow_nan=False, allow_infinity=False)


@given(x=finite32, beta=st.sampled_from([0.1, 1.0, 5.0]))
def test_finite_and_bounded_over_the_float32_range(x, beta):
    x = jnp.float32(x)
    values = [A.sigmoid(x), A.d_sigmoid(x), A.tanh(x), A.d_tanh(x), A.relu(x), A.d_relu(x), A.elu(x), A.d_elu(x),
              A.leaky_relu(x), A.d_leaky_relu(x), A.swish(x, beta), A.d_swish(x, beta), A.gelu(x), A.d_gelu(x)]
    assert all(bool(jnp.isfinite(v)) for v in values)
    assert 0 <= float(A.sigmoid(x)) <= 1 and 0 <= float(A.d_sigmoid(x)) <= 0.25
    assert 0 <= float(A.d_tanh(x)) <= 1 and -1 <= float(A.tanh(x)) <= 1
    assert float(A.swish(x, beta)) >= -0.2785 / beta - 1e-6  # swish is bounded below by min_x x σ(βx)
    assert float(A.elu(x)) >= -1.0


@given(shift=st.floats(-1e4, 1e4, width=32), scale=st.floats(0.125, 100, width=32))
def test_softmax_is_a_stable_probability_vector(shift, scale):
    x = jnp.float32(shift) + jnp.float32(scale) * jnp.array([-1.0, 0.0, 0.5, 2.0], jnp.float32)
    s, ls = A.softmax(x), A.log_softmax(x)
    assert bool(jnp.all(jnp.isfinite(s))) and bool(jnp.all(jnp.isfinite(ls)))
    assert float(jnp.sum(s)) == pytest.approx(1.0, abs=1e-5) and bool(jnp.all(s >= 0))
    np.testing.assert_allclose(s, jax.nn.softmax(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ls, jax.nn.log_softmax(x), rtol=1e-5, atol=1e-4)


def test_softmax_shift_invariance_and_the_naive_overflow():
    x = jnp.array([1000.0, 1001.0, 1002.0])
    naive = jnp.exp(x) / jnp.sum(jnp.exp(x))
    assert bool(jnp.all(jnp.isnan(naive)))  # e^1000 overflows float32: inf / inf
    np.testing.assert_allclose(A.softmax(x), A.softmax(x - 1000), rtol=1e-6)
    np.testing.assert_allclose(A.softmax(jnp.ones((2, 3)), axis=0), 0.5, rtol=1e-6)


def test_jacobians_match_autodiff():
    x = jnp.array([0.3, -1.2, 2.0, 0.0])
    np.testing.assert_allclose(A.softmax_jacobian(x), jax.jacfwd(A.softmax)(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(A.log_softmax_jacobian(x), jax.jacfwd(A.log_softmax)(x), rtol=1e-5, atol=1e-7)


# -- activations by name: Activation(name, f, df) with df(z) = f'(z) -------------------------------------------

PARAMS = {"leaky_relu": {"slope": 0.2}, "elu": {"alpha": 0.5}, "swish": {"beta": 2.0}}
# every activation by name, with its default and with another value of its parameter, the ready-made constants,
# and a choice by (traced) index
ACTIVATIONS = {
    **{name: A.activation(name) for name in A.NAMES},
    **{f"{name}({next(iter(kw))}={next(iter(kw.values()))})": A.activation(name, **kw) for name, kw in PARAMS.items()},
    "leaky_relu(slope=0)": A.activation("leaky_relu", slope=0.0),  # = relu, except relu'(0) = 0 vs 1
    "swish(beta=0)": A.activation("swish", beta=0.0),  # x/2
    "SIGMOID": A.SIGMOID, "TANH": A.TANH, "RELU": A.RELU, "IDENTITY": A.IDENTITY,
    "choose(1)": A.choose(jnp.array(1), [A.SIGMOID, A.activation("elu", alpha=0.3), A.RELU]),
}
EDGES = jnp.concatenate([GRID, jnp.array([-30.0, -20.0, 20.0, 30.0])])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_df_is_the_derivative_of_its_f(name):
    """``df`` takes ``z`` only (the old ``df(z, a)`` needed ``a = f(z)`` too) and equals ``jax.grad`` of ``f``,
    at the kinks included (where ``jax.grad`` picks a branch, and so does ``df``)."""
    act = ACTIVATIONS[name]
    assert isinstance(act, A.Activation) and callable(act.f) and callable(act.df)
    np.testing.assert_allclose(act.df(EDGES), jax.vmap(jax.grad(act.f))(EDGES), rtol=1e-5, atol=1e-6, err_msg=name)
    assert act.df(jnp.ones((2, 3))).shape == (2, 3)  # elementwise


def test_the_ready_made_activations_and_the_conventions_at_the_kink():
    for act, name, f in ((A.SIGMOID, "sigmoid", A.sigmoid), (A.TANH, "tanh", A.tanh), (A.RELU, "relu", A.relu),
                         (A.IDENTITY, "identity", A.identity)):
        assert act.name == name and act.f is f
    assert float(A.RELU.df(jnp.array(0.0))) == 0.0  # relu'(0) = 0, as jax.grad
    assert float(A.activation("leaky_relu", slope=0.3).df(jnp.array(0.0))) == 1.0  # leaky_relu'(0) = 1
    assert float(A.activation("elu", alpha=0.3).df(jnp.array(0.0))) == pytest.approx(0.3)  # elu'(0) = α
    assert A.NAMES == ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish", "gelu", "identity")
    assert not hasattr(A, "get") and not hasattr(A, "Pair")  # one way to name an activation: activation(name)


@pytest.mark.parametrize("name", A.NAMES)
def test_activation_by_name_is_the_activations_module_function(name):
    z = jnp.linspace(-4, 4, 41).at[20].set(0.5)
    kw = PARAMS.get(name, {})
    a = A.activation(name, **kw)
    f, df = getattr(A, name), getattr(A, "d_" + name)
    np.testing.assert_array_equal(a.f(z), f(z, **kw))
    np.testing.assert_array_equal(a.df(z), df(z, **kw))
    np.testing.assert_allclose(a.df(z), jax.vmap(jax.grad(lambda x: f(x, **kw)))(z), rtol=1e-6, atol=1e-7)
    assert a.name == name
    if not kw:
        assert a.f is f and a.df is df


def test_activation_parameters_may_be_traced():
    z = jnp.array([-1.0, 0.0, 2.0])
    traced = jax.jit(lambda beta: A.activation("swish", beta=beta).f(z))(3.0)
    np.testing.assert_allclose(traced, A.swish(z, beta=3.0), rtol=1e-6)
    for name, p, values in (("leaky_relu", "slope", [0.0, 0.1, 0.5]), ("elu", "alpha", [0.2, 1.0, 2.0]),
                            ("swish", "beta", [0.0, 1.0, 4.0])):
        f, df = getattr(A, name), getattr(A, "d_" + name)
        # under jit (a slider value) and vmap (a sweep), the value is a tracer: accepted, not checked
        one = jax.jit(lambda v: A.activation(name, **{p: v}).df(z))(values[1])
        np.testing.assert_allclose(one, df(z, values[1]), rtol=1e-6)
        sweep = jax.vmap(lambda v: A.activation(name, **{p: v}).f(z))(jnp.array(values))
        np.testing.assert_allclose(sweep, np.stack([f(z, v) for v in values]), rtol=1e-6)


@pytest.mark.parametrize(("name", "params", "error", "message"), [
    ("leaky_relu", {"slope": -0.1}, ValueError, r"^slope must be >= 0, got -0.1"),
    ("leaky_relu", {"slope": float("nan")}, ValueError, r"^slope must be finite, got a value containing nan"),
    ("leaky_relu", {"slope": float("inf")}, ValueError, r"^slope must be finite"),
    ("leaky_relu", {"slope": jnp.array([0.1, 0.2])}, ValueError, r"^slope must have shape \(\) \(a scalar\), got shape \(2,\)"),
    ("leaky_relu", {"slope": "0.1"}, TypeError, r"^slope must be numeric"),
    ("elu", {"alpha": 0.0}, ValueError, r"^alpha must be > 0 and finite, got 0.0"),
    ("elu", {"alpha": -1.0}, ValueError, r"^alpha must be > 0 and finite, got -1.0"),
    ("elu", {"alpha": float("nan")}, ValueError, r"^alpha must be > 0 and finite, got nan"),
    ("elu", {"alpha": np.ones((1, 1))}, ValueError, r"^alpha must have shape \(\) \(a scalar\), got shape \(1, 1\)"),
    ("swish", {"beta": -2.0}, ValueError, r"^beta must be >= 0, got -2.0"),
    ("swish", {"beta": float("nan")}, ValueError, r"^beta must be finite, got a value containing nan"),
    ("swish", {"beta": [1.0, 2.0]}, ValueError, r"^beta must have shape \(\) \(a scalar\)"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("^") else None)
def test_activation_parameters_are_checked(name, params, error, message):
    """The old ``activation`` took any value: a negative slope, α = 0 (ELU = 0 for all x < 0), nan, a vector."""
    with pytest.raises(error, match=message):
        A.activation(name, **params)


def test_activation_bad_input():
    with pytest.raises(ValueError, match="^unknown activation 'softplus'; valid names: sigmoid, tanh, relu"):
        A.activation("softplus")
    with pytest.raises(TypeError, match="^activation 'swish' takes beta; got unexpected alpha"):
        A.activation("swish", alpha=1.0)
    with pytest.raises(TypeError, match="^activation 'relu' takes no parameters; got unexpected slope"):
        A.activation("relu", slope=0.1)


def test_choose_bad_input():
    with pytest.raises(TypeError, match="^options must be a non-empty sequence of dlbook.activations.Activation"):
        A.choose(0, [])
    with pytest.raises(TypeError, match="^options must be a non-empty sequence"):
        A.choose(0, ["relu"])
    with pytest.raises(ValueError, match=r"^index must have shape \(\) \(a scalar; vmap over it for several\), got shape \(2,\)"):
        A.choose(jnp.array([0, 1]), [A.RELU, A.TANH])


def test_choose_clips_the_index():
    z = jnp.array([-2.0, 0.5])
    np.testing.assert_array_equal(A.choose(7, [A.SIGMOID, A.TANH]).f(z), A.tanh(z))
    np.testing.assert_array_equal(A.choose(-3, [A.SIGMOID, A.TANH]).df(z), A.d_sigmoid(z))
    assert A.choose(0, [A.SIGMOID, A.TANH]).name == "choose(sigmoid|tanh)"


def test_bad_input():
    with pytest.raises(TypeError, match="^x must be a floating-point array, got dtype int32"):
        A.sigmoid(jnp.array([1, 2]))
    with pytest.raises(ValueError, match=r"^x must be a vector \(n,\)"):
        A.softmax_jacobian(jnp.ones((2, 2)))


def test_non_numeric_input_is_named():
    for f in (A.sigmoid, A.relu, A.gelu, A.d_tanh):
        with pytest.raises(TypeError, match=r"^x must be numeric array-like"):
            f("ab")
