"""Each service authorizes its own use (docs/architecture.md «Who acts»). The checks that lived in views — the
org import's admin check, the cohort start's federal/regional check, none at all for a version diff — now
refuse the wrong role through the service itself; a user's own use cases refuse the operator; the operator's
audit records name no user. PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import NotAllowed
from engine.models import AuditRecord, Cohort, ProcessInstance, Region, School, User
from engine.org import accounts
from engine.org.importing import import_org
from engine.process import instances, tasks
from engine.templates import versions
from engine.templates.diff import diff_versions
from tests.conftest import Org, make_org, unique

YEAR = 2043


@pytest.fixture
def key(db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def _org_file(folder: Path, region: str) -> Path:
    """A one-row org file: a new region."""
    path = folder / "org.csv"
    path.write_text("Тип;Код;Название;Родитель;Логин;ФИО;Почта;Роль;Область действия\r\n"
                    f"регион;{region};Область для проверки прав;;;;;;\r\n", encoding="utf-8")
    return path


def _regions(db: Database, code: str) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Region).where(Region.code == code)) or 0)


def test_the_org_import_refuses_anyone_but_an_admin_or_the_operator(db: Database, org: Org, tmp_path: Path) -> None:
    code = f"W{unique()}"
    path = _org_file(tmp_path, code)
    for login in (org.federal, org.regional, org.municipal, org.school_user):
        with pytest.raises(NotAllowed, match="импорт оргструктуры — для администратора"):
            import_org(db, path, actor=login)
    assert _regions(db, code) == 0
    assert import_org(db, path, actor=org.admin).applied and _regions(db, code) == 1
    assert import_org(db, path, actor=OPERATOR).applied and _regions(db, code) == 1


def _cohort_instances(db: Database, schools: list[str]) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessInstance)
                                  .join(School, School.id == ProcessInstance.school_id)
                                  .join(Cohort, Cohort.id == ProcessInstance.cohort_id)
                                  .where(School.code.in_(schools), Cohort.year == YEAR)) or 0)


def test_the_cohort_start_checks_the_role_itself(db: Database, org: Org, key: str) -> None:
    schools = [org.school, org.sibling_school, org.foreign_school]
    other = make_org(db)
    refused = [(org.municipal, org.region, "вне вашей зоны"),        # a municipality is not the region
               (org.school_user, org.region, "вне вашей зоны"),
               (org.regional, None, "по всей стране"),                # the whole country: admins and the federal level
               (org.regional, other.region, "вне вашей зоны")]        # another region
    for login, region, words in refused:
        with pytest.raises(NotAllowed, match=words):
            instances.start_cohort(db, key, YEAR, actor=login, region_code=region)
    assert _cohort_instances(db, schools) == 0

    started = instances.start_cohort(db, key, YEAR, actor=org.regional, region_code=org.region)
    assert len(started.started) == 3 and _cohort_instances(db, schools) == 3
    for allowed in (org.federal, org.admin, OPERATOR):  # anywhere; nothing is left to start here
        again = instances.start_cohort(db, key, YEAR, actor=allowed, region_code=org.region)
        assert again.started == [] and again.already_running == 3


def test_a_version_diff_is_for_admins_and_the_operator(db: Database, org: Org, key: str, bundle_copy: Path) -> None:
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('roadmap:deadline="5WD"', 'roadmap:deadline="4WD"'),
                    encoding="utf-8")
    assert versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).version == 2
    for login in (org.federal, org.regional, org.curator, org.school_user):
        with pytest.raises(NotAllowed, match="шаблонами управляет только администратор"):
            diff_versions(db, key, 1, 2, actor=login)
    for allowed in (org.admin, OPERATOR):
        assert diff_versions(db, key, 1, 2, actor=allowed).tasks.changed == {"review": ["срок: «5WD» → «4WD»"]}


def test_a_users_own_use_cases_refuse_the_operator(db: Database, org: Org) -> None:
    with pytest.raises(NotAllowed, match="пользователь, а не оператор"):
        tasks.list_tasks(db, actor=OPERATOR)
    with pytest.raises(NotAllowed, match="пользователь, а не оператор"):
        accounts.change_password(db, "старый", "новый-пароль-12345", actor=OPERATOR)
    with pytest.raises(NotAllowed, match="список пользователей доступен администратору"):
        accounts.list_users(db, actor=OPERATOR)  # an admin's page: never the operator's
    assert [u.login for u in accounts.list_users(db, actor=org.admin, search=org.curator)] == [org.curator]


def test_the_operator_audits_as_nobody_and_a_user_as_themselves(db: Database, org: Org, key: str) -> None:
    by_operator = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    by_admin = instances.start_instance(db, key, org.sibling_school, actor=org.admin).instance_id
    with db.reading() as session:
        admin_id = session.scalar(select(User.id).where(User.login == org.admin))
        actors = dict(session.execute(select(AuditRecord.instance_id, AuditRecord.actor_id).where(
            AuditRecord.action == "instance.started", AuditRecord.instance_id.in_([by_operator, by_admin]))).all())
        starters = dict(session.execute(select(ProcessInstance.id, ProcessInstance.started_by_id).where(
            ProcessInstance.id.in_([by_operator, by_admin]))).all())
    assert actors == starters == {by_operator: None, by_admin: admin_id}
