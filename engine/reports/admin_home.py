"""The admins' start page: what needs them (open incidents, running migrations) and the size of what they
keep (templates, drafts, users, cohorts), counted in one query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select

from engine.actors import Who
from engine.db import Database
from engine.models import (
    Cohort,
    Incident,
    MigrationRun,
    MigrationRunStatus,
    Task,
    TaskStatus,
    TemplateDraft,
    TemplateStatus,
    TemplateVersion,
    User,
)
from engine.org.core import load_admin


@dataclass(frozen=True)
class AdminHome:
    templates: int  # keys with a deployed version
    deployed_versions: int
    drafts: int
    open_incidents: int
    active_users: int
    migrations_running: int  # pending or running bulk moves
    cohorts: int
    latest_cohort: int | None
    my_tasks: int  # open tasks the admin may act on (an admin lane is rare, but it exists)


def admin_home(db: Database, *, actor: Who) -> AdminHome:
    """Counts for the admins' start page (admins only): one SELECT of scalar subqueries."""
    with db.reading() as session:
        admin = load_admin(session, actor, "стартовая страница администратора доступна администраторам")
        deployed = TemplateVersion.status == TemplateStatus.DEPLOYED
        counted = func.count()
        row = session.execute(select(*(query.scalar_subquery() for query in (
            select(func.count(distinct(TemplateVersion.key))).where(deployed),
            select(counted).select_from(TemplateVersion).where(deployed),
            select(counted).select_from(TemplateDraft),
            select(counted).select_from(Incident).where(Incident.resolved_at.is_(None)),
            select(counted).select_from(User).where(User.is_active.is_(True)),
            select(counted).select_from(MigrationRun).where(
                MigrationRun.status.in_([MigrationRunStatus.PENDING, MigrationRunStatus.RUNNING])),
            select(counted).select_from(Cohort),
            select(func.max(Cohort.year)),
            select(counted).select_from(Task).where(Task.status == TaskStatus.READY, admin.scope.task_filter()),
        )))).one()
        keys, versions, drafts, incidents, users, migrations, cohorts, latest, mine = (
            None if value is None else int(value) for value in row)
        return AdminHome(keys or 0, versions or 0, drafts or 0, incidents or 0, users or 0, migrations or 0,
                         cohorts or 0, latest, mine or 0)
