"""Merging two schools' records (issue 22): one school is absorbed into another, both of one region.

The absorbed school keeps its row, its code and its roadmap with the whole history; its running roadmap is
withdrawn for the reason «слияние» (``management.withdraw_one``: open tasks close, deadlines stop) and the
row points at the surviving school (``school.merged_into_id``). Its people — school users and curators —
get the same role on the surviving school, so they reach it at once; their grants on the absorbed school
stay, for its history.

Refused, with a message naming each school's stage, when the two roadmaps stand at different stages (the
survivor's roadmap would not fit the absorbed school's work); refused across regions (a move first) and for
a school already merged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.db import Database
from engine.errors import Conflict, FormInvalid
from engine.models import InstanceStatus, ProcessInstance, RoleGrant, School, User
from engine.org.core import find_school, place_of
from engine.process import management
from engine.roles import Role
from engine.templates.versions import all_stage_titles

#: The roles that belong to a school's own people (and so follow it into the surviving school).
SCHOOL_PEOPLE = (Role.SCHOOL, Role.CURATOR)


@dataclass(frozen=True)
class MergedSchools:
    absorbed: str
    survivor: str
    withdrawn_instance_id: int | None
    people: list[str]  # logins that reached the surviving school by the merge


@dataclass(frozen=True)
class MergeSide:
    school_code: str
    school_name: str
    stage: str | None  # its running roadmap's stage; None without one
    merged_into: str | None = None


def merge_candidates(db: Database, school_code: str, *, actor: Who) -> tuple[MergeSide, list[MergeSide]]:
    """The school and the schools of its region it could be merged into (not merged themselves), each with its
    running roadmap's stage: the merge page lists them (the engine still checks when asked)."""
    with db.reading() as session:
        school = find_school(session, school_code)
        management.authorize(session, actor, [place_of(school)])
        stages = dict(session.execute(select(ProcessInstance.school_id, ProcessInstance.current_stage).join(
            School, School.id == ProcessInstance.school_id).where(
            School.region_id == school.region_id, ProcessInstance.status == InstanceStatus.RUNNING)).all())
        into = session.get(School, school.merged_into_id) if school.merged_into_id else None
        me = MergeSide(school.code, school.name, stages.get(school.id), into.code if into else None)
        others = session.scalars(select(School).where(School.region_id == school.region_id, School.id != school.id,
                                                      School.merged_into_id.is_(None)).order_by(School.code))
        return me, [MergeSide(s.code, s.name, stages.get(s.id)) for s in others]


def _running(session: Session, school: School) -> ProcessInstance | None:
    return session.scalars(select(ProcessInstance).where(ProcessInstance.school_id == school.id,
                                                         ProcessInstance.status == InstanceStatus.RUNNING)
                           .order_by(ProcessInstance.id.desc()).limit(1)).first()


def _stage_words(instance: ProcessInstance | None, titles: dict[str, str]) -> str:
    if instance is None:
        return "нет идущего маршрута"
    stage = instance.current_stage or ""
    return f"этап «{titles.get(stage, stage or 'не определён')}»"


def merge_schools(db: Database, absorbed_code: str, survivor_code: str, *, reason: str, actor: Who) -> MergedSchools:
    """Merge ``absorbed_code`` into ``survivor_code`` (one transaction, audited with who, when and why)."""
    words = (reason or "").strip()
    if not words:
        raise FormInvalid({"reason": ["укажите причину"]})
    if absorbed_code == survivor_code:
        raise FormInvalid({"into": ["школу нельзя присоединить к самой себе"]})
    titles = all_stage_titles(db, preferred="roadmap-500")
    with db.transaction() as session:
        absorbed, survivor = find_school(session, absorbed_code), find_school(session, survivor_code)
        actor_id = management.authorize(session, actor, [place_of(absorbed), place_of(survivor)])
        _refuse_unless_mergeable(session, absorbed, survivor, titles)
        now = db.now()
        instance = _running(session, absorbed)
        withdrawn = None
        if instance is not None:
            withdrawn = management.withdraw_one(session, absorbed.code, reason=management.MERGED,
                                                comment=words[:1000], actor=actor, now=now).instance_id
        people = _people_follow(session, absorbed, survivor)
        absorbed.merged_into_id = survivor.id
        audit.record(session, now, "org.schools_merged", actor_id=actor_id, instance_id=withdrawn,
                     school=absorbed.code, into=survivor.code, reason=words[:1000], people=people)
        session.flush()
        return MergedSchools(absorbed.code, survivor.code, withdrawn, people)


def _refuse_unless_mergeable(session: Session, absorbed: School, survivor: School, titles: dict[str, str]) -> None:
    for school in (absorbed, survivor):
        if school.merged_into_id is not None:
            into = session.get(School, school.merged_into_id)
            raise Conflict(f"школа «{school.code}» уже присоединена к школе «{into.code if into else '?'}»")
    if absorbed.region_id != survivor.region_id:
        raise Conflict(f"школы «{absorbed.code}» и «{survivor.code}» в разных регионах: сначала переведите школу "
                       "в муниципалитет региона той, к которой она присоединяется")
    mine, theirs = _running(session, absorbed), _running(session, survivor)
    if (mine.current_stage if mine else None) != (theirs.current_stage if theirs else None):
        raise Conflict(f"маршруты на разных этапах: школа «{absorbed.code}» — {_stage_words(mine, titles)}, "
                       f"школа «{survivor.code}» — {_stage_words(theirs, titles)}; слить можно школы на одном этапе")


def _people_follow(session: Session, absorbed: School, survivor: School) -> list[str]:
    """Every school user and curator of the absorbed school gets the same role on the surviving one."""
    arrived = []
    grants = session.execute(select(RoleGrant.user_id, RoleGrant.role, User.login)
                             .join(User, User.id == RoleGrant.user_id)
                             .where(RoleGrant.school_id == absorbed.id, RoleGrant.role.in_(SCHOOL_PEOPLE))
                             .order_by(User.login)).all()
    for user_id, role, login in grants:
        if session.scalar(select(RoleGrant.id).filter_by(user_id=user_id, role=role, school_id=survivor.id)) is None:
            session.add(RoleGrant(user_id=user_id, role=role, school_id=survivor.id))
            arrived.append(login)
    return arrived
