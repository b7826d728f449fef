"""capacity: cost per request, throughput, wave sizes and the two figures."""

from __future__ import annotations

import math
import time

import pytest
from fastapi import Depends, FastAPI
from opentelemetry import trace

from helpers import Server, serve
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
    run = make_run()  # request 1 asked for the only thread after request 0 was done
    assert wave_sizes(run) == [2]
    assert len(wave_sizes(run)) == run.summary()["waves"]
    queued = make_run(second_asked=0.06)
    assert wave_sizes(queued) == thread_rounds(queued) == [1, 1]
    assert len(wave_sizes(queued)) == queued.summary()["waves"]


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


def test_thread_rounds_are_the_waves_of_worker_handlers() -> None:
    assert thread_rounds(make_run()) == [2]


def test_waves_follow_the_queue_on_a_small_pool() -> None:
    server = serve(FastAPI(title="waves on 2 threads"), thread_limit=2)
    try:
        app = server.app

        @app.get("/even")
        def even() -> dict[str, bool]:
            time.sleep(0.2)
            return {"ok": True}

        @app.get("/uneven")
        def uneven(i: int) -> dict[str, bool]:
            time.sleep(0.1 + 0.05 * (i % 3))
            return {"ok": True}

        run = burst(server, "/even", n=6)
        assert wave_sizes(run) == [2, 2, 2], run.requests[["start", "end", "wait", "wave"]]
        assert run.summary()["waves"] == 3 and run.summary()["queued"] == 4
        # uneven handlers: each queued request is one wave after the handler it waited for
        run = burst(server, "/uneven", n=6, params=lambda i: {"i": i})
        r = run.requests.sort_values("start")
        assert r["wave"].iloc[:2].tolist() == [1, 1]
        assert sum(wave_sizes(run)) == 6 and run.summary()["queued"] == 4
        assert run.summary()["waves"] == len(wave_sizes(run)) >= 3
    finally:
        server.stop()


def test_waves_of_a_def_dependency_follow_its_spans_on_the_worker_threads() -> None:
    tracer = trace.get_tracer("tests")
    app = FastAPI(title="waves of a def dependency")

    def load_user() -> str:
        with tracer.start_as_current_span("load user"):
            time.sleep(0.15)
        return "ada"

    @app.get("/me")
    async def me(user: str = Depends(load_user)) -> dict[str, str]:
        return {"user": user}

    server = serve(app, thread_limit=2)
    try:
        run = burst(server, "/me", n=6)
    finally:
        server.stop()
    s = run.summary()
    users = run.spans[run.spans["name"] == "load user"]
    assert len(users) == 6 and users["on_loop"].eq(False).all(), run.spans
    assert s["worker_threads"] == 2
    assert wave_sizes(run) == [2, 2, 2], run.spans
    assert (s["waves"], s["queued"]) == (3, 4)
    assert thread_rounds(run) == []  # the handlers themselves ran on the event loop


def test_an_async_burst_has_no_thread_rounds(demo: Server) -> None:
    run = burst(demo, "/async_sleep", n=10, params={"seconds": 0.05})
    assert thread_rounds(run) == []
