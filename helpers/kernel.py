"""Facts about the kernel's own event loop, and what ``nest_asyncio`` changes.

The measurement runs in two fresh subprocesses, one plain and one patched, so patching
asyncio there never leaks into the kernel the learner is using.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NestAsyncioCost", "measure_nest_asyncio"]

_ANSWER_TIMEOUT_S = 60.0

_PROBE = r"""
import asyncio, json, sys, time
patched = sys.argv[1] == "1"
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
if patched:
    import nest_asyncio
    nest_asyncio.apply(loop)

async def tiny():
    await asyncio.sleep(0)

async def main(n):
    started = time.perf_counter()
    await asyncio.gather(*(tiny() for _ in range(n)))
    return time.perf_counter() - started

print(json.dumps({"task_class": f"{asyncio.Task.__module__}.{asyncio.Task.__qualname__}",
                  "c_task": asyncio.Task.__module__ == "_asyncio"}), flush=True)
for line in sys.stdin:  # one burst of int(line) tiny tasks per line, until stdin closes
    print(json.dumps({"seconds": loop.run_until_complete(main(int(line)))}), flush=True)
"""


@dataclass
class NestAsyncioCost:
    """What ``measure_nest_asyncio`` found.

    ``plain``/``patched``: ``task_class`` and ``c_task`` (is ``asyncio.Task`` the C
    implementation?) of each process. ``pairs``: seconds per burst, ``(plain, patched)``,
    one pair per round. ``slowdown``: the median over rounds of patched ÷ plain.
    """

    tasks: int
    plain: dict[str, Any]
    patched: dict[str, Any]
    pairs: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """patched ÷ plain for each round."""
        return [patched / plain for plain, patched in self.pairs]

    @property
    def slowdown(self) -> float:
        """The median of ``ratios``: how many times a task costs after the patch."""
        return statistics.median(self.ratios)

    def us_per_task(self, side: str) -> float:
        """The fastest burst of ``side`` ("plain" or "patched"), in µs per task."""
        if side not in ("plain", "patched"):
            raise ValueError(f"side must be 'plain' or 'patched', got {side!r}")
        index = 0 if side == "plain" else 1
        return min(pair[index] for pair in self.pairs) / self.tasks * 1e6


class _Probe:
    """One probe subprocess; ``burst(n)`` times ``n`` tiny tasks in it."""

    def __init__(self, patched: bool) -> None:
        self.name = "nest_asyncio" if patched else "plain"
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PROBE, "1" if patched else "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.info: dict[str, Any] = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._reader.submit(self._process.stdout.readline)
        try:
            text = line.result(timeout=_ANSWER_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            self._process.kill()
            self.close()
            raise RuntimeError(
                f"the {self.name} asyncio probe did not answer within {_ANSWER_TIMEOUT_S:g} s"
            ) from None
        if not text:
            self.close()
            assert self._process.stderr is not None
            error = self._process.stderr.read().strip().splitlines()
            raise RuntimeError(
                f"the {self.name} asyncio probe exited early: {error[-1] if error else 'no output'}"
            )
        answer: dict[str, Any] = json.loads(text)
        return answer

    def burst(self, tasks: int) -> float:
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):  # a probe that has died is reported by _answer
            self._process.stdin.write(f"{tasks}\n")
            self._process.stdin.flush()
        return float(self._answer()["seconds"])

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):  # the probe has gone already
                self._process.stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._reader.shutdown(wait=False)


def measure_nest_asyncio(tasks: int = 50_000, rounds: int = 7) -> NestAsyncioCost:
    """Time bursts of ``tasks`` tiny asyncio tasks in a plain and a ``nest_asyncio`` process.

    Both processes stay up and take turns, one burst each per round (which goes first
    alternates), so the two bursts of a pair run a fraction of a second apart: a slow
    moment on a shared machine hits both sides of a pair, not one side's whole run. The
    slowdown is the median of the per-round ratios. A warm-up burst of 1 000 tasks in each
    process is not counted.
    """
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1_000 <= tasks <= 500_000:
        raise ValueError(f"tasks must be an int between 1000 and 500000, got {tasks!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 15:
        raise ValueError(f"rounds must be an int between 1 and 15, got {rounds!r}")
    plain = _Probe(patched=False)
    try:
        patched = _Probe(patched=True)
        try:
            plain.burst(1_000)
            patched.burst(1_000)
            cost = NestAsyncioCost(tasks, plain.info, patched.info)
            for round_ in range(rounds):
                if round_ % 2 == 0:
                    plain_s = plain.burst(tasks)
                    patched_s = patched.burst(tasks)
                else:
                    patched_s = patched.burst(tasks)
                    plain_s = plain.burst(tasks)
                cost.pairs.append((plain_s, patched_s))
            return cost
        finally:
            patched.close()
    finally:
        plain.close()
