"""Export a ``Run`` as Chrome Trace Event JSON (Perfetto, chrome://tracing, vizviewer).

Every slice is a complete ("X") event on a named thread of a named process, which Perfetto
shows where a reader looks for it (async "b"/"e" events without a process-scoped id land in
a track group "Global Legacy Events" instead):

- process "requests": each request from sent to received, with its ``queued`` and
  ``running on …`` phases nested inside. Requests overlap in time and a track must hold
  properly nested slices, so they are packed onto as few "requests k" tracks as possible.
- process "server threads": a track per thread (``event loop``, ``worker 1``, …) with every
  span that ran on it — FastAPI's and the learner's own — and their attributes, status and
  request in the slice's arguments. Overlapping ``async`` work on the loop gets extra
  tracks ``event loop #2`` …, nested spans stay on their parent's track.
- counters on the "server threads" process: loop lag (ms) and the thread pool's busy and
  waiting threads.

Timestamps are microseconds from the burst start.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = ["trace_events", "write_trace"]

REQUESTS_PID = 1
SERVER_PID = 2
# Track ids must be unique across processes: Perfetto, like Linux, treats a tid as one thread
# whatever pid it appears under, and merged tracks drop each other's slices as overlapping.
REQUEST_TID = 1_000  # request track k is tid 1 000 + k (a tid equal to the pid reads "main thread")
THREAD_TID = 1_000_000  # server thread k's tracks are 1 000 000 + k * 10 000 + lane
LANES_PER_THREAD = 10_000
LOOP_NAME = "event loop"


def _us(seconds: float) -> int:
    """A time in whole microseconds. Integers, because Perfetto converts ``ts`` and ``dur``
    to nanoseconds separately: with fractions, a child ending exactly where its parent ends
    came out a nanosecond later and Perfetto dropped it as overlapping."""
    return round(seconds * 1_000_000)


def _thread_rank(thread: str) -> int:
    """Track order: the event loop first, then workers by number, anything else last."""
    if thread == LOOP_NAME:
        return 0
    tail = thread.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 9_999


class _Lanes:
    """Places slices on tracks so that slices on one track are properly nested, and a slice
    nests only inside a slice of the same request (never request 5's span "inside" 4's)."""

    def __init__(self) -> None:
        self.stacks: list[list[tuple[int, int]]] = []  # per lane: (end, request) still open

    def place(self, start: int, end: int, request: int) -> int:
        """The lane for a slice from ``start`` to ``end`` (µs); call in start order."""
        for lane, stack in enumerate(self.stacks):
            while stack and stack[-1][0] <= start:
                stack.pop()
            if not stack or (end <= stack[-1][0] and stack[-1][1] == request):
                stack.append((end, request))
                return lane
        self.stacks.append([(end, request)])
        return len(self.stacks) - 1


def _meta(pid: int, name: str, value: Any, tid: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"ph": "M", "pid": pid, "name": name, "args": {}}
    if tid is not None:
        event["tid"] = tid
    event["args"]["sort_index" if name.endswith("sort_index") else "name"] = value
    return event


def _slice(pid: int, tid: int, name: str, cat: str, start: float, end: float,
           args: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    begin = _us(start)
    return {"ph": "X", "pid": pid, "tid": tid, "name": name, "cat": cat, "ts": begin,
            "dur": max(_us(end) - begin, 0), "args": args}  # fmt: skip


def _request_events(run: Run) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    lanes = _Lanes()
    rows = sorted(_records(run.requests), key=lambda r: (r["sent"], -r["received"]))
    for row in rows:
        rid = int(row["id"])
        sent, received = float(row["sent"]), float(row["received"])
        lane = REQUEST_TID + lanes.place(_us(sent), _us(received), rid)
        status = None if _missing(row["status"]) else int(row["status"])
        args = {"request": rid, "path": row["path"], "status": status, "error": row["error"]}
        label = f"request {rid}: " + (str(status) if status is not None else "failed")
        events.append(_slice(REQUESTS_PID, lane, label, "request", sent, received, args))
        if _missing(row["start"]) or _missing(row["end"]):
            continue
        start, end = float(row["start"]), float(row["end"])
        inside = sent <= start and end <= received  # nested slices must stay inside
        if not _missing(row["wait"]) and row["wait"] > 0 and inside:
            events.append(_slice(REQUESTS_PID, lane, "queued for a thread", "phase",
                                 start - float(row["wait"]), start, {"request": rid}))  # fmt: skip
        if inside:
            events.append(_slice(REQUESTS_PID, lane, f"running on {row['thread']}", "phase",
                                 start, end, {"request": rid}))  # fmt: skip
    events.append(_meta(REQUESTS_PID, "process_name", "requests"))
    events.append(_meta(REQUESTS_PID, "process_sort_index", 0))
    for lane in range(len(lanes.stacks)):
        tid = REQUEST_TID + lane
        events.append(_meta(REQUESTS_PID, "thread_name", f"requests {lane + 1}", tid))
        events.append(_meta(REQUESTS_PID, "thread_sort_index", lane, tid))
    return events


def _span_events(run: Run) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    spans = run.spans
    threads = sorted({str(t) for t in spans["thread"].dropna()}, key=_thread_rank)
    events.append(_meta(SERVER_PID, "process_name", "server threads"))
    events.append(_meta(SERVER_PID, "process_sort_index", 1))
    for k, thread in enumerate(threads):
        mine = spans[spans["thread"] == thread]
        lanes = _Lanes()
        for row in sorted(_records(mine), key=lambda r: (r["start"], -r["end"])):
            lane = lanes.place(_us(row["start"]), _us(row["end"]), int(row["id"]))
            args = {
                "request": int(row["id"]),
                "status": row["status"],
                "within FastAPI's": row["within"] or None,
                "error": row["error"] or None,
                **{f"attribute {key}": _plain(v) for key, v in row["attributes"].items()},
            }
            cat = "fastapi" if row["fastapi"] else "your span"
            name = f"FastAPI {row['name']}" if row["fastapi"] else str(row["name"])
            tid = THREAD_TID + k * LANES_PER_THREAD + lane
            events.append(_slice(SERVER_PID, tid, name, cat, row["start"], row["end"], args))
        for lane in range(max(1, len(lanes.stacks))):
            tid = THREAD_TID + k * LANES_PER_THREAD + lane
            label = thread if lane == 0 else f"{thread} #{lane + 1}"
            events.append(_meta(SERVER_PID, "thread_name", label, tid))
            events.append(_meta(SERVER_PID, "thread_sort_index", tid - THREAD_TID, tid))
    return events


def trace_events(run: Run) -> list[dict[str, Any]]:
    """The run's trace events, ready for ``{"traceEvents": ...}``."""
    events = _request_events(run) + _span_events(run)
    for sample in _records(run.lag):
        lag = {"lag_ms": round(sample["lag_ms"], 3)}
        events.append(_counter("loop lag (ms)", sample["t"], lag))
    for sample in _records(run.pool):
        pool = {"busy": int(sample["busy"]), "waiting": int(sample["waiting"])}
        events.append(_counter("thread pool", sample["t"], pool))
    return events


def _counter(name: str, t: float, values: dict[str, Any]) -> dict[str, Any]:
    return {"ph": "C", "pid": SERVER_PID, "name": name, "ts": _us(t), "args": values}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    """An attribute value JSON can hold (OpenTelemetry allows tuples of primitives)."""
    return list(value) if isinstance(value, tuple) else value


def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or str(value) in ("<NA>", "nan")
    )


def write_trace(run: Run, path: str | Path) -> Path:
    """Write ``run`` to ``path`` as Chrome Trace Event JSON and return the path."""
    target = Path(path)
    if target.suffix != ".json":
        raise ValueError(f"trace path must end in .json, got {str(path)!r}")
    document = {"traceEvents": trace_events(run), "displayTimeUnit": "ms"}
    # UTF-8 as is: Perfetto's JSON reader shows \u escapes literally
    target.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return target
