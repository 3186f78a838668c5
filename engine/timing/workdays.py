"""The Russian production calendar: weekends, public holidays and transferred days from the
``holidays`` package, corrected per day by admins (a decree moved a day off, a regional holiday).

Deadline arithmetic asks one question — is this day a day off? — of a ``WorkCalendar`` loaded once per
transaction (``engine.timing.production_calendar``), so it never queries per day. This module does no I/O.

Days are the dates of a time zone — the school's (``in_zone``), Moscow's by default: a task opened on
Saturday 01:30 in Moscow (Friday 22:30 UTC) counts its working days from Saturday, not from Friday.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from engine import caches
from engine.timing.zones import MOSCOW_ZONE, zone


@lru_cache(maxsize=16)  # years; a deadline looks a year or two ahead
def _russian_calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=year)


# Asked for every day a deadline spans, for every task; the answer for a date never changes. ~11 years of days.
@lru_cache(maxsize=4096)
def russian_working_day(day: date) -> bool:
    """Weekends and holidays are off; transferred working Saturdays (e.g. 27.04.2024) are working."""
    return bool(_russian_calendar(day.year).is_working_day(day))


caches.register_lru("russian_calendar_years", _russian_calendar)
caches.register_lru("russian_working_days", russian_working_day)


@dataclass(frozen=True)
class WorkCalendar:
    overrides: Mapping[date, bool] = field(default_factory=dict)
    zone: ZoneInfo = MOSCOW_ZONE

    def in_zone(self, name: str | None) -> WorkCalendar:
        """The same calendar counting the dates of the zone ``name`` (a region's; Moscow's for none)."""
        here = zone(name)
        return self if here == self.zone else replace(self, zone=here)

    def local_date(self, moment: datetime) -> date:
        """The date of an aware ``moment`` in this calendar's zone."""
        return moment.astimezone(self.zone).date()

    def is_day_off(self, day: date) -> bool:
        working = self.overrides.get(day)
        return not (russian_working_day(day) if working is None else working)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time of day ``days`` working days after ``start`` (days of the calendar's zone)."""
        current, remaining = start.astimezone(self.zone), days
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
        current, remaining = start.astimezone(self.zone), days
        while remaining > 0:
            current -= timedelta(days=1)
            if not self.is_day_off(current.date()):
                remaining -= 1
        return current
