from __future__ import annotations

import pytest

from helpers import LabFigure, compare, plot_timeline, summary_frame
from tests.test_run import make_run


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


def test_summary_frame_has_a_row_per_run() -> None:
    table = summary_frame(make_run(), make_run(), titles=["x", "y"])
    assert list(table.index) == ["x", "y"]
    assert "makespan_s" in table.columns
