"""Cohorts: project years and their calendars."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn.manifest import month_day
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import EngineError
from engine.models import Cohort


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
    """The template's calendar in the cohort's year, with the cohort's own dates taking precedence."""
    if cohort is None:
        return {}
    calendar = {}
    for name, text in spec.sections.cohort_calendar.items():
        month, day = month_day(text)
        calendar[name] = date(cohort.year, month, day)
    for name, text in (cohort.dates or {}).items():
        calendar[name] = date.fromisoformat(text)
    return calendar
