"""Shared fixtures: one demo server per test module, and a sync wrapper around fire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import Run, Server, apps, fire, serve


def burst(server: Server, path: str, **kwargs: Any) -> Run:
    """Run ``fire`` to completion from synchronous test code."""
    kwargs.setdefault("progress", False)
    return asyncio.run(fire(server, path, **kwargs))


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = serve(apps.demo_app(title="tests"))
    yield server
    server.stop()
