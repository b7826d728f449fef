"""Endpoint variants the lessons share, each parameterised by a duration in seconds.

``demo_app()`` builds a fresh FastAPI app with these routes (query parameter ``seconds``):

========================  =========================================================
``/async_sleep``          ``async def`` awaiting ``asyncio.sleep`` — yields the loop
``/sync_sleep``           ``def`` calling ``time.sleep`` — runs on a worker thread
``/blocking_in_async``    ``async def`` calling ``time.sleep`` — ⚠ blocks the loop
``/cpu_async``            CPU loop inside ``async def`` — ⚠ blocks the loop
``/cpu_def``              CPU loop inside ``def`` — worker thread, holds the GIL
``/cpu_to_thread``        ``async def`` awaiting ``asyncio.to_thread(cpu)``
``/cpu_process``          ``async def`` sending the CPU loop to a process pool
``/health_async``         ``async def`` returning at once
``/health_def``           ``def`` returning at once
========================  =========================================================

Routes are declared with ``response_model=None``: a return annotation would otherwise
become a response model, and for a ``def`` endpoint FastAPI validates it in the thread
pool too (``fastapi/routing.py: serialize_response``), which lesson 07 shows on its own.

The CPU routes take ``seconds`` too: ``burn_cpu`` spins a pure-Python loop for that long
of *this thread's CPU time*, so the work is the same whether or not it gets the GIL.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query

__all__ = ["burn_cpu", "count_primes", "demo_app"]

MAX_SECONDS = 30.0
Seconds = Query(0.1, ge=0, le=MAX_SECONDS, description="how long the work takes, seconds")


def burn_cpu(seconds: float) -> int:
    """Spin pure-Python arithmetic until this thread has used ``seconds`` of CPU time.

    Uses ``time.thread_time()`` (per-thread CPU clock): while another thread holds the GIL
    this thread's clock stands still, so the amount of work is fixed, not the wall time.
    Returns the number of loop iterations done.
    """
    deadline = time.thread_time() + seconds
    iterations = 0
    total = 0
    while time.thread_time() < deadline:
        for i in range(1000):
            total += i * i
        iterations += 1000
    return iterations


def count_primes(limit: int) -> int:
    """Count primes below ``limit`` by trial division — a fixed amount of pure-Python work."""
    count = 0
    for candidate in range(2, limit):
        divisor = 2
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 1
        else:
            count += 1
    return count


def demo_app(processes: int = 2, title: str = "demo") -> FastAPI:
    """A fresh FastAPI app with the shared endpoint variants (see the module docstring).

    ``processes`` sizes the process pool behind ``/cpu_process`` (started in the app's
    lifespan with the ``spawn`` method, so no thread of the kernel is forked).
    """
    state: dict[str, ProcessPoolExecutor] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        state["pool"] = pool
        try:
            yield
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title=title, lifespan=lifespan)

    @app.get("/async_sleep", response_model=None)
    async def async_sleep(seconds: float = Seconds) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/sync_sleep", response_model=None)
    def sync_sleep(seconds: float = Seconds) -> dict[str, float]:
        time.sleep(seconds)
        return {"slept": seconds}

    @app.get("/blocking_in_async", response_model=None)
    async def blocking_in_async(seconds: float = Seconds) -> dict[str, float]:
        time.sleep(seconds)  # ⚠ blocks the event loop — on purpose
        return {"slept": seconds}

    @app.get("/cpu_async", response_model=None)
    async def cpu_async(seconds: float = Seconds) -> dict[str, int]:
        return {"iterations": burn_cpu(seconds)}  # ⚠ blocks the event loop — on purpose

    @app.get("/cpu_def", response_model=None)
    def cpu_def(seconds: float = Seconds) -> dict[str, int]:
        return {"iterations": burn_cpu(seconds)}

    @app.get("/cpu_to_thread", response_model=None)
    async def cpu_to_thread(seconds: float = Seconds) -> dict[str, int]:
        return {"iterations": await asyncio.to_thread(burn_cpu, seconds)}

    @app.get("/cpu_process", response_model=None)
    async def cpu_process(seconds: float = Seconds) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        return {"iterations": await loop.run_in_executor(state["pool"], burn_cpu, seconds)}

    @app.get("/health_async", response_model=None)
    async def health_async() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health_def", response_model=None)
    def health_def() -> dict[str, str]:
        return {"status": "ok"}

    return app
