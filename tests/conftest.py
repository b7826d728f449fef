"""Shared fixtures: one demo server per test module, a sync wrapper around fire, and an
app whose routes write into an ``EventLog``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, model_validator

from helpers import Run, Server, apps, fire, serve
from helpers.events import EventLog


def burst(server: Server, path: str, **kwargs: Any) -> Run:
    """Run ``fire`` to completion from synchronous test code."""
    kwargs.setdefault("progress", False)
    return asyncio.run(fire(server, path, **kwargs))


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = serve(apps.demo_app(title="tests"))
    yield server
    server.stop()


def events_app(log: EventLog, title: str) -> FastAPI:
    """An app whose routes write into ``log``: ``/work`` (``async def``: a 10 ms ``step``
    span, then a ``done`` instant) and ``/sync`` (``def``: a 20 ms ``dependency`` span in a
    ``def`` dependency, a 10 ms ``handler`` span, and a response model whose validator
    records ``validate`` on the thread that runs it)."""

    class Answer(BaseModel):
        ok: bool

        @model_validator(mode="after")
        def note(self) -> Answer:
            log.record_current("validate")
            return self

    def blocking_dependency(request: Request) -> None:
        with log.span(request, "dependency"):
            time.sleep(0.02)

    app = FastAPI(title=title)

    @app.get("/work")
    async def work(request: Request) -> dict[str, bool]:
        with log.span(request, "step"):
            await asyncio.sleep(0.01)
        log.record(request, "step", "done")
        return {"ok": True}

    # Declared in the decorator: FastAPI resolves string annotations (this module has
    # `from __future__ import annotations`) in module globals, where these locals are not.
    @app.get("/sync", response_model=Answer, dependencies=[Depends(blocking_dependency)])
    def sync(request: Request) -> Any:
        with log.span(request, "handler"):
            time.sleep(0.01)
        return Answer(ok=True)

    return app
