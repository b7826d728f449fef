"""Execute every notebook and render it to self-contained HTML (``make handout``).

Output: ``build/handout/NN_name.html`` plus an ``index.html``. Figures are embedded as data
URIs, so the handout opens offline. Widgets (progress bars, the playground's controls) need a
live kernel, so each is replaced by a static HTML copy of its last state; a widget the code
closed (a finished progress bar) is left out, as JupyterLab hides it. ``--fast`` runs with
``LAB_FAST=1`` and ``--only`` picks notebooks by name (both used by the test).
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BAR_COLOURS = {"success": "#5cb85c", "danger": "#d9534f", "warning": "#f0ad4e", "info": "#5bc0de"}


class RecordingClient(NotebookClient):
    """A ``NotebookClient`` that also notes which widgets the code closed: their state stays
    in ``widget_state``, but a frontend no longer shows them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed_widgets: set[str] = set()

    def handle_comm_msg(self, outs: list[Any], msg: dict[str, Any], cell_index: int) -> None:
        if msg["msg_type"] == "comm_close":
            self.closed_widgets.add(msg["content"]["comm_id"])
        super().handle_comm_msg(outs, msg, cell_index)


def static_widgets(nb: Any, states: dict[str, dict[str, Any]], closed: set[str]) -> int:
    """Replace each widget output of ``nb`` by a static HTML copy of its state (``states``:
    model id → widget state); drop those whose widget was ``closed``. Drops the notebook's
    widget metadata too (it would make the page fetch a widget manager online). Returns how
    many outputs were replaced."""
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                kept.append(output)
                continue
            model_id = view.get("model_id", "")
            if model_id in closed:
                continue
            static = _widget_html(model_id, states, closed)
            if static is None:  # no state recorded: keep what the kernel printed for it
                static = f"<pre>{html.escape(str(output['data'].get('text/plain', '')))}</pre>"
            output["data"] = {
                "text/html": f'<div class="lab-static-widget" title="a static copy of an '
                f'interactive control: run the notebook to use it">{static}</div>'
            }
            replaced += 1
            kept.append(output)
        cell.outputs = kept
    nb.metadata.pop("widgets", None)
    return replaced


def _widget_html(model_id: str, states: dict[str, dict[str, Any]], closed: set[str]) -> str | None:
    state = states.get(model_id)
    if state is None or model_id in closed:
        return None
    model = str(state.get("_model_name", ""))
    desc = html.escape(str(state.get("description", "")))
    label = f"<span style='min-width:150px;display:inline-block'>{desc}</span> " if desc else ""
    if model in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
        direction = "row" if model == "HBoxModel" else "column"
        children = [
            _widget_html(str(child).removeprefix("IPY_MODEL_"), states, closed)
            for child in state.get("children", [])
        ]
        inner = "".join(child for child in children if child)
        return f"<div style='display:flex;flex-direction:{direction};gap:4px'>{inner}</div>"
    if model in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{label}{state.get('value', '')}</div>"  # HTML the notebook wrote
    if model == "LabelModel":
        return f"<div>{label}{html.escape(str(state.get('value', '')))}</div>"
    if model in ("FloatProgressModel", "IntProgressModel"):
        low, high = float(state.get("min", 0)), float(state.get("max", 100))
        share = 0.0 if high <= low else (float(state.get("value", 0)) - low) / (high - low)
        colour = BAR_COLOURS.get(str(state.get("bar_style", "")), "#2196f3")
        return (
            f"<div style='display:flex;align-items:center'>{label}<div style='width:300px;"
            f"height:14px;background:#eee'><div style='width:{max(0.0, min(share, 1.0)):.1%};"
            f"height:100%;background:{colour}'></div></div></div>"
        )
    if model == "ButtonModel":
        return f"<button disabled>{desc}</button>"
    if model in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
        labels, index = state.get("_options_labels", []), state.get("index")
        chosen = labels[index] if isinstance(index, int) and index < len(labels) else ""
        return f"<div>{label}<b>{html.escape(str(chosen))}</b></div>"
    if model == "OutputModel":
        return "".join(_output_html(o) for o in state.get("outputs", []))
    if "value" in state:  # sliders, text boxes, checkboxes: what was set
        return f"<div>{label}<b>{html.escape(str(state['value']))}</b></div>"
    return None


def _output_html(output: dict[str, Any]) -> str:
    data = output.get("data", {})
    if "image/png" in data:
        return f"<img src='data:image/png;base64,{data['image/png']}'>"
    if "text/html" in data:
        return str(data["text/html"])
    text = output.get("text") or data.get("text/plain", "")
    return f"<pre>{html.escape(str(text))}</pre>"


def render(path: Path, out: Path) -> tuple[Path, float]:
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = RecordingClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    elapsed = time.monotonic() - started
    static_widgets(nb, client.widget_state, client.closed_widgets)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    target = out / f"{path.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "handout")
    parser.add_argument("--fast", action="store_true", help="run with LAB_FAST=1")
    parser.add_argument("--only", nargs="*", default=None, help="notebook stems to render")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["LAB_FAST"] = "1"
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.only is not None:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"unknown notebooks {sorted(unknown)}; have {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in args.only]
    rows = []
    for path in paths:
        target, elapsed = render(path, args.out)
        rows.append(
            f'<li><a href="{target.name}">{html.escape(path.stem)}</a> '
            f"(ran in {elapsed:.0f} s)</li>"
        )
        print(f"wrote {target} ({elapsed:.1f} s)")
    (args.out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>FastAPI Concurrency Lab handout</title>"
        "<h1>FastAPI Concurrency Lab — handout</h1><ul>" + "".join(rows) + "</ul>",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
