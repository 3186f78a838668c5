"""The admins' template workspace: one editable draft per template beside its immutable versions.

A draft is saved even when it is invalid — an admin's unfinished work is never thrown away — and every
answer carries the whole draft's problems, so the editor can show them as the admin types. Only a valid
draft is deployed; it then becomes version N+1 in the same transaction that removes the draft.
Every use case here is for admins only and audits each change (the template page's history reads it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, labels
from engine.actors import Who, is_operator
from engine.bpmn.bundle import (
    KEY_PATTERN,
    MANIFEST,
    MAX_FILE_BYTES,
    Bundle,
    file_size_problem,
    form_key,
    from_zip,
    size_problems,
)
from engine.bpmn.compiler import CompiledTemplate, check_bundle
from engine.bpmn.spec import TemplateSpec
from engine.bpmn.xml import BPMN_NS, ROADMAP_NS, as_utf8, parse_xml
from engine.db import Database
from engine.errors import (
    Conflict,
    DraftNotFound,
    FileRejected,
    Problem,
    TemplateInvalid,
    TemplateNotFound,
)
from engine.models import (
    AuditRecord,
    InstanceStatus,
    ProcessInstance,
    School,
    TemplateDraft,
    TemplateDraftFile,
    TemplateStatus,
    TemplateVersion,
    User,
)
from engine.org.core import Actor, load_admin
from engine.roles import LANE_ROLES
from engine.templates.diff import TemplateDiff, compare
from engine.templates.versions import Deployed, find_version, store_version

#: The bundle's own limit (engine.bpmn.bundle): a draft holds what any other way in may bring.
MAX_DRAFT_FILE_BYTES = MAX_FILE_BYTES
# Bundle files live at the top level or under forms/; names stay plain so they are safe in URLs and zips.
_PATH = re.compile(r"^(forms/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
_FORM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: Audit actions that make up a template's history, in the words the template page uses.
HISTORY_ACTIONS = tuple(labels.TEMPLATE_HISTORY)
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class DraftFile:
    path: str
    kind: str  # bpmn, dmn, form, manifest or other
    size: int
    updated_at: datetime


@dataclass(frozen=True)
class DraftView:
    key: str
    base_version: int | None
    updated_at: datetime
    updated_by: str | None
    files: list[DraftFile]
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        return not self.problems

    def problems_by_file(self) -> dict[str, list[Problem]]:
        grouped: dict[str, list[Problem]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.path, []).append(problem)
        return grouped


@dataclass(frozen=True)
class VersionRow:
    version: int
    title: str
    status: str
    deployed_at: datetime
    deployed_by: str | None
    running: int
    instances: int
    # The schools whose processes run on this version (the first SCHOOLS_SHOWN by name), for the confirmation
    # that retiring or replacing the version shows before it is done.
    schools: tuple[str, ...] = ()


SCHOOLS_SHOWN = 12


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str | None
    action: str
    path: str | None
    version: int | None


@dataclass(frozen=True)
class TemplateSummary:
    key: str
    title: str
    newest_version: int | None
    draft_valid: bool | None  # None: no draft
    running: dict[int, int] = field(default_factory=dict)  # version -> running instances


@dataclass(frozen=True)
class TemplateDetail:
    key: str
    title: str
    versions: list[VersionRow]
    draft: DraftView | None
    history: list[HistoryEntry]


@dataclass(frozen=True)
class DraftDeployed:
    key: str
    version: int
    previous: int | None  # the newest version before this one, for the migration link
    created: bool  # False: the draft equalled a stored version, which was kept


@dataclass(frozen=True)
class EditorContext:
    """What the BPMN properties panel may offer: the draft manifest's roles, stages, forms, calendar, and the
    deadline rules it sets per task (shown where a task has no roadmap:deadline of its own)."""

    roles: list[str]
    stages: list[dict[str, str]]
    forms: list[str]
    calendar: list[str]
    deadlines: dict[str, str]
    # form key -> the fields of that form the template refers to elsewhere (manifest rules, indicators, the
    # measures list): the form editor warns before such a key is renamed or removed.
    references: dict[str, list[dict[str, str]]] = field(default_factory=dict)


# --- helpers ------------------------------------------------------------------------------------------


def _admin(session: Session, actor: Who) -> Actor:
    return load_admin(session, actor, "шаблонами управляет только администратор")


def _find_draft(session: Session, key: str, *, lock: bool = False) -> TemplateDraft:
    """The draft; ``lock`` for changes, so a save and a deploy of one draft wait for each other (PostgreSQL)
    instead of one of them writing to a draft the other has just removed."""
    query = select(TemplateDraft).where(TemplateDraft.key == key)
    draft = session.scalar(query.with_for_update() if lock else query)
    if draft is None:
        raise DraftNotFound(f"у шаблона «{key}» нет черновика")
    return draft


def _file(draft: TemplateDraft, path: str) -> TemplateDraftFile:
    found = next((f for f in draft.files if f.path == path), None)
    if found is None:
        raise DraftNotFound(f"в черновике шаблона «{draft.key}» нет файла {path}")
    return found


def file_kind(path: str) -> str:
    if path == MANIFEST:
        return "manifest"
    suffix = PurePosixPath(path).suffix
    return {".bpmn": "bpmn", ".dmn": "dmn", ".form": "form"}.get(suffix, "other")


def _checked_content(path: str, content: str | bytes) -> bytes:
    data = content.encode("utf-8") if isinstance(content, str) else content
    too_big = file_size_problem(len(data))
    if too_big:
        raise FileRejected(f"{path}: {too_big}")
    data = _utf8_xml(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileRejected(f"файл {path} не текст в кодировке UTF-8") from err
    if "\x00" in text:
        raise FileRejected(f"файл {path} содержит нулевой байт: это не текст")
    return data


def _utf8_xml(path: str, data: bytes) -> bytes:
    """A BPMN or DMN file from another modeler in the encoding it declares (windows-1251, UTF-16, …) is
    kept as UTF-8, which the browser editors read; one that does not decode is left for the check to name
    the byte and line."""
    if not path.endswith((".bpmn", ".dmn")):
        return data
    converted = as_utf8(path, data)
    return converted if isinstance(converted, bytes) else data


def _check_sizes(key: str, files: Mapping[str, bytes]) -> None:
    """The draft as it would be after a change, within the limits every other way in keeps."""
    problems = [_relative(key, p) for p in size_problems(key, {path: len(data) for path, data in files.items()})]
    if problems:
        raise FileRejected("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))


def _relative(key: str, problem: Problem) -> Problem:
    """Problems name files as the bundle shows them (``KEY/path``); the workspace shows the path alone."""
    path = problem.path.removeprefix(f"{key}/")
    return Problem("" if path == key else path, problem.line, problem.element_id, problem.message)


def _key_problems(key: str, files: Mapping[str, bytes]) -> list[Problem]:
    try:
        found = json.loads(files[MANIFEST].decode("utf-8")).get("key")
    except (KeyError, ValueError, AttributeError, RecursionError):
        return []  # a missing or broken manifest is reported by the bundle check
    if found != key:
        return [Problem(MANIFEST, None, None, f"ключ шаблона в manifest.json — «{found}», а черновик принадлежит "
                                              f"шаблону «{key}»: ключ менять нельзя")]
    return []


def check_draft_files(key: str, files: Mapping[str, bytes]) -> tuple[CompiledTemplate | None, list[Problem]]:
    """The bundle check over the draft, plus: the manifest keeps the template's key."""
    compiled, problems = check_bundle(Bundle(key, dict(files)))
    problems = [_relative(key, p) for p in problems] + _key_problems(key, files)
    return (compiled if not problems else None), problems


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def draft_files(session: Session, key: str) -> dict[str, bytes]:
    """The draft's files as they are stored (valid or not), for a service that reads the draft in its own
    transaction — the trial run (engine/process/simulation.py) authorizes itself."""
    return {f.path: f.content for f in _find_draft(session, key).files}


def _draft_view(session: Session, draft: TemplateDraft) -> DraftView:
    files = {f.path: f.content for f in draft.files}
    _, problems = check_draft_files(draft.key, files)
    base = draft.base_version.version if draft.base_version is not None else None
    names = _user_names(session, {draft.updated_by_id})
    return DraftView(draft.key, base, draft.updated_at, names.get(draft.updated_by_id or 0),
                     [DraftFile(f.path, file_kind(f.path), len(f.content), f.updated_at) for f in draft.files],
                     problems)


def _insert(session: Session, draft: TemplateDraft) -> None:
    """A new draft; two admins creating one at the same moment meet the unique key, and the second is told."""
    session.add(draft)
    try:
        session.flush()
    except IntegrityError as err:
        raise Conflict(f"черновик шаблона «{draft.key}» только что создал другой администратор: "
                       "обновите страницу") from err


def _touch(draft: TemplateDraft, now: datetime, actor: Actor) -> None:
    draft.updated_at, draft.updated_by_id = now, actor.user_id


# --- templates and versions --------------------------------------------------------------------------


def _running_by_version(session: Session, version_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Version id -> (running, all) instances, in one query."""
    running = func.count().filter(ProcessInstance.status == InstanceStatus.RUNNING)
    rows = session.execute(select(ProcessInstance.template_version_id, running, func.count())
                           .where(ProcessInstance.template_version_id.in_(version_ids))
                           .group_by(ProcessInstance.template_version_id))
    return {version_id: (int(run or 0), int(total)) for version_id, run, total in rows}


def _running_schools(session: Session, version_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Version id -> the names of the schools whose processes run on it (at most SCHOOLS_SHOWN each)."""
    rows = session.execute(select(ProcessInstance.template_version_id, School.name).distinct()
                           .join(School, School.id == ProcessInstance.school_id)
                           .where(ProcessInstance.template_version_id.in_(version_ids),
                                  ProcessInstance.status == InstanceStatus.RUNNING)
                           .order_by(ProcessInstance.template_version_id, School.name))
    found: dict[int, list[str]] = {}
    for version_id, name in rows:
        names = found.setdefault(version_id, [])
        if len(names) < SCHOOLS_SHOWN:
            names.append(name)
    return {version_id: tuple(names) for version_id, names in found.items()}


def list_templates(db: Database, *, actor: Who) -> list[TemplateSummary]:
    with db.reading() as session:
        _admin(session, actor)
        # Columns only: the list needs no spec JSON or files.
        versions = session.execute(select(TemplateVersion.id, TemplateVersion.key, TemplateVersion.version,
                                          TemplateVersion.title, TemplateVersion.status)
                                   .order_by(TemplateVersion.key, TemplateVersion.version)).all()
        counts = _running_by_version(session, [v.id for v in versions])
        drafts = {d.key: {f.path: f.content for f in d.files} for d in session.scalars(select(TemplateDraft))}
    summaries = []
    for key in sorted({v.key for v in versions} | set(drafts)):
        mine = [v for v in versions if v.key == key]
        deployed = [v.version for v in mine if v.status == TemplateStatus.DEPLOYED]
        valid = None if key not in drafts else not check_draft_files(key, drafts[key])[1]
        summaries.append(TemplateSummary(key, mine[-1].title if mine else key, deployed[-1] if deployed else None,
                                         valid, {v.version: counts.get(v.id, (0, 0))[0] for v in mine}))
    return summaries


def template_detail(db: Database, key: str, *, actor: Who) -> TemplateDetail:
    with db.reading() as session:
        _admin(session, actor)
        versions = list(session.scalars(select(TemplateVersion).where(TemplateVersion.key == key)
                                        .order_by(TemplateVersion.version.desc())))
        draft = session.scalar(select(TemplateDraft).where(TemplateDraft.key == key))
        if not versions and draft is None:
            raise TemplateNotFound(f"шаблон «{key}» не найден")
        counts = _running_by_version(session, [v.id for v in versions])
        schools = _running_schools(session, [v.id for v in versions if counts.get(v.id, (0, 0))[0]])
        names = _user_names(session, {v.deployed_by_id for v in versions})
        rows = [VersionRow(v.version, v.title, v.status.value, v.deployed_at, names.get(v.deployed_by_id or 0),
                           *counts.get(v.id, (0, 0)), schools=schools.get(v.id, ())) for v in versions]
        title = versions[0].title if versions else key
        return TemplateDetail(key, title, rows, _draft_view(session, draft) if draft else None,
                              _history(session, key))


def _history(session: Session, key: str) -> list[HistoryEntry]:
    query = (select(AuditRecord, User.full_name).outerjoin(User, User.id == AuditRecord.actor_id)
             .where(AuditRecord.action.in_(HISTORY_ACTIONS), AuditRecord.details["key"].as_string() == key)
             .order_by(AuditRecord.id.desc()).limit(HISTORY_LIMIT))
    return [HistoryEntry(entry.at, name, entry.action, entry.details.get("path"), entry.details.get("version"))
            for entry, name in session.execute(query)]


def set_retired(db: Database, key: str, version: int, *, actor: Who, retired: bool) -> None:
    """Retire a version (no new instance starts on it; running ones go on) or return it to service."""
    with db.transaction() as session:
        user = _admin(session, actor)
        row = find_version(session, key, version, include_retired=True)
        row.status = TemplateStatus.RETIRED if retired else TemplateStatus.DEPLOYED
        audit.record(session, db.now(), "template.retired" if retired else "template.restored",
                     actor_id=user.user_id, template_version_id=row.id, key=key, version=version)


# --- the draft ---------------------------------------------------------------------------------------


def open_draft(db: Database, key: str, *, actor: Who) -> DraftView:
    """The template's draft; the first time, a copy of its newest version's files."""
    with db.transaction() as session:
        user = _admin(session, actor)
        draft = session.scalar(select(TemplateDraft).where(TemplateDraft.key == key))
        if draft is None:
            base = session.scalar(select(TemplateVersion).where(TemplateVersion.key == key)
                                  .order_by(TemplateVersion.version.desc()).limit(1))
            if base is None:
                raise TemplateNotFound(f"шаблон «{key}» не найден")
            now = db.now()
            draft = TemplateDraft(key=key, base_version=base, created_at=now, created_by_id=user.user_id,
                                  updated_at=now, updated_by_id=user.user_id)
            draft.files = [TemplateDraftFile(path=f.path, content=f.content, updated_at=now,
                                             updated_by_id=user.user_id) for f in base.files]
            _insert(session, draft)
            audit.record(session, now, "template.draft_created", actor_id=user.user_id,
                         template_version_id=base.id, key=key, version=base.version)
        return _draft_view(session, draft)


def draft_view(db: Database, key: str, *, actor: Who) -> DraftView:
    with db.reading() as session:
        _admin(session, actor)
        return _draft_view(session, _find_draft(session, key))


def read_draft_file(db: Database, key: str, path: str, *, actor: Who) -> str:
    with db.reading() as session:
        _admin(session, actor)
        return _file(_find_draft(session, key), path).content.decode("utf-8")


def save_draft_file(db: Database, key: str, path: str, content: str | bytes, *, actor: Who) -> DraftView:
    """Store one file of the draft even if it makes the draft invalid; answer with the draft's problems.

    Only content that cannot be stored at all (not UTF-8 text, too large) is refused, with nothing kept."""
    with db.transaction() as session:
        user = _admin(session, actor)
        data = _checked_content(path, content)
        draft = _find_draft(session, key, lock=True)
        found = _file(draft, path)
        _check_sizes(key, {**{f.path: f.content for f in draft.files}, path: data})
        now = db.now()
        found.content, found.updated_at, found.updated_by_id = data, now, user.user_id
        _touch(draft, now, user)
        audit.record(session, now, "template.draft_saved", actor_id=user.user_id, key=key, path=path)
        session.flush()
        return _draft_view(session, draft)


def _empty_form(name: str) -> bytes:
    form = {"type": "default", "id": name, "schemaVersion": 16, "components": []}
    return (json.dumps(form, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def add_form(db: Database, key: str, name: str, *, actor: Who) -> str:
    """Add an empty form-js form ``forms/NAME.form`` to the draft; returns its path."""
    path = f"forms/{name}.form"
    with db.transaction() as session:
        user = _admin(session, actor)
        if not _FORM_NAME.match(name):
            raise FileRejected(f"имя формы «{name}»: латиница в нижнем регистре, цифры, «_», «-»")
        draft = _find_draft(session, key, lock=True)
        if any(f.path == path for f in draft.files):
            raise FileRejected(f"форма {path} уже есть в черновике")
        _check_sizes(key, {**{f.path: f.content for f in draft.files}, path: _empty_form(name)})
        now = db.now()
        draft.files.append(TemplateDraftFile(path=path, content=_empty_form(name), updated_at=now,
                                             updated_by_id=user.user_id))
        _touch(draft, now, user)
        audit.record(session, now, "template.draft_form_added", actor_id=user.user_id, key=key, path=path)
        return path


def delete_form(db: Database, key: str, path: str, *, actor: Who) -> None:
    with db.transaction() as session:
        user = _admin(session, actor)
        if file_kind(path) != "form":
            raise FileRejected("удалить можно только файл формы (forms/*.form)")
        draft = _find_draft(session, key, lock=True)
        draft.files.remove(_file(draft, path))
        now = db.now()
        _touch(draft, now, user)
        audit.record(session, now, "template.draft_file_deleted", actor_id=user.user_id, key=key, path=path)


def discard_draft(db: Database, key: str, *, actor: Who) -> None:
    with db.transaction() as session:
        user = _admin(session, actor)
        session.delete(_find_draft(session, key, lock=True))
        audit.record(session, db.now(), "template.draft_discarded", actor_id=user.user_id, key=key)


def deploy_draft(db: Database, key: str, *, actor: Who) -> DraftDeployed:
    """A valid draft becomes the template's next version and goes away, in one transaction."""
    with db.transaction() as session:
        user = _admin(session, actor)
        draft = _find_draft(session, key, lock=True)
        files = {f.path: f.content for f in draft.files}
        compiled, problems = check_draft_files(key, files)
        if compiled is None:
            raise TemplateInvalid(problems)
        previous = session.scalar(select(func.max(TemplateVersion.version)).where(
            TemplateVersion.key == key, TemplateVersion.status == TemplateStatus.DEPLOYED))
        deployed: Deployed = store_version(session, db.now(), Bundle(key, files), compiled, user.user_id)
        session.delete(draft)
        return DraftDeployed(key, deployed.version, previous, deployed.created)


def editor_context(db: Database, key: str, *, actor: Who) -> EditorContext:
    with db.reading() as session:
        _admin(session, actor)
        draft = _find_draft(session, key)
        files = {f.path: f.content for f in draft.files}
    manifest = _lenient_manifest(files.get(MANIFEST, b""))
    stages = [{"key": str(s.get("key", "")), "title": str(s.get("title", ""))}
              for s in manifest.get("stages", []) if isinstance(s, dict)]
    calendar = manifest.get("cohort_calendar", {})
    deadlines = manifest.get("deadlines", {})
    return EditorContext(
        roles=[str(r) for r in manifest.get("roles", [])] or [str(r) for r in LANE_ROLES],
        stages=stages,
        forms=sorted(form_key(p) for p in files if file_kind(p) == "form"),
        calendar=sorted(calendar) if isinstance(calendar, dict) else [],
        deadlines={str(task): str(rule) for task, rule in deadlines.items()} if isinstance(deadlines, dict) else {},
        references=form_references(files, manifest),
    )


def _task_forms(files: Mapping[str, bytes]) -> dict[str, str]:
    """User task id -> the form it shows (roadmap:form), from every BPMN file of the draft that parses."""
    found: dict[str, str] = {}
    for path, data in files.items():
        if file_kind(path) != "bpmn":
            continue
        doc, _ = parse_xml(path, data)
        if doc is None:
            continue
        for task in doc.root.iter(f"{{{BPMN_NS}}}userTask"):
            form = task.get(f"{{{ROADMAP_NS}}}form")
            if form and task.get("id"):
                found[str(task.get("id"))] = form
    return found


def form_references(files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Which fields of which form the manifest refers to — the references the validator checks (engine/bpmn/
    manifest.py ``cross_check``): a rule's field (in its task's form), an indicator's field (in its respondent
    group's questionnaire), the measures list (in its task's form)."""
    refs: dict[str, list[dict[str, str]]] = {}

    def add(form: object, key: object, by: str) -> None:
        if isinstance(form, str) and isinstance(key, str) and form and key:
            refs.setdefault(form, []).append({"key": key, "by": by})

    task_forms = _task_forms(files)
    rules = manifest.get("rules")
    for task, items in (rules.items() if isinstance(rules, dict) else []):
        for rule in items if isinstance(items, list) else []:
            if isinstance(rule, dict):
                add(task_forms.get(str(task)), rule.get("field"), f"правило задачи «{task}»")
    questionnaires = manifest.get("questionnaires")
    groups = questionnaires.get("groups") if isinstance(questionnaires, dict) else None
    indicators = manifest.get("indicators")
    for key, indicator in (indicators.items() if isinstance(indicators, dict) else []):
        if isinstance(indicator, dict) and isinstance(groups, dict):
            group = groups.get(indicator.get("group"))
            add(group.get("form") if isinstance(group, dict) else None, indicator.get("field"), f"показатель «{key}»")
    measures = manifest.get("measures")
    if isinstance(measures, dict):
        add(task_forms.get(str(measures.get("task"))), measures.get("list"), "раздел measures (мероприятия)")
    return refs


def _lenient_manifest(data: bytes) -> dict[str, Any]:
    """The manifest as far as it reads; a broken one offers nothing rather than failing the editor."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    return raw if isinstance(raw, dict) else {}


def diff_draft(db: Database, key: str, old_version: int, *, actor: Who) -> TemplateDiff:
    """What deploying the draft would change against a stored version (the draft must be valid)."""
    with db.reading() as session:
        _admin(session, actor)
        files = {f.path: f.content for f in _find_draft(session, key).files}
        row = find_version(session, key, old_version, include_retired=True)
        old_files = {f.path: f.content for f in row.files}
        old_spec = TemplateSpec.from_dict(row.spec)
    compiled, problems = check_draft_files(key, files)
    if compiled is None:
        raise TemplateInvalid(problems)
    return compare(key, (old_version, Bundle(key, old_files), old_spec), (None, Bundle(key, files), compiled.spec))


# --- export and import -------------------------------------------------------------------------------


def export_version(db: Database, key: str, version: int, *, actor: Who) -> tuple[str, bytes]:
    """A stored version as a bundle zip (manifest.json, *.bpmn, *.dmn, forms/*.form): file name and bytes.
    For admins and the operator (``roadmap export``)."""
    with db.reading() as session:
        if not is_operator(actor):
            _admin(session, actor)
        row = find_version(session, key, version, include_retired=True)
        files = {f.path: f.content for f in row.files}
    return f"{key}-v{version}.zip", Bundle(key, files).to_zip()


def diagram_of(db: Database, key: str, version: int | None, *, actor: Who) -> bytes:
    """The BPMN of a stored version (or, with ``version`` None, of the draft), for the diff page's diagram of
    what changed. Admins only; a template without a BPMN file is not found."""
    with db.reading() as session:
        _admin(session, actor)
        if version is None:
            files = {f.path: f.content for f in _find_draft(session, key).files}
        else:
            files = {f.path: f.content for f in find_version(session, key, version, include_retired=True).files}
    for path in sorted(files):
        if file_kind(path) == "bpmn":
            return files[path]
    raise TemplateNotFound(f"в шаблоне «{key}» нет BPMN-схемы")


def export_draft(db: Database, key: str, *, actor: Who) -> tuple[str, bytes]:
    with db.reading() as session:
        _admin(session, actor)
        files = {f.path: f.content for f in _find_draft(session, key).files}
    return f"{key}-draft.zip", Bundle(key, files).to_zip()


def _unpacked(source: str, data: bytes) -> dict[str, bytes]:
    """The zip's files, refused as a whole (nothing stored) when it cannot be read safely."""
    bundle, problems = from_zip(source, data)  # the bundle's size limits, no absolute or parent paths
    if bundle is None:
        raise TemplateInvalid(problems)
    files = {path: _utf8_xml(path, content) for path, content in _without_top_folder(dict(bundle.files)).items()}
    bad = [Problem(source, None, None, f"недопустимое имя файла в архиве: {p}") for p in files
           if not _PATH.match(p) or ".." in p]
    if bad:
        raise TemplateInvalid(bad)
    if not files:
        raise TemplateInvalid([Problem(source, None, None, "архив пуст")])
    return files


def _without_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """A zip of the template's folder (``mini/manifest.json``) reads like a zip of its contents."""
    tops = {PurePosixPath(p).parts[0] for p in files}
    if MANIFEST in files or len(tops) != 1 or f"{next(iter(tops))}/{MANIFEST}" not in files:
        return files
    top = next(iter(tops))
    return {p.removeprefix(f"{top}/"): content for p, content in files.items()}


def _zip_key(source: str, files: Mapping[str, bytes]) -> str:
    key = _lenient_manifest(files.get(MANIFEST, b"")).get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise TemplateInvalid([Problem(f"{source}/{MANIFEST}", None, None,
                                       "по manifest.json не понять ключ шаблона (key)")])
    return key


def import_zip(db: Database, data: bytes, *, actor: Who, key: str | None = None, source: str = "архив") -> DraftView:
    """Make a bundle zip the template's draft (replacing the draft's files). The files are kept even when
    the template in them is invalid, so nothing is lost; the answer lists the problems. Without ``key``
    the zip's manifest names the template (a new one, or an existing one's next draft)."""
    with db.transaction() as session:
        user = _admin(session, actor)
        files = _unpacked(source, data)
        key = key or _zip_key(source, files)
        now = db.now()
        draft = session.scalar(select(TemplateDraft).where(TemplateDraft.key == key))
        if draft is None:
            base = session.scalar(select(TemplateVersion).where(TemplateVersion.key == key)
                                  .order_by(TemplateVersion.version.desc()).limit(1))
            draft = TemplateDraft(key=key, base_version=base, created_at=now, created_by_id=user.user_id,
                                  updated_at=now, updated_by_id=user.user_id)
            _insert(session, draft)
        for old in list(draft.files):
            draft.files.remove(old)
        session.flush()  # old rows go before new ones with the same paths arrive (the unique path constraint)
        draft.files.extend(TemplateDraftFile(path=p, content=c, updated_at=now, updated_by_id=user.user_id)
                           for p, c in sorted(files.items()))
        _touch(draft, now, user)
        session.flush()
        audit.record(session, now, "template.imported", actor_id=user.user_id, key=key, files=sorted(files))
        return _draft_view(session, draft)
