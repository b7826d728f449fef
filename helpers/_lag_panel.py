"""The loop-lag panel: every late wake-up of the probe drawn as the time the loop was taken.

The probe (``helpers._probes.Sampler``) sets its deadline ``period`` seconds after a
reading, sleeps, and reads the clock again. A reading at ``t`` with lag ``lag`` means it
should have woken at ``t - lag`` and could not run until ``t``: for that interval the loop
ran something else (a handler that blocked, a batch of ready callbacks). Each reading is
drawn as a block over exactly that interval, ``lag`` tall, so a 1 s freeze is a 1 s block
on the burst's time axis. The next deadline is set after the reading, so the intervals of
successive readings never overlap and nothing is counted twice. A block is a lower bound: a
stall that began while the probe slept shows only from its deadline on (at most one period,
5 ms, is missed).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from helpers._bars import hbars

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = [
    "LAG_COLOR",
    "LAG_FLOOR_MS",
    "NOTICEABLE_LAG_MS",
    "Stall",
    "arrival_stall",
    "draw_lag",
    "lag_handles",
    "lag_top",
    "stall_blocks",
]

LAG_COLOR = "#9467bd"
THRESHOLD_COLOR = "#d62728"
NOTE_COLOR = "#444444"
# A callback that holds the loop this long is what lesson 03 sets asyncio's debug mode to
# report (slow_callback_duration = 0.05) and what helpers.lessons.l03_blocking.loop_stalls lists.
NOTICEABLE_LAG_MS = 50.0
# The lag axis never shows less than this, so the probe's ordinary 1-5 ms jitter stays a
# sliver at the bottom instead of filling the panel like a freeze.
LAG_FLOOR_MS = 100.0
# A stall is put down to requests arriving when at least ARRIVALS_MIN reached the app inside
# it and it cost at most ARRIVAL_COST_MAX_MS per request. Starting one request on the loop
# (read, parse, middleware, spans, routing, the endpoint up to its first await) measured
# 0.07 ms untraced and 0.23 ms traced on an idle 2-core machine, up to 1.8 ms when other
# programs loaded it 4-fold; a handler that blocks on purpose takes 50 ms or more.
ARRIVALS_MIN = 10
ARRIVAL_COST_MAX_MS = 3.0
# Stalls shorter than this are a sliver on a 100 ms axis; a note on them would be clutter.
NOTE_MIN_MS = 20.0


@dataclass(frozen=True)
class Stall:
    """One late wake-up of the probe: the loop was unavailable from ``start_ms`` to
    ``end_ms`` (ms from the burst start); ``lag_ms`` is their difference."""

    start_ms: float
    end_ms: float
    lag_ms: float

    @property
    def middle_ms(self) -> float:
        """The middle of the interval (ms from the burst start)."""
        return (self.start_ms + self.end_ms) / 2


def _stalls(lag: pd.DataFrame) -> list[Stall]:
    late = lag[lag["lag_ms"] > 0]
    ends = late["t"].to_numpy(dtype=float) * 1000
    lags = late["lag_ms"].to_numpy(dtype=float)
    return [Stall(float(e - g), float(e), float(g)) for e, g in zip(ends, lags)]


def stall_blocks(lag: pd.DataFrame) -> pd.DataFrame:
    """The intervals the loop was unavailable, one row per late probe reading.

    ``lag`` is ``run.lag`` (``t`` in seconds from the burst start, ``lag_ms``). Returns
    ``start_ms``, ``end_ms`` (ms from the burst start) and ``lag_ms``; readings that were
    on time (lag 0) are left out.
    """
    stalls = _stalls(lag)
    table: pd.DataFrame = pd.DataFrame(
        {
            "start_ms": [s.start_ms for s in stalls],
            "end_ms": [s.end_ms for s in stalls],
            "lag_ms": [s.lag_ms for s in stalls],
        }
    )
    return table


def lag_top(runs: Sequence[Run]) -> float:
    """Upper limit of a lag axis shared by ``runs`` (ms): the floor, or room over the
    longest stall."""
    peaks = [float(r.lag["lag_ms"].max()) for r in runs if len(r.lag)]
    return max([LAG_FLOOR_MS] + [p * 1.25 for p in peaks])


def arrival_stall(run: Run) -> tuple[Stall, int] | None:
    """The longest stall explained by requests arriving, and how many arrived in it.

    When many requests reach the server at once, the loop runs the first step of each
    (read, parse, middleware, tracing, routing, the endpoint up to its first ``await``)
    back to back in one pass, and the probe waits for all of them. Returns ``None`` when no
    stall of ≥ ``NOTE_MIN_MS`` had ≥ ``ARRIVALS_MIN`` arrivals at ≤ ``ARRIVAL_COST_MAX_MS``
    each.
    """
    arrived = run.requests["arrived"].dropna().to_numpy(dtype=float) * 1000
    best: tuple[Stall, int] | None = None
    for stall in _stalls(run.lag):
        if stall.lag_ms < NOTE_MIN_MS:
            continue
        inside = int(((arrived >= stall.start_ms) & (arrived <= stall.end_ms)).sum())
        cheap = inside >= ARRIVALS_MIN and stall.lag_ms / inside <= ARRIVAL_COST_MAX_MS
        if cheap and (best is None or stall.lag_ms > best[0].lag_ms):
            best = (stall, inside)
    return best


def draw_lag(ax: Axes, run: Run, top: float | None = None, font: float = 11) -> None:
    """Draw ``run``'s stalls as blocks on ``ax`` (x in ms, y = lag in ms, 0 to ``top``).

    Adds the "noticeable" threshold line, labels the longest stall with its length, and
    explains a stall caused by a burst of arrivals. A run without probe readings (a server
    the lab did not start) gets one line of text instead of an empty panel. ``font`` in pt.
    """
    top = top if top is not None else lag_top([run])
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 5, 10]))
    if not len(run.lag):
        ax.text(
            0.5, 0.5, "loop lag not measured: the lab did not start this server",
            transform=ax.transAxes, ha="center", va="center", fontsize=font,
        )  # fmt: skip
        return
    stalls = _stalls(run.lag)
    lags = np.array([s.lag_ms for s in stalls])
    starts = np.array([s.start_ms for s in stalls])
    hbars(ax, lags / 2, lags, starts, height=lags.tolist(), color=LAG_COLOR, zorder=3)
    ax.axhline(NOTICEABLE_LAG_MS, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2, zorder=2)
    note = arrival_stall(run)
    worst = max(stalls, key=lambda s: s.lag_ms, default=None)
    frozen = worst is not None and worst.lag_ms >= NOTICEABLE_LAG_MS
    if worst is not None and frozen and (note is None or note[0] != worst):
        ax.annotate(
            f"frozen {worst.lag_ms:.0f} ms", (worst.middle_ms, min(worst.lag_ms, top)),
            xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
            fontsize=font, color=LAG_COLOR,
        ).set_in_layout(False)  # fmt: skip
    elif note is None:
        longest = worst.lag_ms if worst is not None else 0.0
        ax.text(
            0.01, 0.95, f"longest stall {longest:.0f} ms", transform=ax.transAxes,
            va="top", fontsize=font, color=NOTE_COLOR,
        ).set_in_layout(False)  # fmt: skip
    if note is not None:
        _explain_arrivals(ax, run, *note, font=font)


def _explain_arrivals(ax: Axes, run: Run, stall: Stall, inside: int, font: float) -> None:
    # The sentence goes under the panel's axis label, where it covers no block (nor the
    # "frozen" label) however many stalls the panel holds; it names the stall by its start.
    # Only traced runs know when requests arrived, so the cost always includes the tracing.
    text = (
        f"Loop lag: {inside} requests arrived in the {stall.lag_ms:.0f} ms stall at "
        f"{stall.start_ms:.0f} ms; the loop starts them in one pass, "
        f"{stall.lag_ms / inside:.1f} ms each with tracing."
    )
    # Wrap to the panel's width, assuming a character is about 0.55 em wide.
    width_in = ax.get_position().width * ax.get_figure().get_figwidth()  # type: ignore[union-attr]
    chars = max(24, int(width_in * 72 / (font * 0.55)))
    ax.annotate(
        textwrap.fill(text, chars), (0, 0), xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -3), textcoords="offset points", ha="left", va="top", fontsize=font,
        color=NOTE_COLOR,
    )  # fmt: skip


def lag_handles() -> list[Artist]:
    """Legend entries for the lag panel."""
    threshold = Line2D(
        [], [], color=THRESHOLD_COLOR, linestyle="--",
        label=f"noticeable: {NOTICEABLE_LAG_MS:.0f} ms",
    )  # fmt: skip
    return [Patch(color=LAG_COLOR, label="loop stalled (probe late), width = how long"), threshold]
