"""benchmarks/: the pure parts (report page, wrk parsing, raw client) — no timing asserts."""

from __future__ import annotations

import asyncio
import datetime
import gc
import json
import os
from pathlib import Path

import nbformat
import pytest
from fastapi import FastAPI

from benchmarks import notebook_time
from benchmarks.rawclient import makespan, raw_burst, raw_throughput
from benchmarks.report import Result, Section, check, machine_info, median, render, write
from benchmarks.run import main
from benchmarks.tracing_cost import parse_wrk
from helpers import serve

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40000/health_async
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    45.10ms    5.21ms  80.00ms   90.00%
    Req/Sec   550.12     40.00   600.00     70.00%
  3301 requests in 3.00s, 450.00KB read
  Non-2xx or 3xx responses: 2
Requests/sec:   1100.33
Transfer/sec:    150.00KB
"""


def tiny_app() -> FastAPI:
    app = FastAPI(title="bench-tests")

    @app.get("/hello", response_model=None)
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def test_result_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        Result("x", "1", status="ok")


def test_check_and_median() -> None:
    assert check(1.05, at_most=1.10) == "pass"
    assert check(1.2, at_most=1.10) == "miss"
    assert check(0.4, at_least=0.5) == "miss"
    assert median([3.0, 1.0, 2.0]) == 2.0
    with pytest.raises(ValueError):
        median([])


def test_render_writes_one_table_row_per_result(tmp_path: Path) -> None:
    section = Section("Demo", "How it was measured.", details=["extra | detail"])
    section.results += [
        Result("ratio a|b", "1.05", "≤ 1.10", "pass"),
        Result("ratio c", "1.40", "≤ 1.30", "miss", "client-side cost"),
    ]
    text = render(
        [section],
        started=datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.timezone.utc),
        machine_before={"cores": "2", "load average (1/5/15 min)": "0.1 / 0.2 / 0.3"},
        load_after="1.0 / 1.0 / 1.0",
        command="python -m benchmarks.run",
        notes=["Shared machine."],
    )
    lines = text.splitlines()
    assert "| benchmark | measured | target | result | note |" in lines
    assert "| ratio a\\|b | 1.05 | ≤ 1.10 | ✅ pass |  |" in lines
    assert "| ratio c | 1.40 | ≤ 1.30 | ❌ miss | client-side cost |" in lines
    assert "2025-01-02 03:04" in text
    assert "> Shared machine." in lines
    assert "- **load average after (1/5/15 min)**: 1.0 / 1.0 / 1.0" in lines
    assert "## Demo" in lines
    path = write(tmp_path / "docs" / "b.md", text)
    assert path.read_text(encoding="utf-8") == text


def test_machine_info_names_cores_python_and_packages() -> None:
    info = machine_info()
    assert {"cores", "python", "packages", "wrk"} <= set(info)
    assert "fastapi" in info["packages"]


def test_parse_wrk_reads_rate_count_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.per_second == 1100.33
    assert result.requests == 3301
    assert result.bad == 2
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("wrk: connection refused")


def test_raw_client_against_a_served_app() -> None:
    with serve(tiny_app(), trace=False) as server:
        exchanges = asyncio.run(raw_burst("127.0.0.1", server.port, "/hello", 5))
        load = asyncio.run(
            raw_throughput("127.0.0.1", server.port, "/hello", concurrency=2, seconds=0.2)
        )
    assert [e.status for e in exchanges] == [200] * 5
    assert all(json.loads(e.body) == {"hello": "world"} for e in exchanges)
    assert all(e.received >= e.sent for e in exchanges)
    assert makespan(exchanges) > 0
    assert load.requests > 0
    assert load.errors == 0


def test_raw_burst_rejects_empty_burst() -> None:
    with pytest.raises(ValueError, match="n must be ≥ 1, got 0"):
        asyncio.run(raw_burst("127.0.0.1", 1, "/", 0))


def test_notebook_benchmark_without_notebooks_is_skipped(tmp_path: Path) -> None:
    section = notebook_time.measure(tmp_path)
    assert [r.status for r in section.results] == ["skipped"]


def test_failing_notebook_is_reported_not_raised(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, tmp_path / "broken.ipynb")
    full, fast = notebook_time.measure(tmp_path).results
    assert (full.benchmark, fast.benchmark) == (
        "notebook broken.ipynb", "notebook broken.ipynb, LAB_FAST=1",
    )  # fmt: skip
    for result in (full, fast):
        assert result.status == "failed"
        assert result.note.startswith("failed: cell 1: ZeroDivisionError")


def test_notebooks_are_timed_at_full_size_and_in_fast_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_FAST", "caller's")
    with notebook_time._size(fast=True):
        assert os.environ["LAB_FAST"] == "1"
    with notebook_time._size(fast=False):
        assert "LAB_FAST" not in os.environ
    assert os.environ["LAB_FAST"] == "caller's"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    full, fast = notebook_time.measure(tmp_path).results
    assert full.status == fast.status == "pass"
    assert (full.target, fast.target) == ("≤ 40 s", "≤ 15 s")


def test_main_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    assert main(["--only", "lag", "--quick", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "lag probe: max_lag_ms − 200 ms" in text
    assert "Partial run" in text


def test_agenda_block_is_rewritten_from_timings(tmp_path: Path) -> None:
    from benchmarks.agenda import END, START, write_agenda

    guide = tmp_path / "workshop.md"
    guide.write_text(f"intro\n{START}\nold\n{END}\noutro\n")
    assert write_agenda({"00_welcome": 12.3, "01_event_loop": None}, "2026-01-01", guide)
    text = guide.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| `00_welcome` · Welcome to the lab bench | 20 min | 12 s | +0 min |" in text
    assert "| failed |" in text
    missing = tmp_path / "none.md"
    assert not write_agenda({}, "x", missing)


def test_collector_benchmark_measures_shipped_and_unguarded_side_by_side() -> None:
    from benchmarks import collector_pause
    from helpers import _load as load

    guard, thresholds = vars(load)["full_collections_deferred"], gc.get_threshold()
    section = asyncio.run(collector_pause.measure(objects=20_000, repeats=1))
    pause, lag, automatic = section.results
    assert "full collection" in pause.benchmark and "forced" in lag.measured
    assert "as shipped" in automatic.measured and "guard removed" in automatic.measured
    assert automatic.status in ("pass", "miss")
    assert vars(load)["full_collections_deferred"] is guard, "the benchmark puts the guard back"
    assert gc.get_threshold() == thresholds


def test_plain_uvicorn_serves_on_loopback_and_stops() -> None:
    from benchmarks.lab_vs_uvicorn import PlainUvicorn

    plain = PlainUvicorn(tiny_app())
    try:
        status, body = asyncio.run(raw_get_once(plain.port))
        assert status == 200 and b"world" in body
    finally:
        plain.stop()
    assert not plain._thread.is_alive()


async def raw_get_once(port: int) -> tuple[int, bytes]:
    from benchmarks.rawclient import raw_get

    exchange = await raw_get("127.0.0.1", port, "/hello")
    return exchange.status, exchange.body


def test_collector_count_keeps_to_the_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full collection after fire's guard is released (when the restored thresholds let a
    due one run) is not counted as one during the burst; one inside it is."""
    from benchmarks import collector_pause
    from helpers import _load as load

    async def collect_after(server: object, during: object = None) -> float:
        with vars(load)["full_collections_deferred"]():
            pass
        gc.collect()
        return 0.0

    async def collect_inside(server: object, during: object = None) -> float:
        with vars(load)["full_collections_deferred"]():
            gc.collect()
        return 0.0

    for fake, expected in ((collect_after, 0), (collect_inside, 1)):
        monkeypatch.setattr(collector_pause, "_burst", fake)
        for guarded in (True, False):
            count = asyncio.run(collector_pause._full_collections_under_pressure(None, guarded))
            assert count == expected, (fake.__name__, guarded, count)


def test_the_hand_measured_sections_are_in_the_page() -> None:
    from benchmarks.run import DEFAULT_OUT, HAND_MEASURED

    page = DEFAULT_OUT.read_text(encoding="utf-8")
    for section in HAND_MEASURED:
        assert section.read_text(encoding="utf-8") in page, f"{section.name} is not in {page}"
