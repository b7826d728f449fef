"""Write the title cell and the prev/next navigation of every lesson notebook.

Re-runnable: the cells it owns carry the tags ``nav-header`` / ``nav-footer`` and are
replaced on every run, never edited by hand. Run it with ``make nav`` after adding a lesson
to ``LESSONS``; ``tests/test_nav.py`` fails when a notebook is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class Lesson(NamedTuple):
    stem: str
    title: str
    promise: str
    minutes: int


LESSONS = [
    Lesson("00_welcome", "Welcome to the lab bench",
           "Check your setup, meet the kernel's own event loop, and run a first burst.", 20),
    Lesson("01_event_loop", "The event loop",
           "One thread, a hundred requests: watch async handlers interleave.", 20),
    Lesson("02_thread_pool", "The thread pool",
           "What a plain def endpoint really does: 40 threads, waves and queues.", 20),
    Lesson("03_blocking_the_loop", "Blocking the loop",
           "One blocking call in async def freezes every request; catch it and fix it.", 20),
    Lesson("04_cpu_bound", "CPU-bound work",
           "The GIL, threads that do not speed up pure-Python work, and processes that do.", 20),
    Lesson("05_calling_services", "Calling other services",
           "requests vs httpx, shared clients, and the pools hidden inside HTTP clients.", 20),
    Lesson("06_databases", "Databases",
           "Sync and async drivers, sessions, and a connection pool that runs dry.", 20),
    Lesson("07_dependencies_and_background", "Dependencies and background tasks",
           "The hidden thread users: sync dependencies, serialization, background tasks.", 20),
    Lesson("08_task_patterns", "Task patterns",
           "gather, errors, cancellation, timeouts, and bounding fan-out.", 20),
    Lesson("09_scaling_out", "Scaling out",
           "Worker processes, their own pools, and capacity planning with Little's law.", 20),
    Lesson("10_capstone", "Capstone: the mystery service",
           "Find and fix the hidden problems of a service, and prove each fix.", 30),
    Lesson("11_claims_check", "Claims check",
           "Popular claims about FastAPI concurrency, each measured and given a verdict.", 15),
    Lesson("12_task_queues", "Task queues: when BackgroundTasks are not enough",
           "Celery workers, a Redis broker, and what a queue buys and costs.", 20),
]  # fmt: skip


def header(lesson: Lesson, number: int, total: int) -> str:
    return (
        f"# {lesson.stem[:2]} · {lesson.title}\n\n"
        f"**{lesson.promise}**\n\n"
        f"⏱ about {lesson.minutes} minutes · lesson {number} of {total} · "
        f"{links(lesson)}"
    )


def links(lesson: Lesson) -> str:
    present = [entry for entry in LESSONS if (NOTEBOOKS / f"{entry.stem}.ipynb").exists()]
    index = [entry.stem for entry in present].index(lesson.stem)
    parts = []
    if index > 0:
        before = present[index - 1]
        parts.append(f"[← {before.stem[:2]} · {before.title}]({before.stem}.ipynb)")
    if index < len(present) - 1:
        after = present[index + 1]
        parts.append(f"[{after.stem[:2]} · {after.title} →]({after.stem}.ipynb)")
    return " · ".join(parts) if parts else "the only lesson so far"


def render(lesson: Lesson, number: int, total: int) -> nbformat.NotebookNode:
    path = NOTEBOOKS / f"{lesson.stem}.ipynb"
    nb: nbformat.NotebookNode = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if not {"nav-header", "nav-footer"} & set(_tags(c))]
    head = nbformat.v4.new_markdown_cell(header(lesson, number, total))
    head.metadata["tags"] = ["nav-header"]
    foot = nbformat.v4.new_markdown_cell(f"---\n{links(lesson)}")
    foot.metadata["tags"] = ["nav-footer"]
    for cell in (head, foot):
        cell.pop("id", None)
    nb.cells = [head, *cells, foot]
    return nb


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    tags: list[str] = cell.get("metadata", {}).get("tags", [])
    return tags


def stale() -> list[str]:
    """Lessons whose navigation cells differ from what ``render`` would write."""
    out = []
    present = [entry for entry in LESSONS if (NOTEBOOKS / f"{entry.stem}.ipynb").exists()]
    for number, lesson in enumerate(present, start=1):
        path = NOTEBOOKS / f"{lesson.stem}.ipynb"
        current = nbformat.read(path, as_version=4)
        wanted = render(lesson, number, len(present))
        if [c.source for c in current.cells] != [c.source for c in wanted.cells]:
            out.append(lesson.stem)
    return out


def main() -> int:
    present = [entry for entry in LESSONS if (NOTEBOOKS / f"{entry.stem}.ipynb").exists()]
    for number, lesson in enumerate(present, start=1):
        path = NOTEBOOKS / f"{lesson.stem}.ipynb"
        nb = render(lesson, number, len(present))
        # Keep ids stable for cells we did not write; give ours deterministic ids.
        nb.cells[0]["id"] = "nav-header"
        nb.cells[-1]["id"] = "nav-footer"
        nbformat.write(nb, path)
        print(f"navigation written: {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
