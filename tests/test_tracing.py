"""The collector, the span processor, and the learner's own spans through a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from helpers import Server, serve
from helpers._run import SPAN_COLUMNS
from helpers._tracing import COLLECTOR, Collector, install_tracing
from tests.conftest import burst, spans_app


def test_collector_keeps_only_announced_traces() -> None:
    collector = Collector()
    records = collector.expect([1, 2])
    assert [r.trace_id for r in records] == [1, 2]
    assert collector.get(1) is records[0]
    assert collector.get(3) is None
    collector.release([1, 2])
    assert len(collector) == 0


def test_install_is_idempotent_and_uses_the_sdk_provider() -> None:
    install_tracing()
    install_tracing()
    assert isinstance(trace.get_tracer_provider(), TracerProvider)


def test_spans_of_announced_traces_are_stamped_with_thread_and_time() -> None:
    install_tracing()
    tracer = trace.get_tracer("lab-test")
    with tracer.start_as_current_span("outer") as outer:
        trace_id = outer.get_span_context().trace_id
    # Not announced: nothing recorded, nothing kept.
    assert COLLECTOR.get(trace_id) is None
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    announced = 0xABC
    (record,) = COLLECTOR.expect([announced])
    parent = NonRecordingSpan(SpanContext(announced, 1, True, TraceFlags(1)))
    try:
        with tracer.start_as_current_span("inner", context=set_span_in_context(parent)):
            pass
        assert [s.name for s in record.spans] == ["inner"]
        span = record.spans[0]
        assert span.end is not None and span.end >= span.start
        assert span.parent_id == 1 and not record.open_spans
    finally:
        COLLECTOR.release([announced])


# The learner's own spans, end to end through a real server (tests/conftest.py: spans_app).

LEARNER = trace.get_tracer("lab-test-learner")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = spans_app("tests: learner spans")

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        with LEARNER.start_as_current_span("long work") as span:
            await asyncio.sleep(0.3)
            span.set_attribute("saved", True)
        return {"ok": True}

    with serve(app, thread_limit=2) as running:
        yield running


def test_learner_spans_carry_request_thread_and_attributes(server: Server) -> None:
    run = burst(server, "/sync", n=3)
    spans = run.spans
    assert list(spans.columns) == SPAN_COLUMNS
    own = spans[~spans["fastapi"]]
    assert sorted(own.groupby("name").size().to_dict().items()) == [
        ("dependency", 3), ("handler", 3), ("validate", 6)
    ]  # fmt: skip
    assert set(own["id"]) == {0, 1, 2}
    assert not own["on_loop"].any() and own["thread"].str.match(r"worker \d+$").all()
    # the handler span runs inside FastAPI's endpoint span, on the endpoint's thread
    handler = own[own["name"] == "handler"].set_index("id")
    requests = run.requests.set_index("id")
    assert (handler["thread"] == requests["thread"]).all()
    assert ((handler["start"] >= requests["start"]) & (handler["end"] <= requests["end"])).all()
    assert set(handler["within"]) == {"endpoint"} and set(handler["parent"]) == {"endpoint"}
    validate = own[own["name"] == "validate"]
    assert sorted(validate["within"]) == ["endpoint"] * 3 + ["serialization"] * 3
    work = burst(server, "/work", n=2).spans
    done = work[work["name"] == "done"]
    assert [a["step.ok"] for a in done["attributes"]] == [True, True]
    assert work.loc[work["name"] == "step", "on_loop"].all()


def test_background_task_spans_stay_linked_after_the_response(server: Server) -> None:
    run = burst(server, "/tasks", n=3)
    spans = run.spans.set_index("name")
    responded = run.requests.set_index("id")["responded"]
    task = run.spans[run.spans["name"] == "task"].set_index("id")
    assert sorted(task.index) == [0, 1, 2]
    assert (task["start"] >= responded.reindex(task.index)).all(), "after the response"
    assert set(task["within"]) == {"background_task"} and not task["on_loop"].any()
    assert [a["rows"] for a in task["attributes"]] == [3, 3, 3]
    assert set(spans.loc["boom", "status"]) == {"error"}
    assert set(spans.loc["boom", "error"]) == {"ValueError: on purpose"}
    assert set(spans.loc["cancelled", "status"]) == {"cancelled"}
    assert set(spans.loc["task", "status"]) == {"ok"} and set(spans.loc["task", "error"]) == {""}


def test_a_span_that_ends_after_the_client_gave_up_appears_when_it_ends(server: Server) -> None:
    run = burst(server, "/slow", n=2, timeout=0.05)
    assert run.requests["error"].notna().all()
    assert "long work" not in set(run.spans["name"]), "still running when fire returned"
    time.sleep(0.5)
    late = run.spans[run.spans["name"] == "long work"]
    assert sorted(late["id"]) == [0, 1]
    assert (late["end"] - late["start"] >= 0.25).all()
    assert [a.get("saved") for a in late["attributes"]] == [True, True]
