"""Run.to_trace: Chrome Trace Event JSON that Perfetto files under named processes/threads."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import Server, serve
from helpers._trace_export import REQUESTS_PID, SERVER_PID
from tests.conftest import burst, spans_app
from tests.test_run import make_run


def check_trace(document: dict[str, Any]) -> dict[tuple[int, int], str]:
    """Assert the structure Perfetto needs; return the name of every (pid, tid) track."""
    events = document["traceEvents"]
    assert events
    processes = {e["pid"]: e["args"]["name"] for e in events
                 if e["ph"] == "M" and e["name"] == "process_name"}  # fmt: skip
    assert processes == {REQUESTS_PID: "requests", SERVER_PID: "server threads"}
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}  # fmt: skip
    owners = defaultdict(set)
    for pid, tid in names:
        owners[tid].add(pid)
    # Perfetto takes a tid for one thread whatever its pid: no tid may serve two processes
    assert all(len(pids) == 1 for pids in owners.values()), owners
    tracks: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for event in events:
        assert {"ph", "pid", "name"} <= set(event)
        # Async and flow events without a process-scoped id are what Perfetto files under
        # "Global Legacy Events"; the export uses none of them.
        assert event["ph"] in {"X", "C", "M"}, event
        if event["ph"] in {"X", "C"}:
            assert isinstance(event["ts"], int) and event["ts"] >= 0
        if event["ph"] == "X":
            track = (event["pid"], event["tid"])
            assert track in names, f"slice on an unnamed track {track}: {event}"
            # whole µs: Perfetto turns fractional ts and dur into ns apart, and a child
            # that then ends 1 ns after its parent is dropped as overlapping
            assert isinstance(event["ts"], int) and isinstance(event["dur"], int), event
            tracks[track].append((event["ts"], event["ts"] + event["dur"]))
    for track, slices in tracks.items():
        open_ends: list[int] = []
        for start, end in sorted(slices, key=lambda s: (s[0], -s[1])):
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f"{names[track]}: slices cross"
            open_ends.append(end)
    return names


def test_synthetic_run_exports_valid_trace(tmp_path: Path) -> None:
    path = make_run().to_trace(tmp_path / "burst.json")
    document = json.loads(path.read_text())
    names = check_trace(document)
    events = document["traceEvents"]
    requests = [e for e in events if e["ph"] == "X" and e["cat"] == "request"]
    assert sorted(e["args"]["request"] for e in requests) == [0, 1, 2]
    by_track = defaultdict(list)
    for e in requests:
        by_track[e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for slices in by_track.values():  # overlapping requests never share a track
        slices.sort()
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(slices))
    assert "requests 1" in names.values()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve(spans_app("tests: trace export"), thread_limit=2) as running:
        yield running


def test_real_burst_puts_spans_on_thread_tracks(server: Server, tmp_path: Path) -> None:
    run = burst(server, "/sync", n=6)
    document = json.loads(run.to_trace(tmp_path / "real.json").read_text())
    names = check_trace(document)
    slices = [e for e in document["traceEvents"] if e["ph"] == "X"]
    spans = [e for e in slices if e["pid"] == SERVER_PID]
    assert len(spans) == len(run.spans), "every span of run.spans becomes one slice"
    handler = [e for e in spans if e["name"] == "handler"]
    assert len(handler) == 6 and {e["cat"] for e in handler} == {"your span"}
    assert {names[(SERVER_PID, e["tid"])] for e in handler} <= {"worker 1", "worker 2"}
    assert all(9_000 <= e["dur"] <= 1_000_000 for e in handler)  # 10 ms ≈ 10 000 µs
    assert {e["args"]["within FastAPI's"] for e in handler} == {"endpoint"}
    # The six requests overlap in time: several request tracks, each properly nested.
    request_tracks = {e["tid"] for e in slices if e["pid"] == REQUESTS_PID}
    assert len(request_tracks) >= 2
    phases = {e["name"] for e in slices if e["cat"] == "phase"}
    assert "queued for a thread" in phases and any(
        p.startswith("running on worker") for p in phases
    )


def test_async_spans_on_the_loop_get_extra_tracks(server: Server, tmp_path: Path) -> None:
    run = burst(server, "/tasks", n=4)
    document = json.loads(run.to_trace(tmp_path / "tasks.json").read_text())
    names = check_trace(document)
    loop_tracks = [
        n for (pid, _), n in names.items() if pid == SERVER_PID and n.startswith("event loop")
    ]
    assert "event loop" in loop_tracks
    slices = {e["name"]: e for e in document["traceEvents"] if e["ph"] == "X"}
    assert slices["boom"]["args"]["status"] == "error"
    assert slices["boom"]["args"]["error"] == "ValueError: on purpose"
    assert slices["cancelled"]["args"]["status"] == "cancelled"
    assert slices["task"]["args"]["attribute rows"] == 3


def test_trace_path_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.json"):
        make_run().to_trace(tmp_path / "burst.txt")
