"""Collector pauses: what a full garbage collection of a notebook-sized heap does to a burst.

A kernel that has run a lesson holds a few hundred thousand tracked objects (figures, tables,
earlier runs); ballast of small lists stands in for that history here. Three measures:

1. the time of one full collection (``gc.collect()``) with that heap, median of the repeats;
2. the server's loop lag in a burst of 100 ``async def`` sleeps (1 s) with such a collection
   forced 0.3 s in, next to the same burst with none: the distortion a full collection
   would add to what ``fire`` reports;
3. how many *automatic* full collections start during a burst while the kernel allocates
   long-lived objects (0.3 s in, a client-side task keeps a third as many new lists as
   there are tracked objects, enough for CPython's rules to make one due): ``fire`` as
   shipped (``helpers._collector`` defers them) and with that guard replaced by a no-op,
   side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import helpers._load as load
from benchmarks.report import Result, Section, median
from helpers import apps, fire, serve
from helpers._collector import collections_started, full_collections_deferred

__all__ = ["measure"]

FORCE_AT_S = 0.3


def _collect_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


async def _burst(server: Any, during: Callable[[], object] | None = None) -> float:
    """One burst; ``during`` runs on the client loop 0.3 s in. Returns ``max_lag_ms``."""
    handle = asyncio.get_running_loop().call_later(FORCE_AT_S, during) if during else None
    try:
        run = await fire(server, "/async_sleep", n=100, params={"seconds": 1.0}, progress=False)
    finally:
        if handle is not None:
            handle.cancel()
    if run.summary()["failed"]:
        raise RuntimeError(f"the burst had failures: {run.requests['error'].dropna().iloc[0]}")
    return float(run.summary()["max_lag_ms"])


def _allocate_long_lived(keep: list[list[int]]) -> None:
    """Keep a third as many new lists as there are tracked objects: enough surviving young
    objects that CPython's rules make a full collection due."""
    keep.extend([i] for i in range(len(gc.get_objects()) // 3))


async def _full_collections_under_pressure(server: Any, guarded: bool) -> int:
    """Full collections that start while ``fire`` holds its guard (or would hold it), so a
    due collection that runs after the burst, when the thresholds are restored and the
    summary allocates, is not counted as one inside it."""
    keep: list[list[int]] = []
    seen: list[int] = []
    guard = full_collections_deferred if guarded else contextlib.nullcontext

    @contextlib.contextmanager
    def counted() -> Iterator[None]:
        with guard(), collections_started() as inside:
            yield
        seen.extend(inside)

    # fire looks the guard up in helpers._load's namespace, so that is where it is swapped
    try:
        with mock.patch.object(load, "full_collections_deferred", counted):
            await _burst(server, lambda: _allocate_long_lived(keep))
    finally:
        keep.clear()
    return seen.count(2)


async def measure(objects: int = 400_000, repeats: int = 3) -> Section:
    """All three measures with ``objects`` tracked objects of ballast, ``repeats`` times."""
    section = Section("Collector pauses", (__doc__ or "").split("\n\n", 1)[1].strip())
    ballast = [[i] for i in range(objects)]
    tracked = len(gc.get_objects())
    server = serve(apps.demo_app(title="bench-collector"), trace=True)
    pause: list[float] = []
    lag_none: list[float] = []
    lag_forced: list[float] = []
    shipped: list[int] = []
    unguarded: list[int] = []
    try:
        await fire(server, "/health_async", n=5, progress=False)  # warm-up
        for _ in range(repeats):
            pause.append(_collect_ms())
            lag_none.append(await _burst(server))
            lag_forced.append(await _burst(server, gc.collect))
            gc.collect()
            shipped.append(await _full_collections_under_pressure(server, guarded=True))
            gc.collect()
            unguarded.append(await _full_collections_under_pressure(server, guarded=False))
    finally:
        server.stop()
        del ballast
    section.results += [
        Result(
            f"one full collection, {tracked} tracked objects",
            f"{median(pause):.0f} ms [{_list(pause)}]",
        ),
        Result(
            "max loop lag of a burst: none vs one full collection forced inside it",
            f"none {median(lag_none):.0f} ms [{_list(lag_none)}] · "
            f"forced {median(lag_forced):.0f} ms [{_list(lag_forced)}]",
        ),
        Result(
            "automatic full collections during a burst under allocation pressure",
            f"fire as shipped {_list(shipped)} · guard removed {_list(unguarded)}",
            "0 as shipped",
            "pass" if not any(shipped) else "miss",
            "" if any(unguarded) else "the control started none either: pressure too low",
        ),
    ]
    return section


def _list(values: list[float] | list[int]) -> str:
    return ", ".join(f"{v:.0f}" if isinstance(v, int) else f"{v:.1f}" for v in values)
