"""helpers._lag_panel: probe readings become the intervals the loop was taken."""

from __future__ import annotations

import asyncio
import time

import pandas as pd
import pytest
from matplotlib.text import Text

from helpers import Server, compare
from helpers._lag_panel import (
    ARRIVALS_MIN,
    LAG_FLOOR_MS,
    arrival_stall,
    lag_top,
    stall_blocks,
)
from helpers._probes import Sampler, Samples
from helpers._run import ClientRecord, Run, build_run
from tests.conftest import burst
from tests.test_run import LOOP, server_record


def test_each_late_reading_becomes_the_interval_before_it() -> None:
    lag = pd.DataFrame({"t": [0.0, 0.2, 1.5], "lag_ms": [0.0, 3.0, 1000.0]})
    blocks = stall_blocks(lag)
    assert blocks.to_dict("list") == {
        "start_ms": [197.0, 500.0],
        "end_ms": [200.0, 1500.0],
        "lag_ms": [3.0, 1000.0],
    }, "on-time readings are left out; a late one spans [t - lag, t]"


def test_blocks_from_the_real_probe_cover_a_freeze_once() -> None:
    """A 300 ms ``time.sleep`` on the loop shows as one block from (about) when it began to
    when it ended, and no two blocks overlap."""

    async def burst() -> tuple[Samples, float, float]:
        sampler = Sampler()
        sampler.start()
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        time.sleep(0.3)  # blocks the loop, the probe included
        ended = time.perf_counter()
        await asyncio.sleep(0.05)
        return await sampler.stop(), began, ended

    samples, began, ended = asyncio.run(burst())
    t0 = samples.t[0]
    lag = pd.DataFrame(
        {"t": [t - t0 for t in samples.t], "lag_ms": [g * 1000 for g in samples.lag]}
    )
    blocks = stall_blocks(lag)
    began_ms, ended_ms = (began - t0) * 1000, (ended - t0) * 1000
    freeze = blocks.iloc[int(blocks["lag_ms"].to_numpy().argmax())]
    # The probe's deadline falls at most one period (5 ms) after the sleep began; it runs
    # as soon as the loop is free again.
    assert freeze["start_ms"] <= began_ms + 6, (freeze.to_dict(), began_ms)
    assert ended_ms <= freeze["end_ms"] <= ended_ms + 200, (freeze.to_dict(), ended_ms)
    assert freeze["lag_ms"] >= 300 - 6
    starts, ends = blocks["start_ms"].to_numpy(), blocks["end_ms"].to_numpy()
    assert (starts[1:] >= ends[:-1]).all(), "successive stalls never overlap: none counted twice"


def run_with(arrivals_s: list[float], lag: list[tuple[float, float]]) -> Run:
    """Requests reaching the app at ``arrivals_s`` (seconds from the burst start), probe
    readings ``(t, lag)`` in seconds."""
    n = len(arrivals_s)
    clients = [ClientRecord(i, "/a", 10.0, 10.5, 200, None, "{}") for i in range(n)]
    # server_record stamps the arrival 10 ms before the handler starts
    servers = [
        server_record(i + 1, 10.0 + a + 0.01, 10.4, thread=LOOP) for i, a in enumerate(arrivals_s)
    ]
    samples = Samples(
        t=[10.0 + t for t, _ in lag],
        lag=[g for _, g in lag],
        busy=[0] * len(lag),
        waiting=[0] * len(lag),
    )
    return build_run(clients, servers, samples, t0=10.0, loop_thread_id=LOOP, thread_limit=40)


def test_a_stall_full_of_arrivals_is_explained() -> None:
    # 28 requests reach the app between 11 and 38 ms; the probe was 30 ms late at 40 ms.
    run = run_with([0.011 + i * 0.001 for i in range(28)], [(0.0, 0.0), (0.040, 0.030), (0.1, 0.0)])
    found = arrival_stall(run)
    assert found is not None
    stall, inside = found
    assert (stall.start_ms, stall.end_ms, stall.lag_ms) == pytest.approx((10.0, 40.0, 30.0))
    assert inside == 28


def test_the_arrivals_sentence_sits_under_the_panel_and_covers_no_block() -> None:
    run = run_with(
        [0.011 + i * 0.001 for i in range(28)],
        [(0.0, 0.0), (0.040, 0.030), (0.2, 0.15), (0.3, 0.09), (0.4, 0.0)],
    )
    fig = compare(run, run, run, titles=["a", "b", "c"])
    fig.draw_without_rendering()
    renderer = fig._get_renderer()  # type: ignore[attr-defined]
    notes = [t for t in fig.findobj(Text) if t.get_text().startswith("Loop lag: 28 requests")]
    assert len(notes) == 3, "one sentence per lag panel that had the arrivals"
    for note in notes:
        box = note.get_window_extent(renderer)
        assert box.x1 <= fig.bbox.x1 + 1 and box.y0 >= fig.bbox.y0 - 1, "inside the figure"
        axes = note.axes
        assert axes is not None and box.y1 <= axes.get_window_extent(renderer).y0, (
            "below the lag panel's data area, never over a block"
        )


def test_a_long_freeze_with_arrivals_in_it_is_not_put_down_to_them() -> None:
    # 20 arrivals inside a 2 s freeze: 100 ms each is far more than starting a request costs.
    run = run_with([0.01 + i * 0.1 for i in range(20)], [(0.0, 0.0), (2.05, 2.0)])
    assert arrival_stall(run) is None


def test_few_arrivals_explain_nothing() -> None:
    few = ARRIVALS_MIN - 1
    run = run_with([0.010 + i * 0.001 for i in range(few)], [(0.0, 0.0), (0.040, 0.030)])
    assert arrival_stall(run) is None


def test_lag_axis_top_has_a_floor() -> None:
    quiet = run_with([0.01], [(0.0, 0.0), (0.1, 0.004)])
    frozen = run_with([0.01], [(0.0, 0.0), (1.0, 0.8)])
    assert lag_top([quiet]) == LAG_FLOOR_MS
    assert lag_top([quiet, frozen]) == pytest.approx(1000.0), "room over the longest stall"


def test_a_blocking_burst_is_covered_by_stall_blocks_under_its_handlers(demo: Server) -> None:
    """Lesson 03's picture: time.sleep in an async def blocks the loop for as long as the
    handlers run one after another; the blocks must lie under those handlers."""
    run = burst(demo, "/blocking_in_async", n=4, params={"seconds": 0.1})
    r = run.requests
    handlers = [(s * 1000, e * 1000) for s, e in zip(r["start"], r["end"])]
    blocked_ms = sum(e - s for s, e in handlers)
    assert blocked_ms >= 4 * 100 - 1, handlers
    blocks = stall_blocks(run.lag)
    covered = sum(
        max(0.0, min(e, b_end) - max(s, b_start))
        for s, e in handlers
        for b_start, b_end in zip(blocks["start_ms"], blocks["end_ms"])
    )
    # The probe misses at most one 5 ms period at the start of a freeze.
    assert covered >= blocked_ms - 10, f"blocks cover {covered:.0f} of {blocked_ms:.0f} ms"
    assert blocks["lag_ms"].sum() <= run.summary()["makespan_s"] * 1000, "nothing counted twice"
