"""helpers.lessons.l11_claims: the claims, the verdicts the lab expects, and the claim book."""

from __future__ import annotations

import pytest

from helpers._plots import LabFigure
from helpers.lessons.l11_claims import CLAIMS, Claim, ClaimBook, expected_verdicts

LESSONS = {
    "01_event_loop", "02_thread_pool", "03_blocking_the_loop", "04_cpu_bound",
    "05_calling_services", "06_databases", "07_dependencies_and_background",
    "08_task_patterns", "09_scaling_out",
}  # fmt: skip


# --- the claims and what the lab expects -------------------------------------------------
def test_claims_are_numbered_one_to_thirteen_and_point_at_lessons() -> None:
    assert [c.number for c in CLAIMS] == list(range(1, 14))
    assert all(c.lesson in LESSONS for c in CLAIMS)
    assert len({c.text for c in CLAIMS}) == len(CLAIMS)


def test_expected_verdicts_cover_every_claim_with_valid_verdicts() -> None:
    expected = expected_verdicts(2)
    assert sorted(expected) == [c.number for c in CLAIMS]
    assert set(expected.values()) <= {"true", "false", "depends"}
    assert expected[9] == "true"


def test_claim_nine_depends_on_one_core_or_a_busy_pool() -> None:
    assert expected_verdicts(1)[9] == "depends"
    assert expected_verdicts(1, pool_cores=1.9)[9] == "depends"
    assert expected_verdicts(2, pool_cores=1.9)[9] == "true"
    assert expected_verdicts(2, pool_cores=1.0)[9] == "depends"
    assert expected_verdicts(2, pool_cores=1.3)[9] == ("true", "depends")
    with pytest.raises(ValueError, match="cores must be ≥ 1"):
        expected_verdicts(0)


# --- the claim book ----------------------------------------------------------------------
def test_record_validates_number_verdict_and_ratio() -> None:
    book = ClaimBook()
    with pytest.raises(ValueError, match="no claim number 99"):
        book.record(99, "true", "x")
    with pytest.raises(ValueError, match="verdict must be one of"):
        book.record(1, "maybe", "x")
    with pytest.raises(ValueError, match="ratio must be a positive"):
        book.record(1, "false", "x", ratio=0.0)
    found = book.record(1, "false", "40 at once", ratio=40.0, ratio_label="at once ÷ 1")
    assert found.verdict == "false" and book.findings[1] is found
    assert book.missing() == list(range(2, 14))


def test_frame_has_one_row_per_claim_and_compares_guesses() -> None:
    book = ClaimBook()
    book.record(1, "false", "40 at once")
    table = book.frame()
    assert list(table.columns) == ["claim", "verdict", "evidence", "lesson"]
    assert list(table.index) == list(range(1, 14))
    assert table.loc[1, "verdict"] == "false" and table.loc[2, "verdict"] == ""
    guessed = book.frame({1: "True", 2: "false"})
    assert guessed.loc[1, "your_guess"] == "true"
    assert guessed.loc[1, "you_were_right"] is False
    assert guessed.loc[2, "you_were_right"] is None  # no verdict yet
    assert guessed.loc[3, "your_guess"] == ""


def test_check_reports_missing_and_disagreeing_verdicts() -> None:
    book = ClaimBook()
    book.record(1, "true", "one at a time")
    book.record(9, "depends", "busy machine")
    expected = expected_verdicts(2, pool_cores=1.3)
    problems = book.check(expected, only=[1, 2, 9])
    assert len(problems) == 2
    assert problems[0].startswith("claim 1: measured 'true'") and "one at a time" in problems[0]
    assert problems[1].startswith("claim 2: no verdict")
    assert book.check(expected, only=[9]) == []  # a tuple accepts either verdict
    with pytest.raises(ValueError, match="no expected verdict for claim 14"):
        book.check(expected, only=[14])


def test_add_claim_extends_the_book_once() -> None:
    book = ClaimBook()
    book.add_claim(Claim(14, "my own claim", "08_task_patterns"))
    book.record(14, "depends", "measured")
    assert book.frame().loc[14, "claim"] == "my own claim"
    with pytest.raises(ValueError, match="exists already"):
        book.add_claim(Claim(14, "again", "08_task_patterns"))


def test_plot_draws_one_row_per_claim_and_counts_verdicts_in_the_title() -> None:
    book = ClaimBook()
    book.record(1, "false", "a", ratio=40.0, ratio_label="x")
    book.record(3, "true", "b", ratio=0.5, ratio_label="y")
    book.record(11, "depends", "c")
    fig = book.plot()
    assert isinstance(fig, LabFigure)
    (ax,) = fig.axes
    assert len(ax.get_yticklabels()) == len(CLAIMS)
    assert "1 of 3 claims hold as stated, 1 only under a condition, 1 are false" in (
        fig.get_suptitle()
    )
    assert fig._repr_png_().startswith(b"\x89PNG")
