"""Events recorded *inside* handlers, dependencies and tasks, on the clock of a ``Run``.

FastAPI's spans say when the dependencies, the endpoint and the background tasks ran.
What happens inside them — a cleanup step, one call of an ``asyncio.gather``, a side
effect written after the response left — needs markers of its own:

    log = EventLog()

    @app.get("/checkout")
    async def checkout(request: Request):
        with log.span(request, "payment"):      # a bar: start, end, how it ended
            await asyncio.sleep(0.1)
            log.record(request, "payment", "card charged")   # an instant

    log.clear()
    run = await fire(server, "/checkout", n=5)
    log.frame(run)    # the events, in seconds from the burst start, like run.requests

A request is identified by the W3C ``traceparent`` header that ``fire`` sends: its parent
id is the request index, and its trace id finds the moment the request reached the app,
which puts every event on the burst's clock exactly. Code that has no ``Request`` at hand
(a second server called by the first) passes the request index as an ``int`` instead; code
that FastAPI calls inside one of its spans (a Pydantic validator during response
validation) calls ``log.record_current(...)``, which finds the request from the
OpenTelemetry span that is current in that thread. Every event also notes which FastAPI
span was current where it was recorded (``dependencies``, ``endpoint``, ``serialization``…).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from opentelemetry import trace

from helpers.run import LOOP_LABEL, Run
from helpers.tracing import COLLECTOR

__all__ = ["EVENT_COLUMNS", "Event", "EventLog", "ms_after", "request_index"]

EVENT_COLUMNS = [
    "id", "lane", "name", "start", "end", "outcome", "thread", "on_loop", "fastapi_span",
]  # fmt: skip
AGREE_S = 0.001  # events of one burst give the same burst start to well within this


class HasHeaders(Protocol):
    """Anything with ``headers`` (a Starlette ``Request``)."""

    @property
    def headers(self) -> Any: ...


@dataclass(frozen=True)
class Event:
    """One marker. Times are ``time.perf_counter()`` seconds; ``end`` is ``None`` for an
    instant. ``outcome`` is ``""`` for instants, else ``ok``/``raised``/``cancelled``.
    ``fastapi_span`` is the FastAPI span current where it was recorded (``""`` outside one)."""

    request: int
    trace_id: int | None
    lane: str
    name: str
    start: float
    end: float | None
    outcome: str
    thread_id: int
    on_loop: bool
    fastapi_span: str = ""


def _trace_of(request: HasHeaders) -> tuple[int, int | None]:
    """(request index, trace id) from a ``traceparent`` header; (-1, None) without one."""
    value = request.headers.get("traceparent", "")
    parts = value.split("-")
    if len(parts) != 4:
        return -1, None
    try:
        return int(parts[2], 16) - 1, int(parts[1], 16)
    except ValueError:
        return -1, None


def request_index(request: HasHeaders) -> int:
    """The index ``fire`` gave this request (0, 1, …), or -1 for a request it did not send."""
    return _trace_of(request)[0]


def _current_span_name() -> str:
    """The name of the OpenTelemetry span current in this context, ``fastapi.`` removed."""
    # The SDK's spans have a name; the API's no-op span (no span current) has none.
    name = getattr(trace.get_current_span(), "name", "")
    return str(name).removeprefix("fastapi.")


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class EventLog:
    """Markers from handlers, dependencies and background tasks; safe from any thread."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._arrived: dict[int, float] = {}
        self._lock = threading.Lock()

    def _who(self, request: HasHeaders | int) -> tuple[int, int | None]:
        if isinstance(request, int):
            return request, None
        index, trace_id = _trace_of(request)
        self._note_arrival(trace_id)
        return index, trace_id

    def _note_arrival(self, trace_id: int | None) -> None:
        if trace_id is not None and trace_id not in self._arrived:
            record = COLLECTOR.get(trace_id)
            if record is not None and record.arrived is not None:
                with self._lock:
                    self._arrived[trace_id] = record.arrived

    def _current(self) -> tuple[int, int | None]:
        """(request index, trace id) of the request whose span is current; (-1, None) when
        no request that ``fire`` announced is current."""
        trace_id = trace.get_current_span().get_span_context().trace_id
        record = COLLECTOR.get(trace_id) if trace_id else None
        if record is None:
            return -1, None
        # The server span's parent is the remote span of fire's traceparent, whose id is
        # the request index + 1. It is the request's first span, appended before any other.
        server = next((s for s in list(record.spans) if s.server), None)
        if server is None or server.parent_id is None:
            return -1, None
        self._note_arrival(trace_id)
        return server.parent_id - 1, trace_id

    def _add(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def record(self, request: HasHeaders | int, lane: str, name: str | None = None) -> None:
        """Record an instant now: ``name`` (default: ``lane``) on the row ``lane``.

        ``request`` is the endpoint's ``Request`` or the request index as an ``int``.
        """
        self._instant(*self._who(request), lane, name)

    def record_current(self, lane: str, name: str | None = None) -> None:
        """Record an instant now, for the request whose FastAPI span is current here.

        For code that FastAPI calls without a ``Request`` to pass on, such as a Pydantic
        validator during response validation: the request is found from the OpenTelemetry
        span context, which ``run_in_threadpool`` carries into the worker thread (anyio runs
        the call in a copy of the caller's contextvars). Outside an announced request the
        event gets the index -1; it never raises, so a validator cannot fail because of it.
        """
        self._instant(*self._current(), lane, name)

    def _instant(self, index: int, trace_id: int | None, lane: str, name: str | None) -> None:
        now = time.perf_counter()
        self._add(
            Event(index, trace_id, str(lane), str(name or lane), now, None, "",
                  threading.get_ident(), _on_loop(), _current_span_name())
        )  # fmt: skip

    @contextmanager
    def span(self, request: HasHeaders | int, lane: str) -> Iterator[None]:
        """Record the ``with`` block as a bar on the row ``lane``, with how it ended:
        ``ok``, ``raised`` (an exception) or ``cancelled`` (``CancelledError``).

        A plain ``with`` works in ``async def`` code too; the bar covers every ``await``
        inside it. The thread is the one that entered the block.
        """
        index, trace_id = self._who(request)
        thread_id, on_loop, within = threading.get_ident(), _on_loop(), _current_span_name()
        start = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except BaseException:
            outcome = "raised"
            raise
        finally:
            self._add(
                Event(index, trace_id, str(lane), str(lane), start, time.perf_counter(),
                      outcome, thread_id, on_loop, within)
            )  # fmt: skip

    def clear(self) -> None:
        """Forget every event (call it before each burst)."""
        with self._lock:
            self._events.clear()
            self._arrived.clear()

    @property
    def events(self) -> list[Event]:
        """A copy of the events recorded so far, in recording order."""
        with self._lock:
            return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def origin(self, run: Run) -> float:
        """The burst start of ``run`` as a ``time.perf_counter()`` value (seconds).

        Found from the events recorded with a ``Request``: the log knows when each of those
        requests reached the app, and ``run.requests.arrived`` says the same moment in
        seconds from the burst start.
        """
        arrived = run.requests.set_index("id")["arrived"]
        guesses = []
        with self._lock:
            for event in self._events:
                when = None if event.trace_id is None else self._arrived.get(event.trace_id)
                if when is not None and event.request in arrived.index:
                    relative = arrived.loc[event.request]
                    if pd.notna(relative):
                        guesses.append(when - float(relative))
        if not guesses:
            raise ValueError(
                "no event of this log was recorded with a Request of this run; pass the "
                "endpoint's Request to record()/span() at least once per burst"
            )
        guesses.sort()
        middle = guesses[len(guesses) // 2]
        if guesses[-1] - guesses[0] > AGREE_S:
            raise ValueError(
                "the log holds events of more than one burst "
                f"({guesses[-1] - guesses[0]:.3f} s apart); call log.clear() before each fire"
            )
        return middle

    def frame(self, run: Run) -> pd.DataFrame:
        """The events as a table on ``run``'s clock (seconds from the burst start).

        Columns: ``id`` (request index), ``lane``, ``name``, ``start``, ``end`` (missing
        for instants), ``outcome``, ``thread`` (``event loop`` or ``worker thread k``,
        numbered here in order of first appearance — not the numbers in
        ``run.requests``), ``on_loop``, ``fastapi_span`` (the FastAPI span current where the
        event was recorded, e.g. ``dependencies`` or ``serialization``; ``""`` outside one).
        """
        t0 = self.origin(run)
        names: dict[int, str] = {}
        rows = []
        for event in sorted(self.events, key=lambda e: e.start):
            if event.on_loop:
                thread = LOOP_LABEL
            else:
                thread = names.setdefault(event.thread_id, f"worker thread {len(names) + 1}")
            rows.append(
                {
                    "id": event.request, "lane": event.lane, "name": event.name,
                    "start": event.start - t0,
                    "end": event.end - t0 if event.end is not None else float("nan"),
                    "outcome": event.outcome, "thread": thread, "on_loop": event.on_loop,
                    "fastapi_span": event.fastapi_span,
                }
            )  # fmt: skip
        table: pd.DataFrame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
        return table


def ms_after(
    events: pd.DataFrame, run: Run, lane: str, edge: str = "start", column: str = "responded"
) -> pd.Series:
    """Per request: how many **milliseconds** after ``run.requests[column]`` the events of
    ``lane`` started (``edge="start"``) or ended (``edge="end"``); negative means before.

    ``events`` is ``EventLog.frame(run)``; a request with several events in the lane gets
    its first start or its last end.
    """
    if edge not in ("start", "end"):
        raise ValueError(f"edge must be 'start' or 'end', got {edge!r}")
    if column not in run.requests.columns:
        raise ValueError(f"column must be one of {list(run.requests.columns)}, got {column!r}")
    rows = events[events["lane"] == lane]
    if rows.empty:
        raise ValueError(f"no events in lane {lane!r}; lanes are {sorted(set(events['lane']))}")
    grouped = rows.groupby("id")[edge]
    when = grouped.min() if edge == "start" else grouped.max()
    reference = run.requests.set_index("id")[column]
    result: pd.Series = ((when - reference.reindex(when.index)) * 1000).rename(
        f"{lane}: {edge} − {column} (ms)"
    )
    return result
