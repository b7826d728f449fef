"""The app lesson 09 runs under ``uvicorn helpers.lessons.l09_worker_app:app --workers N``.

It lives in a module of its own, importing only FastAPI and ``helpers.apps.count_primes``,
because every uvicorn worker process imports it and that import is part of the start-up
time the lesson measures. Each endpoint reports where and when it ran (pid, thread,
wall-clock start and end) in its body: the lab's tracing cannot see into another process,
so ``helpers.lessons.l09_scaling.fire_url`` puts these stamps on the timeline instead.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Query

from helpers.apps import count_primes

__all__ = ["app"]

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
