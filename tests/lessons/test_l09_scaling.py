"""helpers.lessons.l09_scaling: client-only bursts at uvicorn worker processes, and their stamps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers.lessons.l09_scaling import bodies_frame, fire_url, plot_processes, process_frame
from helpers.lessons.l09_workers import start_workers
from tests.lessons.test_l09_workers import write_app


def test_two_workers_are_two_processes_with_forty_tokens_each(tmp_path: Path) -> None:
    with start_workers(write_app(tmp_path), workers=2, app_dir=tmp_path) as server:
        assert len(server.worker_pids) == 2
        assert server.pid not in server.worker_pids  # the launched process is the manager
        assert server.tokens == 40
        assert 0 < server.first_answer_s <= server.all_ready_s
        run = asyncio.run(fire_url(server, "/sync_sleep", n=100, params={"seconds": 0.3}))
    assert not server.running
    s = run.summary()
    assert s["ok"] == 100
    assert 40 < s["peak_in_flight"] <= 80
    per_process = process_frame(run)
    assert set(per_process.index) <= server.worker_pids
    assert (per_process["peak_in_flight"] <= 40).all()
    assert set(bodies_frame(run)["pid"]) == set(per_process.index)
    assert run.traced and run.requests["thread"].str.startswith("pid ").all()
    fig = plot_processes(run, titles=["two workers"])
    assert len(fig.axes) == 2


def test_a_url_target_gets_the_handlers_stamps(tmp_path: Path) -> None:
    with start_workers(write_app(tmp_path), workers=1, app_dir=tmp_path) as server:
        run = asyncio.run(fire_url(server.url, "/cpu", n=3, params={"limit": 2000}))
    assert run.summary()["ok"] == 3
    assert (bodies_frame(run)["primes"] == 303).all()
    assert set(run.requests["pid"]) == {server.pid}


def test_plot_processes_is_notebook_wide_with_legible_text(tmp_path: Path) -> None:
    from helpers._plots import DPI, NOTEBOOK_PX, SMALL
    from tests.test_plots import effective_sizes

    with start_workers(write_app(tmp_path), workers=2, app_dir=tmp_path) as server:
        run = asyncio.run(fire_url(server, "/sync_sleep", n=20, params={"seconds": 0.05}))
    title = "a long title that states the finding: at most 80 at once, 3 waves, 2.21 s"
    fig = plot_processes(run, run, titles=[title, title])
    assert round(fig.get_figwidth() * DPI) == NOTEBOOK_PX
    small = [(size, text) for size, text in effective_sizes(fig) if size < SMALL]
    assert not small, f"text under {SMALL} pt: {small}"
    unscaled = plot_processes(run, titles=["no thread line"], per_worker=None)
    assert unscaled.axes[1].get_ylim()[1] < 40 * 1.25, (
        "without the line the panel fits the handlers"
    )
    for ax in fig.axes[:2]:
        box = ax.title.get_window_extent()
        assert box.x1 <= fig.get_figwidth() * DPI + 1, "a title runs off the figure"


def test_plot_processes_needs_a_title_per_run() -> None:
    with pytest.raises(ValueError, match="titles"):
        plot_processes(titles=["one too many"])


def test_fire_url_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(fire_url("http://10.0.0.1:80", "/whoami", n=1))
