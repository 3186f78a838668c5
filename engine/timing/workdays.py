"""The Russian production calendar: weekends, public holidays and transferred days from the
``holidays`` package, corrected per day by admins (a decree moved a day off, a regional holiday).

Deadline arithmetic asks one question — is this day a day off? — of a ``WorkCalendar`` loaded once per
transaction (``engine.timing.production_calendar``), so it never queries per day. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

import holidays


@cache
def _russian_calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=year)


@cache  # asked for every day a deadline spans, for every task; the answer for a date never changes
def russian_working_day(day: date) -> bool:
    """Weekends and holidays are off; transferred working Saturdays (e.g. 27.04.2024) are working."""
    return bool(_russian_calendar(day.year).is_working_day(day))


@dataclass(frozen=True)
class WorkCalendar:
    overrides: Mapping[date, bool] = field(default_factory=dict)

    def is_day_off(self, day: date) -> bool:
        working = self.overrides.get(day)
        return not (russian_working_day(day) if working is None else working)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same time of day ``days`` working days after ``start``."""
        current, remaining = start, days
        while remaining > 0:
            current += timedelta(days=1)
            if not self.is_day_off(current.date()):
                remaining -= 1
        return current

    def working_days_until(self, today: date, due: date) -> int:
        """Working days after ``today`` up to and including ``due`` (what is left to do the work in); for a
        ``due`` already past, minus the working days since it."""
        if due < today:
            return -self.working_days_until(due, today)
        return sum(1 for offset in range(1, (due - today).days + 1) if not self.is_day_off(today + timedelta(offset)))

    def subtract_working_days(self, start: datetime, days: int) -> datetime:
        current, remaining = start, days
        while remaining > 0:
            current -= timedelta(days=1)
            if not self.is_day_off(current.date()):
                remaining -= 1
        return current
