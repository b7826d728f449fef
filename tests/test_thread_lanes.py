"""plot_thread_lanes puts every event of a real burst on the thread that ran it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers import Server, serve
from helpers.events import EventLog
from helpers.plots import LabFigure
from helpers.thread_lanes import plot_thread_lanes
from tests.conftest import burst, events_app

LOG = EventLog()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(events_app(LOG, "tests: thread lanes"), thread_limit=2) as running:
        yield running


def _labels(fig: Figure, panel: int) -> list[str]:
    return [t.get_text() for t in fig.axes[panel].get_yticklabels()]


def test_plot_thread_lanes_puts_events_on_their_threads(server: Server) -> None:
    LOG.clear()
    sync = burst(server, "/sync", n=4)
    sync_events = LOG.frame(sync)
    LOG.clear()
    looped = burst(server, "/work", n=3)
    loop_events = LOG.frame(looped)
    fig = plot_thread_lanes((sync, sync_events), (looped, loop_events), titles=["def", "async"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    assert fig._repr_png_()[:4] == b"\x89PNG"
    # 2 tokens: dependency, handler and both validations of 4 requests on ≤ 2 worker threads
    labels = _labels(fig, 0)
    assert labels[0] == "event loop (0)" and 2 <= len(labels) <= 3, labels
    assert [label.rsplit(" (", 1)[0] for label in labels[1:]] == [
        f"worker thread {k}" for k in range(1, len(labels))
    ]
    assert sum(int(label.rsplit("(", 1)[1].rstrip(")")) for label in labels) == 16
    assert _labels(fig, 1) == ["event loop (6)"]  # 3 spans + 3 instants, no worker thread
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "validate (in FastAPI's serialization)" in legend
    assert "dependency (in FastAPI's dependencies)" in legend
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim(), "panels share one time axis"


def test_plot_thread_lanes_connects_and_filters(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/sync", n=3)
    events = LOG.frame(run)
    only_dependency = events[events["lane"] == "dependency"]
    fig = plot_thread_lanes((run, events), (run, only_dependency), lanes=["handler", "validate"],
                            connect=("handler", "validate"))  # fmt: skip
    assert _labels(fig, 1) == ["event loop (0)"], "a panel left empty still shows the loop row"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not any(text.startswith("dependency") for text in legend), legend
    dotted = [line for line in fig.axes[0].get_lines()
              if isinstance(line, Line2D) and line.get_linestyle() == ":"]  # fmt: skip
    assert len(dotted) == 3, "one line per request from its handler to its response validation"


def test_plot_thread_lanes_refuses_bad_input(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/sync", n=1)
    events = LOG.frame(run)
    with pytest.raises(ValueError, match="at least one"):
        plot_thread_lanes()
    with pytest.raises(ValueError, match="titles has 2 entries for 1 panels"):
        plot_thread_lanes((run, events), titles=["a", "b"])
    with pytest.raises(ValueError, match=r"unknown lanes \['nope'\]"):
        plot_thread_lanes((run, events), lanes=["handler", "nope"])
    with pytest.raises(ValueError, match="unknown connect lanes"):
        plot_thread_lanes((run, events), connect=("handler", "nope"))
    with pytest.raises(ValueError, match="pair"):
        plot_thread_lanes((run, events), connect=("handler",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lacks"):
        plot_thread_lanes((run, events.drop(columns=["thread"])))
