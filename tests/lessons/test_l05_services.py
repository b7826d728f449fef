"""helpers.lessons.l05_services: the upstream connection log, thread-limit changes, wave
arithmetic."""

from __future__ import annotations

import asyncio
import math

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI

from helpers import serve
from helpers._plots import LabFigure
from helpers.lessons.l05_services import (
    ConnectionLog,
    RecordConnections,
    Visit,
    client_burst,
    plot_connections,
    plot_sweep,
    predicted_waves,
    set_thread_limit,
)
from tests.conftest import burst


def upstream_with_log() -> tuple[FastAPI, ConnectionLog]:
    app = FastAPI(title="tests · upstream")
    log = ConnectionLog()
    app.add_middleware(RecordConnections, log=log)

    @app.get("/work")
    async def work(seconds: float = 0.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"waited": seconds}

    return app, log


def test_predicted_waves_is_a_ceiling_division() -> None:
    assert predicted_waves(100, 40) == 3
    assert predicted_waves(100, 20) == 5
    assert predicted_waves(40, 40) == 1
    assert predicted_waves(0, 10) == 0
    for n in range(1, 200, 7):
        assert predicted_waves(n, 13) == math.ceil(n / 13)
    with pytest.raises(ValueError, match="slots ≥ 1"):
        predicted_waves(10, 0)


def test_log_numbers_connections_in_first_seen_order_and_marks_reuse() -> None:
    log = ConnectionLog()
    t = log.t0
    log.visits += [Visit(5001, t + 0.0, t + 0.1), Visit(5002, t + 0.0, t + 0.1),
                   Visit(5001, t + 0.2, t + 0.3)]  # fmt: skip
    table = log.frame()
    assert table["connection"].tolist() == [1, 2, 1]
    assert table["reused"].tolist() == [False, False, True]
    assert log.connections == 2 and len(log) == 3
    assert log.ports() == {5001, 5002}
    assert log.peak_concurrent() == 2
    log.clear()
    assert len(log) == 0 and log.frame().empty


def test_middleware_sees_one_port_per_new_connection_and_reuse_on_a_shared_client() -> None:
    app, log = upstream_with_log()
    with serve(app, trace=False) as server:

        async def calls() -> None:
            for _ in range(3):  # a fresh client each time: a fresh connection each time
                async with httpx.AsyncClient() as client:
                    await client.get(f"{server.url}/work")
            async with httpx.AsyncClient() as client:  # one client, calls in sequence: reuse
                for _ in range(3):
                    await client.get(f"{server.url}/work")

        asyncio.run(calls())
    assert len(log) == 6
    assert log.connections == 4
    assert log.frame()["reused"].sum() == 2


def test_client_burst_overlaps_calls_and_respects_a_connection_limit() -> None:
    app, log = upstream_with_log()
    with serve(app, trace=False) as server:

        async def bursts() -> tuple[float, int, float, int]:
            async with httpx.AsyncClient() as wide:
                log.clear()
                wide_cost = await client_burst(wide, f"{server.url}/work", 6, 0.2)
                wide_s = wide_cost.wall_s
                assert wide_cost.cpu_ms_per_call > 0
                wide_peak = log.peak_concurrent()
            limits = httpx.Limits(max_connections=2)
            async with httpx.AsyncClient(limits=limits) as narrow:
                log.clear()
                narrow_s = (await client_burst(narrow, f"{server.url}/work", 6, 0.2)).wall_s
                narrow_peak = log.peak_concurrent()
            return wide_s, wide_peak, narrow_s, narrow_peak

        wide_s, wide_peak, narrow_s, narrow_peak = asyncio.run(bursts())
    assert wide_peak == 6 and narrow_peak <= 2
    assert narrow_s > wide_s  # three waves of 0.2 s against one
    assert log.connections == 2


def test_set_thread_limit_changes_the_server_loop_limiter() -> None:
    app = FastAPI(title="tests · thread limit")

    @app.get("/nap")
    def nap() -> dict[str, bool]:
        import time

        time.sleep(0.1)
        return {"ok": True}

    with serve(app) as server:
        previous = set_thread_limit(server, 3)
        assert previous == 40 and server.thread_limit == 3
        run = burst(server, "/nap", n=9)
        assert run.summary()["worker_threads"] == 3
        assert run.summary()["peak_busy"] == 3
        assert set_thread_limit(server, 40) == 3
    with pytest.raises(ValueError, match="tokens must be"):
        set_thread_limit(server, 0)


def test_plots_return_lab_figures_and_check_their_input() -> None:
    log = ConnectionLog()
    log.visits += [Visit(6000 + i, log.t0 + i * 0.01, log.t0 + 0.1 + i * 0.01) for i in range(5)]
    assert isinstance(plot_connections(log, "five connections"), LabFigure)
    sweep = pd.DataFrame(
        {
            "n": [30, 60, 30, 60],
            "latency_s": [0.1, 0.1, 0.3, 0.3],
            "def_s": [0.12, 0.25, 0.33, 0.65],
            "async_s": [0.11, 0.12, 0.31, 0.32],
        }
    )
    sweep["ratio"] = sweep["def_s"] / sweep["async_s"]
    assert isinstance(plot_sweep(sweep, slots=40, title="sweep"), LabFigure)
    with pytest.raises(ValueError, match="missing columns"):
        plot_sweep(sweep.drop(columns=["ratio"]), slots=40, title="broken")
