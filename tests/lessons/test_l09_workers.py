"""helpers.lessons.l09_workers: uvicorn --workers as a subprocess of the kernel."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from helpers.lessons.l09_workers import WorkerServer, start_workers

# The smallest app start_workers can serve (its readiness probe calls /whoami and /hold),
# plus the stamping endpoints helpers.lessons.l09_scaling reads; the lesson writes its own.
APP = textwrap.dedent(
    """
    import os, threading, time
    import anyio.to_thread
    from fastapi import FastAPI
    from helpers.apps import count_primes

    app = FastAPI()

    def stamp(started, on_loop=False):
        return {"pid": os.getpid(), "thread": threading.current_thread().name,
                "thread_id": threading.get_native_id(), "on_loop": on_loop,
                "start": started, "end": time.time()}

    @app.get("/whoami")
    async def whoami():
        tokens = anyio.to_thread.current_default_thread_limiter().total_tokens
        return {"pid": os.getpid(), "tokens": int(tokens)}

    @app.get("/hold")
    async def hold(seconds: float = 0.05):
        started = time.time()
        time.sleep(seconds)  # ⚠ blocks this worker's event loop — on purpose
        return stamp(started, on_loop=True)

    @app.get("/sync_sleep")
    def sync_sleep(seconds: float = 0.5):
        started = time.time()
        time.sleep(seconds)
        return stamp(started)

    @app.get("/cpu")
    def cpu(limit: int = 2000):
        started = time.time()
        return stamp(started) | {"primes": count_primes(limit)}
    """
)


def write_app(folder: Path, module: str = "l09_test_app") -> str:
    """Write ``APP`` as ``folder/module.py``; return its uvicorn import string."""
    (folder / f"{module}.py").write_text(APP)
    return f"{module}:app"


def test_one_worker_serves_in_the_launched_process(tmp_path: Path) -> None:
    with start_workers(write_app(tmp_path), workers=1, app_dir=tmp_path) as server:
        assert server.worker_pids == {server.pid}
        assert server.running
    assert not server.running


def test_workers_import_the_app_from_app_dir(tmp_path: Path) -> None:
    """Spawned workers are fresh interpreters: each must find the module in app_dir."""
    with start_workers(write_app(tmp_path), workers=2, app_dir=tmp_path) as server:
        assert len(server.worker_pids) == 2 and server.pid not in server.worker_pids
        assert server.tokens == 40


def test_a_bad_target_fails_with_uvicorns_stderr() -> None:
    with pytest.raises(RuntimeError, match="stderr"):
        start_workers("helpers.no_such_module:app", workers=1, timeout=20)


@pytest.mark.parametrize("workers", [0, 17, True])
def test_workers_is_validated(workers: int, tmp_path: Path) -> None:
    with pytest.raises((ValueError, TypeError)):
        start_workers(write_app(tmp_path), workers=workers, app_dir=tmp_path)


def test_target_must_be_an_import_string() -> None:
    with pytest.raises(ValueError, match=r"package\.module:app"):
        start_workers("l09_test_app", workers=1)


def test_app_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no_such_folder"):
        start_workers("l09_test_app:app", workers=1, app_dir=tmp_path / "no_such_folder")


def test_a_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        WorkerServer("l09_test_app:app", workers=1, host="0.0.0.0")


def test_workers_listen_on_loopback_only(tmp_path: Path) -> None:
    with start_workers(write_app(tmp_path), workers=2, app_dir=tmp_path) as server:
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


@pytest.mark.skipif(os.name != "posix", reason="the watchdog is for POSIX process groups")
def test_workers_end_when_the_kernel_dies_without_cleaning_up(tmp_path: Path) -> None:
    """A kernel killed with SIGKILL runs no atexit: the manager's watchdog ends the group."""
    script = (
        "import sys\n"
        "from helpers.lessons.l09_workers import start_workers\n"
        f"s = start_workers({write_app(tmp_path)!r}, workers=2, app_dir={str(tmp_path)!r})\n"
        "print(s.pid, *sorted(s.worker_pids), flush=True)\n"
        "sys.stdin.read()\n"
    )
    kernel = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert kernel.stdout is not None
        pids = [int(pid) for pid in kernel.stdout.readline().split()]
        assert len(pids) == 3, pids
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(10)
        deadline = time.monotonic() + 15
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [
                p
                for p in pids
                if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
            ]
        assert not alive, f"uvicorn processes outlived their kernel: {alive}"
    finally:
        kernel.kill()
