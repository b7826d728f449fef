"""Fan-out under a microscope: the load counter of an upstream app that sheds load, a gauge
of calls and tasks alive while an API fans out to it, file-descriptor readings, and a small
helper for exception groups (Python 3.11+).

The upstream is a real app served on loopback; ``UpstreamLoad`` only counts what its
handler admits and refuses. The lab reads those counters directly because the caller and
the upstream share one process (a real service would export them as metrics).
"""

from __future__ import annotations

import asyncio
import builtins
import os
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
    "UpstreamLoad",
    "bytes_per_waiting_task",
    "exception_leaves",
    "open_fds",
    "plot_fanout",
    "raise_open_file_limit",
    "watch",
]

SAMPLE_S = 0.01
FD_EVERY = 5  # count file descriptors on every 5th sample: listing thousands costs ~ms


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


@dataclass
class UpstreamLoad:
    """Requests in flight in an upstream app's handler, which sheds load above ``capacity``.

    The handler calls ``admit()`` when a request arrives — ``False`` means "answer 503
    now" — and ``done()`` when an admitted request finishes. ``peak`` is the most requests
    in flight at once since the last ``reset()``; ``served`` and ``refused`` count requests.
    Use from the upstream's event loop (reading the counters from another thread is fine).
    """

    capacity: int
    in_flight: int = 0
    peak: int = 0
    served: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {self.capacity}")

    def admit(self) -> bool:
        """Count an arriving request; ``False`` (and one more refusal) if ``capacity``
        requests are already in flight."""
        if self.in_flight >= self.capacity:
            self.refused += 1
            return False
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return True

    def done(self) -> None:
        """An admitted request has finished."""
        self.in_flight -= 1
        self.served += 1

    def reset(self) -> None:
        """Zero ``peak``, ``served`` and ``refused`` (``in_flight`` is left as it is)."""
        self.peak = self.served = self.refused = 0


def open_fds() -> int | None:
    """File descriptors this process has open now (sockets included), or ``None`` where
    the OS does not list them in ``/dev/fd`` (Windows)."""
    try:
        return len(os.listdir("/dev/fd"))
    except OSError:
        return None


def raise_open_file_limit(wanted: int) -> int | None:
    """Raise this process's soft limit on open files to at least ``wanted`` if the hard
    limit allows it (macOS starts shells at 256); return the soft limit now in force, or
    ``None`` where there is no such limit to read (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft)


@dataclass
class FanOutGauge:
    """Readings of one fan-out: ``t`` (s since the gauge started), ``calls`` (requests in
    flight at the upstream), ``tasks`` (asyncio tasks alive on the caller's loop), sampled
    every 10 ms; totals filled in when the watched block ends."""

    started: float
    t: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    peak_calls: int = 0
    fds_before: int | None = None
    peak_fds: int | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def frame(self) -> pd.DataFrame:
        """The readings as a table: ``t`` (s), ``calls``, ``tasks``."""
        table: pd.DataFrame = pd.DataFrame({"t": self.t, "calls": self.calls, "tasks": self.tasks})
        return table

    def report(self, results: Sequence[object]) -> dict[str, Any]:
        """What the fan-out did, from its ``results`` (responses or exceptions): ``n``,
        ``ok`` (HTTP 200), ``refused`` (HTTP 503), ``other_errors``, ``peak_calls`` (at the
        upstream), ``peak_tasks``, ``extra_fds`` (the most files open above the count at the
        start, sampled every 50 ms, so a lower bound; ``None`` if unknown), ``seconds`` and
        ``cpu_ms_per_call`` (the whole process's CPU time ÷ calls, **ms**)."""
        statuses = [getattr(r, "status_code", None) for r in results]
        ok, refused = statuses.count(200), statuses.count(503)
        extra_fds = None
        if self.peak_fds is not None and self.fds_before is not None:
            extra_fds = max(self.peak_fds - self.fds_before, 0)
        return {
            "n": len(results),
            "ok": ok,
            "refused": refused,
            "other_errors": len(results) - ok - refused,
            "peak_calls": self.peak_calls,
            "peak_tasks": max(self.tasks, default=0),
            "extra_fds": extra_fds,
            "seconds": round(self.seconds, 3),
            "cpu_ms_per_call": round(self.cpu_seconds * 1000 / max(len(results), 1), 2),
        }


@asynccontextmanager
async def watch(load: UpstreamLoad) -> AsyncIterator[FanOutGauge]:
    """Zero ``load``'s counters, then sample requests in flight at the upstream, tasks
    alive on this loop and (every 50 ms) open file descriptors while the block runs."""
    load.reset()
    gauge = FanOutGauge(started=time.perf_counter(), fds_before=open_fds())
    cpu_started = time.process_time()

    def count_fds() -> None:
        fds = open_fds()
        if fds is not None:
            gauge.peak_fds = max(gauge.peak_fds or 0, fds)

    async def sample() -> None:
        for i in range(10**9):  # bounded; cancelled when the block ends
            gauge.t.append(time.perf_counter() - gauge.started)
            gauge.calls.append(load.in_flight)
            gauge.tasks.append(len(asyncio.all_tasks()))
            if i % FD_EVERY == 0:
                count_fds()
            await asyncio.sleep(SAMPLE_S)

    sampler = asyncio.ensure_future(sample())
    try:
        yield gauge
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        gauge.seconds = time.perf_counter() - gauge.started
        gauge.cpu_seconds = time.process_time() - cpu_started
        gauge.peak_calls = load.peak


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
    """Requests in flight at the upstream (left) and tasks alive on the caller's loop
    (right) over time, one line per fan-out (labelled by ``titles``); time in ms since each
    fan-out started. ``capacity`` draws the upstream's limit; ``title`` goes above both."""
    if len(gauges) != len(titles):
        raise ValueError(f"{len(titles)} titles for {len(gauges)} gauges")
    fig = LabFigure(figsize=(13, 4.8), layout="constrained")
    if title is not None:
        fig.suptitle(title, fontsize=FONT + 2, x=0.01, ha="left")
    left, right = fig.subplots(1, 2)
    colors = [WAITING_COLOR, BUSY_COLOR, "#1f77b4", "#9467bd"]
    for i, (gauge, label) in enumerate(zip(gauges, titles)):
        f = gauge.frame()
        color = colors[i % len(colors)]
        left.step(f["t"] * 1000, f["calls"], where="post", color=color, label=label)
        right.step(f["t"] * 1000, f["tasks"], where="post", color=color, label=label)
    if capacity is not None:
        left.axhline(
            capacity, color="gray", linestyle=":", label=f"upstream sheds above {capacity}"
        )
    for ax, name in (
        (left, "requests in flight at the upstream"),
        (right, "asyncio tasks alive in the API"),
    ):
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("time since the fan-out started (ms)", fontsize=FONT)
        ax.set_ylabel(name, fontsize=FONT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=FONT - 3)
    return fig
