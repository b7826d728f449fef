"""Tools for lesson 05: watch an upstream service's TCP connections, and size thread waves.

- ``RecordConnections`` is a tiny ASGI middleware for the *upstream* app. For every HTTP
  request it keeps the client's port number (``scope["client"]``) and when the request
  started and ended. Each TCP connection has its own client port, so distinct ports are
  distinct connections, and one port seen many times is a kept-alive connection reused.
- ``ConnectionLog`` holds those visits and turns them into a table and a figure.
- ``set_thread_limit`` changes a running server's worker-thread tokens, and
  ``predicted_waves`` / ``plot_ratio_sweep`` compare measured slowdowns with the number of
  thread-pool waves that Little's law predicts.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

import anyio.to_thread
import httpx
import numpy as np
import pandas as pd
from starlette.types import ASGIApp, Receive, Scope, Send

from helpers.bars import hbars
from helpers.plots import BUSY_COLOR, FONT, LabFigure
from helpers.server import Server
from helpers.stats import peak_overlap

__all__ = [
    "BurstCost",
    "ConnectionLog",
    "RecordConnections",
    "Visit",
    "client_burst",
    "plot_connections",
    "plot_sweep",
    "predicted_waves",
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


def predicted_waves(n: int, slots: int) -> int:
    """How many rounds ``n`` equal jobs need on ``slots`` parallel slots: ⌈n / slots⌉."""
    if n < 0 or slots < 1:
        raise ValueError(f"need n ≥ 0 and slots ≥ 1, got n={n}, slots={slots}")
    return math.ceil(n / slots)


def plot_connections(log: ConnectionLog, title: str, max_lanes: int = 60) -> LabFigure:
    """One lane per upstream TCP connection, a bar per request it carried (time in **ms**
    since ``log.clear()``); requests on a reused connection are drawn darker."""
    table = log.frame()
    fig = LabFigure(figsize=(13, 4.5), layout="constrained")
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
                transform=ax.transAxes, fontsize=FONT - 2)  # fmt: skip
    ax.set_ylim(min(lanes, max_lanes) + 0.5, 0.5)
    ax.set_xlabel("time since the burst started (ms), upstream's view", fontsize=FONT)
    ax.set_ylabel("TCP connection #", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=FONT - 2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_sweep(table: pd.DataFrame, slots: int, title: str) -> LabFigure:
    """Two panels against the number of concurrent requests ``n``, one colour per upstream
    latency: the makespans (**ms**) of ``def`` + blocking client (with Little's-law
    staircase ⌈n / slots⌉ × latency) and of ``async def`` + async client; then their ratio
    next to the predicted number of thread waves.

    ``table`` needs columns ``n``, ``latency_s``, ``def_s``, ``async_s`` and ``ratio``;
    ``slots`` is the thread limit.
    """
    missing = {"n", "latency_s", "def_s", "async_s", "ratio"} - set(table.columns)
    if missing:
        raise ValueError(f"table is missing columns {sorted(missing)}")
    fig = LabFigure(figsize=(14, 5), layout="constrained")
    left, right = fig.subplots(1, 2)
    ns = sorted({int(n) for n in table["n"]})
    grid = np.arange(1, max(ns) + 1)
    waves = np.array([predicted_waves(int(n), slots) for n in grid])
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for k, latency in enumerate(sorted(float(x) for x in table["latency_s"].unique())):
        part = table[table["latency_s"] == latency].sort_values("n")
        color = palette[k % len(palette)]
        name = f"{latency * 1000:.0f} ms upstream"
        left.step(grid, waves * latency * 1000, where="post", color=color, linestyle=":",
                  linewidth=1)  # fmt: skip
        left.plot(part["n"], part["def_s"] * 1000, marker="o", color=color, linewidth=2,
                  label=f"def + requests, {name}")  # fmt: skip
        left.plot(part["n"], part["async_s"] * 1000, marker="s", color=color, linewidth=2,
                  linestyle="--", label=f"async + httpx, {name}")  # fmt: skip
        right.plot(part["n"], part["ratio"], marker="o", color=color, linewidth=2, label=name)
    right.step(grid, waves, where="post", color="gray", linestyle=":",
               label=f"⌈n / {slots}⌉ thread waves")  # fmt: skip
    left.set_ylabel("makespan (ms); dotted: ⌈n / threads⌉ × latency", fontsize=FONT)
    right.set_ylabel("makespan ratio: def ÷ async", fontsize=FONT)
    right.set_ylim(0, max(float(waves.max()), float(table["ratio"].max())) + 0.8)
    for ax in (left, right):
        ax.set_xlabel("concurrent requests n", fontsize=FONT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT - 3, loc="upper left")
    fig.suptitle(title, fontsize=FONT + 2, x=0.01, ha="left")
    return fig


@dataclass(frozen=True)
class BurstCost:
    """What one client burst cost: ``wall_s`` (first send → last answer, **seconds**) and
    ``cpu_ms_per_call`` (CPU time of the calling thread per call, **milliseconds**)."""

    wall_s: float
    cpu_ms_per_call: float


async def client_burst(client: httpx.AsyncClient, url: str, n: int, seconds: float) -> BurstCost:
    """Send ``n`` GETs to ``url?seconds=…`` at once through ``client`` and measure the cost.

    The CPU time is ``time.thread_time()`` of the thread running the event loop, so it counts
    only the client's own work (the servers run in other threads). Every answer must be 200.
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    cpu_started, started = time.thread_time(), time.perf_counter()
    replies = await asyncio.gather(
        *(client.get(url, params={"seconds": seconds}) for _ in range(n))
    )
    took, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    bad = [reply.status_code for reply in replies if reply.status_code != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {n} calls failed with status {sorted(set(bad))}")
    return BurstCost(took, cpu * 1000 / n)
