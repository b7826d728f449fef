"""Who ran what: a row per *thread* (the event loop, then each worker thread) with every
event of a burst (``helpers.events``) on the thread that ran it, in **milliseconds from the
burst start**. ``helpers/timelines.py`` draws the same events per request instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helpers.events import EVENT_COLUMNS
from helpers.plots import FONT, LabFigure, _worker_number
from helpers.run import LOOP_LABEL, Run
from helpers.timelines import CANCELLED_COLOR, RAISED_COLOR, check_titles

__all__ = ["plot_thread_lanes"]

KEY_COLORS = ["#ff7f0e", "#e377c2", "#9467bd", "#2ca02c", "#8c564b", "#17becf", "#bcbd22"]
SUB_ROW = 0.22  # height of one stacked bar's row, in lanes, when bars overlap on a thread


def _key(row: pd.Series) -> str:
    """Legend entry of an event: its lane, and the FastAPI span it was recorded in."""
    span = str(row["fastapi_span"])
    return f"{row['lane']} (in FastAPI's {span})" if span else str(row["lane"])


def _layout(events: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, float, float]]]:
    """Where each event goes: its ``y`` and bar ``height``, plus per thread (label, top,
    height). Bars overlapping in time on one thread get stacked sub-rows."""
    workers = sorted(set(events["thread"]) - {LOOP_LABEL}, key=_worker_number)
    rows = events.sort_values("start").assign(y=0.0, height=0.0)
    threads, top = [], 0.0
    for thread in [LOOP_LABEL, *workers]:
        mine = rows[rows["thread"] == thread]
        ends: list[float] = []
        subs = []
        for start, end in zip(mine["start"], mine["end"]):
            free = next((i for i, last in enumerate(ends) if last <= start), len(ends))
            if pd.notna(end):  # instants (no end) sit on the thread's middle line
                ends[free : free + 1] = [end]
            subs.append(free if pd.notna(end) else -1)
        count = max(1, len(ends))
        size = max(1.0, SUB_ROW * count)
        rows.loc[mine.index, "y"] = [top + (size / 2 if k < 0 else (k + 0.5) * size / count)
                                     for k in subs]  # fmt: skip
        rows.loc[mine.index, "height"] = 0.8 * size / count
        threads.append((f"{thread} ({len(mine)})", top, size))
        top += size
    return rows, threads


def _draw_thread_lanes(
    ax: Axes, events: pd.DataFrame, colors: dict[str, str], connect: tuple[str, str] | None,
    right: float,
) -> None:  # fmt: skip
    rows, threads = _layout(events)
    for _, row in rows.iterrows():
        start, color = row["start"] * 1000, colors[_key(row)]
        if pd.isna(row["end"]):
            ax.plot(start, row["y"], marker="D", color=color, markeredgecolor="black",
                    markersize=7, zorder=4)  # fmt: skip
            continue
        width = max(row["end"] * 1000 - start, 0.4)
        cancelled = row["outcome"] == "cancelled"
        ax.barh(row["y"], width, left=start, height=row["height"],
                color=CANCELLED_COLOR if cancelled else color, hatch="//" if cancelled else None,
                edgecolor=RAISED_COLOR if row["outcome"] == "raised" else "none",
                linewidth=2)  # fmt: skip
        if row["height"] >= 0.5 and width >= 0.035 * right:
            ax.text(start + width / 2, row["y"], f"#{row['id']}", ha="center", va="center",
                    fontsize=FONT - 3)  # fmt: skip
    if connect is not None:
        first, then = connect
        for _, mine in rows.groupby("id"):
            before = mine[mine["lane"] == first]
            if before.empty:
                continue
            last = before.iloc[-1]
            ended = last["start"] if pd.isna(last["end"]) else last["end"]
            after = mine[(mine["lane"] == then) & (mine["start"] >= ended)]
            if not after.empty:
                ax.plot([ended * 1000, after["start"].iloc[0] * 1000],
                        [last["y"], after["y"].iloc[0]], color="dimgray", linestyle=":",
                        linewidth=1.3, zorder=3)  # fmt: skip
    for _, top, size in threads:
        ax.axhline(top + size, color="#dddddd", linewidth=0.8)
    ax.set_yticks([top + size / 2 for _, top, size in threads])
    ax.set_yticklabels([label for label, _, _ in threads], fontsize=FONT - 1)
    ax.set_ylim(threads[-1][1] + threads[-1][2], 0)
    ax.grid(axis="x", alpha=0.3)


def _right_ms(run: Run, events: pd.DataFrame) -> float:
    """The last moment of a panel (ms): the last response received or event ended."""
    ends = [run.requests["received"].max(), events["start"].max(), events["end"].max()]
    return max([float(e) for e in ends if pd.notna(e)], default=0.0) * 1000


def _check_lanes(wanted: Sequence[str], known: set[str], what: str) -> None:
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; the events have lanes {sorted(known)}")


def plot_thread_lanes(
    *panels: tuple[Run, pd.DataFrame],
    titles: Sequence[str] | None = None,
    lanes: Sequence[str] | None = None,
    connect: tuple[str, str] | None = None,
) -> Figure:
    """A row per thread — the event loop, then each worker thread — with every event on the
    thread that ran it; panels stacked on a shared time axis (ms from the burst start).

    Args:
        panels: ``(run, events)`` pairs, ``events`` from ``EventLog.frame(run)``.
        titles: one title per panel (default: each run's label).
        lanes: event lanes to draw (values of ``events["lane"]``); ``None`` draws all.
        connect: ``(first, then)`` event lanes: per request, a dotted line from the end of
            its last ``first`` event to the start of its first ``then`` event that starts
            after it — the time the request waited in between, whatever thread it moved to.

    The number after a thread's name counts its events. Bars are spans, labelled with the
    request index when there is room; bars that overlap in time on one thread (``async``
    code on the event loop) are stacked. Diamonds are instants. Colours tell the event lane
    and the FastAPI span it was recorded in. The event-loop row is drawn even when empty.
    """
    if not panels:
        raise ValueError("plot_thread_lanes needs at least one (run, events) pair")
    check_titles(titles, len(panels))
    for position, (_, events) in enumerate(panels):
        missing = [c for c in EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(f"panel {position}: events lacks {missing}; pass EventLog.frame(run)")
    known = {str(lane) for _, events in panels for lane in events["lane"]}
    if lanes is not None:
        _check_lanes(lanes, known, "lanes")
    if connect is not None:
        if isinstance(connect, str) or len(connect) != 2:
            raise ValueError(f"connect must be a (first, then) pair of lanes, got {connect!r}")
        _check_lanes(connect, known, "connect lanes")
    chosen = [ev if lanes is None else ev[ev["lane"].isin(list(lanes))] for _, ev in panels]
    keys: dict[str, bool] = {}  # legend entry → has a bar (else only diamonds)
    for ev in chosen:
        for _, row in ev.iterrows():
            keys[_key(row)] = keys.get(_key(row), False) or bool(pd.notna(row["end"]))
    colors = {key: KEY_COLORS[i % len(KEY_COLORS)] for i, key in enumerate(keys)}
    heights = [sum(size for _, _, size in _layout(ev)[1]) for ev in chosen]
    fig = LabFigure(figsize=(13, 1.2 + 0.42 * sum(heights) + 0.7 * len(panels)),
                    layout="constrained")  # fmt: skip
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, height_ratios=heights)
    right = max(_right_ms(run, ev) for (run, _), ev in zip(panels, chosen))
    for i, ((run, _), events) in enumerate(zip(panels, chosen)):
        ax = axes[i][0]
        _draw_thread_lanes(ax, events.reset_index(drop=True), colors, connect, right)
        ax.set_title(titles[i] if titles is not None else run.label, fontsize=FONT, loc="left")
    axes[-1][0].set_xlim(0, right * 1.02)
    axes[-1][0].set_xlabel("time since burst start (ms)", fontsize=FONT)
    handles: list[Patch | Line2D] = [
        Patch(color=colors[k], label=k) if bar else
        Line2D([], [], marker="D", linestyle="", color=colors[k], markeredgecolor="black", label=k)
        for k, bar in keys.items()
    ]  # fmt: skip
    if connect is not None:
        handles.append(Line2D([], [], color="dimgray", linestyle=":",
                              label=f"one request: {connect[0]} → {connect[1]}"))  # fmt: skip
    axes[0][0].legend(handles=handles, fontsize=FONT - 3, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    return fig
