"""helpers.lessons.l11_claims: the claims, the verdicts the lab expects, and the claim book."""

from __future__ import annotations

import pytest

from helpers.lessons.l11_claims import (
    CLAIMS,
    EXPECTED_VERDICTS,
    VERDICTS,
    Claim,
    ClaimBook,
    rule_code,
)

LESSONS = {
    "01_event_loop", "02_thread_pool", "03_blocking_the_loop", "04_cpu_bound",
    "05_calling_services", "06_databases", "07_dependencies_and_background",
    "08_task_patterns", "09_scaling_out",
}  # fmt: skip


def one_at_a_time(peak_in_flight: int) -> str:
    """A rule with a docstring, which the table leaves out."""
    return "true" if peak_in_flight == 1 else "false"


def cores_rule(threads_cores: float, free_cores: float) -> str:
    if free_cores < 1.5:
        return "inconclusive here"
    return "false" if threads_cores >= 1.3 else "true"


# --- the claims and what the lab expects -------------------------------------------------
def test_claims_are_numbered_one_to_fourteen_and_point_at_lessons() -> None:
    assert [c.number for c in CLAIMS] == list(range(1, 15))
    assert all(c.lesson in LESSONS for c in CLAIMS)
    assert len({c.text for c in CLAIMS}) == len(CLAIMS)


def test_expected_verdicts_cover_every_claim_with_valid_verdicts() -> None:
    assert sorted(EXPECTED_VERDICTS) == [c.number for c in CLAIMS]
    for wanted in EXPECTED_VERDICTS.values():
        assert set((wanted,) if isinstance(wanted, str) else wanted) <= set(VERDICTS)
    # Only the claims that need a free second core may come out inconclusive.
    inconclusive = [n for n, v in EXPECTED_VERDICTS.items() if "inconclusive here" in v]
    assert inconclusive == [9, 10]
    assert EXPECTED_VERDICTS[5] == "true" and EXPECTED_VERDICTS[14] == "false"


# --- rules -------------------------------------------------------------------------------
def test_rule_code_shows_the_body_without_the_docstring() -> None:
    assert rule_code(one_at_a_time) == "return 'true' if peak_in_flight == 1 else 'false'"
    code = rule_code(cores_rule)
    assert code == (
        "if free_cores < 1.5: return 'inconclusive here'; "
        "return 'false' if threads_cores >= 1.3 else 'true'"
    )


def test_rule_code_falls_back_to_the_name_without_source() -> None:
    made = eval("lambda: 'true'")  # no source file to read
    assert rule_code(made) == "<lambda>"


def test_judge_runs_the_rule_and_keeps_its_code_and_numbers() -> None:
    book = ClaimBook()
    found = book.judge(1, one_at_a_time, peak_in_flight=40)
    assert found.verdict == "false" and book.findings[1] is found
    assert found.measured == {"peak_in_flight": 40}
    assert "peak_in_flight == 1" in found.rule
    assert str(found) == "claim 1: false (peak_in_flight=40)"
    assert book.judge(1, one_at_a_time, peak_in_flight=1).verdict == "true"  # replaces
    assert book.judge(9, cores_rule, threads_cores=0.9, free_cores=0.4).verdict == (
        "inconclusive here"
    )
    assert book.missing() == [n for n in range(2, 15) if n != 9]


def test_judge_rejects_unknown_claims_and_bad_verdicts() -> None:
    book = ClaimBook()
    with pytest.raises(ValueError, match="no claim number 99"):
        book.judge(99, one_at_a_time, peak_in_flight=1)
    with pytest.raises(ValueError, match="returned 'maybe'; a verdict is one of"):
        book.judge(1, lambda: "maybe")


# --- the table and the check -------------------------------------------------------------
def test_frame_has_one_row_per_claim_with_rule_and_measurement() -> None:
    book = ClaimBook()
    book.judge(1, one_at_a_time, peak_in_flight=40)
    table = book.frame()
    assert list(table.columns) == ["claim", "verdict", "rule", "measured", "lesson"]
    assert list(table.index) == list(range(1, 15))
    assert table.loc[1, "verdict"] == "false" and table.loc[2, "verdict"] == ""
    assert table.loc[1, "measured"] == "peak_in_flight=40"
    guessed = book.frame({1: "True", 2: "false"})
    assert guessed.loc[1, "your_guess"] == "true"
    assert guessed.loc[1, "you_were_right"] is False
    assert guessed.loc[2, "you_were_right"] is None  # no verdict yet
    assert guessed.loc[3, "your_guess"] == ""


def test_check_reports_missing_and_disagreeing_verdicts() -> None:
    book = ClaimBook()
    book.judge(1, one_at_a_time, peak_in_flight=1)
    book.judge(9, cores_rule, threads_cores=0.9, free_cores=0.4)
    problems = book.check(EXPECTED_VERDICTS, only=[1, 2, 9])
    assert len(problems) == 2
    assert problems[0].startswith("claim 1: true (peak_in_flight=1)")
    assert "the lab expects 'false'" in problems[0] and "rule: return" in problems[0]
    assert problems[1].startswith("claim 2: no verdict")
    assert book.check(EXPECTED_VERDICTS, only=[9]) == []  # a tuple accepts either verdict
    book.judge(9, cores_rule, threads_cores=1.8, free_cores=2.0)
    assert book.check(EXPECTED_VERDICTS, only=[9])[0].startswith("claim 9: false")
    with pytest.raises(ValueError, match="no expected verdict for claim 15"):
        book.check(EXPECTED_VERDICTS, only=[15])


def test_add_claim_extends_the_book_once() -> None:
    book = ClaimBook()
    book.add_claim(Claim(15, "my own claim", "08_task_patterns"))
    book.judge(15, one_at_a_time, peak_in_flight=3)
    assert book.frame().loc[15, "claim"] == "my own claim"
    with pytest.raises(ValueError, match="exists already"):
        book.add_claim(Claim(15, "again", "08_task_patterns"))
