"""build_run / Run.summary on hand-made records (no server needed)."""

from __future__ import annotations

import math

import pandas as pd

from helpers.probes import Samples
from helpers.run import ClientRecord, build_run
from helpers.tracing import RequestRecord, SpanRecord

LOOP = 1


def server_record(
    trace_id: int, start: float, end: float, thread: int, asked: float | None = None
) -> RequestRecord:
    """``asked``: when the dependencies were solved and the handler asked for a thread
    (5 ms before ``start`` by default)."""
    solved = start - 0.005 if asked is None else asked
    record = RequestRecord(trace_id, arrived=solved - 0.005, done=end + 0.01)
    record.spans = [
        SpanRecord("GET /x", 1, None, True, solved - 0.004, LOOP, end + 0.005),
        SpanRecord("fastapi.dependencies", 2, 1, False, solved - 0.003, LOOP, solved),
        SpanRecord("fastapi.endpoint", 3, 1, False, start, thread, end),
    ]
    return record


def make_run(second_asked: float | None = None):  # type: ignore[no-untyped-def]
    """Three requests on a server with 1 thread: 0 runs 0.05–0.55 s, 1 runs 0.56–1.05 s
    (asking for its thread 5 ms before, or at ``second_asked`` s after the burst start),
    2 times out."""
    clients = [
        ClientRecord(0, "/x", 10.0, 10.6, 200, None, "{}"),
        ClientRecord(1, "/x", 10.0, 11.1, 200, None, "{}"),
        ClientRecord(2, "/x", 10.0, 10.2, None, "timed out after 0.2 s", None),
    ]
    servers = [
        server_record(1, 10.05, 10.55, thread=77),
        server_record(
            2, 10.56, 11.05, thread=88, asked=None if second_asked is None else 10.0 + second_asked
        ),
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
    assert s["waves"] == 1  # request 1 asked for a thread after request 0 had finished
    assert s["queued"] == 0
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


def test_a_request_that_queued_for_the_thread_is_the_second_wave() -> None:
    run = make_run(second_asked=0.06)  # asked while request 0 held the only thread
    assert run.requests["wave"].tolist() == [1, 2, 0]
    s = run.summary()
    assert (s["waves"], s["queued"]) == (2, 1)
    assert math.isclose(s["wait_p50_ms"], (0.5 + 0.005) / 2 * 1000, rel_tol=1e-6)


def test_worker_threads_count_every_span_off_the_loop() -> None:
    # an async def endpoint whose def dependency opened a span of its own on a worker
    record = RequestRecord(1, arrived=10.0, done=10.2)
    record.spans = [
        SpanRecord("GET /x", 1, None, True, 10.0, LOOP, 10.2),
        SpanRecord("fastapi.dependencies", 2, 1, False, 10.01, LOOP, 10.1),
        SpanRecord("load user", 3, 2, False, 10.02, 55, 10.09),
        SpanRecord("fastapi.endpoint", 4, 1, False, 10.11, LOOP, 10.12),
    ]
    clients = [ClientRecord(0, "/x", 10.0, 10.3, 200, None, "{}")]
    run = build_run(clients, [record], Samples(), t0=10.0, loop_thread_id=LOOP, thread_limit=40)
    assert run.spans.loc[run.spans["name"] == "load user", "thread"].tolist() == ["worker 1"]
    s = run.summary()
    assert s["worker_threads"] == 1
    assert s["waves"] == 1 and s["rounds"] == 0  # the handler itself ran on the loop


def test_summary_reports_cpu_per_request_by_role_and_nan_without_an_account() -> None:
    s = make_run().summary()
    assert math.isnan(s["loop_cpu_ms_per_request"])
    run = make_run()
    run.cpu = pd.DataFrame(
        {"role": ["server loop", "worker", "worker", "client", "unattributed"],
         "thread": ["lab-server", "worker 1", "worker 2", "MainThread", "ended"],
         "cpu_ms": [6.0, 1.5, 1.5, 3.0, 0.3], "per_request_ms": [2.0, 0.5, 0.5, 1.0, 0.1]}
    )  # fmt: skip
    s = run.summary()
    assert (s["loop_cpu_ms_per_request"], s["workers_cpu_ms_per_request"],
            s["client_cpu_ms_per_request"]) == (2.0, 1.0, 1.0)  # fmt: skip
