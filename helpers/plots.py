"""Figures of a ``Run``: request timeline, thread swimlanes, loop lag, thread pool.

Every panel shares one time axis in **milliseconds from the burst start**. Nothing here
changes matplotlib's global state; each call builds its own figure.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from helpers.bars import hbars

if TYPE_CHECKING:
    from helpers.run import Run

__all__ = ["LabFigure", "compare", "plot_run", "plot_timeline", "summary_frame"]

LOOP_COLOR = "#1f77b4"
QUEUED_COLOR = "#d9d9d9"
WAITING_COLOR = "#d62728"
BUSY_COLOR = "#2ca02c"
FONT = 12
DPI = 80
BY_CHOICES = ("request", "thread")


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


def _style(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(axis="x", alpha=0.3)


def _draw_requests(ax: Axes, run: Run) -> None:
    r = run.requests.sort_values("id")
    colors = _thread_colors(r["thread"].dropna().tolist())
    y = np.arange(len(r))
    height = 0.8 if len(r) <= 200 else 1.0
    sent = r["sent"].to_numpy() * 1000
    received = r["received"].to_numpy() * 1000
    ax.hlines(y, sent, received, color="#bbbbbb", linewidth=0.6, zorder=1)
    has_server = r["start"].notna().to_numpy()
    queued_from = (r["start"] - r["wait"].fillna(0)).to_numpy() * 1000
    start = r["start"].to_numpy() * 1000
    end = r["end"].to_numpy() * 1000
    waited = has_server & (r["wait"].fillna(0).to_numpy() > 0)
    hbars(
        ax, y[waited], (start - queued_from)[waited], queued_from[waited],
        height=height, color=QUEUED_COLOR, zorder=2,
    )  # fmt: skip
    hbars(
        ax, y[has_server], (end - start)[has_server], start[has_server], height=height,
        color=[colors.get(t, "#7f7f7f") for t in r["thread"][has_server]], zorder=3,
    )  # fmt: skip
    failed = r["status"].isna().to_numpy()
    if failed.any():
        ax.scatter(received[failed], y[failed], marker="x", color="black", zorder=4)
    ax.set_ylim(len(r) - 0.5, -0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = (
        [Patch(color=QUEUED_COLOR, label="waiting for a worker thread")] if waited.any() else []
    )
    shown = [t for t in colors if t in set(r["thread"].dropna())]
    for name in shown[:8]:
        handles.append(Patch(color=colors[name], label=f"running on {name}"))
    if len(shown) > 8:
        handles.append(Patch(color="white", label=f"… {len(shown) - 8} more workers"))
    handles.append(Patch(color="#bbbbbb", label="client: sent → received"))
    ax.legend(handles=handles, fontsize=FONT - 3, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if not run.traced:
        ax.text(0.5, 0.5, "untraced server: client times only", transform=ax.transAxes,
                ha="center", fontsize=FONT)  # fmt: skip


def _draw_threads(ax: Axes, run: Run) -> None:
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
    ax.set_yticks(range(len(threads)))
    ax.set_yticklabels(threads if len(threads) <= 45 else
                       [t if i % 5 == 0 else "" for i, t in enumerate(threads)],
                       fontsize=FONT - 3 if len(threads) > 12 else FONT - 1)  # fmt: skip
    ax.set_ylim(len(threads) - 0.5, -0.5)


def _draw_lag(ax: Axes, run: Run) -> None:
    ax.plot(run.lag["t"] * 1000, run.lag["lag_ms"], color="#9467bd", linewidth=1.2)
    peak = float(run.lag["lag_ms"].max()) if len(run.lag) else 0.0
    ax.set_ylim(0, max(10.0, peak * 1.15))
    ax.text(0.995, 0.9, f"max {peak:.0f} ms", transform=ax.transAxes, ha="right",
            va="top", fontsize=FONT - 1)  # fmt: skip


def _draw_pool(ax: Axes, run: Run) -> None:
    p = run.pool
    ax.step(p["t"] * 1000, p["busy"], where="post", color=BUSY_COLOR, label="busy threads")
    ax.step(p["t"] * 1000, p["waiting"], where="post", color=WAITING_COLOR,
            label="waiting for a thread")  # fmt: skip
    if run.thread_limit is not None:
        ax.axhline(run.thread_limit, color="gray", linestyle=":", linewidth=1,
                   label=f"thread limit ({run.thread_limit})")  # fmt: skip
    else:
        ax.text(0.5, 0.5, "not measured: the lab did not start this server",
                transform=ax.transAxes, ha="center", fontsize=FONT - 1)  # fmt: skip
    top = max(run.thread_limit or 1, int(p["waiting"].max()) if len(p) else 0)
    ax.set_ylim(0, top * 1.15 + 1)
    ax.legend(fontsize=FONT - 3, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot_run(run: Run, title: str | None = None) -> Figure:
    """The three-panel figure: timeline, loop lag, thread pool (shared x axis in ms)."""
    fig = LabFigure(figsize=(13, 9), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[3.2, 1, 1])
    _draw_requests(axes[0], run)
    _style(
        axes[0], "Requests: waiting for a thread (grey), running (coloured by thread)", "request #"
    )
    _draw_lag(axes[1], run)
    _style(axes[1], "Event-loop lag (how late the loop answers a 5 ms timer)", "lag (ms)")
    _draw_pool(axes[2], run)
    _style(axes[2], "Thread pool (worker threads for def code)", "threads")
    axes[2].set_xlabel("time since burst start (ms)", fontsize=FONT)
    fig.suptitle(title or _default_title(run), fontsize=FONT + 3, x=0.01, ha="left")
    return fig


def plot_timeline(run: Run, by: str = "request", title: str | None = None) -> Figure:
    """One timeline: a bar per request (``by="request"``) or a swimlane per thread
    (``by="thread"``), time in ms from the burst start."""
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {BY_CHOICES}, got {by!r}")
    fig = LabFigure(figsize=(13, 6), layout="constrained")
    ax = fig.subplots()
    if by == "request":
        _draw_requests(ax, run)
        _style(ax, title or _default_title(run), "request #")
    else:
        _draw_threads(ax, run)
        _style(ax, title or _default_title(run), "thread")
    ax.set_xlabel("time since burst start (ms)", fontsize=FONT)
    return fig


def compare(*runs: Run, titles: Sequence[str] | None = None) -> Figure:
    """Runs side by side: timeline, lag and pool panels per run, shared axes."""
    if not runs:
        raise ValueError("compare needs at least one Run")
    from helpers.run import Run as RunType

    for i, run in enumerate(runs):
        if not isinstance(run, RunType):
            raise TypeError(f"compare takes Run objects; argument {i} is {type(run).__name__}")
    if titles is not None:
        if isinstance(titles, str) or not isinstance(titles, Sequence):
            raise TypeError(
                f"titles must be a list of strings, one per run; got {type(titles).__name__}"
            )
        if len(titles) != len(runs):
            raise ValueError(f"titles has {len(titles)} entries for {len(runs)} runs")
        for i, name in enumerate(titles):
            if not isinstance(name, str):
                raise TypeError(f"titles[{i}] must be a string, got {name!r}")
    # Side by side, a default title breaks after the makespan so it fits over its own column.
    names = (
        list(titles)
        if titles is not None
        else [
            _default_title(r).replace(" — ", "\n") if len(runs) > 1 else _default_title(r)
            for r in runs
        ]
    )
    fig = LabFigure(figsize=(6.5 * len(runs) + 2, 9), layout="constrained")
    axes = fig.subplots(3, len(runs), sharex=True, sharey="row", squeeze=False,
                        height_ratios=[3.2, 1, 1])  # fmt: skip
    for col, (run, name) in enumerate(zip(runs, names)):
        _draw_requests(axes[0][col], run)
        _draw_lag(axes[1][col], run)
        _draw_pool(axes[2][col], run)
        _style(axes[0][col], name, "request #" if col == 0 else "")
        _style(axes[1][col], "loop lag", "lag (ms)" if col == 0 else "")
        _style(axes[2][col], "thread pool", "threads" if col == 0 else "")
        axes[2][col].set_xlabel("time since burst start (ms)", fontsize=FONT)
    for row in axes:
        _merge_legends(row)
    lag_top = max([10.0] + [float(r.lag["lag_ms"].max()) * 1.15 for r in runs if len(r.lag)])
    axes[1][0].set_ylim(0, lag_top)
    return fig


def _merge_legends(row: Sequence[Axes]) -> None:
    """One legend for a row of panels, on its last panel: every entry any panel had, once.

    A panel's legend lists only what that panel drew (the grey "waiting" bars of a ``def``
    run, the loop colour of an ``async`` one); the row's legend must explain them all."""
    entries: dict[str, Any] = {}
    for ax in row:
        legend = ax.get_legend()
        if legend is None:
            continue
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            entries.setdefault(text.get_text(), handle)
        legend.remove()
    if entries:
        row[-1].legend(list(entries.values()), list(entries), fontsize=FONT - 3,
                       loc="upper left", bbox_to_anchor=(1.0, 1.0))  # fmt: skip


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
