"""Areas a coordinator oversees: the country, a region or a municipality, checked against the actor's grants.

Dashboards, reports and the area task pages ask for an area by code; ``area_of`` answers with the area if the
actor may see it (by default the widest one they have) and refuses otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Who
from engine.db import Database
from engine.errors import NotAllowed, NotFound
from engine.models import Municipality, Region
from engine.org.core import Actor, load_user
from engine.roles import Role

OVERSEERS = (Role.MUNICIPAL_COORDINATOR, Role.REGIONAL_COORDINATOR, Role.FEDERAL, Role.ADMIN)


@dataclass(frozen=True)
class Area:
    """What a dashboard shows: the country, a region or a municipality."""

    region_code: str | None = None
    municipality_code: str | None = None
    title: str = "Вся страна"


def area_of(session: Session, actor: Actor, region: str | None, municipality: str | None) -> Area:
    """The area asked for, if the actor oversees it; by default the widest area the actor has."""
    grants = actor.scope.grants
    country = any(g.role in (Role.FEDERAL, Role.ADMIN) for g in grants)
    if municipality:
        row = session.scalar(select(Municipality).where(Municipality.code == municipality))
        if row is None:
            raise NotFound(f"муниципалитет «{municipality}» не найден")
        if not (country or any(g.municipality_id == row.id or g.region_id == row.region_id for g in grants
                               if g.role in OVERSEERS)):
            raise NotAllowed("этот муниципалитет вне вашей зоны ответственности")
        return Area(None, row.code, row.name)
    if region:
        row_r = session.scalar(select(Region).where(Region.code == region))
        if row_r is None:
            raise NotFound(f"регион «{region}» не найден")
        if not (country or any(g.role is Role.REGIONAL_COORDINATOR and g.region_id == row_r.id for g in grants)):
            raise NotAllowed("этот регион вне вашей зоны ответственности")
        return Area(row_r.code, None, row_r.name)
    return _default_area(session, actor, country)


def _default_area(session: Session, actor: Actor, country: bool) -> Area:
    if country:
        return Area()
    for grant in actor.scope.grants:
        if grant.role is Role.REGIONAL_COORDINATOR and grant.region_id is not None:
            region = session.get(Region, grant.region_id)
            assert region is not None
            return Area(region.code, None, region.name)
    for grant in actor.scope.grants:
        if grant.role is Role.MUNICIPAL_COORDINATOR and grant.municipality_id is not None:
            municipality = session.get(Municipality, grant.municipality_id)
            assert municipality is not None
            return Area(None, municipality.code, municipality.name)
    raise NotAllowed("сводки доступны координаторам и администраторам")


def area_for(db: Database, region: str | None = None, municipality: str | None = None, *, actor: Who) -> Area:
    with db.reading() as session:
        return area_of(session, load_user(session, actor), region, municipality)
