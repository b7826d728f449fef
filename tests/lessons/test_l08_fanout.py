"""helpers.lessons.l08_fanout: the upstream's load counter, the fan-out gauge over real loopback
HTTP (also past the open-file limit), exception_leaves and the fan-out figure."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from helpers import Server, serve
from helpers._open_files import open_fds, open_file_limit
from helpers._plots import LabFigure
from helpers._transport import OneShotTransport
from helpers.lessons.l08_fanout import (
    FanOutGauge,
    UpstreamLoad,
    bytes_per_waiting_task,
    exception_leaves,
    plot_fanout,
    watch,
)

CAPACITY = 10
load = UpstreamLoad(capacity=CAPACITY)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Server]:
    app = FastAPI(title="tests · shedding upstream")

    @app.get("/item")
    async def item(i: int) -> Any:
        if not load.admit():
            return JSONResponse({"error": "busy"}, status_code=503)
        try:
            await asyncio.sleep(0.05)
        finally:
            load.done()
        return {"item": i}

    server = serve(app, trace=False)
    yield server
    server.stop()


def fan_out(url: str, n: int, limit: int | None) -> tuple[dict[str, Any], FanOutGauge]:
    async def main() -> tuple[dict[str, Any], FanOutGauge]:
        gate: Any = asyncio.Semaphore(limit) if limit else contextlib.nullcontext()
        async with httpx.AsyncClient(base_url=url, transport=OneShotTransport()) as client:

            async def one(i: int) -> httpx.Response:
                async with gate:
                    return await client.get("/item", params={"i": i})

            async with watch(load) as gauge:
                results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
        return gauge.report(results), gauge

    return asyncio.run(main())


def test_unbounded_fan_out_is_shed_and_bounded_is_not(upstream: Server) -> None:
    loose, gauge = fan_out(upstream.url, 60, None)
    assert loose["n"] == 60 and loose["other_errors"] == loose["out_of_files"] == 0
    assert loose["peak_calls"] == CAPACITY and loose["refused"] > 0
    assert loose["ok"] + loose["refused"] == 60
    assert loose["peak_tasks"] >= 60 and loose["cpu_ms_per_call"] > 0
    if sys.platform != "win32":
        assert loose["extra_fds"] is not None and loose["extra_fds"] >= 0
    assert len(gauge.t) == len(gauge.calls) == len(gauge.tasks) >= 1
    assert loose["accept_failures"] == 0 and loose["sampling_ms"] >= 0
    tight, _ = fan_out(upstream.url, 30, 5)
    assert tight["peak_calls"] <= 5 and tight["refused"] == 0 and tight["ok"] == 30
    assert load.in_flight == 0 and load.served == 30


def test_load_counts_and_resets() -> None:
    counter = UpstreamLoad(capacity=2)
    assert counter.admit() and counter.admit() and not counter.admit()
    assert (counter.in_flight, counter.peak, counter.refused) == (2, 2, 1)
    counter.done()
    counter.reset()
    assert (counter.in_flight, counter.peak, counter.served, counter.refused) == (1, 0, 0, 0)


def test_report_sorts_results() -> None:
    ok, busy = httpx.Response(200), httpx.Response(503)
    no_file = httpx.ConnectError("cannot connect")
    no_file.__cause__ = OSError(errno.EMFILE, "Too many open files")
    results = [ok, busy, busy, httpx.ConnectError("x"), no_file]
    report = FanOutGauge(started=0.0).report(results)
    assert (report["ok"], report["refused"]) == (1, 2)
    assert (report["out_of_files"], report["other_errors"]) == (1, 1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="capacity"):
        UpstreamLoad(capacity=0)
    with pytest.raises(ValueError, match="count"):
        asyncio.run(bytes_per_waiting_task(0))


def test_bytes_per_waiting_task_is_positive() -> None:
    assert 100 < asyncio.run(bytes_per_waiting_task(200)) < 100_000


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_fan_out_past_the_file_limit_fails_calls_and_is_counted(
    upstream: Server, caplog: pytest.LogCaptureFixture
) -> None:
    fds = open_fds()
    assert fds is not None
    with caplog.at_level(logging.ERROR, logger="asyncio"), open_file_limit(fds + 100):
        report, _ = fan_out(upstream.url, 300, None)  # two files per call: far past the limit
    assert report["out_of_files"] > 0, report
    assert report["ok"] + report["refused"] + report["out_of_files"] + report["other_errors"] == 300
    assert not [r for r in caplog.records if "out of system resource" in r.getMessage()], (
        "watch() should count asyncio's accept failures, not let them print"
    )
    quiet, _ = fan_out(upstream.url, 20, 5)  # the limit is back: calls get through again
    assert quiet["ok"] == 20 and quiet["out_of_files"] == 0


def test_exception_leaves_plain() -> None:
    error = ValueError("x")
    assert exception_leaves(error) == [error]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_leaves_flattens_groups() -> None:
    a, b, c = ValueError("a"), KeyError("b"), TypeError("c")
    group = ExceptionGroup("outer", [a, ExceptionGroup("inner", [b, c])])  # type: ignore[name-defined]  # noqa: F821
    assert exception_leaves(group) == [a, b, c]


def test_plot_fanout() -> None:
    gauge = FanOutGauge(started=0.0, t=[0.0, 0.01], calls=[0, 3], tasks=[1, 7])
    fig = plot_fanout([gauge], titles=["one"], capacity=3, title="t")
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="titles"):
        plot_fanout([gauge], titles=[])
