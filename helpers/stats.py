"""Small, pure measures over interval data (seconds in, numbers out)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

__all__ = ["count_waves", "peak_overlap", "percentile"]


def count_waves(starts: Sequence[float], durations: Sequence[float]) -> int:
    """Count clusters of handler start times.

    A new wave begins when a start comes more than half the median handler duration after
    the previous start. 100 × 0.5 s ``def`` requests on 40 threads start in three clusters
    (0 s, 0.5 s, 1.0 s); the same on the event loop start in one.
    """
    clean = sorted(s for s in starts if not math.isnan(s))
    if not clean:
        return 0
    positive = sorted(d for d in durations if not math.isnan(d))
    gap = 0.5 * _median(positive) if positive else 0.0
    waves = 1
    for previous, current in itertools.pairwise(clean):
        if current - previous > gap:
            waves += 1
    return waves


def peak_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """Most intervals open at the same instant (an interval ending at t and another starting
    at t do not overlap)."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        if math.isnan(start) or math.isnan(end):
            continue
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda event: (event[0], event[1]))
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


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


def _median(values: Sequence[float]) -> float:
    return percentile(values, 50)
