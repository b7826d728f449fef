import asyncio

import pytest

from helpers.playground import KINDS, LONG_BURST_S, LongBurstError, Playground, estimate_seconds


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
        assert run is not None and run.summary()["ok"] == 2 and playground.last_run is run
    finally:
        playground.stop()


@pytest.mark.parametrize(
    ("path", "n", "seconds", "limit", "concurrency", "expected"),
    [
        ("/async_sleep", 100, 0.5, 40, None, 0.5),  # all in flight at once
        ("/async_sleep", 100, 0.5, 40, 10, 5.0),  # the client's cap makes 10 waves
        ("/sync_sleep", 100, 0.5, 40, None, 1.5),  # ⌈100 / 40⌉ waves
        ("/sync_sleep", 100, 0.5, 10, None, 5.0),
        ("/sync_sleep", 100, 0.5, 40, 20, 2.5),  # the cap below the thread limit decides
        ("/blocking_in_async", 100, 0.5, 40, None, 50.0),  # the 50 s burst
        ("/cpu_async", 10, 0.2, 40, None, 2.0),
        ("/cpu_def", 10, 0.2, 40, None, 2.0),  # one GIL: threads do not add CPU
    ],
)
def test_the_estimate_follows_how_each_endpoint_runs(
    path: str, n: int, seconds: float, limit: int, concurrency: int | None, expected: float
) -> None:
    assert estimate_seconds(path, n, seconds, limit, concurrency) == pytest.approx(expected)


def test_the_estimate_refuses_unknown_paths_and_sizes() -> None:
    with pytest.raises(ValueError, match="/nowhere"):
        estimate_seconds("/nowhere", 1, 0.1, 40)
    with pytest.raises(ValueError, match="n=0"):
        estimate_seconds("/sync_sleep", 0, 0.1, 40)


def test_a_long_burst_is_refused_with_the_estimate_and_an_n_that_fits() -> None:
    playground = Playground()
    try:
        playground.kind.value = "async def + time.sleep (blocks the loop)"
        assert playground.estimate() == pytest.approx(50.0)  # the defaults: 100 × 0.5 s
        with pytest.raises(LongBurstError, match=r"at least 50 s.*n to ≤ 20"):
            asyncio.run(playground.run())
        assert playground.server is None, "nothing was fired"
        assert "50 s" in playground.status.value
    finally:
        playground.stop()


def test_a_long_press_asks_again_and_fires_on_the_second_press() -> None:
    playground = Playground()
    try:
        playground.kind.value = "async def + time.sleep (blocks the loop)"
        playground.n.value = 10
        playground.seconds.value = 2.0  # one at a time: 10 × 2 s = 20 s > the limit
        assert playground.estimate() > LONG_BURST_S
        assert asyncio.run(playground._fire_and_redraw()) is None
        assert playground.button.description.startswith("Fire anyway")
        assert playground.server is None
        playground.seconds.value = 0.02  # changing a control disarms the confirmation
        assert playground.button.description == "Fire!"
        playground.seconds.value = 2.0
        asyncio.run(playground._fire_and_redraw())  # asks again
        playground.seconds.value = 0.02
        run = asyncio.run(playground._fire_and_redraw())  # short: fires at once
        assert run is not None and run.summary()["ok"] == 10
    finally:
        playground.stop()


def test_every_output_shows_the_new_burst_and_progress_counts_answers() -> None:
    playground = Playground()
    try:
        playground.kind.value = "def + time.sleep"
        playground.n.value = 6
        playground.seconds.value = 0.05
        first = asyncio.run(playground.run())
        updates: list[tuple[str, object]] = []
        playground._redraw_summary = lambda obj: updates.append(("summary", obj))
        playground._redraw_figure = lambda obj: updates.append(("figure", obj))
        playground.n.value = 9
        second = asyncio.run(playground._fire_and_redraw())
        assert second is not None and second is not first and playground.last_run is second
        kinds = [kind for kind, _ in updates]
        # cleared at the start (both), then redrawn at the end (both)
        assert kinds == ["summary", "figure", "summary", "figure"], kinds
        assert "firing 9 requests" in updates[0][1].data  # type: ignore[attr-defined]
        table = updates[2][1]
        assert table.loc["n", "this burst"] == 9 and table.loc["ok", "this burst"] == 9  # type: ignore[attr-defined]
        assert "9/9 ok" in playground.status.value
        assert playground.progress.value == 9 and playground.progress.bar_style == "success"
        assert playground._tally.count == 9, "the counter saw every answer of the burst"
    finally:
        playground.stop()


def test_the_progress_bar_appears_during_a_burst_over_two_seconds() -> None:
    playground = Playground()
    try:
        playground.kind.value = "async def + time.sleep (blocks the loop)"
        playground.n.value = 10
        playground.seconds.value = 0.3  # one at a time: 3 s

        async def watch() -> list[tuple[str, int]]:
            seen: list[tuple[str, int]] = []
            task = asyncio.ensure_future(playground._fire_and_redraw())
            while not task.done():
                seen.append((playground.progress_row.layout.display, playground.progress.value))
                await asyncio.sleep(0.1)
            await task
            return seen

        seen = asyncio.run(watch())
        shown = [value for display, value in seen if display == "flex"]
        assert shown, "the bar should appear once the burst has run 2 s"
        assert 0 < min(shown) < 10, f"it should count answers as they come, saw {shown}"
        assert playground.progress.value == 10 and playground.progress.bar_style == "success"
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


def test_the_summary_keeps_counts_as_integers() -> None:
    playground = Playground()
    try:
        playground.n.value = 3
        playground.seconds.value = 0.01
        run = asyncio.run(playground.run())
        table = playground._summary_table(run)
        assert table.loc["ok", "this burst"] == 3 and isinstance(table.loc["n", "this burst"], int)
        assert "at most 3 in flight" in playground.status.value
    finally:
        playground.stop()


def test_a_press_that_fails_says_so_in_the_status_line(monkeypatch: pytest.MonkeyPatch) -> None:
    playground = Playground()

    async def broken() -> None:
        raise RuntimeError("the server did not start")

    monkeypatch.setattr(playground, "_fire_and_redraw", broken)

    async def press() -> None:
        playground._clicked(None)
        assert playground._task is not None
        await asyncio.gather(playground._task, return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run on the next loop pass

    try:
        asyncio.run(press())
        assert "the burst failed: RuntimeError: the server did not start" in playground.status.value
    finally:
        playground.stop()
