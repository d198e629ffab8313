"""Run the docstring examples of every dlbook module: the examples in the docs must stay true."""

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import dlbook

MODULES = sorted(["dlbook", *(f"dlbook.{m.name}" for m in pkgutil.iter_modules(dlbook.__path__))])
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS

# Modules whose docstring examples are known to be wrong, module -> reason; such a module's test is marked
# xfail(strict=True), so it fails as soon as the examples are fixed and the entry must then be removed.
# Empty: every module's examples pass.
BROKEN: dict[str, str] = {}


def test_every_module_is_listed():
    expected = {"_checks", "activations", "backprop", "logistic", "data", "descent", "linear", "losses", "optim", "parallel", "plotting", "regularization", "surfaces", "training", "explorer", "render", "session"}
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
    for name in ("dlbook.surfaces", "dlbook.optim", "dlbook.descent", "dlbook.data", "dlbook.losses", "dlbook.parallel"):
        module = importlib.import_module(name)
        tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
        assert sum(len(t.examples) for t in tests) > 0, name


BOOK = Path(__file__).resolve().parents[1] / "book"


@pytest.mark.parametrize("name", ["dlbook.surfaces", "dlbook.parallel"])
def test_public_functions_are_documented(name):
    """Each public function: one summary line, its arguments, a runnable example, the chapter that teaches it
    (an existing notebook) and, where given, references that are keys of book/references.bib cited in that
    chapter (``chNN-key`` as the chapters cite them)."""
    module = importlib.import_module(name)
    bib_keys = set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(encoding="utf-8"), re.M))
    functions = [getattr(module, f) for f in module.__all__ if inspect.isfunction(getattr(module, f))]
    assert functions, name
    for f in functions:
        doc = inspect.getdoc(f)
        assert doc, f"{name}.{f.__name__} has no docstring"
        lines = doc.splitlines()
        assert lines[0].strip() and (len(lines) == 1 or not lines[1].strip()), f"{f.__name__}: one summary line, then a blank line"
        params = inspect.signature(f).parameters
        if params:
            assert "\nArgs:\n" in doc, f"{f.__name__} does not document its arguments"
            for arg in params:
                assert re.search(rf"^\s+(\w+, )*{arg}(, \w+)*:", doc, re.M), f"{f.__name__} does not document {arg}"
        assert ">>>" in doc, f"{f.__name__} has no example"
        chapters = re.findall(r"^Chapter: ``(book/ch\d\d_\w+\.ipynb)``", doc, re.M)
        assert len(chapters) == 1, f"{f.__name__} needs one line 'Chapter: ``book/chNN_....ipynb``'"
        assert (BOOK.parent / chapters[0]).is_file(), f"{f.__name__}: {chapters[0]} does not exist"
        for ref in re.findall(r"^Reference: (.*)$", doc, re.M):
            keys = re.findall(r"``(ch\d\d)-([^`]+)``", ref)
            assert keys, f"{f.__name__}: a Reference line names ``chNN-key`` keys, got {ref!r}"
            for prefix, key in keys:
                assert key in bib_keys, f"{f.__name__}: {key} is not a key of book/references.bib"
                cited = next(BOOK.glob(f"{prefix}_*.ipynb"))
                assert f"{prefix}-{key}" in cited.read_text(encoding="utf-8"), f"{f.__name__}: {cited.name} does not cite {key}"
