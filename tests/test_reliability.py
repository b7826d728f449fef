"""Faults a live workshop meets: interrupts, restarts, parallel notebooks, stuck handlers."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from jupyter_client.manager import start_new_kernel

from helpers import serve
from tests.conftest import burst

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def run_code(client: Any, code: str, timeout: float = 60) -> dict[str, Any]:
    """Execute ``code`` in a kernel; return its reply content and collected output text."""
    msg_id = client.execute(code)
    texts: list[str] = []
    error: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout
    while True:
        message = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            texts.append(content["text"])
        elif kind == "error":
            error = content
        elif kind == "status" and content["execution_state"] == "idle":
            break
    return {"text": "".join(texts), "error": error}


@pytest.fixture
def kernel():  # type: ignore[no-untyped-def]
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


SETUP = """
import asyncio
from fastapi import FastAPI
from helpers import serve, fire
app = FastAPI(title="interrupt me")

@app.get("/slow")
async def slow():
    await asyncio.sleep(20)
    return {}

@app.get("/fast")
async def fast():
    return {}

server = serve(app)
print(server.port)
"""


@pytest.mark.notebook
def test_interrupt_during_a_burst_leaves_server_and_kernel_usable(kernel: Any) -> None:
    manager, client = kernel
    port = int(run_code(client, SETUP)["text"].split()[-1])
    msg_id = client.execute("run = await fire(server, '/slow', n=20, timeout=30)")
    time.sleep(2)
    manager.interrupt_kernel()
    deadline = time.monotonic() + 20
    interrupted = None
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=20)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "error":
            interrupted = message["content"]["ename"]
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    assert interrupted in {"KeyboardInterrupt", "CancelledError"}, interrupted
    after = run_code(client, "r = await fire(server, '/fast', n=5); print(r.summary()['ok'])")
    assert after["error"] is None and after["text"].split()[-1] == "5"
    again = run_code(client, "server = serve(app); print(server.port, server.running)")
    new_port, running = again["text"].split()[-2:]
    assert running == "True" and int(new_port) != port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the old server still listens"


@pytest.mark.notebook
def test_restarting_the_kernel_mid_burst_frees_the_port(kernel: Any) -> None:
    manager, client = kernel
    port = int(run_code(client, SETUP)["text"].split()[-1])
    client.execute("run = await fire(server, '/slow', n=20, timeout=30)")
    time.sleep(1.5)
    manager.restart_kernel(now=True)
    client.wait_for_ready(timeout=60)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "a server survived the restart"
    fresh = run_code(
        client, SETUP + "r = await fire(server, '/fast', n=3); print(r.summary()['ok'])"
    )
    assert fresh["error"] is None and fresh["text"].split()[-1] == "3"


@pytest.mark.notebook
def test_two_notebooks_at_the_same_time_do_not_collide() -> None:
    from tests.test_notebooks import CPYTHON_AST_RACE, run_all_twice

    os.environ.setdefault("LAB_FAST", "1")
    # Two different notebooks, each serving its own apps on ports the OS picks.
    paths = [NOTEBOOKS / "00_welcome.ipynb", NOTEBOOKS / "playground.ipynb"]

    def execute(path: Path) -> list[str]:
        errors, _durations = run_all_twice(path)
        if errors and all(CPYTHON_AST_RACE in str(e.get("evalue", "")) for e in errors):
            errors, _durations = run_all_twice(path)  # see tests/test_notebooks.py
        return [f"{e.get('ename')}: {e.get('evalue')}" for e in errors]

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(execute, paths)) == [[], []]


def test_a_def_handler_that_never_returns() -> None:
    app = FastAPI(title="never returns")
    release = threading.Event()

    @app.get("/hang")
    def hang() -> dict[str, str]:
        release.wait(30)  # stands in for a call that never comes back
        return {}

    server = serve(app)
    try:
        started = time.monotonic()
        run = burst(server, "/hang", n=3, timeout=0.5)
        assert time.monotonic() - started < 3
        assert run.requests["error"].str.contains("timed out").all()
        stopping = time.monotonic()
        server.stop()
        assert time.monotonic() - stopping < 5.5
        assert not server.running
    finally:
        release.set()
        server._thread.join(10)  # its shutdown must not leak into later tests


def anyio_workers() -> int:
    return sum(t.name == "AnyIO worker thread" for t in threading.enumerate())


def test_worker_threads_do_not_accumulate_over_serve_stop_cycles() -> None:
    app = FastAPI(title="cycles")

    @app.get("/work")
    def work() -> dict[str, str]:
        time.sleep(0.01)
        return {}

    before = anyio_workers()
    for _ in range(20):
        with serve(app, thread_limit=4) as server:
            burst(server, "/work", n=8)
    deadline = time.monotonic() + 5
    while anyio_workers() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert anyio_workers() <= before, f"{anyio_workers() - before} worker threads leaked"


def test_cancelling_fire_from_a_timeout_is_clean() -> None:
    from helpers import apps, fire

    with serve(apps.demo_app(title="cancel")) as server:

        async def scenario() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    fire(server, "/async_sleep", n=30, params={"seconds": 5}, progress=False),
                    0.5,
                )

        asyncio.run(scenario())
        assert burst(server, "/health_async", n=3).summary()["ok"] == 3
