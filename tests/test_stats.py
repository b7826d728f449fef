import math

import pytest

from helpers.stats import count_waves, peak_overlap, percentile


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
