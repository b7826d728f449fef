"""Run a learner's ASGI app under a real uvicorn server in a background thread.

``serve(app)`` binds 127.0.0.1 on a free port, starts uvicorn in a daemon thread with its
own event loop (so the notebook's loop stays free to send requests), and returns once the
server has finished startup. The handle stops the server within a bounded time, even when
a handler is stuck.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import ipaddress
import logging
import socket
import threading
import time
import warnings
from typing import Any

import anyio.to_thread
import uvicorn

from helpers import _server_registry as server_registry
from helpers._open_files import ACCEPT_FAILED, note_accept_failure
from helpers._probes import Sampler, Samples
from helpers._recording_app import ASGIApp, RecordingApp
from helpers._stoppable import Stoppable
from helpers._tracing import install_tracing

__all__ = ["Server", "serve", "stop_all"]

STOP_TIMEOUT_S = 5.0
START_TIMEOUT_S = 15.0
# What uvicorn logs (logger "uvicorn.error") when the graceful shutdown times out: one line
# naming how many handlers it cancels, then a CancelledError traceback per handler.
CANCEL_NOTICE = "Cancel %s running task(s), timeout graceful shutdown exceeded"
ASGI_EXCEPTION = "Exception in ASGI application"


class Server(Stoppable):
    """A running uvicorn server for one app. Use ``serve()`` to create one.

    Attributes: ``url`` (``http://127.0.0.1:PORT``), ``port``, ``app``, ``thread_limit``
    (worker-thread tokens on this server's loop), ``trace`` (per-request spans on/off).
    """

    def __init__(self, app: ASGIApp, *, host: str, thread_limit: int | None, trace: bool) -> None:
        self.app = app
        self.host = host
        self.trace = trace
        self.thread_limit: int = 40
        self._requested_limit = thread_limit
        # proto=IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off on each
        # accepted connection (base_events._set_nodelay) only when the socket says it is TCP,
        # and accepted sockets inherit the listener's proto. With 0, every reused keep-alive
        # connection waited ~40 ms on Nagle + delayed ACK, as `create_server(host, port)`
        # (which gets proto 6 from getaddrinfo) never does.
        self._sock = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
        )
        self._sock.bind((host, 0))
        self._sock.listen(4096)
        self.port: int = self._sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{self.port}"
        config = uvicorn.Config(
            RecordingApp(app, trace=trace),
            # No logging config of uvicorn's own (the kernel's logging stays as it is), no
            # access log, and uvicorn's startup chatter only at WARNING and above.
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            loop="asyncio",
            backlog=4096,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
        )
        self._uvicorn = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread_id: int | None = None
        self._failure: BaseException | None = None
        self.accept_failures = 0
        self.cancelled_at_stop = 0
        self._quiet_shutdown = _QuietShutdown(self)
        self._thread = threading.Thread(
            target=self._run, name=f"lab-server-{self.port}", daemon=True
        )

    # --- lifecycle -------------------------------------------------------------------
    def _start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                self._sock.close()
                reason = f": {self._failure!r}" if self._failure else ""
                raise RuntimeError(
                    f"the server for {_describe(self.app)} stopped during startup{reason}; "
                    "check the app's lifespan/startup code (its error is logged above)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server for {_describe(self.app)} did not finish startup within "
                    f"{START_TIMEOUT_S:.0f} s; is the app's lifespan waiting on something?"
                )
            time.sleep(0.005)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_exception)
        self._loop = loop
        uvicorn_logger = logging.getLogger("uvicorn.error")
        uvicorn_logger.addFilter(self._quiet_shutdown)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by _start / stop; the thread must end quietly
            self._failure = exc
        finally:
            try:
                # Like asyncio.run: cancel what is left (e.g. a lifespan task after a forced
                # exit) so no "Task was destroyed but it is pending" surfaces later.
                leftovers = asyncio.all_tasks(loop)
                for task in leftovers:
                    task.cancel()
                if leftovers:
                    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                uvicorn_logger.removeFilter(self._quiet_shutdown)

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Count accept() failures instead of logging them: asyncio's default handler logs
        a full traceback per connection it could not accept, thousands in one burst once
        the process is out of open files; ``fire`` reports the count in one line."""
        if str(context.get("message", "")).startswith(ACCEPT_FAILED):
            self.accept_failures += 1
            note_accept_failure()
            return
        loop.default_exception_handler(context)

    async def _main(self) -> None:
        self.loop_thread_id = threading.get_ident()
        limiter = anyio.to_thread.current_default_thread_limiter()
        if self._requested_limit is not None:
            limiter.total_tokens = self._requested_limit
        self.thread_limit = int(limiter.total_tokens)
        await self._uvicorn.serve(sockets=[self._sock])

    @property
    def running(self) -> bool:
        """True while the server thread is alive and has not been asked to stop."""
        return self._thread.is_alive() and not self._uvicorn.should_exit

    def request_stop(self) -> None:
        """Ask uvicorn to begin a graceful shutdown and return at once; ``stop()`` waits."""
        self._uvicorn.should_exit = True

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the server: graceful first, then forced; returns within ``timeout`` seconds.

        If a handler blocks the event loop forever the thread cannot be ended from outside;
        the listening socket is then closed anyway and a warning says so.
        """
        server_registry.drop(self)
        if not self._thread.is_alive():
            self._sock.close()
            return
        deadline = time.monotonic() + timeout
        self.request_stop()
        self._thread.join(max(0.0, timeout * 0.6))
        if self._thread.is_alive():
            self._uvicorn.force_exit = True
            self._thread.join(max(0.0, deadline - time.monotonic() - 0.1))
        if self.cancelled_at_stop:
            print(
                f"server on port {self.port}: {self.cancelled_at_stop} request(s) still running "
                "(a request's background tasks run inside it, after its answer) were cancelled"
                " at stop (graceful shutdown waits 1 s)"
            )
            self.cancelled_at_stop = 0
        if self._thread.is_alive():
            self._sock.close()
            warnings.warn(
                f"server on port {self.port} did not stop within {timeout:.0f} s (a handler "
                "is still running, probably blocking the event loop); its socket is closed "
                "and its daemon thread is abandoned",
                RuntimeWarning,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<Server {self.url} {state} thread_limit={self.thread_limit} "
            f"trace={self.trace} app={_describe(self.app)}>"
        )

    # --- used by fire() --------------------------------------------------------------
    def call_soon(self, coro: Any, timeout: float = 5.0) -> Any:
        """Run a coroutine on the server's loop and wait (≤ ``timeout`` s) for its result."""
        if self._loop is None or not self.running:
            raise ValueError(f"server {self.url} is stopped; start a new one with serve(app)")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the server loop did not answer within {timeout} s (is it blocked?)"
            ) from None

    async def run_on_loop(self, coro: Any, timeout: float = 5.0) -> Any:
        """Like ``call_soon``, but awaited: the caller's event loop keeps running meanwhile."""
        if self._loop is None or not self.running:
            raise ValueError(f"server {self.url} is stopped; start a new one with serve(app)")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the server loop did not answer within {timeout} s (is it blocked?)"
            ) from None

    def start_sampler(self) -> concurrent.futures.Future[Sampler]:
        """Ask the server loop to start the lag probe and pool gauge; returns at once.

        The probe starts as soon as the server loop gets to it, so a burst never waits for
        a server whose loop is busy (or blocked by a handler).
        """
        if self._loop is None or not self.running:
            raise ValueError(f"server {self.url} is stopped; start a new one with serve(app)")

        async def start() -> Sampler:
            # Read the limit here, after startup: the app's lifespan may have changed it.
            limiter = anyio.to_thread.current_default_thread_limiter()
            self.thread_limit = int(limiter.total_tokens)
            sampler = Sampler()
            sampler.start()
            return sampler

        return asyncio.run_coroutine_threadsafe(start(), self._loop)

    async def stop_sampler(self, started: concurrent.futures.Future[Sampler]) -> Samples:
        """Stop a sampler (waiting ≤ 1 s for the loop); return what it read so far."""
        try:
            sampler = await asyncio.wait_for(asyncio.wrap_future(started), 1.0)
        except (asyncio.TimeoutError, asyncio.CancelledError, RuntimeError):
            # not started in time, cancelled, or the loop closed under it: nothing was read
            started.cancel()
            return Samples()
        stopping = sampler.stop()
        try:
            result: Samples = await self.run_on_loop(stopping, timeout=1.0)
            return result
        except (TimeoutError, ValueError):
            # A server stopped during the burst refuses it before it starts: close it, or
            # Python warns "coroutine 'Sampler.stop' was never awaited" into the notebook.
            if inspect.getcoroutinestate(stopping) == inspect.CORO_CREATED:
                stopping.close()
            return sampler.samples


class _QuietShutdown(logging.Filter):
    """Keeps one server's shutdown cancellations out of the log: uvicorn logs a notice and
    then one ``CancelledError`` traceback per handler it cancels (twenty hung requests, twenty
    tracebacks). The filter counts them (``Server.cancelled_at_stop``) for ``stop()`` to
    report in one line; other records, and other servers' records, pass."""

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.server = server

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.server.loop_thread_id:
            return True
        if record.msg == CANCEL_NOTICE:
            args = record.args if isinstance(record.args, tuple) else ()
            count = args[0] if args else None
            self.server.cancelled_at_stop = count if isinstance(count, int) else 1
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            str(record.msg).startswith(ASGI_EXCEPTION)
            and isinstance(exc, asyncio.CancelledError)
            and self.server._uvicorn.should_exit
        )


def _describe(app: Any) -> str:
    title = getattr(app, "title", None)
    return f"{type(app).__name__}({title!r})" if title else type(app).__name__


def _check_host(host: str, allow_remote: bool) -> None:
    if not isinstance(host, str):
        raise TypeError(f"host must be a string such as '127.0.0.1', got {host!r}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"host must be an IP address such as '127.0.0.1' or '::1', got {host!r}"
        ) from None
    if not address.is_loopback and not allow_remote:
        raise ValueError(
            f"host {host!r} is not a loopback address; the lab serves on 127.0.0.1 only. "
            "Pass allow_remote=True if you really mean to expose this server."
        )


def serve(
    app: Any,
    host: str = "127.0.0.1",
    thread_limit: int | None = None,
    trace: bool = True,
    *,
    allow_remote: bool = False,
) -> Server:
    """Start ``app`` under uvicorn in a background thread and return the running server.

    Args:
        app: any ASGI app, typically a ``FastAPI()`` written in a notebook cell.
        host: loopback address to bind (default ``127.0.0.1``); the port is chosen free.
        thread_limit: worker threads for ``def`` endpoints on this server's loop (sets the
            loop's ``anyio`` default ``CapacityLimiter``); ``None`` keeps anyio's 40.
        trace: record per-request spans (FastAPI's OpenTelemetry spans). ``False`` serves
            with no per-request recording, for measuring raw throughput.
        allow_remote: explicit opt-in for a non-loopback ``host``.

    Serving the same app again (also after re-running the cell that defines it) stops the
    previous server first.
    """
    if not callable(app):
        raise TypeError(f"app must be an ASGI app such as FastAPI(), got {app!r}")
    _check_host(host, allow_remote)
    if thread_limit is not None and (
        isinstance(thread_limit, bool) or not isinstance(thread_limit, int)
    ):
        raise TypeError(f"thread_limit must be an int or None, got {thread_limit!r}")
    if thread_limit is not None and not 1 <= thread_limit <= 10_000:
        raise ValueError(f"thread_limit must be between 1 and 10000, got {thread_limit}")
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, got {trace!r}")
    if trace:
        install_tracing()
    _register_atexit()
    key = server_registry.app_key(app)
    previous = server_registry.take(key)
    if previous is not None:
        previous.stop()
    server = Server(app, host=host, thread_limit=thread_limit, trace=trace)
    server._start()
    server_registry.register(key, server)
    return server


def stop_all() -> None:
    """Stop every server this kernel started (also runs at interpreter exit)."""
    servers = server_registry.registered()
    for server in servers:  # ask them all first: each winds down on its own loop, at once
        server.request_stop()
    for server in servers:
        server.stop()


_atexit_lock = threading.Lock()
_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True
