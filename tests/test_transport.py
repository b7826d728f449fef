from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from helpers import serve
from helpers._transport import OneShotTransport


def app() -> FastAPI:
    application = FastAPI(title="transport")

    @application.post("/echo")
    async def echo(payload: dict[str, str]) -> dict[str, str]:
        return payload

    @application.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            for i in range(3):
                yield f"chunk{i};"

        return StreamingResponse(chunks())

    return application


async def request(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=OneShotTransport(), base_url=url) as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_body_headers_and_status_round_trip() -> None:
    with serve(app()) as server:
        response = asyncio.run(request(server.url, "POST", "/echo", json={"a": "b"}))
    assert response.status_code == 200
    assert response.json() == {"a": "b"}
    assert response.headers["content-type"] == "application/json"


def test_chunked_responses_are_read_whole() -> None:
    with serve(app()) as server:
        response = asyncio.run(request(server.url, "GET", "/stream"))
    assert response.text == "chunk0;chunk1;chunk2;"


def test_refused_connection_is_an_httpx_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError, match="cannot connect"):
        asyncio.run(request(f"http://127.0.0.1:{port}", "GET", "/"))
