"""Temporal expressions become windows relative to as_of."""

from __future__ import annotations

from datetime import date

import pytest

from newsqa.query.timeexpr import find_window

AS_OF = date(2023, 3, 10)  # a Friday


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("Which team won this week?", date(2023, 3, 3), date(2023, 3, 10)),
        ("What did the Fed say last month?", date(2023, 2, 1), date(2023, 2, 28)),
        ("Who resigned in 2022?", date(2022, 1, 1), date(2022, 12, 31)),
        ("What happened in January?", date(2023, 1, 1), date(2023, 1, 31)),
        ("What happened in November?", date(2022, 11, 1), date(2022, 11, 30)),
        ("Layoffs in March 2022", date(2022, 3, 1), date(2022, 3, 31)),
        ("Who spoke on Tuesday?", date(2023, 3, 6), date(2023, 3, 9)),
        ("What happened two weeks ago?", date(2023, 2, 21), date(2023, 2, 27)),
        ("What happened yesterday?", date(2023, 3, 8), date(2023, 3, 10)),
    ],
)
def test_windows(question: str, since: date, until: date) -> None:
    w = find_window(question, AS_OF)
    assert w is not None and (w.since, w.until) == (since, until)


def test_no_expression_no_window() -> None:
    assert find_window("Who is the CEO of Twitter?", AS_OF) is None


def test_window_never_reaches_past_as_of() -> None:
    w = find_window("What happened this year?", AS_OF)
    assert w is not None and w.until == AS_OF


@pytest.mark.parametrize("as_of", [date.min, date.max, date(1, 2, 3)])
@pytest.mark.parametrize("question", [
    "today", "yesterday", "this week", "last week", "3 days ago", "99999999999 months ago",
    "recently", "this month", "last month", "this year", "last year", "in March",
    "in January 0000", "March 2022", "on Monday", "in 2022",
])
def test_windows_stay_inside_the_calendar(question: str, as_of: date) -> None:
    """Issue 39: as_of 9999-12-31 with "today", 0001-01-01 with "last week" overflowed."""
    w = find_window(f"What happened {question}?", as_of)
    assert w is None or date.min <= w.since and w.until <= as_of
