"""scripts/check_python.py: the Python policy, checked before anything is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_scripts import load

ROOT = Path(__file__).parent.parent
check_python = load("check_python")
RANGE = check_python.supported_range((ROOT / "pyproject.toml").read_text())


def test_the_range_comes_from_pyproject_requires_python() -> None:
    assert RANGE == ((3, 10), (3, 14))
    assert check_python.supported_range('requires-python = ">=3.11,<3.16"') == ((3, 11), (3, 16))


def test_a_requires_python_without_both_bounds_is_reported() -> None:
    with pytest.raises(ValueError, match="requires-python"):
        check_python.supported_range('requires-python = ">=3.10"')


@pytest.mark.parametrize("minor", [10, 11, 12, 13])
def test_every_tested_python_passes(minor: int) -> None:
    assert check_python.problem((3, minor), *RANGE) is None


@pytest.mark.parametrize("minor", [14, 15])
def test_a_newer_python_is_refused_with_the_uv_fix(minor: int) -> None:
    message = check_python.problem((3, minor), *RANGE)
    assert message is not None
    assert (
        f"Python 3.{minor} is newer than the versions this lab is tested on (3.10–3.13)" in message
    )
    assert "uv python install 3.13" in message
    assert 'make lab PYTHON="$(uv python find 3.13)"' in message
    assert "rm -rf" not in message


def test_an_old_venv_is_named_in_the_fix() -> None:
    message = check_python.problem((3, 9), *RANGE, venv=".venv")
    assert message is not None and "older than" in message
    assert "rm -rf .venv    # it was made with Python 3.9" in message


def test_the_script_exits_0_on_this_tested_interpreter_and_prints_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/check_python.py")], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
