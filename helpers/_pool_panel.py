"""The thread-pool panel: worker threads busy and calls waiting, or one line saying none.

The gauge (``helpers._probes.Sampler``) reads the server loop's default thread limiter at
every probe wake-up: ``busy`` threads hold a token, ``waiting`` calls queue for one. A run
that never used a worker thread gets a single line instead of a panel of zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from helpers._run import Run

__all__ = ["BUSY_COLOR", "WAITING_COLOR", "draw_pool", "pool_line", "pool_top", "pool_used"]

BUSY_COLOR = "#2ca02c"
WAITING_COLOR = "#d62728"
LIMIT_COLOR = "gray"
NOT_MEASURED = "thread pool: not measured (the lab did not start this server)"


def pool_used(run: Run) -> bool:
    """True if any handler ran on a worker thread or the pool gauge ever moved."""
    p = run.pool
    moved = bool(len(p)) and bool((p["busy"] > 0).any() or (p["waiting"] > 0).any())
    return moved or bool((run.requests["on_loop"] == False).any())  # noqa: E712


def pool_top(runs: Sequence[Run]) -> float:
    """Upper limit of a thread axis shared by ``runs``: room over the limit and the queue."""
    tops = [
        max(r.thread_limit or 1, int(r.pool["waiting"].max()) if len(r.pool) else 0) for r in runs
    ]
    return max(tops) * 1.15 + 1


def draw_pool(ax: Axes, run: Run, top: float) -> list[Artist]:
    """Busy and waiting steps over time (ms) on ``ax``, y from 0 to ``top``; returns legend
    entries."""
    p = run.pool
    ax.step(p["t"] * 1000, p["busy"], where="post", color=BUSY_COLOR, linewidth=1.8)
    ax.step(p["t"] * 1000, p["waiting"], where="post", color=WAITING_COLOR, linewidth=1.8)
    if run.thread_limit is not None:
        ax.axhline(run.thread_limit, color=LIMIT_COLOR, linestyle=":", linewidth=1.2)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
    return [
        Line2D([], [], color=BUSY_COLOR, linewidth=2, label="threads busy"),
        Line2D([], [], color=WAITING_COLOR, linewidth=2, label="calls waiting for a thread"),
        Line2D([], [], color=LIMIT_COLOR, linestyle=":", label="thread limit"),
    ]


def pool_line(runs: Sequence[Run]) -> str:
    """The one line that replaces the pool panel of ``runs`` that used no worker thread."""
    if all(r.thread_limit is None for r in runs):
        return NOT_MEASURED
    if len(runs) > 1:
        return "thread pool: no worker threads used in any of these runs"
    return "thread pool: no worker threads used"


def write_line(ax: Axes, text: str, font: float) -> None:
    """``text`` in place of a panel: no axes, one grey line (``font`` in pt)."""
    ax.axis("off")
    ax.text(0, 0.5, text, transform=ax.transAxes, va="center", fontsize=font, color="#555555")
