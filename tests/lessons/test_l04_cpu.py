"""helpers.lessons.l04_cpu: core counts, calibrated jobs, the results tables, the figure and the
warm pool."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest
from fastapi import FastAPI

from helpers import serve
from helpers._plots import NOTEBOOK_PX
from helpers.apps import count_primes
from helpers.lessons import l04_cpu
from helpers.lessons.l04_cpu import (
    WHERE,
    calibrate_primes,
    calibrate_sha256,
    core_counts,
    count_primes_timed,
    cpu_table,
    cpu_where,
    expected_process_speedup,
    fastest,
    load_average,
    plot_cpu_where,
    sha256_rounds,
    sha256_timed,
    time_call,
    usable_cores,
    warm_process_pool,
    work_frame,
)
from tests.conftest import burst
from tests.test_plots import SMALLEST_PT, effective_sizes


def test_core_counts_agree_with_the_os() -> None:
    counts = core_counts()
    assert counts["os.cpu_count()"] == os.cpu_count()
    assert counts["usable"] == usable_cores() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert counts["len(os.sched_getaffinity(0))"] == len(os.sched_getaffinity(0))


def test_load_average_is_the_os_figure_rounded_or_none() -> None:
    load = load_average()
    if not hasattr(os, "getloadavg"):
        assert load is None
        return
    assert load is not None and load >= 0
    assert load == round(load, 2)
    assert abs(load - os.getloadavg()[0]) < 5  # the OS figure, read a moment later


def test_expected_speedup_is_capped_by_cores_and_processes() -> None:
    assert expected_process_speedup(4, cores=2) == 2
    assert expected_process_speedup(2, cores=16) == 2
    assert expected_process_speedup(1) == 1
    with pytest.raises(ValueError, match="processes must be ≥ 1"):
        expected_process_speedup(0)


def test_calibrated_jobs_take_about_the_target() -> None:
    limit = calibrate_primes(0.02)
    assert limit > 1_000
    assert 0.002 < time_call(count_primes, limit) < 0.2  # wall time: busy machines vary
    assert 0.01 < time_call(count_primes, limit, clock=time.thread_time) < 0.04  # CPU time
    rounds = calibrate_sha256(0.02)
    assert rounds >= 1
    assert len(sha256_rounds(rounds)) == 64


def test_time_call_on_the_thread_clock_leaves_out_waiting() -> None:
    def nap(ms: int) -> None:
        time.sleep(ms / 1000)

    assert time_call(nap, 50, repeats=1) >= 0.045  # wall time: the sleep counts
    assert time_call(nap, 50, repeats=1, clock=time.thread_time) < 0.01  # CPU time: it does not


def _on_a_quarter_core(limit: int) -> int:
    """``count_primes(limit)`` as a loaded machine runs it: the same work, but the call also
    waits three times as long as it computed, as if it had a quarter of a core."""
    started = time.thread_time()
    primes = count_primes(limit)
    time.sleep(3 * (time.thread_time() - started))
    return primes


def test_calibration_on_a_loaded_machine_keeps_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Timed on the wall clock, the waiting job would look 4× as costly, and its limit would
    # shrink to 4 ** (-1 / 1.5) ≈ 0.40 of the plain one; timed on the thread's CPU clock, the
    # waiting does not count and the limit stays.
    plain = calibrate_primes(0.02)
    monkeypatch.setattr(l04_cpu, "count_primes", _on_a_quarter_core)
    loaded = calibrate_primes(0.02)
    assert 0.7 * plain < loaded < 1.5 * plain, (
        f"a call that waits as well as computes should calibrate to the same work: limit "
        f"{loaded} against {plain} for the plain job"
    )


@pytest.mark.parametrize("target", [0.0, 10.0])
def test_bad_targets_are_refused(target: float) -> None:
    with pytest.raises(ValueError, match="target_s must be between"):
        calibrate_primes(target)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="rounds must be ≥ 1"):
        sha256_rounds(0)
    with pytest.raises(ValueError, match="repeats must be ≥ 1"):
        time_call(count_primes, 10, repeats=0)
    with pytest.raises(ValueError, match="at least one Run"):
        fastest([])


def _cpu_app() -> FastAPI:
    app = FastAPI(title="cpu-test")

    @app.get("/async_def")
    async def cpu_async(limit: int) -> dict[str, int]:
        return {"primes": count_primes(limit)}  # ⚠ blocks the event loop — on purpose

    @app.get("/def")
    def cpu_def(limit: int) -> dict[str, int]:
        return {"primes": count_primes(limit)}

    return app


def test_cpu_table_has_one_row_per_run_and_a_unit_baseline() -> None:
    limit = calibrate_primes(0.02)
    with serve(_cpu_app()) as server:
        runs = {
            "async def": burst(server, "/async_def", n=4, params={"limit": limit}),
            "def": burst(server, "/def", n=4, params={"limit": limit}),
        }
    table = cpu_table(runs, baseline="async def")
    assert list(table.index) == ["async def", "def"]
    assert list(table.columns) == [
        "requests", "makespan_s", "throughput_rps", "latency_p95_ms", "max_loop_lag_ms",
        "peak_in_flight", "cores_busy", "speedup",
    ]  # fmt: skip
    assert table.loc["async def", "speedup"] == 1.0
    assert table.loc["async def", "peak_in_flight"] == 1
    assert (table["requests"] == 4).all()
    assert table["cores_busy"].isna().all()  # these bodies carry no timing
    assert fastest(list(runs.values())) in runs.values()
    with pytest.raises(ValueError, match="baseline must be one of"):
        cpu_table(runs, baseline="nope")


def test_warm_process_pool_starts_every_worker() -> None:
    async def warm() -> int:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=spawn) as pool:
            started = await warm_process_pool(pool, 2)
            assert len(pool._processes) == 2
            return started

    assert asyncio.run(warm()) == 2


def test_timed_job_reports_where_and_how_it_ran() -> None:
    result = count_primes_timed(2_000)
    assert result["primes"] == count_primes(2_000)
    assert result["pid"] == os.getpid()
    assert 0 < result["cpu_s"] <= result["wall_s"] * 1.1


def test_work_frame_and_cores_busy_come_from_timed_bodies() -> None:
    app = FastAPI(title="timed-test")

    @app.get("/def")
    def timed(limit: int) -> dict[str, float]:
        return count_primes_timed(limit)

    limit = calibrate_primes(0.02)
    with serve(app) as server:
        run = burst(server, "/def", n=4, params={"limit": limit})
    work = work_frame(run)
    assert list(work.columns) == ["id", "pid", "cpu_s", "wall_s", "core_share"]
    assert len(work) == 4
    assert (work["pid"] == os.getpid()).all()
    assert (work["core_share"] <= 1.1).all()
    table = cpu_table({"def": run}, baseline="def")
    assert 0 < table["cores_busy"]["def"] <= 1.25  # the GIL: one core at most


def test_sha256_timed_reports_the_digest_and_where_it_ran() -> None:
    result = sha256_timed(2)
    assert result["digest"] == sha256_rounds(2)
    assert result["pid"] == os.getpid()
    assert 0 < result["cpu_s"] <= result["wall_s"] * 1.1


def _where_app() -> FastAPI:
    app = FastAPI(title="where-test")

    @app.get("/async_def")
    async def inline(limit: int) -> dict[str, float]:
        return count_primes_timed(limit)  # ⚠ blocks the event loop — on purpose

    @app.get("/def")
    def threaded(limit: int) -> dict[str, float]:
        return count_primes_timed(limit)

    return app


def test_cpu_where_finds_the_jobs_on_the_loop_or_on_workers() -> None:
    limit = calibrate_primes(0.02)
    with serve(_where_app()) as server:
        runs = {
            "async def": burst(server, "/async_def", n=4, params={"limit": limit}),
            "def": burst(server, "/def", n=4, params={"limit": limit}),
        }
    where = cpu_where(runs)
    assert list(where.columns) == list(WHERE)
    job_ms = float(work_frame(runs["def"])["cpu_s"].mean()) * 1000
    if where.isna().all().all():
        pytest.skip("no per-thread CPU clock on this platform")
    ms = where.to_dict(orient="index")
    # The same job's CPU lands on the loop thread in async def and on workers in def.
    assert ms["async def"]["server loop"] > 0.8 * job_ms
    assert ms["def"]["worker threads"] > 0.8 * job_ms
    assert ms["def"]["server loop"] < 0.5 * job_ms
    assert (where["worker processes"] == 0).all()  # nothing ran in another process


def test_cpu_where_counts_jobs_from_other_processes() -> None:
    app = FastAPI(title="where-pool-test")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:

        @app.get("/process")
        async def in_process(limit: int) -> dict[str, float]:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool, count_primes_timed, limit)

        with serve(app) as server:
            run = burst(server, "/process", n=2, params={"limit": 5_000}, timeout=60)
    where = cpu_where({"pool": run})
    work = work_frame(run)
    assert len(work) == 2 and (work["pid"] != os.getpid()).all()
    reported = float(work["cpu_s"].sum()) * 1000 / 2
    assert where.to_dict(orient="index")["pool"]["worker processes"] == pytest.approx(
        reported, abs=0.01
    )


def test_plot_cpu_where_fits_the_notebook_with_readable_text() -> None:
    table = pd.DataFrame(
        [[55.0, 0.0, 1.0, 0.1, 0.0], [1.7, 55.0, 1.0, 0.2, 0.0], [3.2, 0.0, 1.0, 0.6, 53.0]],
        index=["async def", "def", "process pool"],
        columns=list(WHERE),
    )
    fig = plot_cpu_where(table, title="where the CPU went")
    assert fig.get_figwidth() * fig.dpi <= NOTEBOOK_PX * 1.01
    sizes = effective_sizes(fig)
    assert min(size for size, _ in sizes) >= SMALLEST_PT, sizes
    texts = [text.strip() for _, text in sizes]
    assert "55 ms" in texts and "53 ms" in texts and "loop 1.7 ms" in texts
    assert fig._repr_png_().startswith(b"\x89PNG")
