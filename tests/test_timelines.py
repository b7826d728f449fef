"""plot_spans and plot_request build figures from real bursts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import Server, serve
from helpers.events import EventLog
from helpers.plots import LabFigure
from helpers.timelines import check_titles, plot_request, plot_spans
from tests.conftest import burst, events_app

LOG = EventLog()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(events_app(LOG, "tests: timelines"), thread_limit=2) as running:
        yield running


def test_plot_spans(server: Server) -> None:
    run = burst(server, "/work", n=3)
    fig = plot_spans(run, run, titles=["a", "b"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 4
    assert fig._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="titles"):
        plot_spans(run, titles=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot_spans()


def test_plot_request(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/work", n=2)
    events = LOG.frame(run)
    fig = plot_request((run, events), (run, events), titles=["x", "y"], spans=["endpoint"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["FastAPI: endpoint", "step"]
    with pytest.raises(ValueError, match="at least one"):
        plot_request()


def test_check_titles() -> None:
    check_titles(None, 3)
    check_titles(["a", "b"], 2)
    with pytest.raises(ValueError, match="titles has 1 entries for 2 panels"):
        check_titles(["a"], 2)
