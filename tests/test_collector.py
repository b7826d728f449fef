"""helpers._collector: no automatic full collection inside a burst; young ones, and the
thresholds afterwards, as before."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from helpers import serve
from helpers._collector import DEFERRED_THRESHOLD, collections_started, full_collections_deferred
from tests.conftest import burst


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that runs while the test does."""
    with collections_started() as seen:
        yield seen


def _grow_the_old_generation() -> list[list[int]]:
    """Enough surviving containers that CPython's rules make a full collection due."""
    return [[i] for i in range(max(200_000, len(gc.get_objects())))]


def test_without_the_guard_this_allocation_triggers_a_full_collection(
    collections: list[int],
) -> None:
    kept = _grow_the_old_generation()
    assert 2 in collections, f"the control must show a full collection: {set(collections)}"
    del kept


def test_inside_the_guard_only_young_collections_run(collections: list[int]) -> None:
    before = gc.get_threshold()
    with full_collections_deferred():
        assert gc.get_threshold() == (before[0], before[1], DEFERRED_THRESHOLD)
        kept = _grow_the_old_generation()
    assert 2 not in collections, "no full collection may start inside the block"
    assert {0, 1} <= set(collections), "young collections must go on as usual"
    assert gc.get_threshold() == before
    del kept


def test_thresholds_come_back_after_an_error_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(ZeroDivisionError), full_collections_deferred():
        1 / 0  # noqa: B018
    assert gc.get_threshold() == before


def test_overlapping_holders_restore_only_when_the_last_leaves() -> None:
    before = gc.get_threshold()
    outer, inner = full_collections_deferred(), full_collections_deferred()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert gc.get_threshold()[2] == DEFERRED_THRESHOLD, "the inner burst is still running"
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_disabled_threshold_is_left_alone() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with full_collections_deferred():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


def test_fire_defers_full_collections_during_the_burst_only() -> None:
    app = FastAPI(title="collector")

    @app.get("/threshold")
    async def threshold() -> dict[str, int]:
        return {"third": gc.get_threshold()[2]}

    before = gc.get_threshold()
    with serve(app) as server:
        run = burst(server, "/threshold", n=5)
    assert set(run.requests["body"]) == {f'{{"third":{DEFERRED_THRESHOLD}}}'}
    assert gc.get_threshold() == before, "and restored when fire returns"


def test_collections_started_lists_generations_and_unhooks() -> None:
    hooks = len(gc.callbacks)
    with collections_started() as seen:
        gc.collect(0)
        gc.collect(2)
    assert seen[-2:] == [0, 2]
    assert len(gc.callbacks) == hooks
