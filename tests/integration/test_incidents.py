"""Incidents: a failing engine step is its own instance's incident and never stalls anyone else.

On PostgreSQL and SQLite: a poison timer (a timer followed by a gateway on a variable nobody set) next to
healthy schools whose deadlines must still fire in the same sweep; backoff instead of a hot loop; a
failing gateway after a completion that keeps the submission; retry after migrating to a fixed version.
Time moves by an injected clock."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import retry_incident, sweep
from engine.errors import Conflict, NotAllowed, StepFailed
from engine.models import AuditRecord, Deadline, DeadlineKind, Incident, ProcessInstance, Task, TaskStatus
from engine.process import incidents, instances, migration, tasks
from engine.templates import versions
from tests.conftest import MINI_BUNDLE as MINI
from tests.conftest import Org, unique

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
TIMER_BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "timer"

# The timer template with a gateway after its timer; {condition} decides whether it can pass.
_GATEWAY = """
    <bpmn:exclusiveGateway id="who_helps" name="Кому помогать?" default="f_default">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f_help</bpmn:outgoing><bpmn:outgoing>f_default</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_help" sourceRef="who_helps" targetRef="help_school">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_default" sourceRef="who_helps" targetRef="help_school"/>
"""


def timer_bundle(tmp_path: Path, key: str, condition: str) -> Path:
    target = tmp_path / f"{key}-{abs(hash(condition))}"
    shutil.copytree(TIMER_BUNDLE, target)
    bpmn = target / "timer.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    text = text.replace('<bpmn:sequenceFlow id="f3" sourceRef="week_passed" targetRef="help_school"/>',
                        '<bpmn:sequenceFlow id="f3" sourceRef="week_passed" targetRef="who_helps"/>'
                        + _GATEWAY.replace("{condition}", condition))
    text = text.replace('<bpmn:flowNodeRef>help_school</bpmn:flowNodeRef>',
                        '<bpmn:flowNodeRef>help_school</bpmn:flowNodeRef><bpmn:flowNodeRef>who_helps</bpmn:flowNodeRef>')
    bpmn.write_text(text, encoding="utf-8")
    manifest = target / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "timer"', f'"key": "{key}"'),
                        encoding="utf-8")
    return target


def at(db: Database, moment: datetime) -> Database:
    return Database(db.engine, clock=lambda: moment, sessions=db.sessions)


def deploy(db: Database, bundle: Path) -> versions.Deployed:
    return versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR)


def open_incidents(db: Database, instance_id: int) -> list[Incident]:
    with db.reading() as session:
        return list(session.scalars(select(Incident).where(Incident.instance_id == instance_id,
                                                           Incident.resolved_at.is_(None))))


def rows_of(db: Database, instance_id: int, kind: DeadlineKind | None = None) -> list[Deadline]:
    with db.reading() as session:
        query = select(Deadline).where(Deadline.instance_id == instance_id).order_by(Deadline.id)
        if kind is not None:
            query = query.where(Deadline.kind == kind)
        return list(session.scalars(query))


def ready_elements(db: Database, instance_id: int) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(Task.element_id).where(
            Task.instance_id == instance_id, Task.status == TaskStatus.READY).order_by(Task.id)))


@pytest.fixture
def poison(db: Database, org: Org, tmp_path: Path) -> tuple[str, int]:
    """A school whose roadmap has a timer followed by a gateway on a key the school's data lacks (a name nothing
    writes is refused at deploy; a missing key can only show at runtime)."""
    key = unique("poison-")
    deploy(db, timer_bundle(tmp_path, key, "school['approved_by_region'] == True"))
    return key, instances.start_instance(at(db, START), key, org.school, actor=OPERATOR).instance_id


def healthy_rows(db: Database, org: Org, bundle_copy: Path) -> tuple[int, list[int]]:
    key = deploy(db, bundle_copy).key
    instance_id = instances.start_instance(at(db, START), key, org.sibling_school, actor=OPERATOR).instance_id
    return instance_id, [row.id for row in rows_of(db, instance_id)]


def test_a_poison_timer_is_an_incident_and_every_other_deadline_still_fires(
        db: Database, org: Org, poison: tuple[str, int], bundle_copy: Path) -> None:
    _, poisoned = poison
    healthy, healthy_ids = healthy_rows(db, org, bundle_copy)
    assert len(healthy_ids) >= 2
    later = START + timedelta(days=60)  # past the timer (7 days) and every healthy deadline (14 days + 14 WD)

    report = sweep(at(db, later), batch_size=3)

    [timer] = rows_of(db, poisoned, DeadlineKind.TIMER)
    assert timer.fired_at is None and timer.attempts == 1 and "approved_by_region" in (timer.last_error or "")
    assert timer.fire_at == later + timedelta(minutes=1)  # backoff: not due again in this sweep
    assert all(row.fired_at is not None for row in rows_of(db, healthy))  # the healthy school's all fired
    # Every healthy row acted on: its deadlines, and its task's arrival (reported apart).
    assert {a.deadline_id for a in report.actions + report.arrivals} >= set(healthy_ids)
    assert [f.deadline_id for f in report.failures if f.instance_id == poisoned] == [timer.id]
    [incident] = open_incidents(db, poisoned)
    assert (incident.element_id, incident.element_name, incident.tries) == ("who_helps", "Кому помогать?", 1)
    assert "approved_by_region" in incident.error and incident.trigger == "timer"
    assert incident.next_retry_at == later + timedelta(minutes=1)
    assert ready_elements(db, poisoned) == ["fill_questionnaire"]  # the workflow kept its state before the timer


def test_the_failing_row_backs_off_then_stops_without_a_hot_loop(db: Database, poison: tuple[str, int]) -> None:
    _, poisoned = poison
    moment = START + timedelta(days=8)
    sweep(at(db, moment))
    for _ in range(3):  # sweeps within the backoff do not touch it
        sweep(at(db, moment + timedelta(seconds=30)))
    [timer] = rows_of(db, poisoned, DeadlineKind.TIMER)
    assert timer.attempts == 1
    waits = []
    for _ in range(4):
        moment = timer.fire_at if timer.fired_at is None else moment
        sweep(at(db, moment))
        [timer] = rows_of(db, poisoned, DeadlineKind.TIMER)
        waits.append(None if timer.fired_at else timer.fire_at - moment)
    assert waits == [timedelta(minutes=10), timedelta(hours=1), None, None]  # then it waits for a person
    assert timer.attempts == 4 and timer.fired_at is not None
    [incident] = open_incidents(db, poisoned)
    assert incident.tries == 4 and incident.next_retry_at is None
    sweep(at(db, moment + timedelta(days=30)))
    assert rows_of(db, poisoned, DeadlineKind.TIMER)[0].attempts == 4  # nobody tries it again on their own


def _review_ready(db: Database, org: Org, key: str) -> tuple[int, int]:
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    [fill] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    tasks.complete_task(db, fill.id, {"coverage": 5}, actor=org.school_user)
    [review] = [t for t in tasks.list_tasks(db, actor=org.curator) if t.instance_id == instance_id]
    return instance_id, review.id


def broken_mini(bundle_copy: Path) -> Path:
    bpmn = bundle_copy / "mini.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    bpmn.write_text(text.replace("decision == 'accepted'</", "decision == 'accepted' and school['approved_by_region']</"),
                    encoding="utf-8")
    return bundle_copy


def test_a_failing_gateway_after_a_completion_keeps_the_submission_and_parks_the_step(
        db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, broken_mini(bundle_copy)).key
    instance_id, review = _review_ready(db, org, key)
    version_before = rows_version(db, instance_id)

    done = tasks.complete_task(db, review, {"decision": "accepted", "review_comment": "Хорошо"}, actor=org.curator)

    assert done.incident_id is not None and "approved_by_region" in (done.incident_error or "")
    with db.reading() as session:
        task = session.get(Task, review)
        assert task is not None and task.status is TaskStatus.COMPLETED  # the curator's work is kept
        completed = session.scalar(select(AuditRecord).where(AuditRecord.task_id == review,
                                                             AuditRecord.action == "task.completed"))
        assert completed is not None and completed.details["data"]["review_comment"] == "Хорошо"
    assert rows_version(db, instance_id) == version_before + 1
    [incident] = open_incidents(db, instance_id)
    assert (incident.element_id, incident.trigger, incident.tries) == ("decision", "completion", 1)
    [retry] = rows_of(db, instance_id, DeadlineKind.RETRY)
    assert incident.deadline_id == retry.id and retry.fired_at is None
    assert ready_elements(db, instance_id) == []  # nobody is given a task the gateway has not chosen

    # The automatic retry a minute later fails the same way: one incident, two tries, a longer wait.
    sweep(db, now=retry.fire_at)
    [incident] = open_incidents(db, instance_id)
    assert incident.tries == 2
    [retry] = rows_of(db, instance_id, DeadlineKind.RETRY)
    assert retry.attempts == 1 and retry.fired_at is None


def rows_version(db: Database, instance_id: int) -> int:
    with db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row.version


def _migrate(db: Database, org: Org, key: str, from_version: int, to_version: int) -> None:
    run = migration.start_migration(db, key, from_version, to_version, actor=org.admin)
    result = migration.run_migration(db, run.id)
    assert result.moved == result.total >= 1, result


def test_retry_after_migrating_the_parked_step_to_a_fixed_version(db: Database, org: Org,
                                                                  bundle_copy: Path, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    shutil.copytree(bundle_copy, fixed)
    key = deploy(db, broken_mini(bundle_copy)).key
    instance_id, review = _review_ready(db, org, key)
    tasks.complete_task(db, review, {"decision": "accepted"}, actor=org.curator)
    [incident] = open_incidents(db, instance_id)

    with pytest.raises(NotAllowed):
        retry_incident(db, incident.id, actor=org.curator)
    assert deploy(db, fixed).version == 2
    _migrate(db, org, key, 1, 2)
    view = retry_incident(db, incident.id, actor=org.admin)

    assert view.resolved_at is not None and view.resolution == "retried"
    with db.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None and instance.status.value == "completed"
        actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == instance_id)))
    assert {"incident.opened", "incident.retried", "incident.resolved", "instance.migrated"} <= set(actions)
    with pytest.raises(Conflict):
        retry_incident(db, incident.id, actor=org.admin)


def test_retry_after_migrating_a_poison_timer_to_a_fixed_version(db: Database, org: Org, poison: tuple[str, int],
                                                                 tmp_path: Path) -> None:
    key, poisoned = poison
    sweep(at(db, START + timedelta(days=8)))
    [incident] = open_incidents(db, poisoned)
    failed_again = retry_incident(at(db, START + timedelta(days=8, minutes=2)), incident.id, actor=org.admin)
    assert failed_again.resolved_at is None and failed_again.tries == 2  # still broken: the admin sees why
    assert "approved_by_region" in failed_again.error

    deploy(db, timer_bundle(tmp_path, key, "cohort is None"))
    _migrate(db, org, key, 1, 2)
    view = retry_incident(at(db, START + timedelta(days=8, minutes=5)), incident.id, actor=org.admin)

    assert view.resolved_at is not None
    assert ready_elements(db, poisoned) == ["help_school"]  # the timer fired and the fixed gateway passed
    assert open_incidents(db, poisoned) == []


def test_incidents_are_listed_for_admins_only(db: Database, org: Org, poison: tuple[str, int]) -> None:
    _, poisoned = poison
    sweep(at(db, START + timedelta(days=8)))
    listed = [i for i in incidents.list_incidents(db, actor=org.admin) if i.instance_id == poisoned]
    assert [(i.school_code, i.element_id, i.template_version) for i in listed] == [(org.school, "who_helps", 1)]
    assert [i.id for i in incidents.list_incidents(db, actor=OPERATOR) if i.instance_id == poisoned] == [listed[0].id]
    for login in (org.regional, org.curator, org.school_user):
        with pytest.raises(NotAllowed):
            incidents.list_incidents(db, actor=login)




# --- the ways in: web pages, REST API, command line -------------------------------------------------------


@pytest.fixture
def stuck(db: Database, org: Org, bundle_copy: Path) -> tuple[str, int, int]:
    """A school whose curator's review went through while the gateway after it failed."""
    key = deploy(db, broken_mini(bundle_copy)).key
    instance_id, review = _review_ready(db, org, key)
    done = tasks.complete_task(db, review, {"decision": "accepted"}, actor=org.curator)
    assert done.incident_id is not None
    return key, instance_id, done.incident_id


def test_admins_see_incidents_in_the_header_list_and_school_page_and_retry_them(
        db: Database, org: Org, stuck: tuple[str, int, int]) -> None:
    from tests.helpers import post, signed_in, with_passwords
    from web.app import create_app

    _, instance_id, incident_id = stuck
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    admin = signed_in(app, org.admin)
    page = admin.get("/admin/incidents").get_data(as_text=True)
    assert 'data-testid="incident-count"' in page and f'data-incident="{incident_id}"' in page
    assert "approved_by_region" in page and org.school in page and "Принято?" in page
    school_page = admin.get(f"/schools/{org.school}").get_data(as_text=True)
    assert 'data-incident=\'["decision"]\'' in school_page and 'data-testid="school-incidents"' in school_page

    status, _ = post(admin, f"/admin/incidents/{incident_id}/retry", {}, page="/admin/incidents")
    assert status == 302
    after = admin.get("/admin/incidents").get_data(as_text=True)
    assert "Повтор не удался" in after and "approved_by_region" in after  # still broken: the admin is told why
    [incident] = open_incidents(db, instance_id)
    assert incident.tries == 2

    for login in (org.regional, org.school_user):
        client = signed_in(app, login)
        assert client.get("/admin/incidents").status_code == 403
        assert "incident-count" not in client.get("/").get_data(as_text=True)
        status, _ = post(client, f"/admin/incidents/{incident_id}/retry", {})
        assert status == 403
    coordinator_page = signed_in(app, org.regional).get(f"/schools/{org.school}").get_data(as_text=True)
    assert 'data-testid="school-incidents"' in coordinator_page and "approved_by_region" not in coordinator_page


def test_coordinators_dashboards_count_schools_stuck_on_an_incident(db: Database, org: Org,
                                                                    stuck: tuple[str, int, int]) -> None:
    from engine.reports.status import area_counts, stage_status

    key, _, _ = stuck
    report = stage_status(db, key, region_code=org.region)
    assert report.with_incident == 1
    assert [(row.school_code, row.incidents) for row in report.schools if row.incidents] == [(org.school, 1)]
    _, units = area_counts(db, key, region_code=org.region)
    assert {u.code: u.with_incident for u in units} == {org.municipality: 1}


def test_incidents_through_the_api(db: Database, org: Org, stuck: tuple[str, int, int]) -> None:
    from engine.org.api_tokens import create_token
    from web.app import create_app

    _, instance_id, incident_id = stuck
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api"})
    client = app.test_client()

    def call(login: str, method: str, url: str) -> tuple[int, object]:
        token = create_token(db, "тест", actor=login)[1]
        response = client.open(f"/api/v1{url}", method=method, headers={"Authorization": f"Bearer {token}"})
        return response.status_code, response.json

    status, listed = call(org.admin, "GET", f"/incidents?school={org.school}")
    assert status == 200 and isinstance(listed, list)
    assert [(i["id"], i["element_id"], i["school"], i["tries"]) for i in listed] == [
        (incident_id, "decision", org.school, 1)]
    status, body = call(org.admin, "POST", f"/incidents/{incident_id}/retry")
    assert status == 200 and isinstance(body, dict) and body["resolved_at"] is None and body["tries"] == 2
    assert call(org.curator, "GET", "/incidents")[0] == 403
    assert call(org.regional, "POST", f"/incidents/{incident_id}/retry")[0] == 403
    assert call(org.admin, "GET", "/incidents/999999999")[0] == 404
    assert open_incidents(db, instance_id)[0].tries == 2


def test_incidents_at_the_command_line(db: Database, org: Org, stuck: tuple[str, int, int],
                                       tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from web.cli import cli

    key, instance_id, incident_id = stuck
    listed = CliRunner().invoke(cli, ["incidents", "--json", "--school", org.school], obj=db)
    assert listed.exit_code == 0, listed.output
    assert [(i["id"], i["element_id"]) for i in json.loads(listed.stdout)] == [(incident_id, "decision")]
    text = CliRunner().invoke(cli, ["incidents", "--school", org.school], obj=db)
    assert f"#{incident_id} {org.school}" in text.stdout and "approved_by_region" in text.stdout

    failed = CliRunner().invoke(cli, ["incidents", "retry", str(incident_id)], obj=db)
    assert failed.exit_code == 1 and "Повтор не удался" in failed.stderr
    fixed = tmp_path / "fixed"
    shutil.copytree(MINI, fixed)
    manifest = fixed / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "mini"', f'"key": "{key}"'),
                        encoding="utf-8")
    deploy(db, fixed)
    _migrate(db, org, key, 1, 2)
    done = CliRunner().invoke(cli, ["incidents", "retry", str(incident_id)], obj=db)
    assert done.exit_code == 0 and "решён" in done.stdout
    with db.reading() as session:
        retried = session.scalar(select(AuditRecord).where(AuditRecord.action == "incident.retried",
                                                           AuditRecord.instance_id == instance_id)
                                 .order_by(AuditRecord.id.desc()))
        assert retried is not None and retried.actor_id is None  # the operator, at the command line
    assert open_incidents(db, instance_id) == []


def test_a_failing_engine_action_keeps_the_form_as_a_draft_and_records_an_incident(
        db: Database, org: Org, bundle_copy: Path) -> None:
    # A template bug: the review form has its own field "indicators", which the risk action reads as the
    # questionnaire's aggregated indicators (a mapping) — the action fails on the text the curator typed.
    manifest = bundle_copy / "manifest.json"
    spec = json.loads(manifest.read_text(encoding="utf-8"))
    spec.update({
        "questionnaires": {"groups": {"director": {"title": "Директор", "form": "questionnaire", "anonymous": False}}},
        "indicators": {"coverage_mean": {"group": "director", "field": "coverage", "aggregate": "mean"}},
        "risk_catalogue": {"version": "t", "factors": [{"key": "k1", "title": "Охват", "indicator": "coverage_mean"}]},
        "actions": {"review": [{"action": "prepare_risk_inputs"}]},
    })
    manifest.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    review_form = bundle_copy / "forms" / "review.form"
    form = json.loads(review_form.read_text(encoding="utf-8"))
    form["components"].append({"type": "textfield", "key": "indicators", "label": "Показатели"})
    review_form.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    key = deploy(db, bundle_copy).key
    instance_id, review = _review_ready(db, org, key)

    with pytest.raises(StepFailed) as failed:
        tasks.complete_task(db, review, {"decision": "accepted", "indicators": "все в норме"}, actor=org.curator)

    assert "черновик" in failed.value.message and failed.value.incident_id is not None
    with db.reading() as session:
        task = session.get(Task, review)
        assert task is not None and task.status is TaskStatus.READY  # nothing was completed
        assert task.draft == {"decision": "accepted", "indicators": "все в норме"}
    [incident] = open_incidents(db, instance_id)
    assert (incident.id, incident.element_id, incident.trigger) == (failed.value.incident_id, "review", "action")
    assert "AttributeError" in incident.error
    assert retry_incident(db, incident.id, actor=org.admin).resolution == "passed"  # the user sends the form again
