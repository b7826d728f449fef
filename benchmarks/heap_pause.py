"""Collector pauses: what a full garbage collection of a notebook-sized heap costs a burst.

A kernel that has run a lesson holds a few hundred thousand tracked objects (figures, tables,
earlier runs). The process is built here the same way: ballast of small dicts and lists
stands in for that history. Two measures, each taken with the heap as it is and with the
objects frozen the way ``fire`` freezes them during a burst (``helpers.heap.frozen_heap``):

1. the time of one full collection (``gc.collect()``), median of the repeats;
2. the loop lag the server's probe reports when such a collection is forced 0.3 s into a
   burst of ``async def`` sleeps (the collection holds the GIL, so the server loop waits).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from benchmarks.report import Result, Section, check, median
from helpers import apps, fire, serve
from helpers.heap import frozen_heap

__all__ = ["RATIO_TARGET", "measure"]

RATIO_TARGET = 0.1  # a full collection during a burst: frozen ÷ as-is pause
FORCE_AT_S = 0.3


def _ballast(objects: int) -> list[Any]:
    return [{"row": [i]} for i in range(objects // 2)]  # two tracked containers each


def _collect_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def _unfrozen_collect() -> None:
    """A full collection that walks the whole heap, as if ``fire`` had not frozen it."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _lag_with_collection_mid_burst(server: Any, collect: Any) -> float:
    loop = asyncio.get_running_loop()
    handle = loop.call_later(FORCE_AT_S, collect)
    try:
        run = await fire(server, "/async_sleep", n=100, params={"seconds": 1.0}, progress=False)
    finally:
        handle.cancel()
    if run.summary()["failed"]:
        raise RuntimeError(f"the burst had failures: {run.requests['error'].dropna().iloc[0]}")
    return float(run.summary()["max_lag_ms"])


async def measure(objects: int = 400_000, repeats: int = 3) -> Section:
    """Measure both pauses with ``objects`` tracked objects of ballast, ``repeats`` times."""
    section = Section("Collector pauses", (__doc__ or "").split("\n\n", 1)[1].strip())
    ballast = _ballast(objects)
    tracked = len(gc.get_objects())
    server = serve(apps.demo_app(title="bench-heap"), trace=True)
    as_is: list[float] = []
    frozen: list[float] = []
    lag_as_is: list[float] = []
    lag_frozen: list[float] = []
    try:
        await fire(server, "/health_async", n=5, progress=False)  # warm-up
        for _ in range(repeats):
            as_is.append(_collect_ms())
            with frozen_heap():
                frozen.append(_collect_ms())
            lag_as_is.append(await _lag_with_collection_mid_burst(server, _unfrozen_collect))
            lag_frozen.append(await _lag_with_collection_mid_burst(server, gc.collect))
    finally:
        server.stop()
        del ballast
    ratio = median(frozen) / median(as_is)
    section.results += [
        Result(
            f"full collection, {tracked} tracked objects: frozen ÷ as is",
            f"{ratio:.3f}; as is {median(as_is):.0f} ms [{_list(as_is)}], "
            f"frozen {median(frozen):.2f} ms [{_list(frozen)}]",
            f"≤ {RATIO_TARGET}",
            check(ratio, at_most=RATIO_TARGET),
        ),
        Result(
            "max loop lag with a full collection forced mid-burst",
            f"as is {median(lag_as_is):.0f} ms [{_list(lag_as_is)}] · "
            f"frozen (what fire does) {median(lag_frozen):.0f} ms [{_list(lag_frozen)}]",
            note="the burst's own lag with no collection is in the lag-probe rows",
        ),
    ]
    return section


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" if v < 1 else f"{v:.1f}" for v in values)
