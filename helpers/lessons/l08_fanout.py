"""Lesson 08's support: a small helper for exception groups (Python 3.11+) and the fan-out
figure, drawn from the learner's own spans ("call upstream" in the API, "upstream handler"
in the upstream, joined to the API's trace through its ``traceparent`` header).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers._plots import FONT, LOOP_COLOR, QUEUED_COLOR, SMALL, WIDTH_IN, LabFigure
from helpers._run import Run

__all__ = ["exception_leaves", "in_flight", "plot_fanout", "pool_timeouts_due"]

FAILED_COLOR = "#d62728"


def exception_leaves(exc: BaseException) -> list[BaseException]:
    """The individual exceptions inside ``exc``: the leaves of an ``ExceptionGroup``
    (nested groups flattened), or ``[exc]`` for an ordinary exception.

    Lets notebook code handle ``asyncio.TaskGroup`` errors with a plain ``except`` that
    is valid syntax on every Python version (``except*`` is a SyntaxError before 3.11).
    """
    group_type = getattr(builtins, "BaseExceptionGroup", None)  # None before Python 3.11
    if group_type is not None and isinstance(exc, group_type):
        inner: Sequence[BaseException] = getattr(exc, "exceptions", ())
        return [leaf for member in inner for leaf in exception_leaves(member)]
    return [exc]


def in_flight(spans: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """How many of ``spans`` (rows with ``start`` and ``end`` in **s**) were open at each of
    ``times`` (**s**); a span is open from its start up to, not including, its end."""
    starts = np.sort(spans["start"].to_numpy(dtype=float))
    ends = np.sort(spans["end"].to_numpy(dtype=float))
    opened = np.searchsorted(starts, times, side="right")
    closed = np.searchsorted(ends, times, side="right")
    return np.asarray(opened - closed)


def pool_timeouts_due(
    calls: pd.DataFrame, pool_timeout_s: float, error: str = "PoolTimeout"
) -> np.ndarray:
    """When each call that failed with ``error`` reached its pool timeout (**s** on the burst
    clock, sorted): ``pool_timeout_s`` (**s**) after that call's own ``start``, the moment it
    asked the client for a connection, not after the start of the burst or of the first call.

    ``calls`` has one row per call span (``start``, ``status``, ``error`` as in ``Run.spans``,
    where ``error`` begins with the exception's type name: ``"PoolTimeout: …"``).
    """
    if pool_timeout_s <= 0:
        raise ValueError(f"pool_timeout_s must be > 0 s, got {pool_timeout_s}")
    kind = calls["error"].astype(str).str.split(":", n=1).str[0]
    failed = calls[(calls["status"] == "error") & (kind == error)]
    return np.sort(failed["start"].to_numpy(dtype=float) + pool_timeout_s)


def plot_fanout(
    run: Run,
    *,
    title: str,
    call: str = "call upstream",
    upstream: str = "upstream handler",
    pool_timeout_s: float | None = 5.0,
    max_connections: int | None = 100,
) -> LabFigure:
    """One fan-out over time (ms since the burst started): calls at the upstream (spans named
    ``upstream``), calls started but not yet there, i.e. queued in the client (``call`` spans
    open minus those at the upstream), and calls failed so far (``call`` spans that ended in
    an error). Dotted: ``max_connections``; dashed: the pool timeouts due so far, each
    ``pool_timeout_s`` after the start of its own call (``pool_timeouts_due``), which the
    failures should follow."""
    spans = run.spans
    calls = spans[spans["name"] == call]
    handlers = spans[spans["name"] == upstream]
    if calls.empty:
        raise ValueError(
            f"no span {call!r} in this run; its spans are {sorted(set(spans['name']))}"
        )
    last = float(calls["end"].max())
    times = np.linspace(0.0, last * 1.02, 2000)
    at_upstream = in_flight(handlers, times)
    queued = in_flight(calls, times) - at_upstream
    failed_at = np.sort(calls.loc[calls["status"] == "error", "end"].to_numpy(dtype=float))
    failed = np.searchsorted(failed_at, times, side="right")

    fig = LabFigure(figsize=(WIDTH_IN, 5), layout="constrained")
    ax = fig.subplots()
    ms = times * 1000
    ax.fill_between(
        ms,
        0,
        queued,
        step="post",
        color=QUEUED_COLOR,
        label="in the client: queued for a connection, or reading the answer",
    )
    ax.step(ms, at_upstream, where="post", color=LOOP_COLOR, linewidth=2.5, label="at the upstream")
    ax.step(ms, failed, where="post", color=FAILED_COLOR, linewidth=2.5, label="failed so far")
    if max_connections is not None:
        ax.axhline(max_connections, color="gray", linestyle=":", linewidth=1.5)
        ax.annotate(
            f"max_connections = {max_connections}",
            (0, max_connections),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=SMALL,
            color="dimgray",
        )
    if pool_timeout_s is not None:
        due = pool_timeouts_due(calls, pool_timeout_s)
        if due.size:
            ax.step(
                ms,
                np.searchsorted(due, times, side="right"),
                where="post",
                color="black",
                linestyle="--",
                linewidth=1.5,
                # Under "failed so far": where the failures came on time it hides this line,
                # which shows only where a deadline came before its failure.
                zorder=1.5,
                label=f"pool timeouts due: {pool_timeout_s:g} s after each failed call's own start",
            )
    ax.set_title(title, fontsize=FONT, loc="left")
    ax.set_xlabel("time since burst start (ms)", fontsize=FONT)
    ax.set_ylabel("calls", fontsize=FONT)
    ax.tick_params(labelsize=SMALL + 1)
    ax.set_xlim(0, ms[-1])
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    # Below the panel, so it hides no reading.
    fig.legend(
        *ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=SMALL + 1
    )
    return fig
