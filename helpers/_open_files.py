"""Open files: the process's limit, how many are open, and what running out looks like.

Every TCP connection is an open file. ``open_file_limit`` sets the soft limit for a block
(on purpose: ``fire`` leaves a limit set this way alone), ``ensure_open_files`` raises the
soft limit within the hard limit when a burst needs more (``fire`` calls it), ``open_fds``
counts what is open, and ``accept_failures_total`` counts the times a lab server could not
``accept()`` for want of a file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "ACCEPT_FAILED",
    "FileLimitError",
    "accept_failures_total",
    "ensure_open_files",
    "note_accept_failure",
    "open_fds",
    "open_file_limit",
]

# What asyncio logs when accept() fails for want of a file (asyncio/selector_events.py:
# BaseSelectorEventLoop._accept_connection), once per connection it could not accept.
ACCEPT_FAILED = "socket.accept() out of system resource"
MIN_FILE_LIMIT = 64
# What ensure_open_files raises the soft limit to at least, so that one raise covers the
# lab's usual bursts and the learner reads the notice once, not before every bigger burst.
# 10240 is macOS's OPEN_MAX, the most a process there may ask for whatever its hard limit.
RAISE_TO = 10_240
# Files a caller may open besides its connections while they are open: the probe, log
# files, the kernel's own sockets.
FILES_MARGIN = 64

# The limits open_file_limit blocks set (innermost last): a limit the learner lowered on
# purpose, which ensure_open_files must not undo.
_pinned: list[int] = []
_accept_lock = threading.Lock()
_accept_failures = 0


class FileLimitError(RuntimeError):
    """A burst needs more open files than this process may ever open (its hard limit)."""


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
    ``ValueError`` then, as for ``wanted`` < 64. While the block runs, ``fire`` keeps this
    limit even when a burst needs more (the way to run out of files on purpose).
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
    _pinned.append(int(target))
    try:
        yield int(target)
    finally:
        _pinned.pop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def ensure_open_files(connections: int, *, files_each: int = 1, what: str) -> int | None:
    """Make sure this process may open ``connections`` more connections at once, on top of
    what it has open now; return the soft limit then in force (``None`` where the OS has no
    such limit, e.g. Windows).

    A soft limit too low is raised within the hard limit (to ``RAISE_TO`` or more, so one
    raise covers the usual bursts), with one line on stdout saying so. Inside an
    ``open_file_limit`` block the limit stays as the learner set it, with one line saying
    that ``what`` may run out of files. ``FileLimitError`` (naming the limit and the fix) when
    the hard limit is too low, before anything is opened.

    Args:
        connections: connections the caller will hold open at its peak.
        files_each: open files per connection in this process (2 when both ends are here).
        what: the caller in words, for the messages (e.g. ``"this burst of 1000 requests"``).
    """
    for name, value in (("connections", connections), ("files_each", files_each)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    open_now = (open_fds() or 0) + FILES_MARGIN
    needed = open_now + connections * files_each
    if needed <= soft:
        return int(soft)
    if _pinned:
        print(
            f"open_file_limit({soft}) is in force and stays: {what} needs about {needed} open "
            "files, so some requests may fail with 'Too many open files'"
        )
        return int(soft)
    unlimited = hard == resource.RLIM_INFINITY
    for wanted in (max(needed, RAISE_TO), needed):
        target = wanted if unlimited else min(wanted, int(hard))
        if target < needed:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # e.g. macOS refuses more than kern.maxfilesperproc
            continue
        print(
            f"open-file limit raised from {soft} to {target} for this process ({what} needs "
            f"about {needed}; `ulimit -n`)"
        )
        return target
    limit = int(soft) if unlimited else int(hard)
    fits = (limit - open_now) // files_each
    fewer = f"fire at most {fits} at once (concurrency={fits})" if fits >= 1 else "fire fewer"
    raise FileLimitError(
        f"{what} needs about {needed} open files, but this process may open at most {limit} "
        f"(its hard limit, `ulimit -Hn`; every connection is an open file). Fix: {fewer}, or "
        f"start Jupyter from a terminal where `ulimit -n {needed}` succeeds (raising the hard "
        "limit needs an administrator)"
    )


def note_accept_failure() -> None:
    """Count one failed ``accept()`` on a lab server (its loop calls this instead of logging
    the failure: see ``helpers/_server.py``)."""
    global _accept_failures
    with _accept_lock:
        _accept_failures += 1


def accept_failures_total() -> int:
    """Failed ``accept()`` calls on lab servers in this process so far."""
    return _accept_failures
