# The two commands of the README are `make book` and `make test`; each sets itself up.
# Needs only Python >= 3.11 and make.  Everything else goes into .venv from requirements.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0
# XLA's CPU code capped at AVX2 (on x86-64), so every machine computes the chapters' stored numbers bit for
# bit alike: see PORTABLE_XLA_FLAG in tools/chapters.py (standard library only, so no venv is needed here).
export XLA_FLAGS := $(shell $(PYTHON) tools/chapters.py xla-flags)

.PHONY: book execute test unit nbval book-strict site-checks browser pdf hosted bench lab sync outputs clean help

help:
	@echo "make book    execute every chapter and build the HTML book in _build/html"
	@echo "make test    unit tests, every chapter under nbval, strict book build, built-site checks, browser tests"
	@echo "make pdf     the book as one PDF, printed by Chromium: _build/pdf/dlbook.pdf (needs chromium, a CJK font)"
	@echo "make hosted  a published chapter run in a fresh venv holding only what Colab-like images have"
	@echo "make lab     open the chapters in JupyterLab with live sliders"
	@echo "make bench   benchmarks: print the table of ratios, write benchmarks/results.json (the 性能 appendix)"
	@echo "make sync    bring each chapter's .ipynb and its .md twin together (after editing the .md)"
	@echo "make outputs re-execute the chapters and store their text outputs (after an intended change)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dlbook needs Python >= 3.11, got " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@# jupyterlab-myst's markdown cells trip JupyterLab's floating cell toolbar (an uncaught TypeError on every
	@# rendered markdown cell); the book needs neither, so it is off in this environment's JupyterLab.
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyterlab/cell-toolbar-extension >/dev/null 2>&1
	touch $(STAMP)

# Chapters are executed with jupyter-cache (`execute_notebooks: cache`), which re-runs a chapter only when its
# code changes.  A change to the library or the pinned packages changes what every chapter computes, so it
# empties the cache: the marker file inside it is named after a hash of src/dlbook, pyproject.toml and
# requirements.txt (inside, so a cache restored by CI keeps its marker).  The rule also creates the cache's
# database, so the processes that fill it in parallel never race to create it.
LIBHASH := $(shell cat pyproject.toml requirements.txt src/dlbook/*.py 2>/dev/null | $(PYTHON) -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
# OUT: where `make book`, `make execute`, `make nbval` and `make clean` put _build (default: here); `make bench`
# builds from clean in a temporary OUT.  The site checks and browser tests always read ./_build/html.
OUT ?= .
BUILD := $(or $(OUT),.)/_build
EXECUTION_CACHE := $(abspath $(BUILD)/.jupyter_cache)
EXEC_CACHE := $(EXECUTION_CACHE)/.executed-with-$(LIBHASH)

$(EXEC_CACHE): | $(STAMP)
	rm -rf $(EXECUTION_CACHE)
	mkdir -p $(EXECUTION_CACHE)
	$(BIN)/python -c 'import sys; from jupyter_cache import get_cache; get_cache(sys.argv[1]).db' $(EXECUTION_CACHE)
	touch $@

.NOTPARALLEL:

# Each chapter is executed once per `make book` / `make test`, chapters concurrently (one per core):
# * `make book`: tools/chapters.py execute runs the chapters missing from the cache with jupyter-cache's
#   local-parallel executor (static explorers: the frames are built); Jupyter Book then takes every chapter
#   from the cache.
# * `make test`: nbval executes the chapters (pytest-xdist, one chapter per worker) with static explorers,
#   and the root conftest.py caches each chapter that passed; the strict build executes none.
# JOBS: pytest-xdist workers for the unit tests, nbval and the browser tests (`auto`: one per core; 0: no
# workers).  `make execute` runs one process per core (jupyter-cache's pool).  The steps of `make test` run
# one after another even under `make -j` (.NOTPARALLEL), so a chapter is never executed by two at once.
JOBS ?= auto
CHAPTER_NOTEBOOKS = $(sort $(wildcard book/ch*.ipynb))

execute: $(STAMP) $(EXEC_CACHE)
	$(BIN)/python tools/chapters.py execute --cache $(EXECUTION_CACHE) $(CHAPTER_NOTEBOOKS)

# The built book: static sliders are precomputed while the chapters execute.
book: execute
	DLBOOK_EXPLORERS=static $(BIN)/jupyter-book build --keep-going --path-output $(OUT) .
	@echo "Open $(BUILD)/html/index.html"

test: unit nbval book-strict site-checks browser

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests --ignore=tests/site --ignore=tests/e2e --ignore=tests/hosted -q -p no:cacheprovider

# Every chapter re-executed and its text outputs compared with the stored ones (the regression reference).
nbval: $(STAMP) $(EXEC_CACHE)
	DLBOOK_EXPLORERS=static DLBOOK_EXECUTION_CACHE=$(EXECUTION_CACHE) \
	  $(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval --nbval-current-env \
	  --nbval-cell-timeout=600 -p no:cacheprovider book -q

# The same build as `make book`, with every Sphinx warning an error.
book-strict: execute
	DLBOOK_EXPLORERS=static $(BIN)/jupyter-book build --warningiserror --keep-going --path-output $(OUT) .

site-checks: $(STAMP)
	$(BIN)/python -m pytest tests/site -q -p no:cacheprovider

# The site in a real Chromium (offline), the chapters in a real JupyterLab and the PDF edition printed and read
# back (tests/e2e/test_pdf.py, one xdist group: printed once); skipped, with one line saying so, where no
# Chromium is installed (DLBOOK_CHROMIUM=/path picks one) -- the PDF test also where no Chinese font is.
browser: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup tests/e2e -q -p no:cacheprovider

# The PDF edition: the built pages printed by Chromium in _toc.yml's order, merged with bookmarks and a contents
# page (tools/pdf.py).  The pages it prints link the PDF from their download menu (DLBOOK_PDF=1).  Needs a
# Chromium and a Chinese font (Debian: apt-get install chromium fonts-noto-cjk); the browser tests (make test)
# build it too and check its text, or skip with one line saying what is missing.
pdf: export DLBOOK_PDF := 1
pdf: book
	$(BIN)/python tools/pdf.py --html $(BUILD)/html --out $(BUILD)/pdf/dlbook.pdf

# A published chapter (install cell first) run top to bottom in a fresh venv holding only what a hosted image
# (Colab) has, the install cell pointed at this checkout: dlbook must install without downgrading the image's
# JAX, NumPy or matplotlib.  Downloads from PyPI; not part of `make test`.  HOSTED_CHAPTER picks the chapter,
# HOSTED_PACKAGES what the image holds (e.g. "jax==0.10.0 numpy matplotlib ipywidgets ipykernel nbclient").
hosted: $(STAMP)
	$(BIN)/python -m pytest tests/hosted -q -p no:cacheprovider -s

# Benchmarks (not part of `make test`: tests never assert a time).  PyTorch and scikit-learn are installed
# for them only.  BENCH_ARGS="--only sweep optimizers" runs some groups.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab book/

# Each chapter is a jupytext pair: book/chNN_*.md (edited, reviewed) and book/chNN_*.ipynb (the same cells
# plus the stored text outputs).  tools/chapters.py: `sync` runs `jupytext --sync` on each pair that differs
# (the newer file's inputs go into the other; the .ipynb keeps its outputs); `store` syncs, executes and
# stores the text outputs.  A chapter that exists only as its .md is picked up too.
CHAPTERS = $(sort $(wildcard book/ch*.ipynb book/ch*.md))

sync: $(STAMP)
	$(BIN)/python tools/chapters.py sync $(CHAPTERS)

outputs: $(STAMP)
	$(BIN)/python tools/chapters.py store $(CHAPTERS)

clean:
	rm -rf $(BUILD)
