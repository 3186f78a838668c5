"""Deadlines in the school's own time: working days are the dates of its zone, a cohort date ends at its midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.timing.due import DueRule, compute_due
from engine.timing.workdays import WorkCalendar
from engine.timing.zones import local_time, zone_errors, zone_label

KALININGRAD, MOSCOW, NOVOSIBIRSK, KAMCHATKA = ("Europe/Kaliningrad", "Europe/Moscow", "Asia/Novosibirsk",
                                               "Asia/Kamchatka")


def _at(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def _due(rule: str, ready_at: datetime, zone: str, calendar: dict[str, date] | None = None) -> datetime:
    due = compute_due(DueRule.parse(rule), ready_at, calendar, WorkCalendar().in_zone(zone))
    assert due is not None
    return due


def test_saturday_night_in_moscow_counts_from_saturday_not_from_fridays_utc_date() -> None:
    opened = _at(MOSCOW, 2026, 12, 5, 1, 30)  # Saturday 01:30 in Moscow is still Friday 22:30 UTC
    due = _due("5WD", opened, MOSCOW)
    assert due == _at(MOSCOW, 2026, 12, 11, 1, 30)  # Friday 11.12, not Saturday 12.12 (a day off)
    assert due.astimezone(ZoneInfo(MOSCOW)).weekday() == 4
    assert compute_due(DueRule.parse("5WD"), opened) == due  # Moscow is the default zone
    assert due.tzinfo is UTC  # stored and sent in UTC


@pytest.mark.parametrize(("zone", "opened", "days", "expected"), [
    # New Year: 31.12.2026–10.01.2027 are off; the next working day after 30.12 is 11.01 wherever the school is.
    (KALININGRAD, (2026, 12, 30, 23, 30), 1, (2027, 1, 11, 23, 30)),  # Moscow's date is already 31.12
    (MOSCOW, (2026, 12, 30, 10, 0), 1, (2027, 1, 11, 10, 0)),
    (NOVOSIBIRSK, (2026, 12, 30, 2, 0), 1, (2027, 1, 11, 2, 0)),  # Moscow's date is still 29.12
    (KAMCHATKA, (2026, 12, 30, 7, 0), 1, (2027, 1, 11, 7, 0)),  # UTC's and Moscow's date is 29.12
    (KAMCHATKA, (2026, 12, 29, 7, 0), 2, (2027, 1, 11, 7, 0)),
    # May 2027: 1–3 May and 8–10 May are off.
    (KAMCHATKA, (2027, 4, 30, 7, 0), 1, (2027, 5, 4, 7, 0)),  # by Moscow's date (29.04) it would land on 1 May
    (KALININGRAD, (2027, 5, 7, 23, 30), 1, (2027, 5, 11, 23, 30)),  # by Moscow's (Sat 8.05): Mon 10.05, a day off
    (NOVOSIBIRSK, (2027, 5, 7, 2, 0), 1, (2027, 5, 11, 2, 0)),
    (MOSCOW, (2027, 4, 30, 12, 0), 3, (2027, 5, 6, 12, 0)),
])
def test_working_days_are_the_schools_own_dates(zone: str, opened: tuple[int, ...], days: int,
                                                expected: tuple[int, ...]) -> None:
    due = _due(f"{days}WD", _at(zone, *opened), zone)
    assert due == _at(zone, *expected)
    assert not WorkCalendar().is_day_off(due.astimezone(ZoneInfo(zone)).date())


def test_counting_by_moscow_dates_would_land_a_kamchatka_deadline_on_a_holiday() -> None:
    opened = _at(KAMCHATKA, 2027, 4, 30, 7, 0)
    by_moscow = WorkCalendar().add_working_days(opened, 1).astimezone(ZoneInfo(KAMCHATKA))
    assert by_moscow.date() == date(2027, 5, 1)  # what the old arithmetic gave: 1 May in Kamchatka
    assert _due("1WD", opened, KAMCHATKA).astimezone(ZoneInfo(KAMCHATKA)).date() == date(2027, 5, 4)


@pytest.mark.parametrize(("zone", "utc_hour"), [(KALININGRAD, 21), (MOSCOW, 20), (NOVOSIBIRSK, 16),
                                                 (KAMCHATKA, 11)])
def test_a_cohort_date_ends_at_the_schools_own_midnight(zone: str, utc_hour: int) -> None:
    due = _due("cohort:questionnaire_close", datetime(2027, 2, 1, tzinfo=UTC), zone,
               {"questionnaire_close": date(2027, 3, 1)})
    assert due == datetime(2027, 3, 1, utc_hour, 59, 59, tzinfo=UTC)
    assert due.astimezone(ZoneInfo(zone)).time().isoformat() == "23:59:59"


def test_reminders_count_back_in_local_working_days_over_the_new_year() -> None:
    due = _at(KAMCHATKA, 2027, 1, 11, 23, 59, 59)
    calendar = WorkCalendar().in_zone(KAMCHATKA)
    assert calendar.subtract_working_days(due, 2) == _at(KAMCHATKA, 2026, 12, 29, 23, 59, 59)
    assert calendar.local_date(due) == date(2027, 1, 11)
    assert WorkCalendar().local_date(due) == date(2027, 1, 11)  # 14:59:59 in Moscow
    assert calendar.working_days_until(date(2026, 12, 30), calendar.local_date(due)) == 1


def test_an_admins_override_applies_in_every_zone() -> None:
    saturday_works = WorkCalendar({date(2026, 12, 5): True}).in_zone(KAMCHATKA)
    assert saturday_works.add_working_days(_at(KAMCHATKA, 2026, 12, 4, 9), 1) == _at(KAMCHATKA, 2026, 12, 5, 9)
    assert saturday_works.in_zone(KAMCHATKA) is saturday_works
    assert saturday_works.in_zone(None).zone == ZoneInfo(MOSCOW)


@pytest.mark.parametrize(("zone", "shown"), [
    (KALININGRAD, "01.03.2027 23:59 (МСК−1)"), (MOSCOW, "02.03.2027 00:59 (МСК)"),
    (NOVOSIBIRSK, "02.03.2027 04:59 (МСК+4)"), (KAMCHATKA, "02.03.2027 09:59 (МСК+9)"),
])
def test_times_are_shown_in_a_zone_with_the_zone_named(zone: str, shown: str) -> None:
    moment = datetime(2027, 3, 1, 21, 59, tzinfo=UTC)
    assert local_time(moment, zone) == shown
    assert zone_label(moment.astimezone(ZoneInfo(zone))) == shown.split("(")[1].rstrip(")")
    assert local_time(None, zone) == "без срока"


@pytest.mark.parametrize("name", ["Europe/Moscow", "Asia/Kamchatka", " Europe/Kaliningrad "])
def test_iana_zones_are_accepted(name: str) -> None:
    assert zone_errors(name) == []


@pytest.mark.parametrize("name", ["", "MSK", "UTC+3", "Europe/Mordor", "../etc/passwd", "Asia/" + "x" * 80])
def test_other_names_are_refused(name: str) -> None:
    assert zone_errors(name)
