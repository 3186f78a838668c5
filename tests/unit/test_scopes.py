"""Scope resolution: which grant covers which school's task."""

from __future__ import annotations

import pytest

from engine.org.scopes import Grant, OrgPlace, Scope
from engine.roles import Role

HERE = OrgPlace(school_id=1, municipality_id=10, region_id=100)
SIBLING = OrgPlace(school_id=2, municipality_id=10, region_id=100)
OTHER_MUNICIPALITY = OrgPlace(school_id=3, municipality_id=11, region_id=100)
OTHER_REGION = OrgPlace(school_id=4, municipality_id=12, region_id=101)

GRANTS = {
    "school": Grant(Role.SCHOOL, school_id=1),
    "curator": Grant(Role.CURATOR, school_id=1),
    "municipal": Grant(Role.MUNICIPAL_COORDINATOR, municipality_id=10),
    "regional": Grant(Role.REGIONAL_COORDINATOR, region_id=100),
    "federal": Grant(Role.FEDERAL),
    "admin": Grant(Role.ADMIN),
}

# grant -> the places it covers among HERE, SIBLING, OTHER_MUNICIPALITY, OTHER_REGION
COVERS = {
    "school": [HERE],
    "curator": [HERE],
    "municipal": [HERE, SIBLING],
    "regional": [HERE, SIBLING, OTHER_MUNICIPALITY],
    "federal": [HERE, SIBLING, OTHER_MUNICIPALITY, OTHER_REGION],
    "admin": [HERE, SIBLING, OTHER_MUNICIPALITY, OTHER_REGION],
}


@pytest.mark.parametrize("name", sorted(GRANTS))
def test_grant_covers_its_scope_and_nothing_else(name: str) -> None:
    for place in (HERE, SIBLING, OTHER_MUNICIPALITY, OTHER_REGION):
        assert GRANTS[name].covers(place) is (place in COVERS[name]), (name, place)


def test_acting_needs_the_tasks_role_not_just_any_role() -> None:
    scope = Scope((GRANTS["curator"],))
    assert scope.can_act(Role.CURATOR, HERE)
    assert not scope.can_act(Role.SCHOOL, HERE)  # a curator does not fill the school's forms
    assert not scope.can_act(Role.CURATOR, SIBLING)


def test_a_curator_of_several_schools() -> None:
    scope = Scope((Grant(Role.CURATOR, school_id=1), Grant(Role.CURATOR, school_id=2)))
    assert scope.can_act(Role.CURATOR, HERE) and scope.can_act(Role.CURATOR, SIBLING)
    assert not scope.can_act(Role.CURATOR, OTHER_MUNICIPALITY)


def test_oversight_is_for_coordinators_and_admins() -> None:
    assert Scope((GRANTS["municipal"],)).oversees(SIBLING)
    assert not Scope((GRANTS["municipal"],)).oversees(OTHER_MUNICIPALITY)
    assert not Scope((GRANTS["curator"],)).oversees(HERE)
    assert not Scope((GRANTS["school"],)).oversees(HERE)
    assert Scope((GRANTS["admin"],)).oversees(OTHER_REGION) and Scope((GRANTS["admin"],)).is_admin


def test_no_grants_no_tasks() -> None:
    scope = Scope()
    assert not any(scope.can_act(role, HERE) for role in Role)
    assert str(scope.task_filter().compile()) in ("false", "0 = 1")
