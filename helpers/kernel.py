"""Facts about the kernel's own event loop, and what ``nest_asyncio`` changes.

``nest_asyncio.apply(loop)`` (``nest_asyncio.py: apply``) does two separate things:

* ``_patch_asyncio``: ``asyncio.Task``/``Future`` become the pure-Python ``_PyTask``/
  ``_PyFuture``; ``asyncio.run`` and ``asyncio.get_event_loop`` are replaced;
* ``_patch_loop``: the loop's *class* gets new ``run_forever``, ``run_until_complete``,
  ``_run_once`` and ``_check_running`` (and ``_patch_policy`` makes the policy's
  ``get_event_loop`` patch every loop it creates).

Every measurement here runs in fresh subprocesses, so patching asyncio never leaks into the
kernel the learner is using.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "VARIANTS",
    "DebugModeReport",
    "NestAsyncioCost",
    "debug_mode_warnings",
    "measure_nest_asyncio",
    "uvicorn_after_nest_asyncio",
]

_ANSWER_TIMEOUT_S = 60.0

# What each probe process patches before timing its bursts.
VARIANTS: dict[str, str] = {
    "plain": "nothing",
    "tasks": "_patch_asyncio(): Task, Future",
    "loop": "_patch_loop(): the loop class",
    "both": "apply(): both",
}

# One process per variant; each burst gathers int(line) tiny tasks, one burst per stdin line,
# timed in CPU seconds of the thread: on a shared machine, time spent descheduled is not cost.
_PROBE = r"""
import asyncio, json, sys, time
variant = sys.argv[1]
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
if variant != "plain":
    import nest_asyncio
    if variant == "tasks":
        nest_asyncio._patch_asyncio()
    elif variant == "loop":
        nest_asyncio._patch_loop(loop)
    else:
        nest_asyncio.apply(loop)

async def tiny():
    await asyncio.sleep(0)

async def main(n):
    started = time.thread_time()
    await asyncio.gather(*(tiny() for _ in range(n)))
    return time.thread_time() - started

run_once = type(loop)._run_once
print(json.dumps({"task_class": f"{asyncio.Task.__module__}.{asyncio.Task.__qualname__}",
                  "c_task": asyncio.Task.__module__ == "_asyncio",
                  "run_once": f"{run_once.__module__}.{run_once.__qualname__}"}), flush=True)
for line in sys.stdin:
    print(json.dumps({"seconds": loop.run_until_complete(main(int(line)))}), flush=True)
"""


@dataclass
class NestAsyncioCost:
    """What ``measure_nest_asyncio`` found.

    ``info[variant]``: ``task_class``, ``c_task`` (is ``asyncio.Task`` the C one?) and
    ``run_once`` (whose ``_run_once`` the loop class runs) in that variant's process.
    ``seconds[variant]``: CPU seconds (of the probe's thread) per burst of ``tasks`` tiny
    tasks, one burst per round.
    """

    tasks: int
    info: dict[str, dict[str, Any]]
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def _check(self, variant: str) -> None:
        if variant not in self.seconds:
            raise ValueError(f"variant must be one of {sorted(self.seconds)}, got {variant!r}")

    def ratios(self, variant: str) -> list[float]:
        """``variant`` ÷ plain for each round (the two bursts of a round ran back to back)."""
        self._check(variant)
        return [v / p for v, p in zip(self.seconds[variant], self.seconds["plain"])]

    def slowdown(self, variant: str) -> float:
        """The median of ``ratios(variant)``: how many times a task costs in that variant."""
        return statistics.median(self.ratios(variant))

    def us_per_task(self, variant: str) -> float:
        """The cheapest burst of ``variant``, in CPU µs per task."""
        self._check(variant)
        return min(self.seconds[variant]) / self.tasks * 1e6

    def table(self) -> pd.DataFrame:
        """One row per variant: what was patched, which Task (C or Python), whose
        ``_run_once`` (``asyncio`` or ``nest_asyncio``), CPU µs per task (cheapest burst) and
        the median slowdown against plain."""
        rows = pd.DataFrame(
            [
                {
                    "variant": variant,
                    "patched": VARIANTS[variant],
                    "Task": "C" if self.info[variant]["c_task"] else "Python",
                    "_run_once from": self.info[variant]["run_once"].split(".")[0],
                    "CPU µs per task": round(self.us_per_task(variant), 2),
                    "× plain (median)": round(self.slowdown(variant), 2),
                }
                for variant in self.seconds
            ]
        )
        table: pd.DataFrame = rows.set_index("variant")
        return table


class _Probe:
    """One probe subprocess; ``burst(n)`` times ``n`` tiny tasks in it."""

    def __init__(self, variant: str) -> None:
        self.name = variant
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PROBE, variant],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.info: dict[str, Any] = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._reader.submit(self._process.stdout.readline)
        try:
            text = line.result(timeout=_ANSWER_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            self._process.kill()
            self.close()
            raise RuntimeError(
                f"the {self.name} asyncio probe did not answer within {_ANSWER_TIMEOUT_S:g} s"
            ) from None
        if not text:
            self.close()
            assert self._process.stderr is not None
            error = self._process.stderr.read().strip().splitlines()
            raise RuntimeError(
                f"the {self.name} asyncio probe exited early: {error[-1] if error else 'no output'}"
            )
        answer: dict[str, Any] = json.loads(text)
        return answer

    def burst(self, tasks: int) -> float:
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):  # a probe that has died is reported by _answer
            self._process.stdin.write(f"{tasks}\n")
            self._process.stdin.flush()
        return float(self._answer()["seconds"])

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):  # the probe has gone already
                self._process.stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._reader.shutdown(wait=False)


def measure_nest_asyncio(tasks: int = 50_000, rounds: int = 7) -> NestAsyncioCost:
    """Time bursts of ``tasks`` tiny asyncio tasks, in CPU seconds, in four processes: plain,
    only the task swap, only the loop patch, and the full ``nest_asyncio.apply``
    (see ``VARIANTS``).

    The processes stay up and take turns, one burst each per round (which goes first
    rotates), so the bursts of a round run a fraction of a second apart: a slow moment on a
    shared machine hits a whole round, not one variant's whole run. Slowdowns are medians of
    per-round ratios. A warm-up burst of 1 000 tasks in each process is not counted.
    """
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1_000 <= tasks <= 500_000:
        raise ValueError(f"tasks must be an int between 1000 and 500000, got {tasks!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 15:
        raise ValueError(f"rounds must be an int between 1 and 15, got {rounds!r}")
    probes: list[_Probe] = []
    try:
        for variant in VARIANTS:
            probes.append(_Probe(variant))
        for probe in probes:
            probe.burst(1_000)
        cost = NestAsyncioCost(tasks, {p.name: p.info for p in probes})
        cost.seconds = {p.name: [] for p in probes}
        for round_ in range(rounds):
            turn = round_ % len(probes)
            for probe in probes[turn:] + probes[:turn]:
                cost.seconds[probe.name].append(probe.burst(tasks))
        return cost
    finally:
        for probe in probes:
            probe.close()


def _one_shot(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; the JSON object on its last stdout line."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=_ANSWER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the probe did not finish within {_ANSWER_TIMEOUT_S:g} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        error = done.stderr.strip().splitlines()
        raise RuntimeError(f"the probe failed: {error[-1] if error else 'no output'}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


# asyncio debug mode on a loop made later in another thread, as the lab's server makes its
# own: one step that blocks for block_s, and the asyncio logger's warnings collected.
_DEBUG_PROBE = r"""
import asyncio, json, logging, sys, threading, time
patched, block_s = sys.argv[1] == "1", float(sys.argv[2])
if patched:
    import nest_asyncio
    nest_asyncio.apply(asyncio.new_event_loop())

warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("asyncio").addHandler(Collect(logging.WARNING))
result = {}

def server_thread():
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    async def blocks():
        time.sleep(block_s)  # blocks the loop, on purpose
    loop.run_until_complete(blocks())
    loop.close()
    run_once = type(loop)._run_once
    result["run_once"] = f"{run_once.__module__}.{run_once.__qualname__}"

thread = threading.Thread(target=server_thread)
thread.start()
thread.join()
print(json.dumps({**result, "warnings": warnings}))
"""


@dataclass
class DebugModeReport:
    """What ``debug_mode_warnings`` saw in one subprocess.

    ``run_once``: whose ``_run_once`` the thread's new loop ran; ``warnings``: the asyncio
    logger's warnings (debug mode reports each step slower than 100 ms)."""

    patched: bool
    block_s: float
    run_once: str
    warnings: list[str]


def debug_mode_warnings(patched: bool, block_s: float = 0.25) -> DebugModeReport:
    """Block a debug-mode loop for ``block_s`` seconds in a new thread of a fresh process,
    after ``nest_asyncio.apply()`` in its main thread if ``patched``; collect the warnings.

    ``block_s`` must be between 0.15 and 2 s: above asyncio's 0.1 s slow-callback threshold
    with a margin, short enough for a lesson.
    """
    if not isinstance(patched, bool):
        raise ValueError(f"patched must be True or False, got {patched!r}")
    if isinstance(block_s, bool) or not isinstance(block_s, int | float):
        raise ValueError(f"block_s must be a number of seconds, got {block_s!r}")
    if not 0.15 <= block_s <= 2.0:
        raise ValueError(f"block_s must be between 0.15 and 2 s, got {block_s!r}")
    answer = _one_shot(_DEBUG_PROBE, "1" if patched else "0", str(block_s))
    return DebugModeReport(patched, float(block_s), answer["run_once"], answer["warnings"])


# nest_asyncio applied *before* uvicorn is imported, then Server.run() in a thread, as the
# lab's serve() does; 127.0.0.1 and a free port only.
_UVICORN_PROBE = r"""
import asyncio, json, sys, threading, time
import nest_asyncio
nest_asyncio.apply(asyncio.new_event_loop())
import uvicorn

async def app(scope, receive, send):
    pass

config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="error")
server = uvicorn.Server(config)
outcome = {}

def run():
    try:
        server.run()
    except Exception as error:
        outcome["error"] = f"{type(error).__name__}: {error}"

thread = threading.Thread(target=run)
thread.start()
deadline = time.monotonic() + 10
while not server.started and thread.is_alive() and time.monotonic() < deadline:
    time.sleep(0.02)
started = server.started
server.should_exit = True
thread.join(10)
print(json.dumps({"python": sys.version.split()[0], "started": started, **outcome}))
"""


def uvicorn_after_nest_asyncio() -> dict[str, Any]:
    """Apply ``nest_asyncio`` and then import uvicorn and run ``Server.run()`` in a thread of
    a fresh process (this Python). Returns ``python`` (version), ``started`` (did the server
    come up?) and ``error`` (``"TypeError: …"``) if ``run()`` raised."""
    return _one_shot(_UVICORN_PROBE)
