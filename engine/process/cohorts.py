"""Cohorts: project years and their calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.bpmn.manifest import month_day
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import EngineError, FormInvalid, TemplateNotFound
from engine.models import Cohort
from engine.org.core import operator_or_admin
from engine.templates.versions import find_version
from engine.timing.production_calendar import day_errors


def cohort_title(year: int) -> str:
    return f"Когорта {year} года"


def ensure_cohort(db: Database, year: int, dates: dict[str, str] | None = None) -> int:
    """Create the cohort of ``year`` (or update its calendar overrides); returns its id."""
    if not 2000 <= year <= 2100:
        raise EngineError(f"год когорты {year} вне разумных пределов")
    for name, text in (dates or {}).items():
        try:
            date.fromisoformat(text)
        except ValueError as err:
            raise EngineError(f"дата «{name}» в календаре когорты: ожидается ГГГГ-ММ-ДД") from err
    with db.transaction() as session:
        cohort = session.scalar(select(Cohort).where(Cohort.year == year))
        if cohort is None:
            cohort = Cohort(year=year, title=cohort_title(year), dates=dict(dates or {}))
            session.add(cohort)
            session.flush()
            audit.record(session, db.now(), "cohort.created", year=year)
        elif dates:
            cohort.dates = {**cohort.dates, **dates}
            audit.record(session, db.now(), "cohort.calendar_changed", year=year, dates=dates)
        return cohort.id


def find_cohort(session: Session, year: int) -> Cohort:
    cohort = session.scalar(select(Cohort).where(Cohort.year == year))
    if cohort is None:
        raise EngineError(f"когорта {year} года не найдена; создайте её: roadmap cohort start --year {year}")
    return cohort


def calendar_of(spec: TemplateSpec, cohort: Cohort | None) -> dict[str, date]:
    """The template's calendar in the cohort's year, with the cohort's own dates taking precedence.

    Plain dates: «03-01» is the end of 1 March where the school is (``compute_due`` with the school's zone)."""
    if cohort is None:
        return {}
    calendar = {}
    for name, text in spec.sections.cohort_calendar.items():
        month, day = month_day(text)
        calendar[name] = date(cohort.year, month, day)
    for name, text in (cohort.dates or {}).items():
        calendar[name] = date.fromisoformat(text)
    return calendar


@dataclass(frozen=True)
class CalendarDate:
    name: str
    default: date | None  # from the template's cohort_calendar in the cohort's year
    override: str | None  # the cohort's own date (ISO), if set
    effective: date | None


@dataclass(frozen=True)
class CohortCalendar:
    year: int
    title: str
    dates: list[CalendarDate]


def _template_calendar(session: Session, template_key: str) -> dict[str, str]:
    try:
        spec = TemplateSpec.from_dict(find_version(session, template_key).spec)
    except TemplateNotFound:
        return {}
    return dict(spec.sections.cohort_calendar)


def _require_admin(session: Session, actor: Who) -> int | None:
    """Admins (the web page, the API) and the operator (the CLI); the operator acts with no user id."""
    return operator_or_admin(session, actor, "календари когорт меняет администратор")


def _calendar(cohort: Cohort, defaults: dict[str, str]) -> CohortCalendar:
    own = cohort.dates or {}
    rows = []
    for name in sorted(set(defaults) | set(own)):
        default = date(cohort.year, *month_day(defaults[name])) if name in defaults else None
        override = own.get(name)
        rows.append(CalendarDate(name, default, override, date.fromisoformat(override) if override else default))
    return CohortCalendar(cohort.year, cohort.title, rows)


def cohort_calendars(db: Database, template_key: str, *, actor: Who) -> list[CohortCalendar]:
    """Every cohort's calendar dates: the names come from the template's manifest (cohort_calendar)."""
    with db.reading() as session:
        _require_admin(session, actor)
        defaults = _template_calendar(session, template_key)
        return [_calendar(cohort, defaults) for cohort in session.scalars(select(Cohort).order_by(Cohort.year.desc()))]


def cohort_calendar(db: Database, year: int, template_key: str, *, actor: Who) -> CohortCalendar:
    """One cohort's calendar (the CLI, the API)."""
    with db.reading() as session:
        _require_admin(session, actor)
        return _calendar(find_cohort(session, year), _template_calendar(session, template_key))


def set_cohort_dates(db: Database, year: int, template_key: str, dates: dict[str, str], *,
                     actor: Who) -> CohortCalendar:
    """Set the cohort's own dates (an empty value returns a date to the template's default); the calendar after.

    The one way to change them — the admin page, ``roadmap cohort dates``, ``PUT /api/v1/cohorts/{year}/dates``.
    Every field is checked first; one bad date stores nothing and names its field. A date is the end of that day
    in each school's own time zone; deadlines already set do not move (the calendar is read when a task opens)."""
    with db.transaction() as session:
        actor_id = _require_admin(session, actor)
        cohort = find_cohort(session, year)
        defaults = _template_calendar(session, template_key)
        known = set(defaults) | set(cohort.dates or {})
        errors: dict[str, list[str]] = {}
        if not dates:
            errors["dates"] = ["Не указано ни одной даты."]
        for name, text in dates.items():
            if name not in known:
                errors[name] = [f"Даты «{name[:64]}» нет в календаре шаблона."]
            elif text.strip() and day_errors(text)[1]:
                errors[name] = day_errors(text)[1]
        if errors:
            raise FormInvalid(errors)
        own = dict(cohort.dates or {})
        for name, text in dates.items():
            if text.strip():
                own[name] = date.fromisoformat(text.strip()).isoformat()
            else:
                own.pop(name, None)  # back to the template's default
        cohort.dates = own
        audit.record(session, db.now(), "cohort.calendar_changed", actor_id=actor_id, year=year, dates=dates)
        return _calendar(cohort, defaults)
