import asyncio

import pytest

from helpers.playground import KINDS, Playground


def test_controls_cover_every_kind_and_a_burst_redraws() -> None:
    playground = Playground()
    try:
        assert list(playground.kind.options) == list(KINDS)
        playground.kind.value = "def + time.sleep"
        playground.n.value = 12
        playground.seconds.value = 0.1
        playground.thread_limit.value = 4
        run = asyncio.run(playground.run())
        s = run.summary()
        assert s["ok"] == 12 and s["worker_threads"] == 4 and s["peak_busy"] == 4
        assert s["rounds"] >= 3  # 12 requests on 4 threads need at least three rounds
        assert "12/12 ok" in playground.status.value
        assert not playground.button.disabled
        assert playground.last_run is run
    finally:
        playground.stop()


@pytest.mark.parametrize("limit", [4, 8])
def test_changing_the_thread_limit_restarts_the_server(limit: int) -> None:
    playground = Playground()
    try:
        playground.thread_limit.value = limit
        playground.n.value = 2
        playground.seconds.value = 0.01
        asyncio.run(playground.run())
        assert playground.server is not None and playground.server.thread_limit == limit
    finally:
        playground.stop()
