"""A calendar period: the week (Monday to Sunday) or the month around a day, on the clinic's calendar, with the
periods before and after it (the calendar pages by period, not by row)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from tracker.clinictime import week_start

VIEWS = ("week", "month")


@dataclass(frozen=True)
class Period:
    view: str
    #: The first and last day shown (inclusive): whole weeks, Monday to Sunday.
    first: date
    last: date
    #: What the period is named after: the week's Monday, or the month's first day.
    anchor: date

    @property
    def weeks(self) -> list[list[date]]:
        """The days shown, a row of seven per week."""
        days = (self.last - self.first).days + 1
        every = [self.first + timedelta(days=n) for n in range(days)]
        return [every[n : n + 7] for n in range(0, days, 7)]

    @property
    def previous(self) -> date:
        if self.view == "week":
            return self.anchor - timedelta(days=7)
        return (self.anchor - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        if self.view == "week":
            return self.anchor + timedelta(days=7)
        return (self.anchor + timedelta(days=32)).replace(day=1)

    def in_period(self, day: date) -> bool:
        """Whether ``day`` belongs to the period itself (a month view also shows the edges of its first and last
        weeks)."""
        return self.view == "week" or (day.year, day.month) == (self.anchor.year, self.anchor.month)

    @property
    def title(self) -> str:
        if self.view == "month":
            return f"{calendar.month_name[self.anchor.month]} {self.anchor.year}"
        return f"Week of {self.first:%d %b %Y}"


def period_of(view: str, day: date) -> Period:
    """The ``view`` ("week" or "month") holding ``day``."""
    if view == "week":
        monday = week_start(day)
        return Period("week", monday, monday + timedelta(days=6), monday)
    first = day.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    start = week_start(first)
    end = week_start(last) + timedelta(days=6)
    return Period("month", start, end, first)
