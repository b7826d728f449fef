"""Lesson 10 (capstone): a service with hidden concurrency problems, and their fixes.

``mystery_app(upstream_url)`` builds the service as shipped; ``fixed={...}`` switches on
the fix for each named problem (see ``PROBLEMS``), so a notebook can measure before and
after. ``upstream_app()`` is the pricing service it calls. ``route_source`` prints the
code behind a route (endpoint and dependencies), the way a learner would read it.

Every slow call here is a stand-in with a fixed duration (``time.sleep`` for a blocking
driver or SDK, ``asyncio.sleep`` for its async version), so the effects are reproducible.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

__all__ = ["PROBLEMS", "REPORT_QUERY_S", "Report", "mystery_app", "route_source", "upstream_app"]

PROBLEMS = ("blocking_call", "sync_dependency", "client_per_request", "response_model")
ORDER_QUERY_S = 0.05
SESSION_LOOKUP_S = 0.2
PRICE_DELAY_S = 0.05
REPORT_QUERY_S = 0.3
REPORT_LINES = 20


# --- the pricing service the mystery service calls --------------------------------------


def upstream_app() -> FastAPI:
    """The pricing service: ``/price/{sku}`` answers after 50 ms. ``app.state.peers`` is the
    set of client ``(host, port)`` pairs seen — one per TCP connection opened to it."""
    app = FastAPI(title="capstone: pricing upstream")
    app.state.peers = set()

    @app.get("/price/{sku}", response_model=None)
    async def price(sku: str, request: Request) -> dict[str, Any]:
        if request.client is not None:
            app.state.peers.add((request.client.host, request.client.port))
        await asyncio.sleep(PRICE_DELAY_S)
        return {"sku": sku, "price": 10 + len(sku)}

    return app


# --- stand-ins for the service's slow dependencies --------------------------------------


def fetch_order_sync(order_id: int) -> dict[str, Any]:
    """The orders database through a synchronous driver: blocks its thread for 50 ms."""
    time.sleep(ORDER_QUERY_S)
    return {"order_id": order_id, "status": "shipped"}


def lookup_session_sync(token: str) -> str:
    """The session store's synchronous SDK: blocks its thread for 200 ms."""
    time.sleep(SESSION_LOOKUP_S)
    return f"user-{len(token)}"


async def lookup_session(token: str) -> str:
    """The session store's async SDK: waits 200 ms without holding a thread."""
    await asyncio.sleep(SESSION_LOOKUP_S)
    return f"user-{len(token)}"


def load_report_sync() -> list[dict[str, Any]]:
    """The reporting database through a synchronous driver: 300 ms, then the rows."""
    time.sleep(REPORT_QUERY_S)
    return [{"sku": f"sku-{i}", "units": i, "revenue": i * 1.5} for i in range(REPORT_LINES)]


class Line(BaseModel):
    sku: str
    units: int
    revenue: float


class Report(BaseModel):
    """The response model of ``/report``: validated and serialized by FastAPI."""

    lines: list[Line]


# --- routes, as shipped and fixed -------------------------------------------------------


async def order_as_shipped(order_id: int) -> dict[str, Any]:
    return fetch_order_sync(order_id)  # ⚠ a blocking driver inside async def — on purpose


async def order_fixed(order_id: int) -> dict[str, Any]:
    return await run_in_threadpool(fetch_order_sync, order_id)


def current_user_as_shipped(token: str = "demo-token") -> str:
    return lookup_session_sync(token)  # ⚠ holds a worker thread for 200 ms — on purpose


async def current_user_fixed(token: str = "demo-token") -> str:
    return await lookup_session(token)


async def catalog_as_shipped(user: str = Depends(current_user_as_shipped)) -> dict[str, Any]:
    return {"user": user, "items": ["kettle", "teapot", "mug"]}


async def catalog_fixed(user: str = Depends(current_user_fixed)) -> dict[str, Any]:
    return {"user": user, "items": ["kettle", "teapot", "mug"]}


async def quote_as_shipped(sku: str, request: Request) -> dict[str, Any]:
    # ⚠ a new client (SSL context, connection pool) for every request — on purpose
    async with httpx.AsyncClient(base_url=request.app.state.upstream_url) as client:
        reply = await client.get(f"/price/{sku}")
    return {"sku": sku, "price": reply.json()["price"]}


async def quote_fixed(sku: str, request: Request) -> dict[str, Any]:
    reply = await request.app.state.client.get(f"/price/{sku}")
    return {"sku": sku, "price": reply.json()["price"]}


def report_as_shipped() -> Report:
    # ⚠ a def endpoint with a response model: validation takes a second thread — on purpose
    return Report.model_validate({"lines": load_report_sync()})


async def report_fixed() -> Report:
    rows = await run_in_threadpool(load_report_sync)
    return Report.model_validate({"lines": rows})


def mystery_app(upstream_url: str, fixed: Collection[str] = frozenset()) -> FastAPI:
    """The capstone service. ``upstream_url``: base URL of ``upstream_app()``; ``fixed``:
    names from ``PROBLEMS`` whose fix is switched on (the rest stay as shipped)."""
    unknown = set(fixed) - set(PROBLEMS)
    if unknown:
        raise ValueError(f"fixed must name problems from {PROBLEMS}, got {sorted(unknown)}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=upstream_url, trust_env=False) as client:
            app.state.client = client  # one pooled client for the app's lifetime
            yield

    name = ", ".join(sorted(fixed)) or "as shipped"
    app = FastAPI(title=f"capstone: mystery service ({name})", lifespan=lifespan)
    app.state.upstream_url = upstream_url

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    def pick(problem: str, shipped: Any, fix: Any) -> Any:
        return fix if problem in fixed else shipped

    app.get("/health", response_model=None)(health)
    app.get("/orders/{order_id}", response_model=None)(
        pick("blocking_call", order_as_shipped, order_fixed))  # fmt: skip
    app.get("/catalog", response_model=None)(
        pick("sync_dependency", catalog_as_shipped, catalog_fixed))  # fmt: skip
    app.get("/quote/{sku}", response_model=None)(
        pick("client_per_request", quote_as_shipped, quote_fixed))  # fmt: skip
    app.get("/report")(pick("response_model", report_as_shipped, report_fixed))
    return app


def route_source(app: FastAPI, path: str) -> str:
    """The source code behind ``path`` in ``app``: its endpoint, then the functions it
    depends on (``Depends``) and calls from this module, as text."""
    for route in app.routes:
        if getattr(route, "path", None) == path:
            endpoint = getattr(route, "endpoint")  # noqa: B009 — not every route type has it
            break
    else:
        paths = [getattr(r, "path", "?") for r in app.routes]
        raise ValueError(f"no route {path!r} in the app; it has {paths}")
    functions = [endpoint]
    for parameter in inspect.signature(endpoint).parameters.values():
        dependency = getattr(parameter.default, "dependency", None)
        if dependency is not None:
            functions.append(dependency)
    for function in list(functions):
        for name in function.__code__.co_names:
            called = globals().get(name)
            if inspect.isfunction(called) and called.__module__ == __name__:
                functions.append(called)
    unique = list(dict.fromkeys(functions))
    return "\n".join(inspect.getsource(function) for function in unique)
