"""Lesson 11: popular claims about FastAPI concurrency, and the book of their verdicts.

The notebook runs one small experiment per claim (tools in ``helpers.lessons.l11_claim_checks``),
computes a verdict from the numbers with an explicit threshold, and records it:

    book = ClaimBook()
    book.record(1, "false" if s["peak_in_flight"] >= 20 else "true",
                evidence=f"{s['peak_in_flight']} def handlers at once", ratio=...)
    book.frame()                      # the verdict table
    book.check(expected_verdicts())   # claims where this machine disagrees with the lab
    book.plot()                       # one bar per claim: the measured ratio
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pandas as pd
from matplotlib.patches import Patch

from helpers._plots import FONT, LabFigure

__all__ = ["CLAIMS", "Claim", "ClaimBook", "Finding", "Verdict", "expected_verdicts"]

Verdict = Literal["true", "false", "depends"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
VERDICT_COLORS = {"true": "#2ca02c", "false": "#d62728", "depends": "#ff7f0e"}


@dataclass(frozen=True)
class Claim:
    """One popular claim: its ``number``, the ``text`` as people say it, and the ``lesson``
    (notebook stem) that shows the mechanism in depth."""

    number: int
    text: str
    lesson: str


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "sync (def) endpoints handle one request at a time", "02_thread_pool"),
    Claim(2, "def routes use run_in_executor(None), sized min(32, cpu+4)", "02_thread_pool"),
    Claim(3, "the default pool for def endpoints is about 40 threads", "02_thread_pool"),
    Claim(4, "a blocking call in async def freezes all requests", "03_blocking_the_loop"),
    Claim(5, "a blocking call in def does not block the event loop", "03_blocking_the_loop"),
    Claim(6, "100 calls: requests in def ≈ 2.1 s, httpx async ≈ 0.4 s", "05_calling_services"),
    Claim(7, "asyncio.gather takes as long as the slowest, not the sum", "08_task_patterns"),
    Claim(8, "asyncio.gather cancels the other tasks when one fails", "08_task_patterns"),
    Claim(9, "threads don't speed up CPU work, processes do", "04_cpu_bound"),
    Claim(10, "a 4-thread executor is the way to handle CPU work", "04_cpu_bound"),
    Claim(11, "background tasks run after the response, on the event loop",
          "07_dependencies_and_background"),
    Claim(12, "one event loop on one core serves thousands of concurrent requests",
          "01_event_loop"),
    Claim(13, "async endpoints are always faster than def endpoints", "03_blocking_the_loop"),
)  # fmt: skip


def expected_verdicts(
    cores: int | None = None, pool_cores: float | None = None
) -> dict[int, Verdict | tuple[Verdict, ...]]:
    """What the lab expects each claim's verdict to be on this machine.

    Only claim 9 depends on the machine: with one core a process pool has nothing to run
    in parallel on, so "processes do speed it up" cannot be shown — it reads
    ``depends``. ``cores`` defaults to ``len(os.sched_getaffinity(0))``
    (``os.cpu_count()`` where that is missing). Cores can also be taken by other
    programs; ``pool_cores`` — the CPU seconds per wall second the process pool got
    (``CpuRun.cores_used``) — says how many the experiment really had: ≥ 1.6 expects
    ``true``, < 1.1 ``depends``, and in between either is accepted (a tuple of verdicts).
    """
    if cores is None:
        cores = _usable_cores()
    if cores < 1:
        raise ValueError(f"cores must be ≥ 1, got {cores}")
    claim9: Verdict | tuple[Verdict, ...] = "true" if cores >= 2 else "depends"
    if cores >= 2 and pool_cores is not None:
        if pool_cores < 1.1:
            claim9 = "depends"
        elif pool_cores < 1.6:
            claim9 = ("true", "depends")
    return {
        1: "false", 2: "false", 3: "true", 4: "true", 5: "depends", 6: "depends",
        7: "true", 8: "false", 9: claim9, 10: "false", 11: "depends", 12: "true",
        13: "false",
    }  # fmt: skip


def _usable_cores() -> int:
    getaffinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(getaffinity(0)) if getaffinity else os.cpu_count() or 1)


@dataclass(frozen=True)
class Finding:
    """What one experiment found: the computed ``verdict``, the ``evidence`` (a short
    sentence built from the measured numbers) and an optional ``ratio`` for the summary
    figure with a ``ratio_label`` saying what was divided by what."""

    number: int
    verdict: Verdict
    evidence: str
    ratio: float | None = None
    ratio_label: str = ""


class ClaimBook:
    """The verdicts of one notebook run, in claim order; recording a claim again replaces it."""

    def __init__(self, claims: Iterable[Claim] = CLAIMS) -> None:
        self.claims = {claim.number: claim for claim in claims}
        self.findings: dict[int, Finding] = {}

    def record(
        self,
        number: int,
        verdict: str,
        evidence: str,
        ratio: float | None = None,
        ratio_label: str = "",
    ) -> Finding:
        """Store the verdict of claim ``number`` and return it (so a cell shows it).

        ``verdict`` is ``"true"``, ``"false"`` or ``"depends"``; ``ratio`` must be a
        positive number (it is drawn on a log scale) or ``None``.
        """
        if number not in self.claims:
            raise ValueError(f"no claim number {number}; claims are {sorted(self.claims)}")
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        if ratio is not None and not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(f"ratio must be a positive finite number or None, got {ratio!r}")
        finding = Finding(number, verdict, evidence, ratio, ratio_label)  # type: ignore[arg-type]
        self.findings[number] = finding
        return finding

    def add_claim(self, claim: Claim) -> None:
        """Add a claim of your own (its ``number`` must be new)."""
        if claim.number in self.claims:
            raise ValueError(
                f"claim {claim.number} exists already: {self.claims[claim.number].text!r}"
            )
        self.claims[claim.number] = claim

    def missing(self) -> list[int]:
        """Claim numbers that have no verdict yet."""
        return [n for n in sorted(self.claims) if n not in self.findings]

    def frame(self, guesses: Mapping[int, str] | None = None) -> pd.DataFrame:
        """The verdict table, one row per claim (index: claim number).

        Columns: ``claim``, ``verdict`` (empty until recorded), ``evidence``, ``lesson``;
        with ``guesses`` (claim number → your ``true``/``false``/``depends``; blanks are
        skipped) also ``your_guess`` and ``you_were_right``.
        """
        rows = []
        for number in sorted(self.claims):
            claim, found = self.claims[number], self.findings.get(number)
            row: dict[str, Any] = {
                "claim": claim.text,
                "verdict": found.verdict if found else "",
                "evidence": found.evidence if found else "",
                "lesson": claim.lesson,
            }
            if guesses is not None:
                guess = str(guesses.get(number, "") or "").strip().lower()
                row["your_guess"] = guess
                row["you_were_right"] = (guess == row["verdict"]) if guess and found else None
            rows.append(row)
        table: pd.DataFrame = pd.DataFrame(rows, index=pd.Index(sorted(self.claims), name="#"))
        return table

    def check(
        self, expected: Mapping[int, str | tuple[str, ...]], only: Iterable[int] | None = None
    ) -> list[str]:
        """One line per claim whose verdict is missing or not what ``expected`` allows (a
        verdict, or a tuple of acceptable verdicts), for the claim numbers in ``only``
        (default: all of ``expected``)."""
        numbers = set(expected) if only is None else set(only)
        problems = []
        for number in sorted(numbers):
            if number not in expected:
                raise ValueError(f"no expected verdict for claim {number}")
            wanted = expected[number]
            allowed = (wanted,) if isinstance(wanted, str) else tuple(wanted)
            found = self.findings.get(number)
            if found is None:
                problems.append(f"claim {number}: no verdict recorded (expected {wanted!r})")
            elif found.verdict not in allowed:
                problems.append(
                    f"claim {number}: measured {found.verdict!r}, the lab expects "
                    f"{' or '.join(map(repr, allowed))} — evidence: {found.evidence}"
                )
        return problems

    def plot(self, title: str | None = None) -> LabFigure:
        """One horizontal bar per claim: its measured ratio on a log axis, coloured by verdict.

        The default title counts the verdicts. Claims recorded without a ratio get a note
        instead of a bar.
        """
        numbers = sorted(self.claims)
        fig = LabFigure(figsize=(12, 0.62 * len(numbers) + 1.4))
        ax = fig.add_subplot()
        ratios = [f.ratio for f in self.findings.values() if f.ratio is not None]
        for y, number in enumerate(numbers):
            found = self.findings.get(number)
            if found is None or found.ratio is None:
                note = "not measured yet" if found is None else f"({found.verdict}: see the table)"
                ax.text(1.05, y, note, va="center", fontsize=FONT - 2, color="grey")
                continue
            low, high = sorted((1.0, found.ratio))
            color = VERDICT_COLORS[found.verdict]
            ax.barh(y, high - low, left=low, height=0.6, color=color)
            ax.plot([found.ratio], [y], marker="o", color=color, markersize=8)
            ax.text(high * 1.25, y, f"{found.ratio:.3g}×  {found.ratio_label}",
                    va="center", fontsize=FONT - 2)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlim(min([*ratios, 1.0]) / 2, max([*ratios, 10.0]) * 300)
        ax.axvline(1, color="black", lw=1)
        labels = [textwrap.fill(f"{n}. {self.claims[n].text}", 40) for n in numbers]
        ax.set_yticks(range(len(numbers)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("measured ratio (log scale; 1 = no difference)", fontsize=FONT)
        ax.tick_params(labelsize=FONT - 3)
        fig.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLORS.items()],
                   loc="upper right", ncol=3, fontsize=FONT - 2, frameon=False)  # fmt: skip
        if title is None:
            counts = {v: sum(f.verdict == v for f in self.findings.values()) for v in VERDICTS}
            title = (
                f"{counts['true']} of {len(self.findings)} claims hold as stated, "
                f"{counts['depends']} only under a condition, {counts['false']} are false"
            )
        fig.suptitle(title, fontsize=FONT + 2, x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        return fig
