"""CPU account cost: what does ``Run.cpu`` (per-thread CPU clocks around a burst) cost?

``fire`` snapshots every thread's CPU clock when a burst starts and when it ends
(``helpers/cpu_account.py``). Two measures: the same burst fired with and without the
account (``cpu_account.disabled()``), taking turns round by round and comparing the whole
``fire`` call's wall time; and the cost of one snapshot on its own, with as many threads
alive as a lesson leaves (a 40-thread pool of a ``def`` burst, the server loop, the kernel).
"""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import AbstractContextManager, nullcontext

from benchmarks.report import Result, Section, check, median
from helpers import apps, fire, serve
from helpers.cpu_account import disabled, snapshot, source

__all__ = ["TARGET", "measure"]

TARGET = 1.05  # with ÷ without, whole fire call: the account must be lost in the noise
PATH = "/sync_sleep"
PAUSE_S = 0.3


async def measure(rounds: int = 10, n: int = 200, snapshots: int = 2000) -> Section:
    """Run the benchmark and return its section of the report.

    ``rounds``: pairs of bursts (an even number, so each variant goes first equally
    often); ``n``: requests per burst (a ``def``
    endpoint sleeping 10 ms, so the 40 worker threads exist); ``snapshots``: repeats of
    the snapshot timing.
    """
    if rounds < 2 or rounds % 2:
        raise ValueError(f"rounds must be an even number ≥ 2, got {rounds}")
    section = Section(
        "CPU account cost",
        (__doc__ or "").split("\n\n", 1)[1].strip()
        + f"\n\nBursts: {n} requests to `{PATH}?seconds=0.01` on a traced lab server, "
        f"{rounds} round(s), with/without alternating who goes first; ratio = with ÷ without "
        "wall time of the whole `fire` call per round. On a loaded machine the first burst of "
        "a pair is often the slower one whichever it is, so the per-round ratios swing up and "
        "down with the order; the figure is their geometric mean over an even number of "
        "rounds (each order equally often), which cancels that order effect; per-round values "
        f"in brackets. Per-thread clock here: {source()}.",
    )
    server = serve(apps.demo_app(title="bench-cpu-account"))
    params = {"seconds": 0.01}
    try:
        await fire(server, PATH, n=n, params=params, progress=False)  # warm-up: 40 threads

        async def timed(context: AbstractContextManager[None]) -> float:
            with context:
                started = time.perf_counter()
                run = await fire(server, PATH, n=n, params=params, progress=False)
                took = time.perf_counter() - started
            if run.summary()["failed"]:
                raise RuntimeError(f"{run.summary()['failed']} requests failed")
            return took

        with_account: list[float] = []
        without: list[float] = []
        for r in range(rounds):
            on: AbstractContextManager[None] = nullcontext()
            pair = [(on, with_account), (disabled(), without)]
            for context, into in pair if r % 2 == 0 else pair[::-1]:
                await asyncio.sleep(PAUSE_S)
                into.append(await timed(context))
        ratios = [w / wo for w, wo in zip(with_account, without, strict=True)]
        ratio = math.exp(sum(math.log(v) for v in ratios) / len(ratios))
        section.results.append(
            Result(
                f"fire n={n} with ÷ without the CPU account (wall time)",
                f"{ratio:.3f} [{', '.join(f'{v:.3f}' for v in ratios)}]",
                f"≤ {TARGET}",
                check(ratio, at_most=TARGET),
                f"with {median(with_account) * 1000:.0f} ms, "
                f"without {median(without) * 1000:.0f} ms per burst",
            )
        )
        now = snapshot()
        threads = len(now.threads or {}) if now is not None else 0
        started = time.perf_counter()
        for _ in range(snapshots):
            snapshot()
        per_snapshot_us = (time.perf_counter() - started) / snapshots * 1e6
        section.results.append(
            Result(
                "one CPU snapshot (two per burst)",
                f"{per_snapshot_us:.0f} µs with {threads} threads alive",
                status="info",
                note=f"{2 * per_snapshot_us / n:.2f} µs per request at n={n}",
            )
        )
        await _what_tracing_costs(section, n)
    finally:
        server.stop()
    return section


async def _what_tracing_costs(section: Section, n: int) -> None:
    """What the account is for: the server loop's CPU per request, traced and untraced."""
    for trace in (False, True):
        server = serve(apps.demo_app(title=f"bench-cpu-trace-{trace}"), trace=trace)
        try:
            await fire(server, "/health_async", n=n, progress=False)  # warm-up
            runs = [await fire(server, "/health_async", n=n, progress=False) for _ in range(3)]
        finally:
            server.stop()
        loop = median([r.summary()["loop_cpu_ms_per_request"] for r in runs])
        client = median([r.summary()["client_cpu_ms_per_request"] for r in runs])
        section.results.append(
            Result(
                f"CPU per request, /health_async n={n}, trace={trace}",
                f"server loop {loop:.3f} ms, client {client:.3f} ms",
                status="info",
                note="median of 3 bursts, from run.cpu",
            )
        )
