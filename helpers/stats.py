"""Small, pure measures over interval data (seconds in, numbers out).

Two definitions live here and nowhere else: how many intervals are open at once
(``open_over_time``/``peak_overlap``) and which *wave* a request belongs to
(``wave_numbers``/``count_waves``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

__all__ = [
    "count_waves",
    "open_over_time",
    "peak_overlap",
    "percentile",
    "wave_numbers",
]


def open_over_time(
    intervals: Sequence[tuple[float, float]], *, open_ended: bool = False
) -> tuple[list[float], list[int]]:
    """How many ``[start, end)`` intervals are open, as a step function ``(times, counts)``.

    ``counts[i]`` holds from ``times[i]`` until ``times[i + 1]``; the first step is
    ``(0.0, 0)`` then one step per start or end, in time order (an interval ending at t and
    another starting at t do not overlap). Intervals with a NaN start are skipped; a NaN
    end means "still open" with ``open_ended=True`` and is skipped otherwise. Times in
    whatever unit the intervals use (the lab uses **seconds**).
    """
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        if math.isnan(start):
            continue
        if math.isnan(end):
            if open_ended:
                events.append((start, 1))
            continue
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda event: (event[0], event[1]))
    times = [0.0]
    counts = [0]
    for t, step in events:
        times.append(float(t))
        counts.append(counts[-1] + step)
    return times, counts


def peak_overlap(intervals: Sequence[tuple[float, float]], *, open_ended: bool = False) -> int:
    """Most intervals open at the same instant (an interval ending at t and another starting
    at t do not overlap); ``open_ended`` as in ``open_over_time``."""
    return max(open_over_time(intervals, open_ended=open_ended)[1])


def wave_numbers(
    starts: Sequence[float],
    ends: Sequence[float],
    asked: Sequence[float] | None = None,
    capacity: int | None = None,
) -> list[int]:
    """The wave of each call that ran on a limited pool (1, 2, 3 …; 0 if it never ran).

    A wave is what a timeline shows: the calls that got a slot at once form wave 1; a call
    that had to queue for a slot starts when an earlier call finishes and hands its slot
    over, and so belongs to the wave after that call's. Precisely, call *r* (asked for a
    slot at ``asked[r]``, started at ``starts[r]``) queued if, when it asked, at least
    ``capacity`` other calls had asked and not yet ended and one of them ended between its
    ask and its start; then its wave is one more than the wave of the call that ended last
    before it started. Otherwise it is in wave 1. So 100 × 0.5 s calls on 40 slots are in
    waves 1, 2, 3 (40, 40, 20) however uneven their durations, and calls that never queued
    are one wave however spread out their arrivals.

    Args:
        starts, ends: when each call started and ended (**seconds**, any common clock; NaN
            for a call that did not run).
        asked: when each call asked for a slot (same clock); ``None`` assumes every call
            asked at the first start (a burst sent all at once).
        capacity: the number of slots (e.g. the server's thread limit); ``None`` takes the
            most calls that ran at once.
    """
    if len(starts) != len(ends) or (asked is not None and len(asked) != len(starts)):
        raise ValueError(
            f"starts, ends and asked must have one entry per call, got {len(starts)}, "
            f"{len(ends)} and {len(asked) if asked is not None else 'None'}"
        )
    if capacity is not None and capacity < 1:
        raise ValueError(f"capacity must be ≥ 1 or None, got {capacity}")
    ran = [i for i in range(len(starts)) if not (math.isnan(starts[i]) or math.isnan(ends[i]))]
    waves = [0] * len(starts)
    if not ran:
        return waves
    first = min(starts[i] for i in ran)
    ask = [first if asked is None or math.isnan(asked[i]) else min(asked[i], starts[i])
           for i in range(len(starts))]  # fmt: skip
    slots = capacity or peak_overlap([(starts[i], ends[i]) for i in ran])
    by_end = sorted(ran, key=lambda i: ends[i])
    end_times = [ends[i] for i in by_end]
    ask_times = sorted(ask[i] for i in ran)
    for r in sorted(ran, key=lambda i: starts[i]):
        waves[r] = 1
        # the call whose slot r could have taken over: the last to end at or before r started
        k = bisect.bisect_right(end_times, starts[r]) - 1
        if k >= 0 and by_end[k] == r:
            k -= 1
        if k < 0 or end_times[k] < ask[r]:
            continue  # nothing ended while r waited: it got a free slot at once
        # calls that had asked by r's ask and had not ended then (ask ≤ start ≤ end for all)
        ahead = bisect.bisect_right(ask_times, ask[r]) - bisect.bisect_right(end_times, ask[r])
        ahead -= 1 if ends[r] > ask[r] else 0
        if ahead >= slots:
            waves[r] = waves[by_end[k]] + 1
    return waves


def count_waves(
    starts: Sequence[float],
    durations: Sequence[float],
    asked: Sequence[float] | None = None,
    capacity: int | None = None,
) -> int:
    """How many waves the calls ran in (``wave_numbers``); 0 if none ran.

    ``starts`` and ``durations`` in **seconds**; ``asked`` and ``capacity`` as for
    ``wave_numbers``.
    """
    if len(starts) != len(durations):
        raise ValueError(f"{len(starts)} starts but {len(durations)} durations")
    ends = [s + d for s, d in zip(starts, durations)]
    return max(wave_numbers(starts, ends, asked, capacity), default=0)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation; NaN for no values."""
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    position = (len(clean) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(clean) - 1)
    return clean[low] + (clean[high] - clean[low]) * (position - low)
