"""Deploying template bundles as immutable versions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import NotAllowed, TemplateInvalid
from engine.models import TemplateFile, TemplateVersion
from engine.process import instances, tasks
from engine.templates import versions
from tests.conftest import Org


def _versions(db: Database, key: str) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(TemplateVersion.version).where(TemplateVersion.key == key)
                                    .order_by(TemplateVersion.version)))


def test_deploy_stores_files_with_hashes_and_is_idempotent(db: Database, bundle_copy: Path) -> None:
    first = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    again = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created, again.template_version_id) == (1, False, first.template_version_id)
    with db.reading() as session:
        files = session.scalars(select(TemplateFile).where(
            TemplateFile.template_version_id == first.template_version_id)).all()
        assert {f.path for f in files} == {"manifest.json", "mini.bpmn", "risk.dmn",
                                           "forms/questionnaire.form", "forms/review.form"}
        assert all(f.sha256 == hashlib.sha256(f.content).hexdigest() for f in files)


def test_changed_bundle_becomes_next_version_and_old_instances_keep_theirs(
        db: Database, org: Org, bundle_copy: Path) -> None:
    v1 = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    old_instance = instances.start_instance(db, v1.key, org.school, actor=OPERATOR).instance_id
    bpmn = bundle_copy / "mini.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("Заполнить анкету", "Провести анкетирование"),
                    encoding="utf-8")
    v2 = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    assert v2.version == 2 and _versions(db, v1.key) == [1, 2]
    new_instance = instances.start_instance(db, v1.key, org.sibling_school, actor=OPERATOR).instance_id
    by_school = {t.instance_id: t.name for t in tasks.list_tasks(db, actor=org.school_user)}
    assert by_school[old_instance] == "Заполнить анкету"
    assert new_instance not in by_school  # the sibling school's task is not ours
    pinned = instances.start_instance(db, v1.key, org.school, version=1, actor=OPERATOR)
    assert pinned.template_version == 1


def test_invalid_bundle_is_refused_and_nothing_is_stored(db: Database, bundle_copy: Path) -> None:
    (bundle_copy / "forms" / "review.form").unlink()
    with db.reading() as session:
        before = session.scalar(select(func.count()).select_from(TemplateVersion))
    with pytest.raises(TemplateInvalid) as caught:
        versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    assert any(p.element_id == "review" for p in caught.value.problems)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(TemplateVersion)) == before


def test_only_admins_deploy_as_users(db: Database, org: Org, bundle_copy: Path) -> None:
    with pytest.raises(NotAllowed):
        versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=org.regional)
    deployed = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=org.admin)
    assert deployed.created


def test_compiled_version_rebuilds_from_stored_files(db: Database, bundle_copy: Path) -> None:
    deployed = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR)
    # As after a restart: only the database knows the template (no public call empties the process's cache).
    versions._COMPILED._items.clear()  # noqa: SLF001
    with db.reading() as session:
        compiled = versions.compiled_version(session, deployed.template_version_id)
    assert compiled.spec.key == deployed.key and "review" in compiled.spec.user_tasks


def test_stage_titles_follow_the_newest_version(db: Database, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    assert versions.stage_titles(db, key) == {"questionnaire": "Анкетирование"}
    assert versions.stage_titles(db, "no-such-template") == {}
    manifest = bundle_copy / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"Анкетирование"', '"Анкеты школы"'),
                        encoding="utf-8")
    assert versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).version == 2
    assert versions.stage_titles(db, key) == {"questionnaire": "Анкеты школы"}
