"""Lesson 02: waves through the thread pool, and the latency figure.

Pure functions over ``Run`` objects; nothing is sent or served here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers._plots import BUSY_COLOR, FONT, QUEUED_COLOR, SMALL, WIDTH_IN, LabFigure
from helpers._run import Run, request_waves

__all__ = [
    "plot_latencies",
    "wave_sizes",
]


def plot_latencies(*runs: Run, titles: Sequence[str] | None = None, title: str = "") -> LabFigure:
    """One row per run: a dot per request at its client-side latency (**ms**, sent →
    received) and a grey bar to the median, labelled; notebook width, text ≥ ``SMALL`` pt.

    Args:
        runs: the runs, top to bottom.
        titles: one row label per run (default: each run's label).
        title: the figure's title (state the finding).
    """
    if not runs:
        raise ValueError("plot_latencies needs at least one Run")
    names = list(titles) if titles is not None else [r.label or f"run {i}" for i, r in
                                                      enumerate(runs)]  # fmt: skip
    if len(names) != len(runs):
        raise ValueError(f"titles has {len(names)} entries for {len(runs)} runs")
    fig = LabFigure(figsize=(WIDTH_IN, 1.6 + 0.9 * len(runs)), layout="constrained")
    ax = fig.subplots()
    latencies = [_latencies_ms(run) for run in runs]
    right = 1.08 * max((float(v.max()) for v in latencies if len(v)), default=1.0)
    for y, latency_ms in enumerate(latencies):
        jitter = np.linspace(-0.2, 0.2, len(latency_ms)) if len(latency_ms) > 1 else [0.0]
        ax.scatter(latency_ms, y + np.asarray(jitter), s=30, color=BUSY_COLOR, zorder=3)
        median = float(np.median(latency_ms)) if len(latency_ms) else float("nan")
        ax.barh(y, median, height=0.6, color=QUEUED_COLOR, zorder=1)
        # Right of the median, unless that would run past the axes: then left of it.
        near_end = median > 0.7 * right
        ax.text(median, y - 0.38, f"median {median:.0f} ms" + (" " if near_end else ""),
                fontsize=SMALL + 1, va="bottom", ha="right" if near_end else "left")  # fmt: skip
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels(names, fontsize=FONT - 1)
    ax.tick_params(axis="x", labelsize=SMALL + 1)
    ax.set_ylim(len(runs) - 0.4, -0.7)
    ax.set_xlim(0, right)
    ax.set_xlabel("latency per request, sent → received (ms)", fontsize=FONT)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=FONT, loc="left")
    return fig


def _latencies_ms(run: Run) -> np.ndarray:
    ok = run.requests[run.requests["status"].notna()]
    return np.asarray(((ok["received"] - ok["sent"]) * 1000).to_numpy(dtype=float))


def wave_sizes(run: Run) -> list[int]:
    """How many handlers ran in each wave, in order (e.g. ``[40, 40, 20]``).

    Waves as ``Run.summary()["waves"]`` counts them and ``requests["wave"]`` numbers them
    (``helpers/_run.py: request_waves``): a second wave starts when requests that queued for
    a worker thread get one, as earlier handlers finish. ``len(wave_sizes(run))`` equals
    that count.
    """
    return _sizes(request_waves(run.requests, run.thread_limit, run.spans))


def _sizes(waves: Sequence[int] | pd.Series) -> list[int]:
    counts = Counter(int(w) for w in waves if int(w) > 0)
    return [counts[w] for w in range(1, max(counts, default=0) + 1)]
