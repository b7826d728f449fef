"""scripts/relayout.py on a small tree of the old layout: moves, rewrites, and a second run
that changes nothing. (Delete this file together with the script.)"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parent.parent / "scripts" / "relayout.py"

OLD_INIT = """\"\"\"Old front door.\"\"\"
_HOMES = {
    "fire": "helpers.load",
    "serve": "helpers.server",
    "usable_cores": "helpers.cpu",
}
__all__ = ["fire", "serve", "usable_cores"]
"""
MYPY = '[tool.mypy]\npackages = ["helpers"]\n'
FILES = {
    "helpers/__init__.py": OLD_INIT,
    "helpers/load.py": (
        '"""``fire`` (see helpers/server.py)."""\n\nfrom helpers.server import Server\n\n'
        '__all__ = ["fire"]\n\n\ndef fire(server: Server) -> None:\n    """Fire."""\n'
    ),
    "helpers/server.py": (
        "from helpers import server_registry\n\n"
        '__all__ = ["Server", "serve", "stop_all"]\n\n\nclass Server:\n    """S."""\n\n\n'
        'def serve() -> Server:\n    """Serve."""\n    return Server()\n\n\n'
        'def stop_all() -> None:\n    """Stop."""\n    server_registry.clear()\n'
    ),
    "helpers/server_registry.py": '__all__ = ["clear"]\n\n\ndef clear() -> None:\n    pass\n',
    "helpers/cpu.py": (
        '__all__ = ["usable_cores"]\n\n\ndef usable_cores() -> int:\n    """Cores."""\n'
        "    return 1\n"
    ),
    "helpers/workers.py": 'DEFAULT_TARGET = "helpers.worker_app:app"\n',
    "helpers/worker_app.py": "app = None\n",
    "helpers/brand_new.py": "x = 1\n",
    "tests/test_cpu.py": (
        '"""helpers.cpu: cores."""\n\nfrom helpers import serve, usable_cores\n'
        "from tests.conftest import burst\n\n\n"
        "def test_it(monkeypatch) -> None:\n"
        '    monkeypatch.setattr("helpers.cpu.usable_cores", lambda: 2)\n'
    ),
    "tests/test_kernel_code.py": (
        'SETUP = """\nfrom helpers import fire, usable_cores\n"""\nfrom helpers import serve\n'
    ),
    "docs/notes.md": "See `helpers/cpu.py` and `tests/test_cpu.py`; `helpers.load` fires.\n",
    "pyproject.toml": '[tool.setuptools]\npackages = ["helpers"]\n\n' + MYPY,
}
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "a",
            "metadata": {},
            "outputs": [],
            "source": [
                "from helpers import fire, usable_cores\n",
                "from helpers.stats import count_waves\n",
                "from helpers.cpu import (\n",
                "    usable_cores as cores,\n",
                ")\n",
                'start_workers("helpers.worker_app:app")',
            ],
        },
        {"cell_type": "markdown", "id": "b", "metadata": {}, "source": ["`helpers/cpu.py`"]},
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relayout", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def make_tree(root: Path) -> None:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "scripts").mkdir()
    (root / "scripts" / "relayout.py").write_text(SCRIPT.read_text(encoding="utf-8"))
    (root / "notebooks").mkdir()
    book = json.dumps(NOTEBOOK, indent=1, ensure_ascii=False) + "\n"
    (root / "notebooks" / "01_x.ipynb").write_text(book, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)


def relayout(root: Path) -> str:
    done = subprocess.run(
        [sys.executable, "scripts/relayout.py", "--no-ruff"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_relayout_moves_rewrites_and_is_idempotent(tmp_path: Path) -> None:
    make_tree(tmp_path)
    out = relayout(tmp_path)

    def read(name: str) -> str:
        return (tmp_path / name).read_text(encoding="utf-8")

    assert "helpers/brand_new.py is not in MOVES or KEEP" in out
    assert not (tmp_path / "helpers/cpu.py").exists()
    assert (tmp_path / "helpers/lessons/l04_cpu.py").exists()
    assert "from helpers._server import Server" in read("helpers/_load.py")
    assert "helpers/_server.py" in read("helpers/_load.py")  # a path in a docstring
    assert "from helpers import _server_registry as server_registry" in read("helpers/_server.py")
    assert '"helpers.lessons.l09_worker_app:app"' in read("helpers/lessons/l09_workers.py")
    assert read("helpers/lessons/__init__.py").startswith('"""Support for one lesson')

    test = read("tests/lessons/test_l04_cpu.py")
    assert '"""helpers.lessons.l04_cpu: cores."""' in test
    assert "from helpers import serve\nfrom helpers.lessons.l04_cpu import usable_cores\n" in test
    assert '"helpers.lessons.l04_cpu.usable_cores"' in test
    assert "from tests.conftest import burst" in test
    kernel_code = read("tests/test_kernel_code.py")
    assert "from helpers import fire\nfrom helpers.lessons.l04_cpu import usable_cores\n" in (
        kernel_code
    ), "an import inside a string is rewritten where it stands"
    assert kernel_code.endswith('"""\nfrom helpers import serve\n')

    init = read("helpers/__init__.py")
    assert '"fire": "helpers._load"' in init and "usable_cores" not in init
    assert "`helpers/lessons/l04_cpu.py` and `tests/lessons/test_l04_cpu.py`" in read(
        "docs/notes.md"
    )
    assert "`helpers._load` fires" in read("docs/notes.md")
    toml = read("pyproject.toml")
    assert toml.endswith('packages = ["helpers", "helpers.lessons"]\n\n' + MYPY), toml

    text = read("notebooks/01_x.ipynb")
    book = json.loads(text)
    assert text == json.dumps(book, indent=1, ensure_ascii=False) + "\n"
    code = "".join(book["cells"][0]["source"])
    assert code.startswith("from helpers import fire\n"), code
    assert "from helpers._stats import count_waves" in code, "count_waves is not defined here"
    # usable_cores leaves the front door and joins the cell's import from its new home
    joined = (
        "from helpers.lessons.l04_cpu import (\n    usable_cores as cores,\n    usable_cores,\n)"
    )
    assert joined in code
    assert '"helpers.lessons.l09_worker_app:app"' in code
    assert book["cells"][1]["source"] == ["`helpers/lessons/l04_cpu.py`"]

    before = snapshot(tmp_path)
    assert "nothing to do" in relayout(tmp_path)
    assert snapshot(tmp_path) == before


def test_reflow_wraps_only_the_prose_lines_it_lengthened() -> None:
    relayout = load_script()
    long_doc = "x" * 60 + " ``helpers.lessons.l04_cpu.thing`` and some more words here"
    text = f'def f() -> None:\n    """{long_doc}\n    next line.\n    """\n'
    wrapped = relayout.reflow(text)
    assert all(len(line) <= 100 for line in wrapped.splitlines())
    assert "words here next line." in wrapped
    code = 'X = "' + "y" * 90 + ' helpers._load"\n'
    assert relayout.reflow(code) == code, "code lines are left to the formatter"
