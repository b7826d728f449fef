"""Facts about the kernel's own event loop, and what ``nest_asyncio`` changes.

The measurement runs in fresh subprocesses, so patching asyncio there never leaks into the
kernel the learner is using.
"""

from __future__ import annotations

import json
import subprocess
import sys

__all__ = ["measure_nest_asyncio"]

_PROBE = r"""
import asyncio, json, sys, time
patched = sys.argv[1] == "1"
if patched:
    import nest_asyncio
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    nest_asyncio.apply(loop)
else:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

async def tiny():
    await asyncio.sleep(0)

async def main(n):
    started = time.perf_counter()
    await asyncio.gather(*(tiny() for _ in range(n)))
    return time.perf_counter() - started

n = int(sys.argv[2])
loop.run_until_complete(main(1000))  # warm up
best = min(loop.run_until_complete(main(n)) for _ in range(3))
print(json.dumps({"task_class": f"{asyncio.Task.__module__}.{asyncio.Task.__qualname__}",
                  "c_task": asyncio.Task.__module__ == "_asyncio",
                  "seconds": best, "tasks": n}))
"""


def measure_nest_asyncio(tasks: int = 50_000, rounds: int = 3) -> dict[str, dict[str, object]]:
    """Time ``tasks`` tiny asyncio tasks in a plain and a ``nest_asyncio``-patched process.

    The two kinds of process alternate for ``rounds`` rounds and each keeps its fastest
    time, so a moment of load on a shared machine cannot favour one side.
    Returns ``{"plain": {...}, "nest_asyncio": {...}}``, each with ``task_class``,
    ``c_task`` (is ``asyncio.Task`` the C implementation?), ``seconds`` (best of all runs)
    and ``us_per_task`` (microseconds).
    """
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1_000 <= tasks <= 500_000:
        raise ValueError(f"tasks must be an int between 1000 and 500000, got {tasks!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 10:
        raise ValueError(f"rounds must be an int between 1 and 10, got {rounds!r}")
    results: dict[str, dict[str, object]] = {}
    for _ in range(rounds):
        for name, flag in (("plain", "0"), ("nest_asyncio", "1")):
            done = subprocess.run(
                [sys.executable, "-c", _PROBE, flag, str(tasks)],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            data: dict[str, object] = json.loads(done.stdout)
            best = results.get(name)
            if best is None or float(str(data["seconds"])) < float(str(best["seconds"])):
                results[name] = data
    for data in results.values():
        data["us_per_task"] = round(float(str(data["seconds"])) / tasks * 1e6, 2)
    return results
