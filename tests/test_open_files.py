"""helpers._open_files: the open-file limit, counting open files, and counting the lab
servers' accept() failures."""

from __future__ import annotations

import sys

import pytest

from helpers._open_files import (
    accept_failures_total,
    ensure_open_files,
    note_accept_failure,
    open_fds,
    open_file_limit,
)


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


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_ensure_open_files_raises_a_low_soft_limit_once_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = open_fds() or 0
    if before[1] != resource.RLIM_INFINITY and before[1] < fds + 2000:
        pytest.skip(f"hard limit {before[1]} too low to test raising")
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds + 100, before[1]))
    try:
        assert ensure_open_files(10, what="a small burst") == fds + 100
        assert capsys.readouterr().out == "", "no raise, no word, when the limit suffices"
        raised = ensure_open_files(1000, files_each=2, what="this burst")
        assert raised is not None and raised >= fds + 2000
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 and out[0].startswith(f"open-file limit raised from {fds + 100} to")
        ensure_open_files(1000, files_each=2, what="the same burst again")
        assert capsys.readouterr().out == "", "said once: the raised limit covers it"
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
def test_ensure_open_files_keeps_a_limit_set_with_open_file_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import resource

    fds = open_fds() or 0
    with open_file_limit(fds + 100) as limit:
        assert ensure_open_files(5000, what="this burst") == limit
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
    out = capsys.readouterr().out
    assert f"open_file_limit({limit}) is in force and stays" in out and "this burst" in out


def test_ensure_open_files_refuses_bad_counts() -> None:
    with pytest.raises(ValueError, match="connections must be an int ≥ 1, got 0"):
        ensure_open_files(0, what="x")
    with pytest.raises(ValueError, match="files_each must be an int ≥ 1"):
        ensure_open_files(3, files_each=True, what="x")


def test_without_a_resource_module_there_is_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resource", None)  # as on Windows
    assert ensure_open_files(10**6, what="a huge burst") is None
    with open_file_limit(100) as limit:
        assert limit is None


def test_lab_servers_noted_accept_failures_are_counted() -> None:
    before = accept_failures_total()
    note_accept_failure()
    assert accept_failures_total() == before + 1
