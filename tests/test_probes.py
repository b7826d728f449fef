from __future__ import annotations

import asyncio
import time

import pytest

from helpers._probes import Sampler, Samples, Ticker


def test_lag_probe_sees_a_blocked_loop() -> None:
    async def scenario() -> Samples:
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


def test_a_freeze_at_the_very_end_is_recorded_by_stop() -> None:
    """The burst ends on a freeze and stop() runs before the late tick could: stop() takes
    the overdue reading itself, so the freeze is not lost."""
    ticks: list[tuple[float, float]] = []

    async def scenario() -> None:
        ticker = Ticker(0.005, lambda now, late: ticks.append((now, late)))
        ticker.start()
        await asyncio.sleep(0.03)
        time.sleep(0.2)  # ⚠ blocks the event loop — on purpose
        await ticker.stop()  # no await before this: the ticker had no chance to wake

    asyncio.run(scenario())
    assert ticks[-1][1] >= 0.19, f"the last reading should show the 200 ms freeze: {ticks[-3:]}"


def test_stop_between_ticks_adds_no_reading() -> None:
    ticks: list[tuple[float, float]] = []

    async def scenario() -> None:
        ticker = Ticker(10.0, lambda now, late: ticks.append((now, late)))
        ticker.start()
        await asyncio.sleep(0.02)
        await ticker.stop()

    asyncio.run(scenario())
    assert len(ticks) == 1, f"only the first tick was due: {ticks}"
