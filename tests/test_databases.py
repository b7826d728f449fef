"""helpers.databases: pool checkout/checkin records, aiosqlite thread counts, figures."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from helpers import serve
from helpers.databases import (
    AIOSQLITE_THREAD,
    PoolRecorder,
    plot_pool,
    plot_threads,
    thread_counts,
    threads_settled,
    watch_threads,
)
from helpers.plots import LabFigure
from tests.conftest import burst


def test_recorder_sees_each_checkout_and_the_pool_limit(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2, max_overflow=0)
    recorder = PoolRecorder(engine)
    recorder.mark()
    barrier = threading.Barrier(4, timeout=5)

    def work() -> None:
        barrier.wait()
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            session.execute(text("SELECT 2"))  # same connection: still one checkout

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    holds = recorder.holds()
    assert len(holds) == 4
    assert holds["checkin"].notna().all() and (holds["held_ms"] >= 0).all()
    assert recorder.connections_used() <= 2 and recorder.peak_checked_out() <= 2
    assert set(holds["connection"]) <= {1, 2}
    recorder.mark()
    assert recorder.holds().empty and recorder.peak_checked_out() == 0
    recorder.close()
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
    assert recorder.holds().empty  # no longer listening
    engine.dispose()


def test_aiosqlite_starts_one_thread_per_connection_and_dispose_ends_them(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, int]:
        base = (await threads_settled(aiosqlite=0))["aiosqlite"]
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'y.db'}")
        connections = [await engine.connect() for _ in range(3)]
        for connection in connections:
            await connection.execute(text("SELECT 1"))
        during = thread_counts()["aiosqlite"] - base
        for connection in connections:
            await connection.close()
        pooled = thread_counts()["aiosqlite"] - base
        await engine.dispose()
        after = (await threads_settled(aiosqlite=base))["aiosqlite"] - base
        return during, pooled, after

    during, pooled, after = asyncio.run(scenario())
    assert during == 3
    assert pooled == 3  # closed back into the pool: the threads stay
    assert after == 0
    assert AIOSQLITE_THREAD == "_connection_worker_thread"


def test_watch_threads_samples_while_the_block_runs() -> None:
    async def scenario() -> int:
        async with watch_threads(period=0.005) as counts:
            await asyncio.sleep(0.05)
        return len(counts.t)

    assert asyncio.run(scenario()) >= 3
    with pytest.raises(ValueError, match="period must be"):
        asyncio.run(_enter_with(period=0))


async def _enter_with(period: float) -> None:
    async with watch_threads(period=period):
        pass


def test_plots_from_a_real_run(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'z.db'}", pool_size=2, max_overflow=0)
    recorder = PoolRecorder(engine)
    app = FastAPI(title="tests · pool plot")

    @app.get("/q")
    def query() -> dict[str, int]:
        with Session(engine) as session:
            value = session.execute(text("SELECT 1")).scalar_one()
        return {"value": int(value)}

    with serve(app) as server:
        recorder.mark()
        run = burst(server, "/q", n=6)

        async def watched() -> LabFigure:
            async with watch_threads() as counts:
                await asyncio.sleep(0.02)
            return plot_threads(counts, run.pool, "threads")

        threads_figure = asyncio.run(watched())
    assert isinstance(plot_pool(run, recorder, pool_size=2, title="pool"), LabFigure)
    assert isinstance(threads_figure, LabFigure)
    assert recorder.peak_checked_out() <= 2
    recorder.close()
    engine.dispose()
