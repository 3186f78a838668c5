"""Who may act on which task: a user's role grants resolved into a scope.

A task in lane ``curator`` is offered to users holding the curator role *for that school*; a
``municipal_coordinator`` task to those holding it for the school's municipality; and so on. The same
rules answer two questions: a Python check for one task (``Scope.can_act``) and an SQL filter for
listing tasks straight from the task table (``Scope.task_filter``). Tests hold the two to agreement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, or_

from engine.models import RoleGrant, Task
from engine.roles import SCOPE_OF_ROLE, Role, ScopeLevel


@dataclass(frozen=True)
class OrgPlace:
    """Where a school sits: enough to decide any scope question about its tasks."""

    school_id: int
    municipality_id: int
    region_id: int


@dataclass(frozen=True)
class Grant:
    role: Role
    school_id: int | None = None
    municipality_id: int | None = None
    region_id: int | None = None

    @classmethod
    def of(cls, row: RoleGrant) -> Grant:
        return cls(row.role, row.school_id, row.municipality_id, row.region_id)

    def covers(self, place: OrgPlace) -> bool:
        level = SCOPE_OF_ROLE[self.role]
        if level is ScopeLevel.SCHOOL:
            return self.school_id == place.school_id
        if level is ScopeLevel.MUNICIPALITY:
            return self.municipality_id == place.municipality_id
        if level is ScopeLevel.REGION:
            return self.region_id == place.region_id
        return True


@dataclass(frozen=True)
class Scope:
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, rows: Iterable[RoleGrant]) -> Scope:
        return cls(tuple(Grant.of(row) for row in rows))

    @property
    def is_admin(self) -> bool:
        return any(g.role is Role.ADMIN for g in self.grants)

    def can_act(self, role: Role, place: OrgPlace) -> bool:
        """May this user act on a task of ``role`` for the school at ``place``?"""
        return any(g.role is role and g.covers(place) for g in self.grants)

    def oversees(self, place: OrgPlace) -> bool:
        """Does a coordinating grant (municipal and up, or admin) cover this school?"""
        overseers = {Role.MUNICIPAL_COORDINATOR, Role.REGIONAL_COORDINATOR, Role.FEDERAL, Role.ADMIN}
        return any(g.role in overseers and g.covers(place) for g in self.grants)

    def sees(self, place: OrgPlace) -> bool:
        """Any grant covering the school: its own users, its curators, coordinators above it, admins."""
        return any(g.covers(place) for g in self.grants)

    def task_filter(self) -> ColumnElement[bool]:
        """SQL condition on ``Task`` equal to ``can_act`` for every row; grants grouped into IN lists."""
        ids: dict[tuple[Role, ScopeLevel], set[int]] = defaultdict(set)
        country_roles = set()
        for grant in self.grants:
            level = SCOPE_OF_ROLE[grant.role]
            scope_id = {ScopeLevel.SCHOOL: grant.school_id, ScopeLevel.MUNICIPALITY: grant.municipality_id,
                        ScopeLevel.REGION: grant.region_id}.get(level)
            if level is ScopeLevel.COUNTRY:
                country_roles.add(grant.role)
            elif scope_id is not None:
                ids[(grant.role, level)].add(scope_id)
        column = {ScopeLevel.SCHOOL: Task.school_id, ScopeLevel.MUNICIPALITY: Task.municipality_id,
                  ScopeLevel.REGION: Task.region_id}
        clauses = [and_(Task.role == role, column[level].in_(sorted(values)))
                   for (role, level), values in ids.items()]
        if country_roles:
            clauses.append(Task.role.in_(sorted(country_roles)))
        return or_(*clauses) if clauses else false()
