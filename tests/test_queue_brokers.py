"""benchmarks.queue_brokers' table, without starting a broker."""

from __future__ import annotations

from benchmarks.queue_brokers import Row, Sizes, render


def test_the_table_says_what_each_broker_did() -> None:
    sizes = Sizes(idle=20, burst=200, round_trips=50)
    rows = [
        Row(
            "fast",
            idle_ms=2.04,
            burst_done=200,
            burst_s=0.25,
            processes=2,
            redelivered=(True, False),
            redelivered_after_s=0.4,
            delay_ms=0.31,
            delay_get_ms=1.52,
        ),
        Row(
            "slow",
            idle_ms=913.0,
            burst_done=85,
            burst_s=60.0,
            processes=2,
            redelivered=(True, False),
            redelivered_after_s=12.1,
        ),
        Row("broken", error="RuntimeError: no PING"),
    ]
    lines = render(rows, sizes).splitlines()
    assert lines[0].startswith("| broker | idle latency | burst of 200 |")
    assert (
        lines[2]
        == "| fast | 2.0 ms | 800 jobs/s | 2 | yes (after 0.4 s) / lost | 0.3 ms | 1.5 ms |"
    )
    assert (
        lines[3] == "| slow | 913 ms | 85 of 200 in 60 s | 2 | yes (after 12.1 s) / lost | – | – |"
    )
    assert lines[4] == "| broken | – | – | – | – | – | – |"
    assert lines[-1] == "- broken: stopped early, RuntimeError: no PING"
