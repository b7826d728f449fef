"""StepLog / loop_switches / plot_steps: segments, turn-taking and the figure."""

from __future__ import annotations

import asyncio
import threading

import pytest

from helpers._plots import LabFigure
from helpers.lessons.l01_interleave import StepLog, loop_switches, plot_steps


async def _worker(log: StepLog, lane: str, rounds: int) -> None:
    for _ in range(rounds):
        log.mark(lane, "run")
        log.mark(lane, "await sleep")
        await asyncio.sleep(0.005)
    log.mark(lane, "return")


def _interleaved(lanes: int = 3, rounds: int = 3) -> StepLog:
    log = StepLog()

    async def main() -> None:
        await asyncio.gather(*(_worker(log, f"r{i}", rounds) for i in range(lanes)))

    asyncio.run(main())
    return log


def test_segments_join_consecutive_marks_of_a_lane() -> None:
    log = _interleaved(lanes=2, rounds=2)
    seg = log.segments()
    # per lane: run, await, run, await → 4 segments; the final "return" only closes one
    assert seg.groupby("lane").size().to_dict() == {"r0": 4, "r1": 4}
    assert (seg["end_ms"] >= seg["start_ms"]).all()
    assert seg.loc[seg["step"] == "await sleep", "running"].eq(False).all()
    assert seg.loc[seg["step"] == "run", "running"].all()
    assert log.lanes() == ["r0", "r1"]
    assert log.frame()["t_ms"].min() == 0.0


def test_coroutines_on_one_loop_take_turns() -> None:
    turns = loop_switches(_interleaved(lanes=3, rounds=3))
    assert turns["threads"] == 1
    assert turns["running_at_once"] == 1
    assert turns["in_flight"] == 3
    assert turns["switches"] > 2  # strictly one after another would switch twice


def test_lanes_run_one_after_another_switch_lanes_minus_one_times() -> None:
    log = StepLog()

    async def main() -> None:
        for i in range(3):
            await _worker(log, f"r{i}", 2)

    asyncio.run(main())
    turns = loop_switches(log)
    assert turns["switches"] == 2
    assert turns["in_flight"] == 1


def test_marks_record_the_calling_thread() -> None:
    log = StepLog()
    thread = threading.Thread(target=log.mark, args=("t", "run"))
    thread.start()
    thread.join()
    log.mark("t", "return")
    assert log.frame()["thread_id"].nunique() == 2
    log.clear()
    assert len(log) == 0


def test_plot_steps_draws_a_png_and_rejects_an_empty_log() -> None:
    fig = plot_steps(_interleaved(), title="turns", thread_names={}, durations=True)
    assert isinstance(fig, LabFigure)
    assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no marks"):
        plot_steps(StepLog())


def test_plot_steps_leaves_room_for_the_totals_right_of_the_bars() -> None:
    log = _interleaved()
    last = float(log.segments()["end_ms"].max())
    with_totals = plot_steps(log, durations=True).get_axes()[0].get_xlim()
    without = plot_steps(log).get_axes()[0].get_xlim()
    assert with_totals[1] >= 1.09 * last > without[1], (with_totals, without, last)
    assert with_totals[0] == without[0] == 0, "both start at the first mark"


def test_plot_steps_fits_the_notebook_width_with_readable_text() -> None:
    from helpers._plots import SMALL, WIDTH_IN
    from tests.test_plots import effective_sizes

    fig = plot_steps(_interleaved(lanes=4), title="turns", durations=True)
    assert fig.get_figwidth() == WIDTH_IN
    small = [(size, text) for size, text in effective_sizes(fig) if size < SMALL]
    assert not small, f"text under {SMALL} pt as shown: {small}"


def test_an_await_that_does_not_suspend_gives_no_turn() -> None:
    async def ready() -> None:
        return None

    async def worker(log: StepLog, lane: str, suspend: bool) -> None:
        for _ in range(3):
            log.mark(lane, "run")
            log.mark(lane, "await")
            await (asyncio.sleep(0) if suspend else ready())
        log.mark(lane, "return")

    def turns(suspend: bool) -> dict[str, int]:
        log = StepLog()

        async def main() -> None:
            await asyncio.gather(*(worker(log, f"r{i}", suspend) for i in range(3)))

        asyncio.run(main())
        return loop_switches(log)

    assert turns(suspend=False)["switches"] == 2, "each lane ran to its end before the next"
    assert turns(suspend=False)["in_flight"] == 1
    assert turns(suspend=True)["switches"] > 2, "sleep(0) yields: the lanes take turns"
