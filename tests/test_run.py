"""build_run / Run.summary on hand-made records (no server needed)."""

from __future__ import annotations

import math

from helpers.probes import Samples
from helpers.run import ClientRecord, build_run
from helpers.tracing import RequestRecord, SpanRecord

LOOP = 1


def server_record(trace_id: int, start: float, end: float, thread: int) -> RequestRecord:
    record = RequestRecord(trace_id, arrived=start - 0.01, done=end + 0.01)
    record.spans = [
        SpanRecord("GET /x", 1, None, True, start - 0.009, LOOP, end + 0.005),
        SpanRecord("fastapi.dependencies", 2, 1, False, start - 0.008, LOOP, start - 0.005),
        SpanRecord("fastapi.endpoint", 3, 1, False, start, thread, end),
    ]
    return record


def make_run():  # type: ignore[no-untyped-def]
    clients = [
        ClientRecord(0, "/x", 10.0, 10.6, 200, None, "{}"),
        ClientRecord(1, "/x", 10.0, 11.1, 200, None, "{}"),
        ClientRecord(2, "/x", 10.0, 10.2, None, "timed out after 0.2 s", None),
    ]
    servers = [
        server_record(1, 10.05, 10.55, thread=77),
        server_record(2, 10.56, 11.05, thread=88),
        RequestRecord(3),
    ]
    samples = Samples(t=[10.0, 10.3, 10.7], lag=[0.0, 0.002, 0.001], busy=[1, 1, 1],
                      waiting=[0, 1, 0])  # fmt: skip
    return build_run(clients, servers, samples, t0=10.0, loop_thread_id=LOOP, thread_limit=1)


def test_times_are_seconds_from_the_burst_start() -> None:
    r = make_run().requests
    assert r.loc[0, "sent"] == 0.0
    assert math.isclose(r.loc[0, "start"], 0.05)
    assert math.isclose(r.loc[1, "received"], 1.1)


def test_threads_are_labelled_in_order_of_first_use() -> None:
    r = make_run().requests
    assert r["thread"].tolist()[:2] == ["worker 1", "worker 2"]
    assert not r.loc[0, "on_loop"]


def test_wait_is_the_gap_between_dependencies_and_the_handler() -> None:
    r = make_run().requests
    assert math.isclose(r.loc[1, "wait"], 0.005)


def test_failed_request_keeps_its_row_and_error() -> None:
    r = make_run().requests
    assert r.loc[2, "error"] == "timed out after 0.2 s"
    assert r["status"].isna().tolist() == [False, False, True]


def test_summary_keys_and_values() -> None:
    s = make_run().summary()
    assert {"n", "ok", "failed", "makespan_s", "latency_p50_s", "latency_p95_s",
            "latency_max_s", "worker_threads", "peak_busy", "peak_waiting", "peak_in_flight",
            "max_lag_ms", "waves"} <= set(s)  # fmt: skip
    assert (s["n"], s["ok"], s["failed"]) == (3, 2, 1)
    assert s["worker_threads"] == 2
    assert s["peak_in_flight"] == 1
    assert s["waves"] == 2
    assert s["peak_waiting"] == 1
    assert s["max_lag_ms"] == 2.0
    assert math.isclose(s["makespan_s"], 1.1)


def test_spans_table_lists_operation_spans_without_the_request_span() -> None:
    spans = make_run().spans
    assert sorted(set(spans["name"])) == ["dependencies", "endpoint"]


def test_untraced_run_has_client_columns_only() -> None:
    clients = [ClientRecord(0, "/x", 1.0, 1.5, 200, None, "")]
    run = build_run(clients, None, Samples(), t0=1.0, loop_thread_id=None, thread_limit=40)
    assert not run.traced
    assert math.isnan(run.requests.loc[0, "start"])
    assert run.summary()["worker_threads"] == 0
    assert "n=1" in repr(run)


def test_run_keeps_its_burst_start_on_the_perf_counter_clock() -> None:
    assert make_run().t0 == 10.0
