"""The ASGI wrapper ``serve`` puts in front of a learner's app, so their endpoints stay untouched.

With tracing on it stamps, on the request's span record, when an announced request reaches
the app and when the app call returns (after background tasks). With tracing off it makes
FastAPI skip its built-in telemetry, so an untraced server pays nothing for spans.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from helpers._tracing import COLLECTOR

__all__ = ["ASGIApp", "RecordingApp"]

ASGIApp = Callable[..., Awaitable[None]]
Scope = MutableMapping[str, Any]

_TRACEPARENT = b"traceparent"


class RecordingApp:
    """Wrap ``app``; ``trace`` says whether requests are stamped or telemetry is switched off.

    Switching off sets the scope key FastAPI checks before its own spans
    (``fastapi/applications.py``: ``"fastapi.telemetry" in scope``).
    """

    def __init__(self, app: ASGIApp, *, trace: bool) -> None:
        self.app = app
        self.trace = trace

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.trace:
            scope["fastapi.telemetry"] = None
            await self.app(scope, receive, send)
            return
        record = None
        for name, value in scope["headers"]:
            if name == _TRACEPARENT:
                record = _record_for(value)
                break
        if record is None or record.arrived is not None:
            # Not announced, or a second lab server the request's trace context was passed
            # on to (an upstream call): the request's own arrival and end stay the first.
            await self.app(scope, receive, send)
            return
        record.arrived = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            record.done = time.perf_counter()


def _record_for(traceparent: bytes) -> Any:
    """The collector's record for a W3C ``traceparent`` header, or ``None`` if malformed."""
    parts = traceparent.split(b"-")
    if len(parts) != 4:
        return None
    try:
        return COLLECTOR.get(int(parts[1], 16))
    except ValueError:
        return None
