"""Where the CPU went during a burst: a per-thread account of this process's CPU time.

``fire`` snapshots every thread's CPU clock when the burst starts and when it ends, and
``Run.cpu`` gives the difference per thread, with a role for each: the server's event-loop
thread (``server loop``), its anyio worker threads (``worker``), the thread that ran
``fire`` — the kernel's, so the client side (``client``) — and everything else
(``other``: other servers, aiosqlite threads …). A last ``unattributed`` row is the
process's CPU time that no live thread accounts for (threads that ended during the burst,
threads Python did not start).

The clocks: ``time.pthread_getcpuclockid`` + ``time.clock_gettime`` (Linux and most Unix,
nanosecond resolution) or, where that is missing (macOS, Windows), ``psutil``'s per-thread
times if psutil is installed. Elsewhere the account says it is unavailable instead of
guessing.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "CPU_COLUMNS",
    "ROLES",
    "CpuSnapshot",
    "CpuWindow",
    "account",
    "cpu_by_role",
    "disabled",
    "plot_cpu",
    "snapshot",
    "source",
]

CPU_COLUMNS = ["role", "thread", "cpu_ms", "per_request_ms"]
ROLES = ("server loop", "worker", "client", "other", "unattributed")

_enabled = True


@dataclass
class CpuSnapshot:
    """CPU seconds per live thread (by native thread id) and of the whole process, at
    ``taken`` (``time.perf_counter()`` seconds). ``threads`` is ``None`` when this platform
    offers no per-thread clock."""

    taken: float
    process_s: float
    threads: dict[int, float] | None
    names: dict[int, str] = field(default_factory=dict)
    idents: dict[int, int] = field(default_factory=dict)  # native id → threading ident
    loops: dict[int, Any] = field(default_factory=dict)  # native id → anyio worker's loop


@dataclass
class CpuWindow:
    """The two snapshots around one burst and who is who: ``client_ident`` (the thread
    that opened the window, i.e. ran ``fire``), the server's ``loop_ident`` and ``loop``."""

    start: CpuSnapshot | None
    client_ident: int
    loop_ident: int | None = None
    loop: Any = None
    end: CpuSnapshot | None = None

    @classmethod
    def open(cls, server: Any = None) -> CpuWindow:
        """Snapshot now; ``server`` is the lab ``Server`` being fired at (or ``None``)."""
        return cls(
            start=snapshot(),
            client_ident=threading.get_ident(),
            loop_ident=getattr(server, "loop_thread_id", None),
            # anyio worker threads keep a reference to the loop they serve (``.loop``)
            loop=getattr(server, "_loop", None),
        )

    def close(self) -> None:
        """Snapshot the end of the burst."""
        self.end = snapshot()

    def table(
        self, n: int, worker_idents: set[int] | None = None, labels: dict[int, str] | None = None
    ) -> pd.DataFrame:
        """``account`` between the two snapshots, for a burst of ``n`` requests."""
        return account(self.start, self.end, n=max(n, 1), client_ident=self.client_ident,
                       loop_ident=self.loop_ident, loop=self.loop,
                       worker_idents=worker_idents, labels=labels)  # fmt: skip


def source() -> str:
    """Which per-thread clock this platform offers: ``"pthread clocks"``, ``"psutil"`` or
    ``"unavailable"``."""
    if hasattr(time, "pthread_getcpuclockid"):
        return "pthread clocks"
    return "psutil" if importlib.util.find_spec("psutil") is not None else "unavailable"


def snapshot() -> CpuSnapshot | None:
    """Every live Python thread's CPU time now, or ``None`` while ``disabled()``."""
    if not _enabled:
        return None
    threads = list(threading.enumerate())
    names = {t.native_id: t.name for t in threads if t.native_id is not None}
    idents = {t.native_id: t.ident for t in threads if t.native_id is not None and t.ident}
    loops = {t.native_id: getattr(t, "loop", None) for t in threads if t.native_id is not None}
    process_s = time.process_time()
    clocks: dict[int, float] | None = {}
    how = source()
    if how == "pthread clocks":
        assert clocks is not None
        for thread in threads:
            if thread.ident is None or thread.native_id is None:
                continue
            # A thread can end between enumerate() and here; it is then simply not counted.
            with contextlib.suppress(OSError, ProcessLookupError):
                clock = time.pthread_getcpuclockid(thread.ident)
                clocks[thread.native_id] = time.clock_gettime(clock)
    elif how == "psutil":
        psutil: Any = importlib.import_module("psutil")  # optional: only where pthread clocks lack
        clocks = {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}
    else:
        clocks = None
    return CpuSnapshot(time.perf_counter(), process_s, clocks, names, idents, loops)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Take no snapshots inside the block (``fire`` then records no CPU account); used to
    measure what the account itself costs."""
    global _enabled
    was, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = was


def account(
    start: CpuSnapshot | None,
    end: CpuSnapshot | None,
    *,
    n: int,
    client_ident: int | None,
    loop_ident: int | None,
    loop: Any = None,
    worker_idents: set[int] | None = None,
    labels: dict[int, str] | None = None,
) -> pd.DataFrame:
    """The per-thread CPU account between two snapshots: a row per thread that used CPU
    (``role``, ``thread`` name, ``cpu_ms``, ``per_request_ms`` = ``cpu_ms / n``), heaviest
    first within each role, plus an ``unattributed`` row; empty when either snapshot is
    missing or the platform has no per-thread clock.

    Args:
        n: requests in the burst (for ``per_request_ms``), ≥ 1.
        client_ident: ``threading.get_ident()`` of the thread that ran ``fire``.
        loop_ident: ``threading.get_ident()`` of the server's event-loop thread.
        loop: the server's event loop; anyio worker threads carry the loop they serve.
        worker_idents: idents of threads the burst's spans ran on (worker threads).
        labels: names to show instead of the thread's own, by ident (``worker 3``).
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if start is None or end is None or start.threads is None or end.threads is None:
        empty: pd.DataFrame = pd.DataFrame(columns=CPU_COLUMNS)
        return empty
    workers = worker_idents or set()
    rows: list[dict[str, Any]] = []
    for native, cpu_end in end.threads.items():
        used = cpu_end - start.threads.get(native, 0.0)  # a new thread started from zero
        if used <= 0:
            continue
        ident = end.idents.get(native, start.idents.get(native))
        name = end.names.get(native, start.names.get(native, f"thread {native}"))
        name = (labels or {}).get(ident, name) if ident is not None else name
        thread_loop = end.loops.get(native)
        if ident is not None and ident == loop_ident:
            role = "server loop"
        elif (loop is not None and thread_loop is loop) or ident in workers:
            role = "worker"
        elif ident is not None and ident == client_ident:
            role = "client"
        else:
            role = "other"
        rows.append({"role": role, "thread": name, "cpu_ms": used * 1000})
    counted = sum(float(row["cpu_ms"]) for row in rows)
    process_ms = (end.process_s - start.process_s) * 1000
    rows.append({"role": "unattributed", "thread": "ended or non-Python threads",
                 "cpu_ms": max(0.0, process_ms - counted)})  # fmt: skip
    table = pd.DataFrame(rows, columns=CPU_COLUMNS)
    table["per_request_ms"] = table["cpu_ms"] / n
    table["role"] = pd.Categorical(table["role"], categories=list(ROLES), ordered=True)
    table = table.sort_values(["role", "cpu_ms"], ascending=[True, False], ignore_index=True)
    table["role"] = table["role"].astype(str)
    table[["cpu_ms", "per_request_ms"]] = table[["cpu_ms", "per_request_ms"]].round(3)
    result: pd.DataFrame = table
    return result


def cpu_by_role(cpu: pd.DataFrame) -> pd.DataFrame:
    """``run.cpu`` summed per role (index ``role``, in ``ROLES`` order): ``threads``,
    ``cpu_ms`` and ``per_request_ms`` (**milliseconds**)."""
    if not len(cpu):
        empty: pd.DataFrame = pd.DataFrame(columns=["threads", "cpu_ms", "per_request_ms"])
        return empty
    grouped = cpu.groupby("role", sort=False).agg(
        threads=("thread", "size"),
        cpu_ms=("cpu_ms", "sum"),
        per_request_ms=("per_request_ms", "sum"),
    )
    order = [role for role in ROLES if role in grouped.index]
    result: pd.DataFrame = grouped.loc[order].round(3)
    return result


def plot_cpu(cpu: pd.DataFrame, title: str = "Where the CPU went, per request") -> Any:
    """One horizontal bar per role: CPU **ms per request** during the burst."""
    from helpers.plots import FONT, LabFigure

    fig = LabFigure(figsize=(13, 3.6), layout="constrained")
    ax = fig.subplots()
    table = cpu_by_role(cpu)
    if not len(table):
        ax.text(0.5, 0.5, f"per-thread CPU clocks {source()} here", ha="center",
                va="center", fontsize=FONT, transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return fig
    if "unattributed" in table.index and table.loc["unattributed", "cpu_ms"] == 0:
        table = table.drop(index="unattributed")  # nothing to explain: no empty bar
    names = [role if role == "unattributed" else f"{role} ({int(k)} thread{'s' * (k != 1)})"
             for role, k in zip(table.index, table["threads"])]  # fmt: skip
    values = table["per_request_ms"].to_numpy()
    colors = {"server loop": "#1f77b4", "worker": "#ff7f0e", "client": "#2ca02c"}
    ax.barh(names, values, color=[colors.get(r, "#999999") for r in table.index])
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:.3f} ms", va="center", fontsize=FONT - 1)
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(values.max()), 1e-3) * 1.25)
    ax.set_xlabel("CPU time per request during the burst (ms)", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    return fig
