"""helpers._pool_panel: when a run used worker threads, and what replaces an idle pool."""

from __future__ import annotations

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers._plots import compare
from helpers._pool_panel import BUSY_COLOR, draw_pool, pool_line, pool_top, pool_used
from helpers._probes import Samples
from helpers._run import ClientRecord, Run, build_run
from tests.test_plots import loop_run
from tests.test_run import make_run


def test_a_run_on_workers_used_the_pool_and_one_on_the_loop_did_not() -> None:
    assert pool_used(make_run())
    assert not pool_used(loop_run())


def test_a_moving_gauge_counts_even_without_endpoint_spans() -> None:
    """An untraced server has no spans, but its gauge still shows busy threads."""
    run = loop_run()
    run.pool = run.pool.assign(busy=[0, 3])
    assert pool_used(run)


def test_the_line_says_whether_the_pool_was_idle_or_not_measured() -> None:
    assert pool_line([loop_run()]) == "thread pool: no worker threads used"
    assert "any of these runs" in pool_line([loop_run(), loop_run()])
    # fire() at a URL of a server the lab did not start: client rows only, no probe readings
    clients = [ClientRecord(0, "/x", 1.0, 1.2, 200, None, "{}")]
    remote = build_run(clients, None, Samples(), t0=1.0, loop_thread_id=None, thread_limit=None)
    assert pool_line([remote]) == "thread pool: not measured (the lab did not start this server)"
    assert not pool_used(remote)


def test_thread_axis_leaves_room_over_the_limit() -> None:
    assert pool_top([loop_run()]) == 40 * 1.15 + 1


def pool_run(thread_limit: int, waiting: int) -> Run:
    """A run whose gauge saw ``thread_limit`` threads busy and ``waiting`` calls queued."""
    run: Run = make_run()
    run.thread_limit = thread_limit
    run.pool = run.pool.assign(busy=[thread_limit] * len(run.pool), waiting=[0, waiting, 0])
    return run


def shown_ticks(ax: Axes) -> list[float]:
    """The y ticks ``ax`` shows (inside its limits), after a draw."""
    low, high = ax.get_ylim()
    return [float(t) for t in ax.get_yticks() if low <= t <= high]


def counts_whole_threads(ax: Axes) -> bool:
    ticks = shown_ticks(ax)
    return len(ticks) >= 2 and all(t.is_integer() for t in ticks)


@pytest.mark.parametrize(("limit", "waiting"), [(1, 1), (2, 0), (3, 5), (7, 2), (40, 60), (100, 0)])
def test_the_thread_axis_ticks_whole_threads(limit: int, waiting: int) -> None:
    """A pool of a few threads spans a few units, where matplotlib's default locator would
    tick half threads."""
    run = pool_run(limit, waiting)
    fig = Figure()
    ax = fig.subplots()
    draw_pool(ax, run, pool_top([run]))
    fig.draw_without_rendering()
    assert counts_whole_threads(ax), shown_ticks(ax)


def test_the_figures_pool_panels_still_tick_whole_threads() -> None:
    """plot_run and compare style the panel after draw_pool; its ticks stay whole."""
    for fig in (pool_run(1, 1).plot(), compare(pool_run(2, 1), pool_run(3, 0))):
        fig.draw_without_rendering()
        panels = [ax for ax in fig.axes if any(ln.get_color() == BUSY_COLOR for ln in ax.lines)]
        assert panels and all(counts_whole_threads(ax) for ax in panels), [
            shown_ticks(ax) for ax in panels
        ]
