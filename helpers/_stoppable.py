"""A base for the lab's running things (servers, worker processes): ``with`` stops them."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Stoppable"]

_S = TypeVar("_S", bound="Stoppable")


class Stoppable:
    """``with thing: ...`` calls ``thing.stop()`` on the way out, even after an error."""

    def request_stop(self) -> None:
        """Ask the thing to begin stopping and return at once, so several can wind down
        together before ``stop()`` waits on each. By default it does nothing: ``stop()``
        does all the work."""

    def stop(self) -> None:
        """Stop the thing; subclasses implement it (safe to call twice)."""
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
