"""The small experiments behind lesson 11's claims, where ``fire`` alone is not enough.

- the server loop's threads: its anyio limiter tokens and its default executor;
- task patterns: a probe sent into a running burst, one timed ``gather``, and what
  ``gather`` and ``TaskGroup`` do to a sibling when one task fails;
- CPU work: ``count_primes`` jobs timed with their CPU clocks and a loop-lag probe, and a
  process pool warmed up before it is measured.

Heavy libraries (httpx, the lab's ``fire``) are imported inside the functions that use
them, so a spawned process-pool worker that unpickles ``timed_count_primes`` imports only
this module and ``helpers.apps``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from helpers.collector import full_collections_deferred
from helpers.probes import Ticker

if TYPE_CHECKING:
    from helpers.run import Run

__all__ = [
    "CpuRun",
    "SiblingFate",
    "after",
    "burst_with_probes",
    "cpu_jobs",
    "default_executor_threads",
    "gather_seconds",
    "python_executor_size",
    "replace_default_executor",
    "sibling_fate",
    "thread_limiter_tokens",
    "timed_count_primes",
    "warm_processes",
]

T = TypeVar("T")


# --- the server loop's thread tools -----------------------------------------------
def python_executor_size(cpu_count: int | None = None) -> int:
    """Threads of a default ``ThreadPoolExecutor()``: ``min(32, cpu_count + 4)``
    (``concurrent/futures/thread.py: ThreadPoolExecutor.__init__``)."""
    cpus = (os.cpu_count() or 1) if cpu_count is None else cpu_count
    return min(32, cpus + 4)


def thread_limiter_tokens(server: Any) -> int:
    """Tokens of the anyio ``CapacityLimiter`` that ``def`` endpoints borrow on ``server``'s
    event loop (``anyio.to_thread.current_default_thread_limiter()``)."""

    async def read() -> int:
        import anyio.to_thread

        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)

    tokens: int = server.call_soon(read())
    return tokens


def replace_default_executor(server: Any, workers: int | None) -> None:
    """Give ``server``'s event loop a new default executor with ``workers`` threads
    (``None``: Python's default size) and shut the old one down without waiting.

    The default executor is what ``loop.run_in_executor(None, …)`` and
    ``asyncio.to_thread`` use; ``def`` endpoints do not use it.
    """
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be an int ≥ 1 or None, got {workers!r}")

    async def swap() -> None:
        loop = asyncio.get_running_loop()
        old: Executor | None = getattr(loop, "_default_executor", None)
        loop.set_default_executor(ThreadPoolExecutor(workers, thread_name_prefix="default"))
        if old is not None:
            old.shutdown(wait=False)

    server.call_soon(swap())


def _sleep_and_name(seconds: float) -> str:
    time.sleep(seconds)
    return threading.current_thread().name


def default_executor_threads(server: Any, jobs: int = 6, seconds: float = 0.05) -> int:
    """Run ``jobs`` sleeps of ``seconds`` through ``run_in_executor(None, …)`` on
    ``server``'s loop, all at once, and return how many distinct threads ran them."""
    if jobs < 1 or not 0 <= seconds <= 1:
        raise ValueError(f"need jobs ≥ 1 and 0 ≤ seconds ≤ 1, got {jobs}, {seconds}")

    async def probe() -> int:
        loop = asyncio.get_running_loop()
        names = await asyncio.gather(
            *(loop.run_in_executor(None, _sleep_and_name, seconds) for _ in range(jobs))
        )
        return len(set(names))

    count: int = server.call_soon(probe(), timeout=jobs * seconds + 5)
    return count


# --- task patterns ------------------------------------------------------------------
async def after(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` after a pause of ``seconds`` (to send a probe into a burst)."""
    await asyncio.sleep(seconds)
    return await awaitable


async def burst_with_probes(
    server: Any,
    path: str,
    *,
    n: int,
    params: Mapping[str, Any] | None = None,
    probes: Iterable[str] = ("/health_def", "/health_async"),
    delay: float = 0.1,
    probe_n: int = 5,
) -> tuple[Run, dict[str, Run]]:
    """Fire ``n`` requests at ``path`` and, ``delay`` **seconds** into that burst,
    ``probe_n`` requests at each path in ``probes``; returns the burst's ``Run`` and one
    ``Run`` per probe path.

    The probes go to ``server.url`` as a plain URL, so they carry no server-side tracing:
    ``fire`` on a ``Server`` first asks the server loop to start its samplers, and a loop
    blocked by the burst would hold the probe back until it is free — the very stall the
    probe is meant to measure. Read the probes' client-side latency (``latency_*_s``).
    """
    from helpers.load import fire

    paths = list(probes)
    target = getattr(server, "url", server)
    runs = await asyncio.gather(
        fire(server, path, n=n, params=params, label=f"{n} × {path}", progress=False),
        *(after(delay, fire(target, p, n=probe_n, label=p, progress=False)) for p in paths),
    )
    return runs[0], dict(zip(paths, runs[1:]))


async def gather_seconds(base_url: str, path: str, waits: Iterable[float]) -> float:
    """Seconds one ``asyncio.gather`` of GET ``path?seconds=w`` (one call per ``w`` in
    ``waits``, one shared ``httpx.AsyncClient``) takes from start to the last answer.

    Automatic full garbage collections are deferred meanwhile, as ``fire`` does: after a
    Run All one takes ~200 ms and would land in the measurement (docs/reliability.md)."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client:
        with full_collections_deferred():
            started = time.perf_counter()
            calls = (client.get(path, params={"seconds": w}) for w in waits)
            replies = await asyncio.gather(*calls)
            took = time.perf_counter() - started
    for reply in replies:
        reply.raise_for_status()
    return took


@dataclass(frozen=True)
class SiblingFate:
    """What happened to a slow task when its sibling failed: how the caller saw the error
    (``raised``: the exception type name), and whether the sibling ``finished`` or was
    ``cancelled``, with the **seconds** it ran (``sibling_ran_s``)."""

    kind: str
    raised: str
    finished: bool
    cancelled: bool
    sibling_ran_s: float


async def sibling_fate(
    kind: str, fail_after_s: float = 0.05, sibling_s: float = 0.2
) -> SiblingFate:
    """Run a task that raises after ``fail_after_s`` seconds next to one that sleeps
    ``sibling_s`` seconds, under ``kind`` = ``"gather"`` or ``"taskgroup"``.

    With ``gather`` the error reaches the caller at once and the sibling is left running;
    this waits (≤ ``sibling_s`` + 1 s) to see whether it finishes on its own.
    """
    if kind not in ("gather", "taskgroup"):
        raise ValueError(f"kind must be 'gather' or 'taskgroup', got {kind!r}")
    if not 0 < fail_after_s < sibling_s <= 5:
        raise ValueError(f"need 0 < fail_after_s < sibling_s ≤ 5, got {fail_after_s}, {sibling_s}")
    state = {"finished": False, "cancelled": False}
    started = time.perf_counter()
    stopped: list[float] = []

    async def sibling() -> None:
        try:
            await asyncio.sleep(sibling_s)
            state["finished"] = True
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise
        finally:
            stopped.append(time.perf_counter())

    async def failing() -> None:
        await asyncio.sleep(fail_after_s)
        raise RuntimeError("upstream failed")

    raised = ""
    task: asyncio.Task[None] | None = None
    try:
        if kind == "gather":
            task = asyncio.ensure_future(sibling())
            await asyncio.gather(failing(), task)
        elif sys.version_info >= (3, 11):
            async with asyncio.TaskGroup() as group:
                group.create_task(failing())
                group.create_task(sibling())
        else:  # Python 3.10: anyio's task group cancels the same way
            import anyio

            async with anyio.create_task_group() as group:
                group.start_soon(failing)
                group.start_soon(sibling)
    except Exception as exc:  # what reaches the caller is the point: keep its type name
        raised = type(exc).__name__
    if task is not None and not task.done():
        await asyncio.wait([task], timeout=sibling_s + 1)
    ran = (stopped[0] if stopped else time.perf_counter()) - started
    return SiblingFate(kind, raised, state["finished"], state["cancelled"], ran)


# --- CPU work -------------------------------------------------------------------------
@dataclass(frozen=True)
class CpuRun:
    """``jobs`` CPU jobs run one way: wall ``seconds`` for all of them, the CPU seconds the
    jobs' threads got (``cpu_s``, from ``time.thread_time()``), ``cores_used`` (``cpu_s``
    per wall second: at most 1 under the GIL, up to the process count for a process pool
    — less when other programs hold the cores), and the worst lateness of a 5 ms timer on
    the calling event loop meanwhile (``max_lag_ms``)."""

    how: str
    jobs: int
    seconds: float
    cpu_s: float
    cores_used: float
    max_lag_ms: float


def timed_count_primes(limit: int) -> float:
    """Run ``helpers.apps.count_primes(limit)`` and return the CPU **seconds** this thread
    got meanwhile (picklable, so a process pool can run it)."""
    from helpers.apps import count_primes

    started = time.thread_time()
    count_primes(limit)
    return time.thread_time() - started


async def cpu_jobs(
    limit: int, jobs: int, executor: Executor | None = None, how: str = ""
) -> CpuRun:
    """Run ``count_primes(limit)`` ``jobs`` times and time it with a loop-lag probe.

    ``executor=None`` runs them one after another right here, on the event loop (⚠ that
    blocks the loop, which is what the probe shows); otherwise all jobs are submitted to
    ``executor`` at once and awaited.
    """
    if jobs < 1 or limit < 2:
        raise ValueError(f"need jobs ≥ 1 and limit ≥ 2, got jobs={jobs}, limit={limit}")
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    ticker = Ticker(0.005, lambda now, late: lags.append(late))
    ticker.start()
    await asyncio.sleep(0)  # let the probe arm its first timer
    started = time.perf_counter()
    if executor is None:
        cpu = [timed_count_primes(limit) for _ in range(jobs)]  # ⚠ blocks the loop — on purpose
    else:
        cpu = await asyncio.gather(
            *(loop.run_in_executor(executor, timed_count_primes, limit) for _ in range(jobs))
        )
    took = time.perf_counter() - started
    await asyncio.sleep(0.01)  # one more reading, taken after the work
    await ticker.stop()
    label = how or ("inline on the loop" if executor is None else type(executor).__name__)
    return CpuRun(label, jobs, took, sum(cpu), sum(cpu) / took, max(lags, default=0.0) * 1000)


def _import_and_wait(seconds: float) -> int:
    from helpers.apps import count_primes

    count_primes(10)
    time.sleep(seconds)
    return os.getpid()


async def warm_processes(pool: Executor, processes: int, timeout: float = 60.0) -> int:
    """Wait until ``processes`` workers of ``pool`` have started and imported
    ``helpers.apps``; returns how many distinct workers answered. Raises ``TimeoutError``
    after ``timeout`` **seconds**. The probe lives here, so a worker never imports
    ``helpers.cpu`` (and pandas)."""
    from helpers.cpu import warm_process_pool

    return await warm_process_pool(pool, processes, timeout, probe=_import_and_wait)
