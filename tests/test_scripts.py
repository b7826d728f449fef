"""make figures / make handout, exercised in fast mode into a temporary folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import nbformat
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


WIDGET_CELLS = [
    # the playground's kind of controls: a box of a slider, a dropdown, a button and HTML
    "import ipywidgets as w\n"
    "w.VBox([w.IntSlider(7, description='requests (n)'),\n"
    "        w.Dropdown(options=['async def', 'def'], value='def', description='endpoint'),\n"
    "        w.HBox([w.Button(description='Fire!'), w.HTML('<b>ready to fire</b>')])])",
    # a bar the code left short (an interrupted burst): shown as it ended, red
    "from tqdm.notebook import tqdm\n"
    "bar = tqdm(total=10, desc='interrupted', leave=False)\n"
    "bar.update(4)\n"
    "bar.close()",
    # a finished bar, closed: JupyterLab hides it, so does the handout
    "done = tqdm(total=5, desc='finished burst', leave=False)\ndone.update(5)\ndone.close()",
]


def test_handout_widgets_become_static_html(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in WIDGET_CELLS]
    path = tmp_path / "widgets.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "out"
    out.mkdir()
    target, _ = load("make_handout").render(path, out)
    page = target.read_text(encoding="utf-8")
    assert "widget-view+json" not in page and "widget-state+json" not in page
    assert "unpkg.com" not in page, "no widget manager fetched online: the handout is offline"
    # what the outputs show (the cells' source is on the page too, highlighted: no markup)
    for shown in (
        "requests (n)</span> <b>7</b>",
        "endpoint</span> <b>def</b>",
        '<button disabled="">Fire!</button>',  # as nbconvert writes it
        "<div><b>ready to fire</b></div>",
        "interrupted:",
    ):
        assert shown in page, shown
    assert "width:40.0%;height:100%;background:#d9534f" in page, "4 of 10, red"
    assert "finished burst:" not in page


def test_static_widgets_keep_the_kernel_text_when_no_state_was_recorded() -> None:
    handout = load("make_handout")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("w")
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", {handout.WIDGET_VIEW: view, "text/plain": "IntSlider(value=3)"}
        ),
        nbformat.v4.new_output(
            "display_data", {handout.WIDGET_VIEW: {**view, "model_id": "gone"}, "text/plain": "x"}
        ),
    ]
    nb.cells = [cell]
    nb.metadata["widgets"] = {handout.WIDGET_STATE: {"state": {}}}
    assert handout.static_widgets(nb, {}, {"gone"}) == 1
    [output] = nb.cells[0].outputs
    assert "IntSlider(value=3)" in output["data"]["text/html"]
    assert "widgets" not in nb.metadata
