"""plot_thread_lanes puts every span of a real burst on the thread that ran it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from helpers import Server, serve
from helpers._plots import DPI, SMALL, LabFigure
from helpers._thread_lanes import plot_thread_lanes
from tests.conftest import burst, legend_texts, spans_app
from tests.test_plots import effective_sizes
from tests.test_run import make_run


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(spans_app("tests: thread lanes"), thread_limit=2) as running:
        yield running


def _labels(fig: Figure, panel: int) -> list[str]:
    return [t.get_text() for t in fig.axes[panel].get_yticklabels()]


def test_plot_thread_lanes_puts_spans_on_their_threads(server: Server) -> None:
    sync = burst(server, "/sync", n=4)
    looped = burst(server, "/work", n=3)
    fig = plot_thread_lanes(sync, looped, titles=["def", "async"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    assert fig._repr_png_()[:4] == b"\x89PNG"
    # 2 tokens: dependency, handler and both validations of 4 requests on ≤ 2 worker threads
    labels = _labels(fig, 0)
    assert labels[0] == "event loop (0)" and 2 <= len(labels) <= 3, labels
    assert all(label.startswith("worker ") for label in labels[1:]), labels
    assert sum(int(label.rsplit("(", 1)[1].rstrip(")")) for label in labels) == 16
    assert _labels(fig, 1) == ["event loop (6)"]  # 3 steps + 3 dones, no worker thread
    legend = legend_texts(fig, 0)
    assert "validate (in FastAPI's serialization)" in legend
    assert "validate (in FastAPI's endpoint)" in legend
    assert "dependency (in FastAPI's dependencies)" in legend
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim(), "panels share one time axis"


def test_plot_thread_lanes_connects_and_filters(server: Server) -> None:
    run = burst(server, "/sync", n=3)
    fig = plot_thread_lanes(run, spans=["handler", "validate"], connect=("handler", "validate"))
    legend = legend_texts(fig, 0)
    assert not any(text.startswith("dependency") for text in legend), legend
    dotted = [line for line in fig.axes[0].get_lines()
              if isinstance(line, Line2D) and line.get_linestyle() == ":"]  # fmt: skip
    assert len(dotted) == 3, "one line per request from its handler to its response validation"
    fastapi = plot_thread_lanes(run, spans=["endpoint"])
    assert sum(int(x.rsplit("(", 1)[1].rstrip(")")) for x in _labels(fastapi, 0)) == 3


def test_an_empty_panel_still_shows_the_loop_row(server: Server) -> None:
    run = burst(server, "/sync", n=1)
    untouched = burst(server, "/tasks", n=1)
    fig = plot_thread_lanes(run, untouched, spans=["handler"])
    assert _labels(fig, 1) == ["event loop (0)"]


def test_plot_thread_lanes_refuses_bad_input(server: Server) -> None:
    run = burst(server, "/sync", n=1)
    with pytest.raises(ValueError, match="at least one"):
        plot_thread_lanes()
    with pytest.raises(TypeError, match="takes Runs"):
        plot_thread_lanes((run, run.spans))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="titles has 2 entries for 1 panels"):
        plot_thread_lanes(run, titles=["a", "b"])
    with pytest.raises(ValueError, match=r"unknown spans \['nope'\]"):
        plot_thread_lanes(run, spans=["handler", "nope"])
    with pytest.raises(ValueError, match="unknown connect spans"):
        plot_thread_lanes(run, connect=("handler", "nope"))
    with pytest.raises(ValueError, match="pair"):
        plot_thread_lanes(run, connect=("handler",))  # type: ignore[arg-type]


def forty_workers() -> pd.DataFrame:
    """Spans of 120 requests on 40 worker threads, three rounds of 100 ms."""
    rows = [
        {"id": i, "name": "load user", "start": 0.1 * (i // 40), "end": 0.1 * (i // 40) + 0.095,
         "thread": f"worker {i % 40 + 1}", "on_loop": False, "fastapi": False,
         "parent": "dependencies", "within": "dependencies", "status": "ok", "error": "",
         "attributes": {}}
        for i in range(120)
    ]  # fmt: skip
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame


def test_forty_worker_lanes_are_labelled_legibly() -> None:
    run = make_run()
    run.spans = forty_workers()
    fig = plot_thread_lanes(run)
    fig.canvas.draw()
    labels = fig.axes[0].get_yticklabels()
    assert len(labels) == 41 and labels[-1].get_text() == "worker 40 (3)"
    width_px = fig.get_figwidth() * DPI
    assert width_px <= 1170, "shown at its own size in a notebook, never scaled down"
    assert min(size for size, _ in effective_sizes(fig)) >= SMALL
    # every label gets at least its own height of lane: no two labels overlap
    boxes = sorted(label.get_window_extent().y0 for label in labels)
    height = max(label.get_window_extent().height for label in labels)
    assert min(b - a for a, b in itertools.pairwise(boxes)) >= height
    assert fig.get_figheight() * DPI <= 1400, "40 lanes fit about one and a half screens"


def test_a_span_inside_another_of_its_request_is_drawn_on_its_parent(server: Server) -> None:
    run = burst(server, "/sync", n=4)
    fig = plot_thread_lanes(run, spans=["endpoint", "handler"])
    threads = len(_labels(fig, 0))
    # handler runs inside endpoint on the same worker: thin on top, no extra sub-row
    assert fig.axes[0].get_ylim() == (threads, 0), fig.axes[0].get_ylim()
    thin = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_height() < 0.5]
    assert len(thin) == 4, "one thin handler bar per request"
