"""A minimal HTTP/1.1 client on bare asyncio sockets: the yardstick the other clients are
measured against.

It does only what a GET needs (write the request line and headers, read the headers and a
``Content-Length`` body), so its own cost per request is about as small as Python allows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

__all__ = ["Exchange", "Throughput", "makespan", "raw_burst", "raw_get", "raw_throughput"]

_HEADER_END = b"\r\n\r\n"


@dataclass
class Exchange:
    """One request as the raw client saw it; times are ``time.perf_counter()`` seconds."""

    sent: float
    received: float
    status: int
    body: bytes


@dataclass
class Throughput:
    """Requests answered in a fixed-duration load; ``seconds`` is the measured wall time."""

    requests: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Answered requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _request_bytes(
    host: str, port: int, path: str, headers: Mapping[str, str] | None, keep_alive: bool
) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(_HEADER_END)
    status_line, *header_lines = head[: -len(_HEADER_END)].split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def raw_get(
    host: str, port: int, path: str, headers: Mapping[str, str] | None = None
) -> Exchange:
    """Send one GET over a fresh connection (``Connection: close``) and read the answer.

    ``path`` includes the query string, e.g. ``/async_sleep?seconds=1``.
    """
    request = _request_bytes(host, port, path, headers, keep_alive=False)
    sent = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        status, body = await _read_response(reader)
    finally:
        writer.close()
    return Exchange(sent, time.perf_counter(), status, body)


async def raw_burst(
    host: str,
    port: int,
    path: str,
    n: int,
    *,
    concurrency: int | None = None,
    timeout: float = 60.0,
) -> list[Exchange]:
    """Send ``n`` GETs at once (or at most ``concurrency`` in flight), one connection each.

    ``timeout`` (seconds) bounds the whole burst; a request that fails raises.
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    limit: AbstractAsyncContextManager[Any] = (
        asyncio.Semaphore(concurrency) if concurrency else nullcontext()
    )

    async def one() -> Exchange:
        async with limit:
            return await raw_get(host, port, path)

    return list(await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), timeout))


def makespan(exchanges: list[Exchange]) -> float:
    """First send to last receive, in seconds."""
    return max(e.received for e in exchanges) - min(e.sent for e in exchanges)


async def raw_throughput(
    host: str,
    port: int,
    path: str,
    *,
    concurrency: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    max_requests: int = 1_000_000,
) -> Throughput:
    """Keep ``concurrency`` keep-alive connections busy for ``seconds`` (like ``wrk -c``).

    Each connection sends its next GET as soon as the previous answer is read; the load
    stops after ``seconds`` or ``max_requests`` answers, whichever comes first.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be ≥ 1, got {concurrency}")
    if not 0 < seconds <= 60:
        raise ValueError(f"seconds must be in (0, 60], got {seconds}")
    request = _request_bytes(host, port, path, headers, keep_alive=True)
    counts = {"ok": 0, "errors": 0}
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and counts["ok"] < max_requests:
                writer.write(request)
                status, _ = await _read_response(reader)
                counts["ok" if status == 200 else "errors"] += 1
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), seconds + 30.0)
    return Throughput(counts["ok"], counts["errors"], time.perf_counter() - started)
