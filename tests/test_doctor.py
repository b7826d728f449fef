import subprocess
import sys
from pathlib import Path

import pytest

from helpers import doctor


def test_doctor_reports_a_ready_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert "ready for the lab" in out
    assert out.count("✓") == len(doctor.CHECKS)


def test_a_proxy_without_loopback_exemption_is_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = doctor._proxy()
    assert not result.ok and "NO_PROXY" in result.fix


def test_a_crashing_check_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> doctor.Check:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "CHECKS", [broken])
    (result,) = doctor.run_checks()
    assert not result.ok and "boom" in result.found


def test_the_report_is_clean_lines_only() -> None:
    """Run as attendees do: no kernel warnings, no stray reprs, one line per check."""
    result = subprocess.run(
        [sys.executable, "-m", "helpers.doctor"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parent.parent,
    )
    lines = result.stdout.splitlines()
    assert result.stderr == "", result.stderr
    checks = [line for line in lines if line[:2] in ("✓ ", "✗ ")]
    assert len(checks) == len(doctor.CHECKS), lines
    rest = [line for line in lines if line not in checks]
    assert all(line.startswith("    fix: ") for line in rest[:-1]), lines
    assert rest[-1] in (
        "ready for the lab",
        f"{result.returncode} problem(s) to fix before the lab",
    )
    assert not any("<" in line and "Loop" in line for line in lines), lines


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE")
@pytest.mark.parametrize(
    ("limits", "ok", "words"),
    [
        ((256, "infinity"), True, "fire raises the soft limit"),
        ((256, 10_240), True, "fire raises the soft limit"),
        ((4096, 4096), True, "enough"),
        ((256, 1024), False, "1000-request bursts need about"),
    ],
)
def test_the_open_file_limit_is_checked(
    monkeypatch: pytest.MonkeyPatch, limits: tuple[int, int | str], ok: bool, words: str
) -> None:
    import resource

    soft, hard = limits
    hard_value = resource.RLIM_INFINITY if hard == "infinity" else hard
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard_value))
    result = doctor._open_files()
    assert result.ok is ok and words in result.found, result
    assert f"soft {soft}" in result.found
    if not ok:
        assert "ulimit -n" in result.fix


def test_no_open_file_limit_without_a_resource_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resource", None)  # as on Windows
    result = doctor._open_files()
    assert result.ok and "no per-process limit" in result.found
