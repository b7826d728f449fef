"""SimulatedUpstream, its gauge, exception_leaves and the fan-out figure."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from helpers.fanout import (
    SimulatedUpstream,
    bytes_per_waiting_task,
    exception_leaves,
    plot_fanout,
)
from helpers.plots import LabFigure


def test_capacity_refuses_and_gauge_reports() -> None:
    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        upstream = SimulatedUpstream(latency_s=0.005, capacity=10)
        async with upstream.watch() as gauge:
            results = await asyncio.gather(
                *(upstream.call(i) for i in range(50)), return_exceptions=True
            )
        gate = asyncio.Semaphore(5)

        async def bounded(i: int) -> int:
            async with gate:
                return await upstream.call(i)

        async with upstream.watch() as bounded_gauge:
            bounded_results = await asyncio.gather(*(bounded(i) for i in range(50)))
        return gauge.report(results), bounded_gauge.report(bounded_results)

    loose, tight = asyncio.run(main())
    assert loose["peak_calls"] == 50 and loose["refused"] == 40 and loose["ok"] == 10
    assert loose["other_errors"] == 0 and loose["peak_tasks"] >= 50
    assert tight["peak_calls"] <= 5 and tight["refused"] == 0 and tight["ok"] == 50


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="latency_s"):
        SimulatedUpstream(latency_s=0)
    with pytest.raises(ValueError, match="capacity"):
        SimulatedUpstream(capacity=0)
    with pytest.raises(ValueError, match="count"):
        asyncio.run(bytes_per_waiting_task(0))


def test_bytes_per_waiting_task_is_positive() -> None:
    assert 100 < asyncio.run(bytes_per_waiting_task(200)) < 100_000


def test_exception_leaves_plain() -> None:
    error = ValueError("x")
    assert exception_leaves(error) == [error]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_leaves_flattens_groups() -> None:
    a, b, c = ValueError("a"), KeyError("b"), TypeError("c")
    group = ExceptionGroup("outer", [a, ExceptionGroup("inner", [b, c])])  # noqa: F821
    assert exception_leaves(group) == [a, b, c]


def test_plot_fanout() -> None:
    async def main() -> Any:
        upstream = SimulatedUpstream(latency_s=0.005, capacity=3)
        async with upstream.watch() as gauge:
            await asyncio.gather(*(upstream.call(i) for i in range(6)), return_exceptions=True)
        return gauge

    gauge = asyncio.run(main())
    fig = plot_fanout([gauge], titles=["one"], capacity=3, title="t")
    assert isinstance(fig, LabFigure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="titles"):
        plot_fanout([gauge], titles=[])
