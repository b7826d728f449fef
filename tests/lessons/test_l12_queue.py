"""Lesson 12's bench: broker choice, a broker and two workers running 20 jobs, nothing left."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest

from helpers import _server_registry as registry
from helpers.lessons import l12_queue as queue

TASKS = """
import time
from celery import Celery
from helpers.lessons import l12_queue as queue

app = Celery("bench_tasks")
app.conf.update(queue.celery_config())
app.conf.worker_disable_prefetch = True  # a busy worker leaves the next job to an idle one
tracer = queue.job_tracer()


@app.task
def nap(job: str, enqueued_ns: int, seconds: float) -> None:
    attributes = {"job": job, "enqueued_ns": enqueued_ns}
    with tracer.start_as_current_span("nap", attributes=attributes):
        time.sleep(seconds)
"""

HAS_REDIS = shutil.which("redis-server") is not None


def test_start_workers_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="got 0"):
        queue.start_workers("bench_tasks", tmp_path, processes=0)
    with pytest.raises(ValueError, match="'threads'"):
        queue.start_workers("bench_tasks", tmp_path, pool="threads")


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


@pytest.fixture
def tasks_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "bench_tasks.py").write_text(TASKS)
    yield tmp_path
    for thing in registry.registered():
        if isinstance(thing, (queue.Broker, queue.Workers)):
            thing.stop()


@pytest.mark.parametrize(
    ("kind", "pool"),
    [
        ("embedded", "prefork"),
        ("embedded", "solo"),  # as on Windows
        pytest.param(
            "redis", "prefork", marks=pytest.mark.skipif(not HAS_REDIS, reason="no redis-server")
        ),
    ],
)
def test_two_workers_run_20_jobs_and_stop(kind: str, pool: str, tasks_dir: Path) -> None:
    import importlib
    import sys

    broker = queue.start_broker(queue.BrokerChoice(kind, "test"))
    workers = queue.start_workers("bench_tasks", tasks_dir, processes=2, pool=pool)
    sys.path.insert(0, str(tasks_dir))
    try:
        sys.modules.pop("bench_tasks", None)
        tasks = importlib.import_module("bench_tasks")
        # With the default prefetch one worker could take both (CI's 3.10 once ran them one
        # after the other on w1); worker_disable_prefetch leaves the second to the idle one.
        tasks.nap.delay("long-a", time.time_ns(), 1.0)
        tasks.nap.delay("long-b", time.time_ns(), 1.0)
        placed = queue.wait_running(workers, {"long-a", "long-b"}, count=2, timeout=20)
        assert sorted(placed.values()) == ["long-a", "long-b"], placed
        assert sorted(placed) == ["w1@lab", "w2@lab"], placed
        with pytest.raises(RuntimeError, match="wanted 3"):
            queue.wait_running(workers, {"long-a", "long-b"}, count=3, timeout=0.1)
        queue.wait_jobs(workers, 2, prefix="long-", timeout=20)
        assert queue.running_jobs(workers) == {"w1@lab": [], "w2@lab": []}
        for i in range(20):
            tasks.nap.delay(f"j{i}", time.time_ns(), 0.02)
        deadline = time.monotonic() + 30
        jobs = queue.read_jobs(workers)
        while len(jobs) < 22 and time.monotonic() < deadline:
            time.sleep(0.1)
            jobs = queue.read_jobs(workers)
    finally:
        sys.path.remove(str(tasks_dir))
        sys.modules.pop("bench_tasks", None)
    assert sorted(jobs["job"]) == sorted(["long-a", "long-b", *(f"j{i}" for i in range(20))])
    assert jobs["worker"].nunique() == 2, "both worker processes should have taken jobs"
    assert (jobs["wait"] >= 0).all() and (jobs["run"] >= 0.02).all(), jobs
    pids = [p for p in {broker.pid, *workers.pids, *workers.pool_pids()} if p is not None]
    # broker, 2 workers, one pool process each (solo: the workers run the jobs themselves)
    assert len(pids) == (5 if pool == "prefork" else 3), pids
    assert set(jobs["worker"].str.split(" · ").str[0]) == {"w1@lab", "w2@lab"}, jobs
    pings = pd.DataFrame({"sent": [0.01, 0.06], "ms": [2.0, 3.0], "status": [200, 200]})
    figure = queue.plot_queue(jobs, pings, title="20 jobs", answered=0.05)
    assert len(figure.axes) == 3  # pings, the queue, the workers
    assert [t.get_text() for t in figure.axes[2].get_yticklabels()] == sorted(set(jobs["worker"]))
    workers.stop()
    broker.stop()
    time.sleep(0.2)
    assert _alive(pids) == [], "processes left behind"
    assert not any(isinstance(t, (queue.Broker, queue.Workers)) for t in registry.registered())
    assert os.environ.get(queue.CONFIG_ENV)


# Run in a fresh kernel: a broker and two workers, as lesson 12 starts them; prints the pids.
IN_KERNEL = """
import json, os, pathlib, tempfile
from helpers.lessons import l12_queue as queue
queue._LINUX = {linux}
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "bench_tasks.py").write_text({tasks!r})
broker = queue.start_broker(queue.BrokerChoice({kind!r}, "test"))
workers = queue.start_workers("bench_tasks", folder, processes=2)
print(json.dumps([os.getpid(), broker.pid, *workers.pids, *workers.pool_pids()]))
"""


@pytest.mark.parametrize(
    "kind",
    [
        "embedded",
        pytest.param("redis", marks=pytest.mark.skipif(not HAS_REDIS, reason="no redis-server")),
    ],
)
@pytest.mark.parametrize("how", ["shutdown", "kill", "kill, parent watch"])
def test_nothing_is_left_when_the_kernel_ends(kind: str, how: str) -> None:
    """A kernel shut down (atexit runs) or killed (PR_SET_PDEATHSIG on Linux; elsewhere the
    parent-watch thread, tried here for the Python children) leaves no broker, worker or pool
    process behind (the pool processes follow their worker)."""
    if how == "kill, parent watch" and kind == "redis":
        pytest.skip("redis-server has no parent watch: off Linux only atexit stops it")
    import json
    import signal

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    printed: list[str] = []

    def keep(message: dict[str, object]) -> None:
        content = message.get("content")
        if message.get("msg_type") == "stream" and isinstance(content, dict):
            printed.append(str(content.get("text", "")))

    try:
        reply = kc.execute_interactive(
            IN_KERNEL.format(tasks=TASKS, kind=kind, linux=how != "kill, parent watch"),
            timeout=90,
            output_hook=keep,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        kernel, *pids = json.loads("".join(printed).strip().splitlines()[-1])
        assert len(_alive(pids)) == 5, pids
        if how.startswith("kill"):
            os.kill(kernel, signal.SIGKILL)
        else:
            km.shutdown_kernel(now=False)
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)
    deadline = time.monotonic() + 15
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(pids) == [], f"left behind after the kernel's {how}: {_alive(pids)}"


class _NoPool:
    def pool_pids(self) -> list[int]:
        return []


def test_cpu_during_counts_this_process_as_neither_workers_nor_others() -> None:
    with queue.cpu_during(_NoPool()) as cpu:  # type: ignore[arg-type]
        began = time.perf_counter()
        while time.perf_counter() - began < 0.3:
            pass
    assert cpu.wall >= 0.3
    assert cpu.workers == 0.0
    assert cpu.cores == os.cpu_count()
    assert cpu.free == pytest.approx(cpu.cores - cpu.others)


@pytest.mark.parametrize(("platform", "pool"), [("linux", "prefork"), ("darwin", "prefork"),
                                                ("win32", "solo")])  # fmt: skip
def test_the_pool_is_solo_on_windows_only(
    platform: str, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(queue.POOL_ENV, raising=False)
    monkeypatch.setattr("sys.platform", platform)
    assert queue.default_pool() == pool
    monkeypatch.setenv(queue.POOL_ENV, "solo")
    assert queue.default_pool() == "solo"
    monkeypatch.setenv(queue.POOL_ENV, "threads")
    with pytest.raises(ValueError, match="LAB_CELERY_POOL must be 'prefork' or 'solo'"):
        queue.default_pool()


def test_running_jobs_are_started_not_ended_in_a_live_process(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        workers = queue.Workers([worker], tmp_path, ["w1@lab"])

        def row(pid: int, job: str, start_ns: int) -> str:
            return json.dumps({"name": "report", "start_ns": start_ns, "end_ns": None,
                               "pid": pid, "attributes": {"job": job}}) + "\n"  # fmt: skip

        starts = row(worker.pid, "done", 1) + row(worker.pid, "now", 2) + row(gone.pid, "dead", 3)
        (tmp_path / f"starts-{worker.pid}.jsonl").write_text(starts + '{"half a li')
        (tmp_path / f"spans-{worker.pid}.jsonl").write_text(row(worker.pid, "done", 1))
        assert queue.running_jobs(workers) == {"w1@lab": ["now"]}
        assert queue.started_jobs(workers) == ["done", "now", "dead"]
        assert queue.started_jobs(workers, prefix="d") == ["done", "dead"]
        assert queue.wait_running(workers, {"now"}, count=1, timeout=1) == {"w1@lab": "now"}
        with pytest.raises(RuntimeError, match="wanted 1 of them running one of \\['dead'\\]"):
            queue.wait_running(workers, {"dead"}, count=1, timeout=0.05)
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.skipif(not HAS_REDIS, reason="no redis-server")
def test_a_shared_redis_gets_only_keys_with_this_kernels_prefix() -> None:
    """With LAB_REDIS_URL (a Redis other kernels may use) every key this kernel's jobs make
    carries its own prefix, so two kernels never share a queue."""
    import redis
    from celery import Celery

    own = queue.Broker(queue.BrokerChoice("redis", "test"))  # stands for the shared one
    shared = queue.start_broker(queue.BrokerChoice("redis", "test", url=own.url))
    try:
        assert shared.pid is None  # an existing Redis: nothing started
        prefix = queue.shared_redis_prefix()
        assert str(os.getpid()) in prefix
        app = Celery("shared", set_as_current=False)
        app.conf.update(queue.celery_config())
        app.send_task("shared.nap", ("a",))
        app.close()
        keys = [str(k) for k in redis.Redis.from_url(own.url, decode_responses=True).keys("*")]
        assert keys and all(k.startswith(prefix) for k in keys), keys
        assert f"{prefix}celery" in keys
    finally:
        shared.stop()
        own.stop()


def test_pings_come_from_another_process_on_the_runs_clock() -> None:
    from fastapi import FastAPI

    from helpers import serve

    api = FastAPI()

    @api.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    with serve(api) as server:
        began = time.perf_counter()
        pings = queue.ping_from_another_process(server, n=5, every=0.05, after=0.2)
        table = pings.table(t0=began)
    assert list(table.columns) == ["sent", "ms", "status"]
    assert (table["status"] == 200).all() and len(table) == 5
    assert 0.15 < table["sent"].iloc[0] < 1.0, table  # ~0.2 s after the call, on began's clock
    assert (table["sent"].diff().dropna() >= 0.045).all(), table  # one every 50 ms at most
    assert (table["ms"] > 0).all() and table["ms"].median() < 200, table
    assert not any(isinstance(t, queue.Pings) for t in registry.registered())


def test_pings_say_what_was_wrong() -> None:
    class _Server:
        port = 9  # discard: nothing listens here

    with pytest.raises(ValueError, match="n must be 1 … 1000 pings, got 0"):
        queue.ping_from_another_process(_Server(), n=0)
    with pytest.raises(ValueError, match="every must be ≥ 0 s"):
        queue.ping_from_another_process(_Server(), every=-1)
    with pytest.raises(RuntimeError, match="the pinger failed: ConnectionRefusedError"):
        queue.ping_from_another_process(_Server(), n=1, after=0).table()


def test_queue_depth_counts_jobs_between_enqueue_and_start() -> None:
    jobs = pd.DataFrame({"enqueued": [0.0, 0.1, 0.2], "start": [0.05, 0.3, 0.4]})
    times, counts = queue.queue_depth(jobs)
    assert times == [0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.4]
    assert counts == [0, 1, 0, 1, 2, 1, 0]


@pytest.mark.parametrize(
    "kind",
    ["embedded", pytest.param("redis", marks=pytest.mark.skipif(not HAS_REDIS, reason="no redis"))],
)
def test_messages_left_counts_waiting_and_unacked(kind: str) -> None:
    from celery import Celery

    broker = queue.start_broker(queue.BrokerChoice(kind, "test"))
    app = Celery("left", set_as_current=False)
    app.conf.update(queue.celery_config())
    try:
        assert queue.messages_left(app) == 0
        for _ in range(3):
            app.send_task("left.nap", ("a",))  # no worker: they wait in the queue
        assert queue.messages_left(app) == 3
    finally:
        app.close()
        broker.stop()


@pytest.mark.skipif(not queue._LINUX, reason="the thread rule is Linux's (PR_SET_PDEATHSIG)")
def test_processes_start_only_from_the_main_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(queue.start_broker, queue.BrokerChoice("embedded", "test"))
        with pytest.raises(RuntimeError, match="from a cell \\(the kernel's main thread\\)"):
            future.result()
