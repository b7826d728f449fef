from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from helpers import Server, apps, serve
from tests.conftest import burst


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(apps.demo_app(processes=1, title="test_apps"), trace=False) as running:
        yield running


def test_burn_cpu_uses_about_the_cpu_time_asked_for() -> None:
    started = time.thread_time()
    iterations = apps.burn_cpu(0.05)
    used = time.thread_time() - started
    assert iterations > 0
    assert 0.05 <= used < 0.5


def test_count_primes_is_exact() -> None:
    assert apps.count_primes(30) == 10


ROUTES = ["/async_sleep", "/sync_sleep", "/blocking_in_async", "/cpu_async", "/cpu_def",
          "/cpu_to_thread", "/cpu_process"]  # fmt: skip


@pytest.mark.parametrize("path", ROUTES)
def test_every_variant_answers(server: Server, path: str) -> None:
    run = burst(server, path, n=1, params={"seconds": 0.01})
    assert (run.requests["status"] == 200).all(), run.requests["body"].tolist()


def test_durations_are_bounded_with_a_clear_error(server: Server) -> None:
    run = burst(server, "/async_sleep", n=1, params={"seconds": 1000})
    assert (run.requests["status"] == 422).all()
    assert "less than or equal to 30" in run.requests["body"].iloc[0]


@pytest.mark.parametrize("path", ["/health_async", "/health_def"])
def test_health_routes(server: Server, path: str) -> None:
    body = burst(server, path, n=1).requests["body"].iloc[0]
    assert json.loads(body) == {"status": "ok"}
