"""Timelines of what ran *around* and *inside* the endpoint: FastAPI's spans and the
learner's own (``tracer.start_as_current_span(...)``, see ``Run.spans``) on one axis, in
**milliseconds from the burst start**.

- ``plot_spans(*runs)``: a row per request with a bar per FastAPI span (dependencies,
  endpoint, serialization, background task), the learner's spans as thin bars inside, and a
  tick when the response left, above the thread-pool gauge. For bursts.
- ``plot_request(*runs)``: one request, a row per span name, coloured by the thread that ran
  it, with the moment the response left. For a close look.
- ``ms_after(run, name)``: per request, how long after the response a span started or ended.

``helpers/_thread_lanes.py: plot_thread_lanes`` draws the same spans by thread instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helpers._bars import hbars
from helpers._plots import BUSY_COLOR, FONT, LOOP_COLOR, SMALL, WAITING_COLOR, WIDTH_IN, LabFigure
from helpers._run import LOOP_LABEL, Run

__all__ = ["SPAN_COLORS", "check_runs", "check_titles", "ms_after", "plot_request", "plot_spans"]

SPAN_COLORS = {
    "dependencies": "#ff7f0e",
    "endpoint": LOOP_COLOR,
    "serialization": "#9467bd",
    "background_task": "#2ca02c",
}
WORKER_COLOR = "#e377c2"
OTHER_LOOP_COLOR = "#9ecae1"  # another lab server's loop: an upstream the trace reached
RAISED_COLOR = "#d62728"
CANCELLED_COLOR = "#c7c7c7"
SPAN_PREFIX = "FastAPI: "
# The learner's spans, drawn thin inside FastAPI's bars: colours FastAPI's do not use.
OWN_COLORS = ["#17becf", "#8c564b", "#bcbd22", "#7f7f7f", "#d62728", "#e377c2", "#1a1a1a"]


def check_titles(titles: Sequence[str] | None, count: int) -> None:
    """``ValueError`` unless ``titles`` is ``None`` or has one entry per panel."""
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} panels")


def check_runs(figure: str, runs: Sequence[object], titles: Sequence[str] | None) -> None:
    """The arguments every span figure takes: at least one ``Run`` (``TypeError`` for
    anything else, e.g. a first-edition ``(run, events)`` pair) and fitting ``titles``."""
    if not runs:
        raise ValueError(f"{figure} needs at least one Run")
    bad = [r for r in runs if not isinstance(r, Run)]
    if bad:
        raise TypeError(f"{figure} takes Runs (their spans are in run.spans), got {bad[0]!r}")
    check_titles(titles, len(runs))


def own_colors(*runs: Run) -> dict[str, str]:
    """A colour per name of the learner's spans in ``runs``, in order of first appearance."""
    names: dict[str, None] = {}
    for run in runs:
        spans = run.spans
        names.update(dict.fromkeys(spans.loc[~spans["fastapi"].astype(bool), "name"]))
    return {name: OWN_COLORS[i % len(OWN_COLORS)] for i, name in enumerate(names)}


def _draw_span_rows(ax: Axes, run: Run, own: dict[str, str]) -> None:
    spans = run.spans
    for name, color in SPAN_COLORS.items():
        rows = spans[spans["name"] == name]
        hbars(ax, rows["id"], (rows["end"] - rows["start"]) * 1000, rows["start"] * 1000,
              height=0.7, color=color)  # fmt: skip
    for name, color in own.items():
        rows = spans[(spans["name"] == name) & ~spans["fastapi"].astype(bool)]
        hbars(ax, rows["id"], (rows["end"] - rows["start"]) * 1000, rows["start"] * 1000,
              height=0.25, color=color, zorder=3)  # fmt: skip
    r = run.requests
    ax.scatter(r["responded"] * 1000, r["id"], marker="|", s=160, color="black", zorder=4)
    ax.set_ylim(len(r) - 0.5, -0.5)


def plot_spans(*runs: Run, titles: Sequence[str] | None = None) -> Figure:
    """Bursts side by side: FastAPI's spans per request (top), thread-pool gauge (bottom).

    Time in ms from each burst's start; a black tick marks when each response was sent. The
    learner's own spans (``tracer.start_as_current_span``) are thin bars inside the row.
    """
    check_runs("plot_spans", runs, titles)
    names = list(titles) if titles is not None else [r.label for r in runs]
    own = own_colors(*runs)
    fig = LabFigure(figsize=(WIDTH_IN, 7), layout="constrained")
    axes = fig.subplots(2, len(runs), sharex=True, sharey="row", squeeze=False,
                        height_ratios=[3, 1])  # fmt: skip
    for col, (run, name) in enumerate(zip(runs, names)):
        top, bottom = axes[0][col], axes[1][col]
        _draw_span_rows(top, run, own)
        top.set_title(name, fontsize=FONT, loc="left")
        for ax in (top, bottom):
            ax.tick_params(labelsize=SMALL + 1)
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
    handles += [Patch(color=c, label=f"your span: {n}") for n, c in own.items()]
    handles.append(Line2D([], [], marker="|", linestyle="", color="black", markersize=12,
                          label="response sent"))  # fmt: skip
    axes[0][-1].legend(handles=handles, fontsize=SMALL + 1, loc="upper left",
                       bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    axes[1][-1].legend(
        handles=[Line2D([], [], color=BUSY_COLOR, label="busy worker threads"),
                 Line2D([], [], color=WAITING_COLOR, label="waiting for a thread"),
                 Line2D([], [], color="gray", linestyle=":", label="thread limit")],
        fontsize=SMALL + 1, loc="upper left", bbox_to_anchor=(1.0, 1.0),
    )  # fmt: skip
    return fig


LANE_COLUMNS = ["lane", "name", "start", "end", "status", "thread"]


def _lanes(run: Run, request: int, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The spans of one request as rows: FastAPI's (only ``names``, if given) first, then
    the learner's, one lane per span name."""
    spans = run.spans[run.spans["id"] == request]
    fastapi = spans["fastapi"].astype(bool)
    theirs = spans[fastapi]
    if names is not None:
        theirs = theirs[theirs["name"].isin(list(names))]
    rows = [
        {"lane": SPAN_PREFIX + str(s["name"]).replace("_", " "), "name": s["name"],
         "start": s["start"], "end": s["end"], "status": s["status"], "thread": s["thread"]}
        for _, s in theirs.iterrows()
    ]  # fmt: skip
    mine = spans[~fastapi].assign(lane=lambda f: f["name"])
    rows += mine[LANE_COLUMNS].to_dict("records")
    table: pd.DataFrame = pd.DataFrame(rows, columns=LANE_COLUMNS)
    return table


def _thread_color(thread: str) -> str:
    if thread == LOOP_LABEL:
        return LOOP_COLOR
    return OTHER_LOOP_COLOR if thread.startswith(LOOP_LABEL) else WORKER_COLOR


def _draw_request(ax: Axes, run: Run, request: int, names: Sequence[str] | None) -> None:
    rows = _lanes(run, request, names)
    lanes = list(dict.fromkeys(rows["lane"]))
    y = {lane: i for i, lane in enumerate(lanes)}
    for _, row in rows.iterrows():
        lane = y[row["lane"]]
        start = row["start"] * 1000
        width = max(row["end"] * 1000 - start, 0.4)
        face = _thread_color(str(row["thread"]))
        cancelled = row["status"] == "cancelled"
        ax.barh(lane, width, left=start, height=0.6,
                color=CANCELLED_COLOR if cancelled else face, hatch="//" if cancelled else None,
                edgecolor=RAISED_COLOR if row["status"] == "error" else "none",
                linewidth=2)  # fmt: skip
        if row["status"] in ("error", "cancelled"):
            tone = RAISED_COLOR if row["status"] == "error" else "dimgray"
            ax.annotate(str(row["status"]), (start + width, lane), xytext=(4, -4),
                        textcoords="offset points", fontsize=SMALL + 1, color=tone)  # fmt: skip
    times = run.requests.set_index("id").loc[request]
    if pd.notna(times["responded"]):
        ax.axvline(float(times["responded"]) * 1000, color="black", linewidth=1.5)
    ax.axvline(float(times["received"]) * 1000, color="gray", linestyle="--", linewidth=1.2)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(lanes, fontsize=SMALL + 1)
    ax.set_ylim(len(lanes) - 0.4, -0.6)
    ax.margins(x=0.1)  # room for the "error"/"cancelled" labels near the right edge
    ax.grid(axis="x", alpha=0.3)


def plot_request(
    *runs: Run,
    titles: Sequence[str] | None = None,
    request: int = 0,
    spans: Sequence[str] | None = None,
) -> Figure:
    """One request per panel, stacked on a shared time axis (ms from the burst start).

    Args:
        runs: one panel per run.
        titles: one title per panel.
        request: which request of each run to draw (its index in ``fire``).
        spans: FastAPI span names to draw (e.g. ``["endpoint", "background_task"]``);
            ``None`` draws all of them. The learner's own spans are always drawn.

    Rows: FastAPI's spans of that request (``FastAPI: …``), then a row per name of the
    learner's spans. Bars are blue on the event loop, pink on a worker thread, hatched grey
    when cancelled, edged red when they ended in an error; the black line is the response
    leaving the server, the dashed one the client receiving it or giving up.
    """
    check_runs("plot_request", runs, titles)
    counts = [max(1, _lanes(run, request, spans)["lane"].nunique()) for run in runs]
    fig = LabFigure(figsize=(WIDTH_IN, 1.0 + 0.55 * sum(counts) + 0.6 * len(runs)),
                    layout="constrained")  # fmt: skip
    axes = fig.subplots(len(runs), 1, sharex=True, squeeze=False, height_ratios=counts)
    for i, run in enumerate(runs):
        ax = axes[i][0]
        _draw_request(ax, run, request, spans)
        ax.tick_params(labelsize=SMALL + 1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=FONT, loc="left")
    axes[-1][0].set_xlabel("time since burst start (ms)", fontsize=FONT)
    threads = {str(t) for run in runs for t in run.spans["thread"]}
    other = [Patch(color=OTHER_LOOP_COLOR, label="ran on another server's loop")] if any(
        t.startswith(LOOP_LABEL) and t != LOOP_LABEL for t in threads) else []  # fmt: skip
    axes[0][0].legend(
        handles=[Patch(color=LOOP_COLOR, label="ran on the event loop"),
                 Patch(color=WORKER_COLOR, label="ran on a worker thread"), *other,
                 Patch(facecolor=CANCELLED_COLOR, hatch="//", label="cancelled"),
                 Patch(facecolor="white", edgecolor=RAISED_COLOR, linewidth=2, label="error"),
                 Line2D([], [], color="black", label="response sent"),
                 Line2D([], [], color="gray", linestyle="--", label="client received / gave up")],
        fontsize=SMALL + 1, loc="upper left", bbox_to_anchor=(1.0, 1.0),
    )  # fmt: skip
    return fig


def ms_after(
    run: Run, name: str, edge: str = "start", column: str = "responded", *,
    within: str | None = None,
) -> pd.Series:  # fmt: skip
    """Per request: how many **milliseconds** after ``run.requests[column]`` the spans
    called ``name`` started (``edge="start"``) or ended (``edge="end"``); negative means
    before. A request with several such spans gets its first start or its last end.

    ``within`` keeps only the spans inside that FastAPI span (``"serialization"``, …).
    """
    if edge not in ("start", "end"):
        raise ValueError(f"edge must be 'start' or 'end', got {edge!r}")
    if column not in run.requests.columns:
        raise ValueError(f"column must be one of {list(run.requests.columns)}, got {column!r}")
    spans = run.spans
    rows = spans[spans["name"] == name]
    if within is not None:
        rows = rows[rows["within"] == within]
    if rows.empty:
        raise ValueError(
            f"no span {name!r}{f' within {within!r}' if within else ''} in this run; "
            f"its spans are {sorted(set(spans['name']))}"
        )
    grouped = rows.groupby("id")[edge]
    when = grouped.min() if edge == "start" else grouped.max()
    reference = run.requests.set_index("id")[column]
    result: pd.Series = ((when - reference.reindex(when.index)) * 1000).rename(
        f"{name}: {edge} − {column} (ms)"
    )
    return result
