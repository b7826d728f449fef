"""Keep full garbage collections of the kernel's history out of a burst.

A notebook kernel piles up objects that have nothing to do with the server being measured:
every figure, table and run in ``Out[]``. A *full* collection (generation 2) walks all of
them while holding the GIL, so one that happens to fall inside a burst freezes the server
loop and the client together. Measured here: after one Run All of lesson 10 the kernel held
~420 000 tracked objects, a full collection took ~250 ms, and when it landed mid-burst the
loop-lag panel showed a 246 ms freeze that the server's code never caused.

``full_collections_deferred()`` raises the collector's third threshold for the duration of
a burst, so no *automatic* full collection starts until the burst ends; the thresholds are
restored afterwards and the next allocation lets a due collection run. The young
generations (0 and 1) are collected exactly as before, and they only ever walk objects
allocated recently, so the collector's cost for what the server and client allocate during
the burst stays in the measurement. Nothing is frozen or lost: garbage that is due for a
full collection is collected a few seconds later instead of during the burst.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DEFERRED_THRESHOLD", "collections_started", "full_collections_deferred"]

# Generation 2 runs when more than this many generation-1 collections have happened since
# the last full one (CPython's default is 10); no burst comes near this many.
DEFERRED_THRESHOLD = 1_000_000_000

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """No automatic full garbage collection starts inside the block; young ones still do.

    Re-entrant and safe for overlapping bursts (``asyncio.gather`` of two ``fire`` calls,
    or bursts from two threads): the thresholds are raised when the first holder enters and
    restored when the last one leaves. If the collector is switched off
    (``gc.disable()``) or its first threshold is 0, nothing changes. An explicit
    ``gc.collect()`` inside the block still runs in full.
    """
    global _holders, _saved
    with _lock:
        _holders += 1
        if _holders == 1:
            first, second, third = gc.get_threshold()
            _saved = (first, second, third)
            if first > 0:
                gc.set_threshold(first, second, max(third, DEFERRED_THRESHOLD))
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


@contextmanager
def collections_started() -> Iterator[list[int]]:
    """The generation (0, 1 or 2) of every garbage collection that starts inside the block,
    in order, from ``gc.callbacks``: how the tests and benchmarks see what the guard does."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(int(info["generation"]))

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)
