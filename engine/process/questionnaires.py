"""Questionnaire responses: one per respondent, anonymous where the template says so, aggregated
into the indicators that the risk-profile decision table rates.

Anonymous respondents are known only by a hash of their personal link's token, so the database can
refuse a second answer from the same link without ever holding who answered.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who, is_operator
from engine.bpmn.manifest import Indicator, RespondentGroup
from engine.bpmn.spec import TemplateSpec
from engine.db import Database
from engine.errors import Conflict, EngineError, NotAllowed, NotFound, TooManyAttempts
from engine.forms import FormDefinition
from engine.models import (
    InstanceStatus,
    ProcessInstance,
    QuestionnaireResponse,
    RespondentLink,
    Task,
    TaskStatus,
)
from engine.org import throttle
from engine.org.core import find_school, load_user, place_of
from engine.roles import Role
from engine.templates.versions import compiled_version


@dataclass(frozen=True)
class Submitted:
    response_id: int
    instance_id: int
    group: str
    token: str | None  # the token a CLI-made anonymous respondent was given, to show once


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _respondent_key(group: RespondentGroup, token: str | None, user_id: int | None) -> str:
    if group.anonymous:
        assert token is not None
        return "t:" + hashlib.sha256(token.encode()).hexdigest()
    return f"u:{user_id}"


def _open_instance(session: Session, school_id: int) -> tuple[ProcessInstance, TemplateSpec]:
    """The school's running instance whose questionnaire window is open (its collecting task is ready)."""
    instances = session.scalars(select(ProcessInstance).where(
        ProcessInstance.school_id == school_id, ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(ProcessInstance.id.desc()))
    for instance in instances:
        spec = compiled_version(session, instance.template_version_id).spec
        open_while = spec.sections.questionnaire_open_while
        ready = session.scalar(select(Task.id).where(
            Task.instance_id == instance.id, Task.status == TaskStatus.READY, Task.element_id.in_(open_while)))
        if ready is not None:
            return instance, spec
    raise EngineError("анкетирование в этой школе сейчас не проводится")


def submit_response(db: Database, school_code: str, group_key: str, answers: Mapping[str, Any], *, actor: Who,
                    token: str | None = None) -> Submitted:
    """Store one respondent's answers, validated against the group's form.

    Anonymous groups need the respondent's link token (a CLI call without one gets a fresh token: a new
    respondent). Named groups (the director) answer as a user holding the school role."""
    with db.transaction() as session:
        return _submit(session, db.now(), school_code, group_key, answers, token, actor)


def _submit(session: Session, now: datetime, school_code: str, group_key: str, answers: Mapping[str, Any],
            token: str | None, actor: Who | None) -> Submitted:
    """``actor`` None: an anonymous respondent with a link (no user, no operator)."""
    school = find_school(session, school_code)
    instance, spec = _open_instance(session, school.id)
    group = spec.sections.respondent_groups.get(group_key)
    if group is None:
        known = ", ".join(spec.sections.respondent_groups)
        raise EngineError(f"группа респондентов «{group_key}» неизвестна; есть: {known}")
    user_id, issued = _identify(session, group, school, token, actor)
    token = token or issued
    cleaned = FormDefinition.from_json(dict(spec.forms[group.form])).validate(answers)
    key = _respondent_key(group, token, user_id)
    if session.scalar(select(QuestionnaireResponse.id).filter_by(
            instance_id=instance.id, group=group.key, respondent_key=key)) is not None:
        raise Conflict("ответ этого респондента уже получен; повторно анкету заполнить нельзя")
    response = QuestionnaireResponse(instance_id=instance.id, group=group.key, respondent_key=key,
                                     answers=cleaned, submitted_at=now)
    session.add(response)
    try:
        session.flush()
    except IntegrityError as err:  # the same link submitted twice at the same moment
        raise Conflict("ответ этого респондента уже получен; повторно анкету заполнить нельзя") from err
    audit.record(session, now, "questionnaire.response", actor_id=user_id, instance_id=instance.id, group=group.key)
    return Submitted(response.id, instance.id, group.key, issued)


def _identify(session: Session, group: RespondentGroup, school: Any, token: str | None,
              actor: Who | None) -> tuple[int | None, str | None]:
    """Who answers: nobody (anonymous, by token) or a school user (named groups)."""
    if group.anonymous:
        return None, None if token else new_token()
    if actor is None or is_operator(actor):
        raise NotAllowed(f"анкету «{group.title}» заполняет пользователь школы: укажите логин")
    user = load_user(session, actor)
    if not user.scope.can_act(Role.SCHOOL, place_of(school)):
        raise NotAllowed("эту анкету может заполнить только сама школа")
    return user.user_id, None


def response_counts(session: Session, instance_id: int) -> dict[str, int]:
    rows = session.execute(select(QuestionnaireResponse.group, func.count()).where(
        QuestionnaireResponse.instance_id == instance_id).group_by(QuestionnaireResponse.group))
    return {group: count for group, count in rows}


def aggregate_indicators(session: Session, instance_id: int, indicators: Iterable[Indicator]) -> dict[str, Any]:
    """Each indicator over its group's answers; ``None`` where a group has no usable answers."""
    answers: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for group, row in session.execute(select(QuestionnaireResponse.group, QuestionnaireResponse.answers)
                                      .where(QuestionnaireResponse.instance_id == instance_id)):
        answers[group].append(row)
    return {indicator.key: _aggregate(indicator, answers[indicator.group]) for indicator in indicators}


def _aggregate(indicator: Indicator, rows: list[Mapping[str, Any]]) -> Any:
    if indicator.aggregate == "count":
        return len(rows)
    present = [row[indicator.field] for row in rows if row.get(indicator.field) is not None]
    if indicator.aggregate == "share":
        return round(sum(value in indicator.values for value in present) / len(present), 4) if present else None
    numbers = [float(v) for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None
    functions: dict[str, Callable[[list[float]], float]] = {"mean": fmean, "sum": sum, "min": min, "max": max}
    return round(float(functions[indicator.aggregate](numbers)), 4)


MAX_LINKS_AT_ONCE = 500
# Links one group of one school's roadmap may ever have. Every link is a row kept for the whole roadmap, and
# a school account could otherwise add 500 at a time without end. 5,000 is above any group a school has:
# schools of the programme are mostly small (a few hundred pupils), the largest Russian schools have about
# 2,000–2,500 pupils, and parents (the largest group) get one link per family; what is left covers links
# handed out and lost.
MAX_LINKS_PER_GROUP = 5000
# Guessing at /q/<token>: the tokens are 128-bit, so this is a second line, not the first; it keeps a script
# from hammering the page (each miss is a query) and shows up in the throttle table for admins.
UNKNOWN_LINKS = throttle.Limit("respondent_link", failures=20, window=timedelta(minutes=15),
                               lockout=timedelta(minutes=15), longest=timedelta(hours=24))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _school_side(session: Session, actor: Who, school_code: str) -> tuple[Any, Any]:
    """The school itself or its curator may hand out links and see response rates."""
    school = find_school(session, school_code)
    user = load_user(session, actor)
    place = place_of(school)
    if not (user.scope.can_act(Role.SCHOOL, place) or user.scope.can_act(Role.CURATOR, place)
            or user.scope.oversees(place)):
        raise NotAllowed("анкетирование этой школы вам недоступно")
    return school, user


def create_links(db: Database, school_code: str, group_key: str, count: int, *, actor: Who) -> list[str]:
    """Personal links for anonymous respondents of one group; the tokens are returned once."""
    if not 1 <= count <= MAX_LINKS_AT_ONCE:
        raise EngineError(f"за один раз можно создать от 1 до {MAX_LINKS_AT_ONCE} ссылок")
    with db.transaction() as session:
        school, user = _school_side(session, actor, school_code)
        instance, spec = _open_instance(session, school.id)
        group = spec.sections.respondent_groups.get(group_key)
        if group is None or not group.anonymous:
            raise EngineError("ссылки создаются для анонимных анкет: учителя, обучающиеся, родители")
        existing = session.scalar(select(func.count()).select_from(RespondentLink).where(
            RespondentLink.instance_id == instance.id, RespondentLink.group == group.key)) or 0
        if existing + count > MAX_LINKS_PER_GROUP:
            raise EngineError(
                f"для группы «{group.title}» уже создано ссылок: {existing}; всего их может быть не больше "
                f"{MAX_LINKS_PER_GROUP}, поэтому сейчас можно создать ещё не больше "
                f"{max(0, MAX_LINKS_PER_GROUP - existing)}. Раздайте уже созданные ссылки.")
        tokens = [new_token() for _ in range(count)]
        for token in tokens:
            session.add(RespondentLink(token_hash=_hash(token), instance_id=instance.id, group=group.key,
                                       created_at=db.now(), created_by_id=user.user_id))
        audit.record(session, db.now(), "questionnaire.links_created", actor_id=user.user_id,
                     instance_id=instance.id, group=group.key, count=count)
        return tokens


@dataclass(frozen=True)
class LinkPage:
    school_name: str
    group_title: str
    form: dict[str, Any]
    used: bool
    open: bool


def _link(session: Session, token: str) -> RespondentLink:
    link = session.scalar(select(RespondentLink).where(RespondentLink.token_hash == _hash(token)))
    if link is None:
        raise NotFound("ссылка на анкету не найдена")
    return link


def link_page(db: Database, token: str, address: str) -> LinkPage:
    """What a respondent opening a personal link sees (no sign-in: the token is the key). Unknown tokens
    count against the asking address; past the limit, that address gets ``TooManyAttempts`` for a while,
    for every link (other addresses are not affected)."""
    now, address = db.now(), address[:64]
    with db.reading() as session:
        refused_until = throttle.locked_until(session, UNKNOWN_LINKS, address, now)
        if refused_until is None:
            link = session.scalar(select(RespondentLink).where(RespondentLink.token_hash == _hash(token)))
            if link is not None:
                return _link_page(session, link)
    if refused_until is None:
        with db.transaction() as session:
            refused_until = throttle.reserve(session, UNKNOWN_LINKS, address, now)
        if refused_until is None:
            raise NotFound("ссылка на анкету не найдена")
    raise TooManyAttempts("Слишком много обращений по несуществующим ссылкам на анкеты. Попробуйте через "
                          f"{throttle.minutes_left(refused_until, now)} мин. или проверьте, что ссылка "
                          "скопирована целиком.")


def _link_page(session: Session, link: RespondentLink) -> LinkPage:
    instance = session.get(ProcessInstance, link.instance_id)
    assert instance is not None
    spec = compiled_version(session, instance.template_version_id).spec
    group = spec.sections.respondent_groups[link.group]
    is_open = session.scalar(select(Task.id).where(
        Task.instance_id == instance.id, Task.status == TaskStatus.READY,
        Task.element_id.in_(spec.sections.questionnaire_open_while))) is not None
    return LinkPage(instance.school.name, group.title, dict(spec.forms[group.form]), link.used_at is not None,
                    is_open)


def submit_by_link(db: Database, token: str, answers: Mapping[str, Any]) -> Submitted:
    """A respondent's answers through their personal link: accepted once."""
    with db.transaction() as session:
        link = _link(session, token)
        if link.used_at is not None:
            raise Conflict("по этой ссылке анкета уже заполнена; спасибо!")
        instance = session.get(ProcessInstance, link.instance_id)
        assert instance is not None
        submitted = _submit(session, db.now(), instance.school.code, link.group, answers, token, None)
        link.used_at = db.now()
        return submitted


@dataclass(frozen=True)
class ResponseRate:
    group: str
    title: str
    responses: int
    links: int | None  # None for named groups (the director answers as a user)


def response_rates(db: Database, school_code: str, *, actor: Who) -> list[ResponseRate]:
    with db.reading() as session:
        school, _ = _school_side(session, actor, school_code)
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.school_id == school.id)
                                  .order_by(ProcessInstance.id.desc()))
        if instance is None:
            return []
        spec = compiled_version(session, instance.template_version_id).spec
        counts = response_counts(session, instance.id)
        links = dict(session.execute(select(RespondentLink.group, func.count()).where(
            RespondentLink.instance_id == instance.id).group_by(RespondentLink.group)).all())
        return [ResponseRate(g.key, g.title, counts.get(g.key, 0), int(links.get(g.key, 0)) if g.anonymous else None)
                for g in spec.sections.respondent_groups.values()]


def director_form(db: Database, school_code: str, *, actor: Who) -> LinkPage:
    """The director's own (named) questionnaire for their school, while the window is open."""
    with db.reading() as session:
        school = find_school(session, school_code)
        user = load_user(session, actor)
        if not user.scope.can_act(Role.SCHOOL, place_of(school)):
            raise NotAllowed("анкету директора заполняет сама школа")
        instance, spec = _open_instance(session, school.id)
        group = next((g for g in spec.sections.respondent_groups.values() if not g.anonymous), None)
        if group is None:
            raise NotFound("в шаблоне нет анкеты директора")
        return LinkPage(school.name, group.title, dict(spec.forms[group.form]), False, True)


@dataclass(frozen=True)
class LinkState:
    id: int
    group: str
    created_at: datetime
    used_at: datetime | None  # the link's one answer was received then; None: not yet


def list_links(db: Database, school_code: str, *, group: str | None = None, actor: Who) -> list[LinkState]:
    """The personal links handed out for the school's latest roadmap, oldest first, with whether each has been
    answered. Only the tokens' hashes are kept, so a lost link cannot be shown again: make a new one."""
    with db.reading() as session:
        school, _ = _school_side(session, actor, school_code)
        instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.school_id == school.id)
                                     .order_by(ProcessInstance.id.desc()).limit(1))
        if instance_id is None:
            return []
        query = select(RespondentLink).where(RespondentLink.instance_id == instance_id)
        if group is not None:
            query = query.where(RespondentLink.group == group)
        return [LinkState(link.id, link.group, link.created_at, link.used_at)
                for link in session.scalars(query.order_by(RespondentLink.id))]


def submit_director(db: Database, school_code: str, answers: Mapping[str, Any], *, actor: Who) -> Submitted:
    """The director's own (named) questionnaire, answered as the school's user, while the window is open."""
    with db.transaction() as session:
        instance, spec = _open_instance(session, find_school(session, school_code).id)
        group = next((g for g in spec.sections.respondent_groups.values() if not g.anonymous), None)
        if group is None:
            raise NotFound("в шаблоне нет анкеты директора")
        return _submit(session, db.now(), school_code, group.key, answers, None, actor)
