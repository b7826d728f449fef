"""Fan-out under a microscope: a stand-in upstream with a capacity, a gauge of how many calls
and tasks are alive, and a small helper for exception groups (Python 3.11+).

Why a stand-in and not HTTP: the lab's client, server and upstream share one Python process
(and its GIL), where one real loopback HTTP call costs milliseconds of CPU; 10 000 of them
would take minutes, and 10 000 sockets at once would exhaust the process's file
descriptors. ``SimulatedUpstream.call`` keeps what the lesson needs — a latency and a
concurrency limit above which the upstream refuses, like a service answering 503 — and
costs microseconds.
"""

from __future__ import annotations

import asyncio
import builtins
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from helpers.plots import BUSY_COLOR, FONT, WAITING_COLOR, LabFigure

__all__ = [
    "FanOutGauge",
    "SimulatedUpstream",
    "UpstreamBusy",
    "bytes_per_waiting_task",
    "exception_leaves",
    "plot_fanout",
]

SAMPLE_S = 0.01


def exception_leaves(exc: BaseException) -> list[BaseException]:
    """The individual exceptions inside ``exc``: the leaves of an ``ExceptionGroup``
    (nested groups flattened), or ``[exc]`` for an ordinary exception.

    Lets notebook code handle ``asyncio.TaskGroup`` errors with a plain ``except`` that
    is valid syntax on every Python version (``except*`` is a SyntaxError before 3.11).
    """
    group_type = getattr(builtins, "BaseExceptionGroup", None)  # None before Python 3.11
    if group_type is not None and isinstance(exc, group_type):
        inner: Sequence[BaseException] = getattr(exc, "exceptions", ())
        return [leaf for member in inner for leaf in exception_leaves(member)]
    return [exc]


class UpstreamBusy(Exception):
    """The stand-in upstream refused a call: too many were in flight (think HTTP 503)."""


@dataclass
class FanOutGauge:
    """Readings of one fan-out: ``t`` (s since the gauge started), ``calls`` (upstream calls
    in flight), ``tasks`` (asyncio tasks alive on the loop), sampled every 10 ms."""

    started: float
    t: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    peak_calls: int = 0
    seconds: float = 0.0

    def frame(self) -> pd.DataFrame:
        """The readings as a table: ``t`` (s), ``calls``, ``tasks``."""
        table: pd.DataFrame = pd.DataFrame({"t": self.t, "calls": self.calls, "tasks": self.tasks})
        return table

    def report(self, results: Sequence[Any]) -> dict[str, Any]:
        """What the fan-out did: ``n``, ``ok``, ``refused`` (``UpstreamBusy``), ``other_errors``,
        ``peak_calls``, ``peak_tasks``, ``seconds``."""
        refused = sum(isinstance(r, UpstreamBusy) for r in results)
        errors = sum(isinstance(r, BaseException) for r in results)
        return {
            "n": len(results),
            "ok": len(results) - errors,
            "refused": refused,
            "other_errors": errors - refused,
            "peak_calls": self.peak_calls,
            "peak_tasks": max(self.tasks, default=0),
            "seconds": round(self.seconds, 3),
        }


class SimulatedUpstream:
    """An upstream service stand-in: each call takes ``latency_s`` seconds; a call that
    arrives while ``capacity`` calls are in flight is refused after ``reject_s`` seconds
    with ``UpstreamBusy``. Use from one event loop."""

    def __init__(self, latency_s: float = 0.01, capacity: int = 200, reject_s: float = 0.002):
        if not latency_s > 0:
            raise ValueError(f"latency_s must be > 0 seconds, got {latency_s!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self.latency_s = latency_s
        self.capacity = capacity
        self.reject_s = reject_s
        self.in_flight = 0
        self.gauge: FanOutGauge | None = None

    async def call(self, item: int) -> int:
        """One upstream call for ``item``; returns ``item`` or raises ``UpstreamBusy``."""
        self.in_flight += 1
        gauge = self.gauge
        if gauge is not None and self.in_flight > gauge.peak_calls:
            gauge.peak_calls = self.in_flight
        try:
            if self.in_flight > self.capacity:
                await asyncio.sleep(self.reject_s)
                raise UpstreamBusy(f"{self.in_flight} calls in flight > capacity {self.capacity}")
            await asyncio.sleep(self.latency_s)
            return item
        finally:
            self.in_flight -= 1

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[FanOutGauge]:
        """Sample calls in flight and tasks alive every 10 ms while the block runs."""
        gauge = FanOutGauge(started=time.perf_counter())
        self.gauge = gauge

        async def sample() -> None:
            while True:
                gauge.t.append(time.perf_counter() - gauge.started)
                gauge.calls.append(self.in_flight)
                gauge.tasks.append(len(asyncio.all_tasks()))
                await asyncio.sleep(SAMPLE_S)

        sampler = asyncio.ensure_future(sample())
        try:
            yield gauge
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            gauge.seconds = time.perf_counter() - gauge.started


async def bytes_per_waiting_task(count: int = 1000) -> float:
    """Bytes of Python memory one task costs while it waits (measured with ``tracemalloc``
    over ``count`` tasks blocked on one ``asyncio.Event``)."""
    if count < 1:
        raise ValueError(f"count must be ≥ 1, got {count}")
    event = asyncio.Event()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.ensure_future(event.wait()) for _ in range(count)]
        await asyncio.sleep(0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    event.set()
    await asyncio.gather(*tasks)
    return (after - before) / count


def plot_fanout(
    gauges: Sequence[FanOutGauge],
    titles: Sequence[str],
    capacity: int | None = None,
    title: str | None = None,
) -> LabFigure:
    """Upstream calls in flight (left) and tasks alive (right) over time, one line per
    fan-out (labelled by ``titles``); time in ms since each fan-out started. ``capacity``
    draws the upstream's limit; ``title`` goes above both panels."""
    if len(gauges) != len(titles):
        raise ValueError(f"{len(titles)} titles for {len(gauges)} gauges")
    fig = LabFigure(figsize=(13, 4.8), layout="constrained")
    if title is not None:
        fig.suptitle(title, fontsize=FONT + 2, x=0.01, ha="left")
    left, right = fig.subplots(1, 2)
    colors = [WAITING_COLOR, BUSY_COLOR, "#1f77b4", "#9467bd"]
    for i, (gauge, title) in enumerate(zip(gauges, titles)):
        f = gauge.frame()
        color = colors[i % len(colors)]
        left.step(f["t"] * 1000, f["calls"], where="post", color=color, label=title)
        right.step(f["t"] * 1000, f["tasks"], where="post", color=color, label=title)
    if capacity is not None:
        left.axhline(capacity, color="gray", linestyle=":", label=f"upstream capacity ({capacity})")
    for ax, name in ((left, "upstream calls in flight"), (right, "asyncio tasks alive")):
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("time since the fan-out started (ms)", fontsize=FONT)
        ax.set_ylabel(name, fontsize=FONT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT - 3)
    return fig
