"""Interactive controls for ``notebooks/playground.ipynb``: pick an endpoint kind, a burst
size, a duration, a thread limit and a concurrency cap, press Fire, see ``run.plot()``.

Everything runs on the shared ``demo_app``; the figure is a real burst every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display as _untyped_display

from helpers._load import fire
from helpers._run import Run
from helpers._server import Server, serve
from helpers.apps import demo_app

__all__ = ["KINDS", "Playground"]

display: Callable[..., Any] = _untyped_display  # IPython ships no type hints for it

KINDS = {
    "async def + await asyncio.sleep": "/async_sleep",
    "def + time.sleep": "/sync_sleep",
    "async def + time.sleep (blocks the loop)": "/blocking_in_async",
    "async def + CPU work (blocks the loop)": "/cpu_async",
    "def + CPU work": "/cpu_def",
}


class Playground:
    """Widgets bound to one demo server; ``await run()`` fires with the current settings."""

    def __init__(self) -> None:
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="520px")
        self.kind = widgets.Dropdown(
            options=list(KINDS), description="endpoint", style=style, layout=layout
        )
        self.n = widgets.IntSlider(
            100, min=1, max=500, description="requests (n)", style=style, layout=layout
        )
        self.seconds = widgets.FloatSlider(
            0.5,
            min=0.01,
            max=2.0,
            step=0.01,
            style=style,
            description="duration (s)",
            layout=layout,
        )
        self.thread_limit = widgets.IntSlider(
            40, min=1, max=200, style=style, layout=layout, description="thread limit"
        )
        self.concurrency = widgets.IntSlider(
            0, min=0, max=500, style=style, layout=layout, description="concurrency (0 = all)"
        )
        self.button = widgets.Button(description="Fire!", button_style="primary", icon="bolt")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.button.on_click(self._clicked)
        self.box = widgets.VBox(
            [
                self.kind,
                self.n,
                self.seconds,
                self.thread_limit,
                self.concurrency,
                widgets.HBox([self.button, self.status]),
                self.output,
            ]
        )
        self.server: Server | None = None
        self.app = demo_app(title="playground")
        self.last_run: Run | None = None
        self._task: asyncio.Task[Run] | None = None
        self._redraw: Callable[[Any], None] | None = None

    def _ipython_display_(self) -> None:
        display(self.box)

    def settings(self) -> dict[str, Any]:
        """The current control values."""
        return {
            "path": KINDS[self.kind.value],
            "n": self.n.value,
            "seconds": self.seconds.value,
            "thread_limit": self.thread_limit.value,
            "concurrency": self.concurrency.value or None,
        }

    def _server(self, thread_limit: int) -> Server:
        if (
            self.server is None
            or not self.server.running
            or (self.server.thread_limit != thread_limit)
        ):
            self.server = serve(self.app, thread_limit=thread_limit)
        return self.server

    async def run(self) -> Run:
        """Fire one burst with the current settings and show its figure as this cell's output.

        The figure is an ordinary display output (a PNG in a saved or headless-executed
        notebook, so the handout shows it too); pressing **Fire!** afterwards redraws the
        output of the cell that called ``run()`` last, in place. Before any cell has called
        it, a press draws the figure inside the controls instead.
        """
        run = await self._fire()
        self._show(run, as_cell_output=True)
        return run

    def _show(self, run: Run, as_cell_output: bool) -> None:
        figure = run.plot()
        if as_cell_output:
            handle = display(figure, display_id=True)  # None outside IPython
            self._redraw = handle.update if handle is not None else None
            self.output.clear_output()
        elif self._redraw is not None:
            # update_display_data reaches the cell output run() last created, wherever it is
            self._redraw(figure)
        else:
            # output made in a widget callback belongs to no cell: draw it inside the controls
            self.output.clear_output(wait=True)
            with self.output:
                display(figure)

    async def _fire(self) -> Run:
        s = self.settings()
        self.button.disabled = True
        self.status.value = f"<i>firing {s['n']} requests at {s['path']} …</i>"
        try:
            server = self._server(s["thread_limit"])
            run = await fire(
                server,
                s["path"],
                n=s["n"],
                params={"seconds": s["seconds"]},
                concurrency=s["concurrency"],
                progress=False,
                timeout=max(30.0, s["n"] * s["seconds"] * 2),
            )
        finally:
            self.button.disabled = False
        self.last_run = run
        summary = run.summary()
        self.status.value = (
            f"{summary['ok']}/{summary['n']} ok in {summary['makespan_s']:.2f} s · "
            f"{summary['worker_threads']} worker threads · {summary['waves']} wave(s) · "
            f"max lag {summary['max_lag_ms']:.0f} ms"
        )
        return run

    async def _fire_and_redraw(self) -> Run:
        run = await self._fire()
        self._show(run, as_cell_output=False)
        return run

    def _clicked(self, _: object) -> None:
        # Widget callbacks are synchronous; the burst runs as a task on the kernel's loop.
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._fire_and_redraw())

    def stop(self) -> None:
        """Stop the playground's server."""
        if self.server is not None:
            self.server.stop()
