"""Run the benchmarks and write ``docs/benchmarks.md``.

python -m benchmarks.run                  # everything (several minutes)
python -m benchmarks.run --only fidelity  # one benchmark (repeatable)
python -m benchmarks.run --quick          # smaller, fewer rounds; skips notebooks
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import (
    collector_pause,
    cpu_account_cost,
    fidelity,
    lab_vs_uvicorn,
    lag_probe,
    notebook_time,
    tracing_cost,
)
from benchmarks.agenda import WORKSHOP
from benchmarks.report import Result, Section, load_average, machine_info, render, write
from helpers import stop_all

__all__ = ["BENCHMARKS", "main"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
# Sections measured on their own, copied after the generated ones: lesson 12's broker table
# (`python -m benchmarks.queue_brokers` prints its table for benchmarks/queue_brokers.md).
HAND_MEASURED = [Path(__file__).resolve().parent / "queue_brokers.md"]
LOADED_PER_CORE = 0.5  # 1-minute load above this per core: say the numbers are noisy


def _fidelity(quick: bool) -> Section:
    if quick:
        return asyncio.run(fidelity.measure(sizes=(100,), rounds=1))
    return asyncio.run(fidelity.measure())


def _tracing(quick: bool) -> Section:
    if quick:
        return asyncio.run(tracing_cost.measure(rounds=1, seconds=1))
    return asyncio.run(tracing_cost.measure())


def _lab_vs_uvicorn(quick: bool) -> Section:
    if quick:
        return asyncio.run(lab_vs_uvicorn.measure(rounds=1, seconds=1))
    return asyncio.run(lab_vs_uvicorn.measure())


def _cpu_account(quick: bool) -> Section:
    if quick:
        return asyncio.run(cpu_account_cost.measure(rounds=2, n=100, snapshots=200))
    return asyncio.run(cpu_account_cost.measure())


def _lag(quick: bool) -> Section:
    return asyncio.run(lag_probe.measure(repeats=2 if quick else 5))


def _collector(quick: bool) -> Section:
    if quick:
        return asyncio.run(collector_pause.measure(objects=100_000, repeats=1))
    return asyncio.run(collector_pause.measure())


def _notebooks(quick: bool) -> Section:
    if quick:
        section = Section("Notebook Run-All time", "Skipped with `--quick`.")
        section.results.append(
            Result("notebook Run-All", "not measured", "≤ 40 s each", "skipped", "--quick")
        )
        return section
    return notebook_time.measure(agenda=WORKSHOP)


BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "fidelity": _fidelity,
    "tracing": _tracing,
    "uvicorn": _lab_vs_uvicorn,
    "cpu-account": _cpu_account,
    "lag": _lag,
    "collector": _collector,
    "notebooks": _notebooks,
}


def _run_one(name: str, quick: bool) -> Section:
    started = time.perf_counter()
    print(f"[bench] {name} …", file=sys.stderr, flush=True)
    try:
        section = BENCHMARKS[name](quick)
    except Exception as exc:  # one broken benchmark must not lose the others' results
        traceback.print_exc()
        section = Section(name, "The benchmark raised before it finished.")
        section.results.append(
            Result(name, "not measured", status="failed", note=f"{type(exc).__name__}: {exc}")
        )
    finally:
        stop_all()
    print(f"[bench] {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return section


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code (0 unless misused)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark"
    )
    parser.add_argument("--quick", action="store_true", help="smaller loads, fewer rounds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown file to write")
    parser.add_argument(
        "--note", action="append", default=[], help="a sentence to add to the report"
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    started = datetime.datetime.now().astimezone()
    machine = machine_info()
    sections = [_run_one(name, args.quick) for name in names]
    notes = list(args.note)
    cores = os.cpu_count() or 1
    before = float(machine["load average (1/5/15 min)"].split(" / ")[0] or 0)
    if before > LOADED_PER_CORE * cores:
        notes.append(
            f"The machine was busy when this run started (1-minute load {before:.2f} on "
            f"{cores} cores): expect noisy numbers."
        )
    if args.only or args.quick:
        flags = " ".join(
            [*(f"--only {n}" for n in names if args.only), *(["--quick"] * args.quick)]
        )
        notes.append(f"Partial run ({flags}): benchmarks not listed here were not run.")
    command = "python -m benchmarks.run" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    text = render(
        sections,
        started=started,
        machine_before=machine,
        load_after=load_average(),
        command=command,
        notes=notes,
    )
    text += "".join("\n" + page.read_text(encoding="utf-8") for page in HAND_MEASURED)
    path = write(args.out, text)
    print(f"[bench] wrote {path}", file=sys.stderr)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
