"""Tools for lesson 05: watch an upstream service's TCP connections, and profile a client.

- ``RecordConnections`` is a tiny ASGI middleware for the *upstream* app. For every HTTP
  request it keeps the client's port number (``scope["client"]``) and when the request
  started and ended. Each TCP connection has its own client port, so distinct ports are
  distinct connections, and one port seen many times is a kept-alive connection reused.
- ``ConnectionLog`` holds those visits and turns them into a table and a figure.
- ``plot_connections`` draws those visits, one lane per connection.
- ``profile_by_package`` sums a ``cProfile`` run by the package each function lives in, to
  say where a client's CPU went.
- ``set_thread_limit`` changes a running server's worker-thread tokens (lesson 11 uses it;
  lesson 05 writes the same one line in its notebook).
"""

from __future__ import annotations

import pstats
import textwrap
import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import pandas as pd
from starlette.types import ASGIApp, Receive, Scope, Send

from helpers._bars import hbars
from helpers._plots import BUSY_COLOR, FONT, SMALL, WIDTH_IN, LabFigure
from helpers._server import Server
from helpers._stats import peak_overlap

__all__ = [
    "ConnectionLog",
    "RecordConnections",
    "Visit",
    "plot_connections",
    "profile_by_package",
    "set_thread_limit",
]


@dataclass(frozen=True)
class Visit:
    """One HTTP request seen by the upstream: client ``port``, ``start`` and ``end`` in
    ``time.perf_counter()`` **seconds**."""

    port: int
    start: float
    end: float


class ConnectionLog:
    """The visits an upstream received since the last ``clear()``."""

    def __init__(self) -> None:
        self.visits: list[Visit] = []
        self.t0 = time.perf_counter()

    def clear(self) -> None:
        """Forget every visit and restart the clock (call it just before a burst)."""
        self.visits = []
        self.t0 = time.perf_counter()

    def frame(self) -> pd.DataFrame:
        """The visits as a table, one row each, in order of arrival.

        Columns: ``port`` (client port), ``connection`` (1, 2, … numbered in the order the
        ports first appeared), ``start``/``end`` (**seconds** since ``clear()``) and
        ``reused`` (True when the same connection carried an earlier request).
        """
        rows = sorted(self.visits, key=lambda v: v.start)
        numbers: dict[int, int] = {}
        out = []
        for visit in rows:
            reused = visit.port in numbers
            numbers.setdefault(visit.port, len(numbers) + 1)
            out.append(
                {
                    "port": visit.port,
                    "connection": numbers[visit.port],
                    "start": visit.start - self.t0,
                    "end": visit.end - self.t0,
                    "reused": reused,
                }
            )
        columns = ["port", "connection", "start", "end", "reused"]
        table: pd.DataFrame = pd.DataFrame(out, columns=columns)
        return table

    @property
    def connections(self) -> int:
        """Distinct TCP connections (client ports) since ``clear()``."""
        return len({visit.port for visit in self.visits})

    def ports(self) -> set[int]:
        """The client ports seen since ``clear()``."""
        return {visit.port for visit in self.visits}

    def peak_concurrent(self) -> int:
        """Most requests the upstream was handling at the same instant."""
        return peak_overlap([(v.start, v.end) for v in self.visits])

    def __len__(self) -> int:
        return len(self.visits)


class RecordConnections:
    """ASGI middleware that appends a ``Visit`` to ``log`` for every HTTP request.

    Add it to the upstream app: ``app.add_middleware(RecordConnections, log=log)``.
    """

    def __init__(self, app: ASGIApp, log: ConnectionLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        port = int(client[1]) if client else -1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.log.visits.append(Visit(port, started, time.perf_counter()))


def set_thread_limit(server: Server, tokens: int) -> int:
    """Give a running server's event loop ``tokens`` worker-thread tokens.

    Sets ``total_tokens`` of the server loop's default anyio ``CapacityLimiter`` (the one
    ``def`` endpoints borrow from) and records it on ``server.thread_limit`` so later runs
    report it. Returns the previous number of tokens.
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens must be an int ≥ 1, got {tokens!r}")

    async def change() -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        previous = int(limiter.total_tokens)
        limiter.total_tokens = tokens
        return previous

    previous: int = server.call_soon(change())
    server.thread_limit = tokens
    return previous


def plot_connections(log: ConnectionLog, title: str, max_lanes: int = 60) -> LabFigure:
    """One lane per upstream TCP connection, a bar per request it carried (time in **ms**
    since ``log.clear()``); requests on a reused connection are drawn darker."""
    table = log.frame()
    fig = LabFigure(figsize=(WIDTH_IN, 4.8), layout="constrained")
    ax = fig.subplots()
    shown = table[table["connection"] <= max_lanes]
    for reused, color, label in ((False, "#9ecae1", "first request on a new connection"),
                                 (True, BUSY_COLOR, "request on a reused connection")):  # fmt: skip
        part = shown[shown["reused"] == reused]
        hbars(
            ax, part["connection"], (part["end"] - part["start"]) * 1000, part["start"] * 1000,
            height=0.8, color=color, edgecolor="white", linewidth=0.4,
            label=f"{label} ({len(table[table['reused'] == reused])})",
        )  # fmt: skip
    lanes = int(table["connection"].max()) if len(table) else 0
    if lanes > max_lanes:
        ax.text(0.99, 0.02, f"{lanes - max_lanes} more connections not drawn", ha="right",
                transform=ax.transAxes, fontsize=SMALL)  # fmt: skip
    ax.set_ylim(min(lanes, max_lanes) + 0.5, 0.5)
    ax.set_xlabel("time since the burst started (ms), upstream's view", fontsize=FONT)
    ax.set_ylabel("TCP connection #", fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    ax.set_title(textwrap.fill(title, 110), fontsize=FONT, loc="left")
    ax.grid(axis="x", alpha=0.3)
    # below the panel, so it never hides a lane
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=SMALL)
    return fig


def _package(filename: str, function: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "importlib" in filename:
        return "import system (finding modules)"
    if filename == "~":  # a built-in: name the method, e.g. the socket calls
        name = function.strip("<>").removeprefix("built-in ").removeprefix("method ")
        return "built-in " + name.split(" of ")[0]
    if "/asyncio/" in filename:
        return "asyncio"
    return filename.rsplit("/", 1)[-1]


def profile_by_package(stats: pstats.Stats, calls: int, top: int = 8) -> pd.DataFrame:
    """Where a profiled burst spent its CPU, by the package each function lives in.

    Sums the *own* time (``tottime``, not counting callees) of every profiled function by
    its package (``httpcore``, ``anyio`` …; Python's import system and built-ins get rows of
    their own). Returns the ``top`` rows plus an ``everything else`` row, with columns
    ``ms_per_call`` (milliseconds per HTTP call, for ``calls`` calls) and ``share`` (% of
    the profiled time). Profiling slows Python code down, so compare shares, not times.
    """
    if calls < 1:
        raise ValueError(f"calls must be ≥ 1, got {calls}")
    if top < 1:
        raise ValueError(f"top must be ≥ 1, got {top}")
    totals: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, own_s, _cum, _callers) in raw.items():
        key = _package(filename, function)
        totals[key] = totals.get(key, 0.0) + float(own_s)
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    rows = ranked[:top]
    rest = sum(seconds for _, seconds in ranked[top:])
    if rest:
        rows.append(("everything else", rest))
    whole = sum(totals.values()) or 1.0
    table: pd.DataFrame = pd.DataFrame(
        {
            "ms_per_call": [round(seconds * 1000 / calls, 3) for _, seconds in rows],
            "share": [f"{100 * seconds / whole:.0f} %" for _, seconds in rows],
        },
        index=pd.Index([name for name, _ in rows], name="package"),
    )
    return table
