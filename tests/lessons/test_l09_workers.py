"""helpers.lessons.l09_workers: uvicorn --workers as a subprocess of the kernel."""

from __future__ import annotations

import ipaddress

import psutil
import pytest

from helpers.lessons.l09_workers import start_workers


def test_one_worker_serves_in_the_launched_process() -> None:
    with start_workers(workers=1) as server:
        assert server.worker_pids == {server.pid}
        assert server.running
    assert not server.running


def test_a_bad_target_fails_with_uvicorns_stderr() -> None:
    with pytest.raises(RuntimeError, match="stderr"):
        start_workers("helpers.no_such_module:app", workers=1, timeout=20)


@pytest.mark.parametrize("workers", [0, 17, True])
def test_workers_is_validated(workers: int) -> None:
    with pytest.raises((ValueError, TypeError)):
        start_workers(workers=workers)


def test_target_must_be_an_import_string() -> None:
    with pytest.raises(ValueError, match=r"package\.module:app"):
        start_workers("helpers.lessons.l09_worker_app", workers=1)


def test_a_non_loopback_host_is_refused() -> None:
    from helpers.lessons.l09_workers import WorkerServer

    with pytest.raises(ValueError, match="loopback"):
        WorkerServer("helpers.lessons.l09_worker_app:app", workers=1, host="0.0.0.0")


def test_workers_listen_on_loopback_only() -> None:
    with start_workers(workers=2) as server:
        manager = psutil.Process(server.pid)
        listening = [
            connection.laddr
            for process in [manager, *manager.children(recursive=True)]
            for connection in process.net_connections(kind="inet")
            if connection.status == psutil.CONN_LISTEN
        ]
    assert any(address.port == server.port for address in listening), listening
    exposed = [a for a in listening if not ipaddress.ip_address(a.ip).is_loopback]
    assert not exposed, f"uvicorn workers listen beyond loopback: {exposed}"
