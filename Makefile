# The two quick-start commands: `make demo` and `make test`. Each sets up what it needs:
# it uses the active virtual environment, or creates .venv with $(PYTHON) (3.11+), then installs jax_iso.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv

ifneq ($(VIRTUAL_ENV),)
BIN := $(VIRTUAL_ENV)/bin
else
BIN := $(VENV)/bin
endif
PY := $(BIN)/python
STAMP := $(BIN)/.jax_iso-installed

# Persistent XLA compilation cache: repeated compiles (tests, demo reruns) come from disk.
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
# `make test`: the suite without the tests marked slow (about 12 minutes on 2 cores from a fresh clone);
# `make test-slow`: the slow ones (end-to-end fits, accelerator_check.py --quick, training across processes) less
# those marked long; `make test-long`: the long ones (the other methods of a parametrized family, the notebook, the
# distributed fit); `make test-all`: everything. CI (.ci/run) runs `make test` and `make test-ci` (a few slow tests:
# accelerator_check.py --quick, training and inference across processes, the command line end to end, the shipped models' card checks).
# e.g. make test PYTEST_ARGS='-k tiles' for part of it
PYTEST_ARGS ?=
PYTEST := $(PY) -m pytest -q --durations=25

.PHONY: demo test test-ci test-slow test-long test-all install clean

demo: $(STAMP)
	$(BIN)/jax-iso demo --out_dir=demo_output

test: $(STAMP)
	$(PYTEST) -m "not slow and not long" $(PYTEST_ARGS) tests

test-ci: $(STAMP)
	$(PYTEST) -m "slow and ci" $(PYTEST_ARGS) tests

test-slow: $(STAMP)
	$(PYTEST) -m "slow and not long" $(PYTEST_ARGS) tests

test-long: $(STAMP)
	$(PYTEST) -m long $(PYTEST_ARGS) tests

test-all: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS) tests

install: $(STAMP)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jax_iso needs Python >= 3.11, found " + sys.version.split()[0] + "; run e.g. make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

clean:
	rm -rf $(VENV) .cache demo_output *.egg-info
