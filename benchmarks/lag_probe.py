"""Lag-probe accuracy: does ``max_lag_ms`` read a known block of the event loop right?

An ``async def`` endpoint calls ``time.sleep(0.2)`` (blocking the server loop for 200 ms);
one request is fired and ``run.summary()["max_lag_ms"]`` is compared with 200 ms.
"""

from __future__ import annotations

import asyncio

from benchmarks.report import Result, Section, median
from helpers import apps, fire, serve

__all__ = ["TOLERANCE_MS", "measure"]

BLOCK_S = 0.2
TOLERANCE_MS = 15.0


async def measure(repeats: int = 5) -> Section:
    """Run the lag-probe benchmark ``repeats`` times and return its section of the report."""
    section = Section(
        "Lag probe accuracy",
        (__doc__ or "").split("\n\n", 1)[1].strip()
        + f" Repeated {repeats} times against one `serve(trace=True)` server; error = "
        "`max_lag_ms` − 200 ms. Pass when every repeat is within "
        f"±{TOLERANCE_MS:.0f} ms. The probe wakes every 5 ms, so up to one period of "
        "the block can fall before the probe's next expected wake-up (error in "
        "[−5, 0] ms plus scheduling noise).",
    )
    server = serve(apps.demo_app(title="bench-lag"), trace=True)
    errors: list[float] = []
    try:
        await fire(server, "/health_async", n=5, progress=False)  # warm-up
        for _ in range(repeats):
            await asyncio.sleep(0.2)
            run = await fire(
                server, "/blocking_in_async", n=1, params={"seconds": BLOCK_S}, progress=False
            )
            if run.summary()["failed"]:
                raise RuntimeError(f"the blocking request failed: {run.requests['error'][0]}")
            errors.append(float(run.summary()["max_lag_ms"]) - BLOCK_S * 1000)
    finally:
        server.stop()
    worst = max(errors, key=abs)
    status = "pass" if abs(worst) <= TOLERANCE_MS else "miss"
    note = "" if status == "pass" else f"worst repeat off by {worst:+.1f} ms"
    section.results.append(
        Result(
            "lag probe: max_lag_ms − 200 ms",
            f"min {min(errors):+.1f} · median {median(errors):+.1f} · max {max(errors):+.1f} ms "
            f"[{', '.join(f'{e:+.1f}' for e in errors)}]",
            f"±{TOLERANCE_MS:.0f} ms",
            status,
            note,
        )
    )
    return section
