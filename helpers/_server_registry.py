"""One server per app in a kernel: re-serving an app (or a re-run of its cell) replaces it.

Two app objects are "the same app" when they are the same object — even after routes were
added to it between two ``serve`` calls — or, for an app with a title of its own, when they
have the same type and title: re-running the cell that builds ``FastAPI(title="shop")``
makes a new object, and its server replaces the one the previous run left behind. Apps
without a title of their own (FastAPI's default ``"FastAPI"``, a bare Starlette app) are
matched by their routes instead, since a shared default title says nothing about them.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from helpers._stoppable import Stoppable

__all__ = ["app_key", "drop", "register", "registered", "take"]

DEFAULT_TITLES = frozenset({"", "FastAPI"})  # titles that do not name one app

_servers: dict[object, Stoppable] = {}
# The key each app object got the first time: an app keeps it when routes are added later.
_keys: dict[int, tuple[weakref.ref[Any], object]] = {}
_lock = threading.Lock()


def _route_signature(routes: Any) -> tuple[tuple[str, tuple[str, ...], str, str], ...]:
    signature = []
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        signature.append(
            (
                str(getattr(route, "path", "")),
                tuple(sorted(getattr(route, "methods", None) or ())),
                str(getattr(endpoint, "__module__", "")),
                str(getattr(endpoint, "__qualname__", "")),
            )
        )
    return tuple(signature)


def app_key(app: Any) -> object:
    """What makes two app objects "the same app" (see the module docstring).

    An app object seen before gets the key it got then, so adding a route between two
    ``serve(app)`` calls does not make it a different app.
    """
    with _lock:
        known = _keys.get(id(app))
        if known is not None and known[0]() is app:
            return known[1]
    title = getattr(app, "title", None)
    routes = getattr(app, "routes", None)
    key: object
    if isinstance(title, str) and title not in DEFAULT_TITLES:
        key = ("title", type(app).__qualname__, title)
    elif routes is not None:
        key = ("routes", type(app).__qualname__, _route_signature(routes))
    else:
        key = ("object", id(app))
    try:
        ref = weakref.ref(app)
    except TypeError:  # an object without weakref support keeps its identity key only
        return key
    with _lock:
        # A dead entry under a reused id() is replaced; live ones are few (one per app).
        _keys[id(app)] = (ref, key)
        for stale in [i for i, (r, _) in _keys.items() if r() is None]:
            del _keys[stale]
    return key


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
