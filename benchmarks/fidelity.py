"""Fidelity: does ``fire`` draw the server's picture, or its own?

A burst of ``n`` requests to a 1 s ``async def`` endpoint should take about 1 s no matter
the client. Each client's makespan is divided by the makespan of the raw socket client
(``benchmarks.rawclient``) measured against the same server in the same round; clients
take turns and each round rotates who goes first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from benchmarks.rawclient import makespan, raw_burst
from benchmarks.report import Result, Section, check, median
from helpers import Server, apps, fire, serve
from helpers._collector import full_collections_deferred

__all__ = ["TARGETS", "measure"]

PATH = "/async_sleep"
TARGETS = {100: 1.10, 1000: 1.30}
PAUSE_S = 0.5  # between bursts, so closing sockets of one burst do not land in the next
BURST_TIMEOUT_S = 120.0


@dataclass
class Burst:
    """What one client's burst took: ``makespan`` (first send → last receive) and
    ``wall`` (the whole call, including setup and teardown), both in seconds."""

    makespan: float
    wall: float
    failed: int


async def _fire(server: Server, n: int, seconds: float) -> Burst:
    started = time.perf_counter()
    run = await fire(server, PATH, n=n, params={"seconds": seconds}, timeout=60.0, progress=False)
    wall = time.perf_counter() - started
    s = run.summary()
    return Burst(float(s["makespan_s"]), wall, int(s["failed"]))


async def _raw(server: Server, n: int, seconds: float) -> Burst:
    started = time.perf_counter()
    with full_collections_deferred():  # the same collector conditions as fire's bursts
        exchanges = await raw_burst(
            "127.0.0.1", server.port, f"{PATH}?seconds={seconds}", n, timeout=BURST_TIMEOUT_S
        )
    wall = time.perf_counter() - started
    return Burst(makespan(exchanges), wall, sum(e.status != 200 for e in exchanges))


async def _httpx_shared(server: Server, n: int, seconds: float) -> Burst:
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    stamps: list[tuple[float, float, int]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=None, limits=limits) as client:

        async def one() -> None:
            sent = time.perf_counter()
            response = await client.get(PATH, params={"seconds": seconds})
            stamps.append((sent, time.perf_counter(), response.status_code))

        with full_collections_deferred():  # the same collector conditions as fire's bursts
            await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), BURST_TIMEOUT_S)
    wall = time.perf_counter() - started
    span = max(r for _, r, _ in stamps) - min(s for s, _, _ in stamps)
    return Burst(span, wall, sum(status != 200 for _, _, status in stamps))


Client = Callable[[Server, int, float], Awaitable[Burst]]


async def measure(
    sizes: tuple[int, ...] = (100, 1000), rounds: int = 3, seconds: float = 1.0
) -> Section:
    """Run the fidelity benchmark and return its section of the report.

    ``sizes``: burst sizes (requests); ``rounds``: repeats per size (the median is
    reported); ``seconds``: how long the endpoint sleeps.
    """
    traced = serve(apps.demo_app(title="bench-fidelity-traced"), trace=True)
    untraced = serve(apps.demo_app(title="bench-fidelity-untraced"), trace=False)
    # (label, client, server): the first three share the traced server, as fire normally
    # runs; the last two compare fire(trace=False) with raw on an untraced server.
    clients: list[tuple[str, Client, Server]] = [
        ("fire", _fire, traced),
        ("raw", _raw, traced),
        ("httpx shared", _httpx_shared, traced),
        ("fire untraced", _fire, untraced),
        ("raw untraced", _raw, untraced),
    ]
    section = Section(
        "Fidelity",
        f"`n` concurrent GETs to `{PATH}?seconds={seconds}` (`async def`, `await "
        f"asyncio.sleep`). Ratio = client makespan ÷ raw-socket-client makespan against "
        "the same server, per round; the table shows the median over "
        f"{rounds} round(s) with the per-round values in brackets. Clients: `fire` "
        "(one TCP connection per request via `OneShotTransport`), `raw` "
        "(`asyncio.open_connection` per request, hand-written GET, reads headers + "
        "`Content-Length` body), `httpx shared` (one `httpx.AsyncClient` with "
        "`Limits(max_connections=None, max_keepalive_connections=None)`, fresh per "
        "burst). `fire`, `raw` and `httpx shared` hit one `serve(trace=True)` server; "
        "`fire untraced` and `raw untraced` hit a second, `serve(trace=False)`, server. "
        "Per-request overhead = (makespan − sleep) ÷ n; it holds the server's per-request "
        "work too, so the raw client's figure is the floor and the difference to it is the "
        "client's own cost. All clients run in this process, "
        "as `fire` does in a notebook kernel, so they share the GIL with the server thread, "
        "and all run with automatic full garbage collections deferred, as `fire` does "
        "(`helpers/_collector.py`).",
    )
    try:
        for _label, client, server in clients:  # warm-up: imports, route compilation
            await client(server, 5, 0.0)
        for n in sizes:
            spans: dict[str, list[float]] = {label: [] for label, _, _ in clients}
            walls: dict[str, list[float]] = {label: [] for label, _, _ in clients}
            failures: dict[str, int] = {label: 0 for label, _, _ in clients}
            for r in range(rounds):
                order = clients[r % len(clients) :] + clients[: r % len(clients)]
                for label, client, server in order:
                    await asyncio.sleep(PAUSE_S)
                    burst = await client(server, n, seconds)
                    spans[label].append(burst.makespan)
                    walls[label].append(burst.wall)
                    failures[label] += burst.failed
            _report(section, n, seconds, spans, walls, failures)
    finally:
        traced.stop()
        untraced.stop()
    return section


def _ratios(spans: dict[str, list[float]], client: str, base: str) -> tuple[float, str]:
    per_round = [c / b for c, b in zip(spans[client], spans[base], strict=True)]
    return median(per_round), ", ".join(f"{v:.3f}" for v in per_round)


def _report(
    section: Section,
    n: int,
    seconds: float,
    spans: dict[str, list[float]],
    walls: dict[str, list[float]],
    failures: dict[str, int],
) -> None:
    target = TARGETS.get(n)
    fire_ratio, fire_rounds = _ratios(spans, "fire", "raw")
    failed = {k: v for k, v in failures.items() if v}
    fail_note = f"failed requests: {failed}. " if failed else ""
    overhead = {k: (median(v) - seconds) / n * 1000 for k, v in spans.items()}
    if target is None:
        section.results.append(
            Result(f"fidelity n={n}: fire ÷ raw", f"{fire_ratio:.3f} [{fire_rounds}]")
        )
    else:
        status = check(fire_ratio, at_most=target)
        note = fail_note
        if status == "miss":
            note += (
                f"fire costs {overhead['fire']:.2f} ms per request vs raw "
                f"{overhead['raw']:.2f} ms (untraced: fire {overhead['fire untraced']:.2f}, "
                f"raw {overhead['raw untraced']:.2f} ms); the extra is client-side (httpx "
                "Client request building — URL merge/parse, cookies — plus h11 framing and "
                "asyncio.wait_for per request), on the one GIL the server thread also needs"
            )
        section.results.append(
            Result(
                f"fidelity n={n}: fire ÷ raw",
                f"{fire_ratio:.3f} [{fire_rounds}]",
                f"≤ {target:.2f}",
                status,
                note,
            )
        )
    for client, base, what in (
        ("fire untraced", "raw untraced", "fire(trace=False) ÷ raw, untraced server"),
        ("httpx shared", "raw", "one shared httpx.AsyncClient ÷ raw"),
    ):
        ratio, rounds = _ratios(spans, client, base)
        section.results.append(Result(f"fidelity n={n}: {what}", f"{ratio:.3f} [{rounds}]"))
    order = ["raw", "fire", "httpx shared", "raw untraced", "fire untraced"]
    section.results.append(
        Result(
            f"fidelity n={n}: overhead per request above the sleep",
            " · ".join(f"{k} {overhead[k]:.3f} ms" for k in order),
            note=(
                "(median makespan − sleep) ÷ n: client + server + loopback, serialized on "
                "one GIL; raw is the floor, so fire's own extra is "
                f"{overhead['fire'] - overhead['raw']:+.3f} ms traced, "
                f"{overhead['fire untraced'] - overhead['raw untraced']:+.3f} ms untraced"
            ),
        )
    )
    section.details += [
        f"n = {n}: median makespan / median wall time of the whole call, seconds",
        "",
        "| client | makespan (s) | per round | call wall time (s) |",
        "|---|---|---|---|",
        *(
            f"| {k} | {median(spans[k]):.3f} | {', '.join(f'{v:.3f}' for v in spans[k])} "
            f"| {median(walls[k]):.3f} |"
            for k in order
        ),
        "",
    ]
