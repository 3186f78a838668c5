"""Regions' time zones: which zone a region's schools keep their deadlines in, and whose zone a person reads.

The zone is set by the org import (column «часовой пояс») or by an admin (``set_region_zone``: the admin
page, ``roadmap region zone``); changing it applies to deadlines computed from then on — due times already
set stay the moments they were (they are stored in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who, is_operator, login_of
from engine.db import Database
from engine.errors import FormInvalid
from engine.models import Municipality, Region, RoleGrant, School, User
from engine.org.core import find_region, operator_or_admin
from engine.timing.zones import DEFAULT_ZONE, zone_errors

_ADMINS_ONLY = "часовые пояса регионов меняет администратор"


@dataclass(frozen=True)
class RegionZone:
    code: str
    name: str
    time_zone: str
    schools: int


def region_zone(session: Session, region_id: int) -> str:
    """The zone a region's schools count their deadlines in (read through the identity map: a cohort start
    asks it per school, the database once per region)."""
    region = session.get(Region, region_id)
    return region.time_zone if region is not None and region.time_zone else DEFAULT_ZONE


def list_region_zones(db: Database, *, actor: Who) -> list[RegionZone]:
    """Every region with its zone and number of schools; admins (and the operator) only."""
    with db.reading() as session:
        operator_or_admin(session, actor, _ADMINS_ONLY)
        counts = {region_id: n for region_id, n in session.execute(
            select(School.region_id, func.count()).group_by(School.region_id))}
        return [RegionZone(r.code, r.name, r.time_zone, counts.get(r.id, 0))
                for r in session.scalars(select(Region).order_by(Region.code))]


def set_region_zone(db: Database, region_code: str, time_zone: str, *, actor: Who) -> str:
    """Give a region its IANA zone (audited); returns the zone it had. Deadlines already set do not move."""
    errors = zone_errors(time_zone)
    if errors:
        raise FormInvalid({"time_zone": errors})
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, _ADMINS_ONLY)
        region = find_region(session, region_code)
        before, region.time_zone = region.time_zone, time_zone.strip()
        if before != region.time_zone:
            audit.record(session, db.now(), "region.time_zone_changed", actor_id=actor_id, region=region.code,
                         before=before, after=region.time_zone)
        return before


def viewer_zone(db: Database, *, actor: Who) -> str:
    """The zone a person reads times in: their region's — the one region all their grants (school, curator,
    municipal, regional) lie in; Moscow's for federal and admin users, the operator, and anyone whose
    grants span regions of different zones."""
    with db.reading() as session:  # one query, on every page that shows a time
        return zone_of_viewer(session, actor)


def zone_of_viewer(session: Session, actor: Who) -> str:
    """:func:`viewer_zone` inside a session a service already holds."""
    if is_operator(actor):
        return DEFAULT_ZONE
    region_id = func.coalesce(RoleGrant.region_id, Municipality.region_id, School.region_id)
    query = (select(Region.time_zone).select_from(RoleGrant).join(User, User.id == RoleGrant.user_id)
             .outerjoin(School, School.id == RoleGrant.school_id)
             .outerjoin(Municipality, Municipality.id == RoleGrant.municipality_id)
             .outerjoin(Region, Region.id == region_id)
             .where(User.login == login_of(actor), User.is_active.is_(True)))
    zones = set(session.scalars(query))  # None: a grant on the whole country (federal, admin)
    return (zones.pop() or DEFAULT_ZONE) if len(zones) == 1 else DEFAULT_ZONE
