import pytest

from helpers import fast_mode, sized


def test_sized_follows_lab_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_FAST", "1")
    assert fast_mode() and sized(1000, 100) == 100
    monkeypatch.setenv("LAB_FAST", "0")
    assert not fast_mode() and sized(1000, 100) == 1000
    monkeypatch.delenv("LAB_FAST")
    assert sized("full", "fast") == "full"
