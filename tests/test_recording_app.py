"""RecordingApp: stamps announced requests, switches FastAPI's telemetry off untraced."""

from __future__ import annotations

import asyncio
from typing import Any

from helpers._recording_app import RecordingApp
from helpers._tracing import COLLECTOR

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def traceparent(trace_id: int) -> bytes:
    return f"00-{trace_id:032x}-00f067aa0ba902b7-01".encode()


class Inner:
    """An ASGI app that keeps the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))


def call(app: RecordingApp, scope: dict[str, Any]) -> None:
    async def nothing() -> None:
        return None

    asyncio.run(app(scope, nothing, nothing))


def test_untraced_requests_tell_fastapi_to_skip_its_telemetry() -> None:
    inner = Inner()
    call(RecordingApp(inner, trace=False), {"type": "http", "headers": []})
    assert inner.scopes == [{"type": "http", "headers": [], "fastapi.telemetry": None}]


def test_lifespan_and_unannounced_requests_pass_through_untouched() -> None:
    inner = Inner()
    app = RecordingApp(inner, trace=True)
    call(app, {"type": "lifespan"})
    call(app, {"type": "http", "headers": [(b"traceparent", traceparent(TRACE_ID))]})
    call(app, {"type": "http", "headers": [(b"traceparent", b"not-a-traceparent")]})
    call(app, {"type": "http", "headers": [(b"traceparent", b"00-zz-yy-01")]})
    assert [s["type"] for s in inner.scopes] == ["lifespan", "http", "http", "http"]
    assert all("fastapi.telemetry" not in s for s in inner.scopes)


def test_an_announced_request_is_stamped_around_the_app_call() -> None:
    inner = Inner()
    (record,) = COLLECTOR.expect([TRACE_ID])
    try:
        call(
            RecordingApp(inner, trace=True),
            {"type": "http", "headers": [(b"traceparent", traceparent(TRACE_ID))]},
        )
    finally:
        COLLECTOR.release([TRACE_ID])
    assert record.arrived is not None and record.done is not None
    assert record.arrived <= record.done
    assert len(inner.scopes) == 1


def test_a_second_server_on_the_same_trace_keeps_the_first_stamps() -> None:
    # The API passed its trace context on to an upstream lab server (propagate.inject): the
    # request arrived and ended at the API, whatever the upstream saw later.
    (record,) = COLLECTOR.expect([TRACE_ID])
    try:
        scope = {"type": "http", "headers": [(b"traceparent", traceparent(TRACE_ID))]}
        call(RecordingApp(Inner(), trace=True), dict(scope))
        first = (record.arrived, record.done)
        upstream = Inner()
        call(RecordingApp(upstream, trace=True), dict(scope))
        assert (record.arrived, record.done) == first
        assert len(upstream.scopes) == 1, "the upstream still serves the request"
    finally:
        COLLECTOR.release([TRACE_ID])
