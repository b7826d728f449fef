"""helpers.lessons.l03_blocking: a real slow query, asyncio's slow-callback log, and loop stalls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi import FastAPI

from helpers import serve
from helpers.lessons.l03_blocking import (
    REPORT_SQL,
    SlowCallbackLog,
    capture_slow_callbacks,
    frozen_ms,
    handler_ms,
    loop_stalls,
    make_slow_database,
)
from tests.conftest import burst


def test_slow_query_is_calibrated_on_a_real_file(tmp_path: Path) -> None:
    query = make_slow_database(tmp_path, target_s=0.03, rows=2_000)
    assert query.path == tmp_path / "orders.db"
    assert query.path.stat().st_size > 10_000
    assert query.sql == REPORT_SQL
    assert query.params["rows"] == 2_000
    assert query.params["steps"] > 0
    assert 0.005 < query.seconds < 0.3  # generous: calibrated to 30 ms on a busy machine
    walked, total = query.run()
    assert walked == query.params["steps"] + 1
    assert total > 0


def test_making_the_database_twice_replaces_the_file(tmp_path: Path) -> None:
    first = make_slow_database(tmp_path, target_s=0.02, rows=500)
    second = make_slow_database(tmp_path, target_s=0.02, rows=500)
    assert first.path == second.path
    assert second.run()[0] == second.params["steps"] + 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_s": 0.0}, "target_s must be between"),
        ({"target_s": 10.0}, "target_s must be between"),
        ({"rows": 5}, "rows must be between"),
    ],
)
def test_bad_database_arguments_are_refused(
    tmp_path: Path, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_slow_database(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="existing folder"):
        make_slow_database(tmp_path / "nope")


def _watched_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.05
        yield

    app = FastAPI(title="watched-test", lifespan=lifespan)

    @app.get("/blocking")
    async def blocking() -> dict[str, bool]:
        time.sleep(0.1)  # ⚠ blocks the event loop — on purpose
        return {"ok": True}

    @app.get("/polite")
    async def polite() -> dict[str, bool]:
        await asyncio.sleep(0.1)
        return {"ok": True}

    return app


def test_debug_mode_warnings_are_captured_and_the_handler_removed() -> None:
    logger = logging.getLogger("asyncio")
    handlers_before = list(logger.handlers)
    with serve(_watched_app()) as server:
        with capture_slow_callbacks() as blocking_log:
            run = burst(server, "/blocking", n=3)
        with capture_slow_callbacks() as polite_log:
            polite = burst(server, "/polite", n=3)
    assert logger.handlers == handlers_before
    assert len(blocking_log) == 3
    frame = blocking_log.frame()
    assert list(frame.columns) == ["thread", "took_ms", "callback"]
    assert (frame["took_ms"] >= 50).all()
    assert frame["callback"].str.contains("run_asgi").all()
    assert len(polite_log) == 0
    stalls = loop_stalls(run, threshold_ms=50)
    assert list(stalls.columns) == ["from_ms", "to_ms", "lag_ms", "running_on_loop"]
    assert len(stalls) >= 1
    assert stalls["running_on_loop"].str.contains("/blocking").all()
    # Each row is the interval the lag panel draws: it ends when the late probe ran.
    assert ((stalls["to_ms"] - stalls["from_ms"] - stalls["lag_ms"]).abs() <= 1).all()
    # Three 0.1 s handlers back to back: the freezes cover most of their 300 ms.
    assert frozen_ms(run) == stalls["lag_ms"].sum()
    assert 190 <= handler_ms(run) < 1000  # at least two of the three handlers were watched
    assert frozen_ms(run) >= 0.8 * handler_ms(run)
    # Three overlapping 0.1 s sleeps: handlers ran ~300 ms in all, the loop stayed free.
    assert 250 <= handler_ms(polite) < 1000
    assert frozen_ms(polite) < 0.2 * handler_ms(polite)


def test_log_ignores_other_records() -> None:
    log = SlowCallbackLog()
    log.handle(logging.makeLogRecord({"msg": "something else", "args": ()}))
    log.handle(logging.makeLogRecord({"msg": "Executing %s took %.3f seconds", "args": ("x",)}))
    assert len(log) == 0
    assert list(log.frame().columns) == ["thread", "took_ms", "callback"]


def test_capture_restores_a_raised_logger_level() -> None:
    logger = logging.getLogger("asyncio")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with capture_slow_callbacks():
            assert logger.isEnabledFor(logging.WARNING)
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(previous)


def test_loop_stalls_refuses_a_bad_threshold() -> None:
    with serve(_watched_app()) as server:
        run = burst(server, "/polite", n=1)
    with pytest.raises(ValueError, match="threshold_ms must be > 0"):
        loop_stalls(run, threshold_ms=0)


def test_handler_ms_counts_up_to_the_last_probe_reading() -> None:
    requests = pd.DataFrame({"start": [0.0, 0.1, 0.2, None], "end": [0.1, 0.2, 0.3, None]})
    lag = pd.DataFrame({"t": [0.05, 0.25], "lag_ms": [0.0, 150.0]})
    watched = SimpleNamespace(requests=requests, lag=lag)
    assert handler_ms(watched) == pytest.approx(250.0)  # type: ignore[arg-type]
    unwatched = SimpleNamespace(requests=requests, lag=lag.iloc[0:0])
    assert handler_ms(unwatched) == pytest.approx(300.0)  # type: ignore[arg-type]
