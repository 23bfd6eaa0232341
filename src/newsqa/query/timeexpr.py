"""Temporal expressions in a question ("this week", "last month", "in 2022", "on Tuesday")
turned into a date window relative to the moment the question is asked (``as_of``)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_DAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_NUM = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}


@dataclass(frozen=True)
class TimeWindow:
    """Dates (inclusive) the question points at, and the words that said so."""

    since: date
    until: date
    text: str
    explicit: bool  # named a year or month (strong) rather than a relative phrase


def shift(day: date, days: int) -> date:
    """``day`` moved by ``days``, held inside the calendar (``date.min`` to ``date.max``)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _month_window(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def find_window(question: str, as_of: date) -> TimeWindow | None:
    """The first temporal expression in ``question`` as a window ending no later than as_of
    (held inside the calendar: an as_of near year 1 or 9999 moves no date past either end)."""
    q = question.lower()

    def win(since: date, until: date, text: str, explicit: bool = False) -> TimeWindow:
        return TimeWindow(since, min(until, as_of), text, explicit)

    if m := re.search(r"\b(today|tonight)\b", q):
        return win(shift(as_of, -1), as_of, m.group(0))
    if m := re.search(r"\byesterday\b", q):
        return win(shift(as_of, -2), as_of, m.group(0))
    if m := re.search(r"\b(this|past) week(end)?\b", q):
        return win(shift(as_of, -7), as_of, m.group(0))
    if m := re.search(r"\blast week(end)?\b", q):
        return win(shift(as_of, -14), shift(as_of, -5), m.group(0))
    if m := re.search(r"\b(\d+|a|one|two|three|four|five|six|ten) (day|week|month)s? ago\b", q):
        n = int(m.group(1)) if m.group(1).isdigit() else _NUM[m.group(1)]
        days = {"day": 1, "week": 7, "month": 30}[m.group(2)] * n
        centre = shift(as_of, -days)
        slack = max(1, days // 4)
        return win(shift(centre, -slack), shift(centre, slack), m.group(0))
    if m := re.search(r"\b(recent(ly)?|latest|this (season|offseason))\b", q):
        return win(shift(as_of, -14), as_of, m.group(0))
    if m := re.search(r"\b(this|past) month\b", q):
        return win(shift(as_of, -31), as_of, m.group(0))
    if m := re.search(r"\blast month\b", q):
        first = shift(as_of.replace(day=1), -1)
        return win(*_month_window(first.year, first.month), m.group(0))
    if m := re.search(r"\b(this|past) year\b", q):
        return win(date(as_of.year, 1, 1), as_of, m.group(0))
    if m := re.search(r"\blast year\b", q):
        year = max(as_of.year - 1, date.min.year)
        return win(date(year, 1, 1), date(year, 12, 31), m.group(0), True)
    month_names = "|".join(sorted(_MONTHS, key=len, reverse=True))
    m = re.search(rf"\b(?:in |during |of )?({month_names})\.? (\d{{4}})\b", q)
    if m and int(m.group(2)) >= date.min.year:
        return win(*_month_window(int(m.group(2)), _MONTHS[m.group(1)]), m.group(0), True)
    if m := re.search(r"\b(?:in|during|since) ((?:19|20)\d\d)\b", q):
        year = int(m.group(1))
        return win(date(year, 1, 1), date(year, 12, 31), m.group(0), True)
    if m := re.search(rf"\b(?:in|during|since) ({month_names})\b", q):
        month = _MONTHS[m.group(1)]
        year = as_of.year if month <= as_of.month else max(as_of.year - 1, date.min.year)
        return win(*_month_window(year, month), m.group(0), True)
    if m := re.search(r"\b(?:on|last) (" + "|".join(_DAYS) + r")\b", q):
        back = (as_of.weekday() - _DAYS[m.group(1)]) % 7
        day = shift(as_of, -back)
        return win(shift(day, -1), shift(day, 2), m.group(0))
    return None
