"""A published chapter, run the way a reader runs it in Colab (``make hosted``; not part of ``make test``).

A fresh virtual environment gets only what a hosted notebook image has -- from PyPI, newest versions unless
``HOSTED_PACKAGES`` says otherwise: JAX, NumPy, matplotlib, scikit-learn, tqdm, optax, ipywidgets, ipykernel,
nbclient -- and no dlbook.  The published chapter (tools/publish.py: the install cell first) is executed
there top to bottom, in a kernel of that environment, with its install cell pointed at this checkout's
committed HEAD (``dlbook @ git+file://…@HEAD``: pip clones the commit, as it clones GitHub in Colab).
Checked: the install cell installed dlbook, every cell ran, and no package the image had was changed
(JAX, NumPy, matplotlib and the rest keep their versions: the library's requirements are lower bounds).
How many stored text outputs differ is printed (a newer JAX may round differently), not asserted.

``HOSTED_CHAPTER`` (default ch01_gradient_descent) picks the chapter.  Needs the network (PyPI) and about a
minute plus the chapter's run time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = os.environ.get(
    "HOSTED_PACKAGES", "jax numpy matplotlib scikit-learn tqdm optax ipywidgets ipykernel nbclient").split()
CHAPTER = ROOT / "book" / (os.environ.get("HOSTED_CHAPTER", "ch01_gradient_descent") + ".ipynb")
KEPT = ("jax", "jaxlib", "numpy", "matplotlib", "scikit-learn", "scipy", "ipywidgets", "ipykernel", "pillow", "optax")


def _publish():
    spec = importlib.util.spec_from_file_location("dlbook_tools_publish", ROOT / "tools" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DLBOOK_", "JUPYTER"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


def _freeze(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True, capture_output=True,
                         text=True, env=_env()).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


RUN = r"""
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


def test_published_chapter_runs_in_a_fresh_hosted_like_environment(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, env=_env())
    python = venv / "bin" / "python"
    # a hosted image's pip is recent (the venv's bundled one may be too old to read a git+file:// requirement)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True, env=_env())
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True, env=_env())
    before = _freeze(python)
    assert "dlbook" not in before
    print("\nhosted image:", ", ".join(f"{k} {before[k]}" for k in KEPT if k in before))

    publish = _publish()
    spec = f"dlbook[chapters] @ git+file://{ROOT}@{head}"
    nb = publish.published(CHAPTER, publish.Source(None, head, spec))
    assert spec in nb.cells[0].source
    path = tmp_path / CHAPTER.name
    nbformat.write(nb, path)
    subprocess.run([str(python), "-c", RUN, str(path), str(tmp_path)], check=True, env=_env(), timeout=1800)

    after = _freeze(python)
    assert "dlbook" in after, "the install cell did not install dlbook"
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    assert not changed, f"installing dlbook changed the image's packages: {changed}"
    ran = nbformat.read(path, as_version=4)
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    committed = nbformat.read(CHAPTER, as_version=4)
    code = [c for c in committed.cells if c.cell_type == "code"]

    def text(cell) -> str:  # printed text and reprs, joined (a kernel splits a cell's stream as it likes)
        return "".join(o.text if o.output_type == "stream" else o.data["text/plain"] for o in cell.outputs
                       if (o.output_type == "stream" and o.name == "stdout") or "text/plain" in o.get("data", {}))

    ran_code = [c for c in ran.cells if c.cell_type == "code"][1:]
    differ = sum(text(a) != text(b) for a, b in zip(code, ran_code))
    print(f"{CHAPTER.stem}: {len(ran_code)} code cells ran in the hosted-like environment; dlbook "
          f"{after['dlbook']} installed by the first cell; {differ} cells print text that differs from the stored")
