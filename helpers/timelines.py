"""Timelines of what ran *around* and *inside* the endpoint: FastAPI's spans and the lab's
events (``helpers.events``) on one axis, in **milliseconds from the burst start**.

- ``plot_spans(*runs)``: a row per request with a bar per FastAPI span (dependencies,
  endpoint, serialization, background task) and a tick when the response left, above the
  thread-pool gauge. For bursts.
- ``plot_request((run, events), …)``: one request, a row per span or event lane, coloured
  by the thread that ran it, with the moment the response left. For a close look.

``helpers/thread_lanes.py: plot_thread_lanes`` draws the same events by thread instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helpers.bars import hbars
from helpers.plots import BUSY_COLOR, FONT, LOOP_COLOR, WAITING_COLOR, LabFigure
from helpers.run import Run

__all__ = ["SPAN_COLORS", "check_titles", "plot_request", "plot_spans"]

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


def check_titles(titles: Sequence[str] | None, count: int) -> None:
    """``ValueError`` unless ``titles`` is ``None`` or has one entry per panel."""
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} panels")


def _draw_span_rows(ax: Axes, run: Run) -> None:
    spans = run.spans
    for name, color in SPAN_COLORS.items():
        rows = spans[spans["name"] == name]
        hbars(ax, rows["id"], (rows["end"] - rows["start"]) * 1000, rows["start"] * 1000,
              height=0.7, color=color)  # fmt: skip
    r = run.requests
    ax.scatter(r["responded"] * 1000, r["id"], marker="|", s=160, color="black", zorder=4)
    ax.set_ylim(len(r) - 0.5, -0.5)


def plot_spans(*runs: Run, titles: Sequence[str] | None = None) -> Figure:
    """Bursts side by side: FastAPI's spans per request (top), thread-pool gauge (bottom).

    Time in ms from each burst's start; a black tick marks when each response was sent.
    """
    if not runs:
        raise ValueError("plot_spans needs at least one Run")
    check_titles(titles, len(runs))
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
    check_titles(titles, len(panels))
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
