import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parent.parent / "scripts" / "make_nav.py"


def load_nav() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_nav", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_navigation_cells_are_up_to_date() -> None:
    nav = load_nav()
    assert nav.stale() == [], "run `make nav` to regenerate the navigation cells"


def test_every_notebook_is_listed_as_a_lesson_or_extra() -> None:
    nav = load_nav()
    listed = {lesson.stem for lesson in nav.LESSONS} | {"playground", "11_claims_check"}
    present = {p.stem for p in nav.NOTEBOOKS.glob("*.ipynb")}
    assert present <= listed, f"add {present - listed} to LESSONS in scripts/make_nav.py"
