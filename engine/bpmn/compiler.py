"""Validate a bundle and compile it into SpiffWorkflow specs plus our ``TemplateSpec``.

``check_bundle`` runs every check and returns all problems found; SpiffWorkflow's own parser runs
last, only on files that passed ours, and whatever it raises becomes a located problem too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import SpiffWorkflow
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn import lint
from engine.bpmn.bundle import (
    BASIC_KEYS,
    MANIFEST,
    Bundle,
    Manifest,
    bundle_size_problems,
    form_key,
    manifest_notes,
    read_manifest,
)
from engine.bpmn.manifest import SECTION_NAMES, Declared, ManifestSections, check_sections, cross_check
from engine.bpmn.names import check_names
from engine.bpmn.parser_messages import schema_message, spiff_message, unexpected_element
from engine.bpmn.spec import Stage, TemplateSpec
from engine.bpmn.xml import BPMN_NS, ROADMAP_NS, XmlDocument, drop_stray_metadata, line_of, owner_id, parse_xml
from engine.errors import Problem, TemplateInvalid
from engine.forms import FormDefinition
from engine.roles import LANE_ROLES
from engine.timing.due import DueRule

_SCHEMA_LOCK = threading.Lock()
_BPMN_XSD = Path(SpiffWorkflow.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"


@dataclass(frozen=True)
class CompiledTemplate:
    """A template ready to run: Spiff's specs (opaque to the engine) and our description."""

    spec: TemplateSpec
    process_spec: Any
    subprocess_specs: dict[str, Any]
    # Parsed forms by key, filled on first use: a completion validates against its task's form, and
    # parsing the definition and building its schema would otherwise happen on every one.
    _forms: dict[str, FormDefinition] = field(default_factory=dict, compare=False, repr=False)
    #: Whether any process of it has a multi-instance task (the runtime's replay of missed merges looks
    #: only then: walking the task tree costs ~0.1 ms a step).
    multi_instance: bool = False

    def form(self, key: str) -> FormDefinition:
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = FormDefinition.from_json(dict(self.spec.forms[key]))
        return found


@cache
def _bpmn_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_BPMN_XSD)))


def _schema_problems(bundle: Bundle, doc: XmlDocument) -> list[Problem]:
    with _SCHEMA_LOCK:  # lxml schema objects keep their error log on the instance
        schema = _bpmn_schema()
        if schema.validate(doc.root):
            return []
        errors = list(schema.error_log)
    owners = _owners_by_line(doc)
    id_lines: dict[str, list[int]] = {}
    for element in doc.root.iter():
        line = line_of(element) if isinstance(element.tag, str) and element.get("id") else None
        if line:
            id_lines.setdefault(element.get("id", ""), []).append(line)
    return [Problem(bundle.display(doc.path), e.line or None, owners.get(e.line),
                    schema_message(e.message, e.line or None, id_lines))
            for e in errors[:50] if not _reported_by_lint(e.message)]


def _reported_by_lint(message: str) -> bool:
    """A BPMN element the engine does not run is named by our rules (with what to use instead); the schema's
    «not expected» about the same element would say it twice."""
    unexpected = unexpected_element(message)
    return unexpected is not None and unexpected[0] == BPMN_NS and unexpected[1] not in lint.SUPPORTED_BPMN


def _owners_by_line(doc: XmlDocument) -> dict[int, str]:
    """For each line, the id of the element an admin would look for (the nearest one with an id)."""
    owners: dict[int, str] = {}
    for element in doc.root.iter():
        line = line_of(element) if isinstance(element.tag, str) else None
        if line and line not in owners:
            found = owner_id(element)
            if found:
                owners[line] = found
    return owners


def _read_forms(bundle: Bundle) -> tuple[dict[str, FormDefinition], list[Problem]]:
    forms, problems = {}, []
    for path in bundle.form_paths:
        try:
            text = bundle.files[path].decode("utf-8")
        except UnicodeDecodeError as err:
            line = bundle.files[path][:err.start].count(b"\n") + 1
            problems.append(Problem(bundle.display(path), line, None, "файл формы не в кодировке UTF-8"))
            continue
        form, found = FormDefinition.check(text)
        if form is not None:
            forms[form_key(path)] = form
        problems += [Problem(bundle.display(path), p.line, p.element, p.message) for p in found]
    return forms, problems


def _parse_all(bundle: Bundle, paths: list[str]) -> tuple[list[XmlDocument], list[Problem]]:
    docs, problems = [], []
    for path in paths:
        doc, found = parse_xml(path, bundle.files[path])
        problems += [Problem(bundle.display(path), p.line, p.element_id, p.message) for p in found]
        if doc is not None:
            drop_stray_metadata(doc)
            docs.append(doc)
    return docs, problems


def check_bundle(bundle: Bundle, *, stored: bool = False) -> tuple[CompiledTemplate | None, list[Problem]]:
    """Run every check; return the compiled template only when there is no problem at all.

    Each check trusts only what the checks before it accepted and says nothing about what they refused:
    one wrong value is one line, not a cascade. ``stored``: a version deployed earlier, compiled again to
    run its instances — the checks that only guide an author (sizes, names read by expressions, unknown
    manifest keys) are left out, so that making them stricter never stops instances already running."""
    problems = [] if stored else bundle_size_problems(bundle)
    if problems:
        return None, problems  # a 30 MB form is not parsed to be told it is too big
    manifest = None
    if bundle.has_manifest:
        manifest, problems = read_manifest(bundle, tuple(LANE_ROLES))
        if manifest is not None and not stored:
            problems += manifest_notes(manifest, BASIC_KEYS + SECTION_NAMES)
    elif not bundle.bpmn_paths or len(bundle.files) > 1:
        problems.append(Problem(bundle.display(MANIFEST), None, None, "в шаблоне нет manifest.json"))
    if not bundle.bpmn_paths:
        problems.append(Problem(bundle.source, None, None, "в шаблоне нет ни одного BPMN-файла"))
    bpmn_docs, found = _parse_all(bundle, bundle.bpmn_paths)
    dmn_docs, found_dmn = _parse_all(bundle, bundle.dmn_paths)
    problems += found + found_dmn
    for doc in bpmn_docs:
        problems += _schema_problems(bundle, doc)
    forms, found = _read_forms(bundle)
    problems += found
    ctx = _lint(bundle, manifest, bpmn_docs, dmn_docs, forms)
    problems += ctx.problems
    tasks = _user_task_elements(bpmn_docs) if len(bpmn_docs) == len(bundle.bpmn_paths) else None
    sections, declared = None, Declared(actions_complete=False)
    if manifest is not None:
        sections, declared, found = _section_problems(bundle, manifest, ctx, forms, tasks)
        problems += found
    if not stored:
        problems += _name_problems(bundle, manifest, sections, declared, bpmn_docs, dmn_docs, forms)
    process_id = _process_id(bundle, manifest, bpmn_docs, ctx, problems)
    if problems or process_id is None:
        return None, problems
    return _compile(bundle, manifest, process_id, bpmn_docs, dmn_docs, forms, ctx)


def _user_task_elements(docs: list[XmlDocument]) -> dict[str, tuple[XmlDocument, etree._Element]]:
    return {task.get("id", ""): (doc, task) for doc in docs for task in doc.root.iter(f"{{{BPMN_NS}}}userTask")}


def _section_problems(bundle: Bundle, manifest: Manifest, ctx: lint.LintContext, forms: dict[str, FormDefinition],
                      tasks: dict[str, tuple[XmlDocument, etree._Element]] | None,
                      ) -> tuple[ManifestSections, Declared, list[Problem]]:
    """The manifest against the BPMN and the forms. ``tasks``: every user task, None when a BPMN file did not
    read (then no reference to a task is judged)."""
    sections, problems, declared = check_sections(manifest.where, manifest.raw, manifest.document)
    task_ids = frozenset(tasks) if tasks is not None else None
    problems += cross_check(sections, manifest, task_ids, ctx.user_tasks,
                            {name: form.keys() for name, form in forms.items()},
                            frozenset(form_key(path) for path in bundle.form_paths))
    if task_ids is not None:
        problems += [manifest.problem(("deadlines", task_id), f"пользовательской задачи «{task_id}» нет в BPMN")
                     for task_id in manifest.deadlines if task_id not in task_ids]
    for task in ctx.user_tasks.values():
        rule = DueRule.parse(task.deadline) if task.deadline else None
        if rule is None or rule.cohort_date is None or declared.calendar is None \
                or rule.cohort_date in declared.calendar:
            continue  # a date declared with a bad value was reported in cohort_calendar
        message = f"срок «{task.deadline}»: даты «{rule.cohort_date}» нет в cohort_calendar"
        doc, element = tasks[task.element_id] if tasks and task.element_id in tasks else (None, None)
        if doc is None or element is None or not element.get(f"{{{ROADMAP_NS}}}deadline"):
            problems.append(manifest.problem(("deadlines", task.element_id), message))
        else:
            problems.append(Problem(bundle.display(doc.path), line_of(element), task.element_id, message))
    return sections, declared, problems


def _name_problems(bundle: Bundle, manifest: Manifest | None, sections: ManifestSections | None,
                   declared: Declared, bpmn_docs: list[XmlDocument], dmn_docs: list[XmlDocument],
                   forms: dict[str, FormDefinition]) -> list[Problem]:
    lone_file = not bundle.has_manifest
    complete = (manifest is not None and declared.actions_complete and len(forms) == len(bundle.form_paths)
                and len(bpmn_docs) == len(bundle.bpmn_paths) and len(dmn_docs) == len(bundle.dmn_paths))
    return check_names(bundle.display, bpmn_docs, dmn_docs,
                       None if lone_file else {name: form.keys() for name, form in forms.items()},
                       sections if manifest is not None else None,
                       (manifest.where, manifest.raw, manifest.document) if manifest is not None else None,
                       complete)


def validate_bundle(bundle: Bundle) -> list[Problem]:
    return check_bundle(bundle)[1]


def compile_bundle(bundle: Bundle, *, stored: bool = False) -> CompiledTemplate:
    compiled, problems = check_bundle(bundle, stored=stored)
    if compiled is None:
        raise TemplateInvalid(problems or [Problem(bundle.source, None, None, "шаблон не собран")])
    return compiled


def _lint(bundle: Bundle, manifest: Manifest | None, bpmn_docs: list[XmlDocument],
          dmn_docs: list[XmlDocument], forms: dict[str, FormDefinition]) -> lint.LintContext:
    """The BPMN and DMN rules, told only what is known: a form file that is there but broken, a stage list
    or a deadline the manifest got wrong were reported on their own files and are not reported again."""
    lone_file = not bundle.has_manifest
    all_dmn_read = len(dmn_docs) == len(bundle.dmn_paths)
    ctx = lint.LintContext(
        roles=manifest.roles if manifest else tuple(LANE_ROLES),
        stages=frozenset(k for k, _ in manifest.stages) if manifest and manifest.stages is not None else None,
        forms=None if lone_file else frozenset(form_key(path) for path in bundle.form_paths),
        deadlines=manifest.deadlines if manifest else {},
        decisions=None if lone_file or not all_dmn_read
        else frozenset().union(*(lint.decision_ids(d) for d in dmn_docs)),
        display=bundle.display,
        deadlines_reported=manifest.refused_deadlines if manifest else (frozenset() if lone_file else None),
    )
    for doc in bpmn_docs:
        lint.lint_bpmn(doc, ctx)
    for doc in dmn_docs:
        lint.lint_dmn(doc, ctx)
    return ctx


def _process_id(bundle: Bundle, manifest: Manifest | None, docs: list[XmlDocument],
                ctx: lint.LintContext, problems: list[Problem]) -> str | None:
    if manifest is not None:
        if manifest.process is not None and manifest.process not in ctx.process_ids \
                and docs and len(docs) == len(bundle.bpmn_paths):
            problems.append(manifest.problem(("process",), f"процесс «{manifest.process}» не найден в BPMN"))
        return manifest.process
    if bundle.has_manifest:
        return None  # manifest.json did not read: that is the problem reported
    executable = [p for d in docs for p in d.root.iterfind(f"{{{BPMN_NS}}}process")
                  if p.get("isExecutable", "true") != "false"]
    return executable[0].get("id") if executable else None


def _compile(bundle: Bundle, manifest: Manifest | None, process_id: str, bpmn_docs: list[XmlDocument],
             dmn_docs: list[XmlDocument], forms: dict[str, FormDefinition],
             ctx: lint.LintContext) -> tuple[CompiledTemplate | None, list[Problem]]:
    parser = SpiffBpmnParser()
    lines = _element_index(bundle, bpmn_docs + dmn_docs)
    try:
        for doc in dmn_docs:
            parser.add_dmn_xml(doc.root, filename=doc.path)
        for doc in bpmn_docs:
            parser.add_bpmn_xml(doc.root, filename=doc.path)
        process_spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as err:
        return None, [_spiff_problem(bundle, err, lines)]
    except (SpiffWorkflowException, Exception) as err:  # noqa: BLE001 - Spiff raises many kinds
        return None, [Problem(bundle.source, None, None, f"не удалось собрать процесс: {err}")]
    # With no problem found, the manifest's key, title and stages are all there.
    stages = tuple(Stage(k, t) for k, t in (manifest.stages or ())) if manifest else ()
    spec = TemplateSpec(
        key=manifest.key or process_id if manifest else process_id,
        title=manifest.title or process_id if manifest else process_id,
        process_id=process_id,
        stages=stages,
        user_tasks=dict(ctx.user_tasks),
        forms={key: form.to_dict() for key, form in forms.items()},
        manifest=dict(manifest.raw) if manifest else {},
        has_timers=any(next(d.root.iter(f"{{{BPMN_NS}}}timerEventDefinition"), None) is not None for d in bpmn_docs),
    )
    heard = [_hear_instances_finish(each) for each in (process_spec, *subprocess_specs.values())]
    return CompiledTemplate(spec, process_spec, subprocess_specs, multi_instance=any(heard)), []


def _hear_instances_finish(process: Any) -> bool:
    """Connect each multi-instance task to the completion of its instances, as SpiffWorkflow does only when it
    creates instances: a workflow restored into a spec compiled in another process (after a restart, on another
    worker) would otherwise never merge the instances finished there, and stand still with nothing to do.
    Returns whether the process has any."""
    found = False
    for task_spec in process.task_specs.values():
        if isinstance(task_spec, MultiInstanceTask):
            found = True
            instance = process.task_specs[task_spec.task_spec]
            if not instance.completed_event.is_connected(task_spec.merge_child):
                instance.completed_event.connect(task_spec.merge_child)
    return found


def _element_index(bundle: Bundle, docs: list[XmlDocument]) -> dict[str, tuple[str, int | None]]:
    index: dict[str, tuple[str, int | None]] = {}
    for doc in docs:
        for element in doc.root.iter():
            if isinstance(element.tag, str) and element.get("id"):
                index.setdefault(element.get("id", ""), (bundle.display(doc.path), line_of(element)))
    return index


def _spiff_problem(bundle: Bundle, err: ValidationException,
                   lines: dict[str, tuple[str, int | None]]) -> Problem:
    element_id = getattr(err, "id", "") or None
    path, line = lines.get(element_id or "", (bundle.display(err.file_name or "") if err.file_name
                                              else bundle.source, None))
    if line is None and str(getattr(err, "line_number", "")).isdigit():
        line = int(err.line_number)
    # str(err) would append Spiff's notes after a «. »; the message itself is args[0], kept whole.
    said = str(err.args[0]) if err.args else str(err)
    notes = "; ".join(str(note) for note in getattr(err, "notes", ()) if note)
    message = spiff_message(f"{said} ({notes})" if notes else said, getattr(err, "tag", ""))
    return Problem(path, line, element_id, message)
