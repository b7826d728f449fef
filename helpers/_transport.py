"""An httpx transport that opens one TCP connection per request: no pool, no cap.

Why not httpx's default transport: its connection pool (httpcore) scans every pooled
connection on every request, so one shared ``AsyncClient`` sending 1000 requests at once
spends seconds in the client, and its defaults cap a burst at 100 connections. A load tool
that is itself the bottleneck would draw a false picture of the server, so ``fire`` keeps
httpx's request/response API and swaps only the transport for this one: every request is
its own connection (like independent users), framed by ``h11``.
"""

from __future__ import annotations

import asyncio

import h11
import httpx

__all__ = ["OneShotTransport"]

_READ_SIZE = 65536


class OneShotTransport(httpx.AsyncBaseTransport):
    """Send each request over a fresh loopback connection and close it afterwards."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a new connection and read the whole response."""
        host = request.url.host
        port = request.url.port or 80
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        try:
            return await self._exchange(request, reader, writer)
        finally:
            writer.close()

    @staticmethod
    async def _exchange(
        request: httpx.Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> httpx.Response:
        connection = h11.Connection(h11.CLIENT)
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"connection"]
        headers.append((b"connection", b"close"))
        data = connection.send(
            h11.Request(method=request.method, target=request.url.raw_path, headers=headers)
        )
        if body:
            data = (data or b"") + (connection.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (connection.send(h11.EndOfMessage()) or b"")
        writer.write(data)
        await writer.drain()
        status = 0
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(_READ_SIZE))
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = list(event.headers)
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError(
                    "server closed the connection before the response ended", request=request
                )
        return httpx.Response(
            status, headers=response_headers, content=b"".join(chunks), request=request
        )
