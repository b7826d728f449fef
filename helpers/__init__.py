"""FastAPI Concurrency Lab: serve an app in the kernel, fire bursts, see what happened.

    from helpers import serve, fire
    server = serve(app)
    run = await fire(server, "/path", n=100)
    run.summary(); run.plot()

The bench: ``serve``, ``Server``, ``stop_all``, ``fire``, ``Run``, ``compare``,
``plot_timeline``, ``summary_frame``, ``sized``, ``fast_mode``.
Closer looks some lessons take: ``plot_spans``, ``plot_request``, ``ms_after``,
``plot_thread_lanes``, ``peak_overlap``, ``count_waves``.

The modules behind these names are private (``helpers/_server.py`` …). Support for a single
lesson lives in ``helpers.lessons``, named after its lesson (``helpers.lessons.l04_cpu``);
``helpers.apps`` holds the demo endpoints several lessons share, ``helpers.doctor`` and
``helpers.playground`` are the workshop tools.

Names are imported on first use (PEP 562), so a process-pool worker that only needs
``helpers.apps`` does not pay for pandas, matplotlib and uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpers._config import fast_mode, sized
    from helpers._load import fire
    from helpers._plots import compare, plot_timeline, summary_frame
    from helpers._run import Run
    from helpers._server import Server, serve, stop_all
    from helpers._stats import count_waves, peak_overlap
    from helpers._thread_lanes import plot_thread_lanes
    from helpers._timelines import ms_after, plot_request, plot_spans

_HOMES = {
    "Run": "helpers._run",
    "Server": "helpers._server",
    "compare": "helpers._plots",
    "count_waves": "helpers._stats",
    "fast_mode": "helpers._config",
    "fire": "helpers._load",
    "ms_after": "helpers._timelines",
    "peak_overlap": "helpers._stats",
    "plot_request": "helpers._timelines",
    "plot_spans": "helpers._timelines",
    "plot_thread_lanes": "helpers._thread_lanes",
    "plot_timeline": "helpers._plots",
    "serve": "helpers._server",
    "sized": "helpers._config",
    "stop_all": "helpers._server",
    "summary_frame": "helpers._plots",
}

__all__ = [
    "Run",
    "Server",
    "compare",
    "count_waves",
    "fast_mode",
    "fire",
    "ms_after",
    "peak_overlap",
    "plot_request",
    "plot_spans",
    "plot_thread_lanes",
    "plot_timeline",
    "serve",
    "sized",
    "stop_all",
    "summary_frame",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
