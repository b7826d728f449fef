"""cpu_account: per-thread CPU clocks around a burst, roles, and the table and figure."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi import FastAPI

from helpers import serve
from helpers.cpu_account import (
    CpuSnapshot,
    CpuWindow,
    account,
    cpu_by_role,
    disabled,
    plot_cpu,
    snapshot,
    source,
)
from tests.conftest import burst

needs_clocks = pytest.mark.skipif(source() == "unavailable", reason="no per-thread CPU clock")


def _spin(seconds: float) -> None:
    """Burn ``seconds`` of this thread's CPU time."""
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def _snap(process_s: float, threads: dict[int, float]) -> CpuSnapshot:
    return CpuSnapshot(
        taken=0.0,
        process_s=process_s,
        threads=threads,
        names={1: "lab-server-1", 2: "AnyIO worker thread", 3: "MainThread", 4: "aiosqlite"},
        idents={1: 101, 2: 102, 3: 103, 4: 104},
        loops={2: "the server loop"},
    )


def test_account_gives_each_thread_its_role_and_the_rest_as_unattributed() -> None:
    start = _snap(1.0, {1: 0.5, 2: 0.1, 3: 2.0, 4: 0.0})
    end = _snap(1.05, {1: 0.52, 2: 0.11, 3: 2.01, 4: 0.005, 5: 0.001})  # 5 started meanwhile
    table = account(start, end, n=10, client_ident=103, loop_ident=101, loop="the server loop")
    assert table["role"].tolist() == [
        "server loop", "worker", "client", "other", "other", "unattributed"
    ]  # fmt: skip
    assert table["cpu_ms"].round(3).tolist() == [20.0, 10.0, 10.0, 5.0, 1.0, 4.0]
    assert table.loc[0, "per_request_ms"] == 2.0
    by_role = cpu_by_role(table)
    assert by_role.loc["other", "threads"] == 2 and by_role.loc["other", "cpu_ms"] == 6.0
    with pytest.raises(ValueError, match="n must be ≥ 1, got 0"):
        account(start, end, n=0, client_ident=None, loop_ident=None)


def test_without_snapshots_the_account_is_empty() -> None:
    assert account(None, None, n=1, client_ident=None, loop_ident=None).empty
    with disabled():
        assert snapshot() is None
    assert cpu_by_role(account(None, None, n=1, client_ident=None, loop_ident=None)).empty
    assert plot_cpu(account(None, None, n=1, client_ident=None, loop_ident=None))._repr_png_()


@needs_clocks
def test_a_thread_that_burns_cpu_between_snapshots_is_credited_with_it() -> None:
    burned, stop = threading.Event(), threading.Event()

    def spinner() -> None:
        _spin(0.05)
        burned.set()
        stop.wait()

    window = CpuWindow.open()
    thread = threading.Thread(target=spinner, name="spinner")
    thread.start()
    _spin(0.02)
    assert burned.wait(10)
    window.close()  # the spinner is still alive (and idle) at the second snapshot
    stop.set()
    thread.join()
    table = window.table(n=1)
    spun = float(table.loc[table["thread"] == "spinner", "cpu_ms"].sum())
    client = float(table.loc[table["role"] == "client", "cpu_ms"].sum())
    assert 49 <= spun < 500, table
    assert 19 <= client < 500, table


@needs_clocks
def test_a_burst_accounts_the_server_loop_its_workers_and_the_client() -> None:
    app = FastAPI(title="cpu account")

    @app.get("/burn")
    def burn() -> dict[str, float]:
        started = time.thread_time()
        _spin(0.01)
        return {"cpu_s": time.thread_time() - started}

    server = serve(app)
    try:
        run = burst(server, "/burn", n=8)
    finally:
        server.stop()
    burned_ms = sum(json.loads(body)["cpu_s"] for body in run.requests["body"]) * 1000
    by_role = cpu_by_role(run.cpu)
    assert {"server loop", "worker", "client"} <= set(by_role.index), run.cpu
    # the handlers' own CPU is on the worker threads, and not much more than that
    assert burned_ms <= by_role.loc["worker", "cpu_ms"] < burned_ms * 3 + 20
    s = run.summary()
    assert s["workers_cpu_ms_per_request"] == pytest.approx(
        by_role.loc["worker", "per_request_ms"], abs=1e-3
    )
    assert s["loop_cpu_ms_per_request"] > 0 and s["client_cpu_ms_per_request"] > 0
    assert s["worker_threads"] >= (run.cpu["role"] == "worker").sum() >= 1
    fig = plot_cpu(run.cpu)
    assert fig._repr_png_().startswith(b"\x89PNG")
