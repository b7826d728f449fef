"""Notebook Run-All time: what a learner waits for after "Run All", and what CI pays.

Every ``notebooks/*.ipynb`` present when the benchmark runs is executed top to bottom in a
fresh ``python3`` kernel, working directory ``notebooks/``, twice: with ``LAB_FAST`` unset
(full-size workloads, target ≤ 40 s) and with ``LAB_FAST=1`` (the CI size, target ≤ 15 s).
The time counted is the cells' execution, not the kernel start (reported separately).
Notebooks are read, never written back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from benchmarks.agenda import write_agenda
from benchmarks.report import Result, Section, check

__all__ = [
    "FAST_TARGET_S",
    "NOTEBOOKS_DIR",
    "TARGET_S",
    "NotebookTiming",
    "measure",
    "time_notebook",
]

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
TARGET_S = 40.0
FAST_TARGET_S = 15.0
CELL_TIMEOUT_S = 180
NOTEBOOK_BUDGET_S = 300.0  # stop a runaway notebook between cells after this long


@dataclass
class NotebookTiming:
    """Run-All of one notebook: cell time and kernel start in seconds, and what failed."""

    name: str
    cells_s: float
    kernel_start_s: float
    error: str | None = None


@contextmanager
def _size(fast: bool) -> Iterator[None]:
    """Set ``LAB_FAST=1`` (``fast``) or unset it while kernels start (they inherit this
    process's environment); the caller's value comes back afterwards."""
    saved = os.environ.pop("LAB_FAST", None)
    if fast:
        os.environ["LAB_FAST"] = "1"
    try:
        yield
    finally:
        os.environ.pop("LAB_FAST", None)
        if saved is not None:
            os.environ["LAB_FAST"] = saved


def _summary(exc: BaseException) -> str:
    if isinstance(exc, CellExecutionError):
        ename = getattr(exc, "ename", "") or "error"
        evalue = getattr(exc, "evalue", "") or ""
        return f"{ename}: {evalue}".strip()[:200]
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def time_notebook(
    path: Path, cell_timeout: int = CELL_TIMEOUT_S, fast: bool = False
) -> NotebookTiming:
    """Run every cell of the notebook at ``path`` in a fresh kernel and time it, at full
    size or (``fast``) with ``LAB_FAST=1``."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    cells_started = started
    error: str | None = None
    try:
        with _size(fast), client.setup_kernel():
            cells_started = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                if time.perf_counter() - cells_started > NOTEBOOK_BUDGET_S:
                    error = f"stopped after {NOTEBOOK_BUDGET_S:.0f} s at cell {index}"
                    break
                try:
                    client.execute_cell(cell, index)
                except (CellExecutionError, CellTimeoutError) as exc:
                    error = f"cell {index}: {_summary(exc)}"
                    break
            cells_done = time.perf_counter()
    except (DeadKernelError, RuntimeError, OSError) as exc:
        cells_done = time.perf_counter()
        error = error or _summary(exc)
    return NotebookTiming(path.name, cells_done - cells_started, cells_started - started, error)


def measure(notebooks_dir: Path = NOTEBOOKS_DIR, agenda: Path | None = None) -> Section:
    """Time every notebook in ``notebooks_dir`` and return the section of the report.

    With ``agenda`` (``docs/workshop.md``), its agenda block is rewritten from the timings.
    """
    section = Section("Notebook Run-All time", (__doc__ or "").split("\n\n", 1)[1].strip())
    paths = sorted(notebooks_dir.glob("*.ipynb"))
    if not paths:
        section.results.append(
            Result(
                "notebook Run-All",
                "no notebooks",
                f"≤ {TARGET_S:.0f} s each",
                "skipped",
                f"no *.ipynb under {notebooks_dir.name}/ when the benchmark ran",
            )
        )
        return section
    measured_s: dict[str, float | None] = {}
    for path in paths:
        for fast, target in ((False, TARGET_S), (True, FAST_TARGET_S)):
            timing = time_notebook(path, fast=fast)
            if not fast:
                measured_s[path.stem] = timing.cells_s if timing.error is None else None
            section.results.append(_row(timing, fast, target))
    if agenda is not None:
        write_agenda(measured_s, time.strftime("%Y-%m-%d", time.gmtime()), agenda)
    return section


def _row(timing: NotebookTiming, fast: bool, target: float) -> Result:
    name = f"notebook {timing.name}" + (", LAB_FAST=1" if fast else "")
    measured = f"{timing.cells_s:.1f} s (kernel start {timing.kernel_start_s:.1f} s)"
    if timing.error is not None:
        return Result(
            name, f"failed after {measured}", f"≤ {target:.0f} s", "failed",
            f"failed: {timing.error}",
        )  # fmt: skip
    status = check(timing.cells_s, at_most=target)
    size = "in fast mode" if fast else "at full size"
    note = "" if status == "pass" else f"Run All {size} is slower than the target"
    return Result(name, measured, f"≤ {target:.0f} s", status, note)
