from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from helpers.tracing import COLLECTOR, Collector, install_tracing


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
