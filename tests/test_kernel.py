import pytest

from helpers.kernel import measure_nest_asyncio


def test_nest_asyncio_swaps_the_c_task_for_the_python_one() -> None:
    result = measure_nest_asyncio(tasks=2_000, rounds=3)
    assert result.plain["c_task"] is True
    assert result.patched["c_task"] is False
    assert len(result.pairs) == 3 and len(result.ratios) == 3
    assert all(plain > 0 and patched > 0 for plain, patched in result.pairs)
    assert result.us_per_task("plain") > 0
    assert min(result.ratios) <= result.slowdown <= max(result.ratios)


@pytest.mark.parametrize("tasks", [0, 999, 10**7, "many"])
def test_task_count_is_bounded(tasks: object) -> None:
    with pytest.raises(ValueError, match="tasks must be an int between"):
        measure_nest_asyncio(tasks=tasks)  # type: ignore[arg-type]


def test_rounds_are_bounded() -> None:
    with pytest.raises(ValueError, match="rounds must be an int between 1 and 15"):
        measure_nest_asyncio(tasks=2_000, rounds=0)


def test_a_probe_that_dies_is_reported_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("helpers.kernel._PROBE", "import sys; sys.exit('no asyncio here')")
    with pytest.raises(RuntimeError, match="plain asyncio probe exited early: no asyncio here"):
        measure_nest_asyncio(tasks=2_000, rounds=1)


def test_a_probe_that_hangs_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("helpers.kernel._PROBE", "import time; time.sleep(60)")
    monkeypatch.setattr("helpers.kernel._ANSWER_TIMEOUT_S", 0.5)
    with pytest.raises(RuntimeError, match=r"plain asyncio probe did not answer within 0\.5 s"):
        measure_nest_asyncio(tasks=2_000, rounds=1)


def test_a_probe_that_dies_mid_run_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = "import json; print(json.dumps({'task_class': 'x', 'c_task': True}), flush=True)"
    monkeypatch.setattr("helpers.kernel._PROBE", probe)
    with pytest.raises(RuntimeError, match="plain asyncio probe exited early"):
        measure_nest_asyncio(tasks=2_000, rounds=1)


def test_unknown_side_is_named() -> None:
    cost = measure_nest_asyncio(tasks=2_000, rounds=1)
    with pytest.raises(ValueError, match="side must be 'plain' or 'patched', got 'both'"):
        cost.us_per_task("both")
