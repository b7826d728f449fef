"""helpers._pool_panel: when a run used worker threads, and what replaces an idle pool."""

from __future__ import annotations

from helpers._pool_panel import pool_line, pool_top, pool_used
from helpers._probes import Samples
from helpers._run import ClientRecord, build_run
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
