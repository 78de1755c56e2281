# Two commands for a fresh machine (see README.md):
#   make lab    set up .venv and open the course in JupyterLab (student notebooks)
#   make test   set up .venv and run the whole test suite (unit tests + nbval on solutions/)
# Other targets: make build (solutions/ -> notebooks/), make check, make bench, make clean,
#   make lock         regenerate requirements-lock.txt (the exact versions `make test` installs)
#   make format       apply the code style (ruff format, ruff check --fix); `make test` checks it
#   make test-latest  the same suite in .venv-latest with the newest versions requirements.txt allows
#   make browser-check  before a release: notebooks 01 and 03 in JupyterLab in Chromium (see README.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
LOCK   := requirements-lock.txt
LATEST := .venv-latest
BROWSER := .venv-browser

.PHONY: lab test test-latest lock lint format build check bench clean browser-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The test environment is the lock: exact versions, so that a new release of a dependency cannot turn
# a fresh clone red overnight. Re-installed only when the lock or the package metadata changes. A fresh
# install takes PyPI's torch build (with CUDA libraries: a few GB). uv installs the lock (uv pip install, the
# same wheels from PyPI): from its cache it took 26 s here where pip took 87 s from pip's, most of CI's time
# outside the tests. Where uv cannot be installed or fails, pip installs the same lock. Neither compiles bytecode
# up front (--no-compile; uv's default): the tests import a small part of what is installed, and Python compiles
# that on first import.
$(VENV)/.installed-test: $(BIN)/python $(LOCK) pyproject.toml
	{ $(PIP) install --quiet --disable-pip-version-check uv && $(BIN)/uv pip install --quiet --python $(BIN)/python -r $(LOCK); } \
		|| { echo "uv did not install the lock: pip installs it instead"; $(PIP) install --quiet --disable-pip-version-check --no-compile -r $(LOCK); }
	$(PIP) install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.installed-lab: $(BIN)/python requirements.txt pyproject.toml
	$(PIP) install --quiet --disable-pip-version-check -e ".[lab]"
	touch $@

lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab notebooks/

test: lint
	$(BIN)/python -m course_utils.build --check
	$(BIN)/python -m pytest

# The code style (pyproject.toml, [tool.ruff]): checked by `make test`, so that it cannot drift.
lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The newest versions the lower bounds of requirements.txt and the extras allow, in a venv of its own:
# run before `make lock` (see README.md, "Refreshing the lock", for what to do when it fails).
test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE '^(torch|torchvision|numpy|scipy|scikit-image|bm3d|nbval)=='
	$(LATEST)/bin/python -m course_utils.build --check
	$(LATEST)/bin/python -m pytest

# Resolve the newest versions again and write them to the lock (with uv, installed into .venv). Constraints
# in pip's own configuration (a `constraint` line of `pip config list`), if any, are honoured, so that the
# lock installs with this machine's pip.
lock: $(BIN)/python
	$(PIP) install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra grade --universal --python-version 3.11 --upgrade --quiet --custom-compile-command "make lock" \
		$(foreach c,$(shell $(PIP) config list 2>/dev/null | sed -n "s/^[a-z:.]*constraint='\(.*\)'$$/\1/p"),--constraint $(c)) -o $(LOCK)
	@echo "wrote $(LOCK): run make test, then commit it"

# What a student sees in JupyterLab, in a real browser (scripts/browser_check.py): JupyterLab and Playwright in a
# venv of their own (never in the locked test environment), Debian's Chromium (Playwright's download is not used),
# the notebooks' kernel from .venv. Run before a release; not part of `make test` (several minutes).
$(BROWSER)/.installed:
	$(PYTHON) -m venv $(BROWSER)
	$(BROWSER)/bin/python -m pip install --quiet --disable-pip-version-check "jupyterlab>=4,<5" "ipywidgets>=8" "playwright>=1.40"
	touch $@

browser-check: $(VENV)/.installed-test $(BROWSER)/.installed
	@test -x /usr/bin/chromium || { echo "Chromium is missing: apt-get install chromium (Debian's package)"; exit 2; }
	$(BROWSER)/bin/python scripts/browser_check.py --kernel-python $(BIN)/python

build: $(VENV)/.installed-test
	$(BIN)/python -m course_utils.build

check: $(VENV)/.installed-test
	$(BIN)/python -m course_utils.build --check

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_generators.py

clean:
	rm -rf $(VENV) $(LATEST) $(BROWSER) *.egg-info
