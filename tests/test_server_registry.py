"""server_registry: which app objects count as the same app, and one server per key."""

from __future__ import annotations

from fastapi import FastAPI

from helpers import server_registry
from helpers.stoppable import Stoppable


def build(title: str, path: str = "/ping") -> FastAPI:
    app = FastAPI(title=title)

    @app.get(path)
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


class Dummy(Stoppable):
    def stop(self) -> None:
        server_registry.drop(self)


def test_a_rebuilt_app_has_the_same_key() -> None:
    assert server_registry.app_key(build("a")) == server_registry.app_key(build("a"))


def test_title_and_routes_tell_apps_apart() -> None:
    key = server_registry.app_key(build("a"))
    assert server_registry.app_key(build("b")) != key
    assert server_registry.app_key(build("a", "/pong")) != key


def test_an_app_without_routes_is_keyed_by_identity() -> None:
    async def bare(scope: object, receive: object, send: object) -> None:
        return None

    assert server_registry.app_key(bare) == id(bare)


def test_take_register_and_drop_keep_one_server_per_key() -> None:
    first, second = Dummy(), Dummy()
    server_registry.register("k", first)
    assert first in server_registry.registered()
    assert server_registry.take("k") is first
    assert server_registry.take("k") is None
    server_registry.register("k", second)
    second.stop()
    assert second not in server_registry.registered()
    server_registry.drop(second)  # dropping twice is a no-op
