"""server_registry: which app objects count as the same app, and one server per key."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette

from helpers import _server_registry as server_registry
from helpers import serve
from helpers._stoppable import Stoppable


def build(title: str | None, path: str = "/ping") -> FastAPI:
    app = FastAPI(title=title) if title is not None else FastAPI()

    @app.get(path)
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def add_route(app: FastAPI, path: str) -> None:
    @app.get(path)
    async def extra() -> dict[str, str]:
        return {"extra": "yes"}


class Dummy(Stoppable):
    def stop(self) -> None:
        server_registry.drop(self)


def test_a_rebuilt_app_has_the_same_key() -> None:
    assert server_registry.app_key(build("a")) == server_registry.app_key(build("a"))


def test_a_rebuilt_app_with_another_route_keeps_its_title_key() -> None:
    assert server_registry.app_key(build("a", "/pong")) == server_registry.app_key(build("a"))


def test_titles_tell_apps_apart() -> None:
    assert server_registry.app_key(build("b")) != server_registry.app_key(build("a"))


def test_untitled_apps_are_told_apart_by_their_routes() -> None:
    assert server_registry.app_key(build(None)) == server_registry.app_key(build(None))
    assert server_registry.app_key(build(None, "/pong")) != server_registry.app_key(build(None))


def test_an_app_keeps_its_key_when_a_route_is_added() -> None:
    for title in ("kept", None):
        app = build(title)
        key = server_registry.app_key(app)
        add_route(app, "/more")
        assert server_registry.app_key(app) == key, title


def test_an_app_without_routes_is_keyed_by_identity() -> None:
    async def bare(scope: object, receive: object, send: object) -> None:
        return None

    assert server_registry.app_key(bare) == server_registry.app_key(bare)

    async def other(scope: object, receive: object, send: object) -> None:
        return None

    assert server_registry.app_key(other) != server_registry.app_key(bare)
    assert server_registry.app_key(Starlette()) != server_registry.app_key(bare)


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


def test_serving_the_same_object_again_stops_the_old_server() -> None:
    app = build("registry: same object")
    first = serve(app)
    second = serve(app)
    try:
        assert not first.running and second.running
    finally:
        second.stop()


def test_serving_the_same_object_with_a_new_route_stops_the_old_server() -> None:
    # lesson 07 adds a route to a served app, then serves it again
    for title in ("registry: route added", None):
        app = build(title)
        first = serve(app)
        add_route(app, "/items")
        second = serve(app)
        try:
            assert not first.running and second.running, title
            assert server_registry.registered().count(second) == 1
        finally:
            second.stop()


def test_a_re_run_cell_with_the_same_title_stops_the_old_server() -> None:
    first = serve(build("registry: cell re-run"))
    second = serve(build("registry: cell re-run", "/renamed"))  # the cell was edited, then re-run
    other = serve(build("registry: another app"))
    try:
        assert not first.running and second.running and other.running
    finally:
        second.stop()
        other.stop()
