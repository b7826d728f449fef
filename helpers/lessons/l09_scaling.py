"""Lesson 09, client side: bursts at uvicorn worker processes, and what they tell.

``fire_url`` sends a burst to a server in another process (one started by
``helpers.lessons.l09_workers.start_workers``). The lab's tracing cannot see inside that
process, so each endpoint of the lesson's app reports its own pid, thread and wall-clock
start and end in the response body (``pid``, ``thread``, ``thread_id``, ``start``, ``end``,
optionally ``on_loop``), and ``fire_url`` puts those on the run's timeline.
``bodies_frame``, ``process_frame`` and ``plot_processes`` read and draw them.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from helpers._bars import hbars
from helpers._load import fire
from helpers.lessons.l09_workers import WorkerServer

if TYPE_CHECKING:
    from helpers._plots import LabFigure
    from helpers._run import Run

__all__ = ["bodies_frame", "fire_url", "plot_processes", "process_frame"]


async def fire_url(
    target: WorkerServer | str,
    path: str,
    n: int = 100,
    params: dict[str, Any] | None = None,
    concurrency: int | None = None,
    timeout: float = 30.0,
    label: str = "",
) -> Run:
    """``fire`` at a server in another process, with the handlers' own stamps attached.

    Args:
        target: a ``WorkerServer`` or a loopback base URL such as ``http://127.0.0.1:8000``.
        path, n, params, concurrency, timeout, label: as for ``helpers.fire`` (seconds).

    ``fire`` measures the client side (the lab cannot trace inside another process); the
    server columns ``start``/``end``/``thread`` then come from the handler's own stamps in
    the body (``pid``, ``thread_id``, wall-clock ``start``/``end``), and a ``pid`` column
    is added. ``lag`` and ``pool`` stay empty.
    """
    url = target.url if isinstance(target, WorkerServer) else target
    run = await fire(
        url,
        path,
        n=n,
        params=params,
        concurrency=concurrency,
        timeout=timeout,
        label=label,
        progress=False,
    )
    # The handlers stamp wall-clock time; map it onto the run's perf_counter clock.
    wall0 = time.time() - (time.perf_counter() - run.t0)
    if isinstance(target, WorkerServer) and target.tokens:
        run.thread_limit = target.tokens
    _attach_stamps(run, wall0)
    return run


def _json_object(body: object) -> dict[str, Any] | None:
    """A response body parsed as a JSON object, or ``None`` (no body, not JSON, not an object)."""
    try:
        data = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _attach_stamps(run: Run, wall0: float) -> None:
    r = run.requests
    pids: list[int | None] = []
    names: dict[tuple[int, int], str] = {}
    for i, body in enumerate(r["body"]):
        data = _json_object(body)
        if not (data is not None and {"pid", "thread_id", "start", "end"} <= data.keys()):
            pids.append(None)
            continue
        pid, key = int(data["pid"]), (int(data["pid"]), int(data["thread_id"]))
        on_loop = bool(data.get("on_loop", False))
        if key not in names:
            number = sum(k[0] == pid for k in names) + 1
            names[key] = f"pid {pid} · " + ("event loop" if on_loop else f"worker {number}")
        r.loc[i, ["start", "end"]] = [data["start"] - wall0, data["end"] - wall0]
        r.loc[i, "thread"], r.loc[i, "on_loop"] = names[key], on_loop
        pids.append(pid)
    r["pid"] = pids
    r["pid"] = r["pid"].astype("Int64")
    # The server columns are real (stamped by the handlers), so draw them as such.
    run.traced = bool(r["start"].notna().any())


def bodies_frame(run: Run) -> Any:
    """The JSON bodies of the answered requests as a DataFrame, one row per request (``id``
    plus whatever keys the handler returned)."""
    import pandas as pd

    rows = []
    for request_id, body in zip(run.requests["id"], run.requests["body"]):
        data = _json_object(body)
        if data is not None:
            rows.append({"id": request_id, **data})
    return pd.DataFrame(rows)


def process_frame(run: Run) -> Any:
    """One row per worker process: ``requests`` served, ``threads`` used, ``peak_in_flight``
    (most of its handlers running at once) and ``busy_s`` (first start → last end, s)."""
    import pandas as pd

    from helpers._stats import peak_overlap

    rows = {}
    for pid, group in run.requests.dropna(subset=["pid", "start"]).groupby("pid"):
        rows[int(pid)] = {
            "requests": len(group),
            "threads": group["thread"].nunique(),
            "peak_in_flight": peak_overlap(list(zip(group["start"], group["end"]))),
            "busy_s": round(float(group["end"].max() - group["start"].min()), 3),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "pid"
    return frame


def plot_processes(*runs: Run, titles: list[str], per_worker: int | None = 40) -> LabFigure:
    """Per run: requests coloured by worker process (top) and handlers running per process
    over time (bottom, stacked), time in **ms**; the dotted line is ``per_worker`` × the
    number of processes seen. ``per_worker=None`` draws no line and scales the bottom
    panel to the handlers (for bursts far below the thread limit)."""
    import textwrap

    import numpy as np
    from matplotlib import colormaps

    from helpers._plots import FONT, SMALL, WIDTH_IN, LabFigure

    if len(titles) != len(runs):
        raise ValueError(f"titles has {len(titles)} entries for {len(runs)} runs")
    if not runs:
        raise ValueError("plot_processes needs at least one run")
    # Notebook width, so no text is scaled below SMALL; titles wrap to their panel's width
    # (~0.5 em per character of DejaVu Sans, less ~0.8 in of y labels).
    fig = LabFigure(figsize=(WIDTH_IN, 7.5), layout="constrained")
    chars = max(20, int((WIDTH_IN / len(runs) - 0.8) * 72 / (FONT * 0.5)))
    axes = fig.subplots(2, len(runs), sharex=True, squeeze=False, height_ratios=[2.2, 1])
    palette = colormaps["tab10"]
    top = 1
    for col, (run, title) in enumerate(zip(runs, titles)):
        r = run.requests.dropna(subset=["pid", "start"]).sort_values("start")
        pids = sorted(r["pid"].unique())
        y = np.arange(len(r))
        colors = [palette(pids.index(p) % 10) for p in r["pid"]]
        hbars(axes[0][col], y, (r["end"] - r["start"]) * 1000, r["start"] * 1000, height=1.0,
              color=colors)  # fmt: skip
        axes[0][col].set_ylim(len(r), -1)
        grid = np.linspace(0, float(r["end"].max()), 400)
        stacks = [
            ((g["start"].to_numpy()[:, None] <= grid) & (grid < g["end"].to_numpy()[:, None])).sum(
                axis=0
            )
            for _, g in r.groupby("pid")
        ]
        axes[1][col].stackplot(
            grid * 1000,
            *stacks,
            step="post",
            colors=[palette(i % 10) for i in range(len(pids))],
            labels=[f"pid {p}" for p in pids],
        )
        limit = 0
        if per_worker is not None:
            limit = per_worker * len(pids)
            axes[1][col].axhline(
                limit,
                color="gray",
                linestyle=":",
                label=f"{per_worker} threads × {len(pids)} process(es)",
            )
        top = max(top, limit, int(np.sum(stacks, axis=0).max()))
        axes[0][col].set_title(textwrap.fill(title, chars), fontsize=FONT, loc="left")
        axes[0][col].set_ylabel("request (by start)" if col == 0 else "", fontsize=FONT)
        axes[1][col].set_ylabel("handlers running" if col == 0 else "", fontsize=FONT)
        axes[1][col].set_xlabel("time since burst start (ms)", fontsize=FONT)
        axes[1][col].legend(fontsize=SMALL, loc="upper right")
        for ax in axes[:, col]:
            ax.grid(axis="x", alpha=0.3)
            ax.tick_params(labelsize=SMALL)
    for ax in axes[1]:
        ax.set_ylim(0, top * 1.25)
    return fig
