"""How much a server takes: cost per request, throughput, and where each request's time went.

Pure functions over ``Run`` objects; nothing is sent or served here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.plots import BUSY_COLOR, FONT, QUEUED_COLOR, LabFigure
from helpers.run import Run, request_waves

__all__ = [
    "per_request_cost",
    "plot_latencies",
    "plot_wait_vs_run",
    "thread_rounds",
    "throughput",
    "wave_sizes",
]


def per_request_cost(runs: Sequence[Run], sleep_s: float) -> pd.DataFrame:
    """What a burst cost beyond the time its handlers spent sleeping, per request.

    Args:
        runs: bursts against an endpoint that awaits ``sleep_s`` seconds and does nothing
            else.
        sleep_s: the sleep of each request, **seconds**.

    Returns a row per run: ``n``, ``makespan_s``, ``beyond_sleep_s`` (makespan minus
    the sleep), ``ms_per_request`` (that excess divided by ``n``, **milliseconds**),
    ``client_overhead_p50_ms`` and ``max_lag_ms`` from the run summary.
    """
    if not sleep_s >= 0:
        raise ValueError(f"sleep_s must be ≥ 0 seconds, got {sleep_s!r}")
    rows = []
    for run in runs:
        s = run.summary()
        beyond = max(0.0, s["makespan_s"] - sleep_s)
        rows.append(
            {
                "n": s["n"],
                "makespan_s": s["makespan_s"],
                "beyond_sleep_s": round(beyond, 3),
                "ms_per_request": round(beyond / s["n"] * 1000, 3),
                "client_overhead_p50_ms": s["client_overhead_p50_ms"],
                "max_lag_ms": s["max_lag_ms"],
            }
        )
    names = [r.label or f"run {i}" for i, r in enumerate(runs)]
    frame: pd.DataFrame = pd.DataFrame(rows, index=names)
    return frame


def thread_rounds(run: Run) -> list[int]:
    """``wave_sizes`` of the handlers that ran on worker threads (``[40, 40, 20]`` for 100
    equal ``def`` requests on 40 threads; ``[]`` for an ``async def`` burst).

    The same waves as ``Run.summary()["waves"]`` and ``requests["wave"]``, under the name
    lesson 02 uses for its rounds through the pool.
    """
    waves = request_waves(run.requests, run.thread_limit, run.spans)
    on_worker = run.requests["on_loop"].eq(False).tolist()
    return _sizes([wave for wave, flag in zip(waves, on_worker) if flag])


def throughput(run: Run) -> float:
    """Completed requests per second while handlers were running on the server.

    Counts the successful requests and divides by the time from the first handler start
    to the last handler end (**seconds**), so client ramp-up before the first handler and
    the response trip after the last one are left out. Needs a traced run.
    """
    r = run.requests
    done = r[r["status"].notna() & r["start"].notna() & r["end"].notna()]
    if len(done) < 2:
        raise ValueError(f"throughput needs ≥ 2 traced, successful requests, got {len(done)}")
    window = float(done["end"].max() - done["start"].min())
    return len(done) / window


def plot_wait_vs_run(run: Run, title: str | None = None) -> LabFigure:
    """A stacked bar per request (in arrival order): waiting for a worker thread (the queue
    for a thread-limiter token plus the hand-off to the thread, ``requests["wait"]``), then
    running, both in **ms**."""
    r = run.requests[run.requests["start"].notna()].sort_values("arrived")
    wait_ms = r["wait"].fillna(0).to_numpy() * 1000
    run_ms = (r["end"] - r["start"]).to_numpy() * 1000
    x = np.arange(len(r))
    fig = LabFigure(figsize=(13, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.bar(x, wait_ms, width=1.0, color=QUEUED_COLOR, edgecolor="white", linewidth=0.3,
           label="waiting for a worker thread (incl. hand-off)")  # fmt: skip
    ax.bar(x, run_ms, bottom=wait_ms, width=1.0, color=BUSY_COLOR, edgecolor="white",
           linewidth=0.3, label="running on a worker thread")  # fmt: skip
    ax.set_xlabel("request, in order of arrival at the server", fontsize=FONT)
    ax.set_ylabel("time in the server (ms)", fontsize=FONT)
    ax.set_xlim(-0.5, len(r) - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=FONT - 2, loc="upper left")
    ax.set_title(title or "Queue wait vs running time per request", fontsize=FONT + 1,
                 loc="left")  # fmt: skip
    return fig


def plot_latencies(*runs: Run, titles: Sequence[str] | None = None, title: str = "") -> LabFigure:
    """One row per run: a dot per request at its client-side latency (**ms**, sent →
    received) and a bar at the median, labelled."""
    if not runs:
        raise ValueError("plot_latencies needs at least one Run")
    names = list(titles) if titles is not None else [r.label or f"run {i}" for i, r in
                                                      enumerate(runs)]  # fmt: skip
    if len(names) != len(runs):
        raise ValueError(f"titles has {len(names)} entries for {len(runs)} runs")
    fig = LabFigure(figsize=(13, 1.5 + 0.9 * len(runs)), layout="constrained")
    ax = fig.subplots()
    for y, run in enumerate(runs):
        ok = run.requests[run.requests["status"].notna()]
        latency_ms = ((ok["received"] - ok["sent"]) * 1000).to_numpy()
        jitter = np.linspace(-0.2, 0.2, len(latency_ms)) if len(latency_ms) > 1 else [0.0]
        ax.scatter(latency_ms, y + np.asarray(jitter), s=30, color=BUSY_COLOR, zorder=3)
        median = float(np.median(latency_ms)) if len(latency_ms) else float("nan")
        ax.barh(y, median, height=0.6, color=QUEUED_COLOR, zorder=1)
        ax.text(median, y - 0.38, f" median {median:.0f} ms", fontsize=FONT - 1, va="bottom")
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels(names, fontsize=FONT - 1)
    ax.set_ylim(len(runs) - 0.4, -0.7)
    ax.set_xlim(left=0)
    ax.set_xlabel("latency per request, sent → received (ms)", fontsize=FONT)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    return fig


def wave_sizes(run: Run) -> list[int]:
    """How many handlers ran in each wave, in order (e.g. ``[40, 40, 20]``).

    Waves as ``Run.summary()["waves"]`` counts them and ``requests["wave"]`` numbers them
    (``helpers/run.py: request_waves``): a second wave starts when requests that queued for
    a worker thread get one, as earlier handlers finish. ``len(wave_sizes(run))`` equals
    that count.
    """
    return _sizes(request_waves(run.requests, run.thread_limit, run.spans))


def _sizes(waves: Sequence[int] | pd.Series) -> list[int]:
    counts = Counter(int(w) for w in waves if int(w) > 0)
    return [counts[w] for w in range(1, max(counts, default=0) + 1)]
