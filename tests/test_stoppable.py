"""helpers._stoppable: leaving a with block stops the thing, also after an error."""

from __future__ import annotations

import pytest

from helpers._stoppable import Stoppable


class Recorder(Stoppable):
    def __init__(self) -> None:
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1


def test_with_returns_the_thing_and_stops_it() -> None:
    with Recorder() as thing:
        assert thing.stops == 0
    assert thing.stops == 1


def test_an_error_inside_still_stops_and_propagates() -> None:
    thing = Recorder()
    with pytest.raises(ZeroDivisionError), thing:
        1 / 0  # noqa: B018
    assert thing.stops == 1


def test_a_subclass_must_implement_stop() -> None:
    with pytest.raises(NotImplementedError), Stoppable():
        pass


def test_request_stop_does_nothing_unless_a_subclass_says_so() -> None:
    thing = Recorder()
    thing.request_stop()
    assert thing.stops == 0, "only stop() stops; request_stop() is an early, optional hint"
