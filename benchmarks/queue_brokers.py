"""Lesson 12's broker table: Celery against each broker this machine can run.

python -m benchmarks.queue_brokers           # every broker, the full counts (~8 min here)
python -m benchmarks.queue_brokers --quick   # fewer jobs

For each broker: two prefork worker processes (``--concurrency 1``,
``worker_prefetch_multiplier=1``) run a task that records ``time.time_ns()`` at its start
(``l12_queue.job_tracer``). *Idle latency*: enqueue → start of jobs sent one at a time to
idle workers, median. *Burst*: empty jobs enqueued at once, jobs/s from the first enqueue
until the last ended. *Redelivery*: a 1.5 s job whose pool process is SIGKILLed mid-run,
with ``acks_late=True, reject_on_worker_lost=True`` and without. For the Redis-speaking
brokers also a round trip through a result backend on the same server: ``.delay()`` alone
and ``.delay().get()`` of an empty task, one call at a time, median.

Every wait is bounded; the workers and brokers are stopped at the end, also on error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import importlib.metadata
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from helpers._broker_choice import BrokerChoice
from helpers._ports import free_port
from helpers.lessons import l12_queue as queue

__all__ = ["Row", "Sizes", "main", "measure", "render"]

MODULE = "bench_tasks"
TASKS = f'''"""Written by benchmarks.queue_brokers; workers import it."""
import os
import time

from celery import Celery

from helpers.lessons import l12_queue as queue

app = Celery("{MODULE}")
app.conf.update(queue.celery_config())  # LAB_QUEUE_CELERY: broker (and result backend)
app.conf.worker_prefetch_multiplier = 1
app.conf.task_ignore_result = True  # only `empty` stores a result
tracer = queue.job_tracer()
FOLDER = os.environ.get(queue.SPANS_ENV)


def _run(job, enqueued_ns, seconds):
    with tracer.start_as_current_span("job", attributes={{"job": job, "enqueued_ns": enqueued_ns}}):
        if FOLDER:  # which jobs started, before they end (a killed one never does)
            with open(os.path.join(FOLDER, f"started-{{os.getpid()}}.txt"), "a") as out:
                out.write(job + "\\n")
        if seconds:
            time.sleep(seconds)


@app.task
def job(label, enqueued_ns, seconds):
    _run(label, enqueued_ns, seconds)


@app.task(acks_late=True, reject_on_worker_lost=True)
def job_safely(label, enqueued_ns, seconds):
    _run(label, enqueued_ns, seconds)


@app.task(ignore_result=False)
def empty():
    return None
'''

HOST = "127.0.0.1"
KILLED_JOB_S = 1.5
WAIT_S = 60.0  # the longest any one wait may take
READY_S = 60.0

# fakeredis's TCP server exactly as the package ships it (l12_queue's turns Nagle off).
_FAKEREDIS_AS_SHIPPED = """
import sys
from fakeredis import TcpFakeServer
TcpFakeServer((sys.argv[1], int(sys.argv[2]))).serve_forever()
"""


@dataclass(frozen=True)
class Sizes:
    """How many jobs each measurement uses."""

    idle: int = 20
    burst: int = 200
    round_trips: int = 50

    @classmethod
    def quick(cls) -> Sizes:
        return cls(idle=8, burst=50, round_trips=15)


@dataclass
class Row:
    """One broker's measurements (None: not measured; ``error``: why it stopped)."""

    broker: str
    idle_ms: float | None = None
    burst_done: int = 0
    burst_s: float | None = None
    processes: int = 0
    redelivered: tuple[bool, bool] | None = None
    redelivered_after_s: float | None = None
    delay_ms: float | None = None
    delay_get_ms: float | None = None
    error: str | None = None


@dataclass
class Broker:
    """A running broker for one row: the Celery config and how to stop it."""

    config: dict[str, Any]
    fanout: bool  # Celery's remote control (ping, inspect) reaches other processes
    stop: Callable[[], None]
    result_backend: bool = False


# -- brokers --------------------------------------------------------------------------------


def _redis_config(url: str) -> dict[str, Any]:
    return {"broker_url": url, "result_backend": url, "broker_connection_retry_on_startup": True}


def _lab_broker(kind: str) -> Broker:
    """Redis or the embedded broker (Nagle off), started as lesson 12 starts them."""
    broker = queue.start_broker(BrokerChoice(kind, "benchmarks.queue_brokers"))
    return Broker(_redis_config(broker.url), True, broker.stop, result_backend=True)


def _fakeredis_as_shipped() -> Broker:
    import redis

    port = free_port(HOST)
    process = queue._popen(
        [sys.executable, "-c", _FAKEREDIS_AS_SHIPPED, HOST, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host=HOST, port=port, socket_timeout=1.0)
    deadline = time.monotonic() + READY_S
    try:
        while True:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fakeredis did not answer PING on {HOST}:{port}")
            time.sleep(0.05)
    except BaseException:
        queue._end(process)
        raise
    finally:
        client.close()
    url = f"redis://{HOST}:{port}/0"
    return Broker(_redis_config(url), True, lambda: queue._end(process), result_backend=True)


def _filesystem(folder: Path) -> Broker:
    data, control = folder / "queue", folder / "control"
    for path in (data, control):
        path.mkdir()
    options = {"data_folder_in": str(data), "data_folder_out": str(data),
               "control_folder": str(control), "store_processed": False,
               "polling_interval": 0.01}  # fmt: skip
    config = {"broker_url": "filesystem://", "broker_transport_options": options}
    return Broker(config, True, lambda: None)


def _sqlite(folder: Path) -> Broker:
    # No polling_interval: kombu passes transport options on to SQLAlchemy's create_engine.
    return Broker({"broker_url": f"sqla+sqlite:///{folder / 'broker.sqlite'}"}, False, lambda: None)


BROKERS: dict[str, Callable[[Path], Broker]] = {
    "redis": lambda _folder: _lab_broker("redis"),
    "embedded": lambda _folder: _lab_broker("embedded"),
    "embedded-nagle": lambda _folder: _fakeredis_as_shipped(),
    "filesystem": _filesystem,
    "sqlite": _sqlite,
}


def labels() -> dict[str, str]:
    """The table's name for each broker, with the versions installed here."""
    fakeredis = importlib.metadata.version("fakeredis")
    redis_server = "Redis"
    if shutil.which("redis-server"):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout  # fmt: skip
        version = next((w[2:] for w in out.split() if w.startswith("v=")), "")
        redis_server = f"Redis {version}".strip()
    return {
        "redis": f"{redis_server} (`redis-server`)",
        "embedded": f"**fakeredis {fakeredis} TCP server, Nagle off** (embedded default)",
        "embedded-nagle": f"fakeredis {fakeredis} TCP server as shipped (Nagle on)",
        "filesystem": "kombu `filesystem://`, `polling_interval` 0.01 s",
        "sqlite": "kombu `sqla+sqlite://` (polling fixed at 1 s)",
    }


# -- workers --------------------------------------------------------------------------------


def _start_workers(broker: Broker, folder: Path, spans: Path) -> queue.Workers:
    """Two ``celery worker`` processes. Without fanout Celery's ping cannot reach them, so
    instead of ``l12_queue.start_workers`` (which waits for ping replies) their log's
    "ready." line says they consume."""
    if broker.fanout:
        return queue.start_workers(MODULE, folder, processes=2, concurrency=1, spans=spans)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), *sys.path]))
    env[queue.SPANS_ENV] = str(spans)
    spans.mkdir(parents=True, exist_ok=True)
    processes, logs = [], []
    for index in (1, 2):
        log_path = spans / f"worker-{index}.log"
        logs.append(log_path)
        args = [sys.executable, "-m", "celery", "-A", MODULE, "worker", "--pool", "prefork",
                "--concurrency", "1", "--hostname", f"w{index}@lab", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        with log_path.open("ab") as log:
            processes.append(queue._popen(args, env=env, cwd=folder, stdout=log, stderr=log))
    workers = queue.Workers(processes, spans, ["w1@lab", "w2@lab"])
    deadline = time.monotonic() + READY_S
    while not all(" ready." in path.read_text(errors="replace") for path in logs):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            workers.stop()
            tail = " | ".join(p.read_text(errors="replace")[-300:] for p in logs)
            raise RuntimeError(f"celery workers on {broker.config['broker_url']} not ready: {tail}")
        time.sleep(0.1)
    return workers


def _started(workers: queue.Workers) -> list[str]:
    """Labels of the jobs that started, in no particular order (a job may appear twice)."""
    labels: list[str] = []
    for path in workers.spans.glob("started-*.txt"):
        labels += path.read_text().split()
    return labels


def _import_tasks(folder: Path) -> ModuleType:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    sys.modules.pop(MODULE, None)
    importlib.invalidate_caches()
    return importlib.import_module(MODULE)


# -- measurements ---------------------------------------------------------------------------


def _idle(tasks: Any, workers: queue.Workers, count: int) -> float:
    for i in range(count):
        tasks.job.delay(f"idle-{i}", time.time_ns(), 0)
        queue.wait_jobs(workers, i + 1, prefix="idle-", timeout=WAIT_S)
        time.sleep(0.05)  # both workers idle again
    waits = queue.wait_jobs(workers, count, prefix="idle-", timeout=WAIT_S)["wait"]
    if len(waits) < count:
        raise RuntimeError(f"only {len(waits)} of {count} idle jobs ran in time")
    return 1000 * float(waits.median())


def _burst(tasks: Any, workers: queue.Workers, count: int, row: Row) -> None:
    t0 = time.perf_counter()
    for i in range(count):
        tasks.job.delay(f"burst-{i}", time.time_ns(), 0)
    done = queue.wait_jobs(workers, count, t0=t0, prefix="burst-", timeout=WAIT_S)
    row.burst_done = int(done["job"].nunique())
    row.burst_s = float(done["end"].max()) if row.burst_done == count else WAIT_S
    row.processes = int(done["pid"].nunique())


def _round_trips(tasks: Any, workers: queue.Workers, count: int, row: Row) -> None:
    def timed(call: Callable[[], object]) -> float:
        began = time.perf_counter()
        call()
        return 1000 * (time.perf_counter() - began)

    tasks.empty.delay().get(timeout=WAIT_S)  # warm: the result consumer subscribes once
    delays = [timed(lambda i=i: tasks.job.delay(f"enq-{i}", time.time_ns(), 0))  # type: ignore[misc]
              for i in range(count)]  # fmt: skip
    queue.wait_jobs(workers, count, prefix="enq-", timeout=WAIT_S)  # drained before the next
    row.delay_ms = statistics.median(delays)
    row.delay_get_ms = statistics.median(
        timed(lambda: tasks.empty.delay().get(timeout=WAIT_S)) for _ in range(count)
    )


def _redelivery(tasks: Any, workers: queue.Workers, row: Row) -> None:
    """Both 1.5 s jobs running, one per worker: SIGKILL the pool processes, then see which
    job runs to its end (the workers fork a new pool process each)."""
    # Both workers free to take a job: a polling worker (synloop) acknowledges its last job,
    # and so takes the next, only once its drain_events(timeout=2.0) returned. Else one
    # worker can take both, one after the other, and the first ends before the kill.
    time.sleep(2.5)
    tasks.job.delay("kill-plain", time.time_ns(), KILLED_JOB_S)
    tasks.job_safely.delay("kill-acks_late", time.time_ns(), KILLED_JOB_S)
    deadline = time.monotonic() + WAIT_S
    while not {"kill-plain", "kill-acks_late"} <= set(_started(workers)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the two long jobs did not both start: {_started(workers)}")
        time.sleep(0.02)
    for pid in workers.pool_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    killed = time.perf_counter()
    before = queue.read_jobs(workers, killed)
    ended = before[before["job"].str.startswith("kill-") & (before["end"] <= 0)]
    if not ended.empty:
        raise RuntimeError(f"{sorted(ended['job'])} ended before the kill: not killed mid-run")
    safe = queue.wait_jobs(workers, 1, t0=killed, prefix="kill-acks_late", timeout=WAIT_S / 2)
    # The plain job, if it came back, ran next to the other one: a few seconds more suffice.
    plain = queue.wait_jobs(workers, 1, prefix="kill-plain", timeout=3 * KILLED_JOB_S)
    row.redelivered = (not safe.empty, not plain.empty)
    if not safe.empty:
        row.redelivered_after_s = float(safe["start"].min())  # seconds after the kill


def measure(name: str, label: str, sizes: Sizes, log: Callable[[str], None] = print) -> Row:
    """One broker's row: start it and two workers, measure, stop both (also on error)."""
    row = Row(label)
    folder = Path(tempfile.mkdtemp(prefix="queue-brokers-"))
    broker: Broker | None = None
    workers: queue.Workers | None = None
    tasks: Any = None
    try:
        broker = BROKERS[name](folder)
        os.environ[queue.CONFIG_ENV] = json.dumps(broker.config)
        (folder / f"{MODULE}.py").write_text(TASKS)
        tasks = _import_tasks(folder)
        # Warm-up jobs (connections, the first fork's imports), sent before the workers start:
        # it declares the queue, which two workers starting on an empty sqlite file race to
        # create (kombu's sqlalchemy transport then fails one of them).
        for i in range(4):
            tasks.job.delay(f"warm-{i}", time.time_ns(), 0)
        workers = _start_workers(broker, folder, folder / "spans")
        queue.wait_jobs(workers, 4, prefix="warm-", timeout=WAIT_S)
        row.idle_ms = _idle(tasks, workers, sizes.idle)
        log(f"  {name}: idle {row.idle_ms:.1f} ms")
        _burst(tasks, workers, sizes.burst, row)
        log(f"  {name}: burst {row.burst_done}/{sizes.burst} in {row.burst_s:.2f} s")
        if row.burst_done < sizes.burst:  # the rest would hold up what comes next
            tasks.app.control.purge()
        if broker.result_backend:
            _round_trips(tasks, workers, sizes.round_trips, row)
            log(f"  {name}: .delay() {row.delay_ms:.2f} ms, .get() {row.delay_get_ms:.2f} ms")
        _redelivery(tasks, workers, row)
        log(f"  {name}: redelivered (acks_late, default) {row.redelivered}")
    except Exception as exc:  # the other brokers still get measured
        row.error = f"{type(exc).__name__}: {exc}"
        log(f"  {name}: {row.error}")
    finally:
        if tasks is not None:
            tasks.app.close()
        if workers is not None:
            workers.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return row


# -- the table ------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _burst_cell(row: Row, count: int) -> str:
    if row.burst_s is None:
        return "–"
    if row.burst_done < count:
        return f"{row.burst_done} of {count} in {row.burst_s:.0f} s"
    rate = count / row.burst_s
    return f"{rate:.0f} jobs/s" if rate >= 10 else f"{rate:.1f} jobs/s"


def _redelivered_cell(row: Row) -> str:
    if row.redelivered is None:
        return "–"
    safe, plain = row.redelivered
    after = f" (after {row.redelivered_after_s:.1f} s)" if row.redelivered_after_s else ""
    return f"{'yes' if safe else 'no'}{after} / {'yes' if plain else 'lost'}"


def render(rows: Sequence[Row], sizes: Sizes) -> str:
    """The markdown table, one line per broker (an error becomes a note under it)."""
    lines = [
        f"| broker | idle latency | burst of {sizes.burst} | worker processes that ran jobs"
        " | redelivered (acks_late / default) | `.delay()` | `.delay().get()` |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for row in rows:
        processes = str(row.processes) if row.processes else "–"
        lines.append(
            f"| {row.broker} | {_ms(row.idle_ms)} | {_burst_cell(row, sizes.burst)}"
            f" | {processes} | {_redelivered_cell(row)} | {_ms(row.delay_ms)}"
            f" | {_ms(row.delay_get_ms)} |"
        )
        if row.error:
            notes.append(f"- {row.broker}: stopped early, {row.error}")
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"


def _versions() -> str:
    names = ("celery", "kombu", "redis", "fakeredis", "SQLAlchemy")
    return ", ".join(f"{n} {importlib.metadata.version(n)}" for n in names)


@contextlib.contextmanager
def _quiet_stop() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C, so the ``finally`` blocks stop every process."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs")
    parser.add_argument("--only", choices=sorted(BROKERS), action="append",
                        help="this broker only (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    names = [n for n in BROKERS if n in (args.only or BROKERS)]
    if "redis" in names and not shutil.which("redis-server"):
        print("redis-server is not on PATH: skipping Redis", file=sys.stderr)
        names.remove("redis")
    label = labels()
    rows = []
    with _quiet_stop():
        for name in names:
            print(f"{name} …", file=sys.stderr)
            rows.append(measure(name, label[name], sizes, lambda s: print(s, file=sys.stderr)))
    print(f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, {_versions()}\n")
    print(render(rows, sizes), end="")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
