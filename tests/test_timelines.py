"""plot_spans, plot_request and ms_after build on the spans of real bursts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import Server, serve
from helpers._plots import DPI, SMALL, LabFigure
from helpers._timelines import check_titles, ms_after, plot_request, plot_spans
from tests.conftest import burst, legend_texts, spans_app
from tests.test_plots import effective_sizes


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(spans_app("tests: timelines"), thread_limit=2) as running:
        yield running


def test_plot_spans(server: Server) -> None:
    run = burst(server, "/work", n=3)
    fig = plot_spans(run, run, titles=["a", "b"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 4
    assert fig._repr_png_()[:4] == b"\x89PNG"
    legend = legend_texts(fig, 1)
    assert "your span: step" in legend and "your span: done" in legend, legend
    assert fig.get_figwidth() * DPI <= 1170, "two runs fit the notebook's width unscaled"
    small = [(size, text) for size, text in effective_sizes(fig) if size < SMALL]
    assert not small, f"text under {SMALL} pt as the notebook shows it: {small[:5]}"
    with pytest.raises(ValueError, match="titles"):
        plot_spans(run, titles=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot_spans()


def test_plot_request_draws_fastapi_then_learner_spans(server: Server) -> None:
    run = burst(server, "/work", n=2)
    fig = plot_request(run, run, titles=["x", "y"], spans=["endpoint"])
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    assert fig.get_figwidth() * DPI <= 1170
    assert min(size for size, _ in effective_sizes(fig)) >= SMALL
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["FastAPI: endpoint", "step", "done"]
    with pytest.raises(ValueError, match="at least one"):
        plot_request()
    with pytest.raises(TypeError, match="takes Runs"):
        plot_request((run, run.spans))  # type: ignore[arg-type]


def test_plot_request_marks_errors_and_cancellations(server: Server) -> None:
    run = burst(server, "/tasks", n=1)
    fig = plot_request(run, spans=["background_task"])
    notes = {t.get_text() for t in fig.axes[0].texts}
    assert notes == {"error", "cancelled"}, notes


def test_ms_after_measures_from_the_response(server: Server) -> None:
    run = burst(server, "/tasks", n=3)
    after = ms_after(run, "task")
    assert len(after) == 3 and (after >= 0).all(), "background tasks start after the response"
    assert (ms_after(run, "boom", edge="end") <= 0).all(), "the endpoint's span ends before it"
    with pytest.raises(ValueError, match="edge"):
        ms_after(run, "task", edge="middle")
    with pytest.raises(ValueError, match="column"):
        ms_after(run, "task", column="nope")
    with pytest.raises(ValueError, match="no span 'nope'"):
        ms_after(run, "nope")
    with pytest.raises(ValueError, match="within 'endpoint'"):
        ms_after(run, "task", within="endpoint")


def test_check_titles() -> None:
    check_titles(None, 3)
    check_titles(["a", "b"], 2)
    with pytest.raises(ValueError, match="titles has 1 entries for 2 panels"):
        check_titles(["a"], 2)
