import sys

import pytest

from helpers.kernel import (
    VARIANTS,
    debug_mode_warnings,
    measure_nest_asyncio,
    uvicorn_after_nest_asyncio,
)


def test_each_variant_patches_only_its_part() -> None:
    result = measure_nest_asyncio(tasks=2_000, rounds=3)
    assert list(result.seconds) == list(VARIANTS)
    c_task = {v: result.info[v]["c_task"] for v in VARIANTS}
    assert c_task == {"plain": True, "tasks": False, "loop": True, "both": False}
    nested = {v: result.info[v]["run_once"].startswith("nest_asyncio.") for v in VARIANTS}
    assert nested == {"plain": False, "tasks": False, "loop": True, "both": True}
    assert all(len(s) == 3 and min(s) > 0 for s in result.seconds.values())
    assert result.ratios("plain") == [1.0, 1.0, 1.0]
    both = result.ratios("both")
    assert min(both) <= result.slowdown("both") <= max(both)
    table = result.table()
    assert list(table.index) == list(VARIANTS)
    assert table.loc["tasks", "CPU µs per task"] == round(result.us_per_task("tasks"), 2)
    assert list(table["Task"]) == ["C", "Python", "C", "Python"]
    assert list(table["_run_once from"]) == ["asyncio", "asyncio", "nest_asyncio", "nest_asyncio"]


def test_the_task_swap_costs_more_than_the_loop_patch() -> None:
    # Generous on a shared machine: measured ~1.3–1.7× for the swap, ~1.0× for the loop.
    result = measure_nest_asyncio(tasks=20_000, rounds=5)
    assert result.slowdown("tasks") > result.slowdown("loop"), result.table()


@pytest.mark.parametrize("tasks", [0, 999, 10**7, "many", True])
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


def test_unknown_variant_is_named() -> None:
    cost = measure_nest_asyncio(tasks=2_000, rounds=1)
    with pytest.raises(ValueError, match=r"variant must be one of .* got 'all'"):
        cost.us_per_task("all")
    with pytest.raises(ValueError, match="got 'all'"):
        cost.slowdown("all")


def test_debug_mode_warns_of_a_slow_step_only_without_the_patch() -> None:
    plain = debug_mode_warnings(patched=False, block_s=0.2)
    patched = debug_mode_warnings(patched=True, block_s=0.2)
    assert plain.run_once == "asyncio.base_events.BaseEventLoop._run_once"
    assert len(plain.warnings) == 1 and "took 0.2" in plain.warnings[0], plain.warnings
    # The loop was created after apply(), in another thread, and still runs the patched code.
    assert patched.run_once.startswith("nest_asyncio._patch_loop")
    assert patched.warnings == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patched": 1}, "patched must be True or False, got 1"),
        ({"patched": True, "block_s": "long"}, "block_s must be a number of seconds"),
        ({"patched": True, "block_s": 0.1}, r"between 0\.15 and 2 s, got 0\.1"),
        ({"patched": True, "block_s": 5}, r"between 0\.15 and 2 s, got 5"),
    ],
)
def test_debug_probe_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        debug_mode_warnings(**kwargs)  # type: ignore[arg-type]


def test_uvicorn_after_nest_asyncio_depends_on_the_python_version() -> None:
    outcome = uvicorn_after_nest_asyncio()
    assert outcome["python"] == sys.version.split()[0]
    if sys.version_info >= (3, 12):
        assert not outcome["started"]
        assert "unexpected keyword argument 'loop_factory'" in outcome["error"]
    else:
        assert outcome["started"] and "error" not in outcome, outcome


def test_a_one_shot_probe_that_fails_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("helpers.kernel._UVICORN_PROBE", "raise SystemExit('no uvicorn')")
    with pytest.raises(RuntimeError, match="the probe failed: no uvicorn"):
        uvicorn_after_nest_asyncio()
