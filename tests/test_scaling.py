"""helpers.scaling: uvicorn --workers as a subprocess, and client-only bursts against it."""

from __future__ import annotations

import asyncio

import pytest

from helpers.scaling import bodies_frame, fire_url, process_frame, start_workers


def test_two_workers_are_two_processes_with_forty_tokens_each() -> None:
    with start_workers("helpers.scaling:app", workers=2) as server:
        assert len(server.worker_pids) == 2
        assert server.pid not in server.worker_pids  # the launched process is the manager
        assert server.tokens == 40
        assert 0 < server.first_answer_s <= server.all_ready_s
        run = asyncio.run(fire_url(server, "/sync_sleep", n=100, params={"seconds": 0.3}))
    assert not server.running
    s = run.summary()
    assert s["ok"] == 100
    assert 40 < s["peak_in_flight"] <= 80
    per_process = process_frame(run)
    assert set(per_process.index) <= server.worker_pids
    assert (per_process["peak_in_flight"] <= 40).all()
    assert set(bodies_frame(run)["pid"]) == set(per_process.index)


def test_one_worker_serves_in_the_launched_process() -> None:
    with start_workers(workers=1) as server:
        assert server.worker_pids == {server.pid}
        run = asyncio.run(fire_url(server.url, "/cpu", n=3, params={"limit": 2000}))
    assert run.summary()["ok"] == 3
    assert (bodies_frame(run)["primes"] == 303).all()


def test_a_bad_target_fails_with_uvicorns_stderr() -> None:
    with pytest.raises(RuntimeError, match="stderr"):
        start_workers("helpers.no_such_module:app", workers=1, timeout=20)


@pytest.mark.parametrize("workers", [0, 17, True])
def test_workers_is_validated(workers: int) -> None:
    with pytest.raises((ValueError, TypeError)):
        start_workers(workers=workers)


def test_fire_url_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(fire_url("http://10.0.0.1:80", "/whoami", n=1))
