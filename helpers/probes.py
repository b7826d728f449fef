"""Loop-lag probe and thread-pool gauge that run *on the server's event loop*.

One small task wakes every ``period`` seconds. How late it wakes is the loop lag: while a
handler blocks the loop, nothing else (this probe included) can run, so the next wake-up
arrives late by about the length of the block. At every wake-up it also reads the server
loop's default thread limiter (``anyio.to_thread.current_default_thread_limiter()``, which
is per event loop): ``borrowed_tokens`` is how many worker threads are busy,
``statistics().tasks_waiting`` how many calls queue for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread

__all__ = ["DEFAULT_PERIOD_S", "Sampler", "Samples", "Ticker"]

DEFAULT_PERIOD_S = 0.005


class Ticker:
    """The lab's one periodic sampler: calls ``tick(now, late)`` on the running event loop
    every ``period`` **seconds** until stopped.

    ``now`` is ``time.perf_counter()`` at the tick and ``late`` how many seconds after its
    deadline the tick ran (the loop lag: nothing runs on a loop while a handler blocks it).
    The first tick is due when ``start()`` is called, so a loop that is blocked before the
    ticker first runs still shows as lag. ``tick`` must be quick and must not raise.
    Use ``start()``/``await stop()``, or ``async with Ticker(...)``.
    """

    def __init__(self, period: float, tick: Callable[[float, float], None]) -> None:
        if not period > 0:
            raise ValueError(f"period must be > 0 seconds, got {period!r}")
        self.period = period
        self._tick = tick
        self._task: asyncio.Task[None] | None = None
        self._first_due = 0.0

    def start(self) -> None:
        """Start ticking on the running loop (call it from that loop)."""
        self._first_due = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop ticking; await it on the loop the ticker runs on."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> Ticker:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        due = self._first_due
        while True:
            now = time.perf_counter()
            self._tick(now, max(0.0, now - due))
            due = time.perf_counter() + self.period
            await asyncio.sleep(self.period)


@dataclass
class Samples:
    """Raw probe readings; ``t`` in ``time.perf_counter()`` seconds, lag in seconds."""

    t: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


class Sampler:
    """The server's loop-lag probe and pool gauge (a ``Ticker``); create and start it from
    inside the server's loop."""

    def __init__(self, period: float = DEFAULT_PERIOD_S) -> None:
        self.samples = Samples()
        self._ticker = Ticker(period, self._read)
        self.period = period
        self._limiter: anyio.CapacityLimiter | None = None

    def start(self) -> None:
        """Start sampling; must be called on the server loop."""
        # per event loop, so read it here, on the server's
        self._limiter = anyio.to_thread.current_default_thread_limiter()
        self._ticker.start()

    async def stop(self) -> Samples:
        """Stop sampling and return what was read; must be awaited on the server loop."""
        await self._ticker.stop()
        return self.samples

    def _read(self, now: float, late: float) -> None:
        samples = self.samples
        samples.t.append(now)
        samples.lag.append(late)
        if self._limiter is not None:
            samples.busy.append(int(self._limiter.borrowed_tokens))
            samples.waiting.append(self._limiter.statistics().tasks_waiting)
        else:
            samples.busy.append(0)
            samples.waiting.append(0)
