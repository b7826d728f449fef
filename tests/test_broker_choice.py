"""Lesson 12's broker choice: LAB_BROKER, LAB_REDIS_URL, and redis-server on PATH."""

from __future__ import annotations

import pytest

from helpers._broker_choice import BrokerChoice, choose_broker


@pytest.mark.parametrize(
    ("env", "which", "kind"),
    [
        ({}, "/usr/bin/redis-server", "redis"),
        ({}, None, "embedded"),
        ({"LAB_BROKER": "embedded"}, "/usr/bin/redis-server", "embedded"),
        ({"LAB_BROKER": "redis"}, "/usr/bin/redis-server", "redis"),
        ({"LAB_REDIS_URL": "redis://127.0.0.1:6379/0"}, None, "redis"),
    ],
)
def test_choose_broker(env: dict[str, str], which: str | None, kind: str) -> None:
    assert choose_broker(env, lambda _: which).kind == kind


def test_choose_broker_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="'rabbit'"):
        choose_broker({"LAB_BROKER": "rabbit"}, lambda _: None)
    with pytest.raises(RuntimeError, match="apt install redis-server"):
        choose_broker({"LAB_BROKER": "redis"}, lambda _: None)


def test_describe_names_the_broker_and_why() -> None:
    assert "fakeredis" in BrokerChoice("embedded", "no redis").describe()
    assert "LAB_REDIS_URL" in BrokerChoice("redis", "LAB_REDIS_URL is set", "redis://x").describe()
