"""Who ran what: a row per *thread* (the event loop, then each worker thread) with every
span of a burst (``Run.spans``: the learner's own ``tracer.start_as_current_span`` spans by
default) on the thread that ran it, in **milliseconds from the burst start**.
``helpers/_timelines.py`` draws the same spans per request instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helpers._plots import FONT, SMALL, WIDTH_IN, LabFigure, _worker_number
from helpers._run import LOOP_LABEL, Run
from helpers._timelines import CANCELLED_COLOR, RAISED_COLOR, check_runs

__all__ = ["plot_thread_lanes"]

KEY_COLORS = ["#ff7f0e", "#e377c2", "#9467bd", "#2ca02c", "#8c564b", "#17becf", "#bcbd22"]
SUB_ROW = 0.22  # height of one stacked bar's row, in lanes, when bars overlap on a thread
LANE_IN = 0.42  # inches per lane up to MANY_THREADS threads in a figure
DENSE_LANE_IN = 0.26  # inches per lane beyond: 40 workers stay one figure, labels ≥ 11 pt
MANY_THREADS = 12


def _key(row: pd.Series) -> str:
    """Legend entry of a span: its name, and the FastAPI span it ran in."""
    within = str(row["within"])
    return f"{row['name']} (in FastAPI's {within})" if within else str(row["name"])


def _layout(spans: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, float, float]]]:
    """Where each span goes: its ``y``, bar ``height`` and ``nested`` flag, plus per thread
    (label, top, height). Bars overlapping in time on one thread get stacked sub-rows; a span
    inside another span of the same request (``Order`` validated inside ``typed()``) is drawn
    thin on its parent's bar instead."""
    workers = sorted(set(spans["thread"]) - {LOOP_LABEL}, key=_worker_number)
    rows = spans.sort_values(["start", "end"], ascending=[True, False])
    rows = rows.assign(y=0.0, height=0.0, nested=False)
    threads, top = [], 0.0
    for thread in [LOOP_LABEL, *workers]:
        mine = rows[rows["thread"] == thread]
        ends: list[float] = []  # per sub-row: end of its last outer bar
        owners: list[int] = []  # per sub-row: request of that bar
        subs, nested = [], []
        for start, end, request in zip(mine["start"], mine["end"], mine["id"]):
            inside = next((i for i, (last, who) in enumerate(zip(ends, owners))
                           if who == request and start < last and end <= last), None)  # fmt: skip
            if inside is not None:
                subs.append(inside)
                nested.append(True)
                continue
            free = next((i for i, last in enumerate(ends) if last <= start), len(ends))
            ends[free : free + 1] = [end]
            owners[free : free + 1] = [request]
            subs.append(free)
            nested.append(False)
        count = max(1, len(ends))
        size = max(1.0, SUB_ROW * count)
        rows.loc[mine.index, "y"] = [top + (k + 0.5) * size / count for k in subs]
        rows.loc[mine.index, "height"] = [(0.35 if inner else 0.8) * size / count
                                          for inner in nested]  # fmt: skip
        rows.loc[mine.index, "nested"] = nested
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
        # A span of a few µs (a trivial __init__) still shows: at least 0.4 % of the axis.
        width = max(row["end"] * 1000 - start, 0.004 * right)
        cancelled = row["status"] == "cancelled"
        ax.barh(row["y"], width, left=start, height=row["height"],
                color=CANCELLED_COLOR if cancelled else color, hatch="//" if cancelled else None,
                edgecolor=RAISED_COLOR if row["status"] == "error" else "none",
                linewidth=2, zorder=3 if row["nested"] else 2)  # fmt: skip
        if row["height"] >= 0.5 and width >= 0.035 * right and not row["nested"]:
            ax.text(start + width / 2, row["y"], f"#{row['id']}", ha="center", va="center",
                    fontsize=SMALL + 1)  # fmt: skip
    if connect is not None:
        first, then = connect
        for _, mine in rows.groupby("id"):
            before = mine[mine["name"] == first]
            if before.empty:
                continue
            last = before.iloc[-1]
            ended = last["end"]
            after = mine[(mine["name"] == then) & (mine["start"] >= ended)]
            if not after.empty:
                ax.plot([ended * 1000, after["start"].iloc[0] * 1000],
                        [last["y"], after["y"].iloc[0]], color="dimgray", linestyle=":",
                        linewidth=1.3, zorder=3)  # fmt: skip
    for _, top, size in threads:
        ax.axhline(top + size, color="#dddddd", linewidth=0.8)
    ax.set_yticks([top + size / 2 for _, top, size in threads])
    ax.set_yticklabels([label for label, _, _ in threads], fontsize=SMALL + 1)
    ax.set_ylim(threads[-1][1] + threads[-1][2], 0)
    ax.grid(axis="x", alpha=0.3)


def _right_ms(run: Run, spans: pd.DataFrame) -> float:
    """The last moment of a panel (ms): the last response received or span ended."""
    ends = [run.requests["received"].max(), spans["end"].max()]
    return max([float(e) for e in ends if pd.notna(e)], default=0.0) * 1000


def _check_names(wanted: Sequence[str], known: set[str], what: str) -> None:
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; the runs have spans {sorted(known)}")


def lane_height_in(threads: int) -> float:
    """Inches per thread lane in a figure that shows ``threads`` lanes: dense beyond
    ``MANY_THREADS`` so 40 worker threads fit one screen, never below 11 pt labels."""
    return LANE_IN if threads <= MANY_THREADS else DENSE_LANE_IN


def plot_thread_lanes(
    *runs: Run,
    titles: Sequence[str] | None = None,
    spans: Sequence[str] | None = None,
    connect: tuple[str, str] | None = None,
) -> Figure:
    """A row per thread — the event loop, then each worker thread — with every span on the
    thread that ran it; one panel per run, stacked on a shared time axis (ms from the burst
    start).

    Args:
        runs: one panel per run.
        titles: one title per panel (default: each run's label).
        spans: span names to draw (values of ``run.spans["name"]``, FastAPI's included);
            ``None`` draws the learner's own spans (not FastAPI's).
        connect: ``(first, then)`` span names: per request, a dotted line from the end of
            its last ``first`` span to the start of its first ``then`` span that starts
            after it — the time the request waited in between, whatever thread it moved to.

    The number after a thread's name counts its spans. Bars are labelled with the request
    index when there is room; bars that overlap in time on one thread (``async`` code on the
    event loop) are stacked. Colours tell the span name and the FastAPI span it ran in;
    hatched grey is cancelled, a red edge an error. The event-loop row is drawn even when
    empty. Beyond 12 threads the lanes get narrower, so 40 worker threads fit one figure.
    """
    check_runs("plot_thread_lanes", runs, titles)
    known = {str(name) for run in runs for name in run.spans["name"]}
    if spans is not None:
        _check_names(spans, known, "spans")
    if connect is not None:
        if isinstance(connect, str) or len(connect) != 2:
            raise ValueError(f"connect must be a (first, then) pair of span names, got {connect!r}")
        _check_names(connect, known, "connect spans")
    chosen = [
        run.spans[~run.spans["fastapi"].astype(bool)] if spans is None
        else run.spans[run.spans["name"].isin(list(spans))]
        for run in runs
    ]  # fmt: skip
    keys: dict[str, None] = {}
    for table in chosen:
        for _, row in table.iterrows():
            keys.setdefault(_key(row))
    colors = {key: KEY_COLORS[i % len(KEY_COLORS)] for i, key in enumerate(keys)}
    layouts = [_layout(table)[1] for table in chosen]
    heights = [sum(size for _, _, size in threads) for threads in layouts]
    lane_in = lane_height_in(max(len(threads) for threads in layouts))
    fig = LabFigure(figsize=(WIDTH_IN, 1.2 + lane_in * sum(heights) + 0.7 * len(runs)),
                    layout="constrained")  # fmt: skip
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False, height_ratios=heights)
    right = max(_right_ms(run, table) for run, table in zip(runs, chosen))
    for i, (run, table) in enumerate(zip(runs, chosen)):
        ax = axes[i][0]
        _draw_thread_lanes(ax, table.reset_index(drop=True), colors, connect, right)
        ax.set_title(titles[i] if titles is not None else run.label, fontsize=FONT, loc="left")
        ax.tick_params(axis="x", labelsize=SMALL + 1)
    axes[-1][0].set_xlim(0, right * 1.02)
    axes[-1][0].set_xlabel("time since burst start (ms)", fontsize=FONT)
    handles: list[Patch | Line2D] = [Patch(color=colors[k], label=k) for k in keys]
    if connect is not None:
        handles.append(Line2D([], [], color="dimgray", linestyle=":",
                              label=f"one request: {connect[0]} → {connect[1]}"))  # fmt: skip
    if handles:
        axes[0][0].legend(handles=handles, fontsize=SMALL + 1, loc="upper left",
                          bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    return fig
