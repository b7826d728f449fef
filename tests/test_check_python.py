"""scripts/check_python.py: the Python policy, checked before anything is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_scripts import load

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


def test_allow_untested_turns_the_refusal_of_a_newer_python_into_a_warning() -> None:
    text = check_python.warning((3, 15), *RANGE)
    assert text.startswith("warning: untested Python 3.15 (the lab tests 3.10–3.13)")
    assert text.endswith("If something fails, use 3.13.")


def run_script(
    pyproject_range: str, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """check_python.py, copied beside a pyproject.toml whose range excludes this Python."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts/check_python.py").write_text(
        (ROOT / "scripts/check_python.py").read_text()
    )
    (tmp_path / "pyproject.toml").write_text(f'requires-python = "{pyproject_range}"\n')
    return subprocess.run(
        [sys.executable, str(tmp_path / "scripts/check_python.py"), *args],
        capture_output=True,
        text=True,
    )


def test_the_script_refuses_a_python_newer_than_the_range(tmp_path: Path) -> None:
    low = f">=3.{sys.version_info[1] - 1},<3.{sys.version_info[1]}"
    done = run_script(low, tmp_path)
    assert done.returncode == 1 and "is newer than the versions" in done.stderr


def test_the_script_with_allow_untested_warns_and_goes_on(tmp_path: Path) -> None:
    low = f">=3.{sys.version_info[1] - 1},<3.{sys.version_info[1]}"
    done = run_script(low, tmp_path, "--allow-untested")
    assert done.returncode == 0 and done.stderr.startswith("warning: untested Python")


def test_allow_untested_never_lets_an_older_python_through(tmp_path: Path) -> None:
    high = f">=3.{sys.version_info[1] + 1},<3.{sys.version_info[1] + 3}"
    done = run_script(high, tmp_path, "--allow-untested")
    assert done.returncode == 1 and "is older than the versions" in done.stderr
