#!/usr/bin/env bash
# Unit tests plus one notebook on every supported Python (3.10-3.13), each in its own venv
# under .venv-matrix/ installed from requirements/lock.txt. Interpreters come from pyenv if
# present, else python3.X on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=${VERSIONS:-"3.10 3.11 3.12 3.13"}
failed=()
for version in $VERSIONS; do
  python=""
  if command -v pyenv >/dev/null 2>&1; then
    prefix=$(pyenv prefix "$version" 2>/dev/null || true)
    [ -n "$prefix" ] && [ -x "$prefix/bin/python" ] && python="$prefix/bin/python"
  fi
  [ -z "$python" ] && python=$(command -v "python$version" || true)
  if [ -z "$python" ]; then
    echo "test-matrix: no Python $version found (install it with pyenv)" >&2
    failed+=("$version (missing)")
    continue
  fi
  venv=".venv-matrix/py$version"
  stamp="$venv/.installed-stamp"
  if ! "$python" scripts/check_python.py; then
    failed+=("$version (untested Python)")
    continue
  fi
  echo "=== Python $version ($python)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  # The same lock as `make setup` (hash-checked), then the lab itself editable without deps.
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/lock.txt -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --require-hashes -r requirements/lock.txt
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e .
    touch "$stamp"
  fi
  # The editable install points at this checkout; run from it so the same code is tested.
  if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not notebook and not browser"; then
    failed+=("$version (unit)")
  fi
  if ! LAB_FAST=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider -m notebook \
      tests/test_notebooks.py -k 00_welcome; then
    failed+=("$version (notebook)")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-matrix failed on: ${failed[*]}" >&2
  exit 1
fi
echo "test-matrix: all of $VERSIONS passed"
