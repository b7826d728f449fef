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


def test_a_press_before_any_run_draws_inside_the_controls() -> None:
    playground = Playground()
    try:
        playground.n.value = 2
        playground.seconds.value = 0.01
        run = asyncio.run(playground._fire_and_redraw())
        assert run.summary()["ok"] == 2 and playground.last_run is run
    finally:
        playground.stop()


@pytest.mark.notebook
def test_headless_execution_keeps_a_static_figure_in_the_cell_outputs() -> None:
    """The handout and CI run the playground without a browser: the burst's figure must be
    an ordinary PNG output of a cell, not something only the widget front end can draw."""
    import os
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    path = Path(__file__).parent.parent / "notebooks" / "playground.ipynb"
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("LAB_FAST", "1")
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": path.parent}}).execute()  # fmt: skip
    images = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, "no cell of the executed playground holds a PNG figure"
