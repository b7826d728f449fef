import math

import pytest

from helpers.stats import count_waves, open_over_time, peak_overlap, percentile, wave_numbers


def test_three_waves_of_forty() -> None:
    starts = [0.0 + i * 1e-4 for i in range(40)] + [0.5 + i * 1e-4 for i in range(40)]
    starts += [1.0 + i * 1e-4 for i in range(20)]
    assert count_waves(starts, [0.5] * 100) == 3


def test_one_wave_when_all_start_together() -> None:
    assert count_waves([0.001 * i for i in range(100)], [1.0] * 100) == 1


def test_back_to_back_handlers_are_separate_waves() -> None:
    starts = [i * 0.05 for i in range(10)]
    assert count_waves(starts, [0.05] * 10) == 10


def test_no_starts_means_no_waves() -> None:
    assert count_waves([], []) == 0
    assert count_waves([math.nan], [math.nan]) == 0


def test_peak_overlap_counts_open_intervals() -> None:
    assert peak_overlap([(0, 1), (0.5, 2), (1.5, 3)]) == 2
    assert peak_overlap([(0, 1), (1, 2)]) == 1
    assert peak_overlap([]) == 0


def test_percentile_interpolates_and_rejects_bad_q() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="q must be between 0 and 100"):
        percentile([1.0], 101)


def _pool_schedule(
    asked: list[float], durations: list[float], slots: int
) -> tuple[list[float], list[float]]:
    """Starts and ends of calls on ``slots`` slots, first come first served: a call starts
    when it asks if a slot is free, else the moment the earliest-ending running call ends."""
    free = [0.0] * slots
    starts, ends = [], []
    for ask, d in zip(asked, durations):
        free.sort()
        start = max(ask, free.pop(0))
        starts.append(start)
        ends.append(start + d)
        free.append(start + d)
    return starts, ends


def test_queued_calls_are_a_second_wave_even_when_starts_do_not_cluster() -> None:
    # lesson 05's /requests_def: 60 calls arrive over 0.47 s on 40 threads, 0.5 s each. The
    # first 40 start as they arrive, the 20 that queued start as those finish: handler
    # starts never pause long, so clustering them (the old definition) saw one wave
    asked = [0.008 * i for i in range(60)]
    starts, ends = _pool_schedule(asked, [0.5] * 60, 40)
    waves = wave_numbers(starts, ends, asked, capacity=40)
    assert waves == [1] * 40 + [2] * 20
    assert count_waves(starts, [0.5] * 60, asked, capacity=40) == 2


def test_a_call_that_waits_for_a_second_wave_call_is_in_the_third() -> None:
    # 2 slots: a short call in wave 2 hands its slot to the last queued call
    asked = [0.0] * 5
    starts, ends = _pool_schedule(asked, [1.0, 1.0, 0.2, 1.0, 1.0], 2)
    assert wave_numbers(starts, ends, asked, capacity=2) == [1, 1, 2, 2, 3]
    # without asks every call is taken to have asked at the first start, as in a burst
    assert wave_numbers(starts, ends) == [1, 1, 2, 2, 3]


def test_calls_that_never_queued_are_one_wave_however_spread() -> None:
    # a call every 0.3 s lasting 0.2 s: each asks after the previous ended, nothing queues
    starts = [0.3 * i for i in range(5)]
    ends = [s + 0.2 for s in starts]
    assert wave_numbers(starts, ends, starts, capacity=1) == [1] * 5
    # the same calls asked all at once on one slot: each waited for the previous
    back_to_back = [0.2 * i for i in range(5)]
    assert wave_numbers(back_to_back, [s + 0.2 for s in back_to_back], [0.0] * 5, capacity=1) == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_a_short_hand_off_on_a_free_pool_is_not_a_wave() -> None:
    # call 1 asks at 0.100 with 1 of 2 slots busy; call 0 happens to end at 0.1005, inside
    # call 1's 1 ms hand-off to its thread: that is no queue, so still wave 1
    starts, ends, asked = [0.0, 0.101], [0.1005, 0.3], [0.0, 0.100]
    assert wave_numbers(starts, ends, asked, capacity=2) == [1, 1]
    assert wave_numbers(starts, ends, asked, capacity=1) == [1, 2]


def test_wave_numbers_marks_calls_that_did_not_run_and_checks_its_input() -> None:
    assert wave_numbers([0.0, math.nan], [1.0, math.nan]) == [1, 0]
    with pytest.raises(ValueError, match="one entry per call"):
        wave_numbers([0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="capacity must be ≥ 1"):
        wave_numbers([0.0], [1.0], capacity=0)


def test_open_over_time_is_a_step_function_and_can_keep_intervals_open() -> None:
    times, counts = open_over_time([(0.0, 1.0), (0.5, math.nan)], open_ended=True)
    assert times == [0.0, 0.0, 0.5, 1.0] and counts == [0, 1, 2, 1]
    assert peak_overlap([(0.0, 1.0), (0.5, math.nan)]) == 1
    assert peak_overlap([(0.0, 1.0), (0.5, math.nan)], open_ended=True) == 2
