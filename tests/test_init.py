"""helpers/__init__.py: the front door, and the layout behind it.

The bench is private modules behind ``helpers``; support for one lesson lives in
``helpers/lessons/lNN_topic.py``. The bench never imports a lesson module, and a lesson module
imports the bench, never another lesson's module.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest

import helpers

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "helpers"
NOTEBOOKS = ROOT / "notebooks"
LESSON_FILE = re.compile(r"l(\d\d)_[a-z0-9_]+")
# A module path written as a string: uvicorn targets ("helpers.x:app"), monkeypatch targets.
MODULE_STRING = re.compile(r"^(helpers(?:\.\w+)+)(?::\w+)?$")
# Known cross-lesson imports, each with the reason it is still there. The test below fails
# when one of them disappears, so this table cannot go stale.
BORROWED: dict[tuple[str, str], str] = {}


# --- the front door ----------------------------------------------------------------------
def test_all_names_the_public_api_and_each_resolves() -> None:
    assert sorted(helpers.__all__) == sorted(helpers._HOMES)
    for name in helpers.__all__:
        assert getattr(helpers, name) is not None


def test_the_front_door_stays_small() -> None:
    # About ten names for every lesson, plus a few closer looks; lesson support is not here.
    assert len(helpers.__all__) <= 20, helpers.__all__


def test_every_public_name_has_a_docstring() -> None:
    for name in helpers.__all__:
        assert getattr(helpers, name).__doc__, f"{name} has no docstring"


def test_every_name_comes_from_a_private_bench_module_that_exports_it() -> None:
    for name, home in helpers._HOMES.items():
        leaf = home.split(".")[-1]
        assert home.startswith("helpers._") and "lessons" not in home, (name, home)
        assert name in importlib.import_module(home).__all__, f"{home}.__all__ lacks {name}"
        assert not leaf.startswith("__"), home


def test_no_private_name_or_module_leaks_through_the_front_door() -> None:
    for name in helpers.__all__:
        assert not name.startswith("_"), name
        assert not isinstance(getattr(helpers, name), ModuleType), f"{name} is a module"


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = helpers.nope


def test_public_modules_still_import_from_the_package() -> None:
    from helpers import apps, doctor

    assert apps.demo_app.__doc__ and doctor.main.__doc__


# --- every module declares what it exports --------------------------------------------------
def modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )


@pytest.mark.parametrize("name", modules())
def test_each_module_has_an_all_whose_names_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which is not there"


def test_lesson_modules_are_named_after_their_lesson() -> None:
    for path in (PACKAGE / "lessons").glob("*.py"):
        if path.name != "__init__.py":
            assert LESSON_FILE.fullmatch(path.stem), f"{path.name}: name it lNN_topic.py"


# --- who imports whom -----------------------------------------------------------------------
def referenced_modules(source: str, module: str) -> set[str]:
    """The ``helpers`` modules ``source`` (the text of ``module``) imports anywhere (top
    level, inside functions, under TYPE_CHECKING) or names in a string (``"helpers.x:app"``)."""
    package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.match(node.value)
            if match:
                found.add(match.group(1))
    return {name for name in found if name == "helpers" or name.startswith("helpers.")}


def lesson_of(module: str) -> str | None:
    """``helpers.lessons.l04_cpu`` (or anything inside it) → ``"04"``; bench → None."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "lessons":
        match = LESSON_FILE.fullmatch(parts[2])
        return match.group(1) if match else parts[2]
    return None


def lesson_module(module: str) -> str:
    return ".".join(module.split(".")[:3])


def layout_violations(sources: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs that break the rule, from (module, source) pairs."""
    bad: set[tuple[str, str]] = set()
    for module, source in sources:
        mine = lesson_of(module)
        for target in referenced_modules(source, module):
            theirs = lesson_of(target)
            if theirs is None or target == "helpers.lessons":
                continue
            if mine is None or theirs != mine:
                bad.add((module, lesson_module(target)))
    return bad


def package_sources() -> list[tuple[str, str]]:
    return [
        (
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"),
            path.read_text(encoding="utf-8"),
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_the_bench_never_imports_a_lesson_and_lessons_import_no_other_lesson() -> None:
    bad = layout_violations(package_sources())
    unexplained = sorted(bad - set(BORROWED))
    assert not unexplained, f"bench → lesson or lesson → other lesson imports: {unexplained}"
    stale = sorted(set(BORROWED) - bad)
    assert not stale, f"BORROWED lists imports that are gone; delete them: {stale}"


def test_the_layout_check_catches_each_kind_of_violation() -> None:
    sources = [
        ("helpers._run", "from helpers.lessons.l04_cpu import work_frame\n"),
        ("helpers._plots", "def f():\n    import helpers.lessons.l02_capacity as c\n"),
        ("helpers._load", 'TARGET = "helpers.lessons.l09_worker_app:app"\n'),
        ("helpers.lessons.l11_claims", "from helpers.lessons import l04_cpu\n"),
        ("helpers.lessons.l09_scaling", "from .l09_workers import start_workers\n"),
        ("helpers.lessons.l09_planning", "from .._run import Run\nfrom . import l02_capacity\n"),
        ("helpers.lessons.l05_services", "from helpers._server import Server\n"),
    ]
    assert layout_violations(sources) == {
        ("helpers._run", "helpers.lessons.l04_cpu"),
        ("helpers._plots", "helpers.lessons.l02_capacity"),
        ("helpers._load", "helpers.lessons.l09_worker_app"),
        ("helpers.lessons.l11_claims", "helpers.lessons.l04_cpu"),
        ("helpers.lessons.l09_planning", "helpers.lessons.l02_capacity"),
    }


def notebook_imports(path: Path) -> list[str]:
    book = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in book["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            found += re.findall(r"^\s*(?:from|import)\s+(helpers[\w.]*)", source, re.M)
    return found


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_import_the_front_door_and_lesson_modules_only(path: Path) -> None:
    private = [m for m in notebook_imports(path) if "._" in m]
    assert not private, f"{path.name} imports private modules {private}: use `from helpers import`"


# --- importing stays light ------------------------------------------------------------------
def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_import_has_no_side_effects_on_matplotlib_or_tracing() -> None:
    out = run_python(
        "import matplotlib, helpers; from opentelemetry import trace; helpers.fire;"
        "print(type(trace.get_tracer_provider()).__name__, matplotlib.rcParams['figure.dpi'])"
    )
    assert out.split() == ["ProxyTracerProvider", "100.0"]


def test_importing_apps_or_the_lessons_package_alone_stays_light() -> None:
    out = run_python(
        "import sys, helpers.apps, helpers.lessons;"
        "print('pandas' in sys.modules, 'uvicorn' in sys.modules)"
    )
    assert out.split() == ["False", "False"]
