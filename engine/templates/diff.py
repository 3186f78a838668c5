"""What changed between two versions of a template: BPMN elements, user tasks (role, stage, form,
deadline, escalation), form fields, and decision-table rules — read from the stored, immutable versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.actors import Who
from engine.bpmn.bundle import Bundle
from engine.bpmn.escalation import format_escalation
from engine.bpmn.spec import TemplateSpec
from engine.bpmn.xml import local_name, parse_xml
from engine.db import Database
from engine.forms import FormDefinition, FormField
from engine.models import TemplateVersion
from engine.org.core import operator_or_admin
from engine.templates.versions import find_version

_TASK_ATTRIBUTES = ("name", "role", "stage", "form", "deadline", "subject", "escalation")
# The diff says what changed in words an admin reads: attribute names, field labels, old → new values.
_TASK_WORDS = {"name": "название", "role": "роль", "stage": "этап", "form": "форма", "deadline": "срок",
               "subject": "тема", "escalation": "эскалация"}
_KIND_WORDS = {"userTask": "задача", "scriptTask": "скрипт-задача", "serviceTask": "сервисная задача",
               "businessRuleTask": "задача бизнес-правила", "callActivity": "вызов процесса",
               "subProcess": "подпроцесс", "startEvent": "стартовое событие", "endEvent": "конечное событие",
               "intermediateCatchEvent": "промежуточное событие", "intermediateThrowEvent": "промежуточное событие",
               "boundaryEvent": "граничное событие", "exclusiveGateway": "исключающий шлюз",
               "parallelGateway": "параллельный шлюз", "inclusiveGateway": "включающий шлюз",
               "eventBasedGateway": "шлюз по событию", "sequenceFlow": "поток", "process": "процесс",
               "participant": "пул", "collaboration": "взаимодействие", "textAnnotation": "примечание",
               "dataObjectReference": "объект данных", "dataObject": "объект данных"}
_RULE_WORDS = {"min_length": "мин. длина", "max_length": "макс. длина", "minimum": "минимум", "maximum": "максимум",
               "pattern": "шаблон", "validation_type": "вид проверки", "decimal_digits": "знаков после запятой"}


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class TemplateDiff:
    key: str
    old_version: int | None
    new_version: int | None  # None: the template's draft
    elements: Changes
    tasks: Changes
    forms: Changes
    rules: Changes
    manifest: list[str]


def _bundle(row: TemplateVersion) -> Bundle:
    return Bundle(f"{row.key}@{row.version}", {f.path: f.content for f in row.files})


def _roots(bundle: Bundle, suffix: str) -> list[etree._Element]:
    roots = []
    for path in sorted(p for p in bundle.files if p.endswith(suffix)):
        doc, _ = parse_xml(path, bundle.files[path])
        if doc is not None:
            roots.append(doc.root)
    return roots


def _elements(bundle: Bundle) -> dict[str, str]:
    """BPMN flow elements by id → their kind and name (diagram shapes and lanes aside)."""
    found = {}
    for root in _roots(bundle, ".bpmn"):
        for element in root.iter():
            kind = local_name(element)
            if element.get("id") and kind and not kind.startswith("BPMN") and kind not in ("lane", "laneSet"):
                name = element.get("name", "")
                word = _KIND_WORDS.get(kind, kind)
                found[element.get("id", "")] = f"{word} «{name}»" if name else word
    return found


def _rules(bundle: Bundle) -> dict[str, str]:
    """Decision-table rules by id → their cells, so a changed threshold shows as a changed rule."""
    found = {}
    for root in _roots(bundle, ".dmn"):
        for rule in root.iter():
            if local_name(rule) == "rule" and rule.get("id"):
                cells = [(cell.findtext("{*}text") or "").strip() for cell in rule if local_name(cell) in
                         ("inputEntry", "outputEntry")]
                found[rule.get("id", "")] = " | ".join(cells)
    return found


def _compare(old: Mapping[str, Any], new: Mapping[str, Any], describe: Any) -> Changes:
    changes = Changes(sorted(set(new) - set(old)), sorted(set(old) - set(new)))
    for key in sorted(set(old) & set(new)):
        difference = describe(old[key], new[key])
        if difference:
            changes.changed[key] = difference
    return changes


def _task_difference(old: Any, new: Any) -> list[str]:
    return [f"{_TASK_WORDS[name]}: «{_shown(old, name)}» → «{_shown(new, name)}»" for name in _TASK_ATTRIBUTES
            if getattr(old, name) != getattr(new, name)]


def _shown(task: Any, name: str) -> str:
    value = getattr(task, name)
    if name == "escalation":  # the attribute's own text; None: the task follows the manifest's chain
        return "как в manifest.json" if value is None else format_escalation(value)
    return str(value)


def _field_name(field: FormField) -> str:
    return f"«{field.label}» ({field.key})" if field.label else field.key


def _field_changes(a: FormField, b: FormField) -> list[str]:
    """What changed in one field, in words: label, type, required, options, value checks — old → new."""
    parts = []
    if a.label != b.label:
        parts.append(f"подпись «{a.label}» → «{b.label}»")
    if a.type != b.type:
        parts.append(f"тип {a.type} → {b.type}")
    if a.required != b.required:
        parts.append("стало обязательным" if b.required else "стало необязательным")
    if a.options != b.options:
        added = [str(o) for o in b.options if o not in a.options]
        removed = [str(o) for o in a.options if o not in b.options]
        words = [f"+ «{o}»" for o in added] + [f"− «{o}»" for o in removed]
        parts.append("варианты: " + (", ".join(words) if words else "другой порядок"))
    for name, word in _RULE_WORDS.items():
        before, after = getattr(a.rules, name), getattr(b.rules, name)
        if before != after:
            parts.append(f"{word}: {'нет' if before is None else before} → {'нет' if after is None else after}")
    return parts


def _form_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    before = {f.key: f for f in FormDefinition.from_json(dict(old)).fields}
    after = {f.key: f for f in FormDefinition.from_json(dict(new)).fields}
    notes = [f"+ поле {_field_name(after[key])}, {after[key].type}{', обязательное' if after[key].required else ''}"
             for key in sorted(set(after) - set(before))]
    notes += [f"− поле {_field_name(before[key])}" for key in sorted(set(before) - set(after))]
    for key in sorted(set(before) & set(after)):
        parts = _field_changes(before[key], after[key])
        if parts:
            notes.append(f"~ поле {_field_name(after[key])}: {'; '.join(parts)}")
    return notes


def _manifest_difference(old: TemplateSpec, new: TemplateSpec) -> list[str]:
    notes = []
    for section in ("cohort_calendar", "deadlines", "escalation", "rules", "actions", "indicators", "risk_catalogue",
                    "context"):
        if old.manifest.get(section) != new.manifest.get(section):
            notes.append(f"изменён раздел manifest.json «{section}»")
    if [s.key for s in old.stages] != [s.key for s in new.stages]:
        notes.append("изменён список этапов")
    return notes


def diff_versions(db: Database, key: str, old_version: int, new_version: int, *, actor: Who) -> TemplateDiff:
    """What changed between two stored versions: for admins (the template pages) and the operator (``roadmap diff``)."""
    with db.reading() as session:
        operator_or_admin(session, actor, "шаблонами управляет только администратор")
        old_row = find_version(session, key, old_version, include_retired=True)
        new_row = find_version(session, key, new_version, include_retired=True)
        old_bundle, new_bundle = _bundle(old_row), _bundle(new_row)
        old_spec, new_spec = TemplateSpec.from_dict(old_row.spec), TemplateSpec.from_dict(new_row.spec)
    return compare(key, (old_version, old_bundle, old_spec), (new_version, new_bundle, new_spec))


#: A side of a comparison: the version number (None for a draft), its files and its spec.
Side = tuple[int | None, Bundle, TemplateSpec]


def compare(key: str, old: Side, new: Side) -> TemplateDiff:
    """What changed from ``old`` to ``new`` (stored versions, or a valid draft against a version)."""
    (old_version, old_bundle, old_spec), (new_version, new_bundle, new_spec) = old, new
    return TemplateDiff(
        key, old_version, new_version,
        elements=_compare(_elements(old_bundle), _elements(new_bundle), lambda a, b: [f"{a} → {b}"] if a != b else []),
        tasks=_compare(old_spec.user_tasks, new_spec.user_tasks, _task_difference),
        forms=_compare(old_spec.forms, new_spec.forms, _form_difference),
        rules=_compare(_rules(old_bundle), _rules(new_bundle), lambda a, b: [f"{a} → {b}"] if a != b else []),
        manifest=_manifest_difference(old_spec, new_spec),
    )
