"""helpers.lessons.l11_claim_checks: the small experiments behind lesson 11's claims."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from helpers import Server
from helpers.lessons.l11_claim_checks import (
    after,
    burst_with_probes,
    cpu_jobs,
    default_executor_threads,
    gather_seconds,
    python_executor_size,
    replace_default_executor,
    sibling_fate,
    thread_limiter_tokens,
    timed_count_primes,
    warm_processes,
)


def test_python_executor_size_is_min_32_cpu_plus_4() -> None:
    assert python_executor_size(2) == 6
    assert python_executor_size(100) == 32
    assert 5 <= python_executor_size() <= 32


# --- task patterns -----------------------------------------------------------------------
def test_gather_leaves_the_sibling_running_and_taskgroup_cancels_it() -> None:
    gathered = asyncio.run(sibling_fate("gather", 0.02, 0.1))
    assert gathered.raised == "RuntimeError"
    assert gathered.finished and not gathered.cancelled
    grouped = asyncio.run(sibling_fate("taskgroup", 0.02, 0.1))
    assert grouped.cancelled and not grouped.finished
    assert grouped.raised == ("ExceptionGroup" if sys.version_info >= (3, 11) else grouped.raised)
    assert grouped.sibling_ran_s < gathered.sibling_ran_s
    with pytest.raises(ValueError, match="kind must be"):
        asyncio.run(sibling_fate("wait"))


def test_after_waits_then_returns_the_result() -> None:
    async def value() -> int:
        return 7

    assert asyncio.run(after(0.01, value())) == 7


# --- CPU work ----------------------------------------------------------------------------
def test_timed_count_primes_returns_cpu_seconds() -> None:
    assert 0 <= timed_count_primes(2_000) < 5


def test_cpu_jobs_inline_blocks_the_loop_and_threads_stay_under_one_core() -> None:
    inline = asyncio.run(cpu_jobs(20_000, 2))
    assert inline.jobs == 2 and inline.how == "inline on the loop"
    assert inline.cpu_s > 0 and inline.cores_used <= 1.2
    assert inline.max_lag_ms >= 0.5 * inline.seconds * 1000  # the probe could not tick
    with ThreadPoolExecutor(2) as pool:
        threaded = asyncio.run(cpu_jobs(20_000, 2, pool, how="2 threads"))
    assert threaded.how == "2 threads" and threaded.cores_used <= 1.2  # the GIL
    with pytest.raises(ValueError, match="jobs ≥ 1"):
        asyncio.run(cpu_jobs(20_000, 0))


def test_warm_processes_waits_for_every_worker() -> None:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        assert asyncio.run(warm_processes(pool, 1)) == 1
    finally:
        pool.shutdown(cancel_futures=True)
    with pytest.raises(ValueError, match="processes must be ≥ 1"):
        asyncio.run(warm_processes(pool, 0))


# --- on a running server -----------------------------------------------------------------
def test_def_endpoints_have_forty_tokens_whatever_the_default_executor(demo: Server) -> None:
    assert thread_limiter_tokens(demo) == 40
    replace_default_executor(demo, 2)
    try:
        assert default_executor_threads(demo, jobs=4, seconds=0.05) == 2
        assert thread_limiter_tokens(demo) == 40
    finally:
        replace_default_executor(demo, None)
    assert default_executor_threads(demo, jobs=4, seconds=0.05) == min(4, python_executor_size())
    with pytest.raises(ValueError, match="workers must be"):
        replace_default_executor(demo, 0)


def test_burst_with_probes_returns_the_burst_and_one_run_per_probe(demo: Server) -> None:
    burst, probes = asyncio.run(
        burst_with_probes(demo, "/sync_sleep", n=5, params={"seconds": 0.05}, delay=0.01, probe_n=3)
    )
    assert burst.summary()["ok"] == 5 and burst.summary()["worker_threads"] >= 1
    assert sorted(probes) == ["/health_async", "/health_def"]
    assert all(run.summary()["ok"] == 3 for run in probes.values())


def test_gather_of_polite_calls_overlaps(demo: Server) -> None:
    took = asyncio.run(gather_seconds(demo.url, "/async_sleep", [0.2, 0.2, 0.2]))
    assert 0.2 <= took < 0.5, f"three concurrent 0.2 s calls took {took:.2f} s"
