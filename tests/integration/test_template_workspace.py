"""The admins' template workspace through the engine services, on PostgreSQL and SQLite: drafts kept even
when invalid, deploy only when valid, export/import, retiring versions, history, calendars."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import (
    Conflict,
    DraftNotFound,
    FileRejected,
    FormInvalid,
    NotAllowed,
    TemplateInvalid,
    TemplateNotFound,
    TemplateRetired,
)
from engine.models import Cohort, TemplateDraft, TemplateVersion
from engine.process import instances, tasks
from engine.process.cohorts import cohort_calendars, ensure_cohort, set_cohort_dates
from engine.reports.status import stage_status
from engine.templates import versions, workspace
from engine.timing.production_calendar import list_overrides, parse_override
from tests.conftest import Org, make_org

TASK_LINE = 22  # the line of <bpmn:userTask id="fill_questionnaire"> in the mini BPMN


@pytest.fixture
def key(db: Database, bundle_copy: Path) -> str:
    return versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key


def _versions(db: Database, key: str) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(TemplateVersion.version).where(TemplateVersion.key == key)
                                    .order_by(TemplateVersion.version)))


def _has_draft(db: Database, key: str) -> bool:
    with db.reading() as session:
        return session.scalar(select(TemplateDraft.id).where(TemplateDraft.key == key)) is not None


def without_form(bpmn: str) -> str:
    return bpmn.replace(' roadmap:form="questionnaire"', "", 1)


def test_invalid_draft_is_kept_and_deploy_waits_until_it_is_fixed(db: Database, org: Org, key: str) -> None:
    opened = workspace.open_draft(db, key, actor=org.admin)
    assert opened.valid and opened.base_version == 1 and "mini.bpmn" in [f.path for f in opened.files]
    original = workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin)
    saved = workspace.save_draft_file(db, key, "mini.bpmn", without_form(original), actor=org.admin)
    assert not saved.valid
    [problem] = [p for p in saved.problems if p.element_id == "fill_questionnaire"]
    assert (problem.path, problem.line) == ("mini.bpmn", TASK_LINE) and "roadmap:form" in problem.message
    assert workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin) == without_form(original)  # kept
    with pytest.raises(TemplateInvalid) as refused:
        workspace.deploy_draft(db, key, actor=org.admin)
    assert any(p.element_id == "fill_questionnaire" for p in refused.value.problems)
    assert _versions(db, key) == [1] and _has_draft(db, key)
    fixed = original.replace("Заполнить анкету", "Заполнить анкету школы")
    assert workspace.save_draft_file(db, key, "mini.bpmn", fixed, actor=org.admin).valid
    deployed = workspace.deploy_draft(db, key, actor=org.admin)
    assert (deployed.version, deployed.previous, deployed.created) == (2, 1, True)
    assert _versions(db, key) == [1, 2] and not _has_draft(db, key)


def test_unstorable_content_is_refused_and_nothing_changes(db: Database, org: Org, key: str) -> None:
    workspace.open_draft(db, key, actor=org.admin)
    before = workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin)
    for content in (b"<x>\xff not utf-8</x>", "a\x00b", "x" * (workspace.MAX_DRAFT_FILE_BYTES + 1)):
        with pytest.raises(FileRejected):
            workspace.save_draft_file(db, key, "mini.bpmn", content, actor=org.admin)
    assert workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin) == before
    with pytest.raises(DraftNotFound):
        workspace.save_draft_file(db, key, "forms/nowhere.form", "{}", actor=org.admin)


def test_changing_the_key_in_the_manifest_is_a_problem(db: Database, org: Org, key: str) -> None:
    workspace.open_draft(db, key, actor=org.admin)
    manifest = json.loads(workspace.read_draft_file(db, key, "manifest.json", actor=org.admin))
    saved = workspace.save_draft_file(db, key, "manifest.json",
                                      json.dumps({**manifest, "key": "someone-else"}), actor=org.admin)
    assert [p.path for p in saved.problems] == ["manifest.json"] and "ключ менять нельзя" in saved.problems[0].message


def test_forms_are_added_and_deleted_and_offered_to_the_editor(db: Database, org: Org, key: str) -> None:
    workspace.open_draft(db, key, actor=org.admin)
    path = workspace.add_form(db, key, "extra_info", actor=org.admin)
    assert path == "forms/extra_info.form"
    assert json.loads(workspace.read_draft_file(db, key, path, actor=org.admin))["components"] == []
    context = workspace.editor_context(db, key, actor=org.admin)
    assert context.forms == ["extra_info", "questionnaire", "review"]
    assert context.stages == [{"key": "questionnaire", "title": "Анкетирование"}]
    assert context.roles == ["school", "curator"]
    with pytest.raises(FileRejected):
        workspace.add_form(db, key, "extra_info", actor=org.admin)  # already there
    with pytest.raises(FileRejected):
        workspace.add_form(db, key, "../evil", actor=org.admin)
    with pytest.raises(FileRejected):
        workspace.delete_form(db, key, "mini.bpmn", actor=org.admin)  # only forms go this way
    workspace.delete_form(db, key, path, actor=org.admin)
    assert path not in [f.path for f in workspace.draft_view(db, key, actor=org.admin).files]


def test_export_import_round_trip(db: Database, org: Org, key: str) -> None:
    name, data = workspace.export_version(db, key, 1, actor=org.admin)
    assert name == f"{key}-v1.zip"
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"manifest.json", "mini.bpmn", "risk.dmn", "forms/questionnaire.form"} <= names
    imported = workspace.import_zip(db, data, key=key, actor=org.admin)
    assert imported.valid and {f.path for f in imported.files} == names
    # an unchanged draft deploys to the version it equals: nothing new is stored
    deployed = workspace.deploy_draft(db, key, actor=org.admin)
    assert (deployed.version, deployed.created) == (1, False) and _versions(db, key) == [1]


def _rezipped(data: bytes, folder: str, change_bpmn: Callable[[bytes], bytes]) -> bytes:
    """An exported bundle zipped again, its files under ``folder`` and mini.bpmn changed."""
    archive, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in archive.namelist():
            content = archive.read(item)
            target.writestr(f"{folder}{item}", change_bpmn(content) if item == "mini.bpmn" else content)
    return out.getvalue()


def test_a_bpmn_in_another_declared_encoding_is_kept_as_utf8(db: Database, org: Org, key: str) -> None:
    """An export in windows-1251 (as several modelers write) opens in the browser editor: the draft keeps it
    as UTF-8, names intact, the declaration saying so."""
    def in_cp1251(bpmn: bytes) -> bytes:
        text = bpmn.decode("utf-8").replace('encoding="UTF-8"', 'encoding="windows-1251"', 1)
        assert 'encoding="windows-1251"' in text
        return text.encode("cp1251")

    legacy = _rezipped(workspace.export_version(db, key, 1, actor=org.admin)[1], "", in_cp1251)
    imported = workspace.import_zip(db, legacy, key=key, actor=org.admin)
    assert imported.valid, imported.problems
    stored = workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin)
    assert "Заполнить анкету" in stored and "windows-1251" not in stored.splitlines()[0]


def test_import_of_an_invalid_bundle_keeps_the_files_as_a_draft(db: Database, org: Org, key: str) -> None:
    broken = _rezipped(workspace.export_version(db, key, 1, actor=org.admin)[1], "mini/",
                       lambda bpmn: without_form(bpmn.decode()).encode())
    imported = workspace.import_zip(db, broken, actor=org.admin)  # the key comes from the manifest
    assert imported.key == key and not imported.valid  # the top folder "mini/" is dropped
    assert any(p.element_id == "fill_questionnaire" for p in imported.problems)
    assert "roadmap:form" not in workspace.read_draft_file(db, key, "mini.bpmn",
                                                           actor=org.admin).split("fill_questionnaire")[1][:80]


def test_hostile_zips_are_refused_and_nothing_is_stored(db: Database, org: Org, key: str) -> None:
    for files in ({"../manifest.json": b"{}"}, {"/etc/passwd": b"x"}, {"a b.bpmn": b"<x/>"}):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            for name, content in files.items():
                out.writestr(name, content)
        with pytest.raises(TemplateInvalid):
            workspace.import_zip(db, buffer.getvalue(), key=key, actor=org.admin)
    with pytest.raises(TemplateInvalid, match="архив повреждён"):
        workspace.import_zip(db, b"not a zip", key=key, actor=org.admin)
    bomb = io.BytesIO()  # 6 MB of zeros pack into a few KB; the per-file limit refuses it
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("mini.bpmn", b"\0" * (6 * 1024 * 1024))
    with pytest.raises(TemplateInvalid, match="больше 5 МБ"):
        workspace.import_zip(db, bomb.getvalue(), key=key, actor=org.admin)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as out:
        for n in range(501):
            out.writestr(f"f{n}.bpmn", b"")
    with pytest.raises(TemplateInvalid, match="файлов в шаблоне: 501, допустимо не больше 500"):
        workspace.import_zip(db, many.getvalue(), key=key, actor=org.admin)
    assert not _has_draft(db, key)


def test_retired_version_starts_nothing_new_but_running_instances_go_on(db: Database, org: Org, key: str) -> None:
    running = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    workspace.set_retired(db, key, 1, retired=True, actor=org.admin)
    with pytest.raises(TemplateNotFound):
        instances.start_instance(db, key, org.sibling_school, actor=OPERATOR)
    with pytest.raises(TemplateRetired):
        instances.start_instance(db, key, org.sibling_school, version=1, actor=OPERATOR)
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == running]
    completed = tasks.complete_task(db, task.id, {"coverage": 80}, actor=org.school_user)
    assert completed.next_task_ids  # the running instance went on to its next task
    detail = workspace.template_detail(db, key, actor=org.admin)
    assert [(v.version, v.status, v.running) for v in detail.versions] == [(1, "retired", 1)]
    report = stage_status(db, key, region_code=org.region)  # dashboards still read the retired version's stages
    assert [s.key for s in report.stages] == ["questionnaire"]
    workspace.set_retired(db, key, 1, retired=False, actor=org.admin)
    assert instances.start_instance(db, key, org.sibling_school, actor=OPERATOR).template_version == 1


def test_history_shows_who_changed_what_and_when(db: Database, org: Org, key: str) -> None:
    workspace.open_draft(db, key, actor=org.admin)
    original = workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin)
    workspace.save_draft_file(db, key, "mini.bpmn", original.replace("Старт", "Начало"), actor=org.admin)
    workspace.deploy_draft(db, key, actor=org.admin)
    workspace.set_retired(db, key, 1, retired=True, actor=org.admin)
    history = workspace.template_detail(db, key, actor=org.admin).history
    assert [(h.action, h.path, h.version) for h in history] == [
        ("template.retired", None, 1), ("template.deployed", None, 2),
        ("template.draft_saved", "mini.bpmn", None), ("template.draft_created", None, 1),
        ("template.deployed", None, 1)]
    assert {h.actor for h in history[:4]} == {f"Пользователь {org.admin}"} and history[-1].actor is None
    assert history[0].at >= history[-1].at


def test_the_list_shows_versions_drafts_and_running_instances(db: Database, org: Org, key: str) -> None:
    instances.start_instance(db, key, org.school, actor=OPERATOR)
    workspace.open_draft(db, key, actor=org.admin)
    [mine] = [t for t in workspace.list_templates(db, actor=org.admin) if t.key == key]
    assert (mine.newest_version, mine.draft_valid, mine.running) == (1, True, {1: 1})


def test_non_admins_are_refused_and_nothing_is_stored(db: Database, org: Org, key: str) -> None:
    for login in (org.regional, org.federal, org.school_user):
        for call in (lambda: workspace.list_templates(db, actor=login),
                     lambda: workspace.open_draft(db, key, actor=login),
                     lambda: workspace.template_detail(db, key, actor=login),
                     lambda: workspace.export_version(db, key, 1, actor=login),
                     lambda: workspace.set_retired(db, key, 1, retired=True, actor=login),
                     lambda: cohort_calendars(db, key, actor=login),
                     lambda: list_overrides(db, 2030, actor=login)):
            with pytest.raises(NotAllowed):
                call()
    assert not _has_draft(db, key)
    workspace.open_draft(db, key, actor=org.admin)
    with pytest.raises(NotAllowed):
        workspace.save_draft_file(db, key, "mini.bpmn", "<x/>", actor=org.regional)
    with pytest.raises(NotAllowed):
        workspace.deploy_draft(db, key, actor=org.regional)
    assert workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin).startswith("<?xml")
    with db.reading() as session:
        assert versions.find_version(session, key).status.value == "deployed"


def test_production_calendar_form_gives_field_errors() -> None:
    with pytest.raises(FormInvalid) as caught:
        parse_override("31.02.2030", "sometimes", "x" * 300)
    assert set(caught.value.errors) == {"day", "kind", "note"}
    assert parse_override(" 2030-05-04 ", "working", "перенос") == (parse_override("2030-05-04", "working", "")[0],
                                                                    True)


def test_cohort_dates_are_checked_field_by_field_and_all_or_nothing(db: Database, org: Org,
                                                                    bundle_copy: Path) -> None:
    manifest = bundle_copy / "manifest.json"
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**raw, "cohort_calendar": {"mini_open": "02-01", "mini_close": "03-01"}}),
                        encoding="utf-8")
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    ensure_cohort(db, 2091)
    with pytest.raises(FormInvalid) as caught:
        set_cohort_dates(db, 2091, key, {"mini_open": "2091-02-10", "mini_close": "первое марта",
                                                    "unknown": "2091-01-01"}, actor=org.admin)
    assert set(caught.value.errors) == {"mini_close", "unknown"}
    with db.reading() as session:
        assert "mini_open" not in (session.scalar(select(Cohort.dates).where(Cohort.year == 2091)) or {})
    set_cohort_dates(db, 2091, key, {"mini_open": "2091-02-10", "mini_close": ""}, actor=org.admin)
    [cohort] = [c for c in cohort_calendars(db, key, actor=org.admin) if c.year == 2091]
    by_name = {d.name: d for d in cohort.dates}
    assert by_name["mini_open"].effective.isoformat() == "2091-02-10"
    assert by_name["mini_close"].override is None and by_name["mini_close"].effective.isoformat() == "2091-03-01"
    set_cohort_dates(db, 2091, key, {"mini_open": ""}, actor=org.admin)  # back to the template's date
    with pytest.raises(NotAllowed):
        set_cohort_dates(db, 2091, key, {"mini_open": "2091-02-11"}, actor=org.regional)


def test_cli_exports_a_version_that_validates(db: Database, key: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from web.cli import cli

    target = tmp_path / "v1.zip"
    exported = CliRunner().invoke(cli, ["template", "export", key, "1", str(target)], obj=db)
    assert exported.exit_code == 0 and f"{key}@1" in exported.stdout
    checked = CliRunner().invoke(cli, ["validate", str(target)], obj=db)
    assert checked.exit_code == 0, checked.stdout
    missing = CliRunner().invoke(cli, ["template", "export", key, "9", str(tmp_path / "v9.zip")], obj=db)
    assert missing.exit_code == 1 and "версии 9" in missing.stderr and not (tmp_path / "v9.zip").exists()


def test_a_valid_draft_is_compared_with_a_version_before_deploy(db: Database, org: Org, key: str) -> None:
    workspace.open_draft(db, key, actor=org.admin)
    original = workspace.read_draft_file(db, key, "mini.bpmn", actor=org.admin)
    workspace.save_draft_file(db, key, "mini.bpmn", original.replace('roadmap:deadline="5WD"', 'roadmap:deadline="7WD"'),
                              actor=org.admin)
    found = workspace.diff_draft(db, key, 1, actor=org.admin)
    assert (found.old_version, found.new_version) == (1, None)
    assert found.tasks.changed == {"review": ["срок: «5WD» → «7WD»"]} and found.elements.empty
    workspace.save_draft_file(db, key, "mini.bpmn", without_form(original), actor=org.admin)
    with pytest.raises(TemplateInvalid):
        workspace.diff_draft(db, key, 1, actor=org.admin)


def test_two_admins_opening_a_draft_at_once_get_one_draft_and_a_clear_conflict(pg_db: Database,
                                                                                bundle_copy: Path) -> None:
    org = make_org(pg_db)
    key = versions.deploy_template(pg_db, versions.read_bundle(bundle_copy), actor=OPERATOR).key

    def rival_first() -> datetime:
        """The clock is read between the check for a draft and the insert: another admin gets in there."""
        now = datetime.now(UTC)
        if not _has_draft(pg_db, key):
            with pg_db.transaction() as session:
                session.add(TemplateDraft(key=key, created_at=now, updated_at=now))
        return now

    with pytest.raises(Conflict, match="другой администратор"):
        workspace.open_draft(Database(pg_db.engine, clock=rival_first), key, actor=org.admin)
    assert workspace.open_draft(pg_db, key, actor=org.admin).key == key  # the rival's draft, opened normally
