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
