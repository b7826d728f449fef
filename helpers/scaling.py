"""Lesson 09: uvicorn's own ``--workers`` process manager, run as a subprocess.

``app`` is a module-level FastAPI app so that uvicorn's worker processes can import it
(``helpers.scaling:app``). ``start_workers`` runs ``python -m uvicorn … --workers N`` on a
free loopback port, waits until every worker answers and stops the whole process group on
exit. ``fire_url`` sends a burst to such an external server: the lab's tracing cannot see
inside another process, so each endpoint reports its own pid, thread and wall-clock start
and end in the response body, and ``fire_url`` puts those on the run's timeline.

Heavy imports (pandas, matplotlib) happen inside the functions that need them: a worker
process imports this module, and its start-up time is one of the lesson's measurements.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import httpx
from fastapi import FastAPI, Query

from helpers.apps import count_primes

if TYPE_CHECKING:
    from helpers.plots import LabFigure
    from helpers.run import Run

__all__ = [
    "WorkerServer",
    "app",
    "bodies_frame",
    "fire_url",
    "plot_processes",
    "process_frame",
    "start_workers",
    "stop_all_workers",
]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
MAX_WORKERS = 16

app = FastAPI(title="lesson 09: worker processes")


def _stamp(started: float, on_loop: bool = False) -> dict[str, Any]:
    """Where and when a handler ran: pid, thread, wall-clock start/end (``time.time()`` s)."""
    thread = threading.current_thread()
    return {
        "pid": os.getpid(),
        "thread": thread.name,
        "thread_id": threading.get_native_id(),
        "on_loop": on_loop,
        "start": started,
        "end": time.time(),
    }


@app.get("/whoami", response_model=None)
async def whoami() -> dict[str, Any]:
    """This worker's pid, the thread running the loop, and its thread-limiter size."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "tokens": int(limiter.total_tokens),
    }


@app.get("/sync_sleep", response_model=None)
def sync_sleep(seconds: float = Query(0.5, ge=0, le=30)) -> dict[str, Any]:
    """A ``def`` endpoint: sleeps on one of this worker's threads."""
    started = time.time()
    time.sleep(seconds)
    return _stamp(started)


@app.get("/cpu", response_model=None)
def cpu(limit: int = Query(20_000, ge=2, le=2_000_000)) -> dict[str, Any]:
    """A ``def`` endpoint doing a fixed amount of pure-Python work (``count_primes``)."""
    started, cpu_started = time.time(), time.thread_time()
    primes = count_primes(limit)
    return _stamp(started) | {"primes": primes, "cpu_s": time.thread_time() - cpu_started}


@app.get("/hold", response_model=None)
async def hold(seconds: float = Query(0.1, ge=0, le=2)) -> dict[str, Any]:
    """Keep this worker's loop busy so the next connection is taken by another worker."""
    started = time.time()
    time.sleep(seconds)  # ⚠ blocks this worker's event loop — on purpose (start-up probe)
    limiter = anyio.to_thread.current_default_thread_limiter()
    return _stamp(started, on_loop=True) | {"tokens": int(limiter.total_tokens)}


# --- the process manager, as a subprocess ---------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class WorkerServer:
    """``python -m uvicorn TARGET --workers N`` in a subprocess. Use ``start_workers()``.

    Attributes: ``url``, ``port``, ``workers``, ``target``, ``pid`` (the process uvicorn
    was started as: the manager when ``workers > 1``), ``worker_pids`` (pids that
    answered), ``tokens`` (thread-limiter size reported by a worker), ``first_answer_s``
    and ``all_ready_s`` (seconds from launch to the first answer / to every worker having
    answered).
    """

    def __init__(self, target: str, workers: int, host: str = "127.0.0.1") -> None:
        self.target = target
        self.workers = workers
        self.port = _free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.worker_pids: set[int] = set()
        self.tokens = 0
        self.first_answer_s = float("nan")
        self.all_ready_s = float("nan")
        # Closed in stop(); a file, not a pipe, so a chatty uvicorn can never block on it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            target,
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

    def __enter__(self) -> WorkerServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<WorkerServer {self.url} {state} workers={self.workers} "
            f"pids={sorted(self.worker_pids)} ready in {self.all_ready_s:.2f} s>"
        )


_registry: set[WorkerServer] = set()


def start_workers(
    target: str = "helpers.scaling:app", workers: int = 2, timeout: float = START_TIMEOUT_S
) -> WorkerServer:
    """Start ``uvicorn TARGET --workers N`` on a free 127.0.0.1 port and wait until all
    ``workers`` processes answer (at most ``timeout`` seconds, else ``RuntimeError`` with
    uvicorn's stderr). Use it as a context manager, or call ``.stop()``; the processes are
    also stopped when the kernel exits."""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, got {workers!r}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:app', got {target!r}")
    server = WorkerServer(target, workers)
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


# --- the client side -----------------------------------------------------------------


async def fire_url(
    target: WorkerServer | str,
    path: str,
    n: int = 100,
    params: dict[str, Any] | None = None,
    concurrency: int | None = None,
    timeout: float = 30.0,
    label: str = "",
) -> Run:
    """``fire`` at a server in another process, with the handlers' own stamps attached.

    Args:
        target: a ``WorkerServer`` or a loopback base URL such as ``http://127.0.0.1:8000``.
        path, n, params, concurrency, timeout, label: as for ``helpers.fire`` (seconds).

    ``fire`` measures the client side (the lab cannot trace inside another process); the
    server columns ``start``/``end``/``thread`` then come from the handler's own stamps in
    the body (``pid``, ``thread_id``, wall-clock ``start``/``end``), and a ``pid`` column
    is added. ``lag`` and ``pool`` stay empty.
    """
    from helpers.load import fire  # not at import: the uvicorn workers import this module

    url = target.url if isinstance(target, WorkerServer) else target
    run = await fire(
        url,
        path,
        n=n,
        params=params,
        concurrency=concurrency,
        timeout=timeout,
        label=label,
        progress=False,
    )
    # The handlers stamp wall-clock time; map it onto the run's perf_counter clock.
    wall0 = time.time() - (time.perf_counter() - run.t0)
    if isinstance(target, WorkerServer) and target.tokens:
        run.thread_limit = target.tokens
    _attach_stamps(run, wall0)
    return run


def _attach_stamps(run: Run, wall0: float) -> None:
    r = run.requests
    pids: list[int | None] = []
    names: dict[tuple[int, int], str] = {}
    for i, body in enumerate(r["body"]):
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            data = None
        if not (isinstance(data, dict) and {"pid", "thread_id", "start", "end"} <= data.keys()):
            pids.append(None)
            continue
        pid, key = int(data["pid"]), (int(data["pid"]), int(data["thread_id"]))
        on_loop = bool(data.get("on_loop", False))
        if key not in names:
            number = sum(k[0] == pid for k in names) + 1
            names[key] = f"pid {pid} · " + ("event loop" if on_loop else f"worker {number}")
        r.loc[i, ["start", "end"]] = [data["start"] - wall0, data["end"] - wall0]
        r.loc[i, "thread"], r.loc[i, "on_loop"] = names[key], on_loop
        pids.append(pid)
    r["pid"] = pids
    r["pid"] = r["pid"].astype("Int64")
    # The server columns are real (stamped by the handlers), so draw them as such.
    run.traced = bool(r["start"].notna().any())


def bodies_frame(run: Run) -> Any:
    """The JSON bodies of the answered requests as a DataFrame, one row per request (``id``
    plus whatever keys the handler returned)."""
    import pandas as pd

    rows = []
    for request_id, body in zip(run.requests["id"], run.requests["body"]):
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            rows.append({"id": request_id, **data})
    return pd.DataFrame(rows)


def process_frame(run: Run) -> Any:
    """One row per worker process: ``requests`` served, ``threads`` used, ``peak_in_flight``
    (most of its handlers running at once) and ``busy_s`` (first start → last end, s)."""
    import pandas as pd

    from helpers.stats import peak_overlap

    rows = {}
    for pid, group in run.requests.dropna(subset=["pid", "start"]).groupby("pid"):
        rows[int(pid)] = {
            "requests": len(group),
            "threads": group["thread"].nunique(),
            "peak_in_flight": peak_overlap(list(zip(group["start"], group["end"]))),
            "busy_s": round(float(group["end"].max() - group["start"].min()), 3),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "pid"
    return frame


def plot_processes(*runs: Run, titles: list[str], per_worker: int = 40) -> LabFigure:
    """Per run: requests coloured by worker process (top) and handlers running per process
    over time (bottom, stacked), time in **ms**; the dotted line is ``per_worker`` × the
    number of processes seen."""
    import numpy as np
    from matplotlib import colormaps

    from helpers.plots import FONT, LabFigure

    if len(titles) != len(runs):
        raise ValueError(f"titles has {len(titles)} entries for {len(runs)} runs")
    fig = LabFigure(figsize=(max(6.5 * len(runs) + 1, 10), 8), layout="constrained")
    axes = fig.subplots(2, len(runs), sharex=True, squeeze=False, height_ratios=[2.2, 1])
    palette = colormaps["tab10"]
    top = 1
    for col, (run, title) in enumerate(zip(runs, titles)):
        r = run.requests.dropna(subset=["pid", "start"]).sort_values("start")
        pids = sorted(r["pid"].unique())
        y = np.arange(len(r))
        colors = [palette(pids.index(p) % 10) for p in r["pid"]]
        axes[0][col].barh(
            y, (r["end"] - r["start"]) * 1000, left=r["start"] * 1000, height=1.0, color=colors
        )
        axes[0][col].set_ylim(len(r), -1)
        grid = np.linspace(0, float(r["end"].max()), 400)
        stacks = [
            ((g["start"].to_numpy()[:, None] <= grid) & (grid < g["end"].to_numpy()[:, None])).sum(
                axis=0
            )
            for _, g in r.groupby("pid")
        ]
        axes[1][col].stackplot(
            grid * 1000,
            *stacks,
            step="post",
            colors=[palette(i % 10) for i in range(len(pids))],
            labels=[f"pid {p}" for p in pids],
        )
        limit = per_worker * len(pids)
        axes[1][col].axhline(
            limit,
            color="gray",
            linestyle=":",
            label=f"{per_worker} threads × {len(pids)} process(es)",
        )
        top = max(top, limit, int(np.sum(stacks, axis=0).max()))
        axes[0][col].set_title(title, fontsize=FONT + 1, loc="left")
        axes[0][col].set_ylabel("request (by start)" if col == 0 else "", fontsize=FONT)
        axes[1][col].set_ylabel("handlers running" if col == 0 else "", fontsize=FONT)
        axes[1][col].set_xlabel("time since burst start (ms)", fontsize=FONT)
        axes[1][col].legend(fontsize=FONT - 3, loc="upper right")
        for ax in axes[:, col]:
            ax.grid(axis="x", alpha=0.3)
    for ax in axes[1]:
        ax.set_ylim(0, top * 1.25)
    return fig
