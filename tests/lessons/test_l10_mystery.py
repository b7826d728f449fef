"""helpers.lessons.l10_mystery: each problem shows its fingerprint as shipped and loses it when
fixed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from helpers import Server, serve
from helpers.lessons.l10_mystery import PROBLEMS, mystery_app, route_source, upstream_app
from tests.conftest import burst


@pytest.fixture(scope="module")
def upstream() -> Iterator[Server]:
    server = serve(upstream_app())
    yield server
    server.stop()


def test_unknown_fix_is_rejected(upstream: Server) -> None:
    with pytest.raises(ValueError, match="fixed must name"):
        mystery_app(upstream.url, fixed={"typo"})


def test_route_source_shows_endpoint_and_dependencies(upstream: Server) -> None:
    text = route_source(mystery_app(upstream.url), "/catalog")
    assert "def catalog_as_shipped" in text and "def lookup_session_sync" in text
    assert "current_user_fixed" in route_source(
        mystery_app(upstream.url, fixed={"sync_dependency"}), "/catalog"
    )
    with pytest.raises(ValueError, match="no route"):
        route_source(mystery_app(upstream.url), "/nope")


def test_every_route_answers_as_shipped_and_fixed(upstream: Server) -> None:
    for fixed in (frozenset(), frozenset(PROBLEMS)):
        with serve(mystery_app(upstream.url, fixed=fixed)) as server:
            for path in ("/health", "/orders/1", "/catalog", "/quote/mug", "/report"):
                assert burst(server, path, n=2).summary()["ok"] == 2, (fixed, path)


def test_blocking_call_serializes_until_fixed(upstream: Server) -> None:
    with serve(mystery_app(upstream.url)) as shipped:
        assert burst(shipped, "/orders/1", n=6).summary()["peak_in_flight"] == 1
    with serve(mystery_app(upstream.url, fixed={"blocking_call"})) as fixed:
        assert burst(fixed, "/orders/1", n=6).summary()["peak_in_flight"] >= 3


def test_sync_dependency_uses_threads_until_fixed(upstream: Server) -> None:
    with serve(mystery_app(upstream.url)) as shipped:
        assert burst(shipped, "/catalog", n=50).summary()["peak_waiting"] >= 1
    with serve(mystery_app(upstream.url, fixed={"sync_dependency"})) as fixed:
        assert burst(fixed, "/catalog", n=50).summary()["peak_busy"] == 0


def test_shared_client_reuses_connections(upstream: Server) -> None:
    assert isinstance(upstream.app, FastAPI)
    peers = upstream.app.state.peers
    with serve(mystery_app(upstream.url)) as shipped:
        peers.clear()
        burst(shipped, "/quote/mug", n=12, concurrency=4)
        assert len(peers) == 12
    with serve(mystery_app(upstream.url, fixed={"client_per_request"})) as fixed:
        peers.clear()
        burst(fixed, "/quote/mug", n=12, concurrency=4)
        assert len(peers) <= 6
