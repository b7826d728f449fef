"""helpers.doctor.python_policy: the README's Python policy, as the doctor reports it.

(A file of its own so it merges beside tests/test_doctor.py, which another change edits.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from helpers import doctor
from helpers.doctor import python_policy

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("minor", [10, 11, 12, 13])
def test_a_tested_python_passes(minor: int) -> None:
    check = python_policy((3, minor, 4))
    assert check.ok and check.found == f"Python 3.{minor}.4, tested (the lab tests 3.10–3.13)"


@pytest.mark.parametrize("minor", [14, 15])
def test_a_newer_python_is_called_untested_with_the_way_back_to_3_13(minor: int) -> None:
    check = python_policy((3, minor, 0))
    assert not check.ok
    assert check.found == (
        f"untested Python 3.{minor}.0 (the lab tests 3.10–3.13); if something fails, use 3.13"
    )
    assert "uv python install 3.13" in check.fix
    assert 'make lab PYTHON="$(uv python find 3.13)"' in check.fix


def test_an_older_python_is_refused() -> None:
    check = python_policy((3, 9, 18))
    assert not check.ok and "older than the lab supports (3.10–3.13)" in check.found


def test_the_running_interpreter_is_the_default_and_is_tested() -> None:
    assert python_policy().ok


def test_the_doctor_runs_the_policy_check() -> None:
    assert python_policy in doctor.CHECKS


def test_the_doctor_range_is_pyprojects_requires_python() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    declared = SpecifierSet(text.split('requires-python = "', 1)[1].split('"', 1)[0])
    low, high = doctor.SUPPORTED
    in_range = [(3, minor) for minor in range(0, 30) if f"3.{minor}" in declared]
    assert (in_range[0], in_range[-1]) == (low, high)
