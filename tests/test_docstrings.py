"""Every public function and class of dlbook says what it computes and where the book teaches it.

Each docstring starts with a one-line summary, names the chapter that teaches it (``Chapter:`` followed by
notebooks that exist), cites only references that are in ``book/references.bib``, and every public function
carries a runnable example (``>>>``; tests/test_doctests.py runs them).
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import dlbook

ROOT = Path(__file__).resolve().parents[1]
BIB_KEYS = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(encoding="utf-8"), re.M))
MODULES = sorted(m.name for m in pkgutil.iter_modules(dlbook.__path__) if not m.name.startswith("_"))


def public_objects():
    for name in MODULES:
        module = importlib.import_module(f"dlbook.{name}")
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                yield f"dlbook.{name}.{attr}", obj


OBJECTS = dict(public_objects())


def test_every_public_module_has_an_all_and_the_objects_are_found():
    for name in MODULES:
        assert hasattr(importlib.import_module(f"dlbook.{name}"), "__all__"), name
    assert len(OBJECTS) > 80


@pytest.mark.parametrize("qualname", sorted(OBJECTS))
def test_docstring_names_its_chapter_and_cites_the_bibliography(qualname):
    obj = OBJECTS[qualname]
    doc = inspect.getdoc(obj) or ""
    assert doc and doc.splitlines()[0].strip(), f"{qualname}: no one-line summary"
    chapters = re.findall(r"book/(ch\d\d_\w+)\.ipynb", doc.split("Chapter", 1)[-1]) if "Chapter" in doc else []
    assert chapters, f"{qualname}: the docstring must name the chapter that teaches it (Chapter: ``book/chNN_….ipynb``)"
    for ch in chapters:
        assert (ROOT / "book" / f"{ch}.ipynb").exists(), f"{qualname}: no chapter {ch}"
    for ref in re.findall(r"Reference[s]?:\s*((?:``[^`]+``[,;\s]*)+)", doc):
        for key in re.findall(r"``([^`]+)``", ref):
            key = re.sub(r"^ch\d\d-", "", key)
            assert key in BIB_KEYS, f"{qualname}: reference {key!r} is not in book/references.bib"


@pytest.mark.parametrize("qualname", sorted(q for q, o in OBJECTS.items() if inspect.isfunction(o)))
def test_every_public_function_has_an_example(qualname):
    assert ">>>" in (inspect.getdoc(OBJECTS[qualname]) or ""), f"{qualname}: add a small runnable example"


def test_every_module_reads_in_one_sitting():
    """At most 200 lines of code per module (docstrings, comments and blank lines not counted)."""
    import ast

    for path in sorted((ROOT / "src" / "dlbook").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        docs = set()
        for node in ast.walk(ast.parse(source)):
            body = getattr(node, "body", None)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                docs.update(range(body[0].lineno, body[0].end_lineno + 1))
        code = [line for i, line in enumerate(source.splitlines(), 1)
                if i not in docs and line.strip() and not line.strip().startswith("#")]
        assert len(code) <= 200, f"{path.name}: {len(code)} lines of code; split it into modules of one idea each"
