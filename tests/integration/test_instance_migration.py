"""Moving running instances to a new template version: the dry run, the per-instance run, task-row identity,
audit, authorization, the CLI, the rq job and the admin pages — on PostgreSQL and SQLite."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import Conflict, MigrationImpossible, NotAllowed
from engine.models import (
    AuditRecord,
    InstanceStatus,
    MigrationRun,
    ProcessInstance,
    Task,
    TaskStatus,
    TemplateVersion,
)
from engine.process import instances, migration, tasks
from engine.process.cohorts import ensure_cohort
from engine.process.migration import get_run, plan_migration, resume_migration, run_migration, start_migration
from engine.templates import versions
from tests import roadmap_steps as r500
from tests.conftest import Clock, Org, unique
from tests.helpers import ROADMAP, post, signed_in, with_passwords
from web.app import create_app
from web.cli import cli
from workers import jobs
from workers.queue import QUEUE_NAME, RqJobQueue

REMOVED_REVIEW = "задача “Проверить анкету” (review), которую ждёт процесс, удалена в новой версии"


def _edit(bundle: Path, *replacements: tuple[str, str]) -> None:
    _replace_in(bundle / "mini.bpmn", *replacements)


def _replace_in(path: Path, *replacements: tuple[str, str]) -> None:
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def grow(bundle: Path) -> None:
    """v2: the questionnaire task gets a new name, form and deadline, and a new task follows it."""
    _edit(bundle,
          ('name="Заполнить анкету" roadmap:stage="questionnaire" roadmap:form="questionnaire" '
           'roadmap:deadline="P14D"',
           'name="Заполнить анкету школы" roadmap:stage="questionnaire" roadmap:form="questionnaire_v2" '
           'roadmap:deadline="P10D"'),
          ("<bpmn:flowNodeRef>rate_risk</bpmn:flowNodeRef>",
           "<bpmn:flowNodeRef>rate_risk</bpmn:flowNodeRef>\n<bpmn:flowNodeRef>attach_plan</bpmn:flowNodeRef>"),
          ("<bpmn:outgoing>f2</bpmn:outgoing>\n    </bpmn:userTask>",
           '<bpmn:outgoing>f2a</bpmn:outgoing>\n    </bpmn:userTask>\n'
           '    <bpmn:userTask id="attach_plan" name="Приложить план" roadmap:stage="questionnaire" '
           'roadmap:form="questionnaire" roadmap:deadline="P7D">\n'
           '      <bpmn:incoming>f2a</bpmn:incoming>\n      <bpmn:outgoing>f2</bpmn:outgoing>\n    </bpmn:userTask>'),
          ('<bpmn:sequenceFlow id="f2" sourceRef="fill_questionnaire" targetRef="rate_risk"/>',
           '<bpmn:sequenceFlow id="f2a" sourceRef="fill_questionnaire" targetRef="attach_plan"/>\n'
           '    <bpmn:sequenceFlow id="f2" sourceRef="attach_plan" targetRef="rate_risk"/>'))
    form = json.loads((bundle / "forms" / "questionnaire.form").read_text(encoding="utf-8"))
    form["id"] = "questionnaire_v2"
    form["components"].append({"type": "textfield", "key": "contact", "label": "Контакт"})
    (bundle / "forms" / "questionnaire_v2.form").write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")


def drop_review(bundle: Path) -> None:
    """v2: the curator's review is gone; the risk rating leads straight to the decision, which now reads the
    rating (the review's form gave ``decision``, and a name nothing writes is refused at deploy)."""
    path = bundle / "mini.bpmn"
    text = path.read_text(encoding="utf-8")
    start = text.index('<bpmn:userTask id="review"')
    end = text.index("</bpmn:userTask>", start) + len("</bpmn:userTask>\n")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    _edit(bundle, ("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>\n", ""),
          ('<bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="decision"/>\n', ""),
          ('sourceRef="rate_risk" targetRef="review"', 'sourceRef="rate_risk" targetRef="decision"'),
          ("<bpmn:incoming>f4</bpmn:incoming>", "<bpmn:incoming>f3</bpmn:incoming>"),
          ("decision == 'accepted'", "risk != 'high'"), ("decision == 'rework'", "risk == 'high'"))


def deploy(db: Database, bundle: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle), actor=OPERATOR).key


def ready_task(db: Database, instance_id: int) -> Task:
    with db.reading() as session:
        return session.scalars(select(Task).where(Task.instance_id == instance_id,
                                                  Task.status == TaskStatus.READY)).one()


def instance(db: Database, instance_id: int) -> ProcessInstance:
    with db.reading() as session:
        found = session.get(ProcessInstance, instance_id)
        assert found is not None
        return found


def audit_actions(db: Database, instance_id: int) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(AuditRecord.action).where(AuditRecord.instance_id == instance_id)
                                    .order_by(AuditRecord.id)))


def three_instances(db: Database, org: Org, key: str) -> tuple[int, int, int]:
    """Ad hoc instances of one school: one waiting for the (claimed) questionnaire, one for the curator's
    review, one completed."""
    at_questionnaire, at_review, finished = (instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
                                             for _ in range(3))
    tasks.claim_task(db, ready_task(db, at_questionnaire).id, actor=org.school_user)
    for instance_id in (at_review, finished):
        tasks.complete_task(db, ready_task(db, instance_id).id, {"coverage": 80}, actor=org.school_user)
    tasks.complete_task(db, ready_task(db, finished).id, {"decision": "accepted"}, actor=org.curator)
    assert instance(db, finished).status is InstanceStatus.COMPLETED
    return at_questionnaire, at_review, finished


def test_grown_version_moves_everyone_and_rows_keep_their_identity(db: Database, org: Org,
                                                                   bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, finished = three_instances(db, org, key)
    before = ready_task(db, at_questionnaire)
    grow(bundle_copy)
    deploy(db, bundle_copy)

    plan = plan_migration(db, key, 1, 2, actor=org.admin)
    assert [item.instance_id for item in plan.instances] == [at_questionnaire, at_review]  # not the completed one
    assert plan.movable == 2 and all(not item.reasons for item in plan.instances)
    assert plan.instances[0].tasks == ["Заполнить анкету"] and plan.instances[0].school_code == org.school

    run = run_migration(db, start_migration(db, key, 1, 2, actor=org.admin).id)
    assert (run.status, run.total, run.moved, run.failed) == ("done", 2, 2, 0)
    assert {item.instance_id: item.outcome for item in run.results} == {at_questionnaire: "moved",
                                                                        at_review: "moved"}
    after = ready_task(db, at_questionnaire)
    assert after.id == before.id and after.spiff_task_id == before.spiff_task_id
    assert (after.name, after.form_key) == ("Заполнить анкету школы", "questionnaire_v2")
    assert after.assignee_id == before.assignee_id is not None and after.due_at == before.due_at
    assert instance(db, at_questionnaire).template_version_id == instance(db, at_review).template_version_id
    assert instance(db, finished).template_version_id != instance(db, at_questionnaire).template_version_id
    assert "instance.migrated" in audit_actions(db, at_questionnaire)

    # the moved process goes on along the new diagram: the added task comes next
    done = tasks.complete_task(db, after.id, {"coverage": 70, "contact": "8-800"}, actor=org.school_user)
    with db.reading() as session:
        assert session.get(Task, done.next_task_ids[0]).element_id == "attach_plan"  # type: ignore[union-attr]
    diff = CliRunner().invoke(cli, ["diff", key, "1", "2"], obj=db)
    assert diff.exit_code == 0 and "+ attach_plan" in diff.stdout


def test_removed_current_task_blocks_only_that_instance(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    review_row = ready_task(db, at_review)
    before = instance(db, at_review)
    drop_review(bundle_copy)
    deploy(db, bundle_copy)

    plan = {item.instance_id: item for item in plan_migration(db, key, 1, 2, actor=OPERATOR).instances}
    assert plan[at_questionnaire].can_move and not plan[at_review].can_move
    assert plan[at_review].reasons == [REMOVED_REVIEW] and plan[at_review].tasks == ["Проверить анкету"]

    run = run_migration(db, start_migration(db, key, 1, 2, actor=OPERATOR).id)
    assert (run.status, run.total, run.moved, run.failed) == ("done", 2, 1, 1)
    failed = next(item for item in run.results if item.instance_id == at_review)
    assert failed.outcome == "failed" and failed.reasons == [REMOVED_REVIEW]
    untouched = instance(db, at_review)
    assert (untouched.workflow_json, untouched.template_version_id) == (before.workflow_json,
                                                                        before.template_version_id)
    assert ready_task(db, at_review).id == review_row.id
    assert audit_actions(db, at_review)[-1] == "instance.migration_failed"
    assert instance(db, at_questionnaire).template_version_id != untouched.template_version_id
    # a second run finds only the blocked instance still on version 1
    again = run_migration(db, start_migration(db, key, 1, 2, actor=OPERATOR).id)
    assert (again.total, again.moved, again.failed) == (1, 0, 1)


def test_dry_run_recorded_as_a_run_changes_nothing(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    drop_review(bundle_copy)
    deploy(db, bundle_copy)
    run = run_migration(db, start_migration(db, key, 1, 2, dry_run=True, actor=OPERATOR).id)
    assert run.dry_run and (run.moved, run.failed) == (1, 1)
    assert {item.outcome for item in run.results} == {"can_move", "cannot_move"}
    assert instance(db, at_questionnaire).template_version_id == instance(db, at_review).template_version_id
    assert "instance.migrated" not in audit_actions(db, at_questionnaire)


def test_only_admins_plan_or_run_and_versions_are_checked(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    grow(bundle_copy)
    deploy(db, bundle_copy)
    for login in (org.curator, org.regional, org.federal):
        with pytest.raises(NotAllowed):
            plan_migration(db, key, 1, 2, actor=login)
        with pytest.raises(NotAllowed):
            start_migration(db, key, 1, 2, actor=login)
    with pytest.raises(MigrationImpossible, match="версии совпадают"):
        plan_migration(db, key, 2, 2, actor=OPERATOR)
    with db.reading() as session:
        assert session.scalar(select(MigrationRun.id).where(MigrationRun.template_key == key)) is None


def test_cli_dry_run_and_real_run_exit_codes(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    drop_review(bundle_copy)
    deploy(db, bundle_copy)
    runner = CliRunner()
    dry = runner.invoke(cli, ["migrate", "--from", f"{key}@1", "--to", f"{key}@2", "--dry-run"], obj=db)
    assert dry.exit_code == 1, dry.output
    assert f"процесс {at_review}" in dry.stdout and f"нельзя перенести: {REMOVED_REVIEW}" in dry.stdout
    assert "можно перенести" in dry.stdout and "процессов 2, можно перенести 1, нельзя 1" in dry.stdout
    assert instance(db, at_questionnaire).template_version_id == instance(db, at_review).template_version_id

    real = runner.invoke(cli, ["migrate", "--from", f"{key}@1", "--to", f"{key}@2", "--json"], obj=db)
    assert real.exit_code == 1
    report = json.loads(real.stdout)
    assert (report["status"], report["moved"], report["failed"]) == ("done", 1, 1)
    rest = runner.invoke(cli, ["migrate", "--from", f"{key}@1", "--to", f"{key}@2", "--dry-run"], obj=db)
    assert rest.exit_code == 1 and f"процесс {at_questionnaire}" not in rest.stdout


def test_cli_moves_all_and_refuses_bad_usage(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, _, _ = three_instances(db, org, key)
    grow(bundle_copy)
    deploy(db, bundle_copy)
    runner = CliRunner()
    moved = runner.invoke(cli, ["migrate", "--from", f"{key}@1", "--to", f"{key}@2"], obj=db)
    assert moved.exit_code == 0, moved.output
    assert f"{org.school}\tпроцесс {at_questionnaire}\tЗаполнить анкету\tперенесён" in moved.stdout
    assert "перенесено 2 из 2, с ошибками 0" in moved.stdout
    for arguments in (["--from", key, "--to", f"{key}@2"], ["--from", f"{key}@1", "--to", "other@2"]):
        assert runner.invoke(cli, ["migrate", *arguments], obj=db).exit_code == 2
    unknown = runner.invoke(cli, ["migrate", "--from", f"{key}@1", "--to", f"{key}@9"], obj=db)
    assert unknown.exit_code == 1 and "версии 9 не найден" in unknown.stderr


def test_rq_worker_runs_the_migration(pg_db: Database, postgres_url: str, bundle_copy: Path, redis: Redis,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import make_org

    org = make_org(pg_db)
    key = deploy(pg_db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(pg_db, org, key)
    grow(bundle_copy)
    deploy(pg_db, bundle_copy)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    run_id = start_migration(pg_db, key, 1, 2, actor=org.admin).id
    job_id = RqJobQueue(redis).enqueue(jobs.run_migration, run_id)
    queue = Queue(QUEUE_NAME, connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True)
    job = queue.fetch_job(job_id)
    assert job is not None and job.is_finished and job.return_value() == {"moved": 2, "failed": 0}
    assert job.timeout == 6 * 3600  # not rq's 180 s: a region's run takes longer
    assert get_run(pg_db, run_id, actor=OPERATOR).status == "done"
    assert instance(pg_db, at_review).template_version_id == instance(pg_db, at_questionnaire).template_version_id


def test_admin_page_hands_the_run_to_the_queue_the_app_was_given(pg_db: Database, postgres_url: str,
                                                                  bundle_copy: Path, redis: Redis,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app(queue=...): the page enqueues the run on that queue (here rq) and runs nothing itself."""
    from tests.conftest import make_org

    org = make_org(pg_db)
    key = deploy(pg_db, bundle_copy)
    three_instances(pg_db, org, key)
    grow(bundle_copy)
    deploy(pg_db, bundle_copy)
    with_passwords(pg_db, org)
    app = create_app({"DATABASE": pg_db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False},
                     queue=RqJobQueue(redis))
    status, _ = post(signed_in(app, org.admin), "/admin/migrations", {"key": key, "from": "1", "to": "2"},
                     f"/admin/migrations?key={key}&from=1&to=2")
    assert status == 302
    with pg_db.reading() as session:
        run_id = session.scalars(select(MigrationRun.id).where(MigrationRun.template_key == key)).one()
    queue = Queue(QUEUE_NAME, connection=redis)
    assert queue.count == 1 and get_run(pg_db, run_id, actor=OPERATOR).status == "pending"
    monkeypatch.setenv("DATABASE_URL", postgres_url)  # the worker's own configuration
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert get_run(pg_db, run_id, actor=OPERATOR).status == "done" and get_run(pg_db, run_id, actor=OPERATOR).moved == 2


def test_admin_pages_plan_start_and_follow_a_run(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    drop_review(bundle_copy)
    deploy(db, bundle_copy)
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    admin = signed_in(app, org.admin)
    choose = admin.get("/admin/migrations").get_data(as_text=True)
    assert "Перенос процессов на новую версию" in choose and f'value="{key}"' in choose
    page = admin.get(f"/admin/migrations?key={key}&from=1&to=2").get_data(as_text=True)
    assert 'data-testid="migration-plan"' in page and "Перенести все возможные" in page
    assert f'data-instance="{at_review}"' in page and REMOVED_REVIEW in page and org.school in page

    status, _ = post(admin, "/admin/migrations", {"key": key, "from": "1", "to": "2"},
                     f"/admin/migrations?key={key}&from=1&to=2")
    assert status == 302
    with db.reading() as session:
        run_id = session.scalars(select(MigrationRun.id).where(MigrationRun.template_key == key)).one()
    progress = _wait_until_finished(admin, run_id)
    assert (progress["status"], progress["moved"], progress["failed"], progress["total"]) == ("done", 1, 1, 2)
    assert {item["instance_id"]: item["outcome"] for item in progress["results"]} == {at_questionnaire: "moved",
                                                                                      at_review: "failed"}
    run_page = admin.get(f"/admin/migrations/{run_id}").get_data(as_text=True)
    assert 'data-testid="migration-run"' in run_page and "Перенесён" in run_page and REMOVED_REVIEW in run_page

    curator = signed_in(app, org.curator)
    for url in ("/admin/migrations", f"/admin/migrations?key={key}&from=1&to=2", f"/admin/migrations/{run_id}",
                f"/admin/migrations/{run_id}.json"):
        assert curator.get(url).status_code == 403, url


def _wait_until_finished(client: object, run_id: int) -> dict[str, object]:
    """Without Redis the run goes on in a background thread; poll its progress as the page does."""
    deadline = time.monotonic() + 60
    while True:
        data = client.get(f"/admin/migrations/{run_id}.json").get_json()  # type: ignore[attr-defined]
        if data["finished"] or time.monotonic() > deadline:
            return data  # type: ignore[no-any-return]
        time.sleep(0.05)


def _roadmap_at_antirisk(timed: Database, clock: Clock, key: str, tmp_path: Path) -> tuple[object, str, int]:
    """A «500+» roadmap inside the parallel multi-instance call activity: one anti-risk task per direction.
    The template is a copy under a key of the test's own: new versions of roadmap-500 itself would change
    what every other test on this database starts."""
    school = r500.new_school(timed)
    ensure_cohort(timed, r500.COHORT)
    versions.deploy_template(timed, versions.read_bundle(_roadmap_copy(tmp_path / "v1", key)), actor=OPERATOR)
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=r500.COHORT, actor=OPERATOR).instance_id
    r500.run_selection(timed, school, instance_id)
    r500.run_questionnaire_stage(timed, school, instance_id, clock)
    r500.run_risk_profile(timed, school, instance_id)
    r500.act(timed, school, instance_id, "prepare_concept", school.director, r500.document("concept", "Концепция"))
    r500.act(timed, school, instance_id, "review_concept", school.curator, {"concept_decision": "accepted"})
    return school, key, instance_id


def _roadmap_copy(tmp_path: Path, key: str, *replacements: tuple[str, str]) -> Path:
    target = tmp_path / "roadmap-500"
    shutil.copytree(ROADMAP, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    (target / "manifest.json").write_text(json.dumps({**manifest, "key": key}, ensure_ascii=False), encoding="utf-8")
    _replace_in(target / "roadmap-500.bpmn", *replacements)
    return target


def _open_rows(db: Database, instance_id: int) -> dict[int, str]:
    with db.reading() as session:
        return dict(session.execute(select(Task.id, Task.name).where(Task.instance_id == instance_id,
                                                                      Task.status == TaskStatus.READY)).all())


def test_call_activity_instances_keep_their_subjects_or_are_refused(db: Database, tmp_path: Path) -> None:
    clock = Clock(r500.START)
    timed = Database(db.engine, clock=clock, sessions=db.sessions)
    _, key, instance_id = _roadmap_at_antirisk(timed, clock, unique("roadmap-500-"), tmp_path)
    rows = _open_rows(timed, instance_id)
    assert sum(name.startswith("Разработать антирисковую программу: ") for name in rows.values()) == 3

    renamed = _roadmap_copy(tmp_path / "renamed", key, ('name="Разработать антирисковую программу"',
                                                   'name="Подготовить антирисковую программу"'))
    old = instance(timed, instance_id).template_version_id
    new_version = versions.deploy_template(timed, versions.read_bundle(renamed), actor=OPERATOR).version
    with timed.reading() as session:
        old_version = session.get(TemplateVersion, old).version  # type: ignore[union-attr]
    run = run_migration(timed, start_migration(timed, key, old_version, new_version, actor=OPERATOR).id)
    assert run.results[0].instance_id == instance_id or instance_id in {r.instance_id for r in run.results}
    assert next(r for r in run.results if r.instance_id == instance_id).outcome == "moved"
    after = _open_rows(timed, instance_id)
    assert after.keys() == rows.keys()  # the same rows, the subject (which direction) still in each name
    assert sorted(after.values()) == sorted(name.replace("Разработать антирисковую", "Подготовить антирисковую")
                                            for name in rows.values())

    changed_loop = _roadmap_copy(tmp_path / "loop", key, ('name="Разработать антирисковую программу"',
                                                     'name="Подготовить антирисковую программу"'),
                                 ("<bpmn:loopDataInputRef>risk_directions</bpmn:loopDataInputRef>",
                                  "<bpmn:loopDataInputRef>chosen_directions</bpmn:loopDataInputRef>"),
                                 ("risk_directions = risk_candidates[:3]</bpmn:script>",
                                  "risk_directions = risk_candidates[:3]\nchosen_directions = risk_directions</bpmn:script>"))
    third = versions.deploy_template(timed, versions.read_bundle(changed_loop), actor=OPERATOR).version
    [check] = [c for c in plan_migration(timed, key, new_version, third, actor=OPERATOR).instances
               if c.instance_id == instance_id]
    assert not check.can_move
    assert any("(antirisk_programmes) уже выполняется" in reason and "входная коллекция" in reason
               for reason in check.reasons), check.reasons

    other_process = _roadmap_copy(tmp_path / "process", key, ('name="Разработать антирисковую программу"',
                                                         'name="Подготовить антирисковую программу"'),
                                  ('processRef="antirisk_cycle"', 'processRef="antirisk_cycle_2028"'),
                                  ('calledElement="antirisk_cycle"', 'calledElement="antirisk_cycle_2028"'),
                                  ('<bpmn:process id="antirisk_cycle"', '<bpmn:process id="antirisk_cycle_2028"'))
    fourth = versions.deploy_template(timed, versions.read_bundle(other_process), actor=OPERATOR).version
    [check] = [c for c in plan_migration(timed, key, new_version, fourth, actor=OPERATOR).instances
               if c.instance_id == instance_id]
    assert not check.can_move and len(check.reasons) == len(set(check.reasons)) == 2  # not once per direction
    assert any("процесс «antirisk_cycle», в который уже вошёл маршрут, удалён в новой версии" in reason
               for reason in check.reasons), check.reasons


def test_multi_instance_children_keep_their_item_data(tmp_path: Path) -> None:
    """Spiff's migration resets READY tasks from their parent's data; a multi-instance child's item (which
    part it is about) lives only in the child, so the runtime puts the child's data back."""
    from engine.bpmn.compiler import compile_bundle
    from engine.bpmn.migration import check_migration, migrate
    from engine.bpmn.runtime import WorkflowRun
    from tests.conftest import MINI_BUNDLE

    bundles = []
    for name, title in (("v1", "Проверить анкету"), ("v2", "Проверить часть анкеты")):
        shutil.copytree(MINI_BUNDLE, tmp_path / name)
        _edit(tmp_path / name, ('name="Проверить анкету"', f'name="{title}"'),
              ("<bpmn:outgoing>f4</bpmn:outgoing>\n    </bpmn:userTask>",
               "<bpmn:outgoing>f4</bpmn:outgoing>\n      <bpmn:multiInstanceLoopCharacteristics>\n"
               "        <bpmn:loopCardinality>2</bpmn:loopCardinality>\n"
               '        <bpmn:inputDataItem id="part" name="part"/>\n'
               "      </bpmn:multiInstanceLoopCharacteristics>\n    </bpmn:userTask>"))
        bundles.append(compile_bundle(versions.read_bundle(tmp_path / name)))
    old, new = bundles
    run = WorkflowRun.start(old, {"school": {"code": "S1"}})
    run.complete(run.ready_user_tasks()[0].task_id, {"coverage": 50})
    children = {task.task_id: run.task_data(task.task_id)["part"] for task in run.ready_user_tasks()}
    assert sorted(children.values()) == [0, 1] and check_migration(run, new).can_move
    moved = migrate(WorkflowRun.restore(old, run.dump()), new)
    assert {task.task_id: moved.task_data(task.task_id)["part"] for task in moved.ready_user_tasks()} == children
    assert {task.name for task in moved.ready_user_tasks()} == {"Проверить часть анкеты"}


def test_waiting_timer_survives_the_move_and_fires_on_time(db: Database, org: Org, tmp_path: Path) -> None:
    from engine.deadlines.sweep import sweep
    from engine.models import Deadline
    from tests.conftest import FIXTURES, unique

    bundle = tmp_path / "timer"
    shutil.copytree(FIXTURES / "bundles" / "timer", bundle)
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"key": "timer"', f'"key": "{unique("t-")}"'),
                        encoding="utf-8")
    start = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    key = deploy(db, bundle)
    instance_id = instances.start_instance(Database(db.engine, clock=lambda: start, sessions=db.sessions), key,
                                           org.school, actor=OPERATOR).instance_id
    bpmn = bundle / "timer.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('name="Заполнить анкету"', 'name="Заполнить анкету школы"'),
                    encoding="utf-8")
    deploy(db, bundle)
    next_day = Database(db.engine, clock=lambda: start + timedelta(days=1), sessions=db.sessions)
    assert run_migration(next_day, start_migration(next_day, key, 1, 2, actor=OPERATOR).id).moved == 1

    with db.reading() as session:
        [timer] = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id,
                                                         Deadline.kind == "timer")).all()
    assert timer.fired_at is None and timer.fire_at == start + timedelta(days=7)  # the same row, the same moment
    assert ready_task(db, instance_id).name == "Заполнить анкету школы"
    fired = [a for a in sweep(db, now=start + timedelta(days=7, minutes=1)).actions if a.deadline_id == timer.id]
    assert [a.kind for a in fired] == ["timer"] and ready_task(db, instance_id).element_id == "help_school"


def test_a_task_moved_to_another_lane_changes_role_and_is_released(db: Database, org: Org,
                                                                   bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, _, _ = three_instances(db, org, key)
    before = ready_task(db, at_questionnaire)
    _edit(bundle_copy, ("<bpmn:flowNodeRef>fill_questionnaire</bpmn:flowNodeRef>\n", ""),
          ("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>",
           "<bpmn:flowNodeRef>review</bpmn:flowNodeRef>\n<bpmn:flowNodeRef>fill_questionnaire</bpmn:flowNodeRef>"))
    deploy(db, bundle_copy)
    assert run_migration(db, start_migration(db, key, 1, 2, actor=OPERATOR).id).failed == 0
    after = ready_task(db, at_questionnaire)
    assert (after.id, after.role, after.assignee_id, after.due_at) == (before.id, "curator", None, before.due_at)
    assert [t.id for t in tasks.list_tasks(db, actor=org.curator) if t.instance_id == at_questionnaire] == [after.id]
    assert not [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == at_questionnaire]


def test_big_dry_run_goes_to_the_background(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    drop_review(bundle_copy)
    deploy(db, bundle_copy)
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                      "MIGRATION_PLAN_LIMIT": 1})
    admin = signed_in(app, org.admin)
    url = f"/admin/migrations?key={key}&from=1&to=2"
    page = admin.get(url).get_data(as_text=True)
    assert "Проверены первые 1 из 2 процессов" in page and "Полный пробный прогон в фоне" in page
    assert f'data-instance="{at_questionnaire}"' in page and f'data-instance="{at_review}"' not in page

    status, _ = post(admin, "/admin/migrations", {"key": key, "from": "1", "to": "2", "dry_run": "1"}, url)
    assert status == 302
    with db.reading() as session:
        run_id = session.scalars(select(MigrationRun.id).where(MigrationRun.template_key == key)).one()
    progress = _wait_until_finished(admin, run_id)
    assert progress["dry_run"] and (progress["moved"], progress["failed"]) == (1, 1)
    assert {item["instance_id"]: item["outcome"] for item in progress["results"]} == {  # type: ignore[attr-defined]
        at_questionnaire: "can_move", at_review: "cannot_move"}
    assert instance(db, at_questionnaire).template_version_id == instance(db, at_review).template_version_id
    assert "Нельзя перенести" in admin.get(f"/admin/migrations/{run_id}").get_data(as_text=True)


def test_with_redis_unreachable_a_started_run_still_completes(db: Database, org: Org, bundle_copy: Path) -> None:
    key = deploy(db, bundle_copy)
    at_questionnaire, at_review, _ = three_instances(db, org, key)
    grow(bundle_copy)
    deploy(db, bundle_copy)
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                      "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    admin = signed_in(app, org.admin)
    status, _ = post(admin, "/admin/migrations", {"key": key, "from": "1", "to": "2"},
                     f"/admin/migrations?key={key}&from=1&to=2")
    assert status == 302
    with db.reading() as session:
        run_id = session.scalars(select(MigrationRun.id).where(MigrationRun.template_key == key)).one()
    progress = _wait_until_finished(admin, run_id)
    assert (progress["status"], progress["moved"], progress["failed"]) == ("done", 2, 0)
    assert instance(db, at_questionnaire).template_version_id == instance(db, at_review).template_version_id


def _interrupted_run(db: Database, org: Org, bundle_copy: Path) -> tuple[str, int, list[int]]:
    """A run whose worker moved one instance and was killed: the run row says running, 1 of 4 done."""
    key = deploy(db, bundle_copy)
    movable = [*three_instances(db, org, key)[:2],
               *(instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id for _ in range(2))]
    grow(bundle_copy)
    deploy(db, bundle_copy)
    run_id = start_migration(db, key, 1, 2, actor=org.admin).id
    # The dead worker's steps, up to where it was killed: no public call stops a run halfway.
    begun = migration._begin(db, run_id)  # noqa: SLF001
    assert begun is not None and begun[0] == movable
    assert migration._process_one(db, run_id, movable[0], begun[1])  # noqa: SLF001
    return key, run_id, movable


def _moves(db: Database, instance_id: int) -> int:
    return audit_actions(db, instance_id).count("instance.migrated")


def test_an_interrupted_run_shows_as_such_and_a_resume_moves_each_instance_once(
        db: Database, org: Org, bundle_copy: Path) -> None:
    key, run_id, movable = _interrupted_run(db, org, bundle_copy)
    assert get_run(db, run_id, actor=OPERATOR).status == "running"  # a heartbeat just now: alive as far as anyone knows
    with pytest.raises(Conflict):
        resume_migration(db, run_id, actor=org.admin)
    later = Database(db.engine, clock=lambda: datetime.now(UTC) + timedelta(minutes=6), sessions=db.sessions)
    with_passwords(db, org)
    app = create_app({"DATABASE": later, "TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False})
    admin = signed_in(app, org.admin)
    progress = admin.get(f"/admin/migrations/{run_id}.json").get_json()
    assert (progress["status"], progress["interrupted"], progress["processed"]) == ("interrupted", True, 1)
    page = admin.get(f"/admin/migrations/{run_id}").get_data(as_text=True)
    assert "прерван" in page and 'data-testid="migration-resume"' in page
    listed = CliRunner().invoke(cli, ["migrate-runs"], obj=later)
    assert f"{run_id}\t{key}@1 → 2\tпрерван (обработчик не отвечает)\tобработано 1 из 4" in listed.stdout
    assert signed_in(app, org.curator).post(f"/admin/migrations/{run_id}/resume").status_code in (400, 403)

    status, _ = post(admin, f"/admin/migrations/{run_id}/resume", {}, f"/admin/migrations/{run_id}")
    assert status == 302
    progress = _wait_until_finished(admin, run_id)
    assert (progress["status"], progress["moved"], progress["failed"], progress["total"]) == ("done", 4, 0, 4)
    assert [_moves(db, i) for i in movable] == [1, 1, 1, 1]
    # The old runner, were it alive, would stop at its next instance.
    assert migration._process_one(db, run_id, movable[1], 0) is False  # noqa: SLF001
    with db.reading() as session:
        resumed = session.scalars(select(AuditRecord).where(AuditRecord.action == "migration.resumed",
                                                            AuditRecord.details["run_id"].as_integer() == run_id)).one()
    assert resumed.details["processed"] == 1
    with pytest.raises(Conflict):
        resume_migration(later, run_id, actor=org.admin)  # finished: nothing to resume


def test_cli_resumes_an_interrupted_run(db: Database, org: Org, bundle_copy: Path) -> None:
    _, run_id, movable = _interrupted_run(db, org, bundle_copy)
    runner = CliRunner()
    alive = runner.invoke(cli, ["migrate-resume", str(run_id)], obj=db)
    assert alive.exit_code == 1 and "обработчик отвечает" in alive.stderr
    later = Database(db.engine, clock=lambda: datetime.now(UTC) + timedelta(minutes=6), sessions=db.sessions)
    resumed = runner.invoke(cli, ["migrate-resume", str(run_id)], obj=later)
    assert resumed.exit_code == 0, resumed.output
    assert "завершён\tобработано 4 из 4, перенесено 4, с ошибками 0" in resumed.stdout
    assert [_moves(db, i) for i in movable] == [1, 1, 1, 1]
