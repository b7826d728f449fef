"""Figures of a ``Run``: request timeline, thread swimlanes, loop lag, thread pool.

Every panel shares one time axis in **milliseconds from the burst start**. Figures are
sized for the notebook: ``WIDTH_IN`` inches at ``DPI`` is the ~1170 px a notebook shows
without scaling, so a font of N pt is shown at N pt; no text is under ``SMALL`` pt. At most
two runs sit side by side; more stack. Nothing here changes matplotlib's global state.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from helpers._bars import hbars
from helpers._lag_panel import draw_lag, lag_handles, lag_top
from helpers._pool_panel import (
    BUSY_COLOR,
    WAITING_COLOR,
    draw_pool,
    pool_line,
    pool_top,
    pool_used,
    write_line,
)

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = [
    "BUSY_COLOR",
    "WAITING_COLOR",
    "LabFigure",
    "compare",
    "plot_run",
    "plot_timeline",
    "summary_frame",
]

LOOP_COLOR = "#1f77b4"
QUEUED_COLOR = "#d9d9d9"
CLIENT_COLOR = "#bbbbbb"
DPI = 100
NOTEBOOK_PX = 1170  # width of a JupyterLab output area at 1600 px; wider images are scaled down
WIDTH_IN = NOTEBOOK_PX / DPI
FONT = 13  # titles and axis labels
SMALL = 11  # ticks, legends, notes: the smallest text on any figure
BY_CHOICES = ("request", "thread")
X_LABEL = "time since burst start (ms)"
# Runs whose last answers are within this factor share one time axis; beyond it the short
# run would be squeezed into a corner, so each gets its own scale (and the label says so).
SHARE_X_WITHIN = 2.5


class LabFigure(Figure):
    """A matplotlib ``Figure`` that shows itself as a PNG when it is a cell's result.

    It is not registered with pyplot, so it never appears twice and never piles up in
    pyplot's figure list across re-runs.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


def _thread_colors(threads: Sequence[str]) -> dict[str, Any]:
    workers = sorted({t for t in threads if t and t != "event loop"}, key=_worker_number)
    palette = colormaps["tab20"]
    colors: dict[str, Any] = {"event loop": LOOP_COLOR}
    for i, name in enumerate(workers):
        colors[name] = palette((i * 2 + 2) % 20 / 20 + 0.025)
    return colors


def _worker_number(name: str) -> int:
    tail = name.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 10**9


def _style(ax: Axes, title: str, ylabel: str, width_in: float = WIDTH_IN) -> None:
    # Wrap to the panel's width (its share of the figure less ~0.8 in of y labels): ~0.5 em
    # per character is a fair average for DejaVu Sans in these titles.
    chars = max(20, int((width_in - 0.8) * 72 / (FONT * 0.5)))
    ax.set_title(textwrap.fill(title, chars), fontsize=FONT, loc="left")
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=SMALL + 1)
    ax.grid(axis="x", alpha=0.3)


def _draw_requests(ax: Axes, run: Run) -> list[Artist]:
    """Client bars, queue wait and handler run per request; returns legend entries."""
    r = run.requests.sort_values("id")
    colors = _thread_colors(r["thread"].dropna().tolist())
    y = np.arange(len(r))
    height = 0.8 if len(r) <= 200 else 1.0
    sent = r["sent"].to_numpy() * 1000
    received = r["received"].to_numpy() * 1000
    ax.hlines(y, sent, received, color=CLIENT_COLOR, linewidth=0.8, zorder=1)
    has_server = r["start"].notna().to_numpy()
    queued_from = (r["start"] - r["wait"].fillna(0)).to_numpy() * 1000
    start = r["start"].to_numpy() * 1000
    end = r["end"].to_numpy() * 1000
    waited = has_server & (r["wait"].fillna(0).to_numpy() > 0)
    hbars(
        ax, y[waited], (start - queued_from)[waited], queued_from[waited],
        height=height, color=QUEUED_COLOR, zorder=2,
    )  # fmt: skip
    ran = has_server & np.isfinite(end)
    tones = [colors.get(t, "#7f7f7f") for t in r["thread"][ran]]
    # An edge in the bar's own colour keeps a 0.1 ms handler visible on a 1 s axis.
    hbars(
        ax, y[ran], (end - start)[ran], start[ran], height=height, color=tones,
        edgecolor=tones, linewidth=0.8, zorder=3,
    )  # fmt: skip
    failed = r["status"].isna().to_numpy()
    if failed.any():
        ax.scatter(received[failed], y[failed], marker="x", color="black", zorder=4)
    ax.set_ylim(len(r) - 0.5, -0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    threads = set(r["thread"].dropna())
    handles: list[Artist] = []
    if waited.any():
        handles.append(
            Patch(color=QUEUED_COLOR, label="waiting for a worker thread (incl. hand-off)")
        )
    if "event loop" in threads:
        handles.append(Patch(color=LOOP_COLOR, label="handler running on the event loop"))
    workers = [t for t in colors if t in threads and t != "event loop"]
    if workers:
        handles.append(
            Patch(color=colors[workers[0]], label="handler on a worker (colour = thread)")
        )
    handles.append(Line2D([], [], color=CLIENT_COLOR, linewidth=3, label="client: sent → received"))
    if failed.any():
        handles.append(Line2D([], [], marker="x", color="black", linestyle="", label="failed"))
    if not run.traced:
        ax.text(0.5, 0.5, "untraced server: client times only", transform=ax.transAxes,
                ha="center", fontsize=FONT)  # fmt: skip
    return handles


def _draw_threads(ax: Axes, run: Run, height_in: float) -> None:
    r = run.requests[run.requests["start"].notna()]
    threads = sorted(r["thread"].unique(), key=lambda t: -1 if t == "event loop" else
                     _worker_number(t))  # fmt: skip
    colors = _thread_colors(threads)
    for lane, thread in enumerate(threads):
        rows = r[r["thread"] == thread]
        if thread == "event loop":
            # Handlers on the loop overlap in time; stack them so each stays visible.
            for k, (_, row) in enumerate(rows.sort_values("start").iterrows()):
                offset = (k % 8) / 8 * 0.8 - 0.4
                ax.hlines(lane + offset, row["start"] * 1000, row["end"] * 1000,
                          color=colors[thread], linewidth=2)  # fmt: skip
        else:
            hbars(
                ax, lane, (rows["end"] - rows["start"]) * 1000, rows["start"] * 1000,
                height=0.7, color=colors[thread], edgecolor="white", linewidth=0.5,
            )  # fmt: skip
    # Label every k-th lane so labels of SMALL pt never overlap: a lane is height/lanes tall.
    step = max(1, math.ceil(len(threads) * SMALL * 1.4 / (height_in * 72)))
    shown = [i for i in range(len(threads)) if i % step == 0 or threads[i] == "event loop"]
    ax.set_yticks(shown)
    ax.set_yticklabels([threads[i] for i in shown], fontsize=SMALL + 1)
    ax.set_ylim(len(threads) - 0.5, -0.5)


def _legend(fig: Figure, groups: Sequence[Sequence[Artist]], where: Axes | None = None) -> None:
    """One legend for a multi-run figure, every entry once, on top (or in a free cell)."""
    entries = _entries(groups)
    if where is not None:
        where.axis("off")
        legend = where.legend(list(entries.values()), list(entries), loc="center left",
                              fontsize=SMALL + 1, frameon=False)  # fmt: skip
        legend.set_in_layout(False)  # the free cell holds it; it must not stretch the grid
    else:
        fig.legend(list(entries.values()), list(entries), loc="outside upper center",
                   ncols=3, fontsize=SMALL, frameon=False)  # fmt: skip


def _legend_above(ax: Axes, groups: Sequence[Sequence[Artist]]) -> None:
    """The legend in a band right above ``ax``, under the figure's title."""
    entries = _entries(groups)
    ax.legend(list(entries.values()), list(entries), loc="lower left", bbox_to_anchor=(0, 1.01),
              ncols=3, fontsize=SMALL, frameon=False, borderaxespad=0)  # fmt: skip


def _entries(groups: Sequence[Sequence[Artist]]) -> dict[str, Artist]:
    entries: dict[str, Artist] = {}
    for handles in groups:
        for handle in handles:
            entries.setdefault(str(handle.get_label()), handle)
    return entries


def _suptitle(fig: Figure, title: str) -> None:
    fig.suptitle(textwrap.fill(title, int(WIDTH_IN * 72 / ((FONT + 2) * 0.55))),
                 fontsize=FONT + 2, x=0.01, ha="left")  # fmt: skip


def plot_run(run: Run, title: str | None = None) -> Figure:
    """Timeline, loop lag and thread pool of one run (shared x axis in ms)."""
    used = pool_used(run)
    fig = LabFigure(figsize=(WIDTH_IN, 8.5 if used else 7.2), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[3.2, 1.3, 1.1 if used else 0.2])
    handles = _draw_requests(axes[0], run)
    _style(axes[0], "", "request #")
    draw_lag(axes[1], run, font=SMALL)
    _style(axes[1], "Event-loop lag: each block is a stall of the loop, as long as it lasted",
           "lag (ms)")  # fmt: skip
    if used:
        handles += draw_pool(axes[2], run, pool_top([run]))
        _style(axes[2], "Thread pool (worker threads for def code)", "threads")
    else:
        write_line(axes[2], pool_line([run]), SMALL + 1)
    axes[2 if used else 1].set_xlabel(X_LABEL, fontsize=FONT)
    axes[1].tick_params(labelbottom=not used)
    _suptitle(fig, title or _default_title(run))
    _legend_above(axes[0], [handles, lag_handles()])
    return fig


def plot_timeline(run: Run, by: str = "request", title: str | None = None) -> Figure:
    """One timeline: a bar per request (``by="request"``) or a swimlane per thread
    (``by="thread"``), time in ms from the burst start."""
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {BY_CHOICES}, got {by!r}")
    fig = LabFigure(figsize=(WIDTH_IN, 6.5), layout="constrained")
    ax = fig.subplots()
    if by == "request":
        _legend_above(ax, [_draw_requests(ax, run)])
        _style(ax, "", "request #")
    else:
        _draw_threads(ax, run, height_in=5.0)
        _style(ax, "", "thread")
    _suptitle(fig, title or _default_title(run))
    ax.set_xlabel(X_LABEL, fontsize=FONT)
    return fig


def compare(*runs: Run, titles: Sequence[str] | None = None, sharex: bool | None = None) -> Figure:
    """Runs in at most two columns (more stack): timeline, lag and pool panels per run.

    Args:
        runs: the runs, drawn left to right, then top to bottom.
        titles: one title per run (default: its summary).
        sharex: one time axis (ms) for all runs; by default only when their last answers
            are within ``SHARE_X_WITHIN``× of each other. ``True`` shows how much longer
            one run took, ``False`` shows each run's own shape.

    Request axes are shared when the runs have the same number of requests, the lag axis
    always (every stall on one scale). A run that used no worker thread gets one line
    instead of an empty pool panel.
    """
    if sharex is not None and not isinstance(sharex, bool):
        raise TypeError(f"sharex must be True, False or None (automatic), got {sharex!r}")
    names = _check_compare(runs, titles)
    cols = 1 if len(runs) == 1 else 2
    rows = math.ceil(len(runs) / cols)
    uses = [pool_used(r) for r in runs]
    row_used = [any(uses[i * cols : (i + 1) * cols]) for i in range(rows)]
    # With no worker thread anywhere, one line says so instead of a row per run.
    k = 3 if any(uses) else 2
    ratios = [h for used in row_used for h in (3.0, 1.3, 1.1 if used else 0.25)[:k]]
    height = sum(ratios) * 1.15 + 0.9
    fig = LabFigure(figsize=(WIDTH_IN, height), layout="constrained")
    grid = fig.add_gridspec(k * rows, cols, height_ratios=ratios)
    extents = [float(np.nanmax(r.requests["received"].to_numpy(dtype=float))) for r in runs]
    alike = max(extents) <= SHARE_X_WITHIN * max(min(extents), 1e-3)
    share_x = alike if sharex is None else sharex
    same_n = len({len(r.requests) for r in runs}) == 1
    top_lag, top_pool = lag_top(runs), pool_top([r for r, u in zip(runs, uses) if u] or runs)
    legends: list[list[Artist]] = [lag_handles()]
    first: list[Axes] = []
    for i, (run, name) in enumerate(zip(runs, names)):
        row, col = divmod(i, cols)
        top = fig.add_subplot(grid[k * row, col], sharex=first[0] if share_x and first else None,
                              sharey=first[0] if same_n and first else None)  # fmt: skip
        first = first or [top]
        lag_ax = fig.add_subplot(grid[k * row + 1, col], sharex=top)
        legends.append(_draw_requests(top, run))
        draw_lag(lag_ax, run, top=top_lag, font=SMALL)
        _style(top, name, "request #" if col == 0 else "", WIDTH_IN / cols)
        _style(lag_ax, "", "lag (ms)" if col == 0 else "")
        top.tick_params(labelbottom=False)
        last = lag_ax
        if row_used[row]:
            pool_ax = fig.add_subplot(grid[k * row + 2, col], sharex=top)
            if uses[i]:
                legends.append(draw_pool(pool_ax, run, top_pool))
                _style(pool_ax, "", "threads" if col == 0 else "")
                lag_ax.tick_params(labelbottom=False)
                last = pool_ax
            else:
                write_line(pool_ax, pool_line([run]), SMALL + 1)
        elif any(uses):
            write_line(fig.add_subplot(grid[k * row + 2, col]), pool_line([run]), SMALL + 1)
        last.set_xlabel(X_LABEL if share_x else X_LABEL + ", own scale", fontsize=FONT)
    free = len(runs) % cols
    spare = fig.add_subplot(grid[k * (rows - 1), 1]) if free else None
    _legend(fig, legends[1:] + legends[:1], where=spare)
    if not any(uses):
        fig.supxlabel(pool_line(runs), fontsize=SMALL + 1, color="#555555", x=0.01, ha="left")
    return fig


def _check_compare(runs: Sequence[Run], titles: Sequence[str] | None) -> list[str]:
    if not runs:
        raise ValueError("compare needs at least one Run")
    from helpers._run import Run as RunType

    for i, run in enumerate(runs):
        if not isinstance(run, RunType):
            raise TypeError(f"compare takes Run objects; argument {i} is {type(run).__name__}")
    if titles is None:
        return [_default_title(r) for r in runs]
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(
            f"titles must be a list of strings, one per run; got {type(titles).__name__}"
        )
    if len(titles) != len(runs):
        raise ValueError(f"titles has {len(titles)} entries for {len(runs)} runs")
    for i, name in enumerate(titles):
        if not isinstance(name, str):
            raise TypeError(f"titles[{i}] must be a string, got {name!r}")
    return list(titles)


def _default_title(run: Run) -> str:
    s = run.summary()
    name = f"{run.label}: " if run.label else ""
    return (
        f"{name}{s['n']} requests in {s['makespan_s'] * 1000:.0f} ms — "
        f"{s['worker_threads']} worker threads, {s['waves']} wave(s), "
        f"peak {s['peak_in_flight']} handlers at once"
    )


def summary_frame(*runs: Run, titles: Sequence[str] | None = None) -> pd.DataFrame:
    """Summaries of several runs as one table, a row per run."""
    names = list(titles) if titles is not None else [r.label or f"run {i}" for i, r in
                                                      enumerate(runs)]  # fmt: skip
    table: pd.DataFrame = pd.DataFrame([r.summary() for r in runs], index=names)
    return table
