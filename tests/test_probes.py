from __future__ import annotations

import asyncio
import time

import pytest

from helpers.probes import Sampler


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
