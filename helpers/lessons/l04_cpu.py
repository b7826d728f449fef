"""CPU-bound work for lesson 04: calibrated jobs, core counts, and where the CPU went.

The jobs live here (not in a notebook cell) because a process pool's worker must import
them: ``pickle`` sends a function by module and name. ``apps.count_primes(limit)`` is a
*fixed amount* of pure-Python work, which holds the GIL; ``sha256_rounds`` hashes 1 MiB
blocks, during which hashlib lets go of the GIL. Their ``*_timed`` wrappers also report the
process and the thread's CPU time, so the lesson can see where each job ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.apps import count_primes

if TYPE_CHECKING:
    from helpers._plots import LabFigure
    from helpers._run import Run

__all__ = [
    "WHERE",
    "calibrate_primes",
    "calibrate_sha256",
    "core_counts",
    "count_primes_timed",
    "cpu_table",
    "cpu_where",
    "expected_process_speedup",
    "fastest",
    "load_average",
    "plot_cpu_where",
    "sha256_rounds",
    "sha256_timed",
    "time_call",
    "usable_cores",
    "warm_process_pool",
    "work_frame",
]

_BLOCK = 1 << 20  # 1 MiB: well above hashlib's 2 KiB threshold for releasing the GIL
_block_cache: list[bytes] = []


def usable_cores() -> int:
    """Cores this process may run on: ``len(os.sched_getaffinity(0))`` where the OS has it
    (Linux), else ``os.cpu_count()`` (macOS, Windows), and at least 1."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        return max(1, len(getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def core_counts() -> dict[str, int | None]:
    """Both core counts: ``os.cpu_count()`` (the machine) and ``usable`` (this process,
    after CPU affinity / container limits); ``None`` when the OS cannot tell."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    return {
        "os.cpu_count()": os.cpu_count(),
        "len(os.sched_getaffinity(0))": len(getaffinity(0)) if getaffinity else None,
        "usable": usable_cores(),
    }


def load_average() -> float | None:
    """The 1-minute load average (runnable processes, averaged; above the core count means
    programs wait for a core) to two decimals, or ``None`` where the OS has none (Windows)."""
    getloadavg = getattr(os, "getloadavg", None)
    return round(float(getloadavg()[0]), 2) if getloadavg is not None else None


def expected_process_speedup(processes: int, cores: int | None = None) -> int:
    """Best speedup a pool of ``processes`` can give on ``cores`` cores (default: usable
    cores): ``min(cores, processes)``."""
    if processes < 1:
        raise ValueError(f"processes must be ≥ 1, got {processes}")
    return min(usable_cores() if cores is None else cores, processes)


def time_call(
    function: Callable[[int], object],
    argument: int,
    repeats: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Best-of-``repeats`` time of ``function(argument)`` in **seconds** on ``clock``: wall
    time by default (``time.perf_counter``); ``time.thread_time`` gives the CPU time the
    calling thread got, which leaves out time spent waiting for a core, the GIL or a sleep."""
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    best = float("inf")
    for _ in range(repeats):
        started = clock()
        function(argument)
        best = min(best, clock() - started)
    return best


def _calibrate(
    function: Callable[[int], object], target_s: float, start: int, exponent: float
) -> int:
    """Grow the argument until one call takes ≥ a tenth of ``target_s`` **seconds of CPU
    time** of the calling thread, then scale it by the cost model
    ``CPU time ∝ argument ** exponent``.

    CPU time, not wall time: on a loaded machine a call waits for a core as well as
    computes, and calibrating on the wall clock would shrink the work to fit the wait."""
    if not 0.005 <= target_s <= 5.0:
        raise ValueError(f"target_s must be between 0.005 and 5 seconds, got {target_s}")
    argument = start
    took = time_call(function, argument, repeats=1, clock=time.thread_time)
    while took < target_s / 10:
        argument *= 4
        took = time_call(function, argument, repeats=1, clock=time.thread_time)
    # Best of three; `or took` keeps the last reading when a coarse thread clock (Windows
    # counts in ~16 ms ticks) reads no time at all for a short call.
    took = time_call(function, argument, clock=time.thread_time) or took
    scale = float((target_s / took) ** (1 / exponent))
    return max(1, round(argument * scale))


def calibrate_primes(target_s: float = 0.1) -> int:
    """The ``limit`` for which ``count_primes(limit)`` costs about ``target_s`` **seconds of
    CPU time** on one thread of this machine (``time.thread_time``): about as many seconds
    of wall time on an idle core, more on a busy one, for the same work (trial division
    costs ∝ limit ** 1.5)."""
    return _calibrate(count_primes, target_s, start=2_000, exponent=1.5)


def _timed(job: Callable[[int], object], argument: int, key: str) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.thread_time()
    result = job(argument)
    return {
        key: result,
        "pid": os.getpid(),
        "cpu_s": time.thread_time() - cpu,
        "wall_s": time.perf_counter() - wall,
    }


def count_primes_timed(limit: int) -> dict[str, Any]:
    """``count_primes(limit)``, plus where and how it ran.

    Returns ``primes``, ``pid`` (the process that computed it), ``cpu_s`` (CPU time this
    thread got during the call, ``time.thread_time()``, **seconds**) and ``wall_s``
    (elapsed **seconds**). ``cpu_s / wall_s`` is the share of a core the call had: about 1
    alone on an idle core, less while it waits for the GIL or for a busy core.
    """
    return _timed(count_primes, limit, "primes")


def sha256_timed(rounds: int) -> dict[str, Any]:
    """``sha256_rounds(rounds)`` as ``digest``, plus ``pid``, ``cpu_s`` and ``wall_s``
    (**seconds**) as in ``count_primes_timed``."""
    return _timed(sha256_rounds, rounds, "digest")


def work_frame(run: Run) -> pd.DataFrame:
    """One row per answered request whose body came from ``count_primes_timed``.

    Columns: ``id``, ``pid``, ``cpu_s``, ``wall_s`` (**seconds**) and ``core_share``
    (``cpu_s / wall_s``).
    """
    rows: list[dict[str, float]] = []
    for request_id, body in zip(run.requests["id"], run.requests["body"]):
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            data = None
        if isinstance(data, dict) and {"pid", "cpu_s", "wall_s"} <= data.keys():
            cpu_s, wall_s = float(data["cpu_s"]), float(data["wall_s"])
            rows.append(
                {"id": request_id, "pid": int(data["pid"]), "cpu_s": cpu_s, "wall_s": wall_s}
            )
    table: pd.DataFrame = pd.DataFrame(rows, columns=["id", "pid", "cpu_s", "wall_s"])
    table["core_share"] = table["cpu_s"] / table["wall_s"]
    return table


def sha256_rounds(rounds: int) -> str:
    """Hash a 1 MiB block ``rounds`` times with SHA-256; returns the hex digest.

    CPython's hashlib lets go of the GIL while it hashes a buffer larger than 2 KiB
    (CPython ``Modules/hashlib.h``: ``HASHLIB_GIL_MINSIZE``), so threads can run it in parallel.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be ≥ 1, got {rounds}")
    if not _block_cache:
        _block_cache.append(bytes(range(256)) * (_BLOCK // 256))
    digest = hashlib.sha256()
    for _ in range(rounds):
        digest.update(_block_cache[0])
    return digest.hexdigest()


def calibrate_sha256(target_s: float = 0.1) -> int:
    """The ``rounds`` for which ``sha256_rounds(rounds)`` costs about ``target_s`` **seconds
    of CPU time** on one thread (``time.thread_time``), as ``calibrate_primes`` (cost ∝ rounds)."""
    return _calibrate(sha256_rounds, target_s, start=1, exponent=1.0)


def cpu_table(runs: Mapping[str, Run], baseline: str) -> pd.DataFrame:
    """One row per run: throughput, latency, loop lag and speedup over ``baseline``.

    Columns: ``requests``, ``makespan_s`` (seconds), ``throughput_rps`` (requests per
    second), ``latency_p95_ms``, ``max_loop_lag_ms``, ``peak_in_flight``, ``cores_busy``
    (CPU seconds the jobs got ÷ makespan, from ``*_timed`` job bodies; NaN without
    them) and ``speedup`` (this throughput ÷ the baseline's).
    """
    if baseline not in runs:
        raise ValueError(f"baseline must be one of {list(runs)}, got {baseline!r}")
    rows = {}
    for name, run in runs.items():
        s = run.summary()
        work = work_frame(run)
        rows[name] = {
            "requests": s["ok"],
            "makespan_s": s["makespan_s"],
            "throughput_rps": s["ok"] / s["makespan_s"] if s["makespan_s"] else float("nan"),
            "latency_p95_ms": s["latency_p95_s"] * 1000,
            "max_loop_lag_ms": s["max_lag_ms"],
            "peak_in_flight": s["peak_in_flight"],
            "cores_busy": work["cpu_s"].sum() / s["makespan_s"] if len(work) else float("nan"),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["speedup"] = table["throughput_rps"] / table.loc[baseline, "throughput_rps"]
    rounded: pd.DataFrame = table.round(
        {
            "throughput_rps": 1,
            "latency_p95_ms": 0,
            "max_loop_lag_ms": 0,
            "cores_busy": 2,
            "speedup": 2,
        }
    )
    return rounded


WHERE = ("server loop", "worker threads", "client", "other threads", "worker processes")
_WHERE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#999999", "#9467bd")
_ROLE_TO_WHERE = {
    "server loop": "server loop",
    "worker": "worker threads",
    "client": "client",
    "other": "other threads",
    "unattributed": "other threads",
}


def cpu_where(runs: Mapping[str, Run]) -> pd.DataFrame:
    """Where each run's CPU went, in **ms per request**: one row per run, one column per
    place in ``WHERE``.

    The threads of this process come from ``run.cpu`` (the per-thread account: the
    server's loop, its anyio worker threads, the client — the kernel thread that ran
    ``fire`` — and any other thread, e.g. a process pool's manager and queue-feeder
    threads). ``worker processes`` is the CPU that the jobs reported from *other* processes
    (``cpu_s`` of ``*_timed`` bodies whose ``pid`` is not this one's), which no thread of
    this process can see. NaN where this platform has no per-thread clock.
    """
    from helpers._cpu_account import cpu_by_role

    rows: dict[str, dict[str, float]] = {}
    for name, run in runs.items():
        n = max(len(run.requests), 1)
        row = dict.fromkeys(WHERE, float("nan") if not len(run.cpu) else 0.0)
        for role, ms in cpu_by_role(run.cpu)["per_request_ms"].items():
            row[_ROLE_TO_WHERE[str(role)]] += float(ms)
        work = work_frame(run)
        elsewhere = work[work["pid"] != os.getpid()]
        row["worker processes"] = float(elsewhere["cpu_s"].sum()) * 1000 / n
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(WHERE))
    rounded: pd.DataFrame = table.round(2)
    return rounded


def plot_cpu_where(table: pd.DataFrame, title: str) -> LabFigure:
    """One stacked bar per run of ``cpu_where``: CPU **ms per request** by where it ran,
    each segment labelled when it is wide enough to hold its number."""
    from helpers._plots import FONT, SMALL, WIDTH_IN, LabFigure

    rows = len(table)
    fig = LabFigure(figsize=(WIDTH_IN, 1.6 + 0.75 * rows), layout="constrained")
    ax = fig.subplots()
    names = list(table.index)
    left = [0.0] * rows
    widest = float(table.fillna(0).sum(axis=1).max()) or 1.0
    for place, color in zip(WHERE, _WHERE_COLORS):
        values = table[place].fillna(0).to_list()
        ax.barh(names, values, left=left, color=color, label=place, height=0.6)
        for y, (start, value) in enumerate(zip(left, values)):
            if value >= 0.09 * widest:
                ax.text(start + value / 2, y, f"{value:.0f} ms", ha="center", va="center",
                        fontsize=SMALL, color="white")  # fmt: skip
        left = [a + b for a, b in zip(left, values)]
    for y, place_ms in enumerate(table["server loop"].fillna(0)):
        ax.text(left[y], y, f"  loop {place_ms:.1f} ms", va="center", fontsize=SMALL)
    ax.invert_yaxis()
    ax.set_xlim(0, widest * 1.3)
    ax.set_xlabel("CPU time per request (ms)", fontsize=FONT)
    ax.tick_params(labelsize=SMALL + 1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=SMALL, ncols=len(WHERE), loc="lower left", bbox_to_anchor=(0, 1.0),
              frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=FONT, x=0.01, ha="left")
    return fig


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def warm_process_pool(
    pool: Executor,
    processes: int,
    timeout: float = 60.0,
    probe: Callable[[float], int] = _pid_after,
) -> int:
    """Wait until all ``processes`` workers of ``pool`` have started and answered.

    ``ProcessPoolExecutor`` starts a worker per submitted task while none is idle, and a
    ``spawn`` worker first imports the modules it needs (a second or more), so the first
    requests would pay for that. This sends small batches of tasks until ``processes``
    different worker pids have answered, or ``timeout`` **seconds** pass (then it raises
    ``TimeoutError``). Returns how many distinct workers answered. ``probe`` is the task
    sent (it must return the worker's pid); pass one from a lighter module to keep a
    spawned worker from importing this one.
    """
    if processes < 1:
        raise ValueError(f"processes must be ≥ 1, got {processes}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: set[int] = set()
    while len(seen) < processes:
        if loop.time() > deadline:
            raise TimeoutError(f"only {len(seen)} of {processes} workers started in {timeout} s")
        batch = [loop.run_in_executor(pool, probe, 0.05) for _ in range(processes)]
        seen.update(await asyncio.gather(*batch))
    return len(seen)


def fastest(runs: Sequence[Run]) -> Run:
    """The run with the shortest makespan: the one least disturbed by other programs."""
    if not runs:
        raise ValueError("fastest needs at least one Run")
    return min(runs, key=lambda run: float(run.summary()["makespan_s"]))
