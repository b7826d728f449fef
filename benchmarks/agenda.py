"""Write the workshop agenda in ``docs/workshop.md`` from measured Run-All times.

The block between the ``agenda:start``/``agenda:end`` markers is replaced; the rest of the
guide is prose and stays as written. Teaching minutes come from ``scripts/make_nav.py``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = ROOT / "docs" / "workshop.md"
START, END = "<!-- agenda:start -->", "<!-- agenda:end -->"


def _lessons() -> list[tuple[str, str, int]]:
    spec = importlib.util.spec_from_file_location("make_nav", ROOT / "scripts" / "make_nav.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [(lesson.stem, lesson.title, lesson.minutes) for lesson in module.LESSONS]


def agenda_table(run_all_s: Mapping[str, float | None], when: str) -> str:
    """Markdown agenda: lesson, teaching minutes, measured Run-All seconds, start offset."""
    rows = [
        "| lesson | teaching time | Run All at full size (measured) | starts at |",
        "|---|---|---|---|",
    ]
    clock = 0
    for stem, title, minutes in _lessons():
        if stem not in run_all_s:
            continue
        seconds = run_all_s[stem]
        measured = "failed" if seconds is None else f"{seconds:.0f} s"
        rows.append(f"| `{stem}` · {title} | {minutes} min | {measured} | +{clock} min |")
        clock += minutes
    rows.append(f"| **total** | **{clock} min** (plus breaks) | | |")
    rows.append("")
    rows.append(f"Run-All times measured by `make bench` on {when}; see `docs/benchmarks.md`.")
    return "\n".join(rows)


def write_agenda(run_all_s: Mapping[str, float | None], when: str, path: Path = WORKSHOP) -> bool:
    """Replace the agenda block in ``path``; False when the file or its markers are missing."""
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{agenda_table(run_all_s, when)}\n{END}{tail}", "utf-8")
    return True
