"""FastAPI Concurrency Lab: serve an app in the kernel, fire bursts, see what happened.

from helpers import serve, fire
server = serve(app)
run = await fire(server, "/path", n=100)
run.summary(); run.plot()
"""

from helpers import apps
from helpers.config import fast_mode, sized
from helpers.load import fire
from helpers.plots import LabFigure, compare, plot_timeline, summary_frame
from helpers.run import Run
from helpers.server import Server, serve, stop_all

__all__ = [
    "LabFigure",
    "Run",
    "Server",
    "apps",
    "compare",
    "fast_mode",
    "fire",
    "plot_timeline",
    "serve",
    "sized",
    "stop_all",
    "summary_frame",
]
