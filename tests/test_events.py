"""EventLog: markers inside handlers land on the burst's clock, with thread and outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi import BackgroundTasks, FastAPI, Request
from pydantic import BaseModel, model_validator

from helpers import Server, serve
from helpers.events import EVENT_COLUMNS, EventLog, ms_after, request_index
from tests.conftest import burst

LOG = EventLog()


class Reply(BaseModel):
    index: int

    @model_validator(mode="after")
    def note(self) -> Reply:
        LOG.record_current("validate Reply")
        return self


def _app() -> FastAPI:
    app = FastAPI(title="tests: events")

    def blocking_task(request: Request) -> None:
        with LOG.span(request, "task"):
            time.sleep(0.01)

    @app.get("/steps")
    async def steps(request: Request, tasks: BackgroundTasks) -> dict[str, int]:
        LOG.record(request, "handler", "started")
        with LOG.span(request, "sleep"):
            await asyncio.sleep(0.02)
        try:
            with LOG.span(request, "boom"):
                raise ValueError("on purpose")
        except ValueError:
            pass
        tasks.add_task(blocking_task, request)
        return {"index": request_index(request)}

    @app.get("/typed")
    def typed(request: Request) -> Reply:
        with LOG.span(request, "typed"):
            return Reply(index=request_index(request))

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = serve(_app())
    yield running
    running.stop()


def test_frame_is_on_the_run_clock(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/steps", n=4)
    events = LOG.frame(run)
    assert list(events.columns) == EVENT_COLUMNS
    assert sorted(events["id"].unique()) == [0, 1, 2, 3]
    bodies = [int(b.split(":")[1].rstrip("}")) for b in run.requests["body"]]
    assert bodies == [0, 1, 2, 3], "request_index should match fire's order"
    started = events[events["name"] == "started"].set_index("id")["start"]
    endpoint = run.spans[run.spans["name"] == "endpoint"].set_index("id")["start"]
    # the mark comes right after the endpoint span starts, on the same clock
    gap = (started - endpoint).abs()
    assert (gap < 0.05).all(), gap


def test_outcomes_and_threads(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/steps", n=2)
    events = LOG.frame(run)
    by_lane = events.groupby("lane")
    assert set(by_lane.get_group("sleep")["outcome"]) == {"ok"}
    assert set(by_lane.get_group("boom")["outcome"]) == {"raised"}
    assert by_lane.get_group("sleep")["on_loop"].all()
    assert not by_lane.get_group("task")["on_loop"].any()
    assert by_lane.get_group("task")["thread"].str.startswith("worker thread").all()
    assert events.loc[events["name"] == "started", "end"].isna().all()


def test_ms_after_response(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/steps", n=3)
    events = LOG.frame(run)
    after = ms_after(events, run, "task")
    assert isinstance(after, pd.Series) and len(after) == 3
    assert (after >= 0).all(), "background tasks start after the response"
    assert (ms_after(events, run, "sleep", edge="end") <= 0).all()
    with pytest.raises(ValueError, match="edge"):
        ms_after(events, run, "task", edge="middle")
    with pytest.raises(ValueError, match="no events"):
        ms_after(events, run, "nope")


def test_two_bursts_in_one_log_are_refused(server: Server) -> None:
    LOG.clear()
    first = burst(server, "/steps", n=2)
    burst(server, "/steps", n=2)
    with pytest.raises(ValueError, match="more than one burst"):
        LOG.frame(first)


def test_no_request_events_cannot_be_placed(server: Server) -> None:
    log = EventLog()
    log.record(3, "upstream", "done")
    run = burst(server, "/steps", n=1)
    with pytest.raises(ValueError, match="Request"):
        log.frame(run)
    assert len(log) == 1 and log.events[0].request == 3


def test_record_current_finds_the_request_from_fastapis_span(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/typed", n=3)
    events = LOG.frame(run)
    assert list(events.columns) == EVENT_COLUMNS
    checks = events[events["lane"] == "validate Reply"]
    # built inside the endpoint, then validated again by FastAPI's serialize_response
    assert sorted(checks["fastapi_span"]) == ["endpoint"] * 3 + ["serialization"] * 3
    for span, rows in checks.groupby("fastapi_span"):
        assert sorted(rows["id"]) == [0, 1, 2], f"{span}: each request found once"
    assert not checks["on_loop"].any(), "a def endpoint's response is validated in a thread"
    handler = events[events["lane"] == "typed"].set_index("id")
    assert set(handler["fastapi_span"]) == {"endpoint"}
    validated = checks[checks["fastapi_span"] == "serialization"].set_index("id")["start"]
    assert (validated >= handler["end"].reindex(validated.index)).all()


def test_fastapi_span_of_request_events(server: Server) -> None:
    LOG.clear()
    run = burst(server, "/steps", n=1)
    spans = LOG.frame(run).groupby("lane")["fastapi_span"].first()
    assert spans["handler"] == "endpoint" and spans["task"] == "background_task"


def test_record_current_outside_a_request_never_raises() -> None:
    log = EventLog()
    log.record_current("kernel")
    (event,) = log.events
    assert event.request == -1 and event.trace_id is None and event.fastapi_span == ""
