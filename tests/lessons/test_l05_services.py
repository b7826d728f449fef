"""helpers.lessons.l05_services: the upstream connection log and its figure, thread-limit changes,
and the by-package profile table."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import time

import httpx
import pytest
from fastapi import FastAPI

from helpers import serve
from helpers._plots import LabFigure
from helpers.lessons.l05_services import (
    ConnectionLog,
    RecordConnections,
    Visit,
    plot_connections,
    profile_by_package,
    set_thread_limit,
)
from tests.conftest import burst
from tests.test_plots import effective_sizes


def upstream_with_log() -> tuple[FastAPI, ConnectionLog]:
    app = FastAPI(title="tests · upstream")
    log = ConnectionLog()
    app.add_middleware(RecordConnections, log=log)

    @app.get("/work")
    async def work(seconds: float = 0.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"waited": seconds}

    return app, log


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


def test_a_narrow_client_holds_at_most_its_limit_at_the_upstream() -> None:
    app, log = upstream_with_log()
    with serve(app, trace=False) as server:

        async def bursts() -> float:
            limits = httpx.Limits(max_connections=2)
            async with httpx.AsyncClient(limits=limits) as narrow:
                log.clear()
                started = time.perf_counter()
                url = f"{server.url}/work"
                calls = (narrow.get(url, params={"seconds": 0.2}) for _ in range(6))
                await asyncio.gather(*calls)
                return time.perf_counter() - started

        took = asyncio.run(bursts())
    assert log.peak_concurrent() == 2 and log.connections >= 2
    assert took >= 0.9 * 3 * 0.2  # six calls, two at a time: three batches of 0.2 s


def test_profile_by_package_attributes_own_time_to_packages() -> None:
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    for _ in range(200):
        httpx.URL("http://127.0.0.1:1/work?seconds=0.1")
    profile.disable()
    table = profile_by_package(pstats.Stats(profile), calls=200, top=3)
    assert "httpx" in table.index  # URL parsing lives in httpx/_urlparse.py
    assert len(table) <= 4 and list(table.columns) == ["ms_per_call", "share"]
    assert (table["ms_per_call"] >= 0).all()
    shares = [float(share.rstrip(" %")) for share in table["share"]]
    assert 97 <= sum(shares) <= 103  # rounded shares of the whole profile
    with pytest.raises(ValueError, match="calls must be ≥ 1"):
        profile_by_package(pstats.Stats(profile), calls=0)
    with pytest.raises(ValueError, match="top must be ≥ 1"):
        profile_by_package(pstats.Stats(profile), calls=1, top=0)


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


def test_connection_figure_fits_the_notebook_with_readable_text() -> None:
    log = ConnectionLog()
    log.visits += [Visit(6000 + i, log.t0 + i * 0.01, log.t0 + 0.1 + i * 0.01) for i in range(5)]
    log.visits += [Visit(6000, log.t0 + 0.2, log.t0 + 0.3)]
    fig = plot_connections(log, "five connections, one reused " * 6)
    assert isinstance(fig, LabFigure)
    sizes = effective_sizes(fig)
    assert min(size for size, _ in sizes) >= 11, sorted(sizes)[:3]
    assert any("reused" in text and "(1)" in text for _, text in sizes)
