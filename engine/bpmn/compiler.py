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
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn import lint
from engine.bpmn.bundle import MANIFEST, Bundle, Manifest, form_key, read_manifest
from engine.bpmn.manifest import cross_check, read_sections
from engine.bpmn.parser_messages import schema_message, spiff_message, unexpected_element
from engine.bpmn.spec import Stage, TemplateSpec
from engine.bpmn.xml import BPMN_NS, XmlDocument, drop_stray_metadata, line_of, owner_id, parse_xml
from engine.due import DueRule
from engine.errors import FormDefinitionInvalid, Problem, TemplateInvalid
from engine.forms import FormDefinition
from engine.roles import LANE_ROLES

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
            forms[form_key(path)] = FormDefinition.from_json(bundle.files[path].decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(bundle.display(path), None, None, "файл формы не в кодировке UTF-8"))
        except FormDefinitionInvalid as err:
            problems += [Problem(bundle.display(path), None, None, p) for p in err.problems]
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


def check_bundle(bundle: Bundle) -> tuple[CompiledTemplate | None, list[Problem]]:
    """Run every check; return the compiled template only when there is no problem at all."""
    problems: list[Problem] = []
    manifest = None
    if bundle.has_manifest:
        manifest, problems = read_manifest(bundle, tuple(LANE_ROLES))
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
    if manifest is not None:
        problems += _section_problems(bundle, manifest, ctx, forms)
    process_id = _process_id(bundle, manifest, bpmn_docs, ctx, problems)
    if problems or process_id is None:
        return None, problems
    return _compile(bundle, manifest, process_id, bpmn_docs, dmn_docs, forms, ctx)


def _section_problems(bundle: Bundle, manifest: Manifest, ctx: lint.LintContext,
                      forms: dict[str, FormDefinition]) -> list[Problem]:
    where = bundle.display(MANIFEST)
    sections, problems = read_sections(where, manifest.raw)
    problems += cross_check(sections, where, ctx.user_tasks,
                            lambda name: set(forms[name].keys()) if name in forms else None)
    for task in ctx.user_tasks.values():
        rule = DueRule.parse(task.deadline)
        if rule.cohort_date is not None and rule.cohort_date not in sections.cohort_calendar:
            problems.append(Problem(where, None, task.element_id,
                                    f"срок «{task.deadline}»: даты «{rule.cohort_date}» нет в cohort_calendar"))
    return problems


def validate_bundle(bundle: Bundle) -> list[Problem]:
    return check_bundle(bundle)[1]


def compile_bundle(bundle: Bundle) -> CompiledTemplate:
    compiled, problems = check_bundle(bundle)
    if compiled is None:
        raise TemplateInvalid(problems or [Problem(bundle.source, None, None, "шаблон не собран")])
    return compiled


def _lint(bundle: Bundle, manifest: Manifest | None, bpmn_docs: list[XmlDocument],
          dmn_docs: list[XmlDocument], forms: dict[str, FormDefinition]) -> lint.LintContext:
    lone_file = not bundle.has_manifest
    ctx = lint.LintContext(
        roles=manifest.roles if manifest else tuple(LANE_ROLES),
        stages=frozenset(k for k, _ in manifest.stages) if manifest else None,
        forms=None if lone_file else frozenset(forms),
        deadlines=manifest.deadlines if manifest else {},
        decisions=None if lone_file else frozenset().union(*(lint.decision_ids(d) for d in dmn_docs)),
        display=bundle.display,
    )
    for doc in bpmn_docs:
        lint.lint_bpmn(doc, ctx)
    for doc in dmn_docs:
        lint.lint_dmn(doc, ctx)
    return ctx


def _process_id(bundle: Bundle, manifest: Manifest | None, docs: list[XmlDocument],
                ctx: lint.LintContext, problems: list[Problem]) -> str | None:
    if manifest is not None:
        if manifest.process not in ctx.process_ids and docs:
            problems.append(Problem(bundle.display(MANIFEST), None, None,
                                    f"процесс «{manifest.process}» из manifest.json не найден в BPMN"))
        for task_id in manifest.deadlines:
            if task_id not in ctx.user_tasks and not problems:
                problems.append(Problem(bundle.display(MANIFEST), None, task_id,
                                        "срок задан для несуществующей пользовательской задачи"))
        return manifest.process
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
    stages = tuple(Stage(k, t) for k, t in manifest.stages) if manifest else ()
    spec = TemplateSpec(
        key=manifest.key if manifest else process_id,
        title=manifest.title if manifest else process_id,
        process_id=process_id,
        stages=stages,
        user_tasks=dict(ctx.user_tasks),
        forms={key: form.to_dict() for key, form in forms.items()},
        manifest=dict(manifest.raw) if manifest else {},
        has_timers=any(next(d.root.iter(f"{{{BPMN_NS}}}timerEventDefinition"), None) is not None for d in bpmn_docs),
    )
    return CompiledTemplate(spec, process_spec, subprocess_specs), []


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
