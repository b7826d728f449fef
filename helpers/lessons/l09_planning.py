"""Capacity planning with Little's law, L = λ·W (lesson 09).

``L`` is how many requests are in the system at once, ``λ`` (lambda) how many finish per
second, ``W`` the mean time each one stays, in seconds. ``workers_needed`` and
``replicas_needed`` are the planning arithmetic: they compute; they measure nothing (the
lesson measures λ in the notebook).
"""

from __future__ import annotations

import math

__all__ = ["replicas_needed", "workers_needed"]


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be > 0 and finite, got {value}")


def _enough(total: float, each: float) -> int:
    """The smallest count ≥ 1 with ``count * each >= total``, exact in floating point (a
    plain ``ceil(total / each)`` can land one short, or one over, after rounding)."""
    count = max(1, math.ceil(total / each))
    while count * each < total:
        count += 1
    while count > 1 and (count - 1) * each >= total:
        count -= 1
    return count


def workers_needed(target_rps: float, latency_s: float, per_worker: int = 40) -> dict[str, float]:
    """How many requests must be in flight, and how many workers that takes.

    Args:
        target_rps: throughput to sustain, requests per second (λ).
        latency_s: time each request holds a slot, **seconds** (W).
        per_worker: slots one worker process has (40 anyio tokens for ``def`` endpoints).

    Returns ``in_flight`` (L = λ·W), ``workers`` (⌈L / per_worker⌉) and ``max_rps`` (what
    that many workers sustain: workers × per_worker ÷ W). Values are not rounded, so
    ``max_rps >= target_rps`` always holds; round them for display.
    """
    _positive("target_rps", target_rps)
    _positive("latency_s", latency_s)
    if isinstance(per_worker, bool) or not isinstance(per_worker, int) or per_worker < 1:
        raise ValueError(f"per_worker must be an int ≥ 1, got {per_worker!r}")
    in_flight = target_rps * latency_s
    workers = _enough(in_flight, per_worker)
    return {"in_flight": in_flight, "workers": workers,
            "max_rps": workers * per_worker / latency_s}  # fmt: skip


def replicas_needed(
    target_rps: float, per_replica_rps: float, headroom: float = 0.7, spare: int = 1
) -> dict[str, float]:
    """Machines (replicas) behind a load balancer for ``target_rps``.

    Args:
        target_rps: the whole service's throughput goal, requests per second.
        per_replica_rps: what one replica sustains at its limit, requests per second.
        headroom: the share of that limit you plan to use (queues grow fast near 100 %).
        spare: extra replicas so one can fail or be redeployed without overload.

    Returns ``usable_rps_each``, ``replicas_for_load`` and ``replicas`` (with spares).
    Values are not rounded, so ``replicas_for_load * usable_rps_each >= target_rps`` always
    holds; round them for display.
    """
    _positive("target_rps", target_rps)
    _positive("per_replica_rps", per_replica_rps)
    if not 0 < headroom <= 1:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    if isinstance(spare, bool) or not isinstance(spare, int) or spare < 0:
        raise ValueError(f"spare must be an int ≥ 0, got {spare!r}")
    usable = per_replica_rps * headroom
    for_load = _enough(target_rps, usable)
    return {"usable_rps_each": usable, "replicas_for_load": for_load,
            "replicas": for_load + spare}  # fmt: skip
