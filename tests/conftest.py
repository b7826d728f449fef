"""Shared fixtures: one demo server per test module, a sync wrapper around fire, and an
app whose routes record spans of their own with ``tracer.start_as_current_span``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI
from matplotlib.figure import Figure
from opentelemetry import trace
from pydantic import BaseModel, model_validator

from helpers import Run, Server, apps, fire, serve

tracer = trace.get_tracer("lab-tests")


def burst(server: Server, path: str, **kwargs: Any) -> Run:
    """Run ``fire`` to completion from synchronous test code."""
    kwargs.setdefault("progress", False)
    return asyncio.run(fire(server, path, **kwargs))


@pytest.fixture(scope="module")
def demo() -> Iterator[Server]:
    server = serve(apps.demo_app(title="tests"))
    yield server
    server.stop()


def legend_texts(fig: Figure, panel: int) -> list[str]:
    """The entries of the legend of ``fig.axes[panel]`` (fails when it has none)."""
    legend = fig.axes[panel].get_legend()
    assert legend is not None, f"panel {panel} has no legend"
    return [text.get_text() for text in legend.get_texts()]


def spans_app(title: str) -> FastAPI:
    """An app whose routes record spans of their own: ``/work`` (``async def``: a 10 ms
    ``step`` span, then a ``done`` span with attribute ``step.ok``), ``/sync`` (``def``: a
    20 ms ``dependency`` span in a ``def`` dependency, a 10 ms ``handler`` span, and a
    response model whose validator records ``validate`` on the thread that runs it) and
    ``/tasks`` (``async def``: a ``boom`` span that raises, a ``def`` background task with a
    10 ms ``task`` span, an ``async def`` one whose ``cancelled`` span is cancelled)."""

    class Answer(BaseModel):
        ok: bool

        @model_validator(mode="after")
        def note(self) -> Answer:
            with tracer.start_as_current_span("validate"):
                return self

    def blocking_dependency() -> None:
        with tracer.start_as_current_span("dependency"):
            time.sleep(0.02)

    def blocking_task() -> None:
        with tracer.start_as_current_span("task") as span:
            time.sleep(0.01)
            span.set_attribute("rows", 3)

    async def cancelled_task() -> None:
        async def stuck() -> None:
            with tracer.start_as_current_span("cancelled"):
                await asyncio.sleep(1)

        child = asyncio.ensure_future(stuck())
        await asyncio.sleep(0.005)
        child.cancel()
        await asyncio.gather(child, return_exceptions=True)

    app = FastAPI(title=title)

    @app.get("/work")
    async def work() -> dict[str, bool]:
        with tracer.start_as_current_span("step"):
            await asyncio.sleep(0.01)
        with tracer.start_as_current_span("done") as span:
            span.set_attribute("step.ok", True)
        return {"ok": True}

    # Declared in the decorator: FastAPI resolves string annotations (this module has
    # `from __future__ import annotations`) in module globals, where these locals are not.
    @app.get("/sync", response_model=Answer, dependencies=[Depends(blocking_dependency)])
    def sync() -> Any:
        with tracer.start_as_current_span("handler"):
            time.sleep(0.01)
        return Answer(ok=True)

    @app.get("/tasks")
    async def tasks(background: BackgroundTasks) -> dict[str, bool]:
        try:
            with tracer.start_as_current_span("boom"):
                raise ValueError("on purpose")
        except ValueError:
            pass
        background.add_task(blocking_task)
        background.add_task(cancelled_task)
        return {"ok": True}

    return app
