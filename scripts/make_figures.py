"""Regenerate the README's figures into docs/img/ from live bursts (``make figures``).

Each figure is a real measurement made when the script runs; nothing is drawn by hand.
``--fast`` shrinks the bursts (used by the test), ``--out`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from helpers import apps, compare, fire, plot_timeline, serve, sized

ROOT = Path(__file__).resolve().parent.parent


async def figures(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    n = sized(100, 60)
    with serve(apps.demo_app(title="figures")) as server:
        slept = await fire(
            server,
            "/async_sleep",
            n=n,
            params={"seconds": 0.5},
            label="async def + await asyncio.sleep(0.5)",
            progress=False,
        )
        threaded = await fire(
            server,
            "/sync_sleep",
            n=n,
            params={"seconds": 0.5},
            label="def + time.sleep(0.5)",
            progress=False,
        )
        frozen = await fire(
            server,
            "/blocking_in_async",
            n=sized(10, 6),
            params={"seconds": 0.05},
            label="time.sleep(0.05) inside async def",
            progress=False,
        )
    s, t = slept.summary(), threaded.summary()
    figure = compare(
        slept,
        threaded,
        titles=[
            f"async def: {s['n']} requests overlap on the loop, {s['makespan_s']:.2f} s",
            f"def: {t['worker_threads']} worker threads, {t['waves']} waves, "
            f"{t['makespan_s']:.2f} s",
        ],
    )
    written.append(_save(figure, out / "async_vs_def.png"))
    written.append(
        _save(
            plot_timeline(
                threaded,
                by="thread",
                title=(
                    f"{t['n']} def requests on {t['worker_threads']} threads: "
                    "the pool fills, the rest "
                    f"wait (peak {t['peak_waiting']} waiting)"
                ),
            ),
            out / "pool_saturation.png",
        )
    )
    f = frozen.summary()
    written.append(
        _save(
            frozen.plot(
                title=(
                    f"time.sleep in async def: one handler at a time, the loop frozen up to "
                    f"{f['max_lag_ms']:.0f} ms"
                )
            ),
            out / "loop_freeze.png",
        )
    )
    return written


def _save(figure: object, path: Path) -> Path:
    # The notebook's own resolution, so the README shows what a learner sees.
    from helpers._plots import DPI

    figure.savefig(path, dpi=DPI)  # type: ignore[attr-defined]
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--fast", action="store_true", help="smaller bursts (LAB_FAST=1)")
    args = parser.parse_args(argv)
    if args.fast:
        import os

        os.environ["LAB_FAST"] = "1"
    for path in asyncio.run(figures(args.out)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
