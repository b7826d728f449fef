from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text

from helpers import compare, plot_timeline, summary_frame
from helpers._lag_panel import LAG_COLOR, LAG_FLOOR_MS, NOTICEABLE_LAG_MS
from helpers._plots import BUSY_COLOR, DPI, NOTEBOOK_PX, LabFigure, plot_run
from helpers._probes import Samples
from helpers._run import ClientRecord, Run, build_run
from tests.test_run import LOOP, make_run, server_record

SMALLEST_PT = 11


def loop_run(n: int = 2, lag: tuple[float, ...] = (0.0, 0.001), seconds: float = 0.4) -> Run:
    """``n`` requests whose handlers ran on the event loop (an async def endpoint); the lag
    probe read ``lag`` (seconds) at evenly spaced times over the burst."""
    clients = [ClientRecord(i, "/y", 10.0, 10.0 + seconds, 200, None, "{}") for i in range(n)]
    servers = [server_record(i + 1, 10.05, 10.0 + seconds - 0.1, thread=LOOP) for i in range(n)]
    times = list(np.linspace(10.0, 10.0 + seconds, len(lag)))
    samples = Samples(t=times, lag=list(lag), busy=[0] * len(lag), waiting=[0] * len(lag))
    return build_run(clients, servers, samples, t0=10.0, loop_thread_id=LOOP, thread_limit=40)


def effective_sizes(fig: Figure) -> list[tuple[float, str]]:
    """Every visible text's size in pt as the notebook shows it: a figure wider than the
    output area is scaled down to ``NOTEBOOK_PX``, and its text with it."""
    fig.draw_without_rendering()
    scale = min(1.0, NOTEBOOK_PX / (fig.get_figwidth() * DPI))
    return [
        (float(t.get_fontsize()) * scale, t.get_text())
        for t in fig.findobj(Text)
        if isinstance(t, Text) and t.get_visible() and t.get_text().strip()
    ]


def panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.get_axes() if ax.axison]


def figure_texts(fig: Figure) -> str:
    return " | ".join(text for _, text in effective_sizes(fig))


def test_run_plot_has_labelled_panels_on_a_ms_axis() -> None:
    fig = make_run().plot()
    assert isinstance(fig, LabFigure)
    axes = panels(fig)
    assert len(axes) == 3, "requests, lag, and a pool panel for a run that used threads"
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


def test_compare_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="titles has 1 entries for 2 runs"):
        compare(make_run(), make_run(), titles=["a"])
    with pytest.raises(ValueError, match="at least one Run"):
        compare()
    with pytest.raises(TypeError, match="compare takes Run objects"):
        compare(make_run(), "b")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="titles must be a list"):
        compare(make_run(), titles="a")


def test_compare_has_one_legend_with_every_entry_once() -> None:
    fig = compare(make_run(), loop_run())
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.get_axes())
    assert "waiting for a worker thread (incl. hand-off)" in labels, (
        "only the first run queued: keep its entry"
    )
    assert "handler running on the event loop" in labels, labels
    assert labels.count("client: sent → received") == 1, labels
    assert f"noticeable: {NOTICEABLE_LAG_MS:.0f} ms" in labels, labels


@pytest.mark.parametrize(
    "build",
    [
        lambda: compare(make_run()),
        lambda: compare(make_run(), loop_run()),
        lambda: compare(make_run(), loop_run(), loop_run(6)),
        lambda: compare(*[make_run(), loop_run(), make_run(), loop_run()]),
        lambda: compare(*[loop_run(n) for n in (2, 6, 60, 100, 3, 4)]),
        lambda: plot_timeline(make_run()),
        lambda: plot_timeline(loop_run(40), by="thread"),
        lambda: plot_run(make_run()),
        lambda: plot_run(loop_run()),
    ],
)
def test_figures_fit_the_notebook_and_text_stays_legible(build: object) -> None:
    fig = build()  # type: ignore[operator]
    assert fig.get_figwidth() * DPI <= NOTEBOOK_PX, "wider than the notebook: it gets shrunk"
    sizes = effective_sizes(fig)
    assert sizes, "the figure has text"
    small = [(round(size, 1), text) for size, text in sizes if size < SMALLEST_PT]
    assert not small, f"text under {SMALLEST_PT} pt at notebook width: {small}"


def test_wide_figure_is_measured_as_shown() -> None:
    """The check above would catch a figure drawn wider than the notebook: its text shrinks."""
    fig = LabFigure(figsize=(2 * NOTEBOOK_PX / DPI, 4))
    fig.text(0.5, 0.5, "twelve point", fontsize=12)
    assert effective_sizes(fig) == [(6.0, "twelve point")]


@pytest.mark.parametrize("n", [3, 4, 5])
def test_compare_uses_at_most_two_columns_and_stacks_the_rest(n: int) -> None:
    fig = compare(*[make_run() for _ in range(n)], titles=[f"run {i}" for i in range(n)])
    request_panels = [ax for ax in panels(fig) if ax.get_title(loc="left").startswith("run ")]
    assert len(request_panels) == n
    lefts = {round(ax.get_position().x0, 3) for ax in panels(fig)}
    assert len(lefts) <= 2, f"panels start at {len(lefts)} different x positions: {sorted(lefts)}"
    tops = {round(ax.get_position().y1, 3) for ax in request_panels}
    assert len(tops) == (n + 1) // 2, "two runs per row, the rest stacked below"


def test_runs_of_different_sizes_keep_their_own_request_axis() -> None:
    small, large = loop_run(6), loop_run(60)
    fig = compare(small, large)
    requests = panels(fig)[0], panels(fig)[2]
    assert [ax.get_ylim() for ax in requests] == [(5.5, -0.5), (59.5, -0.5)]
    same = compare(loop_run(6), loop_run(6))
    assert panels(same)[2].get_shared_y_axes().joined(panels(same)[0], panels(same)[2])


def test_runs_of_very_different_length_get_their_own_time_axis() -> None:
    fig = compare(loop_run(seconds=2.0), loop_run(seconds=0.1))
    first, second = panels(fig)[0], panels(fig)[2]
    assert not first.get_shared_x_axes().joined(first, second)
    assert all("own scale" in ax.get_xlabel() for ax in panels(fig) if ax.get_xlabel())
    alike = compare(loop_run(seconds=0.4), loop_run(seconds=0.5))
    a, b = panels(alike)[0], panels(alike)[2]
    assert a.get_shared_x_axes().joined(a, b)
    forced = compare(loop_run(seconds=2.0), loop_run(seconds=0.1), sharex=True)
    c, d = panels(forced)[0], panels(forced)[2]
    assert c.get_shared_x_axes().joined(c, d) and d.get_xlim()[1] > 2000
    with pytest.raises(TypeError, match="sharex must be True, False or None"):
        compare(loop_run(), sharex="yes")  # type: ignore[arg-type]


def _has_lag_blocks(ax: Axes) -> bool:
    return any(_is_lag(c) for c in ax.collections)


def _is_lag(collection: object) -> bool:
    if not isinstance(collection, PolyCollection) or not len(collection.get_facecolor()):
        return False
    return bool(np.allclose(collection.get_facecolor()[0], to_rgba(LAG_COLOR)))


@pytest.mark.parametrize("draw", [plot_run, lambda run: compare(run, loop_run())])
def test_a_freeze_is_drawn_as_a_block_as_long_as_it_lasted(draw: object) -> None:
    # The probe read at 1.5 s that it was 1.0 s late: the loop was taken from 0.5 s to 1.5 s.
    run = loop_run(2, lag=(0.0, 0.002, 1.0, 0.001), seconds=2.0)
    run.lag = run.lag.assign(t=[0.0, 0.3, 1.5, 1.8])
    fig = draw(run)  # type: ignore[operator]
    first_lag = next(ax for ax in fig.get_axes() if _has_lag_blocks(ax))
    widths = sorted(
        (
            float(np.ptp(p.vertices[:, 0])),
            float(p.vertices[:, 0].min()),
            float(p.vertices[:, 1].max()),
        )
        for c in first_lag.collections
        if _is_lag(c)
        for p in c.get_paths()
    )
    width, left, height = widths[-1]
    assert width == pytest.approx(1000.0), f"a 1 s freeze must be 1000 ms wide, got {width}"
    assert left == pytest.approx(500.0) and height == pytest.approx(1000.0)
    assert [w for w, _, _ in widths[:-1]] == pytest.approx([1.0, 2.0]), "short stalls stay short"
    assert "frozen 1000 ms" in figure_texts(fig)


def test_lag_axis_has_a_floor_and_a_marked_threshold() -> None:
    fig = plot_run(loop_run(lag=(0.0, 0.004, 0.002)))
    (ax,) = [ax for ax in panels(fig) if ax.get_ylabel() == "lag (ms)"]
    assert ax.get_ylim()[1] >= LAG_FLOOR_MS, "4 ms of jitter must not fill the panel"
    levels = [np.asarray(line.get_ydata())[0] for line in ax.get_lines()]
    assert NOTICEABLE_LAG_MS in levels, "the noticeable threshold is drawn"
    assert "longest stall 4 ms" in figure_texts(fig)


def pool_panels(fig: Figure) -> list[Axes]:
    busy = to_rgba(BUSY_COLOR)
    return [
        ax
        for ax in panels(fig)
        if any(to_rgba(line.get_color()) == busy for line in ax.get_lines())
    ]


def test_a_pool_that_stayed_at_zero_is_one_line_not_an_empty_panel() -> None:
    for fig in (plot_run(loop_run()), compare(make_run(), loop_run())):
        assert "no worker threads" in figure_texts(fig)
        assert len(pool_panels(fig)) <= 1, "only the run that used threads has a pool panel"
    assert len(pool_panels(make_run().plot())) == 1
    none = compare(loop_run(), loop_run(6))
    assert not pool_panels(none)
    assert figure_texts(none).count("no worker threads") == 1, "said once for the figure"
    assert len(panels(none)) == 4, "requests and lag per run, no pool row"


def test_summary_frame_has_a_row_per_run() -> None:
    table = summary_frame(make_run(), make_run(), titles=["x", "y"])
    assert list(table.index) == ["x", "y"]
    assert "makespan_s" in table.columns


def test_a_server_the_lab_did_not_start_says_what_was_not_measured() -> None:
    clients = [ClientRecord(i, "/x", 1.0, 1.2 + i / 10, 200, None, "{}") for i in range(3)]
    remote = build_run(clients, None, Samples(), t0=1.0, loop_thread_id=None, thread_limit=None)
    for fig in (plot_run(remote), compare(remote, make_run())):
        texts = figure_texts(fig)
        assert "loop lag not measured" in texts and "untraced server: client times only" in texts
        assert "thread pool: not measured" in texts


def test_a_probe_that_was_never_late_draws_no_block_and_says_so() -> None:
    fig = plot_run(loop_run(lag=(0.0, 0.0, 0.0)))
    assert not any(
        _is_lag(c) and len(c.get_paths()) for ax in fig.get_axes() for c in ax.collections
    )
    assert "longest stall 0 ms" in figure_texts(fig)
