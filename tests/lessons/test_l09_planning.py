"""helpers.lessons.l09_planning: Little's law arithmetic and its measured form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.lessons.l09_planning import replicas_needed, workers_needed


def test_workers_needed_is_little_law_rounded_up() -> None:
    assert workers_needed(500, 0.25) == {"in_flight": 125.0, "workers": 4, "max_rps": 640.0}
    assert workers_needed(160, 0.5)["workers"] == 2  # exactly 80 in flight: no extra worker
    assert workers_needed(1, 0.001)["workers"] == 1


def test_replicas_cover_the_goal_with_headroom_and_spare() -> None:
    plan = replicas_needed(2000, 300, headroom=0.7, spare=1)
    assert plan["replicas_for_load"] * plan["usable_rps_each"] >= 2000
    assert plan["replicas"] == plan["replicas_for_load"] + 1


rates = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)


@given(target=rates, each=rates, headroom=st.floats(min_value=0.01, max_value=1.0))
def test_replicas_always_cover_the_goal_and_none_is_wasted(
    target: float, each: float, headroom: float
) -> None:
    plan = replicas_needed(target, each, headroom=headroom, spare=0)
    assert plan["replicas_for_load"] * plan["usable_rps_each"] >= target
    if plan["replicas_for_load"] > 1:
        assert (plan["replicas_for_load"] - 1) * plan["usable_rps_each"] < target


@given(target=rates, latency=st.floats(min_value=1e-4, max_value=100.0), per=st.integers(1, 500))
def test_workers_always_sustain_the_goal(target: float, latency: float, per: int) -> None:
    plan = workers_needed(target, latency, per_worker=per)
    assert plan["max_rps"] >= target
    if plan["workers"] > 1:
        assert (plan["workers"] - 1) * per < plan["in_flight"]


def test_a_rate_rounding_down_for_display_does_not_cut_the_fleet() -> None:
    # 2000 / 25.32 = 78.99 → 79 replicas; rounding 25.32 to 25.3 gives 79 × 25.3 = 1998.7
    plan = replicas_needed(2000, 25.32, headroom=1.0, spare=1)
    assert plan["replicas_for_load"] == 79
    assert plan["replicas_for_load"] * plan["usable_rps_each"] >= 2000


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [(workers_needed, {"target_rps": 0, "latency_s": 1}),
     (workers_needed, {"target_rps": 10, "latency_s": 1, "per_worker": 0}),
     (replicas_needed, {"target_rps": 10, "per_replica_rps": 5, "headroom": 1.5})],
)  # fmt: skip
def test_bad_inputs_are_rejected(call: object, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        call(**kwargs)  # type: ignore[operator]
