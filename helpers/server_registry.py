"""One server per app in a kernel: re-serving an app (or a re-run of its cell) replaces it.

Re-running a cell builds a new app object with the same title and routes; ``app_key`` turns
that into the same key, so ``serve`` can stop the server left over from the previous run.
"""

from __future__ import annotations

import threading
from typing import Any

from helpers.stoppable import Stoppable

__all__ = ["app_key", "drop", "register", "registered", "take"]

_servers: dict[object, Stoppable] = {}
_lock = threading.Lock()


def app_key(app: Any) -> object:
    """What makes two app objects "the same app": type, title and (path, methods, endpoint)."""
    routes = getattr(app, "routes", None)
    if routes is None:
        return id(app)
    signature = []
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        signature.append(
            (
                getattr(route, "path", ""),
                tuple(sorted(getattr(route, "methods", None) or ())),
                getattr(endpoint, "__module__", ""),
                getattr(endpoint, "__qualname__", ""),
            )
        )
    return (type(app).__qualname__, getattr(app, "title", ""), tuple(signature))


def take(key: object) -> Stoppable | None:
    """Remove and return the server registered under ``key``, if any."""
    with _lock:
        return _servers.pop(key, None)


def register(key: object, server: Stoppable) -> None:
    """Record ``server`` as the one running for ``key``."""
    with _lock:
        _servers[key] = server


def drop(server: Stoppable) -> None:
    """Forget ``server`` under whatever key it was registered (a no-op if it was not)."""
    with _lock:
        for key, value in list(_servers.items()):
            if value is server:
                del _servers[key]


def registered() -> list[Stoppable]:
    """The servers registered now, oldest first."""
    with _lock:
        return list(_servers.values())
