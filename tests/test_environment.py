"""environment.yml (conda), pyproject.toml (pip) and the lock never drift apart.

pyproject.toml states what the lab needs (lower bounds); requirements/lock.txt is the exact
set `make lock` resolved and `make test` passed with; environment.yml is generated from the
lock, so conda's pip section installs the very same pins.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

# Interpreters the lab is tested on, as (major, minor); the newest two are spot checks.
TESTED = [(3, 10), (3, 11), (3, 12), (3, 13)]


def dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def load_lock_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_tools", ROOT / "scripts/lock_tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_tools"] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


lock_tools = load_lock_tools()


def pyproject() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def pyproject_requirements() -> list[Requirement]:
    project = pyproject()
    dev = project["optional-dependencies"]["dev"]  # type: ignore[index]
    return [Requirement(r) for r in [*project["dependencies"], *dev]]  # type: ignore[misc]


def applies(marker: str, python: tuple[int, int], platform: str = "linux") -> bool:
    """Whether a lock line's marker holds for CPython ``python`` on ``platform``."""
    if not marker:
        return True
    env = {
        "python_version": dotted(python),
        "python_full_version": dotted(python) + ".0",
        "sys_platform": platform,
        "os_name": "nt" if platform == "win32" else "posix",
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[platform],
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
    }
    return Requirement(f"x ; {marker}").marker.evaluate(env)  # type: ignore[union-attr]


def test_environment_yml_is_the_lock_generated_unchanged() -> None:
    expected = lock_tools.environment_yml(lock_tools.read_lock())
    actual = (ROOT / "environment.yml").read_text()
    assert actual == expected, (
        "environment.yml differs from requirements/lock.txt: run "
        "`python scripts/lock_tools.py environment` (make lock does it) and commit both"
    )


def test_conda_installs_the_lab_package_itself_editable() -> None:
    assert '      - "-e ."' in (ROOT / "environment.yml").read_text().splitlines()


def test_conda_python_is_within_the_supported_range() -> None:
    match = re.search(r"^  - python=3\.(\d+)$", (ROOT / "environment.yml").read_text(), re.M)
    assert match and (3, int(match.group(1))) in TESTED


@pytest.mark.parametrize("python", TESTED, ids=[dotted(v) for v in TESTED])
@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_lock_pins_every_requirement_once_within_its_bounds(
    python: tuple[int, int], platform: str
) -> None:
    pins = [p for p in lock_tools.read_lock() if applies(p.marker, python, platform)]
    versions: dict[str, list[str]] = {}
    for pin in pins:
        versions.setdefault(pin.name, []).append(pin.version)
    doubled = {name: v for name, v in versions.items() if len(v) > 1}
    assert not doubled, f"two pins of one package on Python {python} / {platform}: {doubled}"
    env = {"python_version": dotted(python), "python_full_version": dotted(python) + ".0"}
    for requirement in pyproject_requirements():
        if requirement.marker and not requirement.marker.evaluate(env):
            continue
        name = lock_tools.normalise(requirement.name)
        assert name in versions, f"{name} (pyproject.toml) is missing from the lock"
        (locked,) = versions[name]
        assert Version(locked) in requirement.specifier, (
            f"lock has {name}=={locked}, pyproject.toml asks {requirement.specifier}"
        )


def test_lock_covers_exactly_the_python_range_pyproject_declares() -> None:
    declared = SpecifierSet(str(pyproject()["requires-python"]))
    assert [v for v in [(3, m) for m in range(6, 20)] if dotted(v) in declared] == TESTED
    # `make lock` resolves from the lowest tested Python (older releases fork off by marker).
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK_PYTHON := 3\.10$", makefile, re.M)


def test_lock_has_hashes_for_every_pin() -> None:
    blocks = re.split(r"\n(?=\S)", (ROOT / "requirements/lock.txt").read_text())
    pins = [b for b in blocks if not b.startswith("#")]
    assert len(pins) == len(lock_tools.read_lock()) > 50
    unhashed = [b.splitlines()[0] for b in pins if "--hash=sha256:" not in b]
    assert not unhashed, f"pins without a hash: {unhashed}"


def test_the_matrix_and_ci_test_every_supported_python() -> None:
    matrix = re.search(
        r'VERSIONS=\$\{VERSIONS:-"([^"]+)"\}', (ROOT / "scripts/test_matrix.sh").read_text()
    )
    assert matrix and matrix.group(1).split() == [dotted(v) for v in TESTED]
    ci = re.search(r'VERSIONS="([^"]+)" make test-matrix', (ROOT / ".ci/run").read_text())
    # CI's main run (`make test`) is on python3 (3.11); the matrix covers the others.
    assert ci and sorted([*ci.group(1).split(), "3.11"]) == [dotted(v) for v in TESTED]
