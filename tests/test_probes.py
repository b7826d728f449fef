from __future__ import annotations

import asyncio
import time

import pytest

from helpers.probes import Sampler, Ticker


def test_lag_probe_sees_a_blocked_loop() -> None:
    async def scenario():  # type: ignore[no-untyped-def]
        sampler = Sampler(period=0.005)
        sampler.start()
        await asyncio.sleep(0.05)
        time.sleep(0.1)  # ⚠ blocks the event loop — on purpose
        await asyncio.sleep(0.03)
        return await sampler.stop()

    samples = asyncio.run(scenario())
    assert len(samples.t) >= 5
    assert max(samples.lag) >= 0.08
    assert samples.busy and max(samples.busy) == 0


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period must be > 0"):
        Sampler(period=0)


def test_ticker_ticks_every_period_and_reports_a_blocked_loop_as_late() -> None:
    ticks: list[tuple[float, float]] = []

    async def scenario() -> None:
        async with Ticker(0.005, lambda now, late: ticks.append((now, late))):
            await asyncio.sleep(0.05)
            time.sleep(0.1)  # ⚠ blocks the loop — on purpose
            await asyncio.sleep(0.02)
        count = len(ticks)
        await asyncio.sleep(0.02)
        assert len(ticks) == count, "the ticker kept ticking after it was stopped"

    asyncio.run(scenario())
    assert len(ticks) >= 5
    lates = [late for _, late in ticks]
    assert max(lates) >= 0.08
    assert sorted(lates)[len(lates) // 2] < 0.05  # most ticks on time, even on a busy machine
    with pytest.raises(ValueError, match="period must be > 0 seconds"):
        Ticker(0, lambda now, late: None)
