"""Which broker lesson 12 uses: ``LAB_BROKER``, ``LAB_REDIS_URL`` and what is installed.

Shared by ``helpers.doctor`` (which reports the choice) and ``helpers.lessons.l12_queue``
(which starts it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["BROKERS", "EMBEDDED_NAME", "REDIS_HOWTO", "BrokerChoice", "choose_broker"]

BROKERS = ("embedded", "redis")
EMBEDDED_NAME = "fakeredis TCP server"
REDIS_HOWTO = (
    "apt install redis-server · brew install redis · "
    "docker run -p 127.0.0.1:6379:6379 redis (then LAB_REDIS_URL=redis://127.0.0.1:6379/0)"
)


@dataclass(frozen=True)
class BrokerChoice:
    """Which broker lesson 12 uses (``kind``: "embedded" or "redis"), ``why``, and the URL
    of an existing Redis to use instead of starting one (``url``, from LAB_REDIS_URL)."""

    kind: str
    why: str
    url: str | None = None

    def describe(self) -> str:
        """One line for people: what runs and why."""
        if self.kind == "embedded":
            return f"embedded broker ({EMBEDDED_NAME}): {self.why}"
        where = self.url or "redis-server started by the lesson"
        return f"Redis ({where}): {self.why}"


def choose_broker(
    env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> BrokerChoice:
    """The broker for lesson 12: ``LAB_BROKER=embedded|redis``; unset → Redis when
    ``LAB_REDIS_URL`` is set or ``redis-server`` is on PATH, else the embedded one."""
    env = os.environ if env is None else env
    wanted = env.get("LAB_BROKER", "").strip().lower()
    if wanted not in ("", *BROKERS):
        raise ValueError(f"LAB_BROKER must be one of {BROKERS} or unset, got {wanted!r}")
    url = env.get("LAB_REDIS_URL") or None
    if wanted == "embedded":
        return BrokerChoice("embedded", "LAB_BROKER=embedded")
    if url:
        return BrokerChoice("redis", "LAB_REDIS_URL is set", url)
    if which("redis-server") is not None:
        why = "LAB_BROKER=redis" if wanted else "redis-server is on PATH"
        return BrokerChoice("redis", why)
    if wanted == "redis":
        raise RuntimeError(f"LAB_BROKER=redis but redis-server is not on PATH: {REDIS_HOWTO}")
    return BrokerChoice("embedded", "redis-server is not on PATH")
