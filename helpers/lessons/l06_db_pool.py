"""Watch a SQLAlchemy connection pool (lesson 06).

``PoolRecorder`` listens to a pool's ``checkout`` / ``checkin`` events
(``sqlalchemy/pool/events.py: PoolEvents``) and keeps, for every time a connection was
handed out, which connection, which thread took it and how long it was held; and to its
``connect`` / ``close`` events, to see when the pool opens a connection and when it closes
one (an overflow connection returned to a full pool). ``plot_pool`` draws the holds per
connection above a count of handlers running vs connections checked out.
"""

from __future__ import annotations

import textwrap
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from helpers._bars import hbars
from helpers._plots import BUSY_COLOR, FONT, SMALL, WAITING_COLOR, WIDTH_IN, LabFigure
from helpers._stats import open_over_time

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = ["PoolRecorder", "plot_pool"]


@dataclass
class _Hold:
    connection: int
    thread: str
    checkout: float
    checkin: float | None = None


@dataclass
class _Lifecycle:
    connection: int
    event: str  # "connect" or "close"
    t: float


class PoolRecorder:
    """Records every checkout and checkin of an engine's connection pool, and every
    connection the pool opens or closes.

    ``PoolRecorder(engine)`` starts listening (for an ``AsyncEngine`` pass
    ``engine.sync_engine``); ``mark()`` restarts the clock and forgets earlier holds and
    opens/closes; ``close()`` stops listening. Times are **seconds** since ``mark()``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.t0 = time.perf_counter()
        self._holds: list[_Hold] = []
        self._lifecycle: list[_Lifecycle] = []
        self._open: dict[int, _Hold] = {}
        self._numbers: dict[int, int] = {}
        # Keeping every record alive keeps its id() unique: a closed overflow record could
        # otherwise be collected and a new connection's record get its id and its number.
        self._records: list[Any] = []
        self._lock = threading.Lock()
        for name, handler in self._listeners():
            event.listen(engine, name, handler)

    def _listeners(self) -> list[tuple[str, Any]]:
        return [("checkout", self._on_checkout), ("checkin", self._on_checkin),
                ("connect", self._on_connect), ("close", self._on_close)]  # fmt: skip

    def _number(self, record: Any) -> int:
        """The record's number (1, 2, … in first-seen order); call with the lock held."""
        if id(record) not in self._numbers:
            self._numbers[id(record)] = len(self._numbers) + 1
            self._records.append(record)
        return self._numbers[id(record)]

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        now = time.perf_counter()
        with self._lock:
            hold = _Hold(self._number(record), threading.current_thread().name, now)
            self._holds.append(hold)
            self._open[id(record)] = hold

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        with self._lock:
            hold = self._open.pop(id(record), None)
        if hold is not None:
            hold.checkin = time.perf_counter()

    def _on_connect(self, dbapi_connection: Any, record: Any) -> None:
        self._note(record, "connect")

    def _on_close(self, dbapi_connection: Any, record: Any) -> None:
        self._note(record, "close")

    def _note(self, record: Any, what: str) -> None:
        with self._lock:  # stamped under the lock, so the list stays in time order
            self._lifecycle.append(_Lifecycle(self._number(record), what, time.perf_counter()))

    def mark(self) -> None:
        """Forget the holds, opens and closes recorded so far and restart the clock (call it
        just before a burst; it runs a few milliseconds ahead of the burst's own clock).
        Connections still checked out stay in ``holds()``."""
        with self._lock:
            self._holds = [hold for hold in self._open.values()]
            self._lifecycle = []
            self.t0 = time.perf_counter()

    def close(self) -> None:
        """Stop listening to the engine's pool."""
        for name, handler in self._listeners():
            if event.contains(self.engine, name, handler):
                event.remove(self.engine, name, handler)

    def holds(self) -> pd.DataFrame:
        """One row per checkout: ``connection`` (1, 2, … in first-use order), ``thread``
        (name of the thread that checked it out), ``checkout`` and ``checkin`` (**seconds**
        since ``mark()``; ``checkin`` is NaN while still held) and ``held_ms``."""
        with self._lock:
            holds = list(self._holds)
        rows = [
            {
                "connection": h.connection,
                "thread": h.thread,
                "checkout": h.checkout - self.t0,
                "checkin": (h.checkin - self.t0) if h.checkin is not None else np.nan,
            }
            for h in holds
        ]
        table = pd.DataFrame(rows, columns=["connection", "thread", "checkout", "checkin"])
        table["held_ms"] = (table["checkin"] - table["checkout"]) * 1000
        result: pd.DataFrame = table
        return result

    def peak_checked_out(self) -> int:
        """Most connections checked out at the same instant since ``mark()``."""
        return int(_count_over_time(self.holds(), "checkout", "checkin")[1].max(initial=0))

    def connections_used(self) -> int:
        """Distinct pooled connections handed out since ``mark()``."""
        return int(self.holds()["connection"].nunique())

    def lifecycle(self) -> pd.DataFrame:
        """One row per connection the pool opened or closed since ``mark()``, in order:
        ``connection`` (numbered as in ``holds()``), ``event`` (``"connect"``: a new DBAPI
        connection; ``"close"``: the pool closed one) and ``t`` (**seconds** since
        ``mark()``)."""
        with self._lock:
            events = list(self._lifecycle)
        rows = [{"connection": e.connection, "event": e.event, "t": e.t - self.t0} for e in events]
        table: pd.DataFrame = pd.DataFrame(rows, columns=["connection", "event", "t"])
        return table

    def connections_opened(self) -> int:
        """New DBAPI connections the pool opened since ``mark()`` (``connect`` events)."""
        return int((self.lifecycle()["event"] == "connect").sum())

    def connections_closed(self) -> int:
        """DBAPI connections the pool closed since ``mark()`` (``close`` events) — for a
        ``QueuePool``, the ones given back while ``pool_size`` others were already idle."""
        return int((self.lifecycle()["event"] == "close").sum())

    def idle_in_pool(self) -> int:
        """Connections sitting in the pool right now, open and ready to be handed out
        (``QueuePool.checkedin()``). Raises ``TypeError`` for a pool that keeps no queue."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            raise TypeError(
                f"idle_in_pool() needs a QueuePool (or AsyncAdaptedQueuePool), "
                f"this engine has a {type(pool).__name__}"
            )
        return pool.checkedin()


def _wrap(title: str) -> str:
    """Wrap a title to the figure's width: ~0.5 em per character at ``FONT + 1`` pt."""
    return textwrap.fill(title, int(WIDTH_IN * 72 / ((FONT + 1) * 0.5)))


def _count_over_time(table: pd.DataFrame, start: str, end: str) -> tuple[Any, Any]:
    """Step function of how many ``[start, end)`` intervals are open: (times, counts); a
    missing end (a connection still checked out) keeps its interval open."""
    intervals = list(zip(table[start].astype(float), table[end].astype(float)))
    times, counts = open_over_time(intervals, open_ended=True)
    return np.asarray(times), np.asarray(counts)


def plot_pool(
    run: Run, recorder: PoolRecorder, pool_size: int, title: str, max_overflow: int = 0
) -> LabFigure:
    """Two panels on one time axis (**ms**): each pooled connection's holds, then how many
    handlers were running vs how many connections were checked out. Failed requests
    (status ≥ 500 or no answer) are marked with a red ✕ where the client got the answer;
    a connection the pool closed gets a black ✕ on its lane when it was closed. With
    ``max_overflow`` > 0 a second line marks ``pool_size + max_overflow``."""
    if max_overflow < 0:
        raise ValueError(f"max_overflow must be ≥ 0 (no line for unlimited), got {max_overflow}")
    holds = recorder.holds()
    closes = recorder.lifecycle()
    closes = closes[closes["event"] == "close"]
    fig = LabFigure(figsize=(WIDTH_IN, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.2, 1])
    end_ms = float(run.requests["received"].max()) * 1000
    held_until = holds["checkin"].fillna(end_ms / 1000)
    hbars(top, holds["connection"], (held_until - holds["checkout"]) * 1000,
          holds["checkout"] * 1000, height=0.7, color=BUSY_COLOR, edgecolor="white",
          linewidth=0.5)  # fmt: skip
    if len(closes):
        top.scatter(closes["t"] * 1000, closes["connection"], marker="x", color="black", s=50,
                    zorder=4, label=f"closed by the pool ({len(closes)})")  # fmt: skip
        top.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    lanes = int(max([1, *holds["connection"], *closes["connection"]]))
    top.set_ylim(lanes + 0.5, 0.5)
    top.set_yticks(range(1, lanes + 1))
    top.set_ylabel("connection #", fontsize=FONT)
    top.set_title(_wrap(title), fontsize=FONT + 1, loc="left")
    r = run.requests[run.requests["start"].notna()]
    t_run, running = _count_over_time(r, "start", "end")
    t_pool, checked_out = _count_over_time(holds, "checkout", "checkin")
    bottom.step(t_run * 1000, running, where="post", color="#1f77b4", linewidth=2,
                label="endpoint handlers running")  # fmt: skip
    bottom.step(t_pool * 1000, checked_out, where="post", color=BUSY_COLOR, linewidth=2,
                label="connections checked out")  # fmt: skip
    bottom.axhline(pool_size, color="gray", linestyle=":", label=f"pool size ({pool_size})")
    if max_overflow:
        bottom.axhline(pool_size + max_overflow, color="gray", linestyle="--",
                       label=f"pool_size + max_overflow ({pool_size + max_overflow})")  # fmt: skip
    failed = run.requests[(run.requests["status"].fillna(599) >= 500)]
    if len(failed):
        bottom.scatter(failed["received"] * 1000, np.zeros(len(failed)) + 0.3, marker="x",
                       color=WAITING_COLOR, s=60, zorder=4,
                       label=f"failed requests ({len(failed)})")  # fmt: skip
    bottom.set_ylabel("how many at once", fontsize=FONT)
    bottom.set_xlabel("time since the burst started (ms)", fontsize=FONT)
    bottom.set_ylim(0, max(int(running.max(initial=0)), pool_size + max_overflow) * 1.15 + 1)
    for ax in (top, bottom):
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=SMALL)
    bottom.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
