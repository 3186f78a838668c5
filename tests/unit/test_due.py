"""Deadline rules as templates write them, and Russian working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.timing.due import DueKind, DueRule, compute_due
from engine.timing.workdays import WorkCalendar


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("P14D", DueKind.DURATION, timedelta(days=14)),
    ("P2W", DueKind.DURATION, timedelta(weeks=2)),
    ("PT48H", DueKind.DURATION, timedelta(hours=48)),
    ("P1DT12H", DueKind.DURATION, timedelta(days=1, hours=12)),
    ("5WD", DueKind.WORKING_DAYS, 5),
    ("cohort:questionnaire_close", DueKind.COHORT_DATE, "questionnaire_close"),
])
def test_rules_parse(text: str, kind: DueKind, value: object) -> None:
    rule = DueRule.parse(text)
    assert rule.kind is kind
    assert value in (rule.duration, rule.working_days, rule.cohort_date)


@pytest.mark.parametrize("text", ["", "P", "PT", "14D", "две недели", "5 WD", "cohort:", "cohort:Bad Name",
                                  "P1Y", "-5WD"])
def test_bad_rules_are_refused_in_russian(text: str) -> None:
    with pytest.raises(ValueError, match="не распознан"):
        DueRule.parse(text)


def test_weekends_and_new_year_holidays_are_days_off() -> None:
    calendar = WorkCalendar()
    assert calendar.is_day_off(date(2027, 1, 4))  # New Year holidays
    assert calendar.is_day_off(date(2026, 11, 21))  # Saturday
    assert not calendar.is_day_off(date(2026, 11, 23))  # an ordinary Monday


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert compute_due(DueRule.parse("1WD"), friday) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert compute_due(DueRule.parse("5WD"), friday) == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_working_days_skip_a_custom_calendar() -> None:
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
    saturday_works = WorkCalendar({date(2027, 3, 6): True})  # an override: Saturday 6 March is a working day
    assert compute_due(DueRule.parse("5WD"), start, workdays=saturday_works) == datetime(2027, 3, 6, 9, 0, tzinfo=UTC)
    assert compute_due(DueRule.parse("5WD"), start) == datetime(2027, 3, 9, 9, 0, tzinfo=UTC)  # 8 March is off


def test_cohort_dates_are_resolved_elsewhere() -> None:
    assert compute_due(DueRule.parse("cohort:questionnaire_close"), datetime.now(UTC)) is None


# Working-day arithmetic around the holidays that matter for a school year.
@pytest.mark.parametrize(("start", "days", "expected"), [
    # New Year: 29.12.2026 (Tue) + 3 WD: 30 Dec, then 31 Dec (transferred day off) and 1–10 Jan are off.
    (date(2026, 12, 29), 3, date(2027, 1, 12)),
    (date(2026, 12, 30), 1, date(2027, 1, 11)),
    # May 2024: 1 May holiday, 9–10 May off; 29–30 April off by transfer.
    (date(2024, 4, 26), 1, date(2024, 4, 27)),  # Saturday 27.04.2024 was a transferred working day
    (date(2024, 4, 27), 1, date(2024, 5, 2)),
    (date(2024, 5, 8), 1, date(2024, 5, 13)),
    # November 2025: Saturday 1 November worked, Monday 3 and Tuesday 4 November off.
    (date(2025, 10, 31), 1, date(2025, 11, 1)),
    (date(2025, 11, 1), 1, date(2025, 11, 5)),
])
def test_working_days_around_holidays(start: date, days: int, expected: date) -> None:
    moment = datetime(start.year, start.month, start.day, 10, 0, tzinfo=UTC)
    assert WorkCalendar().add_working_days(moment, days).date() == expected


def test_an_admin_override_wins_over_the_built_in_calendar() -> None:
    regional_holiday = WorkCalendar({date(2027, 3, 2): False})
    start = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    assert regional_holiday.add_working_days(start, 1).date() == date(2027, 3, 3)
    assert regional_holiday.subtract_working_days(datetime(2027, 3, 3, 10, tzinfo=UTC), 1).date() == date(2027, 3, 1)


def test_working_days_until_a_due_date_skip_weekends_and_holidays() -> None:
    from datetime import date

    from engine.timing.workdays import WorkCalendar
    calendar = WorkCalendar()
    friday, monday = date(2026, 12, 4), date(2026, 12, 7)
    assert calendar.working_days_until(friday, friday) == 0
    assert calendar.working_days_until(friday, monday) == 1  # Saturday and Sunday are not counted
    assert calendar.working_days_until(monday, friday) == -1  # one working day overdue
    assert calendar.working_days_until(date(2026, 12, 30), date(2027, 1, 12)) == 2  # 11 and 12 January: 31.12 is off
    saturday_at_work = WorkCalendar({date(2026, 12, 5): True})
    assert saturday_at_work.working_days_until(friday, monday) == 2
