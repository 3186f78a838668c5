"""What a task's decision needs, shown beside its form: the panels its template declares (manifest ``context``).

A curator judging questionnaire coverage needs the response counts; a school choosing risk directions needs
the risk levels and the indicator values behind them; a reviewer needs the document under review, what
changed since the last round and their own last remarks. Templates say which panel goes on which task, from
a fixed set (engine/bpmn/manifest.py ``PANEL_KINDS``); this module reads each from the instance.

Cost: ``get_task`` reads the panels in its own session (``read_context``) from the task data it has restored
anyway, so a task page pays only the panels' queries: at most two indexed ones per kind, whatever the number of
panels, files or rounds (the completions are read once and shared by every panel that needs them). The
``task_context`` service answers the same on its own, for callers that want only the context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actors import Who
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.manifest import ContextPanel
from engine.db import Database
from engine.errors import NotAllowed, TaskNotFound
from engine.models import Attachment, AuditRecord, RespondentLink, Task, TaskStatus, User
from engine.org.core import load_user
from engine.process import live_workflows
from engine.process.measures import Execution, MeasureView, school_measures
from engine.process.questionnaires import response_counts
from engine.process.task_access import place_of_task
from engine.templates.versions import compiled_version


@dataclass(frozen=True)
class GroupResponses:
    key: str
    title: str
    responses: int
    # What is expected: the personal links handed out (anonymous groups), one for a named group (the
    # director); None when no link was made yet, so nothing is known but that nobody answered.
    expected: int | None

    @property
    def short(self) -> bool:
        """Nobody answered, or fewer than expected: worth a warning before the decision."""
        return self.responses == 0 or (self.expected is not None and self.responses < self.expected)


@dataclass(frozen=True)
class ResponsesPanel:
    title: str
    groups: tuple[GroupResponses, ...]
    kind: str = "responses"

    @property
    def short(self) -> tuple[GroupResponses, ...]:
        return tuple(g for g in self.groups if g.short)


@dataclass(frozen=True)
class FactorRisk:
    key: str
    title: str
    level: str | None  # high, medium, low, no_data (what the decision table gave); None: not rated yet
    indicator: str
    indicator_title: str
    aggregate: str  # how the value was computed: a share is shown as per cent
    value: float | None
    chosen: bool


@dataclass(frozen=True)
class RiskProfilePanel:
    title: str
    factors: tuple[FactorRisk, ...]
    catalogue_version: str
    kind: str = "risk_profile"


@dataclass(frozen=True)
class DocumentFile:
    id: int
    filename: str
    version: int
    size: int
    uploaded_at: datetime
    uploaded_by: str | None


@dataclass(frozen=True)
class Submission:
    """One completion of the reviewed task: when, by whom, with which files."""

    at: datetime
    by: str | None
    files: tuple[DocumentFile, ...]


@dataclass(frozen=True)
class FieldValue:
    key: str
    label: str
    value: Any
    changed: bool = False
    before: Any = None  # the previous submission's value, when it changed


@dataclass(frozen=True)
class DocumentsPanel:
    title: str
    task_name: str
    field_label: str
    current: Submission | None
    previous: Submission | None
    fields: tuple[FieldValue, ...]  # the compared fields as now submitted, each marked if it changed
    rounds: int  # how many times the document was submitted
    kind: str = "documents"


@dataclass(frozen=True)
class Comment:
    key: str
    label: str
    text: Any
    by: str | None
    at: datetime | None
    task_name: str | None


@dataclass(frozen=True)
class CommentsPanel:
    title: str
    comments: tuple[Comment, ...]
    kind: str = "comments"


@dataclass(frozen=True)
class ValuesPanel:
    title: str
    values: tuple[FieldValue, ...]
    kind: str = "values"


@dataclass(frozen=True)
class MeasuresPanel:
    """The school's roadmap of measures with their state and the execution count (engine/process/measures.py)."""

    title: str
    school_code: str
    today: date
    measures: tuple[MeasureView, ...]
    execution: Execution
    kind: str = "measures"


Panel = ResponsesPanel | RiskProfilePanel | DocumentsPanel | CommentsPanel | ValuesPanel | MeasuresPanel


@dataclass(frozen=True)
class TaskContext:
    panels: tuple[Panel, ...] = ()


def task_context(db: Database, task_id: int, *, actor: Who) -> TaskContext:
    """The declared panels of an open task, for whoever may open the task (acts on it or oversees it).

    A closed task shows none: its data is no longer the workflow's, and what was decided is in the history."""
    with db.reading() as session:
        user = load_user(session, actor)
        task = session.get(Task, task_id)
        if task is None:
            raise TaskNotFound(f"задача {task_id} не найдена")
        place = place_of_task(task)
        if not (user.scope.can_act(task.role, place) or user.scope.oversees(place)):
            raise NotAllowed("эта задача вне вашей зоны ответственности")
        compiled = compiled_version(session, task.instance.template_version_id)
        if task.status is not TaskStatus.READY or not compiled.spec.sections.context.get(task.element_id):
            return TaskContext()
        return read_context(session, task, compiled, _task_data(db, task, compiled), db.now())


def read_context(session: Session, task: Task, compiled: CompiledTemplate, data: Mapping[str, Any],
                 now: datetime | None = None) -> TaskContext:
    """The panels of an open task whose data the caller has read (``get_task`` does, in its own session, so
    the task page pays only for the panels' own queries). The caller has authorized the reader."""
    declared = compiled.spec.sections.context.get(task.element_id, ())
    if not declared:
        return TaskContext()
    reader = _Reader(session, task, compiled, data, declared, now or datetime.now(UTC))
    return TaskContext(tuple(panel for panel in map(reader.panel, declared) if panel is not None))


def panel_data(panel: Panel) -> dict[str, Any]:
    """A panel as plain JSON data (for the REST API): dates as ISO 8601, each response group's ``short``."""
    data = _plain(asdict(panel))
    if isinstance(panel, ResponsesPanel):
        for group, shown in zip(panel.groups, data["groups"], strict=True):
            shown["short"] = group.short
    assert isinstance(data, dict)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _task_data(db: Database, task: Task, compiled: CompiledTemplate) -> dict[str, Any]:
    """The task's data, from the workflow the task page restored a moment ago (kept again after reading)."""
    instance, live = task.instance, live_workflows.of(db)
    run = live_workflows.restore(live, instance.id, instance.version, compiled, instance.workflow_json)
    data = run.task_data(task.spiff_task_id)
    live.keep(instance.id, instance.version, instance.workflow_json, run)
    return data


@dataclass(frozen=True)
class _Completion:
    task_id: int
    element_id: str
    task_name: str
    at: datetime
    by: str | None
    data: Mapping[str, Any]


class _Reader:
    def __init__(self, session: Session, task: Task, compiled: CompiledTemplate, data: Mapping[str, Any],
                 declared: Sequence[ContextPanel], now: datetime) -> None:
        self.session, self.task, self.compiled, self.data, self.now = session, task, compiled, data, now
        self.spec = compiled.spec
        # The tasks whose submissions the panels read: the reviewed ones, and those whose forms hold a remark.
        remarks = {key for panel in declared if panel.kind == "comments" for key in panel.fields}
        self._sources = {panel.task for panel in declared if panel.kind == "documents"} | {
            element for element, spec in self.spec.user_tasks.items()
            if remarks & {c.get("key") for c in _components(self.spec.forms.get(spec.form, {}))}}
        self._completions: list[_Completion] | None = None
        self._labels: dict[str, str] | None = None
        self._options: dict[str, dict[Any, str]] | None = None

    def panel(self, declared: ContextPanel) -> Panel | None:
        title = declared.title  # empty: the page gives the kind's own heading, in the reader's language
        if declared.kind == "responses":
            return self.responses(title)
        if declared.kind == "risk_profile":
            return self.risk_profile(title, declared)
        if declared.kind == "documents":
            return self.documents(title, declared)
        if declared.kind == "comments":
            return self.comments(title, declared.fields)
        if declared.kind == "measures":
            return self.measures(title)
        return self.values(title, declared.fields)

    def measures(self, title: str) -> MeasuresPanel:
        today, views, execution = school_measures(self.session, self.task.instance_id, self.now)
        return MeasuresPanel(title, self.task.school.code, today, views, execution)

    def responses(self, title: str) -> ResponsesPanel:
        instance_id = self.task.instance_id
        counts = response_counts(self.session, instance_id)
        links: dict[str, int] = {group: count for group, count in self.session.execute(
            select(RespondentLink.group, func.count()).where(RespondentLink.instance_id == instance_id)
            .group_by(RespondentLink.group))}
        groups = tuple(
            GroupResponses(g.key, g.title, counts.get(g.key, 0),
                           (int(links[g.key]) if links.get(g.key) else None) if g.anonymous else 1)
            for g in self.spec.sections.respondent_groups.values())
        return ResponsesPanel(title, groups)

    def risk_profile(self, title: str, declared: ContextPanel) -> RiskProfilePanel:
        sections = self.spec.sections
        levels = self.data.get(declared.levels) or {}
        values = self.data.get("indicators") or {}  # what aggregate_questionnaires wrote
        chosen = set(self.data.get(declared.chosen) or ()) if declared.chosen else set()
        rows = []
        for factor in sections.risk_factors:
            indicator = sections.indicators.get(factor.indicator)
            value = values.get(factor.indicator) if isinstance(values, Mapping) else None
            rows.append(FactorRisk(
                factor.key, factor.title, levels.get(factor.key) if isinstance(levels, Mapping) else None,
                factor.indicator, indicator.title if indicator else factor.indicator,
                indicator.aggregate if indicator else "", value if isinstance(value, int | float) else None,
                factor.key in chosen))
        return RiskProfilePanel(title, tuple(rows), self.data.get("risk_catalogue_version")
                                or sections.risk_catalogue_version)

    def documents(self, title: str, declared: ContextPanel) -> DocumentsPanel:
        reviewed = self.spec.user_tasks[declared.task]
        rounds = [c for c in self.completions() if c.element_id == declared.task
                  and self._same_subject(c.task_name, reviewed.name)]
        files = self._files(declared, [c.task_id for c in rounds[:2]])
        current, previous = (rounds + [None, None])[:2]
        fields = []
        for key in declared.compare:
            now = current.data.get(key) if current else self.data.get(key)
            before = previous.data.get(key) if previous else None
            changed = previous is not None and before != now
            fields.append(FieldValue(key, self.label(key), self.shown(key, now), changed,
                                     self.shown(key, before) if changed else None))
        return DocumentsPanel(title, reviewed.name, self.label(declared.field),
                              _submission(current, files), _submission(previous, files), tuple(fields), len(rounds))

    def _files(self, declared: ContextPanel, task_ids: Sequence[int]) -> dict[int, list[DocumentFile]]:
        found: dict[int, list[DocumentFile]] = {task_id: [] for task_id in task_ids}
        if not task_ids:
            return found
        rows = self.session.execute(
            select(Attachment.task_id, Attachment.id, Attachment.filename, Attachment.version, Attachment.size,
                   Attachment.uploaded_at, User.full_name)
            .outerjoin(User, User.id == Attachment.uploaded_by_id)
            .where(Attachment.instance_id == self.task.instance_id, Attachment.field_key == declared.field,
                   Attachment.task_id.in_(list(task_ids)))
            .order_by(Attachment.version.desc()))
        for task_id, attachment_id, filename, version, size, uploaded_at, by in rows:
            found[task_id].append(DocumentFile(attachment_id, filename, version, size, uploaded_at, by))
        return found

    def comments(self, title: str, fields: Sequence[str]) -> CommentsPanel | None:
        comments = []
        for key in fields:
            text = self.data.get(key)
            if text in (None, "", [], {}):
                continue
            # Who wrote it and when: the latest completion that submitted this very text.
            source = next((c for c in self.completions() if c.data.get(key) == text), None)
            comments.append(Comment(key, self.label(key), self.shown(key, text), source.by if source else None,
                                    source.at if source else None, source.task_name if source else None))
        return CommentsPanel(title, tuple(comments)) if comments else None

    def values(self, title: str, fields: Sequence[str]) -> ValuesPanel | None:
        shown = tuple(FieldValue(key, self.label(key), self.shown(key, self.data[key])) for key in fields
                      if self.data.get(key) not in (None, "", [], {}))
        return ValuesPanel(title, shown) if shown else None

    def completions(self) -> list[_Completion]:
        """The completions of the tasks the panels read, with what each submitted, newest first: one query."""
        if self._completions is None:
            rows = self.session.execute(
                select(AuditRecord.task_id, Task.element_id, Task.name, AuditRecord.at, User.full_name,
                       AuditRecord.details)
                .join(Task, Task.id == AuditRecord.task_id).outerjoin(User, User.id == AuditRecord.actor_id)
                .where(AuditRecord.instance_id == self.task.instance_id, AuditRecord.action == "task.completed",
                       Task.element_id.in_(sorted(self._sources)))
                .order_by(AuditRecord.id.desc()))
            self._completions = [
                _Completion(task_id, element, name, at, by, (details or {}).get("data") or {})
                for task_id, element, name, at, by, details in rows]
        return self._completions

    def _same_subject(self, name: str, reviewed_name: str) -> bool:
        """Inside a multi-instance (an antirisk programme per risk direction) a task is about one subject,
        named after its task's name: the review of direction k3 reads the k3 programme, not the k4 one."""
        own = self.spec.user_tasks.get(self.task.element_id)
        if own is None or not own.subject or not self.task.name.startswith(own.name + ": "):
            return True
        return name == f"{reviewed_name}: {self.task.name[len(own.name) + 2:]}"

    def label(self, key: str) -> str:
        if self._labels is None:
            self._read_forms()
        assert self._labels is not None
        return self._labels.get(key, key)

    def shown(self, key: str, value: Any) -> Any:
        """Choices as their labels (k3 → its factor's title), everything else as it is."""
        if self._options is None:
            self._read_forms()
        assert self._options is not None
        options = self._options.get(key, {})
        if isinstance(value, list):
            return [options.get(v, v) if isinstance(v, str | int) else v for v in value]
        return options.get(value, value) if isinstance(value, str | int) else value

    def _read_forms(self) -> None:
        """Labels and option labels of the template's task forms; the current task's own form first."""
        labels: dict[str, str] = {}
        options: dict[str, dict[Any, str]] = {}
        own = self.spec.user_tasks.get(self.task.element_id)
        forms = [own.form] if own else []
        forms += [t.form for t in self.spec.user_tasks.values() if t.form not in forms]
        for name in forms:
            for component in _components(self.spec.forms.get(name, {})):
                key = component.get("key")
                if not isinstance(key, str) or key in labels:
                    continue
                labels[key] = str(component.get("label") or key)
                values = component.get("values")
                if isinstance(values, list):
                    options[key] = {v["value"]: str(v.get("label", v["value"])) for v in values
                                    if isinstance(v, dict) and isinstance(v.get("value"), str | int)}
        self._labels, self._options = labels, options


def _components(form: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Top-level components and those inside groups (the keys the process data holds)."""
    found: list[Mapping[str, Any]] = []
    for component in form.get("components", []) or []:
        if isinstance(component, Mapping):
            found.append(component)
            if component.get("type") == "group":
                found += _components(component)
    return found


def _submission(completion: _Completion | None, files: Mapping[int, list[DocumentFile]]) -> Submission | None:
    if completion is None:
        return None
    return Submission(completion.at, completion.by, tuple(files.get(completion.task_id, ())))
