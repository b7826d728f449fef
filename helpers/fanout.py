"""Fan-out under a microscope: the load counter of an upstream app that sheds load, a gauge
of calls, tasks and open files while an API fans out to it (``helpers/open_files.py`` has
the file tools), and a small helper for exception groups (Python 3.11+).

The upstream is a real app served on loopback; ``UpstreamLoad`` only counts what its
handler admits and refuses. The lab reads those counters directly because the caller and
the upstream share one process (a real service would export them as metrics).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from helpers.open_files import AcceptFailures, open_fds, out_of_files
from helpers.plots import BUSY_COLOR, FONT, WAITING_COLOR, LabFigure
from helpers.probes import Ticker

__all__ = [
    "FanOutGauge",
    "UpstreamLoad",
    "bytes_per_waiting_task",
    "exception_leaves",
    "plot_fanout",
    "watch",
]

SAMPLE_S = 0.01
# Count tasks and file descriptors on every 5th sample only: with 10 000 tasks alive,
# asyncio.all_tasks() costs about a millisecond, and so does listing thousands of files.
COUNT_EVERY = 5


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


@dataclass
class FanOutGauge:
    """Readings of one fan-out: ``t`` (s since the gauge started) and ``calls`` (requests in
    flight at the upstream) every 10 ms, ``tasks`` (asyncio tasks alive on the caller's
    loop) every 50 ms (``None`` in between); totals filled in when the watched block ends.
    ``sampling_seconds`` is what the sampling itself cost the caller's loop, and
    ``accept_failures`` how often a server in this process could not accept a connection
    for want of a file."""

    started: float
    t: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    tasks: list[int | None] = field(default_factory=list)
    peak_calls: int = 0
    fds_before: int | None = None
    peak_fds: int | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    sampling_seconds: float = 0.0
    accept_failures: int = 0

    def frame(self) -> pd.DataFrame:
        """The readings as a table: ``t`` (s), ``calls``, ``tasks`` (missing between counts)."""
        table: pd.DataFrame = pd.DataFrame({"t": self.t, "calls": self.calls, "tasks": self.tasks})
        return table

    def report(self, results: Sequence[object]) -> dict[str, Any]:
        """What the fan-out did, from its ``results`` (responses or exceptions): ``n``,
        ``ok`` (HTTP 200), ``refused`` (HTTP 503), ``out_of_files`` (calls that failed with
        "Too many open files"), ``other_errors``, ``peak_calls`` (at the upstream),
        ``peak_tasks`` and ``extra_fds`` (the most files open above the count at the start;
        both sampled every 50 ms, so lower bounds; ``None`` if unknown), ``accept_failures``,
        ``seconds``, ``cpu_ms_per_call`` (the whole process's CPU time ÷ calls, **ms**) and
        ``sampling_ms`` (the gauge's own cost on the caller's loop, **ms**)."""
        statuses = [getattr(r, "status_code", None) for r in results]
        ok, refused = statuses.count(200), statuses.count(503)
        ran_out = sum(isinstance(r, BaseException) and out_of_files(r) for r in results)
        extra_fds = None
        if self.peak_fds is not None and self.fds_before is not None:
            extra_fds = max(self.peak_fds - self.fds_before, 0)
        return {
            "n": len(results),
            "ok": ok,
            "refused": refused,
            "out_of_files": ran_out,
            "other_errors": len(results) - ok - refused - ran_out,
            "peak_calls": self.peak_calls,
            "peak_tasks": max((t for t in self.tasks if t is not None), default=0),
            "extra_fds": extra_fds,
            "accept_failures": self.accept_failures,
            "seconds": round(self.seconds, 3),
            "cpu_ms_per_call": round(self.cpu_seconds * 1000 / max(len(results), 1), 2),
            "sampling_ms": round(self.sampling_seconds * 1000, 1),
        }


@asynccontextmanager
async def watch(load: UpstreamLoad) -> AsyncIterator[FanOutGauge]:
    """Zero ``load``'s counters, then sample requests in flight at the upstream (every
    10 ms), tasks alive on this loop and open file descriptors (every 50 ms) while the
    block runs; meanwhile count asyncio's "accept() out of system resource" log records
    instead of printing them."""
    load.reset()
    gauge = FanOutGauge(started=time.perf_counter(), fds_before=open_fds())
    cpu_started = time.process_time()
    accept_failures = AcceptFailures()
    asyncio_logger = logging.getLogger("asyncio")

    def count_fds() -> None:
        fds = open_fds()
        if fds is not None:
            gauge.peak_fds = max(gauge.peak_fds or 0, fds)

    def read(now: float, late: float) -> None:
        gauge.t.append(now - gauge.started)
        gauge.calls.append(load.in_flight)
        counting = len(gauge.t) % COUNT_EVERY == 1  # the 1st, 6th, 11th … reading
        gauge.tasks.append(len(asyncio.all_tasks()) if counting else None)
        if counting:
            count_fds()
        gauge.sampling_seconds += time.perf_counter() - now

    asyncio_logger.addFilter(accept_failures)
    ticker = Ticker(SAMPLE_S, read)
    ticker.start()
    try:
        yield gauge
    finally:
        await ticker.stop()
        asyncio_logger.removeFilter(accept_failures)
        gauge.seconds = time.perf_counter() - gauge.started
        gauge.cpu_seconds = time.process_time() - cpu_started
        gauge.peak_calls = load.peak
        gauge.accept_failures = accept_failures.count


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
        counted = f.dropna(subset=["tasks"])
        right.step(counted["t"] * 1000, counted["tasks"], where="post", color=color, label=label)
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
    # One legend for both panels, below them, so it hides no reading.
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", fontsize=FONT - 2)
    return fig
