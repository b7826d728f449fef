"""Interactive controls for ``notebooks/playground.ipynb``: pick an endpoint kind, a burst
size, a duration, a thread limit and a concurrency cap, press Fire, see ``run.plot()``.

Everything runs on the shared ``demo_app``; the figure is a real burst every time. Before a
burst fires, ``estimate_seconds`` says how long it will take at best; a burst estimated
over ``LONG_BURST_S`` waits for a second press (or ``run(confirm=True)``). While it runs, a
progress bar counts the answered requests; when it ends, the status line, the summary and
the figure all show that burst — the outputs of the previous one are cleared when it starts.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import HTML as _untyped_html
from IPython.display import display as _untyped_display
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpers._load import fire
from helpers._run import Run
from helpers._server import Server, serve
from helpers.apps import demo_app

__all__ = ["KINDS", "LONG_BURST_S", "LongBurstError", "Playground", "estimate_seconds"]

display: Callable[..., Any] = _untyped_display  # IPython ships no type hints for it
HTML: Callable[..., Any] = _untyped_html

KINDS = {
    "async def + await asyncio.sleep": "/async_sleep",
    "def + time.sleep": "/sync_sleep",
    "async def + time.sleep (blocks the loop)": "/blocking_in_async",
    "async def + CPU work (blocks the loop)": "/cpu_async",
    "def + CPU work": "/cpu_def",
}

# A burst estimated to take longer than this (seconds) asks for a second press first.
LONG_BURST_S = 10.0
# The progress bar appears once a burst has run this long (seconds), as fire()'s does.
PROGRESS_AFTER_S = 2.0
PROGRESS_EVERY_S = 0.25

_ONE_AT_A_TIME = {"/blocking_in_async", "/cpu_async", "/cpu_def"}


def estimate_seconds(
    path: str, n: int, seconds: float, thread_limit: int, concurrency: int | None = None
) -> float:
    """The shortest time a burst can take, in **seconds**, from how the endpoint runs.

    Args:
        path: one of the ``KINDS`` paths.
        n: requests in the burst.
        seconds: work per request, seconds.
        thread_limit: the server's worker-thread tokens.
        concurrency: the client's cap on requests in flight (``None``: all at once).

    ``/async_sleep`` runs every request in flight at once (one wave per ``concurrency``
    requests); ``/sync_sleep`` runs ``min(thread_limit, concurrency)`` at a time; a blocking
    call or CPU work in ``async def`` holds the loop, so requests run one at a time; CPU work
    in ``def`` shares one GIL, so it too takes ``n × seconds`` at best. Client and server
    overhead come on top.
    """
    if path not in KINDS.values():
        raise ValueError(f"path must be one of {sorted(KINDS.values())}, got {path!r}")
    if n < 1 or thread_limit < 1 or seconds < 0:
        raise ValueError(
            f"need n ≥ 1, thread_limit ≥ 1 and seconds ≥ 0; got n={n}, "
            f"thread_limit={thread_limit}, seconds={seconds}"
        )
    in_flight = min(n, concurrency or n)
    if path in _ONE_AT_A_TIME:
        return n * seconds
    slots = in_flight if path == "/async_sleep" else min(in_flight, thread_limit)
    return math.ceil(n / slots) * seconds


def _largest_n_within(settings: dict[str, Any], budget_s: float) -> int:
    """The largest burst size whose estimate stays within ``budget_s`` (at least 1)."""
    n = int(settings["n"])
    while n > 1 and _estimate(settings | {"n": n}) > budget_s:
        n -= 1
    return n


def _estimate(s: dict[str, Any]) -> float:
    return estimate_seconds(s["path"], s["n"], s["seconds"], s["thread_limit"], s["concurrency"])


class _Tally:
    """Responses finished on ``path`` so far (written by the server's loop thread)."""

    def __init__(self) -> None:
        self.path = ""
        self.count = 0


class _AnswerCounter:
    """Pure ASGI middleware: counts responses finished on the tally's path, for the bar."""

    def __init__(self, app: ASGIApp, tally: _Tally) -> None:
        self.app = app
        self.tally = tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tally = self.tally
        if scope["type"] != "http" or scope.get("path") != tally.path:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                tally.count += 1

        await self.app(scope, receive, counting_send)


class LongBurstError(ValueError):
    """A burst estimated over ``LONG_BURST_S`` was started without ``confirm=True``."""


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
        self.progress = widgets.IntProgress(
            0, min=0, max=1, description="answered", style=style, layout=layout
        )
        self.progress_text = widgets.HTML()
        self.progress_row = widgets.HBox(
            [self.progress, self.progress_text], layout=widgets.Layout(display="none")
        )
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
                self.progress_row,
                self.output,
            ]
        )
        for control in (self.kind, self.n, self.seconds, self.thread_limit, self.concurrency):
            control.observe(self._settings_changed, names="value")
        self.server: Server | None = None
        self.app = demo_app(title="playground")
        self._tally = _Tally()
        self.app.add_middleware(_AnswerCounter, tally=self._tally)
        self.last_run: Run | None = None
        self._task: asyncio.Task[Run | None] | None = None
        self._armed: dict[str, Any] | None = None  # settings a long burst was confirmed for
        self._redraw_figure: Callable[[Any], None] | None = None
        self._redraw_summary: Callable[[Any], None] | None = None
        self._settings_changed(None)

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

    def estimate(self) -> float:
        """``estimate_seconds`` for the current settings, in seconds."""
        return _estimate(self.settings())

    def _long_warning(self, s: dict[str, Any]) -> str:
        fits = _largest_n_within(s, LONG_BURST_S)
        return (
            f"⚠ this burst takes at least {_estimate(s):.0f} s ({s['n']} × {s['seconds']:g} s "
            f"at {s['path']}, see estimate_seconds). Lower n to ≤ {fits} for a burst under "
            f"{LONG_BURST_S:.0f} s, or confirm"
        )

    def _settings_changed(self, _: object) -> None:
        if self._task is not None and not self._task.done():
            return
        self._armed = None
        self.button.description = "Fire!"
        self.button.button_style = "primary"
        self.status.value = f"<i>estimate: at least {self.estimate():.1f} s</i>"

    def _server(self, thread_limit: int) -> Server:
        if (
            self.server is None
            or not self.server.running
            or (self.server.thread_limit != thread_limit)
        ):
            self.server = serve(self.app, thread_limit=thread_limit)
        return self.server

    async def run(self, confirm: bool = False) -> Run:
        """Fire one burst with the current settings and show its summary and figure as this
        cell's outputs.

        A burst estimated over ``LONG_BURST_S`` seconds raises ``LongBurstError`` (saying the
        estimate and an ``n`` that fits) unless ``confirm=True``. The outputs are ordinary
        display outputs (a PNG in a saved or headless-executed notebook, so the handout shows
        it too); pressing **Fire!** afterwards clears and then redraws both outputs of the
        cell that called ``run()`` last, in place. Before any cell has called it, a press
        draws them inside the controls instead.
        """
        s = self.settings()
        if _estimate(s) > LONG_BURST_S and not confirm:
            message = self._long_warning(s) + " with run(confirm=True)."
            self.status.value = html.escape(message)
            raise LongBurstError(message)
        summary_handle = display(HTML("<i>firing …</i>"), display_id=True)
        figure_handle = display(HTML(""), display_id=True)
        # None outside IPython: then there is nothing to redraw later
        self._redraw_summary = summary_handle.update if summary_handle is not None else None
        self._redraw_figure = figure_handle.update if figure_handle is not None else None
        self.output.clear_output()
        run = await self._fire(s, in_cell=True)
        self._show(run)
        return run

    def _summary_table(self, run: Run) -> Any:
        import pandas as pd

        s = run.summary()
        keys = ["ok", "n", "makespan_s", "waves", "worker_threads", "peak_in_flight",
                "max_lag_ms", "latency_p50_s", "latency_p95_s"]  # fmt: skip
        # object dtype: counts stay integers beside the seconds (a float column shows 100.0000)
        return pd.DataFrame({"this burst": pd.Series({k: s[k] for k in keys}, dtype=object)})

    def _show(self, run: Run) -> None:
        table, figure = self._summary_table(run), run.plot()
        if self._redraw_figure is not None and self._redraw_summary is not None:
            # update_display_data reaches the cell outputs run() last created, wherever they are
            self._redraw_summary(table)
            self._redraw_figure(figure)
        else:
            # output made in a widget callback belongs to no cell: draw it inside the controls
            self.output.clear_output(wait=True)
            with self.output:
                display(table)
                display(figure)

    def _clear_outputs(self, s: dict[str, Any]) -> None:
        """Blank the previous burst's summary and figure as soon as a new one starts."""
        note = HTML(f"<i>firing {s['n']} requests at {html.escape(s['path'])} …</i>")
        if self._redraw_figure is not None and self._redraw_summary is not None:
            self._redraw_summary(note)
            self._redraw_figure(HTML(""))
        else:
            self.output.clear_output()
            with self.output:
                display(note)

    async def _fire(self, s: dict[str, Any], in_cell: bool = False) -> Run:
        estimate = _estimate(s)
        self.button.disabled = True
        self.status.value = (
            f"<i>firing {s['n']} requests at {html.escape(s['path'])}: at least "
            f"{estimate:.1f} s …</i>"
        )
        self._clear_outputs(s)
        try:
            server = self._server(s["thread_limit"])
            self._tally.path, self._tally.count = s["path"], 0
            watcher = asyncio.ensure_future(self._watch(s, estimate, time.perf_counter()))
            try:
                run = await fire(
                    server,
                    s["path"],
                    n=s["n"],
                    params={"seconds": s["seconds"]},
                    concurrency=s["concurrency"],
                    # In a cell, fire's own bar shows under it; a press (no cell) has the
                    # bar in the controls only.
                    progress=None if in_cell else False,
                    timeout=max(30.0, estimate * 2),
                )
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        finally:
            self.button.disabled = False
            self._armed = None
            self.button.description = "Fire!"
            self.button.button_style = "primary"
        self._finish_progress(run)
        self.last_run = run
        summary = run.summary()
        self.status.value = (
            f"{summary['ok']}/{summary['n']} ok in {summary['makespan_s']:.2f} s "
            f"(estimate ≥ {estimate:.1f} s) · {summary['worker_threads']} worker threads · "
            f"{summary['waves']} wave(s) · at most {summary['peak_in_flight']} in flight · "
            f"max lag {summary['max_lag_ms']:.0f} ms"
        )
        return run

    async def _watch(self, s: dict[str, Any], estimate: float, t0: float) -> None:
        """Count answered requests into the progress bar; it appears after
        ``PROGRESS_AFTER_S`` so short bursts get none."""
        self.progress_row.layout.display = "none"
        self.progress.max, self.progress.value, self.progress.bar_style = s["n"], 0, ""
        while True:
            elapsed = time.perf_counter() - t0
            done = min(self._tally.count, s["n"])
            self.progress.value = done
            self.progress_text.value = (
                f"{done}/{s['n']} · {elapsed:.0f} s of at least {estimate:.0f} s"
            )
            if elapsed >= PROGRESS_AFTER_S:
                self.progress_row.layout.display = "flex"
            await asyncio.sleep(PROGRESS_EVERY_S)

    def _finish_progress(self, run: Run) -> None:
        """A finished burst leaves a full, green bar (or none, if it was short)."""
        s = run.summary()
        self.progress.max = max(s["n"], 1)
        self.progress.value = s["ok"]
        self.progress.bar_style = "success" if s["ok"] == s["n"] else "danger"
        self.progress_text.value = f"{s['ok']}/{s['n']} answered in {s['makespan_s']:.1f} s"
        if s["makespan_s"] < PROGRESS_AFTER_S:
            self.progress_row.layout.display = "none"

    async def _fire_and_redraw(self) -> Run | None:
        s = self.settings()
        if _estimate(s) > LONG_BURST_S and self._armed != s:
            self._armed = s
            self.button.description = f"Fire anyway (~{_estimate(s):.0f} s)"
            self.button.button_style = "warning"
            self.status.value = html.escape(self._long_warning(s) + " by pressing again.")
            return None
        run = await self._fire(s)
        self._show(run)
        return run

    def _clicked(self, _: object) -> None:
        # Widget callbacks are synchronous; the burst runs as a task on the kernel's loop.
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._fire_and_redraw())
            self._task.add_done_callback(self._report_failure)

    def _report_failure(self, task: asyncio.Future[Run | None]) -> None:
        # A press has no cell to show a traceback in: say what failed in the status line,
        # instead of leaving "firing …" up and the error in the kernel's log.
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        self.status.value = html.escape(f"the burst failed: {type(error).__name__}: {error}")

    def stop(self) -> None:
        """Stop the playground's server."""
        if self.server is not None:
            self.server.stop()
