"""environment.yml (conda) and pyproject.toml (pip) must list the same packages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def normalise(requirement: str) -> tuple[str, str]:
    match = REQUIREMENT.match(requirement)
    assert match, requirement
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def pyproject_packages() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    # Marker-guarded backports (e.g. tomli before 3.11) do not apply to conda's Python 3.11.
    return dict(normalise(r) for r in requirements if ";" not in r)


def conda_packages() -> tuple[dict[str, str], list[str]]:
    packages: dict[str, str] = {}
    pip_lines: list[str] = []
    in_pip = in_dependencies = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if stripped and not stripped.startswith(" "):
            in_dependencies = stripped == "dependencies:"
            continue
        if not in_dependencies or not stripped.strip().startswith("- "):
            continue
        item = stripped.strip()[2:].strip()
        if item == "pip:":
            in_pip = True
            continue
        if in_pip and line.startswith("      "):
            pip_lines.append(item)
            continue
        in_pip = False
        if item in {"pip"} or item.startswith("python="):
            continue
        name, spec = normalise(item)
        packages[name] = spec
    return packages, pip_lines


def test_conda_and_pip_list_the_same_packages_and_bounds() -> None:
    conda, _ = conda_packages()
    assert conda == pyproject_packages()


def test_conda_installs_the_lab_package_itself_editable() -> None:
    _, pip_lines = conda_packages()
    assert "-e ." in pip_lines


def test_conda_python_is_within_the_supported_range() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"- python=3\.1[0-3]\b", text)
