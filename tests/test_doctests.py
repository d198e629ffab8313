"""Run the docstring examples of every dlbook module: the examples in the docs must stay true."""

import doctest
import importlib
import pkgutil

import pytest

import dlbook

MODULES = sorted(["dlbook", *(f"dlbook.{m.name}" for m in pkgutil.iter_modules(dlbook.__path__))])
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS

# The module docstring of dlbook.widgets shows `explore(compute, draw, ...)` as a `>>>` example with
# `compute` and `draw` undefined, so doctest fails with NameError.
BROKEN: dict[str, str] = {}  # module -> reason, for a docstring example known to be wrong


def test_every_module_is_listed():
    expected = {"_checks", "activations", "backprop", "logistic", "data", "descent", "linear", "losses", "optim", "parallel", "plotting", "regularization", "surfaces", "training", "widgets"}
    assert expected <= {m.split(".", 1)[1] for m in MODULES if "." in m}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(m, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=BROKEN[m]))
        if m in BROKEN
        else m
        for m in MODULES
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name, globs=dict(vars(module))):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (see captured output)"


def test_the_kernels_have_examples():
    """The examples are not vacuous: the modules that document kernels carry runnable examples."""
    for name in ("dlbook.surfaces", "dlbook.optim", "dlbook.descent", "dlbook.data", "dlbook.losses"):
        module = importlib.import_module(name)
        tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
        assert sum(len(t.examples) for t in tests) > 0, name
