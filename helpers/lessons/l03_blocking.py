"""Tools for lesson 03: a real slow SQLite query, asyncio's slow-callback log, loop stalls.

- ``make_slow_database`` writes a small SQLite file and calibrates a query on it that takes
  about a given time, so the lesson blocks on real database work, not on a sleep.
- ``capture_slow_callbacks`` collects the "Executing … took … seconds" warnings that an
  event loop in debug mode logs (``asyncio/base_events.py``: ``BaseEventLoop._run_once``).
- ``loop_stalls`` lists the intervals the lag probe saw the loop frozen (the blocks of the
  lag panel), and which handlers were running on the loop then; ``frozen_ms`` adds them up
  and ``handler_ms`` adds up the time the handlers ran, so a check can compare the two.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = [
    "SlowCallback",
    "SlowCallbackLog",
    "SlowQuery",
    "capture_slow_callbacks",
    "frozen_ms",
    "handler_ms",
    "loop_stalls",
    "make_slow_database",
]

# A report that walks the orders table in a pseudo-random order, one primary-key lookup
# per step: real B-tree work on the file, and its cost grows linearly with :steps.
REPORT_SQL = """
WITH RECURSIVE walk(step, order_id) AS (
    SELECT 0, 1
    UNION ALL
    SELECT step + 1, (order_id * 7919 + step) % :rows + 1 FROM walk WHERE step < :steps
)
SELECT count(*), round(sum(orders.amount), 2)
FROM walk JOIN orders ON orders.id = walk.order_id
"""


@dataclass(frozen=True)
class SlowQuery:
    """A query on a real SQLite file and how long it took when it was calibrated.

    ``path`` is the database file, ``sql`` and ``params`` go to ``connection.execute``,
    ``seconds`` is the measured duration of one run (best of three, **seconds**).
    """

    path: Path
    sql: str
    params: dict[str, int]
    seconds: float

    def run(self) -> tuple[int, float]:
        """Open the file, run the query once, close it; returns ``(rows walked, total)``."""
        with closing(sqlite3.connect(self.path)) as connection:
            count, total = connection.execute(self.sql, self.params).fetchone()
        return int(count), float(total)


def _time_query(path: Path, params: dict[str, int], repeats: int = 3) -> float:
    best = float("inf")
    with closing(sqlite3.connect(path)) as connection:
        for _ in range(repeats):
            started = time.perf_counter()
            connection.execute(REPORT_SQL, params).fetchone()
            best = min(best, time.perf_counter() - started)
    return best


def make_slow_database(
    directory: str | Path, target_s: float = 0.075, rows: int = 20_000
) -> SlowQuery:
    """Create ``orders.db`` in ``directory`` and calibrate a report query on it.

    Args:
        directory: an existing folder (use a ``tempfile.TemporaryDirectory``); the file
            ``orders.db`` in it is replaced.
        target_s: how long one run of the query should take, in **seconds** (0.01 … 2).
        rows: rows in the ``orders`` table.

    Returns a ``SlowQuery`` whose ``seconds`` is the duration measured after calibration.
    """
    if not 0.01 <= target_s <= 2.0:
        raise ValueError(f"target_s must be between 0.01 and 2 seconds, got {target_s}")
    if not 100 <= rows <= 1_000_000:
        raise ValueError(f"rows must be between 100 and 1000000, got {rows}")
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"directory must be an existing folder, got {str(folder)!r}")
    path = folder / "orders.db"
    path.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, amount REAL)"
        )
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            ((i, i % 97, (i * 37 % 1000) / 10) for i in range(1, rows + 1)),
        )
    params = {"rows": rows, "steps": 2_000}
    took = _time_query(path, params, repeats=1)
    while took < target_s / 10:
        params["steps"] *= 4
        took = _time_query(path, params, repeats=1)
    took = _time_query(path, params)
    params["steps"] = max(1, round(params["steps"] * target_s / took))
    return SlowQuery(path, REPORT_SQL, dict(params), _time_query(path, params))


@dataclass(frozen=True)
class SlowCallback:
    """One slow-callback warning: the thread that logged it, how long the callback ran
    (**milliseconds**), and what the callback was (for a task: its coroutine)."""

    thread: str
    took_ms: float
    callback: str


_CORO = re.compile(
    r"coro=<(?P<name>[^ >]+)(?: (?:[a-z]+, )?(?:running|defined) at (?P<where>[^>\s]+))?"
)


def _describe_callback(text: str) -> str:
    match = _CORO.search(text)
    if match is None:
        return text[:100]
    where = match.group("where")
    return match.group("name") + (f" ({Path(where).name})" if where else "")


class SlowCallbackLog(logging.Handler):
    """A logging handler that keeps asyncio's slow-callback warnings as ``SlowCallback``s."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.entries: list[SlowCallback] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record if it is asyncio's "Executing %s took %.3f seconds"."""
        args = record.args
        if not isinstance(args, tuple) or len(args) != 2:
            return
        if not str(record.msg).startswith("Executing"):
            return
        handle, took_s = args
        if not isinstance(took_s, (int, float)):
            return
        callback = _describe_callback(str(handle))
        self.entries.append(SlowCallback(record.threadName or "?", took_s * 1000, callback))

    def __len__(self) -> int:
        return len(self.entries)

    def frame(self) -> pd.DataFrame:
        """The warnings as a table: ``thread``, ``took_ms``, ``callback``."""
        table: pd.DataFrame = pd.DataFrame(
            [vars(e) for e in self.entries], columns=["thread", "took_ms", "callback"]
        )
        rounded: pd.DataFrame = table.round({"took_ms": 1})
        return rounded


@contextmanager
def capture_slow_callbacks() -> Iterator[SlowCallbackLog]:
    """Collect asyncio's slow-callback warnings logged inside the ``with`` block.

    Attaches a handler to the ``asyncio`` logger and removes it on exit; nothing else about
    the kernel's logging changes, except that the ``asyncio`` logger's level is lowered to
    WARNING for the block if it was set higher, and restored after. The warnings only exist
    for a loop in debug mode (``loop.set_debug(True)``) whose callbacks run longer than
    ``loop.slow_callback_duration`` seconds.
    """
    logger = logging.getLogger("asyncio")
    handler = SlowCallbackLog()
    previous_level = logger.level
    if not logger.isEnabledFor(logging.WARNING):
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def loop_stalls(run: Run, threshold_ms: float = 50.0) -> pd.DataFrame:
    """The lag-probe readings of ``run`` at or above ``threshold_ms`` **milliseconds**.

    One row per freeze, as the lag panel draws it: ``from_ms`` (when the probe should have
    woken) to ``to_ms`` (when it did run), both ms from the burst start, ``lag_ms`` (their
    difference), and ``running_on_loop``: the handlers (``path #id``) that ran on the event
    loop during the freeze, the usual suspects.
    """
    if not threshold_ms > 0:
        raise ValueError(f"threshold_ms must be > 0, got {threshold_ms}")
    requests = run.requests
    on_loop = requests[requests["on_loop"].fillna(False).astype(bool)]
    rows: list[dict[str, object]] = []
    for t, lag_ms in zip(run.lag["t"], run.lag["lag_ms"]):
        if lag_ms < threshold_ms:
            continue
        frozen_from = t - lag_ms / 1000
        culprits = on_loop[(on_loop["start"] < t) & (on_loop["end"] > frozen_from)]
        names = [f"{p} #{i}" for p, i in zip(culprits["path"], culprits["id"])]
        rows.append(
            {
                "from_ms": round(frozen_from * 1000),
                "to_ms": round(t * 1000),
                "lag_ms": round(lag_ms),
                "running_on_loop": ", ".join(names) or "—",
            }
        )
    columns = ["from_ms", "to_ms", "lag_ms", "running_on_loop"]
    table: pd.DataFrame = pd.DataFrame(rows, columns=columns)
    return table


def frozen_ms(run: Run, threshold_ms: float = 50.0) -> float:
    """How long the lag probe saw the loop frozen during ``run``, in **milliseconds**: the
    ``lag_ms`` of every ``loop_stalls`` row (stalls of at least ``threshold_ms``), added up."""
    return float(loop_stalls(run, threshold_ms)["lag_ms"].sum())


def handler_ms(run: Run) -> float:
    """How long the handlers of ``run`` ran, added up, in **milliseconds**.

    Only the time up to the probe's last reading counts, so the result compares fairly with
    ``frozen_ms``: a freeze still going on when the burst ended has no reading yet. A run
    without probe readings (a server the lab did not start) counts every handler in full.
    """
    requests = run.requests.dropna(subset=["start", "end"])
    ends = requests["end"]
    if len(run.lag):
        ends = ends.clip(upper=float(run.lag["t"].max()))
    return float((ends - requests["start"]).clip(lower=0).sum() * 1000)
