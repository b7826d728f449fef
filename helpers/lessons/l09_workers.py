"""``uvicorn TARGET --workers N`` as a subprocess of the kernel (lesson 09).

``start_workers`` runs ``uvicorn TARGET --workers N`` on a free loopback port, waits
until every worker process has answered and stops the whole process group on ``.stop()``,
on leaving a ``with`` block, and when the kernel exits — also when it dies without running
``atexit`` (a watchdog thread in uvicorn's manager process ends the group once the kernel
is gone). The target app is the lesson's own (the notebook writes it with ``%%writefile``);
the readiness probe uses its ``/whoami`` and ``/hold`` endpoints.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx

from helpers._ports import free_port
from helpers._stoppable import Stoppable

__all__ = ["WorkerServer", "start_workers", "stop_all_workers"]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
MAX_WORKERS = 16
WATCHDOG_EVERY_S = 0.5

# Run as ``python -c`` in front of uvicorn's CLI: the process that becomes uvicorn's manager
# checks every WATCHDOG_EVERY_S whether the kernel (its parent) is still there and, if not,
# sends SIGTERM to its own process group — itself and every worker. ``-c`` rather than a
# module, so spawned workers have no main module to re-import.
_LAUNCHER = f"""
import os, signal, sys, threading, time
kernel = int(sys.argv[1])
def watch():
    while os.getppid() == kernel:
        time.sleep({WATCHDOG_EVERY_S})
    os.killpg(0, signal.SIGTERM)
if os.name == "posix":
    threading.Thread(target=watch, daemon=True).start()
from uvicorn.main import main
main(sys.argv[2:], prog_name="uvicorn")
"""


LOOPBACK_HOSTS = ("127.0.0.1",)  # IPv4 only: free_port probes with AF_INET


class WorkerServer(Stoppable):
    """``uvicorn TARGET --workers N`` in a subprocess. Use ``start_workers()``.

    Attributes: ``url``, ``port``, ``workers``, ``target``, ``pid`` (the process uvicorn
    was started as: the manager when ``workers > 1``), ``worker_pids`` (pids that
    answered), ``tokens`` (thread-limiter size reported by a worker), ``first_answer_s``
    and ``all_ready_s`` (seconds from launch to the first answer / to every worker having
    answered).
    """

    def __init__(
        self, target: str, workers: int, host: str = "127.0.0.1", app_dir: str = ""
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"host must be a loopback address ({', '.join(LOOPBACK_HOSTS)}); got {host!r}"
            )
        self.target = target
        self.workers = workers
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.worker_pids: set[int] = set()
        self.tokens = 0
        self.first_answer_s = float("nan")
        self.all_ready_s = float("nan")
        # Closed in stop(); a file, not a pipe, so a chatty uvicorn can never block on it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        command = [
            sys.executable,
            "-c",
            _LAUNCHER,
            str(os.getpid()),
            target,
            *(["--app-dir", app_dir] if app_dir else []),
            "--workers",
            str(workers),
            "--host",
            host,
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self._launched = time.perf_counter()
        # A session of its own, so stop() can signal the manager and its workers together.
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=os.name == "posix",
        )
        self.pid = self._process.pid

    def _stderr_tail(self, limit: int = 3000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def _wait_ready(self, timeout: float) -> None:
        deadline = self._launched + timeout
        with httpx.Client(base_url=self.url, timeout=2.0, trust_env=False) as client:
            while not self.worker_pids:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    answer = client.get("/whoami").json()
                    self.worker_pids.add(int(answer["pid"]))
                    self.tokens = int(answer["tokens"])
                    self.first_answer_s = time.perf_counter() - self._launched
                if time.perf_counter() > deadline:
                    self._fail(f"no answer within {timeout:.0f} s")
                time.sleep(0.02)
        # Every worker accepts on the same socket; /hold blocks the loop of the worker that
        # took it, so concurrent probes spill over to workers that are up.
        with concurrent.futures.ThreadPoolExecutor(2 * self.workers) as pool:
            while len(self.worker_pids) < self.workers:
                self._check_alive()
                if time.perf_counter() > deadline:
                    self._fail(
                        f"only {len(self.worker_pids)} of {self.workers} workers "
                        f"answered within {timeout:.0f} s"
                    )
                probes = [pool.submit(self._probe) for _ in range(2 * self.workers)]
                for probe in probes:
                    pid = probe.result()
                    if pid is not None:
                        self.worker_pids.add(pid)
        self.all_ready_s = time.perf_counter() - self._launched

    def _probe(self) -> int | None:
        try:
            answer = httpx.get(
                f"{self.url}/hold", params={"seconds": 0.05}, timeout=2.0, trust_env=False
            )
            return int(answer.json()["pid"])
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    def _check_alive(self) -> None:
        if self._process.poll() is not None:
            self._fail(f"uvicorn exited with code {self._process.returncode}")

    def _fail(self, reason: str) -> None:
        tail = self._stderr_tail()
        self.stop()
        raise RuntimeError(
            f"uvicorn {self.target} --workers {self.workers} on port {self.port} did not "
            f"start: {reason}. Its stderr:\n{tail or '(empty)'}"
        )

    @property
    def running(self) -> bool:
        """True while the uvicorn process is alive."""
        return self._process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop uvicorn and its workers: SIGTERM to the process group, SIGKILL after
        ``timeout`` seconds. Safe to call twice."""
        _registry.discard(self)
        if self._process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))
                self._process.wait(timeout)
        if os.name == "posix":
            # Workers that outlived their manager (it was killed) are still in the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._stderr.close()

    def _signal(self, sig: int) -> None:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, sig)
        else:
            self._process.terminate()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<WorkerServer {self.url} {state} workers={self.workers} "
            f"pids={sorted(self.worker_pids)} ready in {self.all_ready_s:.2f} s>"
        )


_registry: set[WorkerServer] = set()


def start_workers(
    target: str,
    workers: int = 2,
    app_dir: str | os.PathLike[str] = "",
    timeout: float = START_TIMEOUT_S,
) -> WorkerServer:
    """Start ``uvicorn TARGET --workers N [--app-dir APP_DIR]`` on a free 127.0.0.1 port and
    wait until all ``workers`` processes answer.

    Args:
        target: uvicorn's import string, ``module:app``; the app must have ``/whoami``
            (answers ``{"pid": …, "tokens": …}``) and ``/hold?seconds=…`` (holds its
            worker's loop, answers ``{"pid": …}``), which the readiness probe calls.
        workers: worker processes, 1 … 16.
        app_dir: the folder ``module`` is in (uvicorn puts it first on ``sys.path``, and
            its spawned workers inherit that path); empty for an importable module.
        timeout: seconds to wait for every worker, else ``RuntimeError`` with uvicorn's
            stderr.

    Use it as a context manager, or call ``.stop()``; the processes are also stopped when
    the kernel exits."""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, got {workers!r}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:app', got {target!r}")
    if app_dir and not os.path.isdir(app_dir):
        raise ValueError(f"app_dir must be an existing folder, got {os.fspath(app_dir)!r}")
    server = WorkerServer(target, workers, app_dir=os.fspath(app_dir))
    _registry.add(server)
    _register_atexit()
    server._wait_ready(timeout)
    return server


def stop_all_workers() -> None:
    """Stop every uvicorn subprocess this kernel started."""
    for server in list(_registry):
        server.stop()


_atexit_done: list[bool] = []


def _register_atexit() -> None:
    if not _atexit_done:
        atexit.register(stop_all_workers)
        _atexit_done.append(True)
