"""Deadline rules of user tasks, as written in templates.

Three forms, matching how the project sets its deadlines:

* ``P14D``, ``PT48H`` — an ISO 8601 duration from the moment the task becomes ready;
* ``5WD`` — a number of Russian working days (production calendar) from that moment;
* ``cohort:questionnaire_close`` — a named date of the cohort's calendar.

Computing the due time from a rule is the deadlines module's job; here we only parse and check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum

from engine.timing.workdays import WorkCalendar
from engine.timing.zones import MOSCOW_ZONE

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?$"
)
_WORKING_DAYS = re.compile(r"^(?P<n>\d{1,3})WD$")
_COHORT_DATE = re.compile(r"^cohort:(?P<name>[a-z][a-z0-9_]{0,62})$")
#: P99999W is some 1,900 years: any due time computed from a rule still fits in a datetime.
_MAX_DURATION_DIGITS = 5


class DueKind(StrEnum):
    DURATION = "duration"
    WORKING_DAYS = "working_days"
    COHORT_DATE = "cohort_date"


@dataclass(frozen=True)
class DueRule:
    kind: DueKind
    text: str
    duration: timedelta | None = None
    working_days: int | None = None
    cohort_date: str | None = None

    @classmethod
    def parse(cls, text: str) -> DueRule:
        """Parse a rule; raise ``ValueError`` with a Russian message when it is not one of the forms."""
        text = text.strip()
        if match := _DURATION.match(text):
            if any(len(v) > _MAX_DURATION_DIGITS for v in match.groupdict().values() if v):
                raise ValueError(f"срок «{_shown(text)}»: слишком большое число, в длительности — не больше "
                                 f"{_MAX_DURATION_DIGITS} цифр")
            parts = {k: int(v) for k, v in match.groupdict().items() if v}
            return cls(DueKind.DURATION, text, duration=timedelta(**parts))
        if match := _WORKING_DAYS.match(text):
            return cls(DueKind.WORKING_DAYS, text, working_days=int(match["n"]))
        if match := _COHORT_DATE.match(text):
            return cls(DueKind.COHORT_DATE, text, cohort_date=match["name"])
        raise ValueError(
            f"срок «{_shown(text)}» не распознан: ожидается длительность ISO 8601 (P14D), "
            "число рабочих дней (5WD) или дата когорты (cohort:имя)"
        )


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


#: Moscow's time, for what is shown in Moscow time whatever the school (digests at 06:00 МСК, the CLI's input).
MOSCOW = timezone(timedelta(hours=3), "MSK")


def end_of_day(day: date, zone: tzinfo = MOSCOW_ZONE) -> datetime:
    """23:59:59 of ``day`` in ``zone``: "questionnaires close 1 March" means the end of that day where the school is."""
    return datetime.combine(day, time(23, 59, 59), zone)


def compute_due(rule: DueRule, ready_at: datetime, calendar: Mapping[str, date] | None = None,
                workdays: WorkCalendar | None = None) -> datetime | None:
    """When a task that became ready at ``ready_at`` is due.

    Working days and a cohort date are counted in the zone of ``workdays`` (the school's, Moscow's by
    default): a cohort date is the end of that day there; ``None`` when the instance has no cohort calendar
    with that date (an ad hoc instance), so the task simply has no due time."""
    workdays = workdays or WorkCalendar()
    if rule.duration is not None:
        return ready_at + rule.duration
    if rule.working_days is not None:
        return workdays.add_working_days(ready_at, rule.working_days).astimezone(UTC)  # stored and sent in UTC
    if rule.cohort_date is not None and calendar and rule.cohort_date in calendar:
        return end_of_day(calendar[rule.cohort_date], workdays.zone).astimezone(UTC)
    return None
