"""helpers.lessons.l06_db_threads: aiosqlite and anyio thread counts, and the threads figure."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from helpers import serve
from helpers._plots import SMALL, WIDTH_IN, LabFigure
from helpers.lessons.l06_db_threads import (
    AIOSQLITE_THREAD,
    plot_threads,
    thread_counts,
    threads_settled,
    watch_threads,
)
from tests.conftest import burst
from tests.test_plots import effective_sizes


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


def test_watch_threads_reads_once_more_as_the_block_ends() -> None:
    async def scenario() -> list[int]:
        done = threading.Event()
        fake = threading.Thread(target=done.wait, name=f"Thread-99 ({AIOSQLITE_THREAD})")
        async with watch_threads(period=0.005) as counts:
            fake.start()
            await asyncio.sleep(0.03)
            done.set()
            fake.join(5)  # blocking, as stopping a server is: no tick runs after it
        return counts.aiosqlite

    readings = asyncio.run(scenario())
    assert max(readings) >= 1 and readings[-1] == 0, f"the thread's end should be read: {readings}"


async def _enter_with(period: float) -> None:
    async with watch_threads(period=period):
        pass


def test_plot_threads_beside_a_real_run() -> None:
    app = FastAPI(title="tests · threads plot")

    @app.get("/q")
    def query() -> dict[str, int]:
        return {"value": 1}

    with serve(app) as server:
        run = burst(server, "/q", n=6)

        async def watched() -> LabFigure:
            async with watch_threads() as counts:
                await asyncio.sleep(0.02)
            return plot_threads(counts, run.pool, "threads")

        figure = asyncio.run(watched())
    assert isinstance(figure, LabFigure)
    assert figure.get_figwidth() == WIDTH_IN, "drawn at notebook width, never scaled down"
    small = [(size, text) for size, text in effective_sizes(figure) if size < SMALL]
    assert not small, f"text under {SMALL} pt at notebook width: {small}"
