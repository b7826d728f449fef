"""helpers.lessons.l06_db_pool: pool checkout/checkin and connect/close records, and the pool
figure."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from helpers import serve
from helpers._plots import SMALL, WIDTH_IN, LabFigure
from helpers.lessons.l06_db_pool import PoolRecorder, plot_pool
from tests.conftest import burst
from tests.test_plots import effective_sizes


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


def test_recorder_sees_overflow_connections_opened_and_closed_on_return(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'o.db'}", pool_size=1, max_overflow=1)
    recorder = PoolRecorder(engine)
    recorder.mark()
    both_hold = threading.Barrier(2, timeout=5)
    released: list[str] = []

    def work() -> None:
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            both_hold.wait()  # two connections out at once: the pool's one + one overflow
        released.append(threading.current_thread().name)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(released) == 2
    assert recorder.peak_checked_out() == 2 and recorder.connections_used() == 2
    assert recorder.connections_opened() == 2
    assert recorder.connections_closed() == 1  # returned while the pool (size 1) was full
    assert recorder.idle_in_pool() == 1
    life = recorder.lifecycle()
    assert list(life.columns) == ["connection", "event", "t"] and life["t"].is_monotonic_increasing
    closed = int(life.loc[life["event"] == "close", "connection"].iloc[0])
    holds = recorder.holds()
    last_checkin = holds.loc[holds["connection"] == closed, "checkin"].max()
    assert life.loc[life["event"] == "close", "t"].iloc[0] >= last_checkin  # closed on return
    recorder.mark()
    assert recorder.lifecycle().empty and recorder.connections_closed() == 0
    recorder.close()
    engine.dispose()
    assert recorder.connections_closed() == 0  # no longer listening to the close events


def test_idle_in_pool_names_a_pool_without_a_queue(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}", poolclass=NullPool)
    recorder = PoolRecorder(engine)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
    assert recorder.connections_opened() == 1 and recorder.connections_closed() == 1
    with pytest.raises(TypeError, match=r"needs a QueuePool.*NullPool"):
        recorder.idle_in_pool()
    recorder.close()
    engine.dispose()


def test_plot_pool_from_a_real_run(tmp_path: Path) -> None:
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
    assert isinstance(plot_pool(run, recorder, pool_size=2, title="pool"), LabFigure)
    assert recorder.peak_checked_out() <= 2
    recorder.close()
    engine.dispose()
    # The same run's requests drawn under an overflow pool's lanes, with one close marked.
    overflow_engine = create_engine(f"sqlite:///{tmp_path / 'z.db'}", pool_size=1, max_overflow=1)
    overflow = PoolRecorder(overflow_engine)
    first, second = overflow_engine.connect(), overflow_engine.connect()
    first.close()
    second.close()  # the pool (size 1) is full again: this one is closed
    assert overflow.connections_closed() == 1
    title = "a title long enough to need two lines at notebook width, " * 3
    figure = plot_pool(run, overflow, pool_size=1, title=title, max_overflow=1)
    assert isinstance(figure, LabFigure)
    assert figure.get_figwidth() == WIDTH_IN, "drawn at notebook width, never scaled down"
    small = [(size, text) for size, text in effective_sizes(figure) if size < SMALL]
    assert not small, f"text under {SMALL} pt at notebook width: {small}"
    assert "\n" in figure.get_axes()[0].get_title(loc="left"), "a long title wraps"
    with pytest.raises(ValueError, match="max_overflow must be ≥ 0"):
        plot_pool(run, overflow, pool_size=1, title="overflow", max_overflow=-1)
    overflow.close()
    overflow_engine.dispose()
