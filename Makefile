# Two commands for people: `make lab` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_FLAGS ?= --disable-pip-version-check --quiet

.PHONY: lab test setup lint typecheck unit notebooks browser-deps bench-deps test-browser test-matrix stress bench figures handout nav clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

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

test-browser: setup browser-deps
	LAB_FAST=1 $(BIN)/python -m pytest -m browser tests/browser ; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no browser tests collected" >&2; exit 1; fi; exit $$status

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
	rm -rf $(VENV) .venv-matrix build .pytest_cache .mypy_cache .ruff_cache
