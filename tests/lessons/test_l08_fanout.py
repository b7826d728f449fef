"""helpers.lessons.l08_fanout: exception_leaves, in_flight and the fan-out figure (drawn from a
real fan-out through a default-sized client to a lab server, the learner's spans joined by
their traceparent header)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from opentelemetry import propagate, trace

from helpers import Run, Server, fire, serve
from helpers._plots import NOTEBOOK_PX, SMALL, LabFigure
from helpers.lessons.l08_fanout import (
    exception_leaves,
    in_flight,
    plot_fanout,
    pool_timeouts_due,
)
from tests.test_plots import effective_sizes

tracer = trace.get_tracer("tests · l08")


@pytest.fixture(scope="module")
def fanned_out() -> Iterator[Run]:
    """12 calls through a client of 5 connections (timeouts 0.3 s) to an upstream that streams
    for 0.5 s (a chunk every 0.1 s, so no read times out): no connection comes free for
    0.5 s, so the 7 queued calls fail with PoolTimeout. The calls start 5 ms apart, so each
    queued call's own 0.3 s ends 25–55 ms after the first call's would (and still well before
    a connection comes free)."""
    upstream = FastAPI(title="tests · l08 upstream")

    @upstream.get("/slow")
    async def slow(request: Request) -> StreamingResponse:
        caller = propagate.extract(request.headers)

        async def chunks() -> AsyncIterator[bytes]:
            with tracer.start_as_current_span("upstream handler", context=caller):
                for _ in range(5):
                    await asyncio.sleep(0.1)
                    yield b"."

        return StreamingResponse(chunks())

    up: Server = serve(upstream, trace=False)
    api = FastAPI(title="tests · l08 api")

    @api.get("/fanout")
    async def fanout() -> list[str]:
        limits = httpx.Limits(max_connections=5)
        async with httpx.AsyncClient(
            base_url=up.url, limits=limits, timeout=httpx.Timeout(0.3)
        ) as client:

            async def one(i: int) -> httpx.Response:
                await asyncio.sleep(0.005 * i)
                with tracer.start_as_current_span("call upstream"):
                    headers: dict[str, str] = {}
                    propagate.inject(headers)
                    return await client.get("/slow", headers=headers)

            results = await asyncio.gather(*(one(i) for i in range(12)), return_exceptions=True)
        return [type(r).__name__ for r in results]

    server = serve(api)
    try:
        yield asyncio.run(fire(server, "/fanout", n=1, timeout=30, progress=False))
    finally:
        server.stop()
        up.stop()


def test_in_flight_counts_open_spans() -> None:
    spans = pd.DataFrame({"start": [0.0, 0.5, 1.0], "end": [1.0, 2.0, 1.5]})
    counts = in_flight(spans, np.array([0.0, 0.7, 1.0, 1.6, 2.0]))
    assert counts.tolist() == [1, 2, 2, 1, 0]


def test_fan_out_spans_show_the_pool_bound_and_timeout(fanned_out: Run) -> None:
    outcomes = fanned_out.requests["body"][0]
    assert (outcomes.count("Response"), outcomes.count("PoolTimeout")) == (5, 7), outcomes
    spans = fanned_out.spans
    handlers = spans[spans["name"] == "upstream handler"]
    assert in_flight(handlers, np.linspace(0, handlers["end"].max(), 500)).max() <= 5


def test_plot_fanout_is_legible_at_notebook_width(fanned_out: Run) -> None:
    fig = plot_fanout(fanned_out, title="five at a time", max_connections=5, pool_timeout_s=0.3)
    assert isinstance(fig, LabFigure) and len(fig.axes) == 1
    assert fig.get_figwidth() * 100 == pytest.approx(NOTEBOOK_PX)
    small = [(size, text) for size, text in effective_sizes(fig) if size < SMALL - 0.01]
    assert not small, small
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("at the upstream" in label for label in labels)


def test_pool_timeouts_due_counts_from_each_calls_own_start() -> None:
    calls = pd.DataFrame(
        {
            "start": [0.0, 2.5, 1.0, 0.2, 3.0],
            "status": ["ok", "error", "error", "error", "cancelled"],
            "error": ["", "PoolTimeout: ", "PoolTimeout: ", "ReadTimeout: ", "CancelledError"],
        }
    )
    # Only the two PoolTimeouts, each 5 s after its own start (not 5 s after 0.0).
    assert pool_timeouts_due(calls, 5.0).tolist() == [6.0, 7.5]
    assert pool_timeouts_due(calls, 5.0, error="ReadTimeout").tolist() == [5.2]
    assert pool_timeouts_due(calls.iloc[:1], 5.0).size == 0
    with pytest.raises(ValueError, match="pool_timeout_s must be > 0 s, got 0"):
        pool_timeouts_due(calls, 0)


def test_each_pool_timeout_came_after_its_own_calls_wait(fanned_out: Run) -> None:
    calls = fanned_out.spans[fanned_out.spans["name"] == "call upstream"]
    due = pool_timeouts_due(calls, 0.3)
    failed_end = np.sort(calls.loc[calls["status"] == "error", "end"].to_numpy(dtype=float))
    assert len(due) == len(failed_end) == 7
    # No call failed before it had waited its own 0.3 s (the k-th failure after the k-th due)
    assert (failed_end >= due - 0.005).all(), (failed_end, due)
    # while the last ones failed well after the first call's 0.3 s: that clock is not theirs.
    assert failed_end[-1] >= calls["start"].min() + 0.3 + 0.04, (failed_end, calls["start"].min())


def test_plot_fanout_draws_each_pool_timeout_from_its_own_call(fanned_out: Run) -> None:
    fig = plot_fanout(fanned_out, title="five at a time", max_connections=5, pool_timeout_s=0.3)
    calls = fanned_out.spans[fanned_out.spans["name"] == "call upstream"]
    due_ms = pool_timeouts_due(calls, 0.3) * 1000
    [line] = [
        line
        for line in fig.axes[0].get_lines()
        if str(line.get_label()).startswith("pool timeouts")
    ]
    x, y = np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata())
    step_ms = x[1] - x[0]
    assert y.max() == 7 and (y[x < due_ms[0] - step_ms] == 0).all()
    first, full = x[np.argmax(y >= 1)], x[np.argmax(y == 7)]
    assert abs(first - due_ms[0]) <= step_ms and abs(full - due_ms[-1]) <= step_ms, (first, full)
    # The queued calls started ≥ 25 ms after the first: a line on its clock would be too early.
    assert due_ms[0] >= (calls["start"].min() + 0.3) * 1000 + 15, (due_ms, calls["start"].min())


def test_plot_fanout_names_the_missing_span(fanned_out: Run) -> None:
    with pytest.raises(ValueError, match="no span 'nope'"):
        plot_fanout(fanned_out, title="t", call="nope")


def test_exception_leaves_plain() -> None:
    error = ValueError("x")
    assert exception_leaves(error) == [error]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_leaves_flattens_groups() -> None:
    a, b, c = ValueError("a"), KeyError("b"), TypeError("c")
    group = ExceptionGroup("outer", [a, ExceptionGroup("inner", [b, c])])  # type: ignore[name-defined]  # noqa: F821
    assert exception_leaves(group) == [a, b, c]
