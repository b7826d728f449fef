"""helpers.fanout: the upstream's load counter, the fan-out gauge over real loopback HTTP,
exception_leaves, file-descriptor readings and the fan-out figure."""

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
from helpers.fanout import (
    FanOutGauge,
    UpstreamLoad,
    bytes_per_waiting_task,
    exception_leaves,
    failure_reasons,
    open_fds,
    open_file_limit,
    plot_fanout,
    watch,
)
from helpers.plots import LabFigure
from helpers.transport import OneShotTransport

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


def out_of_files_error() -> httpx.ConnectError:
    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as exc:
            raise httpx.ConnectError("cannot connect") from exc
    except httpx.ConnectError as error:
        return error


def test_report_sorts_results() -> None:
    ok, busy = httpx.Response(200), httpx.Response(503)
    results = [ok, busy, busy, httpx.ConnectError("x"), out_of_files_error()]
    report = FanOutGauge(started=0.0).report(results)
    assert (report["ok"], report["refused"]) == (1, 2)
    assert (report["out_of_files"], report["other_errors"]) == (1, 1)


def test_failure_reasons_name_the_os_error() -> None:
    results = [httpx.Response(200), out_of_files_error(), out_of_files_error(), KeyError("k")]
    assert failure_reasons(results) == {
        "ConnectError: Too many open files": 2,
        "KeyError: 'k'": 1,
    }
    assert failure_reasons([httpx.Response(503)]) == {}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="capacity"):
        UpstreamLoad(capacity=0)
    with pytest.raises(ValueError, match="count"):
        asyncio.run(bytes_per_waiting_task(0))


def test_bytes_per_waiting_task_is_positive() -> None:
    assert 100 < asyncio.run(bytes_per_waiting_task(200)) < 100_000


@pytest.mark.skipif(sys.platform == "win32", reason="no /dev/fd or RLIMIT_NOFILE")
def test_open_file_limit_sets_and_restores() -> None:
    import resource

    fds = open_fds()
    assert fds is not None and fds >= 3
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open_file_limit(fds + 200) as limit:
        assert limit is not None and limit <= fds + 200
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
    with pytest.raises(ValueError, match="≥ 64"):
        open_file_limit(10).__enter__()
    with pytest.raises(ValueError, match="open already"):
        open_file_limit(max(fds, 64)).__enter__()
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


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
    group = ExceptionGroup("outer", [a, ExceptionGroup("inner", [b, c])])  # noqa: F821
    assert exception_leaves(group) == [a, b, c]


def test_plot_fanout() -> None:
    gauge = FanOutGauge(started=0.0, t=[0.0, 0.01], calls=[0, 3], tasks=[1, 7])
    fig = plot_fanout([gauge], titles=["one"], capacity=3, title="t")
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="titles"):
        plot_fanout([gauge], titles=[])
