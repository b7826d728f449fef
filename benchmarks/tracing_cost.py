"""Tracing cost: how much throughput does ``serve(trace=True)`` give up?

The same trivial endpoints are loaded on a ``trace=False`` and a ``trace=True`` server,
taking turns round by round. Two load generators: ``wrk`` (a separate C process, so the
client costs the server nothing but CPU) and the raw asyncio client (in this process, as
``fire`` is in a notebook).

With ``trace=True`` FastAPI creates its OpenTelemetry spans for *every* request, but the
lab's span processor only records requests whose W3C ``traceparent`` trace id ``fire``
announced. So two header variants are measured: no header (span creation only — what
unrelated traffic pays) and a ``traceparent`` whose trace id is announced with
``COLLECTOR.expect`` (span creation + recording — what each of ``fire``'s requests pays;
all requests of the load then append to that one record, which costs the same per append).
The announced variant is the honest figure for ``fire``'s own requests; the no-header one
is what other traffic (a browser poking the server) pays.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from benchmarks.rawclient import raw_throughput
from benchmarks.report import Result, Section, check, median
from helpers import Server, apps, serve
from helpers._tracing import COLLECTOR

__all__ = ["TARGET", "WrkResult", "measure", "parse_wrk"]

TARGET = 0.5
ENDPOINTS = ("/health_async", "/health_def")
PAUSE_S = 0.3


@dataclass
class WrkResult:
    """``wrk``'s summary: requests per second and how many responses were not OK."""

    per_second: float
    requests: int
    bad: int


def parse_wrk(output: str) -> WrkResult:
    """Read ``Requests/sec``, the request count and non-2xx/socket errors from wrk's text."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"cannot find Requests/sec in wrk output: {output[-300:]!r}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    count = int(bad.group(1)) if bad else 0
    if errors:
        count += sum(int(g) for g in errors.groups())
    return WrkResult(float(rate.group(1)), int(total.group(1)), count)


def _wrk(
    wrk: str, server: Server, path: str, headers: Mapping[str, str], seconds: int
) -> WrkResult:
    url = f"http://127.0.0.1:{server.port}{path}"  # loopback only, never server.host
    command = [wrk, "-t", "2", "-c", "50", "-d", f"{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return parse_wrk(done.stdout)


Load = Callable[[Server, str, Mapping[str, str]], Awaitable[float]]


async def measure(rounds: int = 3, seconds: int = 3, concurrency: int = 50) -> Section:
    """Run the tracing-cost benchmark and return its section of the report.

    ``rounds``: repeats per variant (median reported); ``seconds``: duration of each load;
    ``concurrency``: open connections (wrk ``-c`` and the raw client alike).
    """
    section = Section(
        "Tracing cost",
        (__doc__ or "").split("\n\n", 1)[1].strip()
        + f"\n\nEach load: {seconds} s, {concurrency} keep-alive connections (wrk: "
        f"`wrk -t 2 -c {concurrency} -d {seconds}s`), {rounds} round(s) alternating the "
        "two servers; the ratio is traced ÷ untraced requests/s per round, median shown "
        "with the per-round values in brackets. Cost per request = 1/traced − 1/untraced "
        "throughput, in µs (the medians); a negative cost means the difference is inside the "
        "noise. The raw client runs in the server's process, so its own cost sits in both "
        "throughputs and dilutes the ratio (wrk does not).",
    )
    untraced = serve(apps.demo_app(title="bench-trace-off"), trace=False)
    traced = serve(apps.demo_app(title="bench-trace-on"), trace=True)
    trace_id = secrets.randbits(128) or 1
    announced = {"traceparent": f"00-{trace_id:032x}-{1:016x}-01"}
    record = COLLECTOR.expect([trace_id])[0]
    try:
        for server in (untraced, traced):  # warm-up: imports, route compilation
            for path in ENDPOINTS:
                await raw_throughput("127.0.0.1", server.port, path, concurrency=5, seconds=0.5)
        wrk = shutil.which("wrk")
        if wrk is None:
            section.results.append(
                Result(
                    "tracing cost (wrk)",
                    "not measured",
                    f"≥ {TARGET}",
                    "skipped",
                    "wrk is not installed (Debian: apt-get install -y wrk)",
                )
            )
        else:
            wrk_path = wrk

            async def by_wrk(server: Server, path: str, headers: Mapping[str, str]) -> float:
                result = await asyncio.to_thread(_wrk, wrk_path, server, path, headers, seconds)
                if result.bad:
                    raise RuntimeError(f"wrk saw {result.bad} bad responses/errors on {path}")
                return result.per_second

            for variant, headers in (("no traceparent", {}), ("announced traceparent", announced)):
                await _compare(
                    section, f"wrk, {variant}", by_wrk, untraced, traced, headers, rounds
                )

        async def by_raw(server: Server, path: str, headers: Mapping[str, str]) -> float:
            result = await raw_throughput(
                "127.0.0.1", server.port, path,
                concurrency=concurrency, seconds=seconds, headers=headers,
            )  # fmt: skip
            if result.errors:
                raise RuntimeError(f"raw client saw {result.errors} non-200 responses on {path}")
            return result.per_second

        await _compare(
            section, "raw client, announced traceparent", by_raw, untraced, traced, announced,
            rounds,
        )  # fmt: skip
        section.details.append(
            f"The announced trace id collected {len(record.spans)} spans over all "
            "announced-header loads, so the recording path was exercised."
        )
    finally:
        COLLECTOR.release([trace_id])
        untraced.stop()
        traced.stop()
    return section


async def _compare(
    section: Section,
    method: str,
    load: Load,
    untraced: Server,
    traced: Server,
    headers: Mapping[str, str],
    rounds: int,
) -> None:
    for path in ENDPOINTS:
        name = f"tracing cost {path} ({method}): traced ÷ untraced"
        off: list[float] = []
        on: list[float] = []
        try:
            for r in range(rounds):
                pair = [(untraced, off), (traced, on)]
                for server, into in pair if r % 2 == 0 else pair[::-1]:
                    await asyncio.sleep(PAUSE_S)
                    into.append(await load(server, path, headers))
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
            section.results.append(
                Result(name, "not measured", f"≥ {TARGET}", "failed", f"{exc}"[:300])
            )
            continue
        ratios = [t / u for t, u in zip(on, off, strict=True)]
        ratio = median(ratios)
        cost_us = (1 / median(on) - 1 / median(off)) * 1e6
        status = check(ratio, at_least=TARGET)
        note = f"untraced {median(off):.0f} req/s, traced {median(on):.0f} req/s"
        if status == "miss":
            note += "; tracing costs more than the untraced request itself"
        section.results.append(
            Result(
                name,
                f"{ratio:.2f} [{', '.join(f'{v:.2f}' for v in ratios)}]; "
                f"cost {cost_us:.0f} µs/request",
                f"≥ {TARGET}",
                status,
                note,
            )
        )
