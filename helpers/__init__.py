"""FastAPI Concurrency Lab: serve an app in the kernel, fire bursts, see what happened.

    from helpers import serve, fire
    server = serve(app)
    run = await fire(server, "/path", n=100)
    run.summary(); run.plot()

Names are imported on first use (PEP 562), so a process-pool worker that only needs
``helpers.apps`` does not pay for pandas, matplotlib and uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpers import apps
    from helpers.blocking import capture_slow_callbacks, loop_stalls, make_slow_database
    from helpers.capacity import (
        per_request_cost,
        plot_latencies,
        wave_sizes,
    )
    from helpers.config import fast_mode, sized
    from helpers.cpu import (
        count_primes_timed,
        cpu_table,
        plot_cpu_table,
        usable_cores,
        warm_process_pool,
        work_frame,
    )
    from helpers.interleave import StepLog, loop_switches, plot_steps
    from helpers.load import fire
    from helpers.plots import LabFigure, compare, plot_timeline, summary_frame
    from helpers.run import Run
    from helpers.server import Server, serve, stop_all

_HOMES = {
    "LabFigure": "helpers.plots",
    "Run": "helpers.run",
    "Server": "helpers.server",
    "StepLog": "helpers.interleave",
    "apps": "helpers.apps",
    "capture_slow_callbacks": "helpers.blocking",
    "compare": "helpers.plots",
    "count_primes_timed": "helpers.cpu",
    "cpu_table": "helpers.cpu",
    "fast_mode": "helpers.config",
    "fire": "helpers.load",
    "loop_stalls": "helpers.blocking",
    "loop_switches": "helpers.interleave",
    "make_slow_database": "helpers.blocking",
    "per_request_cost": "helpers.capacity",
    "plot_cpu_table": "helpers.cpu",
    "plot_latencies": "helpers.capacity",
    "plot_steps": "helpers.interleave",
    "plot_timeline": "helpers.plots",
    "serve": "helpers.server",
    "sized": "helpers.config",
    "stop_all": "helpers.server",
    "summary_frame": "helpers.plots",
    "usable_cores": "helpers.cpu",
    "warm_process_pool": "helpers.cpu",
    "wave_sizes": "helpers.capacity",
    "work_frame": "helpers.cpu",
}

__all__ = [
    "LabFigure",
    "Run",
    "Server",
    "StepLog",
    "apps",
    "capture_slow_callbacks",
    "compare",
    "count_primes_timed",
    "cpu_table",
    "fast_mode",
    "fire",
    "loop_stalls",
    "loop_switches",
    "make_slow_database",
    "per_request_cost",
    "plot_cpu_table",
    "plot_latencies",
    "plot_steps",
    "plot_timeline",
    "serve",
    "sized",
    "stop_all",
    "summary_frame",
    "usable_cores",
    "warm_process_pool",
    "wave_sizes",
    "work_frame",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if name == "apps" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
