from __future__ import annotations

import pytest

from helpers import LabFigure, compare, plot_timeline, summary_frame
from helpers.probes import Samples
from helpers.run import ClientRecord, Run, build_run
from tests.test_run import LOOP, make_run, server_record


def loop_run() -> Run:
    """Two requests whose handlers ran on the event loop (an async def endpoint)."""
    clients = [ClientRecord(i, "/y", 10.0, 10.4, 200, None, "{}") for i in range(2)]
    servers = [server_record(i + 1, 10.05, 10.3, thread=LOOP) for i in range(2)]
    samples = Samples(t=[10.0, 10.2], lag=[0.0, 0.001], busy=[0, 0], waiting=[0, 0])
    return build_run(clients, servers, samples, t0=10.0, loop_thread_id=LOOP, thread_limit=1)


def test_run_plot_has_three_labelled_panels_on_a_ms_axis() -> None:
    fig = make_run().plot()
    assert isinstance(fig, LabFigure)
    axes = fig.get_axes()
    assert len(axes) == 3
    assert axes[-1].get_xlabel() == "time since burst start (ms)"
    assert all(ax.get_ylabel() for ax in axes)
    assert fig._repr_png_().startswith(b"\x89PNG")


@pytest.mark.parametrize("by", ["request", "thread"])
def test_timeline_draws_by_request_or_thread(by: str) -> None:
    fig = plot_timeline(make_run(), by=by)
    ax = fig.get_axes()[0]
    assert ax.get_xlabel() == "time since burst start (ms)"
    if by == "thread":
        assert [t.get_text() for t in ax.get_yticklabels()] == ["worker 1", "worker 2"]


def test_timeline_refuses_an_unknown_grouping() -> None:
    with pytest.raises(ValueError, match="by must be one of"):
        plot_timeline(make_run(), by="colour")


def test_compare_shares_axes_and_checks_titles() -> None:
    fig = compare(make_run(), make_run(), titles=["a", "b"])
    assert len(fig.get_axes()) == 6
    with pytest.raises(ValueError, match="titles has 1 entries for 2 runs"):
        compare(make_run(), make_run(), titles=["a"])
    with pytest.raises(ValueError, match="at least one Run"):
        compare()
    with pytest.raises(TypeError, match="compare takes Run objects"):
        compare(make_run(), "b")  # type: ignore[arg-type]


def test_compare_puts_every_panels_legend_entries_on_the_last_panel_of_its_row() -> None:
    fig = compare(make_run(), loop_run())
    axes = fig.get_axes()  # row by row: requests, lag, pool; a column per run
    assert [ax.get_legend() is not None for ax in axes[:2]] == [False, True]
    labels = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert "waiting for a worker thread" in labels, "only the first run queued: keep its entry"
    assert "running on worker 1" in labels and "running on event loop" in labels, labels
    assert labels.count("client: sent → received") == 1, labels
    assert [ax.get_title(loc="left").count("\n") for ax in axes[:2]] == [1, 1], (
        "default titles side by side break in two, so they do not run into each other"
    )


def test_summary_frame_has_a_row_per_run() -> None:
    table = summary_frame(make_run(), make_run(), titles=["x", "y"])
    assert list(table.index) == ["x", "y"]
    assert "makespan_s" in table.columns
