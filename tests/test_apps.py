from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from helpers import apps


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
def test_every_variant_answers(path: str) -> None:
    with TestClient(apps.demo_app(processes=1)) as client:
        response = client.get(path, params={"seconds": 0.01})
    assert response.status_code == 200, response.text


def test_durations_are_bounded_with_a_clear_error() -> None:
    with TestClient(apps.demo_app()) as client:
        response = client.get("/async_sleep", params={"seconds": 1000})
    assert response.status_code == 422
    assert "less than or equal to 30" in response.text


def test_health_routes() -> None:
    with TestClient(apps.demo_app()) as client:
        assert client.get("/health_async").json() == {"status": "ok"}
        assert client.get("/health_def").json() == {"status": "ok"}
