"""Timelines of what ran *around* and *inside* the endpoint: FastAPI's spans and the lab's
events (``helpers.events``) on one axis, in **milliseconds from the burst start**.

- ``plot_spans(*runs)``: a row per request with a bar per FastAPI span (dependencies,
  endpoint, serialization, background task) and a tick when the response left, above the
  thread-pool gauge. For bursts.
- ``plot_request((run, events), …)``: one request, a row per span or event lane, coloured
  by the thread that ran it, with the moment the response left. For a close look.
- ``plot_thread_lanes((run, events), …)``: a row per *thread* (the event loop, then each
  worker thread) with every event of the burst on the thread that ran it. For "who ran what".
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helpers.events import EVENT_COLUMNS
from helpers.plots import BUSY_COLOR, FONT, LOOP_COLOR, WAITING_COLOR, LabFigure, _worker_number
from helpers.run import LOOP_LABEL, Run

__all__ = ["SPAN_COLORS", "plot_request", "plot_spans", "plot_thread_lanes"]

SPAN_COLORS = {
    "dependencies": "#ff7f0e",
    "endpoint": LOOP_COLOR,
    "serialization": "#9467bd",
    "background_task": "#2ca02c",
}
WORKER_COLOR = "#e377c2"
RAISED_COLOR = "#d62728"
CANCELLED_COLOR = "#c7c7c7"
SPAN_PREFIX = "FastAPI: "
KEY_COLORS = ["#ff7f0e", "#e377c2", "#9467bd", "#2ca02c", "#8c564b", "#17becf", "#bcbd22"]
SUB_ROW = 0.22  # height of one stacked bar's row, in lanes, when bars overlap on a thread


def _check_titles(titles: Sequence[str] | None, count: int) -> None:
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} panels")


def _draw_span_rows(ax: Axes, run: Run) -> None:
    spans = run.spans
    for name, color in SPAN_COLORS.items():
        rows = spans[spans["name"] == name]
        ax.barh(rows["id"], (rows["end"] - rows["start"]) * 1000, left=rows["start"] * 1000,
                height=0.7, color=color, edgecolor="none")  # fmt: skip
    r = run.requests
    ax.scatter(r["responded"] * 1000, r["id"], marker="|", s=160, color="black", zorder=4)
    ax.set_ylim(len(r) - 0.5, -0.5)


def plot_spans(*runs: Run, titles: Sequence[str] | None = None) -> Figure:
    """Bursts side by side: FastAPI's spans per request (top), thread-pool gauge (bottom).

    Time in ms from each burst's start; a black tick marks when each response was sent.
    """
    if not runs:
        raise ValueError("plot_spans needs at least one Run")
    _check_titles(titles, len(runs))
    names = list(titles) if titles is not None else [r.label for r in runs]
    fig = LabFigure(figsize=(6.5 * len(runs) + 2.5, 7), layout="constrained")
    axes = fig.subplots(2, len(runs), sharex=True, sharey="row", squeeze=False,
                        height_ratios=[3, 1])  # fmt: skip
    for col, (run, name) in enumerate(zip(runs, names)):
        top, bottom = axes[0][col], axes[1][col]
        _draw_span_rows(top, run)
        top.set_title(name, fontsize=FONT, loc="left")
        top.grid(axis="x", alpha=0.3)
        pool = run.pool
        bottom.step(pool["t"] * 1000, pool["busy"], where="post", color=BUSY_COLOR)
        bottom.step(pool["t"] * 1000, pool["waiting"], where="post", color=WAITING_COLOR)
        bottom.axhline(run.thread_limit, color="gray", linestyle=":", linewidth=1)
        bottom.set_xlabel("time since burst start (ms)", fontsize=FONT)
        bottom.grid(axis="x", alpha=0.3)
    axes[0][0].set_ylabel("request #", fontsize=FONT)
    axes[1][0].set_ylabel("threads", fontsize=FONT)
    handles: list[Patch | Line2D] = [
        Patch(color=c, label=n.replace("_", " ")) for n, c in SPAN_COLORS.items()
    ]
    handles.append(Line2D([], [], marker="|", linestyle="", color="black", markersize=12,
                          label="response sent"))  # fmt: skip
    axes[0][-1].legend(handles=handles, fontsize=FONT - 3, loc="upper left",
                       bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    axes[1][-1].legend(
        handles=[Line2D([], [], color=BUSY_COLOR, label="busy worker threads"),
                 Line2D([], [], color=WAITING_COLOR, label="waiting for a thread"),
                 Line2D([], [], color="gray", linestyle=":", label="thread limit")],
        fontsize=FONT - 3, loc="upper left", bbox_to_anchor=(1.0, 1.0),
    )  # fmt: skip
    return fig


def _lanes(
    run: Run, events: pd.DataFrame, request: int, names: Sequence[str] | None = None
) -> pd.DataFrame:
    spans = run.spans[run.spans["id"] == request]
    if names is not None:
        spans = spans[spans["name"].isin(list(names))]
    rows = [
        {"lane": SPAN_PREFIX + str(s["name"]).replace("_", " "), "name": s["name"],
         "start": s["start"], "end": s["end"], "outcome": "ok", "on_loop": s["on_loop"]}
        for _, s in spans.iterrows()
    ]  # fmt: skip
    mine = events[events["id"] == request]
    rows += mine[["lane", "name", "start", "end", "outcome", "on_loop"]].to_dict("records")
    table: pd.DataFrame = pd.DataFrame(
        rows, columns=["lane", "name", "start", "end", "outcome", "on_loop"]
    )
    return table


def _draw_request(
    ax: Axes, run: Run, events: pd.DataFrame, request: int, names: Sequence[str] | None
) -> None:
    rows = _lanes(run, events, request, names)
    lanes = list(dict.fromkeys(rows["lane"]))
    y = {lane: i for i, lane in enumerate(lanes)}
    for _, row in rows.iterrows():
        lane = y[row["lane"]]
        start = row["start"] * 1000
        if pd.isna(row["end"]):
            color = LOOP_COLOR if row["on_loop"] else WORKER_COLOR
            ax.plot(start, lane, marker="D", color=color, markeredgecolor="black", markersize=8,
                    zorder=4)  # fmt: skip
            ax.annotate(str(row["name"]), (start, lane), xytext=(5, 6),
                        textcoords="offset points", fontsize=FONT - 2)  # fmt: skip
            continue
        width = max(row["end"] * 1000 - start, 0.4)
        face = LOOP_COLOR if row["on_loop"] else WORKER_COLOR
        cancelled = row["outcome"] == "cancelled"
        ax.barh(lane, width, left=start, height=0.6,
                color=CANCELLED_COLOR if cancelled else face, hatch="//" if cancelled else None,
                edgecolor=RAISED_COLOR if row["outcome"] == "raised" else "none",
                linewidth=2)  # fmt: skip
        if row["outcome"] in ("raised", "cancelled"):
            tone = RAISED_COLOR if row["outcome"] == "raised" else "dimgray"
            ax.annotate(str(row["outcome"]), (start + width, lane), xytext=(4, -4),
                        textcoords="offset points", fontsize=FONT - 2, color=tone)  # fmt: skip
    times = run.requests.set_index("id").loc[request]
    if pd.notna(times["responded"]):
        ax.axvline(float(times["responded"]) * 1000, color="black", linewidth=1.5)
    ax.axvline(float(times["received"]) * 1000, color="gray", linestyle="--", linewidth=1.2)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(lanes, fontsize=FONT - 1)
    ax.set_ylim(len(lanes) - 0.4, -0.6)
    ax.margins(x=0.1)  # room for the labels of instants near the right edge
    ax.grid(axis="x", alpha=0.3)


def plot_request(
    *panels: tuple[Run, pd.DataFrame],
    titles: Sequence[str] | None = None,
    request: int = 0,
    spans: Sequence[str] | None = None,
) -> Figure:
    """One request per panel, stacked on a shared time axis (ms from the burst start).

    Args:
        panels: ``(run, events)`` pairs, ``events`` from ``EventLog.frame(run)``.
        titles: one title per panel.
        request: which request of each run to draw (its index in ``fire``).
        spans: FastAPI span names to draw (e.g. ``["endpoint", "background_task"]``);
            ``None`` draws all of them.

    Rows: FastAPI's spans of that request (``FastAPI: …``) then the event lanes. Bars are
    blue on the event loop, pink on a worker thread, hatched grey when cancelled, edged
    red when they raised; a diamond is an instant (coloured by its thread); the black line is
    the response leaving the server, the dashed one the client receiving it or giving up.
    """
    if not panels:
        raise ValueError("plot_request needs at least one (run, events) pair")
    _check_titles(titles, len(panels))
    counts = [max(1, _lanes(run, ev, request, spans)["lane"].nunique()) for run, ev in panels]
    fig = LabFigure(figsize=(13, 1.0 + 0.55 * sum(counts) + 0.6 * len(panels)),
                    layout="constrained")  # fmt: skip
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, height_ratios=counts)
    for i, (run, events) in enumerate(panels):
        ax = axes[i][0]
        _draw_request(ax, run, events, request, spans)
        if titles is not None:
            ax.set_title(titles[i], fontsize=FONT, loc="left")
    axes[-1][0].set_xlabel("time since burst start (ms)", fontsize=FONT)
    axes[0][0].legend(
        handles=[Patch(color=LOOP_COLOR, label="ran on the event loop"),
                 Patch(color=WORKER_COLOR, label="ran on a worker thread"),
                 Patch(facecolor=CANCELLED_COLOR, hatch="//", label="cancelled"),
                 Patch(facecolor="white", edgecolor=RAISED_COLOR, linewidth=2, label="raised"),
                 Line2D([], [], color="black", label="response sent"),
                 Line2D([], [], color="gray", linestyle="--", label="client received / gave up")],
        fontsize=FONT - 3, loc="upper left", bbox_to_anchor=(1.0, 1.0),
    )  # fmt: skip
    return fig


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
    _check_titles(titles, len(panels))
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
