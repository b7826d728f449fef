"""Environment check for attendees: ``python -m helpers.doctor`` before the workshop.

Each check prints ✓ or ✗ with what was found and, on ✗, how to fix it. The exit status is
the number of failed checks (0 = ready), so a facilitator can script it too.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata as metadata
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Check", "main", "python_policy", "run_checks"]

SUPPORTED = ((3, 10), (3, 13))
PACKAGES = [
    "fastapi",
    "starlette",
    "uvicorn",
    "anyio",
    "httpx",
    "opentelemetry-sdk",
    "pandas",
    "matplotlib",
    "jupyterlab",
    "ipykernel",
    "ipywidgets",
    "nest-asyncio",
]


@dataclass
class Check:
    """One result: ``ok``, what was seen, and the fix to try when not ok."""

    name: str
    ok: bool
    found: str
    fix: str = ""


def python_policy(version: tuple[int, int, int] | None = None) -> Check:
    """The Python policy (README › Python versions) for ``version`` (default: this one).

    3.10–3.13 are tested. `make lab` refuses any other before installing, so a ✗ here means
    the lab was installed another way; the message says what to do. Lesson 00 prints
    ``python_policy().found``.
    """
    major, minor, micro = version or tuple(sys.version_info[:3])
    low, high = SUPPORTED
    tested = f"{low[0]}.{low[1]}–{high[0]}.{high[1]}"
    newest = f"{high[0]}.{high[1]}"
    found = f"{major}.{minor}.{micro}"
    if low <= (major, minor) <= high:
        return Check("Python version", True, f"Python {found}, tested (the lab tests {tested})")
    if (major, minor) > high:
        seen = f"untested Python {found} (the lab tests {tested}); if something fails, use {newest}"
    else:
        seen = f"Python {found} is older than the lab supports ({tested})"
    return Check(
        "Python version",
        False,
        seen,
        f"uv python install {newest}, then in the lab's folder: rm -rf .venv && "
        f'make lab PYTHON="$(uv python find {newest})" (README › Python versions)',
    )


def _packages() -> Check:
    missing, found = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    return Check(
        "lab packages",
        not missing,
        ", ".join(found) if not missing else f"missing: {', '.join(missing)}",
        "run `make lab` in the lab's folder (README › Quick start: pip, uv and conda routes)",
    )


def _fastapi_telemetry() -> Check:
    try:
        importlib.import_module("fastapi.telemetry")
    except ImportError:
        return Check(
            "FastAPI's OpenTelemetry spans",
            False,
            "fastapi.telemetry not found",
            "upgrade FastAPI: pip install -U 'fastapi>=0.162.5'",
        )
    return Check("FastAPI's OpenTelemetry spans", True, "fastapi.telemetry present")


def _loopback() -> Check:
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
            port = sock.getsockname()[1]
    except OSError as exc:
        return Check(
            "bind a port on 127.0.0.1",
            False,
            str(exc),
            "a firewall or sandbox blocks loopback servers; ask your IT team",
        )
    return Check("bind a port on 127.0.0.1", True, f"port {port} was free")


def _serve_and_fire() -> Check:
    from fastapi import FastAPI

    from helpers._load import fire
    from helpers._server import serve

    app = FastAPI(title="doctor")

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    try:
        with serve(app) as server:
            run = asyncio.run(fire(server, "/ping", n=5, progress=False))
    except Exception as exc:  # the doctor reports every failure instead of crashing
        return Check(
            "serve an app and fire a burst",
            False,
            f"{type(exc).__name__}: {exc}",
            "see README › Troubleshooting",
        )
    s = run.summary()
    traced = bool(run.requests["start"].notna().all())
    ok = s["ok"] == 5 and traced
    return Check(
        "serve an app and fire a burst",
        ok,
        f"{s['ok']}/5 answered, server-side spans {'seen' if traced else 'missing'}",
        "check that no other OpenTelemetry setup replaces the tracer provider",
    )


def _kernel() -> Check:
    # The kernel's own output (its "running over TCP without encryption" warning) goes to a
    # file instead of the report; its last line is shown only if the kernel fails to start.
    with tempfile.TemporaryFile("w+") as kernel_log:
        try:
            from jupyter_client.manager import start_new_kernel

            manager, client = start_new_kernel(
                kernel_name="python3", startup_timeout=60, stdout=kernel_log, stderr=kernel_log
            )
        except Exception as exc:  # no kernelspec, or the kernel cannot start
            kernel_log.seek(0)
            said = kernel_log.read().strip().splitlines()
            return Check(
                "Jupyter kernel with a running event loop",
                False,
                f"{exc}" + (f" (the kernel said: {said[-1]})" if said else ""),
                "python -m ipykernel install --user --name python3",
            )
        try:
            # output_hook: the default one prints the cell's result (the loop's repr) here
            reply = client.execute_interactive(
                "import asyncio; asyncio.get_running_loop()",
                timeout=30,
                store_history=False,
                output_hook=lambda message: None,
            )
            ok = reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return Check(
        "Jupyter kernel with a running event loop",
        ok,
        "top-level await will work" if ok else "the kernel has no running loop",
        "upgrade ipykernel: pip install -U 'ipykernel>=6.29'",
    )


# Open files a lesson's 1000-request burst holds: two per connection (both ends are in the
# kernel), plus a margin for what a kernel has open anyway.
LESSON_BURST_FILES = 2 * 1000 + 200


def _open_files() -> Check:
    name = "open-file limit (`ulimit -n`)"
    try:
        import resource
    except ImportError:
        return Check(name, True, "no per-process limit on this OS")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def shown(limit: int) -> str:
        return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)

    found = f"soft {shown(soft)}, hard {shown(hard)}"
    if hard == resource.RLIM_INFINITY or hard >= LESSON_BURST_FILES:
        enough = soft == resource.RLIM_INFINITY or soft >= LESSON_BURST_FILES
        note = "enough" if enough else "fire raises the soft limit when a burst needs it"
        return Check(name, True, f"{found}: {note}")
    return Check(
        name,
        False,
        f"{found}: the lessons' 1000-request bursts need about {LESSON_BURST_FILES} open files",
        f"start Jupyter from a terminal where `ulimit -n {LESSON_BURST_FILES}` works; raising "
        "the hard limit needs an administrator (Linux: `nofile` in "
        "/etc/security/limits.conf; macOS: `sudo launchctl limit maxfiles`)",
    )


def _widgets() -> Check:
    try:
        version = metadata.version("jupyterlab_widgets")
        importlib.import_module("ipywidgets")
    except (metadata.PackageNotFoundError, ImportError) as exc:
        return Check(
            "interactive widgets (playground)",
            False,
            str(exc),
            "pip install ipywidgets (JupyterLab 4 needs no extra build)",
        )
    return Check("interactive widgets (playground)", True, f"jupyterlab_widgets {version}")


def _proxy() -> Check:
    proxy = os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy")
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    if proxy and "127.0.0.1" not in no_proxy:
        return Check(
            "proxy settings",
            False,
            f"HTTP_PROXY={proxy}, NO_PROXY={no_proxy!r}",
            "export NO_PROXY=127.0.0.1,localhost (your own requests.get calls in "
            "cells would otherwise go through the proxy)",
        )
    return Check("proxy settings", True, "no proxy for 127.0.0.1")


def _queue_broker() -> Check:
    from helpers._broker_choice import REDIS_HOWTO, choose_broker

    name = "lesson 12's task-queue broker"
    try:
        choice = choose_broker()
    except (ValueError, RuntimeError) as error:
        return Check(name, False, str(error), f"unset LAB_BROKER, or install Redis: {REDIS_HOWTO}")
    found = choice.describe()
    if choice.kind == "embedded":
        found += f"; for the real one: {REDIS_HOWTO}"
    return Check(name, True, found)


CHECKS: list[Callable[[], Check]] = [
    python_policy,
    _packages,
    _fastapi_telemetry,
    _loopback,
    _serve_and_fire,
    _kernel,
    _widgets,
    _proxy,
    _open_files,
    _queue_broker,
]


def run_checks() -> list[Check]:
    """Run every check; a check that crashes is reported as failed, never raised."""
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as exc:  # a broken environment must still get a report
            results.append(Check(check.__name__.strip("_"), False, repr(exc), "see README"))
    return results


def main() -> int:
    """Print the report; return the number of failed checks."""
    results = run_checks()
    for result in results:
        mark = "✓" if result.ok else "✗"
        print(f"{mark} {result.name}: {result.found}")
        if not result.ok:
            print(f"    fix: {result.fix}")
    failed = sum(not r.ok for r in results)
    print("ready for the lab" if not failed else f"{failed} problem(s) to fix before the lab")
    return failed


if __name__ == "__main__":
    sys.exit(main())
