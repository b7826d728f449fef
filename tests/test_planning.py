"""helpers.planning: Little's law arithmetic and its measured form."""

from __future__ import annotations

import pytest

from helpers import apps, serve
from helpers.planning import measured_little, replicas_needed, workers_needed
from tests.conftest import burst


def test_workers_needed_is_little_law_rounded_up() -> None:
    assert workers_needed(500, 0.25) == {"in_flight": 125.0, "workers": 4, "max_rps": 640.0}
    assert workers_needed(160, 0.5)["workers"] == 2  # exactly 80 in flight: no extra worker
    assert workers_needed(1, 0.001)["workers"] == 1


def test_replicas_cover_the_goal_with_headroom_and_spare() -> None:
    plan = replicas_needed(2000, 300, headroom=0.7, spare=1)
    assert plan["replicas_for_load"] * plan["usable_rps_each"] >= 2000
    assert plan["replicas"] == plan["replicas_for_load"] + 1


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [(workers_needed, {"target_rps": 0, "latency_s": 1}),
     (workers_needed, {"target_rps": 10, "latency_s": 1, "per_worker": 0}),
     (replicas_needed, {"target_rps": 10, "per_replica_rps": 5, "headroom": 1.5})],
)  # fmt: skip
def test_bad_inputs_are_rejected(call: object, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        call(**kwargs)  # type: ignore[operator]


def test_measured_in_flight_equals_lambda_times_w() -> None:
    with serve(apps.demo_app(title="planning")) as server:
        run = burst(server, "/sync_sleep", n=60, params={"seconds": 0.2})
    law = measured_little(run)
    assert law["in_flight_avg"] <= 40.5
    assert abs(law["in_flight_avg"] - law["lambda_times_w"]) <= 0.05 * law["in_flight_avg"] + 0.5
