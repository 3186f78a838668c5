"""Managing running roadmaps (issue 22): withdraw one school's roadmap, suspend and resume roadmaps of a
school or a municipality — who may, what it does to tasks, deadlines, the sweep and reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.bpmn.runtime import WorkflowRun
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.errors import Conflict, FormInvalid, NotAllowed, SendBackRefused
from engine.models import (
    AuditRecord,
    Deadline,
    InstanceStatus,
    Municipality,
    Notification,
    ProcessInstance,
    RoleGrant,
    School,
    Task,
    TaskStatus,
    User,
)
from engine.org import curator_pool
from engine.org.api_tokens import create_token
from engine.process import instances, management, tasks
from engine.process.cohorts import ensure_cohort
from engine.process.management import Selection
from engine.reports.status import area_counts
from engine.roles import Role
from engine.templates import versions
from engine.templates.versions import compiled_version
from tests import roadmap_steps as steps
from tests.conftest import Clock, Org, make_org
from tests.helpers import ROADMAP, post, set_password, signed_in
from web.app import create_app
from web.cli import cli

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # Monday; the mini template's first task is due 15 March, 12:00 MSK
SUSPENDED = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)  # Tuesday
RESUMED = datetime(2027, 3, 16, 10, 0, tzinfo=UTC)  # two weeks later, after the original due time


def _at(db: Database, moment: datetime) -> Database:
    return Database(db.engine, clock=lambda: moment, sessions=db.sessions)


def _start(db: Database, org: Org, bundle: Path, *schools: str) -> tuple[str, dict[str, int]]:
    key = versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key
    started = {code: instances.start_instance(_at(db, START), key, code, actor=OPERATOR).instance_id
               for code in schools or (org.school,)}
    return key, started


def _instance(db: Database, instance_id: int) -> ProcessInstance:
    with db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        return instance


def _tasks(db: Database, instance_id: int) -> list[Task]:
    with db.reading() as session:
        return list(session.scalars(select(Task).where(Task.instance_id == instance_id).order_by(Task.id)))


def _open_rows(db: Database, instance_id: int) -> list[Deadline]:
    with db.reading() as session:
        return list(session.scalars(select(Deadline).where(Deadline.instance_id == instance_id,
                                                           Deadline.fired_at.is_(None)).order_by(Deadline.id)))


def _audit(db: Database, instance_id: int, action: str) -> list[AuditRecord]:
    with db.reading() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.instance_id == instance_id,
                                                              AuditRecord.action == action)))


def test_a_regional_coordinator_withdraws_a_school(db: Database, org: Org, bundle_copy: Path) -> None:
    key, started = _start(db, org, bundle_copy, org.school, org.sibling_school)
    instance_id = started[org.school]
    done = management.withdraw_roadmap(_at(db, SUSPENDED), org.school, reason="left_project",
                                       comment="решение учредителя", actor=org.regional)
    assert (done.instance_id, done.status, done.tasks_closed) == (instance_id, "cancelled", 1)
    assert _instance(db, instance_id).status is InstanceStatus.CANCELLED
    assert [t.status for t in _tasks(db, instance_id)] == [TaskStatus.CANCELLED]
    assert _open_rows(db, instance_id) == []  # reminders, due, escalations, the arrival: all stopped
    [record] = _audit(db, instance_id, "instance.withdrawn")
    assert record.actor_id is not None and record.at == SUSPENDED
    assert (record.details["reason"], record.details["comment"]) == ("left_project", "решение учредителя")
    # Nothing about it fires any more; its school's users see no task.
    assert [a for a in sweep(db, now=datetime(2027, 6, 1, tzinfo=UTC)).actions if a.task_id in
            {t.id for t in _tasks(db, instance_id)}] == []
    assert all(t.instance_id != instance_id for t in tasks.list_tasks(db, actor=org.school_user))
    # Out of the in-progress counts, still counted among the municipality's roadmaps.
    [unit] = [u for u in area_counts(db, key, region_code=org.region)[1] if u.code == org.municipality]
    assert unit.instances == 2 and sum(unit.at_stage.values()) == 1 and unit.completed == 0
    with pytest.raises(Conflict, match="уже снят с проекта"):
        management.withdraw_roadmap(db, org.school, reason="closed", actor=org.admin)


@pytest.mark.parametrize("who", ["municipal", "other_region", "school_user", "curator"])
def test_only_an_admin_or_the_regions_coordinator_withdraws(db: Database, org: Org, bundle_copy: Path,
                                                            who: str) -> None:
    _, started = _start(db, org, bundle_copy)
    actor = make_org(db).regional if who == "other_region" else getattr(org, who)
    with pytest.raises(NotAllowed, match="региональный координатор"):
        management.withdraw_roadmap(db, org.school, reason="closed", actor=actor)
    assert _instance(db, started[org.school]).status is InstanceStatus.RUNNING


def test_a_withdrawal_needs_a_reason_from_the_list(db: Database, org: Org, bundle_copy: Path) -> None:
    _start(db, org, bundle_copy)
    with pytest.raises(FormInvalid) as refused:
        management.withdraw_roadmap(db, org.school, reason="bored", actor=org.admin)
    assert "reason" in refused.value.errors
    with pytest.raises(FormInvalid) as refused:  # «другая причина» must say which
        management.withdraw_roadmap(db, org.school, reason="other", comment="  ", actor=org.admin)
    assert "comment" in refused.value.errors


def test_a_suspended_municipality_holds_its_deadlines_and_resumes_them_shifted_by_working_days(
        db: Database, org: Org, bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy, org.school, org.sibling_school, org.foreign_school)
    [task] = _tasks(db, started[org.school])
    assert task.due_at == datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    held = management.suspend_roadmaps(_at(db, SUSPENDED), Selection(municipality=org.municipality),
                                       reason="реорганизация управления образования", actor=org.regional)
    assert sorted(r.school_code for r in held) == sorted([org.school, org.sibling_school])  # not the other one
    swept = sweep(db, now=RESUMED)  # the due time and the reminder have passed: nothing fires for these
    ours = {t.id for code in (org.school, org.sibling_school) for t in _tasks(db, started[code])}
    assert [a for a in swept.actions + swept.arrivals if a.task_id in ours] == []
    foreign = {t.id for t in _tasks(db, started[org.foreign_school])}
    assert {a.kind for a in swept.actions if a.task_id in foreign} >= {"reminder", "due"}  # the other school's do
    with pytest.raises(Conflict, match="приостановлен"):
        tasks.complete_task(db, task.id, {"coverage": 80}, actor=org.school_user)
    # The confirmation page's numbers: 9 working days (3–5, 9–12, 15, 16 March; 8 March is a holiday).
    preview = management.preview_suspension(_at(db, RESUMED), Selection(municipality=org.municipality),
                                            resume=True, actor=org.regional)
    assert {r.shift_working_days for r in preview} == {9}
    resumed = management.resume_roadmaps(_at(db, RESUMED), Selection(municipality=org.municipality),
                                         actor=org.regional)
    assert {r.shift_working_days for r in resumed} == {9}
    [task] = _tasks(db, started[org.school])
    assert task.due_at == datetime(2027, 3, 26, 9, 0, tzinfo=UTC)  # 15 March + 9 working days, same local time
    assert _instance(db, started[org.school]).suspended_at is None
    assert [a.kind for a in sweep(db, now=RESUMED).actions if a.task_id == task.id] == []  # all moved on
    fired = [a.kind for a in sweep(db, now=datetime(2027, 3, 26, 10, tzinfo=UTC)).actions if a.task_id == task.id]
    assert fired == ["reminder", "due"]
    [record] = _audit(db, started[org.school], "instance.resumed_by_person")
    assert record.details["shift_working_days"] == 9 and record.details["municipality"] == org.municipality
    [record] = _audit(db, started[org.school], "instance.suspended")
    assert record.details["reason"] == "реорганизация управления образования"
    tasks.complete_task(db, task.id, {"coverage": 80}, actor=org.school_user)  # work goes on


def test_suspending_one_school_and_refusals(db: Database, org: Org, bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy)
    for actor in (org.municipal, org.school_user, make_org(db).regional):
        with pytest.raises(NotAllowed):
            management.suspend_roadmaps(db, Selection(school=org.school), reason="пауза", actor=actor)
    with pytest.raises(NotAllowed):  # a municipal coordinator cannot pause their own municipality either
        management.suspend_roadmaps(db, Selection(municipality=org.municipality), reason="пауза", actor=org.municipal)
    with pytest.raises(FormInvalid):
        management.suspend_roadmaps(db, Selection(school=org.school), reason=" ", actor=org.admin)
    with pytest.raises(Conflict, match="не приостановлен"):
        management.resume_roadmaps(db, Selection(school=org.school), actor=org.admin)
    management.suspend_roadmaps(_at(db, SUSPENDED), Selection(school=org.school), reason="пауза", actor=OPERATOR)
    with pytest.raises(Conflict, match="нет идущего маршрута"):
        management.suspend_roadmaps(db, Selection(school=org.school), reason="пауза", actor=org.admin)
    # Resumed the same day: no working day passed, nothing moves.
    [resumed] = management.resume_roadmaps(_at(db, SUSPENDED), Selection(school=org.school), actor=org.admin)
    assert resumed.shift_working_days == 0
    [task] = _tasks(db, started[org.school])
    assert task.due_at == datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    with pytest.raises(FormInvalid):
        Selection(school=org.school, municipality=org.municipality)


def _cli(db: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db)
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_suspends_resumes_and_withdraws(db: Database, org: Org, bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy, org.school, org.sibling_school)
    code, out, _ = _cli(db, "roadmaps", "suspend", "--municipality", org.municipality, "--dry-run")
    assert code == 0 and f"{org.school}\tпроцесс {started[org.school]}" in out and "Будет приостановлено маршрутов: 2." in out
    assert _instance(db, started[org.school]).suspended_at is None  # a dry run changes nothing
    code, _, err = _cli(db, "roadmaps", "suspend", "--municipality", org.municipality)
    assert code == 1 and "reason" in err  # a reason is required
    code, out, _ = _cli(db, "roadmaps", "suspend", "--school", org.school, "--reason", "проверка")
    assert code == 0 and "Приостановлено маршрутов: 1." in out
    code, out, _ = _cli(db, "roadmaps", "resume", "--school", org.school, "--json")
    assert code == 0 and '"shift_working_days": 0' in out and _instance(db, started[org.school]).suspended_at is None
    code, out, _ = _cli(db, "roadmaps", "withdraw", org.sibling_school, "--reason", "closed")
    assert code == 0 and "снят с проекта; закрыто задач: 1" in out
    code, _, err = _cli(db, "roadmaps", "withdraw", org.sibling_school, "--reason", "closed")
    assert code == 1 and "уже снят с проекта" in err
    [record] = _audit(db, started[org.sibling_school], "instance.withdrawn")
    assert record.actor_id is None  # the operator: no user


def test_the_rest_api_manages_roadmaps_with_the_same_rules(db: Database, org: Org, bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy, org.school, org.sibling_school)
    client = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api"}).test_client()

    def call(login: str, method: str, url: str, **kwargs: object) -> tuple[int, object]:
        token = create_token(db, "тест", actor=login)[1]
        response = client.open(f"/api/v1/roadmaps{url}", method=method, headers={"Authorization": f"Bearer {token}"},
                               **kwargs)  # type: ignore[arg-type]
        return response.status_code, response.json

    status, body = call(org.municipal, "POST", "/suspend", json={"municipality": org.municipality, "reason": "x"})
    assert status == 403 and "региональный координатор" in body["detail"]  # type: ignore[index]
    status, body = call(org.regional, "GET", f"/suspension?municipality={org.municipality}")
    assert status == 200 and {r["school_code"] for r in body} == {org.school, org.sibling_school}  # type: ignore[union-attr]
    status, body = call(org.regional, "POST", "/suspend", json={"school": org.school, "reason": "пауза"})
    assert status == 200 and [r["instance_id"] for r in body] == [started[org.school]]  # type: ignore[union-attr]
    status, body = call(org.regional, "POST", "/resume", json={"school": org.school})
    assert status == 200 and body[0]["shift_working_days"] == 0  # type: ignore[index]
    status, body = call(org.regional, "POST", "/suspend", json={"school": org.school, "municipality": org.municipality,
                                                                 "reason": "x"})
    assert status == 422 and "selection" in body["errors"]  # type: ignore[index]
    status, body = call(org.regional, "POST", f"/schools/{org.sibling_school}/withdraw", json={"reason": "closed"})
    assert status == 200 and body["status"] == "cancelled" and body["tasks_closed"] == 1  # type: ignore[index]
    status, body = call(org.school_user, "POST", f"/schools/{org.school}/withdraw", json={"reason": "closed"})
    assert status == 403
    document = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/roadmaps/suspend", "/api/v1/roadmaps/resume", "/api/v1/roadmaps/suspension",
            "/api/v1/roadmaps/schools/{code}/withdraw"} <= set(document["paths"])  # type: ignore[index]


def _curators(db: Database, school: str) -> set[str]:
    with db.reading() as session:
        return set(session.scalars(select(User.login).join(RoleGrant, RoleGrant.user_id == User.id).join(
            School, School.id == RoleGrant.school_id).where(RoleGrant.role == Role.CURATOR, School.code == school)))


def _notified(db: Database, login: str) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(Notification.title).join(User, User.id == Notification.user_id)
                                    .where(User.login == login, Notification.kind == "curator")))


def test_a_schools_curator_is_replaced_and_open_curator_tasks_follow(db: Database, org: Org, bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy)
    [school_task] = _tasks(db, started[org.school])
    tasks.complete_task(db, school_task.id, {"coverage": 80}, actor=org.school_user)  # the curator's review opens
    [review] = [t for t in _tasks(db, started[org.school]) if t.status is TaskStatus.READY]
    assert review.role is Role.CURATOR
    for actor in (org.municipal, org.curator, make_org(db).regional):
        with pytest.raises(NotAllowed):
            management.change_curator(db, org.sibling_curator, school=org.school, reason="болезнь", actor=actor)
    with pytest.raises(FormInvalid):  # the school's own user is no candidate
        management.change_curator(db, org.school_user, school=org.school, reason="болезнь", actor=org.regional)
    [change] = management.change_curator(db, org.sibling_curator, school=org.school, reason="болезнь куратора",
                                         actor=org.regional)
    assert (change.previous, change.curator, change.tasks_moved) == ([org.curator], org.sibling_curator, 1)
    assert _curators(db, org.school) == {org.sibling_curator}
    [review] = [t for t in _tasks(db, started[org.school]) if t.status is TaskStatus.READY]
    with db.reading() as session:
        assignee = session.get(User, review.assignee_id)
        assert assignee is not None and assignee.login == org.sibling_curator
    assert any("назначены куратором" in t for t in _notified(db, org.sibling_curator))
    assert any("больше не куратор" in t for t in _notified(db, org.curator))
    [record] = _audit(db, started[org.school], "org.curator_changed")
    assert record.details["previous"] == [org.curator] and record.details["reason"] == "болезнь куратора"
    with pytest.raises(NotAllowed):  # the old curator has no access any more
        tasks.complete_task(db, review.id, {}, actor=org.curator)


def test_every_school_of_one_curator_moves_to_another(db: Database, org: Org) -> None:
    # sibling_curator takes org.school too, then hands both schools over to curator.
    management.change_curator(db, org.sibling_curator, school=org.school, reason="перераспределение", actor=org.admin)
    with pytest.raises(FormInvalid):  # curating nothing now, and not in the pool: no candidate
        management.change_curator(db, org.curator, from_login=org.sibling_curator, reason="отпуск", actor=org.admin)
    curator_pool.add_to_pool(db, org.region, org.curator, actor=org.regional)
    changes = management.change_curator(db, org.curator, from_login=org.sibling_curator, reason="отпуск",
                                        actor=org.admin)
    assert sorted(c.school_code for c in changes) == sorted([org.school, org.sibling_school])
    assert _curators(db, org.school) == _curators(db, org.sibling_school) == {org.curator}


def test_the_curator_page_the_cli_and_the_api_change_a_curator(db: Database, org: Org, bundle_copy: Path) -> None:
    _start(db, org, bundle_copy)
    code, out, _ = _cli(db, "roadmaps", "curator", org.sibling_curator, "--school", org.school, "--reason", "болезнь")
    assert code == 0 and f"{org.school}\t{org.curator} → {org.sibling_curator}\tзадач передано: 0" in out
    client = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api"}).test_client()
    token = create_token(db, "тест", actor=org.regional)[1]
    refused = client.post("/api/v1/roadmaps/curator", headers={"Authorization": f"Bearer {token}"},
                          json={"to": org.curator, "school": org.school, "reason": "выздоровел"})
    assert refused.status_code == 422 and "резерва кураторов" in refused.json["errors"]["to"][0]  # type: ignore[index]
    curator_pool.add_to_pool(db, org.region, org.curator, actor=org.regional)  # curates nothing now: into the pool
    response = client.post("/api/v1/roadmaps/curator", headers={"Authorization": f"Bearer {token}"},
                           json={"to": org.curator, "school": org.school, "reason": "выздоровел"})
    assert response.status_code == 200 and response.json[0]["previous"] == [org.sibling_curator]  # type: ignore[index]
    assert _curators(db, org.school) == {org.curator}


def _ready_data(db: Database, instance_id: int, element: str) -> dict[str, object]:
    """The data the reopened task sees (what its form and rules read)."""
    [row] = [t for t in _tasks(db, instance_id) if t.status is TaskStatus.READY and t.element_id == element]
    with db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        run = WorkflowRun.restore(compiled_version(session, instance.template_version_id), instance.workflow_json)
    return run.task_data(row.spiff_task_id)


@pytest.fixture
def at_monitoring(db: Database) -> tuple[Database, steps.School, int]:
    """A «500+» school whose measures programme was accepted: its roadmap waits at monitoring."""
    clock = Clock(steps.START)
    timed = Database(db.engine, clock=clock, sessions=db.sessions)
    school = steps.new_school(timed)
    ensure_cohort(timed, steps.COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=steps.COHORT,
                                           actor=OPERATOR).instance_id
    steps.run_selection(timed, school, instance_id)
    steps.run_questionnaire_stage(timed, school, instance_id, clock)
    chosen = steps.run_risk_profile(timed, school, instance_id)
    steps.run_measures_program(timed, school, instance_id, chosen)
    assert steps.stage(timed, instance_id) == "monitoring"
    return timed, school, instance_id


def test_send_back_to_a_step_before_the_parallel_branches_keeps_the_data(
        at_monitoring: tuple[Database, steps.School, int]) -> None:
    timed, school, instance_id = at_monitoring
    with pytest.raises(NotAllowed):
        management.send_back(timed, school.code, "review_concept", reason="x", actor=school.org.municipal)
    with pytest.raises(SendBackRefused, match="развилк"):  # inside the parallel branches: refused
        management.send_back(timed, school.code, "prepare_programme", reason="доработка", actor=school.org.regional)
    with pytest.raises(SendBackRefused, match="ещё не выполнялся"):
        management.send_back(timed, school.code, "school_report", reason="x", actor=school.org.regional)
    monitoring = {t.id for t in _tasks(timed, instance_id) if t.status is TaskStatus.READY}
    done = management.send_back(timed, school.code, "review_concept", reason="концепция требует доработки",
                                actor=school.org.regional)
    assert done.reset_element == "review_concept" and set(done.cancelled_task_ids) == monitoring
    rows = _tasks(timed, instance_id)
    assert {t.element_id for t in rows if t.status is TaskStatus.READY} == {"review_concept"}
    assert all(t.status is TaskStatus.CANCELLED for t in rows if t.id in monitoring)
    assert len([t for t in rows if t.element_id == "review_concept"]) == 2  # the earlier run stays, completed
    assert steps.stage(timed, instance_id) == "measures_program"
    assert _ready_data(timed, instance_id, "review_concept")["programme_title"] == "Программа 2027–2029"  # kept
    [record] = _audit(timed, instance_id, "instance.sent_back")
    assert record.details["reason"] == "концепция требует доработки"
    # The roadmap runs on from there: the curator accepts again and the branches open again.
    steps.act(timed, school, instance_id, "review_concept", school.curator, {"concept_decision": "accepted"})
    assert {t.element_id for t in _tasks(timed, instance_id) if t.status is TaskStatus.READY} >= {
        "prepare_programme", "prepare_antirisk"}


def test_send_back_a_whole_parallel_branch(at_monitoring: tuple[Database, steps.School, int]) -> None:
    timed, school, instance_id = at_monitoring
    done = management.send_back(timed, school.code, "prepare_programme", whole_branch=True,
                                reason="программы на доработку", actor=school.org.admin)
    assert done.reset_element == "split_programmes"
    ready = [t.element_id for t in _tasks(timed, instance_id) if t.status is TaskStatus.READY]
    assert sorted(set(ready)) == ["prepare_antirisk", "prepare_programme"] and ready.count("prepare_antirisk") == 3
    assert _ready_data(timed, instance_id, "prepare_programme")["programme_title"] == "Программа 2027–2029"


def test_send_back_from_the_page_the_cli_and_the_api(at_monitoring: tuple[Database, steps.School, int]) -> None:
    timed, school, instance_id = at_monitoring
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "web"})
    set_password(timed, school.org.regional)
    web = signed_in(app, school.org.regional)
    page = web.get(f"/schools/{school.code}/send-back").get_data(as_text=True)
    assert 'data-testid="send-back-consequences"' in page and 'value="review_programme"' in page
    status, body = post(web, f"/schools/{school.code}/send-back",
                        {"element": "prepare_programme", "reason": "на доработку"}, f"/schools/{school.code}/send-back")
    assert status == 302  # refused: back to the page, which says why
    assert "вернуть можно только всю развилку" in web.get(f"/schools/{school.code}/send-back").get_data(as_text=True)
    code, out, _ = _cli(timed, "roadmaps", "send-back", school.code, "prepare_programme", "--whole-branch",
                        "--reason", "программы на доработку")
    assert code == 0 and "возвращён к шагу split_programmes" in out
    token = create_token(timed, "тест", actor=school.org.regional)[1]
    response = app.test_client().post(f"/api/v1/roadmaps/schools/{school.code}/send-back",
                                      headers={"Authorization": f"Bearer {token}"},
                                      json={"element": "school_report", "reason": "x"})
    assert response.status_code == 409 and "ещё не выполнялся" in response.json["detail"]  # type: ignore[index]


def test_a_cohort_start_reports_its_progress_chunk_by_chunk(db: Database, org: Org, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    seen: list[tuple[int, int]] = []
    instances.start_cohort(db, key, 2093, actor=OPERATOR, region_code=org.region, chunk_size=2,
                           progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 3), (3, 3)]  # the region's three schools, in chunks of two


def test_a_school_moves_to_another_municipality_and_its_tasks_follow(db: Database, org: Org,
                                                                     bundle_copy: Path) -> None:
    _, started = _start(db, org, bundle_copy)
    set_password(db, org.regional)
    other = make_org(db)
    for actor, target in ((org.municipal, org.other_municipality), (org.regional, other.municipality)):
        with pytest.raises(NotAllowed):  # a municipality's coordinator; another region's municipality
            management.move_school(db, org.school, target, reason="реорганизация", actor=actor)
    moved = management.move_school(db, org.school, org.other_municipality, reason="реорганизация",
                                   actor=org.regional)
    assert (moved.from_municipality, moved.to_municipality, moved.tasks_moved) == (
        org.municipality, org.other_municipality, 1)
    [task] = _tasks(db, started[org.school])
    with db.reading() as session:
        assert task.municipality_id == session.scalar(select(Municipality.id).where(
            Municipality.code == org.other_municipality))
    assert [t.instance_id for t in tasks.list_area_tasks(db, actor=org.other_municipal)] == [started[org.school]]
    assert all(t.instance_id != started[org.school] for t in tasks.list_area_tasks(db, actor=org.municipal))
    web = signed_in(create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "web"}), org.regional)
    page = web.get(f"/schools/{org.school}/move").get_data(as_text=True)
    assert f'value="{org.municipality}"' in page and f'value="{org.other_municipality}"' not in page  # not where it is
    code, out, _ = _cli(db, "roadmaps", "move-school", org.school, org.municipality, "--reason", "назад")
    assert code == 0 and f"{org.other_municipality} → {org.municipality}" in out
    with pytest.raises(Conflict, match="уже в муниципалитете"):
        management.move_school(db, org.school, org.municipality, reason="x", actor=org.admin)
