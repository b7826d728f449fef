"""helpers.open_files: the open-file limit, counting open files, reading "Too many open
files" out of failed calls, and counting asyncio's accept() failures."""

from __future__ import annotations

import errno
import logging
import sys

import httpx
import pytest

from helpers.open_files import (
    ACCEPT_FAILED,
    AcceptFailures,
    failure_reasons,
    open_fds,
    open_file_limit,
    out_of_files,
)


def out_of_files_error() -> httpx.ConnectError:
    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as exc:
            raise httpx.ConnectError("cannot connect") from exc
    except httpx.ConnectError as error:
        return error


def test_out_of_files_follows_the_cause_chain() -> None:
    assert out_of_files(out_of_files_error())
    assert not out_of_files(httpx.ConnectError("refused"))
    assert not out_of_files(OSError(errno.ECONNREFUSED, "Connection refused"))


def test_failure_reasons_name_the_os_error() -> None:
    results = [httpx.Response(200), out_of_files_error(), out_of_files_error(), KeyError("k")]
    assert failure_reasons(results) == {
        "ConnectError: Too many open files": 2,
        "KeyError: 'k'": 1,
    }
    assert failure_reasons([httpx.Response(503)]) == {}


def test_accept_failures_are_counted_and_kept_out_of_the_output() -> None:
    logger = logging.getLogger("tests.open_files")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, counter = Keep(), AcceptFailures()
    logger.addHandler(handler)
    logger.addFilter(counter)
    try:
        logger.error(f"{ACCEPT_FAILED}\nsocket: <fd=5>")
        logger.error(f"{ACCEPT_FAILED}\nsocket: <fd=5>")
        logger.error("something else")
    finally:
        logger.removeFilter(counter)
        logger.removeHandler(handler)
    assert counter.count == 2 and seen == ["something else"]


@pytest.mark.skipif(sys.platform == "win32", reason="no /dev/fd or RLIMIT_NOFILE")
def test_open_file_limit_sets_and_restores() -> None:
    import resource

    fds = open_fds()
    assert fds is not None and fds >= 3
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open_file_limit(fds + 200) as limit:
        assert limit is not None and limit <= fds + 200
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
    with pytest.raises(ValueError, match="≥ 64"):
        open_file_limit(10).__enter__()
    with pytest.raises(ValueError, match="open already"):
        open_file_limit(max(fds, 64)).__enter__()
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
