"""capacity: cost per request, throughput, wave sizes and the two figures."""

from __future__ import annotations

import math

import pytest

from helpers import Server
from helpers.capacity import (
    per_request_cost,
    plot_latencies,
    plot_wait_vs_run,
    thread_rounds,
    throughput,
    wave_sizes,
)
from tests.conftest import burst
from tests.test_run import make_run


def test_per_request_cost_divides_the_time_beyond_the_sleep() -> None:
    cost = per_request_cost([make_run()], sleep_s=0.5)
    row = cost.iloc[0]
    assert row["n"] == 3
    assert math.isclose(row["beyond_sleep_s"], 0.6)
    assert math.isclose(row["ms_per_request"], 200.0)
    with pytest.raises(ValueError, match="sleep_s"):
        per_request_cost([make_run()], sleep_s=-1)


def test_throughput_counts_handled_requests_over_the_handler_window() -> None:
    # two successful handlers, from 0.05 s to 1.05 s
    assert math.isclose(throughput(make_run()), 2.0)


def test_wave_sizes_agree_with_the_summary() -> None:
    run = make_run()
    assert wave_sizes(run) == [1, 1]
    assert len(wave_sizes(run)) == run.summary()["waves"]


def test_figures_render() -> None:
    run = make_run()
    assert plot_wait_vs_run(run)._repr_png_().startswith(b"\x89PNG")
    assert plot_latencies(run, run, titles=["a", "b"])._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="titles"):
        plot_latencies(run, titles=["a", "b"])


def test_a_def_burst_splits_into_forty_forty_twenty(demo: Server) -> None:
    # 1 s handlers keep the rounds apart even if the 100 connections trickle in slowly
    run = burst(demo, "/sync_sleep", n=100, params={"seconds": 1.0})
    assert wave_sizes(run) == [40, 40, 20]
    assert thread_rounds(run) == [40, 40, 20]
    assert run.summary()["rounds"] == 3
    assert 0.5 * 40 / 1.0 < throughput(run) <= 1.1 * 40 / 1.0


def test_thread_rounds_counts_each_threads_first_second_request() -> None:
    # make_run: two requests on two different worker threads → both are a first request
    assert thread_rounds(make_run()) == [2]


def test_an_async_burst_has_no_thread_rounds(demo: Server) -> None:
    run = burst(demo, "/async_sleep", n=10, params={"seconds": 0.05})
    assert thread_rounds(run) == []
