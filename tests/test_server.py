"""serve(): lifecycle, isolation, limits, and nothing left behind."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi import FastAPI

from helpers import serve, stop_all
from helpers._server import Server
from tests.conftest import burst


def tiny_app(title: str = "tiny") -> FastAPI:
    app = FastAPI(title=title)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lab-server-")]


def test_serve_binds_loopback_and_answers() -> None:
    with serve(tiny_app()) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert port_is_open(server.port)
        run = burst(server, "/ping", n=3)
        assert run.requests["status"].tolist() == [200, 200, 200]
    assert not port_is_open(server.port)
    assert not server.running


def test_stop_leaves_no_thread_and_no_listening_socket() -> None:
    before = len(lab_threads())
    server = serve(tiny_app("leak-check"))
    server.stop()
    assert len(lab_threads()) == before
    assert not port_is_open(server.port)


def test_restart_twenty_times_does_not_accumulate_threads() -> None:
    app = tiny_app("restart")
    baseline = threading.active_count()
    for _ in range(20):
        server = serve(app)
        burst(server, "/ping", n=2)
        server.stop()
    time.sleep(0.2)
    assert threading.active_count() <= baseline + 1, threading.enumerate()


def test_serving_the_same_app_again_stops_the_previous_server() -> None:
    app = tiny_app("same")
    first = serve(app)
    second = serve(app)
    try:
        assert not first.running and not port_is_open(first.port)
        assert second.running
    finally:
        second.stop()


def test_rebuilt_app_with_the_same_routes_counts_as_the_same_app() -> None:
    first = serve(tiny_app("rerun"))  # as if the cell defining the app ran again
    second = serve(tiny_app("rerun"))
    try:
        assert not first.running and second.running
    finally:
        second.stop()


def test_different_apps_run_side_by_side() -> None:
    a, b = serve(tiny_app("a")), serve(tiny_app("b"))
    try:
        assert a.running and b.running and a.port != b.port
    finally:
        stop_all()
    assert not a.running and not b.running


@pytest.mark.parametrize("limit", [1, 10, 100])
def test_thread_limit_sets_the_server_loops_limiter(limit: int) -> None:
    with serve(tiny_app("limit"), thread_limit=limit) as server:
        assert server.thread_limit == limit


def test_default_thread_limit_is_anyios_forty() -> None:
    with serve(tiny_app("default-limit")) as server:
        assert server.thread_limit == 40


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        serve(tiny_app(), host=host)


def test_hostnames_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="must be an IP address"):
        serve(tiny_app(), host="localhost.example")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"thread_limit": 0}, ValueError, "between 1 and 10000"),
        ({"thread_limit": 2.5}, TypeError, "thread_limit must be an int"),
        ({"thread_limit": True}, TypeError, "thread_limit must be an int"),
        ({"trace": "yes"}, TypeError, "trace must be True or False"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        serve(tiny_app(), **kwargs)  # type: ignore[arg-type]


def test_non_app_is_refused() -> None:
    with pytest.raises(TypeError, match="app must be an ASGI app"):
        serve("not an app")


def test_failing_startup_raises_a_clear_error() -> None:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def broken(app: FastAPI):  # type: ignore[no-untyped-def]
        raise RuntimeError("database is down")
        yield

    with pytest.raises(RuntimeError, match="stopped during startup"):
        serve(FastAPI(title="broken", lifespan=broken))


def test_stop_returns_within_five_seconds_when_a_handler_blocks_the_loop() -> None:
    app = FastAPI(title="stuck")
    release = threading.Event()

    @app.get("/stuck")
    async def stuck() -> None:
        release.wait(20)  # ⚠ blocks the event loop — on purpose

    server = serve(app)
    try:
        burst(server, "/stuck", n=1, timeout=0.3)
        started = time.monotonic()
        with pytest.warns(RuntimeWarning, match="did not stop"):
            server.stop()
        assert time.monotonic() - started < 5.5
        assert not port_is_open(server.port)
    finally:
        release.set()
        server._thread.join(10)  # let the abandoned thread finish here, not in a later test


def test_server_repr_says_where_and_how() -> None:
    with serve(tiny_app("repr")) as server:
        assert "running" in repr(server) and str(server.port) in repr(server)
    assert "stopped" in repr(server)
    assert isinstance(server, Server)


def test_serving_is_quiet_and_leaves_logging_alone(capfd: pytest.CaptureFixture[str]) -> None:
    import io
    import logging

    # A learner who turned on INFO logging in the kernel must not get server chatter.
    root = logging.getLogger()
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        before = (root.level, list(root.handlers))
        with serve(tiny_app("quiet")) as server:
            burst(server, "/ping", n=20)
        after = (root.level, list(root.handlers))
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)
    assert before == after
    assert "GET /ping" not in seen.getvalue()
    assert "uvicorn" not in seen.getvalue().lower() and "Started server" not in seen.getvalue()


def test_request_stop_lets_the_server_wind_down_on_its_own() -> None:
    server = serve(tiny_app("winding down"))
    server.request_stop()
    server._thread.join(5)
    assert not server._thread.is_alive(), "the server should stop without stop() waiting on it"
    server.stop()  # still safe afterwards: closes the socket and forgets the server
    assert not port_is_open(server.port)


def test_stop_all_stops_every_server() -> None:
    servers = [serve(tiny_app(f"many {i}")) for i in range(4)]
    stop_all()
    assert not any(s.running for s in servers)
    assert not any(s._thread.is_alive() for s in servers), "stop_all returns once each has ended"


@pytest.mark.parametrize("trace", [False, True])
def test_keep_alive_requests_do_not_stall(trace: bool) -> None:
    """Sequential requests on one reused connection cost about what a new connection does.

    A listening socket created with proto 0 made asyncio skip TCP_NODELAY on accepted
    connections, and each reused connection waited ~40 ms on Nagle + delayed ACK."""
    import httpx

    with serve(tiny_app(f"keep-alive-{trace}"), trace=trace) as server, httpx.Client() as client:
        client.get(f"{server.url}/ping")  # open the connection
        times = []
        for _ in range(15):
            start = time.perf_counter()
            assert client.get(f"{server.url}/ping").status_code == 200
            times.append(time.perf_counter() - start)
    times.sort()
    median_ms = times[len(times) // 2] * 1000
    assert median_ms < 15, f"keep-alive request median {median_ms:.1f} ms: a Nagle stall is ~40 ms"


def test_accepted_connections_have_nagle_off() -> None:
    with serve(tiny_app("nodelay")) as server:
        assert server._sock.proto == socket.IPPROTO_TCP


def test_stop_with_hung_handlers_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    app = FastAPI(title="hung")

    @app.get("/hang")
    async def hang() -> None:
        await asyncio.sleep(30)

    server = serve(app)
    clients = []
    try:
        for _ in range(20):
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"GET /hang HTTP/1.1\r\nHost: lab\r\n\r\n")
            clients.append(client)
        deadline = time.monotonic() + 5
        while len(server._uvicorn.server_state.tasks) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        caplog.clear()
        capsys.readouterr()
        server.stop()
    finally:
        for client in clients:
            client.close()
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"server on port {server.port}: 20 request(s) still running (a request's background"
        " tasks run inside it, after its answer) were cancelled at stop (graceful shutdown"
        " waits 1 s)"
    ], out
    assert err == ""
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], [
        r.getMessage() for r in caplog.records
    ]


def test_accept_failures_are_counted_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    import errno

    from helpers._open_files import ACCEPT_FAILED, accept_failures_total

    before = accept_failures_total()
    with serve(tiny_app("accept")) as server:
        loop = server._loop
        assert loop is not None

        async def fail(message: str) -> None:
            error = OSError(errno.EMFILE, "Too many open files")
            loop.call_exception_handler({"message": message, "exception": error})

        caplog.clear()
        server.call_soon(fail(ACCEPT_FAILED))
        server.call_soon(fail(ACCEPT_FAILED))
        assert server.accept_failures == 2 and accept_failures_total() == before + 2
        assert not [r for r in caplog.records if r.name == "asyncio"]
        server.call_soon(fail("something else went wrong"))  # other errors are still logged
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == [
            "something else went wrong"
        ]
    assert server.accept_failures == 2
