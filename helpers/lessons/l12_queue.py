"""Lesson 12's bench: a broker, Celery worker processes, and each job's spans on one clock.

The lesson writes its task module (``lab_tasks.py``) itself; this module starts what runs
it. ``start_broker()`` starts Redis (Debian's ``redis-server``) or the embedded broker
(fakeredis's TCP server in its own Python process) on 127.0.0.1 and a free port;
``start_workers()`` runs ``celery -A MODULE worker`` processes against it. Both are
registered with the lab's ``stop_all`` and stopped at interpreter exit; on Linux they also
die with the kernel (``PR_SET_PDEATHSIG``), so a killed kernel leaves nothing behind.

Workers record each job with OpenTelemetry (``job_tracer()``): one JSON line per ended span
in ``spans-<pid>.jsonl`` (and each started span in ``starts-<pid>.jsonl``, which
``wait_running()`` reads); ``read_jobs()`` puts them on a ``Run``'s clock.
``ping_from_another_process()`` is a client in its own process, so the API's GIL cannot
delay when it sends.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import psutil
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from helpers import _server_registry as registry
from helpers._broker_choice import BROKERS, REDIS_HOWTO, BrokerChoice, choose_broker
from helpers._ports import free_port
from helpers._stoppable import Stoppable

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Tracer


__all__ = [
    "BROKERS",
    "REDIS_HOWTO",
    "Broker",
    "BrokerChoice",
    "CpuAccount",
    "Pings",
    "Workers",
    "celery_config",
    "choose_broker",
    "cpu_during",
    "default_pool",
    "job_tracer",
    "messages_left",
    "ping_from_another_process",
    "plot_queue",
    "read_jobs",
    "running_jobs",
    "shared_redis_prefix",
    "start_broker",
    "start_workers",
    "started_jobs",
    "wait_jobs",
    "wait_running",
]

CONFIG_ENV = "LAB_QUEUE_CELERY"  # JSON: the broker settings a task module reads
SPANS_ENV = "LAB_QUEUE_SPANS"  # folder where workers write their spans
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
HOST = "127.0.0.1"

# Elsewhere than Linux there is no PR_SET_PDEATHSIG: a thread in each Python child ends it
# once the kernel (its parent) is gone. (redis-server has no such thread: atexit stops it.)
# (os.getppid() alone cannot tell: on Windows it keeps the dead parent's id. A parent with
# the same pid but another start time is a new process that reused the id.)
_WATCH_PARENT = """
import os, threading, time
import psutil
def _watch(parent=os.getppid()):
    try:
        born = psutil.Process(parent).create_time()
        while psutil.Process(parent).create_time() == born:
            time.sleep(0.5)
    except psutil.Error:
        pass
    os._exit(1)
threading.Thread(target=_watch, daemon=True).start()
"""
_LINUX = sys.platform.startswith("linux")


_CELERY = "from celery.__main__ import main\nmain()\n"  # `celery …` with sys.argv[1:]


def _python(code: str, *args: str) -> list[str]:
    """``python -c code args``, with the parent watch where the OS cannot kill it for us."""
    return [sys.executable, "-c", code if _LINUX else _WATCH_PARENT + code, *args]


# fakeredis's TCP server answers through socketserver's StreamRequestHandler, which leaves
# Nagle's algorithm on: each small reply then waits for the client's delayed ACK (~40 ms on
# Linux), and a burst of Celery jobs drained at ~22 jobs/s instead of ~400 (docs/benchmarks.md).
_FAKEREDIS = """
import sys
from fakeredis._clients._tcp_server import TCPFakeRequestHandler
from fakeredis import TcpFakeServer
TCPFakeRequestHandler.disable_nagle_algorithm = True
TcpFakeServer((sys.argv[1], int(sys.argv[2]))).serve_forever()
"""


def _die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when the kernel dies (Linux's prctl).

    prctl(2): the signal comes when the *thread* that started the child ends, so start
    brokers and workers from the kernel's main thread (a cell), not from
    ``asyncio.to_thread``. The prefork pool's own processes die with their worker the same
    way (``celery/concurrency/prefork.py``: ``set_pdeathsig``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _popen(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    if _LINUX and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "start lesson 12's broker, workers and pings from a cell (the kernel's main"
            f" thread), not from {threading.current_thread().name}: on Linux they die when"
            " the thread that started them ends"
        )
    preexec = _die_with_parent if _LINUX else None
    return subprocess.Popen(list(args), preexec_fn=preexec, **kwargs)


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _end(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s; children that outlive it are killed too."""
    if process.poll() is not None:
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
    _gone, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


class Broker(Stoppable):
    """A running broker: ``kind``, ``url``, ``pid`` (None for an existing Redis)."""

    def __init__(self, choice: BrokerChoice) -> None:
        self.kind = choice.kind
        self.choice = choice
        self.folder = Path(tempfile.mkdtemp(prefix="lab-queue-"))
        self.process: subprocess.Popen[bytes] | None = None
        if choice.url:
            self.url = choice.url
            return
        port = free_port(HOST)
        if choice.kind == "redis":
            args = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "",
                    "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        else:
            args = _python(_FAKEREDIS, HOST, str(port))
        self.process = _popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://{HOST}:{port}/0"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ping(HOST, port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{args[0]} did not answer PING on {HOST}:{port}")
            time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)
        registry.drop(self)


_at_exit: list[bool] = []


def _stop_at_exit() -> None:
    """Once per kernel: at exit, stop the workers, then the broker (stop_all does too, but
    only once a server was served)."""
    if not _at_exit:
        _at_exit.append(True)
        atexit.register(_stop_ours)


def _stop_ours() -> None:
    ours = [t for t in registry.registered() if isinstance(t, (Workers, Broker))]
    for thing in sorted(ours, key=lambda t: isinstance(t, Broker)):
        thing.stop()


def celery_config(url: str | None = None) -> dict[str, Any]:
    """The broker settings for a task module: ``app.conf.update(celery_config())``.

    ``url`` defaults to the broker ``start_broker`` started last (its workers get it in
    their environment)."""
    if url is not None:
        return {"broker_url": url}
    raw = os.environ.get(CONFIG_ENV)
    if raw is None:
        raise RuntimeError("no broker yet: call start_broker() first")
    config: dict[str, Any] = json.loads(raw)
    return config


def start_broker(choice: BrokerChoice | None = None) -> Broker:
    """Start the broker ``choice`` names (default: ``choose_broker()``) on 127.0.0.1; it
    replaces one this kernel started before and stops with ``stop_all``."""
    old_workers = registry.take(("lesson-12", "workers"))
    if old_workers is not None:
        old_workers.stop()  # first: while their broker is gone they retry it until stopped
    old = registry.take(("lesson-12", "broker"))
    if old is not None:
        old.stop()
    broker = Broker(choice or choose_broker())
    registry.register(("lesson-12", "broker"), broker)
    _stop_at_exit()
    config: dict[str, Any] = {"broker_url": broker.url, "broker_connection_retry_on_startup": True}
    if broker.choice.url:
        # A Redis other kernels may share (LAB_REDIS_URL): kombu prefixes every key and
        # pub/sub channel it uses (queue, unacked jobs, the workers' control mailbox) with
        # this kernel's own tag, so two kernels never take each other's jobs or replies.
        config["broker_transport_options"] = {"global_keyprefix": shared_redis_prefix()}
    os.environ[CONFIG_ENV] = json.dumps(config)
    return broker


def shared_redis_prefix() -> str:
    """The key prefix of this kernel's jobs in a shared Redis: ``lab-<host>-<pid>:``."""
    return f"lab-{socket.gethostname()}-{os.getpid()}:"


class Workers(Stoppable):
    """``celery worker`` processes; ``pids`` (one per worker), ``hostnames`` (Celery's node
    names, in the same order), ``spans`` (their folder), ``pool`` ("prefork" or "solo")."""

    def __init__(
        self,
        processes: list[subprocess.Popen[bytes]],
        spans: Path,
        hostnames: list[str],
        pool: str = "prefork",
    ) -> None:
        self.processes = processes
        self.spans = spans
        self.hostnames = hostnames
        self.pool = pool

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def pool_pids(self) -> list[int]:
        """The processes that run jobs: each worker's prefork pool processes, or with the
        solo pool the workers themselves."""
        if self.pool == "solo":
            return [p.pid for p in self.processes if p.poll() is None]
        pids: list[int] = []
        for process in self.processes:
            with contextlib.suppress(psutil.Error):
                pids += [c.pid for c in psutil.Process(process.pid).children()]
        return pids

    def request_stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()

    def stop(self) -> None:
        for process in self.processes:
            _end(process)
        registry.drop(self)


POOL_ENV = "LAB_CELERY_POOL"  # "solo" runs the workers as on Windows (for tests)


def default_pool() -> str:
    """``prefork`` (a pool process per job slot), or ``solo`` on Windows, where Celery does
    not support prefork: each worker process then runs one job at a time itself.
    ``LAB_CELERY_POOL=prefork|solo`` overrides it."""
    wanted = os.environ.get(POOL_ENV, "").strip()
    if wanted:
        if wanted not in ("prefork", "solo"):
            raise ValueError(f"{POOL_ENV} must be 'prefork' or 'solo', got {wanted!r}")
        return wanted
    return "solo" if sys.platform == "win32" else "prefork"


def start_workers(
    module: str,
    folder: Path | str,
    processes: int = 1,
    *,
    pool: str | None = None,
    concurrency: int = 1,
    spans: Path | str | None = None,
) -> Workers:
    """Start ``processes`` × ``celery -A module worker --pool POOL --concurrency N`` (POOL:
    ``default_pool()`` unless given), with
    ``folder`` (where the notebook wrote ``module``) on their PYTHONPATH; return once each
    answers a ping. Spans go to ``spans`` (default: a new folder under ``folder``)."""
    if processes < 1:
        raise ValueError(f"processes must be ≥ 1, got {processes}")
    pool = pool or default_pool()
    if pool not in ("prefork", "solo"):
        raise ValueError(f"pool must be 'prefork' or 'solo', got {pool!r}")
    if CONFIG_ENV not in os.environ:
        raise RuntimeError("no broker yet: call start_broker() first")
    old = registry.take(("lesson-12", "workers"))
    if old is not None:
        old.stop()
    folder = Path(folder)
    span_dir = Path(spans) if spans is not None else Path(tempfile.mkdtemp(dir=folder))
    span_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), *sys.path]))
    env[SPANS_ENV] = str(span_dir)
    started = []
    # Their logs (Celery warns about root, reports a killed pool process) go to a file, not
    # into the notebook's output.
    log = (span_dir / "workers.log").open("ab")
    hostnames = [f"w{index + 1}@lab" for index in range(processes)]
    for hostname in hostnames:
        celery = [sys.executable, "-m", "celery"] if _LINUX else _python(_CELERY)
        args = [*celery, "-A", module, "worker", "--pool", pool,
                "--concurrency", str(concurrency), "--hostname", hostname,
                "--loglevel", "ERROR", "--without-gossip", "--without-mingle"]  # fmt: skip
        started.append(_popen(args, env=env, cwd=folder, stdout=log, stderr=log))
    log.close()
    workers = Workers(started, span_dir, hostnames, pool)
    registry.register(("lesson-12", "workers"), workers)
    _stop_at_exit()
    _wait_ready(workers, module, folder, processes)
    return workers


def _wait_ready(workers: Workers, module: str, folder: Path, count: int) -> None:
    """Block until ``count`` workers answer Celery's ping (so timings exclude start-up)."""
    from celery import Celery

    app = Celery(module, set_as_current=False)
    app.conf.update(celery_config())
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if any(p.poll() is not None for p in workers.processes):
                workers.stop()
                raise RuntimeError(f"a celery worker for {module!r} (in {folder}) exited")
            replies = app.control.ping(timeout=0.5) or []
            if len(replies) >= count:
                return
            if time.monotonic() > deadline:
                workers.stop()
                raise RuntimeError(f"{len(replies)} of {count} celery workers answered")
    finally:
        app.close()


def _append_json_line(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as out:
        out.write(json.dumps(row) + "\n")


def _span_row(span: Any) -> dict[str, Any]:
    return {"name": span.name, "start_ns": span.start_time, "end_ns": span.end_time,
            "pid": os.getpid(), "parent": os.getppid(),
            "attributes": dict(span.attributes or {})}  # fmt: skip


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a JSON-lines file another process may be appending to (a last
    line without its newline is still being written, and is left for the next read)."""
    text = path.read_text()
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


class _JsonLinesExporter:
    """Each ended span as one JSON line in ``folder/spans-<pid>.jsonl``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        for span in spans:
            _append_json_line(self.folder / f"spans-{os.getpid()}.jsonl", _span_row(span))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: each export opens and closes its file."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _StartMarker(SpanProcessor):
    """A span processor that writes each span as it *starts* to ``folder/starts-<pid>.jsonl``
    (``wait_running`` reads them: a job that started and has not ended is running)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        _append_json_line(self.folder / f"starts-{os.getpid()}.jsonl", _span_row(span))


def job_tracer() -> Tracer:
    """The tracer for a task module. In a worker started by ``start_workers`` each span
    becomes a line in its spans folder when it starts and when it ends; elsewhere (the
    kernel) spans are dropped."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    folder = os.environ.get(SPANS_ENV)
    if folder:
        provider.add_span_processor(_StartMarker(Path(folder)))
        provider.add_span_processor(SimpleSpanProcessor(_JsonLinesExporter(Path(folder))))  # type: ignore[arg-type]
    return provider.get_tracer("lab_tasks")


JOB_COLUMNS = ["job", "name", "worker", "pid", "enqueued", "start", "end", "wait", "run"]


def read_jobs(workers: Workers, t0: float | None = None) -> pd.DataFrame:
    """Every job span the workers wrote, one row each, times in seconds on a ``Run``'s
    clock (``t0``: its ``perf_counter`` origin; default: the first enqueue).

    ``enqueued`` is the span's ``enqueued_ns`` attribute (``time.time_ns()`` when the API
    called ``.delay``); ``worker`` is "hostname · pid" per pool process (the Celery node name
    of the worker whose pool process ran it, e.g. "w1@lab · 4242")."""
    rows = []
    for path in sorted(workers.spans.glob("spans-*.jsonl")):
        rows += _json_lines(path)
    # time.time_ns() is one clock for every process on this machine; perf_counter is the
    # Run's: the offset between them is read once, here.
    offset_s = time.time() - time.perf_counter()
    table = pd.DataFrame(
        [
            {
                "job": str(r["attributes"].get("job", "")),
                "name": r["name"],
                "pid": int(r["pid"]),
                "parent": int(r.get("parent", 0)),
                "enqueued": r["attributes"].get("enqueued_ns", r["start_ns"]) / 1e9 - offset_s,
                "start": r["start_ns"] / 1e9 - offset_s,
                "end": r["end_ns"] / 1e9 - offset_s,
            }
            for r in rows
        ],
        columns=["job", "name", "pid", "parent", "enqueued", "start", "end"],
    )
    if table.empty:
        empty: pd.DataFrame = pd.DataFrame(columns=JOB_COLUMNS)
        return empty
    origin = t0 if t0 is not None else float(table["enqueued"].min())
    for column in ("enqueued", "start", "end"):
        table[column] -= origin
    table = table.sort_values("start", ignore_index=True)
    hosts = dict(zip(workers.pids, workers.hostnames))
    table["worker"] = [
        f"{hosts.get(pid) or hosts.get(parent) or 'worker'} · {pid}"  # solo: pid is the worker
        for pid, parent in zip(table["pid"], table["parent"])
    ]
    table["wait"] = table["start"] - table["enqueued"]
    table["run"] = table["end"] - table["start"]
    result: pd.DataFrame = table[JOB_COLUMNS]
    return result


def wait_jobs(
    workers: Workers,
    count: int,
    t0: float | None = None,
    timeout: float = 30.0,
    prefix: str = "",
) -> pd.DataFrame:
    """``read_jobs`` of the jobs whose label starts with ``prefix``, once ``count`` different
    labels have ended (a redelivered job may run twice), or after ``timeout`` s with what
    there is (a lost job never ends)."""
    deadline = time.monotonic() + timeout
    while True:
        every = read_jobs(workers, t0)
        jobs: pd.DataFrame = every[every["job"].str.startswith(prefix)].reset_index(drop=True)
        if jobs["job"].nunique() >= count or time.monotonic() >= deadline:
            return jobs
        time.sleep(0.05)


def messages_left(app: Any) -> int:
    """Messages for ``app``'s default queue still in the Redis broker: waiting (the queue's
    list) plus delivered but not yet acked (kombu's ``unacked`` hash,
    ``kombu/transport/redis.py``)."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        waiting = channel.client.llen(app.conf.task_default_queue)
        return int(waiting) + int(channel.client.hlen(channel.unacked_key))


def started_jobs(workers: Workers, prefix: str = "") -> list[str]:
    """The label of every job start the workers recorded (a redelivered job appears once per
    start, a killed run included), those starting with ``prefix``, in order of start."""
    rows = [row for path in workers.spans.glob("starts-*.jsonl") for row in _json_lines(path)]
    labels = [(row["start_ns"], str(row["attributes"].get("job", ""))) for row in rows]
    return [label for _, label in sorted(labels) if label.startswith(prefix)]


def running_jobs(workers: Workers) -> dict[str, list[str]]:
    """{worker hostname: labels of the jobs running in its pool processes now}: jobs whose
    span started and has not ended, in a process that is still alive (from the span files
    ``job_tracer`` writes, so a job is seen within milliseconds of its start)."""
    ended = {(r["pid"], r["start_ns"]) for path in workers.spans.glob("spans-*.jsonl")
             for r in _json_lines(path)}  # fmt: skip
    hosts = dict(zip(workers.pids, workers.hostnames))
    running: dict[str, list[str]] = {host: [] for host in workers.hostnames}
    for path in sorted(workers.spans.glob("starts-*.jsonl")):
        for row in _json_lines(path):
            pid = int(row["pid"])
            if (pid, row["start_ns"]) in ended:
                continue
            try:
                process = psutil.Process(pid)
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                host = hosts.get(pid) or hosts.get(process.ppid())  # solo: the worker itself
            except psutil.Error:
                continue  # the pool process is gone: its job is not running
            if host is not None:
                running[host].append(str(row["attributes"].get("job", row["name"])))
    return running


def wait_running(
    workers: Workers, labels: Collection[str], count: int, timeout: float = 10.0
) -> dict[str, str]:
    """Block until ``count`` workers each run exactly one job labelled one of ``labels``;
    return {worker hostname: label}. After ``timeout`` s a RuntimeError says what ran."""
    deadline = time.monotonic() + timeout
    while True:
        running = running_jobs(workers)
        placed = {host: ran[0] for host, ran in running.items() if len(ran) == 1}
        if sum(label in labels for label in placed.values()) >= count:
            return {host: label for host, label in placed.items() if label in labels}
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"after {timeout} s the workers ran {running}: wanted {count} of them running"
                f" one of {sorted(labels)} each"
            )
        time.sleep(0.01)


# A client in its own process (its own GIL): pings one after another on one keep-alive
# connection, the first at argv[4] (time.time()), then every argv[5] s; prints JSON rows.
_PINGER = """
import http.client, json, sys, time
host, port, path, n, first, every = sys.argv[1:7]
conn = http.client.HTTPConnection(host, int(port), timeout=30)
rows, due = [], float(first)
for _ in range(int(n)):
    time.sleep(max(0.0, due - time.time()))
    sent = time.time()
    conn.request("GET", path)
    status = conn.getresponse()
    status.read()
    rows.append([sent, time.time(), status.status])
    due = sent + float(every)
print(json.dumps(rows))
"""


class Pings(Stoppable):
    """Pings sent by ``ping_from_another_process``; ``table()`` waits for them."""

    def __init__(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        self._process = process
        self._timeout = timeout

    def table(self, t0: float | None = None) -> pd.DataFrame:
        """Block until the pings are done: one row each, ``sent`` (s on a ``Run``'s clock:
        ``t0`` is its ``perf_counter`` origin; default: the first ping), ``ms`` (latency)
        and ``status``. Raises RuntimeError if the pinger failed or overran its time."""
        try:
            out, err = self._process.communicate(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            _end(self._process)
            raise RuntimeError(f"the pings did not finish within {self._timeout:.0f} s") from None
        finally:
            registry.drop(self)
        if self._process.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines() or ["no message"]
            raise RuntimeError(f"the pinger failed: {lines[-1]}")  # the exception's own line
        rows = json.loads(out)
        offset_s = time.time() - time.perf_counter()
        table = pd.DataFrame(rows, columns=["sent", "received", "status"])
        table["ms"] = 1000 * (table["received"] - table["sent"])
        origin = t0 + offset_s if t0 is not None else float(table["sent"].min())
        table["sent"] -= origin
        result: pd.DataFrame = table[["sent", "ms", "status"]]
        return result

    def stop(self) -> None:
        _end(self._process, timeout=1.0)
        registry.drop(self)


def ping_from_another_process(
    server: Any, path: str = "/ping", n: int = 20, every: float = 0.05, after: float = 0.2
) -> Pings:
    """Start a client process that sends ``n`` GETs of ``path`` to ``server`` one after
    another, the first ``after`` s from now, then one every ``every`` s (or as soon as the
    last is answered). Its own process, so the API's GIL and loop cannot delay the client;
    ``.table()`` gives the latencies."""
    if not 1 <= n <= 1000:
        raise ValueError(f"n must be 1 … 1000 pings, got {n}")
    if every < 0 or not 0 <= after <= 60:
        raise ValueError(f"every must be ≥ 0 s and after 0 … 60 s, got {every} and {after}")
    host, port = HOST, str(server.port)
    first = time.time() + after
    args = _python(_PINGER, host, port, path, str(n), repr(first), repr(every))
    process = _popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pings = Pings(process, timeout=after + n * (every + 30))
    registry.register(("lesson-12", "pings", process.pid), pings)
    return pings


class CpuAccount:
    """CPU used while a ``with cpu_during(workers):`` block ran, in cores' worth (CPU
    seconds ÷ wall seconds): ``workers`` (their pool processes), ``others`` (every process
    this kernel did not start: other programs), ``free`` (``cores`` − ``others``: what this
    lesson could use). The kernel and the rest of what it started (broker, the workers'
    parent processes, a pinger) count as neither."""

    def __init__(self, workers: Workers) -> None:
        self._workers = workers
        self.cores = os.cpu_count() or 1
        self.wall = self.workers = self.others = 0.0

    @property
    def free(self) -> float:
        return self.cores - self.others

    def _pool_cpu(self) -> dict[int, float]:
        used = {}
        for pid in self._workers.pool_pids():
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                used[pid] = times.user + times.system
        return used

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        # Linux counts guest time inside user time already.
        not_busy = ("idle", "iowait", "guest", "guest_nice")
        return float(sum(times) - sum(getattr(times, name, 0.0) for name in not_busy))

    def __enter__(self) -> CpuAccount:
        self._start = (time.perf_counter(), self._busy(), self._pool_cpu(), self._own())
        return self

    def _own(self) -> dict[int, float]:
        """CPU seconds of this process and what it started, except the pool processes."""
        me = psutil.Process()
        pool = set(self._workers.pool_pids())
        used = {}
        for process in [me, *me.children(recursive=True)]:
            if process.pid not in pool:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    used[process.pid] = times.user + times.system
        return used

    def __exit__(self, *exc: object) -> None:
        began, busy, pool, own = self._start
        self.wall = max(time.perf_counter() - began, 1e-9)
        now = self._pool_cpu()
        workers = sum(now[pid] - pool[pid] for pid in now if pid in pool)
        mine = self._own()
        ours = sum(mine[pid] - own[pid] for pid in mine if pid in own)
        self.workers = workers / self.wall
        self.others = max(0.0, (self._busy() - busy - workers - ours) / self.wall)


def cpu_during(workers: Workers) -> CpuAccount:
    """``with cpu_during(workers) as cpu:`` — what the workers' pool processes and everything
    else on the machine used while the block ran (``CpuAccount``; filled in at its end)."""
    return CpuAccount(workers)


WAIT_COLOR = "#d9d9d9"
RUN_COLOR = "#2ca02c"


def queue_depth(jobs: pd.DataFrame) -> tuple[list[float], list[int]]:
    """Jobs waiting in the queue over time, a step function: (times in s, count from each
    time on). A job waits from its enqueue to its start; a redelivered job waits again."""
    events = sorted([(t, 1) for t in jobs["enqueued"]] + [(t, -1) for t in jobs["start"]])
    times, counts, waiting = [0.0], [0], 0
    for t, step in events:
        waiting += step
        times.append(float(t))
        counts.append(waiting)
    return times, counts


def plot_queue(
    jobs: pd.DataFrame,
    pings: pd.DataFrame | None = None,
    title: str = "",
    answered: float | None = None,
) -> Figure:
    """How a queue drains, on one time axis in ms: the API's ``pings`` (``Pings.table()``
    on the jobs' clock: each /ping's latency at its send time), the jobs waiting in the
    queue, and each worker's jobs as they run; a dashed line at ``answered`` (s on the same
    clock), when the API answered its last enqueueing request. The title should state the
    finding."""
    from matplotlib.patches import Patch

    from helpers._bars import hbars
    from helpers._plots import FONT, SMALL, WIDTH_IN, LabFigure, _style

    if jobs.empty:
        raise ValueError("no jobs to draw: did the workers run any? (read_jobs gave 0 rows)")
    lanes = list(dict.fromkeys(sorted(jobs["worker"])))
    ratios = ([1.4] if pings is not None else []) + [1.2, 0.5 + 0.45 * len(lanes)]
    fig = LabFigure(figsize=(WIDTH_IN, 1.4 + sum(ratios)), layout="constrained")
    axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios, squeeze=False)[:, 0]
    ms = 1000
    if pings is not None:
        axes[0].plot(pings["sent"] * ms, pings["ms"], "o", color="#1f77b4", markersize=7)
        axes[0].set_ylim(bottom=0)
        _style(axes[0], "the API's /ping from another process: each one's latency", "ms")
    times, counts = queue_depth(jobs)
    ax = axes[-2]
    ax.fill_between([t * ms for t in times], counts, step="post", color=WAIT_COLOR)
    ax.step([t * ms for t in times], counts, where="post", color="#7f7f7f", linewidth=1)
    ax.set_ylim(bottom=0)
    _style(ax, "jobs waiting in the broker's queue", "jobs")
    ax = axes[-1]
    y = jobs["worker"].map({lane: i for i, lane in enumerate(lanes)}).to_numpy()
    hbars(ax, y, (jobs["run"] * ms).to_numpy(), (jobs["start"] * ms).to_numpy(),
          height=0.7, color=RUN_COLOR, edgecolor="white", linewidth=0.8)  # fmt: skip
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    _style(ax, "jobs running, per worker (one bar per job)", "")
    ax.set_xlabel("time since the first enqueue (ms)", fontsize=FONT)
    ax.set_xlim(left=0)
    running = Patch(color=RUN_COLOR, label="a job running in the worker's pool process")
    ax.legend(handles=[running], fontsize=SMALL, loc="lower right", bbox_to_anchor=(1.0, 1.0),
              frameon=False)  # fmt: skip
    if answered is not None:
        for panel in axes:
            panel.axvline(answered * ms, color="black", linestyle="--", linewidth=1.2)
        axes[0].annotate(" last enqueue answered", (answered * ms, 1.0), xycoords=("data",
                         "axes fraction"), va="top", fontsize=SMALL)  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=FONT + 1, x=0.01, ha="left")
    return fig
