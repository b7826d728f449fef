"""The running environment holds exactly the locked versions (requirements/lock.txt).

Runs in the venvs the lock governs: `make setup`'s .venv (so in CI's `make test`) and
scripts/test_matrix.sh's .venv-matrix/pyX.Y. Anywhere else (your own venv, a conda env,
`make test-latest`'s newest-versions venv) it is skipped, because there other versions are
expected; `python -m helpers.doctor` is the attendee's check.
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.test_environment import lock_tools

ROOT = Path(__file__).resolve().parent.parent
LOCKED_VENVS = [ROOT / ".venv", *sorted((ROOT / ".venv-matrix").glob("py*"))]


def in_locked_venv() -> bool:
    prefix = Path(sys.prefix).resolve()
    return any(prefix == venv.resolve() for venv in LOCKED_VENVS)


def locked_here() -> dict[str, str]:
    """name -> version for every lock line whose marker holds for this interpreter."""
    return {
        pin.name: pin.version
        for pin in lock_tools.read_lock()
        if not pin.marker or Marker(pin.marker).evaluate()
    }


def mismatches(locked: dict[str, str]) -> dict[str, str]:
    """name -> "installed (lock: version)" for each locked package installed otherwise or not."""
    wrong = {}
    for name, version in locked.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = f"{installed} (lock: {version})"
    return wrong


@pytest.mark.skipif(not in_locked_venv(), reason=f"{sys.prefix} is not a venv built from the lock")
def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    locked = locked_here()
    assert len(locked) > 50
    wrong = mismatches(locked)
    assert not wrong, (
        f"installed versions differ from requirements/lock.txt: {wrong}; run make setup"
    )


@pytest.mark.skipif(not in_locked_venv(), reason=f"{sys.prefix} is not a venv built from the lock")
def test_the_lab_itself_is_installed_editable_from_this_checkout() -> None:
    import helpers

    assert Path(helpers.__file__).resolve().parent == ROOT / "helpers"
    assert metadata.version("fastapi-concurrency-lab")


def test_a_different_or_missing_version_is_reported() -> None:
    pytest_version = metadata.version("pytest")
    locked = {
        "pytest": "0.0.1",
        "no-such-package-here": "1.0",
        "packaging": metadata.version("packaging"),
    }
    assert mismatches(locked) == {
        "pytest": f"{pytest_version} (lock: 0.0.1)",
        "no-such-package-here": "missing (lock: 1.0)",
    }


def test_markers_select_the_pins_for_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    pins = [
        lock_tools.Pin("a", "1", f"python_version == '{here}'"),
        lock_tools.Pin("a", "2", f"python_version != '{here}'"),
        lock_tools.Pin("b", "3"),
    ]
    monkeypatch.setattr(lock_tools, "read_lock", lambda: pins)
    assert locked_here() == {"a": "1", "b": "3"}
