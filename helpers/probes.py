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
from dataclasses import dataclass, field

import anyio.to_thread

__all__ = ["DEFAULT_PERIOD_S", "Sampler", "Samples"]

DEFAULT_PERIOD_S = 0.005


@dataclass
class Samples:
    """Raw probe readings; ``t`` in ``time.perf_counter()`` seconds, lag in seconds."""

    t: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


class Sampler:
    """Runs the probe loop; create and start it from inside the server's loop."""

    def __init__(self, period: float = DEFAULT_PERIOD_S) -> None:
        if not period > 0:
            raise ValueError(f"period must be > 0 seconds, got {period!r}")
        self.period = period
        self.samples = Samples()
        self._task: asyncio.Task[None] | None = None
        self._first_expected = 0.0

    def start(self) -> None:
        """Start sampling; must be called on the server loop.

        The first deadline is set now, not when the task first runs, so a handler that
        blocks the loop before the probe's first wake-up is still seen as lag.
        """
        self._first_expected = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> Samples:
        """Stop sampling and return what was read; must be awaited on the server loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.samples

    async def _run(self) -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        samples = self.samples
        expected = self._first_expected
        while True:
            self._read(limiter, samples, expected)
            expected = time.perf_counter() + self.period
            await asyncio.sleep(self.period)

    @staticmethod
    def _read(limiter: anyio.CapacityLimiter, samples: Samples, expected: float) -> None:
        now = time.perf_counter()
        samples.t.append(now)
        samples.lag.append(max(0.0, now - expected))
        samples.busy.append(int(limiter.borrowed_tokens))
        samples.waiting.append(limiter.statistics().tasks_waiting)
