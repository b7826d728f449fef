"""Server-side truth: what FastAPI did with each request, stamped on the lab's clock.

FastAPI emits OpenTelemetry spans by itself (``fastapi/telemetry/``): a server span per
request, then ``fastapi.dependencies``, ``fastapi.endpoint``, ``fastapi.serialization`` and
``fastapi.background_task``. For a ``def`` endpoint, ``fastapi.endpoint`` is started inside
the worker thread (``fastapi/routing.py: _run_sync_endpoint``), and a span processor's
``on_start`` runs in the thread that starts the span, so the processor below can stamp the
thread without touching the learner's code.

The learner's own spans get the same treatment: ``with tracer.start_as_current_span("load
user"):`` (``tracer = opentelemetry.trace.get_tracer(__name__)``) in a handler, a dependency or
a background task starts a child of the current FastAPI span, so it carries the request's
trace id and lands in the same record, with its thread, attributes and how it ended.

Only spans of requests that ``fire`` announced (by W3C ``traceparent`` trace id) are kept,
so a browser poking the server records nothing and memory stays bounded. A span that
started during the burst but ends after ``fire`` stopped listening (the client gave up, the
handler ran on) still gets its end, attributes and status.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

__all__ = ["COLLECTOR", "Collector", "RequestRecord", "SpanRecord", "install_tracing"]


@dataclass
class SpanRecord:
    """One span as the lab saw it; times are ``time.perf_counter()`` seconds.

    ``status`` is ``ok``, ``error`` (OpenTelemetry status ERROR: an exception left the
    ``with`` block, or the code set it) or ``cancelled`` (``CancelledError`` left the block,
    which OpenTelemetry itself does not count as an error); ``error`` says what happened
    (``"ValueError: sold out"``, ``"CancelledError"``), ``""`` when nothing did.
    """

    name: str
    span_id: int
    parent_id: int | None
    server: bool
    start: float
    thread_id: int
    end: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    thread_name: str = ""
    status: str = "ok"
    error: str = ""


@dataclass
class RequestRecord:
    """Everything the server recorded for one announced request."""

    trace_id: int
    arrived: float | None = None
    done: float | None = None
    spans: list[SpanRecord] = field(default_factory=list)
    open_spans: dict[int, SpanRecord] = field(default_factory=dict)


class Collector:
    """Routes server-side observations to the burst that announced the trace id."""

    def __init__(self) -> None:
        self._expected: dict[int, RequestRecord] = {}
        self._lock = threading.Lock()

    def expect(self, trace_ids: Iterable[int]) -> list[RequestRecord]:
        """Start keeping observations for these trace ids; returns their records in order."""
        records = [RequestRecord(trace_id) for trace_id in trace_ids]
        with self._lock:
            for record in records:
                self._expected[record.trace_id] = record
        return records

    def release(self, trace_ids: Iterable[int]) -> None:
        """Stop keeping observations for these trace ids."""
        with self._lock:
            for trace_id in trace_ids:
                self._expected.pop(trace_id, None)

    def get(self, trace_id: int) -> RequestRecord | None:
        """The record for ``trace_id``, or ``None`` when nobody announced it."""
        # A plain dict read is atomic under the GIL; the hot path takes no lock.
        return self._expected.get(trace_id)

    def __len__(self) -> int:
        return len(self._expected)


COLLECTOR = Collector()

# Open spans by span id, so a span that ends after its burst released the trace id still
# finds its record (a handler the client gave up on keeps running). Entries leave on end.
_open: dict[int, SpanRecord] = {}


class LabSpanProcessor(SpanProcessor):
    """Stamps start/end time and the starting thread of every announced span."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        record = COLLECTOR.get(span.context.trace_id)
        if record is None:
            return
        parent = span.parent
        entry = SpanRecord(
            name=span.name,
            span_id=span.context.span_id,
            parent_id=parent.span_id if parent is not None else None,
            server=span.kind is SpanKind.SERVER,
            start=time.perf_counter(),
            thread_id=threading.get_ident(),
            thread_name=threading.current_thread().name,
        )
        record.open_spans[entry.span_id] = entry
        record.spans.append(entry)
        _open[entry.span_id] = entry

    def on_end(self, span: ReadableSpan) -> None:
        now = time.perf_counter()
        if span.context is None:
            return
        entry = _open.pop(span.context.span_id, None)
        if entry is None:
            return
        entry.name = span.name  # the server span is renamed to "GET /route" once routed
        entry.attributes = dict(span.attributes or {})
        entry.status, entry.error = _outcome(span)
        entry.end = now
        record = COLLECTOR.get(span.context.trace_id)
        if record is not None:
            record.open_spans.pop(span.context.span_id, None)


def _outcome(span: ReadableSpan) -> tuple[str, str]:
    """(status, error) of a span that is ending now, in the thread that ends it."""
    # ``start_as_current_span`` ends the span in a ``finally`` while the exception that left
    # the block propagates, so it is visible here; OpenTelemetry records only ``Exception``s.
    raised = sys.exc_info()[1]
    if isinstance(raised, asyncio.CancelledError):
        return "cancelled", "CancelledError"
    if span.status.status_code is StatusCode.ERROR:
        if span.status.description:
            return "error", span.status.description
        return "error", type(raised).__name__ if raised is not None else "error"
    return "ok", ""


_PROCESSOR = LabSpanProcessor()
_install_lock = threading.Lock()
_installed_on: TracerProvider | None = None


def install_tracing() -> None:
    """Make sure the global OpenTelemetry SDK provider feeds the lab's span processor.

    Called by ``serve(..., trace=True)``, never at import. If the kernel already has an SDK
    ``TracerProvider`` (the learner set one up), the lab's processor is added to it; an
    unconfigured kernel gets a fresh SDK provider with no exporter.
    """
    global _installed_on
    with _install_lock:
        provider = trace.get_tracer_provider()
        if provider is _installed_on:
            return
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(_PROCESSOR)
            _installed_on = provider
            return
        if type(provider).__name__ != "ProxyTracerProvider":
            raise RuntimeError(
                f"tracing needs an OpenTelemetry SDK TracerProvider, but the global provider "
                f"is {type(provider).__name__}; use serve(app, trace=False) to run untraced"
            )
        fresh = TracerProvider()
        fresh.add_span_processor(_PROCESSOR)
        trace.set_tracer_provider(fresh)
        _installed_on = fresh
