"""Step markers inside handlers: see, measured, how coroutines take turns on one thread.

A handler calls ``log.mark(lane, step)`` at the points it wants to see. Each mark opens a
*segment* of its lane that lasts until the lane's next mark:

- a step whose name starts with ``"await"`` is time spent suspended (the thread is free
  for other work);
- any other step (``"run"``, ``"compute"``, …) is time spent running on a thread;
- the lane's last mark (e.g. ``"return"``) only closes the previous segment.

    log = StepLog()

    @app.get("/steps")
    async def steps(rid: int):
        log.mark(f"request {rid}", "run")
        ...
        log.mark(f"request {rid}", "await sleep")
        await asyncio.sleep(0.01)
        log.mark(f"request {rid}", "return")

``plot_steps(log)`` draws a lane per request plus a lane for each thread that ran
segments, so one event loop handing its thread from request to request is visible.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import pandas as pd
from matplotlib import colormaps
from matplotlib.patches import Patch

from helpers._bars import hbars
from helpers._plots import FONT, SMALL, WIDTH_IN, LabFigure
from helpers._stats import peak_overlap

__all__ = ["Mark", "StepLog", "loop_switches", "plot_steps"]

AWAIT_PREFIX = "await"
SEGMENT_COLUMNS = ["lane", "step", "start_ms", "end_ms", "duration_ms", "running", "thread_id"]


@dataclass(frozen=True)
class Mark:
    """One step marker: ``t`` is ``time.perf_counter()`` seconds, ``thread_id`` the
    ``threading.get_ident()`` of the thread that called ``mark``."""

    lane: str
    step: str
    t: float
    thread_id: int


class StepLog:
    """Collects step markers from handlers; safe to call from any thread."""

    def __init__(self) -> None:
        self._marks: list[Mark] = []
        self._lock = threading.Lock()

    def mark(self, lane: str, step: str) -> None:
        """Record that ``lane`` (e.g. ``"request 3"``) reached ``step`` now.

        Name a step ``"await …"`` right before an ``await`` and anything else (``"run"``)
        right after it; the final mark (``"return"``) closes the lane.
        """
        entry = Mark(str(lane), str(step), time.perf_counter(), threading.get_ident())
        with self._lock:
            self._marks.append(entry)

    def clear(self) -> None:
        """Forget every mark (call before a new experiment)."""
        with self._lock:
            self._marks.clear()

    def __len__(self) -> int:
        return len(self._marks)

    @property
    def marks(self) -> list[Mark]:
        """A copy of the marks in the order they were recorded."""
        with self._lock:
            return list(self._marks)

    def frame(self) -> pd.DataFrame:
        """Marks as a table: ``lane``, ``step``, ``t_ms`` (ms from the first mark),
        ``thread_id``."""
        marks = self.marks
        t0 = min((m.t for m in marks), default=0.0)
        frame: pd.DataFrame = pd.DataFrame(
            [(m.lane, m.step, (m.t - t0) * 1000, m.thread_id) for m in marks],
            columns=["lane", "step", "t_ms", "thread_id"],
        )
        return frame

    def segments(self) -> pd.DataFrame:
        """Segments between consecutive marks of each lane, times in **ms** from the first
        mark: ``lane``, ``step`` (the mark that opened it), ``start_ms``, ``end_ms``,
        ``duration_ms``, ``running`` (False for ``await …`` steps), ``thread_id``."""
        marks = self.marks
        t0 = min((m.t for m in marks), default=0.0)
        last: dict[str, Mark] = {}
        rows = []
        for m in marks:
            previous = last.get(m.lane)
            if previous is not None:
                start = (previous.t - t0) * 1000
                end = (m.t - t0) * 1000
                running = not previous.step.startswith(AWAIT_PREFIX)
                rows.append(
                    (m.lane, previous.step, start, end, end - start, running, previous.thread_id)
                )
            last[m.lane] = m
        frame: pd.DataFrame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
        return frame

    def lanes(self) -> list[str]:
        """Lane names in the order of their first mark."""
        return list(dict.fromkeys(m.lane for m in self.marks))


def loop_switches(log: StepLog) -> dict[str, int]:
    """How the running segments of a log share their thread(s).

    Returns ``switches`` (times the running lane changes, in start order — requests
    handled strictly one after another give ``lanes - 1``), ``running_at_once`` (most
    running segments open at the same instant), ``in_flight`` (most lanes between their
    first and last mark at the same instant) and ``threads`` (distinct threads that ran
    segments).
    """
    seg = log.segments()
    running = seg[seg["running"]].sort_values("start_ms")
    order = running["lane"].tolist()
    switches = sum(a != b for a, b in itertools.pairwise(order))
    marks = log.frame()
    spans = marks.groupby("lane")["t_ms"].agg(["min", "max"])
    return {
        "switches": int(switches),
        "running_at_once": peak_overlap(
            list(zip(running["start_ms"], running["end_ms"], strict=True))
        ),
        "in_flight": peak_overlap(list(zip(spans["min"], spans["max"], strict=True))),
        "threads": int(running["thread_id"].nunique()),
    }


def plot_steps(
    log: StepLog,
    title: str = "",
    *,
    thread_lanes: bool = True,
    thread_names: dict[int, str] | None = None,
    durations: bool = False,
) -> LabFigure:
    """Draw each lane's segments on a time axis in **ms** from the first mark.

    Args:
        log: the marks to draw.
        title: figure title (say the finding).
        thread_lanes: add a lane per thread showing which lane was running on it.
        thread_names: readable names for thread ids, e.g. ``{server.loop_thread_id:
            "event loop"}``; others are numbered.
        durations: write each lane's total (first to last mark, ms) at its right end.
    """
    seg = log.segments()
    lanes = log.lanes()
    if not lanes:
        raise ValueError("the log has no marks; fire some requests at the handler first")
    palette = colormaps["tab10"]
    color = {lane: palette(i % 10) for i, lane in enumerate(lanes)}
    running = seg[seg["running"]]
    threads = list(dict.fromkeys(running["thread_id"])) if thread_lanes else []
    names = dict(thread_names or {})
    for i, thread in enumerate(t for t in threads if t not in names):
        names[thread] = f"thread {i + 1}"
    rows = [*lanes, *(f"{names[t]} (thread)" for t in threads)]
    fig = LabFigure(figsize=(WIDTH_IN, 1.4 + 0.45 * len(rows)), layout="constrained")
    ax = fig.subplots()
    for y, lane in enumerate(lanes):
        mine = seg[seg["lane"] == lane]
        for busy, height, alpha in ((True, 0.6, 1.0), (False, 0.35, 0.3)):
            part = mine[mine["running"] == busy]
            hbars(ax, y, part["duration_ms"], part["start_ms"], height=height, color=color[lane],
                  alpha=alpha)  # fmt: skip
        if durations and len(mine):
            total = mine["end_ms"].max() - mine["start_ms"].min()
            ax.text(mine["end_ms"].max() + 2, y, f"{total:.0f} ms", va="center",
                    fontsize=SMALL)  # fmt: skip
    for k, thread in enumerate(threads):
        y = len(lanes) + k
        on_thread = running[running["thread_id"] == thread]
        hbars(
            ax, y, on_thread["duration_ms"], on_thread["start_ms"], height=0.7,
            color=[color[lane] for lane in on_thread["lane"]],
        )  # fmt: skip
    if durations:
        ax.margins(x=0.1)  # room for the totals written right of the bars
    if threads:
        ax.axhline(len(lanes) - 0.5, color="gray", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=SMALL + 1)
    ax.tick_params(axis="x", labelsize=SMALL)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("time since the first mark (ms)", fontsize=FONT)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    handles = [
        Patch(color="gray", label="running (holds the thread)"),
        Patch(color="gray", alpha=0.3, label="awaiting (thread free)"),
    ]
    # Below the axis, not beside it: the time axis keeps the figure's whole width.
    fig.legend(handles=handles, fontsize=SMALL, loc="outside lower right", ncols=2,
               frameon=False)  # fmt: skip
    return fig
