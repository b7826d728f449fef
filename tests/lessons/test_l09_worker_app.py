"""helpers.lessons.l09_worker_app: every endpoint stamps where and when it ran."""

from __future__ import annotations

import os

from helpers import serve
from helpers.lessons.l09_scaling import bodies_frame
from helpers.lessons.l09_worker_app import app
from tests.conftest import burst


def test_endpoints_report_pid_thread_and_times() -> None:
    with serve(app, trace=False, thread_limit=7) as server:
        sleep = bodies_frame(burst(server, "/sync_sleep", n=2, params={"seconds": 0.05}))
        hold = bodies_frame(burst(server, "/hold", n=1, params={"seconds": 0.01}))
        cpu = bodies_frame(burst(server, "/cpu", n=1, params={"limit": 2000}))
        who = bodies_frame(burst(server, "/whoami", n=1))
    for frame in (sleep, hold, cpu, who):
        assert (frame["pid"] == os.getpid()).all()
    assert (sleep["end"] - sleep["start"] >= 0.05).all()
    assert not sleep["on_loop"].any() and hold["on_loop"].all()
    assert (cpu["primes"] == 303).all() and (cpu["cpu_s"] > 0).all()
    assert (who["tokens"] == 7).all() and (hold["tokens"] == 7).all()


def test_parameters_are_bounded() -> None:
    with serve(app, trace=False) as server:
        run = burst(server, "/sync_sleep", n=1, params={"seconds": 31})
    assert (run.requests["status"] == 422).all()
