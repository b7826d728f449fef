"""Count the threads behind a database driver (lesson 06).

``watch_threads`` samples ``threading.enumerate()`` while a burst runs, counting the threads
aiosqlite starts (one per connection, ``aiosqlite/core.py: Connection.__init__``) and anyio's
worker threads; ``plot_threads`` draws them next to the server's thread-pool gauge.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pandas as pd

from helpers._plots import BUSY_COLOR, FONT, SMALL, WAITING_COLOR, WIDTH_IN, LabFigure
from helpers._probes import Ticker

__all__ = [
    "AIOSQLITE_THREAD",
    "ANYIO_THREAD",
    "ThreadCounts",
    "plot_threads",
    "thread_counts",
    "threads_settled",
    "watch_threads",
]

# aiosqlite starts ``Thread(target=_connection_worker_thread)`` without a name, so Python
# names it "Thread-N (_connection_worker_thread)"; anyio names its workers explicitly.
AIOSQLITE_THREAD = "_connection_worker_thread"
ANYIO_THREAD = "AnyIO worker thread"


def thread_counts() -> dict[str, int]:
    """Live threads of this process right now: ``aiosqlite``, ``anyio`` workers, ``total``."""
    names = [thread.name for thread in threading.enumerate()]
    return {
        "aiosqlite": sum(AIOSQLITE_THREAD in name for name in names),
        "anyio": sum(name == ANYIO_THREAD for name in names),
        "total": len(names),
    }


async def threads_settled(aiosqlite: int, timeout: float = 2.0) -> dict[str, int]:
    """Wait (≤ ``timeout`` **seconds**) until at most ``aiosqlite`` aiosqlite threads are
    alive, then return ``thread_counts()``. A closed connection's thread ends just after
    it hands back its last result, so a count taken at once can catch it still alive."""
    deadline = time.perf_counter() + timeout
    counts = thread_counts()
    while counts["aiosqlite"] > aiosqlite and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
        counts = thread_counts()
    return counts


@dataclass
class ThreadCounts:
    """Readings of ``thread_counts()``: ``t`` in **seconds** since the watch started."""

    t: list[float] = field(default_factory=list)
    aiosqlite: list[int] = field(default_factory=list)
    anyio: list[int] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The readings as a table with columns ``t``, ``aiosqlite``, ``anyio``."""
        table: pd.DataFrame = pd.DataFrame(
            {"t": self.t, "aiosqlite": self.aiosqlite, "anyio": self.anyio}
        )
        return table

    @property
    def peak_aiosqlite(self) -> int:
        """Most aiosqlite connection threads alive at one reading."""
        return max(self.aiosqlite, default=0)


@asynccontextmanager
async def watch_threads(period: float = 0.005) -> AsyncIterator[ThreadCounts]:
    """Count aiosqlite and anyio threads every ``period`` **seconds** while the block runs.

    The sampling task runs on the caller's event loop (the notebook's), which is a
    different loop from the server's, so it keeps reading while the server is busy. One
    more reading is taken as the block ends.
    """
    counts = ThreadCounts()
    t0 = time.perf_counter()

    def read(now: float, late: float) -> None:
        alive = thread_counts()
        counts.t.append(now - t0)
        counts.aiosqlite.append(alive["aiosqlite"])
        counts.anyio.append(alive["anyio"])

    async with Ticker(period, read):
        yield counts
    # One last reading as the block ends: a blocking call at its end (stopping a server that
    # disposes an engine) can end threads after the last tick, and the figure should show it.
    read(time.perf_counter(), 0.0)


def plot_threads(counts: ThreadCounts, busy: pd.DataFrame, title: str) -> LabFigure:
    """aiosqlite threads and anyio worker threads alive over time, with the server's
    thread-pool gauge (``run.pool``: ``t`` and ``busy``) for comparison; time in **ms**."""
    table = counts.frame()
    fig = LabFigure(figsize=(WIDTH_IN, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.step(table["t"] * 1000, table["aiosqlite"], where="post", color=BUSY_COLOR, linewidth=2,
            label="aiosqlite connection threads alive")  # fmt: skip
    ax.step(busy["t"] * 1000, busy["busy"], where="post", color=WAITING_COLOR, linewidth=2,
            label="AnyIO worker threads busy (server gauge)")  # fmt: skip
    ax.set_xlabel("time since the watch started (ms)", fontsize=FONT)
    ax.set_ylabel("threads", fontsize=FONT)
    ax.set_ylim(0, max(counts.peak_aiosqlite, 1) * 1.2 + 1)
    ax.set_title(textwrap.fill(title, int(WIDTH_IN * 72 / ((FONT + 1) * 0.5))), fontsize=FONT + 1,
                 loc="left")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=SMALL)
    ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
