"""Deadline rules as templates write them, and Russian working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.due import DueKind, DueRule, compute_due, russian_day_off


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
    assert russian_day_off(date(2027, 1, 4))  # New Year holidays
    assert russian_day_off(date(2026, 11, 21))  # Saturday
    assert not russian_day_off(date(2026, 11, 23))  # an ordinary Monday


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert compute_due(DueRule.parse("1WD"), friday) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert compute_due(DueRule.parse("5WD"), friday) == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_working_days_skip_a_custom_calendar() -> None:
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
    every_day_works = compute_due(DueRule.parse("3WD"), start, lambda _: False)
    assert every_day_works == datetime(2027, 3, 4, 9, 0, tzinfo=UTC)


def test_cohort_dates_are_resolved_elsewhere() -> None:
    assert compute_due(DueRule.parse("cohort:questionnaire_close"), datetime.now(UTC)) is None
