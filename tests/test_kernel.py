import pytest

from helpers.kernel import measure_nest_asyncio


def test_nest_asyncio_swaps_the_c_task_for_the_python_one() -> None:
    result = measure_nest_asyncio(tasks=2_000, rounds=1)
    assert result["plain"]["c_task"] is True
    assert result["nest_asyncio"]["c_task"] is False
    assert float(str(result["plain"]["us_per_task"])) > 0


@pytest.mark.parametrize("tasks", [0, 999, 10**7, "many"])
def test_task_count_is_bounded(tasks: object) -> None:
    with pytest.raises(ValueError, match="tasks must be an int between"):
        measure_nest_asyncio(tasks=tasks)  # type: ignore[arg-type]


def test_rounds_are_bounded() -> None:
    with pytest.raises(ValueError, match="rounds must be an int between 1 and 10"):
        measure_nest_asyncio(tasks=2_000, rounds=0)
