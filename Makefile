# Two commands for people: `make lab` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_FLAGS ?= --disable-pip-version-check --quiet
# The exact versions `make test` passed with (README › Reproducible installs); `make lock`
# refreshes it. Every route installs it: this Makefile, the README's pip and uv routes,
# environment.yml (generated from it), scripts/test_matrix.sh and so CI.
LOCK := requirements/lock.txt
# `make lab INSTALLER=uv` builds the same venv with uv (much faster; uv must be on PATH).
INSTALLER ?= pip
UV ?= uv
# The lock tool, from PyPI into its own venv, pinned so a refresh is reproducible too.
TOOLS := .venv-tools
UV_VERSION := 0.13.8
# The lock is resolved once for every tested Python, from the lowest (requires-python).
LOCK_PYTHON := 3.10
# `make lab ALLOW_UNTESTED_PYTHON=1`: a Python newer than 3.13 gets a warning, not a refusal
# (README › Python versions); pip is then told to ignore requires-python for the lab itself.
ALLOW_UNTESTED_PYTHON ?=
UNTESTED := $(if $(ALLOW_UNTESTED_PYTHON),--allow-untested)
IGNORE_RANGE := $(if $(ALLOW_UNTESTED_PYTHON),--ignore-requires-python)
LATEST := .venv-latest
LATEST_NOTEBOOK ?= 00_welcome

.PHONY: lab test setup check-python lock test-latest lint typecheck unit notebooks browser-deps queue-deps bench-deps test-browser test-matrix stress bench figures handout nav clean

# An untested Python is refused here, before a venv or a download (scripts/check_python.py):
# the venv's own interpreter once it exists, else the one that would create it.
check-python:
	@if [ "$(INSTALLER)" = uv ] && ! command -v $(UV) >/dev/null; then \
	  echo "INSTALLER=uv needs uv on PATH (pipx install uv), or drop INSTALLER=uv to use pip" >&2; exit 1; fi
	@if [ -x $(BIN)/python ]; then $(BIN)/python scripts/check_python.py --venv $(VENV) $(UNTESTED); \
	elif command -v $(PYTHON) >/dev/null; then $(PYTHON) scripts/check_python.py $(UNTESTED); \
	else echo "no '$(PYTHON)' found: install Python 3.13 (or run make with PYTHON=/path/to/python3.13)" >&2; exit 1; fi

$(BIN)/python: | check-python
ifeq ($(INSTALLER),uv)
	$(UV) venv --seed --python $(PYTHON) $(VENV)
else
	$(PYTHON) -m venv $(VENV)
endif

# Reinstall only when the dependency list or the lock changes. The lock carries hashes, so
# pip checks every download; the lab itself is then added editable without dependencies
# (an editable install has no file to hash, so it cannot share the --require-hashes run).
$(STAMP): pyproject.toml $(LOCK) | check-python $(BIN)/python
ifeq ($(INSTALLER),uv)
	$(UV) pip sync --python $(BIN)/python $(LOCK)
	$(UV) pip install --python $(BIN)/python --no-deps -e .
else
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install $(PIP_FLAGS) --no-deps $(IGNORE_RANGE) -e .
endif
	touch $(STAMP)

setup: check-python $(STAMP)

lab: setup
	$(BIN)/jupyter lab notebooks/ $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: setup lint typecheck unit notebooks

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: that is a failure here, never a silent pass.
unit: setup
	$(BIN)/python -m pytest -m "not notebook and not browser" ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

notebooks: setup
	LAB_FAST=1 $(BIN)/python -m pytest -m notebook ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no notebook tests collected" >&2; exit 1; fi; exit $$status

# Debian's chromium (browser downloads by test tools do not work here); needs root or sudo.
browser-deps:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Debian's redis-server: lesson 12's real broker (without it the lesson uses its embedded one).
queue-deps:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }

test-browser: setup browser-deps
	LAB_FAST=1 $(BIN)/python -m pytest -m browser tests/browser ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no browser tests collected" >&2; exit 1; fi; exit $$status

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install $(PIP_FLAGS) uv==$(UV_VERSION)

# Re-resolve every package to its newest release (one universal lock for 3.10-3.13, with
# hashes), show what moved, rebuild .venv from it and run the unit tests. On a failure the
# old lock is one `git checkout requirements/lock.txt environment.yml` away.
lock: check-python $(TOOLS)/bin/uv
	@mkdir -p build
	@cp $(LOCK) build/lock.previous.txt 2>/dev/null || : > build/lock.previous.txt
	$(TOOLS)/bin/uv pip compile pyproject.toml --extra dev --universal \
	  --python-version $(LOCK_PYTHON) --generate-hashes --upgrade --quiet \
	  --custom-compile-command "make lock" --output-file $(LOCK)
	$(PYTHON) scripts/lock_tools.py environment
	@echo "--- what changed in $(LOCK):"
	@$(PYTHON) scripts/lock_tools.py diff build/lock.previous.txt $(LOCK)
	$(MAKE) unit || { echo "the new lock fails the unit tests; keep the old one with: git checkout $(LOCK) environment.yml" >&2; exit 1; }
	@echo "--- lock refreshed and the unit tests pass; run make test and make test-matrix, then commit $(LOCK) and environment.yml"

# The newest release of every dependency (not the lock) in its own venv: the unit tests and
# one notebook, to see a breaking upstream release before a workshop. Not part of CI.
test-latest: check-python
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(LATEST)/bin/python -m pip install $(PIP_FLAGS) --upgrade -e '.[dev]'
	@mkdir -p build && $(LATEST)/bin/python -m pip freeze --exclude-editable > build/latest.txt
	@echo "--- newest releases compared with $(LOCK):"
	@$(LATEST)/bin/python scripts/lock_tools.py diff --here $(LOCK) build/latest.txt
	$(LATEST)/bin/python -m pytest -p no:cacheprovider -m "not notebook and not browser" ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; [ $$status -eq 0 ] || exit $$status; \
	LAB_FAST=1 $(LATEST)/bin/python -m pytest -p no:cacheprovider -m notebook tests/test_notebooks.py -k $(LATEST_NOTEBOOK) ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no notebook matched $(LATEST_NOTEBOOK)" >&2; exit 1; fi; exit $$status

# Unit tests and one notebook on each supported Python (pyenv provides them here).
test-matrix:
	bash scripts/test_matrix.sh

# Every notebook with one core kept busy by another program (ROUNDS=2): finds checkpoints
# that would fail on a loaded machine. Not part of CI (it loads the machine on purpose).
stress: setup
	bash scripts/stress_notebooks.sh

# Figures for the README (docs/img/) and an offline HTML handout (build/handout/), both
# from live runs at full size.
figures: setup
	$(BIN)/python scripts/make_figures.py

handout: setup
	$(BIN)/python scripts/make_handout.py

nav: setup
	$(BIN)/python scripts/make_nav.py

# wrk (Debian's package) loads the server from a separate process for the tracing-cost rows.
bench-deps:
	@command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }

bench: setup bench-deps
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .venv-matrix $(LATEST) $(TOOLS) build .pytest_cache .mypy_cache .ruff_cache
