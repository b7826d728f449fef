"""Open files: the process's limit, how many are open, and what running out looks like.

Every TCP connection is an open file. ``open_file_limit`` sets the soft limit for a block,
``open_fds`` counts what is open, ``out_of_files`` / ``failure_reasons`` read "Too many open
files" out of failed calls, and ``AcceptFailures`` counts the log records asyncio writes
when a server cannot ``accept()`` for want of a file.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = [
    "ACCEPT_FAILED",
    "AcceptFailures",
    "failure_reasons",
    "open_fds",
    "open_file_limit",
    "out_of_files",
]

# What asyncio logs when accept() fails for want of a file (asyncio/selector_events.py:
# BaseSelectorEventLoop._accept_connection), once per connection it could not accept.
ACCEPT_FAILED = "socket.accept() out of system resource"
FILE_ERRNOS = (errno.EMFILE, errno.ENFILE)  # "Too many open files" (process, system)
MIN_FILE_LIMIT = 64


def open_fds() -> int | None:
    """File descriptors this process has open now (sockets included), or ``None`` where
    the OS does not list them in ``/dev/fd`` (Windows)."""
    try:
        return len(os.listdir("/dev/fd"))
    except OSError:
        return None


@contextmanager
def open_file_limit(wanted: int) -> Iterator[int | None]:
    """Run the block with this process's soft limit on open files set to ``wanted`` (or to
    the hard limit, if that is lower); yield the limit in force, and put the old one back
    afterwards. Yields ``None`` where there is no such limit (Windows).

    The limit can go down as well as up, but not below what is open already plus a margin:
    ``ValueError`` then, as for ``wanted`` < 64.
    """
    if wanted < MIN_FILE_LIMIT:
        raise ValueError(f"wanted must be ≥ {MIN_FILE_LIMIT} open files, got {wanted}")
    try:
        import resource
    except ImportError:
        yield None
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    open_now = open_fds()
    if open_now is not None and target < open_now + MIN_FILE_LIMIT:
        raise ValueError(
            f"cannot limit this process to {target} open files: {open_now} are open already; "
            f"allowed is at least {open_now + MIN_FILE_LIMIT}"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield int(target)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then the exceptions it was raised from (``__cause__`` / ``__context__``);
    at most 10, so a cycle cannot loop forever."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def out_of_files(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is "Too many open files"."""
    return any(isinstance(e, OSError) and e.errno in FILE_ERRNOS for e in _chain(exc))


def failure_reasons(results: Sequence[object]) -> dict[str, int]:
    """How many of ``results`` failed, by reason: the exception type and, for errors that
    come from the OS, its message (``"ConnectError: Too many open files"``); HTTP
    responses are not failures here. Most common first."""
    reasons: Counter[str] = Counter()
    for result in results:
        if not isinstance(result, BaseException):
            continue
        os_messages = (e.strerror for e in _chain(result) if isinstance(e, OSError) and e.strerror)
        reasons[f"{type(result).__name__}: {next(os_messages, str(result))}"] += 1
    return dict(reasons.most_common())


class AcceptFailures(logging.Filter):
    """A logging filter that counts asyncio's log records of a failed ``accept()`` (in
    ``count``) and keeps them out of the output: asyncio logs one full traceback per
    connection it could not accept, up to the listen backlog each time
    (python/cpython#151615), thousands of identical lines."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(ACCEPT_FAILED):
            return True
        with self._lock:
            self.count += 1
        return False
