"""Keep the kernel's old objects out of the garbage collector's way during a burst.

A notebook kernel piles up objects that have nothing to do with the server being measured:
every figure, table and run in ``Out[]``. The cyclic garbage collector's oldest generation
walks all of them, holding the GIL, so one full collection that happens to fall inside a
burst freezes the server loop *and* the client. Measured here: after one Run All of lesson
10 the kernel held ~420 000 tracked objects and a full collection took ~250 ms; it landed
mid-burst, the loop-lag panel showed a 246 ms freeze, and on a loaded CI machine such a
pause split a burst's intake in two (the second half arrived after the first half was done,
so nothing queued).

``frozen_heap()`` moves every object that exists when a burst starts into the collector's
permanent generation (``gc.freeze()``) and gives them back when the burst ends
(``gc.unfreeze()``). Objects the server and client allocate *during* the burst are
collected exactly as before, so the collector's cost for the server's own work stays in the
measurement; only the cost of walking the notebook's history is left out. Cyclic garbage
that already existed is collected after the burst instead of during it; nothing is lost.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]

_lock = threading.Lock()
_holders = 0
_froze = False


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the collector's view of existing objects for the duration of the block.

    Re-entrant and safe for overlapping bursts (``asyncio.gather`` of two ``fire`` calls,
    or bursts from two threads): the heap is frozen when the first holder enters and given
    back when the last one leaves. If someone else has already frozen objects (the
    permanent generation is not empty), it does nothing, so it never unfreezes what it did
    not freeze.
    """
    global _holders, _froze
    with _lock:
        _holders += 1
        if _holders == 1:
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _froze:
                gc.unfreeze()
                _froze = False
