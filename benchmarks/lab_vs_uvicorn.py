"""Lab server vs plain uvicorn: is ``serve(app)`` as fast as uvicorn itself under keep-alive?

The same trivial endpoints are loaded, round by round, on a lab server
(``serve(app, trace=…)``) and on ``uvicorn.Server(uvicorn.Config(app, …)).run()`` in a
thread of this same process — the way a learner would start uvicorn by hand in a kernel.
The load keeps its connections open (``wrk -t 2 -c 50``, or the raw asyncio client where
wrk is missing), so a stall on reused connections (Nagle's algorithm meeting delayed
ACKs, ~40 ms per request) would show at once as a ratio far below 1.

The plain server runs the app with FastAPI's built-in telemetry switched off, as in a
process with no OpenTelemetry SDK installed (once a traced lab server has run, the kernel
has one, and every FastAPI app in it would otherwise create spans). With ``trace=True`` the
load sends no ``traceparent``, so the lab server creates FastAPI's spans but records none:
what any request that ``fire`` did not announce pays.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from benchmarks import tracing_cost
from benchmarks.rawclient import raw_throughput
from benchmarks.report import Result, Section, check, median
from benchmarks.tracing_cost import parse_wrk
from helpers import apps, serve

__all__ = ["TARGET", "PlainUvicorn", "measure"]

# lab ÷ plain requests/s. Untraced, the lab may cost a little, never a stall's worth; traced,
# FastAPI's spans cost what the tracing-cost rows allow (benchmarks/tracing_cost.py).
TARGET = {False: 0.8, True: tracing_cost.TARGET}
ENDPOINTS = ("/health_async", "/health_def")
PAUSE_S = 0.3


class _TelemetryOff:
    """ASGI wrapper that sets the scope key FastAPI checks before creating its spans."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["fastapi.telemetry"] = None
        await self.app(scope, receive, send)


class PlainUvicorn:
    """``uvicorn.Server(uvicorn.Config(app)).run()`` in a daemon thread on a free loopback
    port; ``stop()`` ends it."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        config = uvicorn.Config(
            _TelemetryOff(app), host="127.0.0.1", port=self.port, log_config=None,
            log_level="warning", access_log=False, lifespan="off", loop="asyncio",
            backlog=4096, timeout_keep_alive=5,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="plain-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("plain uvicorn did not start within 15 s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait (≤ 5 s) for its thread."""
        self._server.should_exit = True
        self._thread.join(5)


def _wrk(wrk: str, port: int, path: str, seconds: int, concurrency: int) -> float:
    command = [wrk, "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s"]
    done = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    )  # fmt: skip
    result = parse_wrk(done.stdout)
    if result.bad:
        raise RuntimeError(f"wrk saw {result.bad} bad responses/errors on {path}")
    return result.per_second


async def measure(rounds: int = 3, seconds: int = 3, concurrency: int = 50) -> Section:
    """Run the comparison and return its section of the report.

    ``rounds``: repeats per pair (median reported); ``seconds``: duration of each load;
    ``concurrency``: keep-alive connections.
    """
    wrk = shutil.which("wrk")
    how = (
        f"`wrk -t 2 -c {concurrency} -d {seconds}s`"
        if wrk
        else f"the raw asyncio client in this process ({concurrency} keep-alive connections; "
        "wrk is not installed: `make bench-deps`)"
    )
    section = Section(
        "Lab server vs plain uvicorn",
        (__doc__ or "").split("\n\n", 1)[1].strip()
        + f"\n\nEach load: {seconds} s with {how}; {rounds} round(s), the two servers taking "
        "turns (who goes first alternates); the ratio is lab ÷ plain requests/s per round, "
        "median shown with the per-round values in brackets.",
    )

    async def load(port: int, path: str) -> float:
        if wrk is not None:
            return await asyncio.to_thread(_wrk, wrk, port, path, seconds, concurrency)
        result = await raw_throughput(
            "127.0.0.1", port, path, concurrency=concurrency, seconds=seconds
        )
        if result.errors:
            raise RuntimeError(f"raw client saw {result.errors} non-200 responses on {path}")
        return result.per_second

    plain = PlainUvicorn(apps.demo_app(title="bench-plain-uvicorn"))
    try:
        for trace in (False, True):
            lab = serve(apps.demo_app(title=f"bench-lab-trace-{trace}"), trace=trace)
            try:
                for port in (lab.port, plain.port):  # warm-up: imports, route compilation
                    for path in ENDPOINTS:
                        await raw_throughput("127.0.0.1", port, path, concurrency=5, seconds=0.5)
                for path in ENDPOINTS:
                    await _compare(section, trace, path, lab.port, plain.port, load, rounds)
            finally:
                lab.stop()
    finally:
        plain.stop()
    return section


async def _compare(
    section: Section,
    trace: bool,
    path: str,
    lab_port: int,
    plain_port: int,
    load: Callable[[int, str], Awaitable[float]],
    rounds: int,
) -> None:
    name = f"lab server (trace={trace}) ÷ plain uvicorn thread, {path}"
    on_lab: list[float] = []
    on_plain: list[float] = []
    try:
        for r in range(rounds):
            pair = [(lab_port, on_lab), (plain_port, on_plain)]
            for port, into in pair if r % 2 == 0 else pair[::-1]:
                await asyncio.sleep(PAUSE_S)
                into.append(await load(port, path))
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
        section.results.append(
            Result(name, "not measured", f"≥ {TARGET}", "failed", f"{exc}"[:300])
        )
        return
    ratios = [lab / plain for lab, plain in zip(on_lab, on_plain, strict=True)]
    ratio = median(ratios)
    section.results.append(
        Result(
            name,
            f"{ratio:.2f} [{', '.join(f'{v:.2f}' for v in ratios)}]",
            f"≥ {TARGET[trace]}",
            check(ratio, at_least=TARGET[trace]),
            f"lab {median(on_lab):.0f} req/s, plain uvicorn {median(on_plain):.0f} req/s",
        )
    )
