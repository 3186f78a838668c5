"""Roles of the «500+» project and the chain tasks escalate along.

A BPMN lane names one of these roles; the scope a role is granted on (a school, a municipality, a
region, the country) decides which tasks a user sees.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SCHOOL = "school"
    CURATOR = "curator"
    MUNICIPAL_COORDINATOR = "municipal_coordinator"
    REGIONAL_COORDINATOR = "regional_coordinator"
    FEDERAL = "federal"
    ADMIN = "admin"


class ScopeLevel(StrEnum):
    SCHOOL = "school"
    MUNICIPALITY = "municipality"
    REGION = "region"
    COUNTRY = "country"


#: The org level a grant of each role is scoped to.
SCOPE_OF_ROLE: dict[Role, ScopeLevel] = {
    Role.SCHOOL: ScopeLevel.SCHOOL,
    Role.CURATOR: ScopeLevel.SCHOOL,
    Role.MUNICIPAL_COORDINATOR: ScopeLevel.MUNICIPALITY,
    Role.REGIONAL_COORDINATOR: ScopeLevel.REGION,
    Role.FEDERAL: ScopeLevel.COUNTRY,
    Role.ADMIN: ScopeLevel.COUNTRY,
}

#: Roles that may appear as BPMN lanes (admins edit templates, they do not act in them).
LANE_ROLES: tuple[Role, ...] = (
    Role.FEDERAL,
    Role.REGIONAL_COORDINATOR,
    Role.MUNICIPAL_COORDINATOR,
    Role.CURATOR,
    Role.SCHOOL,
)

ROLE_TITLES: dict[Role, str] = {
    Role.SCHOOL: "Школа",
    Role.CURATOR: "Куратор",
    Role.MUNICIPAL_COORDINATOR: "Муниципальный координатор",
    Role.REGIONAL_COORDINATOR: "Региональный координатор",
    Role.FEDERAL: "Федеральный координатор (ФИОКО)",
    Role.ADMIN: "Администратор",
}

#: Who hears about an overdue task, level by level: a school's task goes to its curator, then the
#: municipal coordinator, then the regional coordinator; the chain stops at the region.
ESCALATION_CHAIN: tuple[Role, ...] = (
    Role.SCHOOL,
    Role.CURATOR,
    Role.MUNICIPAL_COORDINATOR,
    Role.REGIONAL_COORDINATOR,
)


def escalation_target(role: Role, levels_up: int) -> Role:
    """The role notified ``levels_up`` steps above ``role`` (capped at the regional coordinator)."""
    start = ESCALATION_CHAIN.index(role) if role in ESCALATION_CHAIN else len(ESCALATION_CHAIN) - 1
    return ESCALATION_CHAIN[min(start + levels_up, len(ESCALATION_CHAIN) - 1)]
