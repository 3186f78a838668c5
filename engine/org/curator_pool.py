"""A region's curator pool: users who may be bound as a school's curator there without curating one yet.

Who may be made a curator is decided in ``engine.process.actions`` (``bind_curator``): the region's present
curators and this pool. Admins and the region's coordinator keep the pool; the operator (CLI) may too.
An entry gives access to nothing (it is not a role grant): binding the user to a school does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who, is_operator
from engine.db import Database
from engine.errors import NotAllowed
from engine.models import CuratorPoolEntry, Region, User
from engine.org.core import find_region, find_user, load_user
from engine.roles import Role


@dataclass(frozen=True)
class PoolEntry:
    login: str
    full_name: str
    added_at: datetime


def _keeper(session: Session, actor: Who, region: Region, *, reading: bool = False) -> int | None:
    """The operator, an admin, or the region's coordinator (to read: the federal level too); anyone else
    is refused."""
    if is_operator(actor):
        return None
    user = load_user(session, actor)
    keeps = user.scope.is_admin or any(g.role is Role.REGIONAL_COORDINATOR and g.region_id == region.id
                                       or reading and g.role is Role.FEDERAL for g in user.scope.grants)
    if not keeps:
        raise NotAllowed("резерв кураторов региона ведут администратор и региональный координатор этого региона")
    return user.user_id


def add_to_pool(db: Database, region_code: str, user_login: str, *, actor: Who) -> bool:
    """Put the user into the region's pool; False when they were there already."""
    with db.transaction() as session:
        region = find_region(session, region_code)
        actor_id = _keeper(session, actor, region)
        user = find_user(session, user_login)
        if session.scalar(select(CuratorPoolEntry.id).filter_by(region_id=region.id, user_id=user.id)) is not None:
            return False
        session.add(CuratorPoolEntry(region_id=region.id, user_id=user.id, added_by_id=actor_id, added_at=db.now()))
        audit.record(session, db.now(), "org.curator_pool_added", actor_id=actor_id, region=region.code,
                     user=user_login)
        return True


def remove_from_pool(db: Database, region_code: str, user_login: str, *, actor: Who) -> bool:
    """Take the user out of the pool (schools they already curate keep them); False when not there."""
    with db.transaction() as session:
        region = find_region(session, region_code)
        actor_id = _keeper(session, actor, region)
        user = find_user(session, user_login)
        removed = session.execute(delete(CuratorPoolEntry).where(CuratorPoolEntry.region_id == region.id,
                                                                 CuratorPoolEntry.user_id == user.id)
                                  .returning(CuratorPoolEntry.id)).all()
        if removed:
            audit.record(session, db.now(), "org.curator_pool_removed", actor_id=actor_id, region=region.code,
                         user=user_login)
        return bool(removed)


def list_pool(db: Database, region_code: str, *, actor: Who) -> list[PoolEntry]:
    with db.reading() as session:
        region = find_region(session, region_code)
        _keeper(session, actor, region, reading=True)
        rows = session.execute(select(User.login, User.full_name, CuratorPoolEntry.added_at)
                               .join(User, User.id == CuratorPoolEntry.user_id)
                               .where(CuratorPoolEntry.region_id == region.id).order_by(User.full_name, User.login))
        return [PoolEntry(*row) for row in rows]
