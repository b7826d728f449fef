"""helpers.heap: old objects are hidden from the collector during a burst, and given back."""

from __future__ import annotations

import gc
import json

import pytest
from fastapi import FastAPI

from helpers import serve
from helpers.heap import frozen_heap
from tests.conftest import burst


@pytest.fixture(autouse=True)
def _no_frozen_objects() -> None:
    gc.unfreeze()


def test_frozen_inside_the_block_and_given_back_after() -> None:
    old = [[i] for i in range(1000)]  # tracked containers that exist before the block
    with frozen_heap():
        assert gc.get_freeze_count() >= len(old)
    assert gc.get_freeze_count() == 0


def test_given_back_after_an_error_too() -> None:
    with pytest.raises(ZeroDivisionError), frozen_heap():
        1 / 0  # noqa: B018
    assert gc.get_freeze_count() == 0


def test_overlapping_holders_unfreeze_only_when_the_last_leaves() -> None:
    outer, inner = frozen_heap(), frozen_heap()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert gc.get_freeze_count() > 0, "the inner holder is still running its burst"
    inner.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0


def test_someone_elses_freeze_is_left_alone() -> None:
    gc.freeze()
    theirs = gc.get_freeze_count()
    try:
        with frozen_heap():
            assert gc.get_freeze_count() == theirs
        assert gc.get_freeze_count() == theirs, "must not unfreeze what it did not freeze"
    finally:
        gc.unfreeze()


def test_objects_made_during_the_block_are_still_collected() -> None:
    with frozen_heap():
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1


def test_fire_hides_the_old_heap_during_the_burst_only() -> None:
    app = FastAPI(title="heap")

    @app.get("/frozen")
    async def frozen() -> dict[str, int]:
        return {"frozen": gc.get_freeze_count()}

    with serve(app) as server:
        run = burst(server, "/frozen", n=5)
    seen = [json.loads(body)["frozen"] for body in run.requests["body"]]
    assert min(seen) > 1000, f"the kernel's objects should be frozen during the burst: {seen}"
    assert gc.get_freeze_count() == 0, "and given back when fire returns"
