"""Export a ``Run`` as Chrome Trace Event JSON (Perfetto, chrome://tracing, vizviewer).

Layout: process 1 "server threads" has one track per worker thread with complete ("X")
events (a worker runs one handler at a time, so they never overlap); handlers on the event
loop overlap in time, which complete events on one track cannot show, so every request is
also an async slice ("b"/"e") in process 2 "requests", split into queued and running.
Loop lag and pool occupancy are counter ("C") events. Timestamps are microseconds from the
burst start.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from helpers.run import Run

__all__ = ["trace_events", "write_trace"]

SERVER_PID = 1
REQUESTS_PID = 2
LOOP_TID = 0


def _us(seconds: float) -> float:
    return round(seconds * 1_000_000, 1)


def _tid(thread: str) -> int:
    if thread == "event loop":
        return LOOP_TID
    tail = thread.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 9999


def trace_events(run: Run) -> list[dict[str, Any]]:
    """The run's trace events, ready for ``{"traceEvents": ...}``."""
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": SERVER_PID, "name": "process_name", "args": {"name": "server threads"}},
        {"ph": "M", "pid": REQUESTS_PID, "name": "process_name", "args": {"name": "requests"}},
    ]
    threads = sorted({t for t in run.requests["thread"].dropna()}, key=_tid)
    for thread in threads:
        events.append(
            {
                "ph": "M",
                "pid": SERVER_PID,
                "tid": _tid(thread),
                "name": "thread_name",
                "args": {"name": thread},
            }
        )
    for row in _records(run.requests):
        rid = int(row["id"])
        common = {"pid": REQUESTS_PID, "tid": 0, "cat": "request", "id": rid}
        args = {
            "status": None if _missing(row["status"]) else int(row["status"]),
            "error": row["error"],
        }
        events.append(
            {**common, "ph": "b", "name": f"request {rid}", "ts": _us(row["sent"]), "args": args}
        )
        if not _missing(row["start"]) and not _missing(row["end"]):
            if not _missing(row["wait"]) and row["wait"] > 0:
                events.append(
                    {**common, "ph": "b", "name": "queued", "ts": _us(row["start"] - row["wait"])}
                )
                events.append({**common, "ph": "e", "name": "queued", "ts": _us(row["start"])})
            events.append(
                {
                    **common,
                    "ph": "b",
                    "name": f"running on {row['thread']}",
                    "ts": _us(row["start"]),
                }
            )
            events.append(
                {**common, "ph": "e", "name": f"running on {row['thread']}", "ts": _us(row["end"])}
            )
            if not row["on_loop"]:
                events.append(
                    {
                        "ph": "X",
                        "pid": SERVER_PID,
                        "tid": _tid(row["thread"]),
                        "name": f"request {rid}",
                        "cat": "handler",
                        "ts": _us(row["start"]),
                        "dur": _us(row["end"] - row["start"]),
                    }
                )
        events.append({**common, "ph": "e", "name": f"request {rid}", "ts": _us(row["received"])})
    for sample in _records(run.lag):
        events.append(
            {
                "ph": "C",
                "pid": SERVER_PID,
                "name": "loop lag (ms)",
                "ts": _us(sample["t"]),
                "args": {"lag_ms": round(sample["lag_ms"], 3)},
            }
        )
    for sample in _records(run.pool):
        events.append(
            {
                "ph": "C",
                "pid": SERVER_PID,
                "name": "thread pool",
                "ts": _us(sample["t"]),
                "args": {"busy": int(sample["busy"]), "waiting": int(sample["waiting"])},
            }
        )
    return events


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


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
    target.write_text(json.dumps(document))
    return target
