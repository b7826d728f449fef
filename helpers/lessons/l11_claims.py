"""Lesson 11: popular claims about FastAPI concurrency, and the book of their verdicts.

The notebook runs the experiments; this module only keeps the book. A verdict comes from
a *rule*: a small function of the measured numbers, written in the notebook, that returns
``"true"``, ``"false"``, ``"depends"`` or ``"inconclusive here"`` (this machine cannot
show the effect). The book stores the rule's code next to the numbers it was given:

    def one_at_a_time(peak_in_flight):
        return "true" if peak_in_flight == 1 else "false"

    book = ClaimBook()
    book.judge(1, one_at_a_time, peak_in_flight=40)
    book.frame()                      # the verdict table: claim, verdict, rule, measured
    book.check(EXPECTED_VERDICTS)     # claims where this machine disagrees with the lab
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import pandas as pd

__all__ = ["CLAIMS", "EXPECTED_VERDICTS", "Claim", "ClaimBook", "Finding", "Verdict", "rule_code"]

Verdict = Literal["true", "false", "depends", "inconclusive here"]
VERDICTS: tuple[str, ...] = get_args(Verdict)


@dataclass(frozen=True)
class Claim:
    """One popular claim: its ``number``, the ``text`` as people say it, and the ``lesson``
    (notebook stem) that shows the mechanism in depth."""

    number: int
    text: str
    lesson: str


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "sync (def) endpoints handle one request at a time", "02_thread_pool"),
    Claim(2, "def endpoints run on the loop's default executor, run_in_executor(None)",
          "02_thread_pool"),
    Claim(3, "the pool for def endpoints is about 40 threads", "02_thread_pool"),
    Claim(4, "a blocking call in async def freezes all requests", "03_blocking_the_loop"),
    Claim(5, "a blocking call in def does not block the event loop", "03_blocking_the_loop"),
    Claim(6, "100 calls: requests in def ≈ 2.1 s, httpx async ≈ 0.4 s", "05_calling_services"),
    Claim(7, "asyncio.gather takes as long as the slowest, not the sum", "08_task_patterns"),
    Claim(8, "asyncio.gather cancels the other tasks when one fails", "08_task_patterns"),
    Claim(9, "threads don't speed up CPU work, processes do", "04_cpu_bound"),
    Claim(10, "a 4-thread executor is the way to handle CPU work", "04_cpu_bound"),
    Claim(11, "background tasks run after the response, on the event loop",
          "07_dependencies_and_background"),
    Claim(12, "one event loop serves thousands of concurrent requests", "01_event_loop"),
    Claim(13, "async endpoints are always faster than def endpoints", "03_blocking_the_loop"),
    Claim(14, "a trivial def endpoint stays fast while other def endpoints block",
          "02_thread_pool"),
)  # fmt: skip

# What the lab found on its machines. A tuple allows either verdict: claims 9 and 10 need
# a free second core, which a one-core or saturated machine does not have.
EXPECTED_VERDICTS: dict[int, Verdict | tuple[Verdict, ...]] = {
    1: "false", 2: "false", 3: "true", 4: "true", 5: "true", 6: "depends", 7: "true",
    8: "false", 9: ("true", "inconclusive here"), 10: ("false", "inconclusive here"),
    11: "depends", 12: "true", 13: "false", 14: "false",
}  # fmt: skip


def rule_code(rule: Callable[..., str]) -> str:
    """The body of ``rule`` as one line of code (its statements joined by ``;``), or its
    name when the source cannot be read (e.g. a function typed at a plain REPL)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(rule)))
    except (OSError, TypeError, SyntaxError):
        return getattr(rule, "__name__", repr(rule))
    node = tree.body[0]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        body = [s for s in node.body if not _is_docstring(s)]
        code = "; ".join(ast.unparse(s) for s in body)
    else:
        code = ast.unparse(node)
    # one line, so a table cell shows it the same in HTML and in text
    return " ".join(line.strip() for line in code.splitlines())


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return str(value)


@dataclass(frozen=True)
class Finding:
    """What one experiment found: the ``verdict``, the ``rule`` that computed it (code, as
    text) and the ``measured`` numbers it was given."""

    number: int
    verdict: Verdict
    rule: str
    measured: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        numbers = ", ".join(f"{k}={_show(v)}" for k, v in self.measured.items())
        return f"claim {self.number}: {self.verdict} ({numbers})"


class ClaimBook:
    """The verdicts of one notebook run, in claim order; judging a claim again replaces it."""

    def __init__(self, claims: Iterable[Claim] = CLAIMS) -> None:
        self.claims = {claim.number: claim for claim in claims}
        self.findings: dict[int, Finding] = {}

    def judge(self, number: int, rule: Callable[..., str], **measured: Any) -> Finding:
        """Compute claim ``number``'s verdict as ``rule(**measured)``, store it with the
        rule's code and the numbers, and return it (so a cell shows it).

        ``rule`` must return ``"true"``, ``"false"``, ``"depends"`` or
        ``"inconclusive here"``.
        """
        if number not in self.claims:
            raise ValueError(f"no claim number {number}; claims are {sorted(self.claims)}")
        verdict = rule(**measured)
        if verdict not in VERDICTS:
            raise ValueError(
                f"rule {getattr(rule, '__name__', rule)!r} returned {verdict!r}; "
                f"a verdict is one of {VERDICTS}"
            )
        finding = Finding(number, cast(Verdict, verdict), rule_code(rule), dict(measured))
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

        Columns: ``claim``, ``verdict`` (empty until judged), ``rule`` (its code),
        ``measured`` (the numbers the rule got), ``lesson``; with ``guesses`` (claim number
        → your verdict; blanks are skipped) also ``your_guess`` and ``you_were_right``.
        """
        rows = []
        for number in sorted(self.claims):
            claim, found = self.claims[number], self.findings.get(number)
            row: dict[str, Any] = {
                "claim": claim.text,
                "verdict": found.verdict if found else "",
                "rule": found.rule if found else "",
                "measured": (
                    ", ".join(f"{k}={_show(v)}" for k, v in found.measured.items()) if found else ""
                ),
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
                problems.append(f"claim {number}: no verdict yet (expected {wanted!r})")
            elif found.verdict not in allowed:
                problems.append(
                    f"{found} — the lab expects {' or '.join(map(repr, allowed))}; "
                    f"rule: {found.rule}"
                )
        return problems
