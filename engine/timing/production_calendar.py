"""Admins' corrections of the production calendar, and loading the calendar deadlines are computed with."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.db import Database, joined_strings
from engine.errors import FormInvalid
from engine.models import CalendarOverride
from engine.org.core import operator_or_admin
from engine.timing.workdays import WorkCalendar

_ADMINS_ONLY = "производственный календарь меняет администратор"


def load_calendar(session: Session) -> WorkCalendar:
    # Read on every step that opens a task: plain rows through the connection, no ORM result layer.
    rows = session.connection().execute(_OVERRIDES)
    return WorkCalendar({day: working for day, working in rows})


_OVERRIDES = select(CalendarOverride.day, CalendarOverride.is_working_day)  # built once: every step runs it

#: The overrides as one column another statement can carry (a completion's lock): ``day=working,…``, days
#: as ISO dates, working as true/false (PostgreSQL) or 1/0 (SQLite). A few dozen days: a short string.
OVERRIDES_COLUMN = (select(joined_strings(cast(CalendarOverride.day, String) + "="
                                          + cast(CalendarOverride.is_working_day, String), ","))
                    .scalar_subquery().label("calendar_overrides"))


def calendar_of_column(text: str | None) -> WorkCalendar:
    """``load_calendar`` from ``OVERRIDES_COLUMN``'s string."""
    overrides = {}
    for item in (text or "").split(","):
        if item:
            day, working = item.split("=")
            overrides[date.fromisoformat(day[:10])] = working in ("true", "1")
    return WorkCalendar(overrides)


def set_calendar_day(db: Database, day: date, *, actor: Who, working: bool | None, note: str = "") -> None:
    """Mark a day working or a day off, or (``working=None``) return it to the built-in calendar.

    Changes apply to deadlines computed from now on; due times already set stay as they were."""
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, _ADMINS_ONLY)
        row = session.get(CalendarOverride, day)
        if working is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(CalendarOverride(day=day, is_working_day=working, note=note, changed_at=db.now(),
                                         changed_by_id=actor_id))
        else:
            row.is_working_day, row.note, row.changed_at, row.changed_by_id = working, note, db.now(), actor_id
        audit.record(session, db.now(), "calendar.changed", actor_id=actor_id, day=day.isoformat(),
                     working=working, note=note)


def list_overrides(db: Database, year: int, *, actor: Who) -> list[CalendarOverride]:
    """The year's corrections; from a user (the admin page), only admins may read them."""
    with db.reading() as session:
        operator_or_admin(session, actor, _ADMINS_ONLY)
        query = select(CalendarOverride).where(CalendarOverride.day >= date(year, 1, 1),
                                               CalendarOverride.day <= date(year, 12, 31))
        return list(session.scalars(query.order_by(CalendarOverride.day)))


MAX_NOTE = 255


def day_errors(text: str) -> tuple[date | None, list[str]]:
    """A date typed by an admin (ГГГГ-ММ-ДД, years 2000–2100), or the messages for its field."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None, ["Укажите дату в виде ГГГГ-ММ-ДД."]
    if not 2000 <= day.year <= 2100:
        return None, ["Дата вне разумных пределов (2000–2100 годы)."]
    return day, []


def parse_day(text: str) -> date:
    """A day from an admin's form, or a field error on ``day``."""
    day, errors = day_errors(text)
    if day is None:
        raise FormInvalid({"day": errors})
    return day


def parse_override(day_text: str, kind: str, note: str) -> tuple[date, bool]:
    """An admin's form (day, «working»/«holiday», note) checked field by field; nothing is stored here."""
    day, messages = day_errors(day_text)
    errors: dict[str, list[str]] = {"day": messages} if messages else {}
    if kind not in ("working", "holiday"):
        errors["kind"] = ["Выберите: рабочий день или выходной."]
    if len(note) > MAX_NOTE:
        errors["note"] = [f"Основание длиннее {MAX_NOTE} символов."]
    if errors or day is None:
        raise FormInvalid(errors)
    return day, kind == "working"
