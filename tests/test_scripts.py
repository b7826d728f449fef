"""make figures / make handout, exercised in fast mode into a temporary folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).parent.parent / "scripts"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_figures_writes_the_three_readme_pngs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_FAST", "1")
    assert load("make_figures").main(["--fast", "--out", str(tmp_path)]) == 0
    for name in ("async_vs_def", "pool_saturation", "loop_freeze"):
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


@pytest.mark.notebook
def test_make_handout_renders_offline_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_FAST", "1")
    handout = load("make_handout")
    assert handout.main(["--fast", "--only", "00_welcome", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "00_welcome.html").read_text()
    assert "data:image/png;base64," in page  # figures embedded, no network needed
    assert "00_welcome.html" in (tmp_path / "index.html").read_text()


def test_make_handout_refuses_unknown_notebooks(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        load("make_handout").main(["--only", "99_nope", "--out", str(tmp_path)])
