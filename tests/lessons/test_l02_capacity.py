"""capacity: wave sizes, the latency figure."""

from __future__ import annotations

import time

import pytest
from fastapi import Depends, FastAPI
from opentelemetry import trace

from helpers import Server, serve
from helpers._plots import NOTEBOOK_PX, SMALL
from helpers.lessons.l02_capacity import (
    plot_latencies,
    wave_sizes,
)
from tests.conftest import burst
from tests.test_plots import effective_sizes
from tests.test_run import make_run


def test_wave_sizes_agree_with_the_summary() -> None:
    run = make_run()  # request 1 asked for the only thread after request 0 was done
    assert wave_sizes(run) == [2]
    assert len(wave_sizes(run)) == run.summary()["waves"]
    queued = make_run(second_asked=0.06)
    assert wave_sizes(queued) == [1, 1]
    assert len(wave_sizes(queued)) == queued.summary()["waves"]


def test_latency_figure_fits_the_notebook_with_legible_text() -> None:
    run = make_run()
    fig = plot_latencies(run, run, titles=["a", "b"], title="finding")
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert fig.get_figwidth() * 100 <= NOTEBOOK_PX
    sizes = effective_sizes(fig)
    assert min(size for size, _ in sizes) >= SMALL, sizes
    with pytest.raises(ValueError, match="titles"):
        plot_latencies(run, titles=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        plot_latencies()


def test_median_labels_stay_inside_the_axes() -> None:
    fig = plot_latencies(make_run(), make_run(second_asked=0.06), titles=["a", "b"])
    ax = fig.get_axes()[0]
    fig.draw_without_rendering()
    box = ax.get_window_extent()
    for text in ax.texts:
        extent = text.get_window_extent()
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1, (text.get_text(), extent, box)


def test_a_def_burst_splits_into_forty_forty_twenty(demo: Server) -> None:
    # 1 s handlers keep the rounds apart even if the 100 connections trickle in slowly
    run = burst(demo, "/sync_sleep", n=100, params={"seconds": 1.0})
    assert wave_sizes(run) == [40, 40, 20]
    assert run.summary()["rounds"] == 3


def test_waves_follow_the_queue_on_a_small_pool() -> None:
    app = FastAPI(title="waves on 2 threads")

    @app.get("/even")
    def even() -> dict[str, bool]:
        time.sleep(0.2)
        return {"ok": True}

    @app.get("/uneven")
    def uneven(i: int) -> dict[str, bool]:
        time.sleep(0.1 + 0.05 * (i % 3))
        return {"ok": True}

    server = serve(app, thread_limit=2)
    try:
        run = burst(server, "/even", n=6)
        assert wave_sizes(run) == [2, 2, 2], run.requests[["start", "end", "wait", "wave"]]
        assert run.summary()["waves"] == 3 and run.summary()["queued"] == 4
        # uneven handlers: each queued request is one wave after the handler it waited for
        run = burst(server, "/uneven", n=6, params=lambda i: {"i": i})
        r = run.requests.sort_values("start")
        assert r["wave"].iloc[:2].tolist() == [1, 1]
        assert sum(wave_sizes(run)) == 6 and run.summary()["queued"] == 4
        assert run.summary()["waves"] == len(wave_sizes(run)) >= 3
    finally:
        server.stop()


def test_waves_of_a_def_dependency_follow_its_spans_on_the_worker_threads() -> None:
    tracer = trace.get_tracer("tests")
    app = FastAPI(title="waves of a def dependency")

    def load_user() -> str:
        with tracer.start_as_current_span("load user"):
            time.sleep(0.15)
        return "ada"

    @app.get("/me")
    async def me(user: str = Depends(load_user)) -> dict[str, str]:
        return {"user": user}

    server = serve(app, thread_limit=2)
    try:
        run = burst(server, "/me", n=6)
    finally:
        server.stop()
    s = run.summary()
    users = run.spans[run.spans["name"] == "load user"]
    assert len(users) == 6 and users["on_loop"].eq(False).all(), run.spans
    assert s["worker_threads"] == 2
    assert wave_sizes(run) == [2, 2, 2], run.spans
    assert (s["waves"], s["queued"]) == (3, 4)


def test_an_async_burst_is_one_wave(demo: Server) -> None:
    run = burst(demo, "/async_sleep", n=10, params={"seconds": 0.05})
    assert wave_sizes(run) == [10]  # nothing queued for a worker thread
