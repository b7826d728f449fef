"""Refuse an untested Python before anything is installed (README › Python versions).

`make setup`/`make lab`/`make test` run this first with the interpreter they are about to use,
so a wrong Python is reported in well under a second, not after pip has spent minutes on an
install it then rejects. The supported range is read from pyproject.toml's requires-python
(the single source). Standard library only, and written to run on old Pythons too, so that
even Python 3.6 gets this message instead of a syntax error (f-strings, nothing newer).

    python3 scripts/check_python.py [--venv .venv] [--allow-untested]

--allow-untested (`make lab ALLOW_UNTESTED_PYTHON=1`) turns the refusal of a newer Python
into a warning, for someone who cannot install a tested one; an older Python is always
refused (the lab's code uses syntax and modules it lacks).
"""

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def supported_range(text):
    """(lowest, first unsupported) minor versions from ``requires-python = ">=3.A,<3.B"``."""
    match = re.search(r'requires-python\s*=\s*">=\s*3\.(\d+)\s*,\s*<\s*3\.(\d+)"', text)
    if not match:
        raise ValueError('pyproject.toml needs requires-python = ">=3.A,<3.B" for this check')
    return (3, int(match.group(1))), (3, int(match.group(2)))


def problem(version, low, stop, venv=None):
    """The refusal message for ``version`` (major, minor), or None when it is tested."""
    if low <= version < stop:
        return None
    found = "{}.{}".format(*version)
    # The Python a refused attendee is told to install: the newest one CI tests.
    recommended = f"{stop[0]}.{stop[1] - 1}"
    tested = f"{low[0]}.{low[1]}–{stop[0]}.{stop[1] - 1}"
    why = "newer than" if version >= stop else "older than"
    lines = [
        f"Python {found} is {why} the versions this lab is tested on ({tested}):",
        "stopping before anything is installed.",
        f"Fix: install Python {recommended} beside yours and point make at it, e.g. with uv:",
        "    uv python install " + recommended,
    ]
    if venv:
        lines.append(f"    rm -rf {venv}    # it was made with Python {found}")
    lines += [
        f'    make lab PYTHON="$(uv python find {recommended})"',
        "(no uv yet: `pipx install uv`, or `python3 -m pip install --user uv`; pyenv, your OS's",
        f" python{recommended} package or the conda route work too). README › Python versions",
        " says why, and how to go on anyway at your own risk.",
    ]
    return "\n".join(lines)


def warning(version, low, stop):
    """What `--allow-untested` prints instead of refusing a newer ``version``."""
    recommended = f"{stop[0]}.{stop[1] - 1}"
    return (
        f"warning: untested Python {version[0]}.{version[1]} (the lab tests "
        f"{low[0]}.{low[1]}–{recommended}); installing anyway because ALLOW_UNTESTED_PYTHON "
        f"is set. If something fails, use {recommended}."
    )


def main(argv):
    """Exit status 0 when this interpreter is tested (or allowed), 1 with the fix when not."""
    venv = argv[argv.index("--venv") + 1] if "--venv" in argv else None
    low, stop = supported_range(PYPROJECT.read_text(encoding="utf-8"))
    version = tuple(sys.version_info[:2])
    message = problem(version, low, stop, venv)
    if message and "--allow-untested" in argv and version >= stop:
        sys.stderr.write(warning(version, low, stop) + "\n")
        return 0
    if message:
        sys.stderr.write(message + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
