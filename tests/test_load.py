"""fire(): the structure of real bursts, failures as rows, and clear errors for bad input."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from helpers import Server, fire, serve
from tests.conftest import burst


def test_def_endpoint_runs_in_three_waves_on_forty_threads(demo: Server) -> None:
    # 1 s handlers: a wave boundary is a 0.5 s gap in start times, so even a slow intake of
    # the 100 connections on a loaded machine cannot blur the three waves together.
    run = burst(demo, "/sync_sleep", n=100, params={"seconds": 1.0})
    s = run.summary()
    assert s["ok"] == 100
    assert s["worker_threads"] == 40
    assert s["waves"] == 3
    assert s["peak_busy"] == 40
    assert s["peak_waiting"] >= 55
    assert s["peak_in_flight"] == 40
    assert 2.9 < s["makespan_s"] < 6.0
    assert not run.requests["on_loop"].any()
    assert (run.requests["wait"] > 0.6).sum() >= 55  # later waves queued for a thread


def test_thread_limit_ten_gives_ten_waves() -> None:
    from helpers import apps

    # 1 s handlers, as in the three-wave test: a wave boundary is then a 0.5 s gap in start
    # times, so a stall in the intake on a loaded machine cannot split a wave (0.5 s handlers
    # once gave 11 waves on a busy CI run: a 0.25 s pause was enough).
    with serve(apps.demo_app(title="limit-10"), thread_limit=10) as server:
        run = burst(server, "/sync_sleep", n=100, params={"seconds": 1.0})
    s = run.summary()
    assert s["worker_threads"] == 10
    assert s["waves"] == 10
    assert s["makespan_s"] >= 9.5  # 100 × 1 s on 10 threads cannot finish sooner
    assert s["peak_busy"] == 10
    assert s["thread_limit"] == 10


def test_async_endpoint_overlaps_on_the_event_loop(demo: Server) -> None:
    # 1 s handlers: only a 0.5 s pause in the intake could split the single wave
    run = burst(demo, "/async_sleep", n=100, params={"seconds": 1.0})
    s = run.summary()
    assert s["worker_threads"] == 0
    assert s["waves"] == 1
    assert s["peak_in_flight"] >= 95
    assert s["peak_busy"] == 0
    assert run.requests["on_loop"].all()
    assert set(run.requests["thread"]) == {"event loop"}
    assert s["makespan_s"] < 2.5  # not 100 × 1 s


def test_blocking_sleep_in_async_serializes_and_shows_lag(demo: Server) -> None:
    run = burst(demo, "/blocking_in_async", n=10, params={"seconds": 0.05})
    s = run.summary()
    assert s["peak_in_flight"] == 1
    assert s["makespan_s"] >= 0.5
    assert s["max_lag_ms"] >= 40
    r = run.requests.sort_values("start")
    assert (r["start"].iloc[1:].to_numpy() >= r["end"].iloc[:-1].to_numpy()).all()


def test_every_successful_row_is_ordered_on_one_clock(demo: Server) -> None:
    run = burst(demo, "/sync_sleep", n=60, params={"seconds": 0.05})
    ok = run.requests[run.requests["status"].notna()]
    assert len(ok) == 60
    assert (ok["sent"] <= ok["arrived"]).all()
    assert (ok["arrived"] <= ok["start"]).all()
    assert (ok["start"] <= ok["end"]).all()
    assert (ok["end"] <= ok["received"]).all()
    assert run.requests["sent"].min() >= 0


def test_concurrency_caps_requests_in_flight(demo: Server) -> None:
    run = burst(demo, "/async_sleep", n=20, params={"seconds": 0.1}, concurrency=5)
    s = run.summary()
    assert s["peak_in_flight"] <= 5
    assert s["makespan_s"] >= 0.4  # four rounds of 0.1 s


def test_params_can_vary_per_request(demo: Server) -> None:
    run = burst(demo, "/async_sleep", n=4, params=lambda i: {"seconds": 0.01 * i})
    assert run.requests["body"].tolist() == [f'{{"slept":{0.01 * i}}}' for i in range(4)]


def test_json_body_is_sent() -> None:
    app = FastAPI(title="echo")

    @app.post("/echo")
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    with serve(app) as server:
        run = burst(server, "/echo", n=3, method="post", json={"a": 1})
    assert run.requests["body"].tolist() == ['{"a":1}'] * 3


def test_timeouts_become_rows_and_the_burst_returns() -> None:
    app = FastAPI(title="slow")

    @app.get("/slow")
    async def slow(i: int) -> dict[str, int]:
        await asyncio.sleep(5 if i % 2 else 0)
        return {"i": i}

    with serve(app) as server:
        started = time.monotonic()
        run = burst(server, "/slow", n=6, params=lambda i: {"i": i}, timeout=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 3
    r = run.requests
    assert r["status"].isna().sum() == 3
    assert r.loc[r["status"].isna(), "error"].str.contains("timed out").all()
    assert (r.loc[r["status"].notna(), "error"].isna()).all()
    assert run.summary()["failed"] == 3


def test_server_errors_are_rows_with_their_status() -> None:
    app = FastAPI(title="fails")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with serve(app) as server:
        run = burst(server, "/boom", n=2)
    assert run.requests["status"].tolist() == [500, 500]


def test_untraced_server_still_gives_client_rows(demo: Server) -> None:
    from helpers import apps

    with serve(apps.demo_app(title="untraced"), trace=False) as server:
        run = burst(server, "/async_sleep", n=10, params={"seconds": 0.01})
    assert not run.traced
    assert run.requests["status"].tolist() == [200] * 10
    assert run.requests["start"].isna().all()
    assert len(run.lag) > 0


def interrupt_burst(server: Server, n: int, *, after_s: float, progress: bool) -> None:
    """Fire ``n`` 2 s requests at ``server`` and cancel the burst after ``after_s`` seconds."""

    async def interrupted() -> None:
        task = asyncio.ensure_future(
            fire(server, "/async_sleep", n=n, params={"seconds": 2}, progress=progress)
        )
        await asyncio.sleep(after_s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())


def test_cancelling_a_burst_leaves_the_server_usable(demo: Server) -> None:
    interrupt_burst(demo, 50, after_s=0.3, progress=False)
    run = burst(demo, "/async_sleep", n=5, params={"seconds": 0.01})
    assert run.summary()["ok"] == 5


BAD_INPUTS = [
    ({"n": 0}, ValueError, "n must be ≥ 1, got 0"),
    ({"n": -3}, ValueError, "n must be ≥ 1"),
    ({"n": 2.5}, TypeError, "n must be an int"),
    ({"n": 10**6}, ValueError, "safety bound"),
    ({"concurrency": 0}, ValueError, "concurrency must be ≥ 1"),
    ({"concurrency": "4"}, TypeError, "concurrency must be an int"),
    ({"timeout": 0}, ValueError, "timeout must be > 0"),
    ({"timeout": -1.0}, ValueError, "timeout must be > 0"),
    ({"timeout": float("inf")}, ValueError, "finite"),
    ({"timeout": "5"}, TypeError, "timeout must be a number"),
    ({"path": "async_sleep"}, ValueError, "path must start with '/'"),
    ({"path": 5}, TypeError, "path must be a string"),
    ({"params": [1, 2]}, TypeError, "params must be a mapping"),
    ({"json": {1, 2}}, TypeError, "json must be JSON-serializable"),
    ({"method": "FETCH"}, ValueError, "method must be one of"),
    ({"params": lambda i: 3}, TypeError, r"params\(0\) must return a mapping"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_INPUTS)
def test_bad_input_is_refused_before_any_request(
    demo: Server, kwargs: dict[str, object], error: type, message: str
) -> None:
    arguments: dict[str, object] = {"path": "/async_sleep", "n": 2}
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        burst(demo, **arguments)  # type: ignore[arg-type]


def test_stopped_server_is_refused() -> None:
    from helpers import apps

    server = serve(apps.demo_app(title="stopped"))
    server.stop()
    with pytest.raises(ValueError, match="is stopped"):
        burst(server, "/async_sleep", n=1)


def test_non_server_is_refused() -> None:
    with pytest.raises(TypeError, match="server must be what serve"):
        asyncio.run(fire(8000, "/"))  # type: ignore[arg-type]


def test_a_loopback_url_gives_client_rows_only(demo: Server) -> None:
    run = burst(demo.url, "/async_sleep", n=5, params={"seconds": 0.05})  # type: ignore[arg-type]
    assert run.requests["status"].tolist() == [200] * 5
    assert not run.traced and run.thread_limit is None
    assert run.requests["start"].isna().all() and len(run.pool) == 0
    assert run.summary()["makespan_s"] >= 0.05
    run.plot()  # draws without pool/lag data


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1:8000", "not on this machine"),
        ("http://example.com", "not on this machine"),
        ("https://127.0.0.1:8000", "must look like"),
        ("http://127.0.0.1:8000/api", "no path or query"),
        ("not a url", "must look like"),
    ],
)
def test_non_loopback_or_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        burst(url, "/x", n=1)  # type: ignore[arg-type]


def test_a_burst_does_not_wait_for_a_blocked_server_loop() -> None:
    """Firing at a server whose loop is blocked must not freeze the caller's loop."""
    app = FastAPI(title="blocked loop")

    @app.get("/block")
    async def block() -> dict[str, bool]:
        time.sleep(1.0)  # ⚠ blocks the event loop — on purpose
        return {"done": True}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    async def scenario(server: Server) -> float:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        blocker = asyncio.ensure_future(fire(server, "/block", n=1, progress=False))
        await asyncio.sleep(0.2)  # the server loop is now inside time.sleep
        counter = asyncio.ensure_future(ticker())
        started = time.monotonic()
        pinged = await fire(server, "/ping", n=1, progress=False)
        counter.cancel()
        await blocker
        assert pinged.summary()["ok"] == 1
        return ticks / (time.monotonic() - started)

    with serve(app) as server:
        ticks_per_s = asyncio.run(scenario(server))
    assert ticks_per_s > 20, f"the caller's loop stalled: {ticks_per_s:.0f} ticks/s"


class RecordedBars:
    """Every tqdm bar ``fire`` creates, as the notebook widget it is in JupyterLab."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tqdm.notebook import tqdm as notebook_tqdm

        self.bars: list[Any] = []
        bars = self.bars

        class Recorded(notebook_tqdm):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                bars.append(self)

            def close(self) -> None:
                # what the learner sees last: the text, and red ("danger") or not
                self.final_text = str(self)
                super().close()
                self.final_style = self.container.children[1].bar_style

        monkeypatch.setattr("tqdm.auto.tqdm", Recorded)


def test_a_long_burst_ends_with_a_full_bar_at_the_real_rate(
    demo: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = RecordedBars(monkeypatch)
    run = burst(demo, "/async_sleep", n=200, params={"seconds": 2.5}, progress=None)
    assert run.summary()["ok"] == 200
    assert len(recorded.bars) == 1, "a burst over 2 s shows one bar"
    bar = recorded.bars[0]
    assert bar.n == bar.total == 200, f"the bar stopped at {bar.n}/{bar.total}"
    assert bar.final_style != "danger", f"a finished burst's bar must not be red: {bar.final_text}"
    assert bar.disable, "the bar is closed when fire returns"
    # The rate shown is requests done ÷ time since the burst began (≥ 2.5 s here), not the
    # jump of the first update after the bar appeared at 2 s (thousands of req/s).
    shown = float(re.search(r"([\d.]+)req/s", bar.final_text).group(1))  # type: ignore[union-attr]
    real = 200 / run.summary()["makespan_s"]
    assert 0.6 * real < shown < 1.4 * real, (bar.final_text, real)


def test_a_short_burst_shows_no_bar(demo: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = RecordedBars(monkeypatch)
    run = burst(demo, "/async_sleep", n=20, params={"seconds": 0.05}, progress=None)
    assert run.summary()["ok"] == 20
    assert recorded.bars == []


def test_an_asked_for_bar_on_a_short_burst_also_ends_full(
    demo: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = RecordedBars(monkeypatch)
    burst(demo, "/async_sleep", n=30, params={"seconds": 0.05}, progress=True)
    [bar] = recorded.bars
    assert bar.n == 30 and bar.final_style != "danger" and bar.disable


def test_an_interrupted_burst_leaves_its_bar_short(
    demo: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = RecordedBars(monkeypatch)
    interrupt_burst(demo, 20, after_s=0.5, progress=True)
    [bar] = recorded.bars
    assert bar.n < 20 and bar.final_style == "danger" and bar.disable


BURST_UNDER_A_LOW_LIMIT = """
import asyncio, json, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, {hard}))  # macOS's default soft limit
from fastapi import FastAPI
from helpers import fire, serve
from helpers._open_files import open_file_limit

app = FastAPI(title="low limit")

@app.get("/short")
async def short():
    await asyncio.sleep({seconds})
    return {{}}

async def main():
    with serve(app) as server:
        with {block}:
            run = await fire(server, "/short", n=1000, timeout=30, progress=False)
        s = run.summary()
        print(json.dumps({{"ok": s["ok"], "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}}))

asyncio.run(main())
"""


def run_under_low_limit(
    *, hard: str = "hard", seconds: float = 0.2, block: str = "contextlib.nullcontext()"
) -> subprocess.CompletedProcess[str]:
    script = "import contextlib\n" + BURST_UNDER_A_LOW_LIMIT.format(
        hard=hard, seconds=seconds, block=block
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_a_thousand_request_burst_succeeds_quietly_under_a_256_file_limit() -> None:
    result = run_under_low_limit()
    assert result.returncode == 0, result.stderr[-3000:]
    *notes, last = result.stdout.strip().splitlines()
    report = json.loads(last)
    assert report["ok"] == 1000, report
    assert report["soft"] > 2000, "the soft limit was raised for the burst"
    assert len(notes) == 1 and "open-file limit raised from 256" in notes[0], notes
    assert result.stderr.strip() == "", result.stderr[-3000:]


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_a_hard_limit_too_low_fails_before_firing_with_the_fix() -> None:
    result = run_under_low_limit(hard="256")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("helpers._open_files.FileLimitError:"), last
    assert "at most 256" in last and "concurrency=" in last and "ulimit -n" in last, last
    assert ACCEPT_FAILED_LINE not in result.stderr


ACCEPT_FAILED_LINE = "accept() failed"


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_a_limit_lowered_on_purpose_is_kept_and_the_accept_flood_is_one_line() -> None:
    # lesson 08's experiment: run out of files on purpose; fire must not undo the limit,
    # and asyncio's thousands of accept() tracebacks must come out as one line
    result = run_under_low_limit(seconds=1.0, block="open_file_limit(256)")
    assert result.returncode == 0, result.stderr[-3000:]
    *notes, last = result.stdout.strip().splitlines()
    report = json.loads(last)
    assert report["ok"] < 1000, f"256 files cannot hold 1000 connections at once: {report}"
    assert report["soft"] == 256
    assert len(notes) == 1 and "open_file_limit(256) is in force" in notes[0], notes
    errors = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(errors) <= 1, result.stderr[-3000:]
    assert all(ACCEPT_FAILED_LINE in line for line in errors), errors
