"""Read the lock (requirements/lock.txt), show what a refresh changed, write environment.yml.

Standard library only: `make lock` runs it before and after the lab's venv is rebuilt.

    python scripts/lock_tools.py diff OLD NEW      # version changes, one package a line
    python scripts/lock_tools.py diff --here LOCK FREEZE   # only pins for this interpreter
    python scripts/lock_tools.py environment       # environment.yml from the lock
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
ENVIRONMENT = ROOT / "environment.yml"
# The conda route's interpreter; any tested version works, 3.11 is the one CI's main run uses.
CONDA_PYTHON = "3.11"

# `name==version ; marker \` at the start of a line; hashes and `# via` comments are indented.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?\s*$")


@dataclass(frozen=True)
class Pin:
    """One locked requirement: ``name==version``, applying where ``marker`` holds ("" = always)."""

    name: str
    version: str
    marker: str = ""

    def requirement(self) -> str:
        """The line pip reads, without hashes."""
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> list[Pin]:
    """Every pin of a ``uv pip compile`` / ``pip-compile`` output, in file order.

    Raises ValueError for an unindented line that is neither a comment nor a pin, so a
    hand edit the parser does not understand is reported instead of silently dropped.
    """
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith((" ", "#")):
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(
                f"line {number} of the lock is not `name==version [; marker]`: {line!r}"
            )
        name, version, marker = match.groups()
        pins.append(Pin(normalise(name), version, (marker or "").strip()))
    return pins


def read_lock(path: Path = LOCK) -> list[Pin]:
    """Pins of the lock file at ``path``."""
    return parse(path.read_text(encoding="utf-8"))


def applying_here(pins: list[Pin]) -> list[Pin]:
    """The pins whose marker holds for the running interpreter, markers dropped.

    Needs ``packaging``, imported here only: the rest of this file is standard library.
    """
    from packaging.markers import Marker

    return [Pin(p.name, p.version) for p in pins if not p.marker or Marker(p.marker).evaluate()]


def _versions(pins: list[Pin]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for pin in pins:
        label = pin.version + (f" ({pin.marker})" if pin.marker else "")
        grouped.setdefault(pin.name, []).append(label)
    return {name: ", ".join(labels) for name, labels in grouped.items()}


def diff(old: list[Pin], new: list[Pin]) -> list[str]:
    """One line per package whose locked version(s) changed, was added or was removed."""
    before, after = _versions(old), _versions(new)
    lines = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            lines.append(f"- {name} {before[name]}")
        elif name not in before:
            lines.append(f"+ {name} {after[name]}")
        elif before[name] != after[name]:
            lines.append(f"  {name} {before[name]} -> {after[name]}")
    return lines


def environment_yml(pins: list[Pin], python: str = CONDA_PYTHON) -> str:
    """environment.yml text: conda gives the interpreter, pip installs exactly the lock."""
    lines = [
        "# Conda route: `conda env create -f environment.yml`, then",
        "# `conda activate fastapi-concurrency-lab`.",
        "# GENERATED from requirements/lock.txt by `make lock` (scripts/lock_tools.py): do not",
        "# edit. conda provides Python and pip; pip installs the same pinned versions as every",
        "# other route (conda-forge builds lag PyPI and differ from the wheels the lab is tested",
        "# with). tests/test_environment.py fails when this file and the lock differ.",
        "name: fastapi-concurrency-lab",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
    ]
    lines += [f'      - "{pin.requirement()}"' for pin in pins]
    lines.append('      - "-e ."')
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``diff OLD NEW`` or ``environment [--lock L] [--out F]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("diff", help="version changes between two lock files")
    show.add_argument("old", type=Path)
    show.add_argument("new", type=Path)
    show.add_argument(
        "--here", action="store_true", help="compare only pins for this interpreter (pip freeze)"
    )
    env = commands.add_parser("environment", help="write environment.yml from the lock")
    env.add_argument("--lock", type=Path, default=LOCK)
    env.add_argument("--out", type=Path, default=ENVIRONMENT)
    args = parser.parse_args(argv)
    if args.command == "diff":
        old = read_lock(args.old) if args.old.exists() else []
        new = read_lock(args.new)
        if args.here:
            old, new = applying_here(old), applying_here(new)
        changes = diff(old, new)
        print("\n".join(changes) if changes else "no version differs")
        return 0
    args.out.write_text(environment_yml(read_lock(args.lock)), encoding="utf-8")
    print(f"wrote {args.out} from {args.lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
