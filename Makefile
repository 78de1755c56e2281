# Two commands for a fresh machine (see README.md):
#   make lab    set up .venv and open the course in JupyterLab (student notebooks)
#   make test   set up .venv and run the whole test suite (unit tests + nbval on solutions/)
# Other targets: make build (solutions/ -> notebooks/), make check, make bench, make clean.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: lab test build check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the requirements change. torch/torchvision are lower bounds: an existing
# install is kept; a fresh one takes PyPI's current build (with CUDA libraries: a few GB, about a minute).
$(VENV)/.installed-test: $(BIN)/python requirements.txt pyproject.toml
	$(PIP) install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

$(VENV)/.installed-lab: $(BIN)/python requirements.txt pyproject.toml
	$(PIP) install --quiet --disable-pip-version-check -e ".[lab]"
	touch $@

lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab notebooks/

test: $(VENV)/.installed-test
	$(BIN)/python -m course_utils.build --check
	$(BIN)/python -m pytest

build: $(VENV)/.installed-test
	$(BIN)/python -m course_utils.build

check: $(VENV)/.installed-test
	$(BIN)/python -m course_utils.build --check

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_generators.py

clean:
	rm -rf $(VENV) *.egg-info
