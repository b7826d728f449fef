"""Execute every notebook and render it to self-contained HTML (``make handout``).

Output: ``build/handout/NN_name.html`` plus an ``index.html``. Figures are embedded as data
URIs, so the handout opens offline. ``--fast`` runs with ``LAB_FAST=1`` and ``--only`` picks
notebooks by name (both used by the test).
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def render(path: Path, out: Path) -> tuple[Path, float]:
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    elapsed = time.monotonic() - started
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
