from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import Server
from tests.conftest import burst
from tests.test_run import make_run


def check_trace(document: dict) -> None:  # type: ignore[type-arg]
    events = document["traceEvents"]
    assert events
    tracks: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for event in events:
        assert {"ph", "pid", "name"} <= set(event)
        if event["ph"] in {"X", "b", "e", "C"}:
            assert isinstance(event["ts"], float | int) and event["ts"] >= 0
        if event["ph"] in {"b", "e"}:
            assert "id" in event and "cat" in event
        if event["ph"] == "X":
            tracks[(event["pid"], event["tid"])].append((event["ts"], event["ts"] + event["dur"]))
    for spans in tracks.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, "complete events overlap on one track"


def test_synthetic_run_exports_valid_trace(tmp_path: Path) -> None:
    path = make_run().to_trace(tmp_path / "burst.json")
    check_trace(json.loads(path.read_text()))


def test_real_burst_exports_microsecond_timestamps(demo: Server, tmp_path: Path) -> None:
    run = burst(demo, "/sync_sleep", n=50, params={"seconds": 0.05})
    document = json.loads(run.to_trace(tmp_path / "real.json").read_text())
    check_trace(document)
    handler = [e for e in document["traceEvents"] if e["ph"] == "X"]
    assert len(handler) == 50
    assert all(40_000 <= e["dur"] <= 1_000_000 for e in handler)  # 0.05 s ≈ 50 000 µs


def test_trace_path_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.json"):
        make_run().to_trace(tmp_path / "burst.txt")
