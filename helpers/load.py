"""``fire``: send a burst of concurrent requests and collect what both sides saw."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json as jsonlib
import math
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeVar

import httpx

from helpers.collector import full_collections_deferred
from helpers.cpu_account import CpuWindow
from helpers.probes import Samples
from helpers.run import ClientRecord, Run, build_run
from helpers.server import Server
from helpers.tracing import COLLECTOR, RequestRecord
from helpers.transport import OneShotTransport

__all__ = ["MAX_REQUESTS", "fire"]

MAX_REQUESTS = 20_000
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PROGRESS_AFTER_S = 2.0
BODY_LIMIT = 2000
T = TypeVar("T")
Params = Mapping[str, Any] | Callable[[int], Mapping[str, Any]] | None


def _validate(
    server: Any, path: Any, n: Any, params: Any, json: Any, method: Any,
    concurrency: Any, timeout: Any,
) -> str:  # fmt: skip
    if isinstance(server, str):
        _check_loopback_url(server)
    elif not isinstance(server, Server):
        raise TypeError(
            f"server must be what serve(app) returned, or a loopback URL such as "
            f"'http://127.0.0.1:8000'; got {server!r}"
        )
    elif not server.running:
        raise ValueError(f"server {server.url} is stopped; start a new one with serve(app)")
    if not isinstance(path, str):
        raise TypeError(f"path must be a string such as '/items', got {path!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    try:
        httpx.URL("http://127.0.0.1" + path)
    except httpx.InvalidURL as exc:
        raise ValueError(f"path {path!r} is not a valid URL path ({exc})") from None
    for name, value, low in (("n", n, 1), ("concurrency", concurrency, 1)):
        if value is None and name == "concurrency":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be ≥ {low}, got {value}")
    if n > MAX_REQUESTS:
        raise ValueError(f"n must be ≤ {MAX_REQUESTS} (the lab's safety bound), got {n}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be > 0 seconds and finite, got {timeout}")
    if params is not None and not isinstance(params, Mapping) and not callable(params):
        raise TypeError(
            "params must be a mapping such as {'seconds': 0.5}, a function of the request "
            f"index returning one, or None; got {type(params).__name__}"
        )
    if json is not None:
        try:
            jsonlib.dumps(json)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"json must be JSON-serializable, got {json!r} ({exc})") from None
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method.upper()


def _check_loopback_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"server URL {url!r} is not a valid URL ({exc})") from None
    if parsed.scheme != "http" or not parsed.host:
        raise ValueError(f"server URL must look like 'http://127.0.0.1:PORT', got {url!r}")
    try:
        loopback = ipaddress.ip_address(parsed.host).is_loopback
    except ValueError:
        loopback = parsed.host == "localhost"
    if not loopback:
        raise ValueError(
            f"server URL {url!r} is not on this machine; the lab only sends bursts to "
            "loopback addresses (127.0.0.0/8, ::1, localhost)"
        )
    if parsed.path not in ("", "/") or parsed.query:
        raise ValueError(f"server URL must have no path or query (put those in path=), got {url!r}")


def _params_for(params: Params, index: int) -> Mapping[str, Any] | None:
    if params is None or isinstance(params, Mapping):
        return params
    value = params(index)
    if not isinstance(value, Mapping):
        raise TypeError(f"params({index}) must return a mapping, got {value!r}")
    return value


async def fire(
    server: Server | str,
    path: str,
    n: int = 100,
    params: Params = None,
    json: Any = None,
    method: str = "GET",
    concurrency: int | None = None,
    timeout: float = 30.0,
    *,
    progress: bool | None = None,
    label: str = "",
) -> Run:
    """Send ``n`` concurrent requests to ``server`` and return what happened as a ``Run``.

    Args:
        server: a running server from ``serve(app)`` — or the loopback URL of a server the
            lab did not start (e.g. ``uvicorn --workers 2`` in a subprocess), which gives
            client-side rows only: no spans, no lag or pool readings.
        path: URL path starting with ``/``.
        n: number of requests (1 … 20000).
        params: query parameters — a mapping, or a function ``index -> mapping`` to vary
            them per request.
        json: JSON body sent with every request.
        method: HTTP method.
        concurrency: at most this many requests in flight; ``None`` sends all at once.
        timeout: per-request limit in **seconds**; a request over it becomes a row with
            ``error`` set (the burst never raises halfway).
        progress: show a progress bar; by default one appears if the burst is still
            running after 2 s.
        label: a name for the run, used in plot titles.

    Every request goes over its own TCP connection (``helpers.transport``) so the client
    is not the bottleneck, and carries a W3C ``traceparent`` whose trace id joins it to
    the server's spans. No automatic *full* garbage collection starts during the burst
    (``helpers.collector``), so a walk over the notebook's history cannot freeze it; young
    collections of what the burst allocates run as usual.
    """
    method = _validate(server, path, n, params, json, method, concurrency, timeout)
    for i in range(min(n, 1) if callable(params) else 0):
        _params_for(params, i)  # fail fast on a bad params function, before any request
    trace_ids = [secrets.randbits(128) or 1 for _ in range(n)]
    target = server if isinstance(server, Server) else None
    base_url = target.url if target is not None else str(server).rstrip("/")
    traced = target is not None and target.trace
    records: list[RequestRecord] | None = COLLECTOR.expect(trace_ids) if traced else None
    clients: list[ClientRecord | None] = [None] * n
    # Build what every request shares once: httpx's client-side URL merging and JSON
    # encoding cost ~0.15 ms per request, which at n=1000 would be the client's bottleneck.
    fixed_url = httpx.URL(base_url + path, params=params) if not callable(params) else None
    base_headers = {"content-type": "application/json"} if json is not None else {}
    body = (
        jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        if json is not None
        else b""
    )

    def url_for(index: int) -> httpx.URL:
        return fixed_url or httpx.URL(base_url + path, params=_params_for(params, index))

    limit: AbstractAsyncContextManager[Any] = (
        asyncio.Semaphore(concurrency) if concurrency else nullcontext()
    )
    # A full collection walks the notebook's whole history (figures, tables, earlier runs)
    # and would freeze the burst for hundreds of ms: see helpers/collector.py.
    with full_collections_deferred():
        sampler = target.start_sampler() if target is not None else None
        if sampler is not None:
            # Give the probe a head start (≤ 1 s) so it runs before the first request lands;
            # a server loop that is blocked right now just gets the burst without the wait.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(sampler)), 1.0)
        # The transport is called directly: AsyncClient.send adds ~0.07 ms per request and an
        # INFO log line per request, which would flood a kernel that logs at INFO.
        transport = OneShotTransport()
        cpu = CpuWindow.open(target)
        t0 = time.perf_counter()
        try:

            async def one(index: int) -> None:
                async with limit:
                    headers = {
                        **base_headers,
                        "traceparent": f"00-{trace_ids[index]:032x}-{index + 1:016x}-01",
                    }
                    request = httpx.Request(method, url_for(index), headers=headers, content=body)
                    status: int | None = None
                    error: str | None = None
                    text: str | None = None
                    sent = time.perf_counter()
                    try:
                        response = await _within(transport.handle_async_request(request), timeout)
                        status = response.status_code
                        text = response.text[:BODY_LIMIT]
                    except asyncio.TimeoutError:
                        error = f"timed out after {timeout} s"
                    except (httpx.HTTPError, OSError) as exc:
                        error = f"{type(exc).__name__}: {exc}"
                    clients[index] = ClientRecord(
                        index, path, sent, time.perf_counter(), status, error, text
                    )

            await _run_all([one(i) for i in range(n)], progress)
            if records is not None:
                await _settle(records, clients, timeout)
            cpu.close()
        finally:
            await transport.aclose()
            samples = (
                await target.stop_sampler(sampler)
                if target is not None and sampler is not None
                else Samples()
            )
            COLLECTOR.release(trace_ids)
    done = [c for c in clients if c is not None]
    return build_run(
        done,
        records,
        samples,
        t0=t0,
        loop_thread_id=target.loop_thread_id if target is not None else None,
        thread_limit=target.thread_limit if target is not None else None,
        label=label,
        cpu=cpu,
    )


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """Await with a deadline; ``asyncio.timeout`` (3.11+) avoids ``wait_for``'s extra task."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


async def _run_all(coros: list[Any], progress: bool | None) -> None:
    tasks = [asyncio.ensure_future(c) for c in coros]
    watcher = asyncio.ensure_future(_progress(tasks, progress)) if progress is not False else None
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # Interrupted (Ctrl-C / kernel interrupt): cancel what is in flight and wait for it
        # so no connection or task outlives the cell.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


async def _progress(tasks: list[asyncio.Future[None]], progress: bool | None) -> None:
    if progress is None:
        await asyncio.sleep(PROGRESS_AFTER_S)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc="requests", unit="req", leave=False)
    try:
        while True:
            finished = sum(task.done() for task in tasks)
            bar.update(finished - bar.n)
            if finished == len(tasks):
                break
            await asyncio.sleep(0.1)
    finally:
        bar.close()


async def _settle(
    records: list[RequestRecord], clients: list[ClientRecord | None], timeout: float
) -> None:
    """Wait (≤ ``timeout`` s) until the app call has returned for every answered request:
    the response leaves before background tasks run and before the span processor has
    stamped the end of the request."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        pending = any(
            r.done is None or r.open_spans
            for r, c in zip(records, clients)
            if c is not None and c.status is not None and r.arrived is not None
        )
        if not pending:
            return
        await asyncio.sleep(0.01)
