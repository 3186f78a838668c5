"""The manifest's project sections: what a template declares besides its BPMN.

* ``cohort_calendar`` — named dates of the project year (``"questionnaire_close": "03-01"``) that
  deadline rules like ``cohort:questionnaire_close`` refer to;
* ``rules`` — per user task, checks across fields and process data that a form alone cannot express
  (``participation != 'confirmed' or bool(curator_login)``), run by the safe evaluator;
* ``actions`` — per user task, named engine actions run on completion (bind the chosen curator to the
  school, aggregate questionnaire answers into indicators, …); templates name them, never code them;
* ``questionnaires`` — respondent groups with their forms, and the task during which answers are taken;
* ``indicators`` — how answers aggregate (mean, share, …) into the numbers decision tables rate;
* ``risk_catalogue`` — the versioned list of risk factors, each rated from one indicator;
* ``measures`` — which task's dynamic list becomes the school's tracked roadmap of measures (its item
  fields for title, due date, responsible person, risk direction), the measure statuses (which count as
  done or failed, which need a reason, which need evidence); engine/process/measures.py keeps them;
* ``visits`` — the curator visit schedule: which task is the curator's visit report (and its date field, which
  the ``link_visit`` action reads to link the report to the nearest open planned visit of that half-year), and
  the reminders before a planned visit and the escalation steps after it, not done (engine/process/visits.py);
* ``context`` — per user task, the panels of what its decision needs (response counts, the risk profile,
  the document under review, the reviewer's last comments, chosen values), read from the instance by
  engine/process/task_context.py; templates pick panels from a fixed set, never code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.bpmn import safe_eval
from engine.errors import EngineError, Problem
from engine.json_document import JsonDocument, JsonPath, format_path
from engine.timing.due import DueRule

if TYPE_CHECKING:
    from engine.bpmn.bundle import Manifest

#: Engine actions a template may name, with the parameters each one needs.
KNOWN_ACTIONS: dict[str, tuple[str, ...]] = {
    "bind_curator": ("field",),
    "aggregate_questionnaires": (),
    "prepare_risk_inputs": (),
    "track_measures": (),
    "count_measures": (),
    "link_visit": (),
    "attach_school_report": (),
}
#: What each action writes into the process data (the keys of the dict its function in engine/process/actions.py
#: returns): conditions and scripts after the task may read these names.
ACTION_OUTPUTS: dict[str, tuple[str, ...]] = {
    "bind_curator": ("curator",),
    "aggregate_questionnaires": ("responses", "indicators"),
    "prepare_risk_inputs": ("risk_inputs", "risk_titles", "risk_catalogue_version"),
    "track_measures": ("measures_planned",),
    "attach_school_report": ("school_report_files",),
    "count_measures": ("measures_execution", "measures_counts"),
    "link_visit": ("planned_visit",),
}
#: The project sections of manifest.json, read here (engine.bpmn.bundle reads the basic keys).
SECTION_NAMES = ("cohort_calendar", "rules", "actions", "questionnaires", "indicators", "risk_catalogue",
                 "escalation", "context", "measures", "visits")
#: Context panels a template may put on a task page: kind → (required parameters, optional parameters).
#: ``task``/``levels``/``chosen``/``field`` name one thing, ``fields``/``compare`` a list of data fields.
PANEL_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "responses": ((), ()),
    "risk_profile": ((), ("levels", "chosen")),
    "documents": (("task", "field"), ("compare",)),
    "comments": (("fields",), ()),
    "values": (("fields",), ()),
    "measures": ((), ()),
}
_LIST_PARAMS = frozenset({"fields", "compare"})
AGGREGATES = ("mean", "share", "count", "sum", "min", "max")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class TaskRule:
    field: str
    check: str
    message: str


@dataclass(frozen=True)
class TaskAction:
    action: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContextPanel:
    """One panel of a task's context, as declared; ``title`` overrides the panel's heading."""

    kind: str
    title: str = ""
    task: str = ""  # documents: the user task whose documents and answers are under review
    field: str = ""  # documents: that task's file field
    fields: tuple[str, ...] = ()  # comments, values: data fields to show
    compare: tuple[str, ...] = ()  # documents: fields of the reviewed task compared with its previous answer
    levels: str = "risk_profile"  # risk_profile: the data field holding factor → level
    chosen: str = ""  # risk_profile: the data field holding the chosen factors, marked in the list


@dataclass(frozen=True)
class RespondentGroup:
    key: str
    title: str
    form: str
    anonymous: bool


@dataclass(frozen=True)
class Indicator:
    key: str
    title: str
    group: str
    field: str
    aggregate: str
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RiskFactor:
    key: str
    title: str
    indicator: str


@dataclass(frozen=True)
class EscalationStep:
    after: str  # a due rule counted from the due time: "3WD", "P7D"
    levels_up: int  # how far up the chain school → curator → municipal → regional to notify
    federal_overdue: bool = False


#: The project's defaults: a reminder two working days before due and at due; then +3, +7 and +14
#: working days up the chain, the last one flagging the task for the federal level.
DEFAULT_REMINDERS: tuple[str, ...] = ("2WD",)
DEFAULT_ESCALATION: tuple[EscalationStep, ...] = (
    EscalationStep("3WD", 1), EscalationStep("7WD", 2), EscalationStep("14WD", 3, federal_overdue=True))


#: What a measure status may mean for the execution count: nothing (still open), done, or failed.
MEASURE_OUTCOMES = ("", "done", "failed")
#: Item fields of the measures list: engine name → required.
MEASURE_FIELDS = {"title": True, "due_date": True, "responsible": True, "direction": False}


@dataclass(frozen=True)
class MeasureStatus:
    key: str
    title: str
    outcome: str = ""  # "done", "failed" or "" (open)
    needs_reason: bool = False  # a move into it needs a reason (a reschedule, a failure)
    needs_evidence: bool = False  # a move into it needs evidence (a link) already given or given with it
    reschedules: bool = False  # a move into it gives the measure a new due date


@dataclass(frozen=True)
class MeasuresSection:
    """The school's roadmap of measures: the task whose dynamic list ``list`` plans them, the names of the
    item fields (engine name → form key), and the statuses, the first one being a new measure's."""

    task: str
    list: str
    fields: Mapping[str, str]
    statuses: tuple[MeasureStatus, ...]
    #: The process data field holding the school's chosen risk directions (e.g. ``risk_directions``): the
    #: choices of each measure's ``direction`` select, offered to the form and checked on submission.
    directions_from: str = ""

    def status(self, key: str) -> MeasureStatus | None:
        return next((s for s in self.statuses if s.key == key), None)


#: A planned visit's defaults: the curator reminded two working days before; not done, the municipal
#: coordinator told +3 working days after the visit's day, the regional one +7.
DEFAULT_VISIT_REMINDERS: tuple[str, ...] = ("2WD",)
DEFAULT_VISIT_ESCALATION: tuple[EscalationStep, ...] = (EscalationStep("3WD", 1), EscalationStep("7WD", 2))


@dataclass(frozen=True)
class VisitsSection:
    """The curator visit schedule: ``report_task`` is the curator's visit report, ``date_field`` its visit date;
    reminders before a planned visit go to the curator, escalation steps up the chain curator → municipal →
    regional (``levels_up`` 1 or 2)."""

    report_task: str
    date_field: str
    reminders_before: tuple[str, ...] = DEFAULT_VISIT_REMINDERS
    escalation_steps: tuple[EscalationStep, ...] = DEFAULT_VISIT_ESCALATION


@dataclass(frozen=True)
class ManifestSections:
    cohort_calendar: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[str, tuple[TaskRule, ...]] = field(default_factory=dict)
    actions: Mapping[str, tuple[TaskAction, ...]] = field(default_factory=dict)
    questionnaire_open_while: tuple[str, ...] = ()
    respondent_groups: Mapping[str, RespondentGroup] = field(default_factory=dict)
    indicators: Mapping[str, Indicator] = field(default_factory=dict)
    risk_catalogue_version: str = ""
    risk_factors: tuple[RiskFactor, ...] = ()
    reminders_before: tuple[str, ...] = DEFAULT_REMINDERS
    escalation_steps: tuple[EscalationStep, ...] = DEFAULT_ESCALATION
    context: Mapping[str, tuple[ContextPanel, ...]] = field(default_factory=dict)
    measures: MeasuresSection | None = None
    visits: VisitsSection | None = None


@dataclass(frozen=True)
class Declared:
    """What a manifest declares, refused entries included, for the checks that follow: a name declared with
    a bad value was reported already, so what refers to it is not reported again. ``None``: the section
    itself could not be read, so nothing about it is known."""

    calendar: frozenset[str] | None = frozenset()
    groups: frozenset[str] | None = frozenset()
    indicators: frozenset[str] | None = frozenset()
    actions_complete: bool = True  # every action was read: what actions write into the data is known


class _Reader:
    """Reads one section after another, collecting problems instead of stopping at the first; each problem
    carries the JSON path of the value (as its element) and that value's line when the text is known."""

    def __init__(self, where: str, raw: Mapping[str, Any], document: JsonDocument | None) -> None:
        self.where = where
        self.raw = raw
        self.document = document
        self.problems: list[Problem] = []
        self.unreadable: set[str] = set()

    def problem(self, message: str, path: JsonPath) -> None:
        line = self.document.line(path) if self.document is not None else None
        self.problems.append(Problem(self.where, line, format_path(path) or None, message))

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            self.problem(f"раздел «{name}» должен быть объектом JSON", (name,))
            self.unreadable.add(name)
            return {}
        return value

    def declared(self, name: str) -> frozenset[str] | None:
        return None if name in self.unreadable else frozenset(self.mapping(name))

    def expression(self, text: Any, path: JsonPath, what: str) -> bool:
        if not isinstance(text, str) or not text.strip():
            self.problem(f"{what}: пустое выражение", path)
            return False
        try:
            safe_eval.check_expression(text)
        except EngineError as err:
            self.problem(f"{what} «{_shown(text)}» отклонено: {err.message}", path)
            return False
        return True


def _shown(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= 60 else one_line[:59] + "…"


def read_sections(where: str, raw: Mapping[str, Any],
                  document: JsonDocument | None = None) -> tuple[ManifestSections, list[Problem]]:
    sections, problems, _ = check_sections(where, raw, document)
    return sections, problems


def check_sections(where: str, raw: Mapping[str, Any],
                   document: JsonDocument | None = None) -> tuple[ManifestSections, list[Problem], Declared]:
    """Every section read on its own: what is valid is kept, what is not is reported where it is written."""
    reader = _Reader(where, raw, document)
    calendar = _calendar(reader)
    rules = {task: tuple(_rules(reader, task, items)) for task, items in reader.mapping("rules").items()}
    problems_before = len(reader.problems)
    actions = {task: tuple(_actions(reader, task, items)) for task, items in reader.mapping("actions").items()}
    actions_complete = len(reader.problems) == problems_before
    open_while, groups = _questionnaires(reader)
    indicators = _indicators(reader, groups)
    version, factors = _catalogue(reader, indicators)
    reminders, steps = _escalation(reader)
    context = {task: tuple(_panels(reader, task, items)) for task, items in reader.mapping("context").items()}
    measures = _measures(reader)
    visits = _visits(reader)
    sections = ManifestSections(calendar, rules, actions, open_while, groups, indicators, version, factors,
                                reminders, steps, context, measures, visits)
    questionnaires = raw.get("questionnaires", {})
    raw_groups = questionnaires.get("groups", {}) if isinstance(questionnaires, dict) else None
    declared = Declared(
        calendar=reader.declared("cohort_calendar"),
        groups=frozenset(raw_groups) if isinstance(raw_groups, dict) else None,
        indicators=reader.declared("indicators"),
        actions_complete=actions_complete,
    )
    return sections, reader.problems, declared


def _offset_rule(reader: _Reader, text: Any, what: str, path: JsonPath) -> bool:
    """Reminders and escalation steps are offsets from the due time: a duration or working days."""
    try:
        rule = DueRule.parse(text) if isinstance(text, str) else None
    except ValueError:
        rule = None
    if rule is None or rule.cohort_date is not None:
        shown = _shown(text) if isinstance(text, str) else text
        reader.problem(f"эскалация: {what} «{shown}» — ожидается длительность (P3D) или рабочие дни (3WD)", path)
        return False
    return True


def _escalation(reader: _Reader) -> tuple[tuple[str, ...], tuple[EscalationStep, ...]]:
    section = reader.mapping("escalation")
    if not section:
        return DEFAULT_REMINDERS, DEFAULT_ESCALATION
    reminders = section.get("reminders_before", list(DEFAULT_REMINDERS))
    if not isinstance(reminders, list):
        reader.problem("эскалация: reminders_before — список сроков (2WD, P1D)", ("escalation", "reminders_before"))
        reminders = []
    reminders = [r for i, r in enumerate(reminders)
                 if _offset_rule(reader, r, "напоминание", ("escalation", "reminders_before", i))]
    items = section.get("steps", [])
    if not isinstance(items, list):
        reader.problem("эскалация: steps — список шагов", ("escalation", "steps"))
        items = []
    steps = []
    for index, item in enumerate(items):
        at: JsonPath = ("escalation", "steps", index)
        levels = item.get("levels_up") if isinstance(item, dict) else None
        if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 3:
            reader.problem("эскалация: каждый шаг — after и levels_up от 1 до 3",
                           (*at, "levels_up") if isinstance(item, dict) and "levels_up" in item else at)
        elif _offset_rule(reader, item.get("after"), "шаг", (*at, "after")):
            steps.append(EscalationStep(item["after"], levels, bool(item.get("federal_overdue", False))))
    return tuple(reminders), tuple(steps)


def _calendar(reader: _Reader) -> dict[str, str]:
    calendar = {}
    for name, value in reader.mapping("cohort_calendar").items():
        match = _MONTH_DAY.match(value) if isinstance(value, str) else None
        if not _NAME.match(name) or match is None or not _valid_month_day(match):
            reader.problem(f"календарь когорты: «{name}»: ожидается имя из латиницы и дата вида ММ-ДД "
                           "(например 03-01)", ("cohort_calendar", name))
            continue
        calendar[name] = value
    return calendar


def _valid_month_day(match: re.Match[str]) -> bool:
    try:
        date(2024, int(match[1]), int(match[2]))  # a leap year, so 02-29 is allowed
    except ValueError:
        return False
    return True


def _rules(reader: _Reader, task: str, items: Any) -> list[TaskRule]:
    if not isinstance(items, list):
        reader.problem("правила задачи: список объектов с полями field, check и message", ("rules", task))
        return []
    rules = []
    for index, item in enumerate(items):
        at: JsonPath = ("rules", task, index)
        if not (isinstance(item, dict) and isinstance(item.get("field"), str) and item.get("message")):
            reader.problem("правило: объект с полями field, check и message", at)
            continue
        if reader.expression(item.get("check"), (*at, "check"), "проверка"):
            rules.append(TaskRule(item["field"], item["check"], str(item["message"])))
    return rules


def _actions(reader: _Reader, task: str, items: Any) -> list[TaskAction]:
    if not isinstance(items, list):
        reader.problem("действия задачи: список объектов с полем action", ("actions", task))
        return []
    actions = []
    for index, item in enumerate(items):
        at: JsonPath = ("actions", task, index)
        if not isinstance(item, dict):
            reader.problem("действие: объект с полем action", at)
            continue
        name = item.get("action")
        if not isinstance(name, str) or name not in KNOWN_ACTIONS:
            reader.problem(f"действие «{name}» неизвестно; доступны: {', '.join(KNOWN_ACTIONS)}",
                           (*at, "action") if "action" in item else at)
            continue
        params = {k: v for k, v in item.items() if k != "action"}
        missing = [p for p in KNOWN_ACTIONS[name] if not isinstance(params.get(p), str)]
        if missing:
            reader.problem(f"действию «{name}» не хватает параметров: {', '.join(missing)}", at)
            continue
        actions.append(TaskAction(name, params))
    return actions


def _panels(reader: _Reader, task: str, items: Any) -> list[ContextPanel]:
    if not isinstance(items, list):
        reader.problem("контекст задачи: список панелей — объектов с полем kind", ("context", task))
        return []
    panels = []
    for index, item in enumerate(items):
        panel = _panel(reader, item, ("context", task, index))
        if panel is not None:
            panels.append(panel)
    return panels


def _panel(reader: _Reader, item: Any, at: JsonPath) -> ContextPanel | None:
    if not isinstance(item, dict):
        reader.problem("панель контекста: объект с полем kind", at)
        return None
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in PANEL_KINDS:
        reader.problem(f"панель «{kind}» неизвестна; доступны: {', '.join(PANEL_KINDS)}",
                       (*at, "kind") if "kind" in item else at)
        return None
    required, optional = PANEL_KINDS[kind]
    ok = True
    for name, value in item.items():
        if name == "kind":
            continue
        if name not in ("title", *required, *optional):
            reader.problem(f"у панели «{kind}» нет параметра «{name}»; есть: "
                           f"{', '.join(('title', *required, *optional))}", (*at, name))
            ok = False
        elif name in _LIST_PARAMS and not (isinstance(value, list) and value
                                           and all(isinstance(v, str) and _NAME.match(v) for v in value)):
            reader.problem(f"панель «{kind}»: {name} — непустой список имён полей", (*at, name))
            ok = False
        elif name not in _LIST_PARAMS and not (isinstance(value, str) and value.strip()
                                               and (name == "title" or _NAME.match(value))):
            wanted = "непустая строка" if name == "title" else "имя из латиницы"
            reader.problem(f"панель «{kind}»: {name} — {wanted}", (*at, name))
            ok = False
    missing = [name for name in required if name not in item]
    if missing:
        reader.problem(f"панели «{kind}» не хватает параметров: {', '.join(missing)}", at)
        return None
    if not ok:
        return None
    params: dict[str, Any] = {name: tuple(value) if name in _LIST_PARAMS else value
                              for name, value in item.items() if name != "kind"}
    return ContextPanel(kind, **params)


def _measures(reader: _Reader) -> MeasuresSection | None:
    section = reader.mapping("measures")
    if not section:
        return None
    ok = True
    for name in ("task", "list"):
        if not (isinstance(section.get(name), str) and _NAME.match(section[name])):
            reader.problem(f"мероприятия: {name} — имя из латиницы", ("measures", name) if name in section
                           else ("measures",))
            ok = False
    fields = section.get("fields", {})
    if not isinstance(fields, dict):
        reader.problem("мероприятия: fields — объект «поле движка» → ключ поля в элементе списка",
                       ("measures", "fields"))
        fields, ok = {}, False
    for name, value in fields.items():
        if name not in MEASURE_FIELDS:
            reader.problem(f"мероприятия: поля «{name}» нет; есть: {', '.join(MEASURE_FIELDS)}",
                           ("measures", "fields", name))
            ok = False
        elif not (isinstance(value, str) and _NAME.match(value)):
            reader.problem(f"мероприятия: fields.{name} — ключ поля из латиницы", ("measures", "fields", name))
            ok = False
    missing = [name for name, required in MEASURE_FIELDS.items() if required and name not in fields]
    if missing:
        reader.problem(f"мероприятия: в fields не хватает полей: {', '.join(missing)}",
                       ("measures", "fields") if "fields" in section else ("measures",))
        ok = False
    directions_from = section.get("directions_from", "")
    if "directions_from" in section:
        if not (isinstance(directions_from, str) and _NAME.match(directions_from)):
            reader.problem("мероприятия: directions_from — имя поля данных с выбранными направлениями рисков "
                           "(латиница)", ("measures", "directions_from"))
            ok = False
        elif isinstance(fields, dict) and "direction" not in fields:
            reader.problem("мероприятия: directions_from без поля fields.direction — некуда выбирать направление",
                           ("measures", "directions_from"))
            ok = False
    statuses = _measure_statuses(reader, section.get("statuses"), "statuses" in section)
    if not ok or statuses is None:
        return None
    return MeasuresSection(section["task"], section["list"], dict(fields), statuses, directions_from)


def _visits(reader: _Reader) -> VisitsSection | None:
    section = reader.mapping("visits")
    if not section:
        return None
    ok = True
    for name in ("report_task", "date_field"):
        if not (isinstance(section.get(name), str) and _NAME.match(section[name])):
            reader.problem(f"посещения: {name} — имя из латиницы", ("visits", name) if name in section
                           else ("visits",))
            ok = False
    unknown = [name for name in section if name not in ("report_task", "date_field", "reminders_before",
                                                         "escalation")]
    for name in unknown:
        reader.problem(f"посещения: параметра «{name}» нет; есть: report_task, date_field, reminders_before, "
                       "escalation", ("visits", name))
        ok = False
    reminders = section.get("reminders_before", list(DEFAULT_VISIT_REMINDERS))
    if not isinstance(reminders, list):
        reader.problem("посещения: reminders_before — список сроков (2WD, P1D)", ("visits", "reminders_before"))
        reminders, ok = [], False
    for index, rule in enumerate(reminders):
        ok = _offset_rule(reader, rule, "напоминание о посещении", ("visits", "reminders_before", index)) and ok
    items = section.get("escalation", None)
    steps: list[EscalationStep] = list(DEFAULT_VISIT_ESCALATION) if items is None else []
    if items is not None and not isinstance(items, list):
        reader.problem("посещения: escalation — список шагов (after, levels_up)", ("visits", "escalation"))
        items, ok = [], False
    for index, item in enumerate(items or []):
        at: JsonPath = ("visits", "escalation", index)
        levels = item.get("levels_up") if isinstance(item, dict) else None
        if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 2:
            reader.problem("посещения: каждый шаг эскалации — after и levels_up 1 (муниципальный координатор) "
                           "или 2 (региональный)",
                           (*at, "levels_up") if isinstance(item, dict) and "levels_up" in item else at)
            ok = False
        elif _offset_rule(reader, item.get("after"), "шаг", (*at, "after")):
            steps.append(EscalationStep(item["after"], levels))
        else:
            ok = False
    if not ok:
        return None
    return VisitsSection(section["report_task"], section["date_field"], tuple(reminders), tuple(steps))


def _measure_statuses(reader: _Reader, items: Any, written: bool) -> tuple[MeasureStatus, ...] | None:
    at: JsonPath = ("measures", "statuses") if written else ("measures",)
    if not isinstance(items, list) or not items:
        reader.problem("мероприятия: statuses — непустой список статусов (первый — статус нового мероприятия)", at)
        return None
    statuses: list[MeasureStatus] = []
    ok = True
    for index, item in enumerate(items):
        where: JsonPath = ("measures", "statuses", index)
        if not (isinstance(item, dict) and isinstance(item.get("key"), str) and _NAME.match(item["key"])
                and isinstance(item.get("title"), str) and item["title"].strip()):
            reader.problem("статус мероприятия: объект с key (латиница) и title", where)
            ok = False
            continue
        if item.get("outcome", "") not in MEASURE_OUTCOMES:
            reader.problem("статус мероприятия: outcome — done, failed или не указан", (*where, "outcome"))
            ok = False
            continue
        flags = [name for name in ("reason", "evidence", "reschedules") if name in item
                 and not isinstance(item[name], bool)]
        if flags:
            reader.problem(f"статус мероприятия: {flags[0]} — true или false", (*where, flags[0]))
            ok = False
            continue
        if any(s.key == item["key"] for s in statuses):
            reader.problem(f"статус мероприятия «{item['key']}» объявлен дважды", (*where, "key"))
            ok = False
            continue
        statuses.append(MeasureStatus(item["key"], item["title"].strip(), item.get("outcome", ""),
                                      bool(item.get("reason", False)), bool(item.get("evidence", False)),
                                      bool(item.get("reschedules", False))))
    if ok and not any(s.outcome == "done" for s in statuses):
        reader.problem("мероприятия: ни один статус не означает выполнение (outcome: done)", at)
        ok = False
    if ok and statuses[0].outcome:
        reader.problem("мероприятия: первый статус — статус нового мероприятия, он не может быть итоговым",
                       ("measures", "statuses", 0))
        ok = False
    return tuple(statuses) if ok else None


def _questionnaires(reader: _Reader) -> tuple[tuple[str, ...], dict[str, RespondentGroup]]:
    section = reader.mapping("questionnaires")
    if not section:
        return (), {}
    open_while = section.get("open_while", [])
    if not isinstance(open_while, list) or not all(isinstance(t, str) for t in open_while):
        reader.problem("questionnaires.open_while: список id пользовательских задач", ("questionnaires", "open_while"))
        open_while = []
    groups = {}
    raw_groups = section.get("groups", {})
    if not isinstance(raw_groups, dict):
        reader.problem("questionnaires.groups: объект «ключ группы» → группа", ("questionnaires", "groups"))
        raw_groups = {}
    for key, group in raw_groups.items():
        if not (_NAME.match(key) and isinstance(group, dict) and isinstance(group.get("form"), str)):
            reader.problem(f"группа респондентов «{key}»: ключ из латиницы, нужны title, form и anonymous",
                           ("questionnaires", "groups", key))
            continue
        groups[key] = RespondentGroup(key, str(group.get("title", key)), group["form"],
                                      bool(group.get("anonymous", True)))
    return tuple(open_while), groups


def _indicators(reader: _Reader, groups: Mapping[str, RespondentGroup]) -> dict[str, Indicator]:
    questionnaires = reader.raw.get("questionnaires", {})
    # The groups as written, refused ones included; None when that section cannot be read at all.
    declared_groups = questionnaires.get("groups", {}) if isinstance(questionnaires, dict) else None
    indicators = {}
    for key, spec in reader.mapping("indicators").items():
        at: JsonPath = ("indicators", key)
        if not (isinstance(spec, dict) and isinstance(spec.get("field"), str) and isinstance(spec.get("group"), str)):
            reader.problem(f"показатель «{key}»: нужны группа респондентов (group) и поле (field)", at)
            continue
        if spec["group"] not in groups:
            if isinstance(declared_groups, dict) and spec["group"] not in declared_groups:
                reader.problem(f"показатель «{key}»: группа респондентов «{spec['group']}» не объявлена "
                               "в questionnaires.groups", (*at, "group"))
            continue  # a group declared with a bad value was reported already
        if spec.get("aggregate") not in AGGREGATES:
            reader.problem(f"показатель «{key}»: aggregate — одно из {', '.join(AGGREGATES)}",
                           (*at, "aggregate") if "aggregate" in spec else at)
            continue
        values = spec.get("values", [])
        if spec["aggregate"] == "share" and not (isinstance(values, list) and values):
            reader.problem(f"показатель «{key}»: для доли (share) нужен список значений values",
                           (*at, "values") if "values" in spec else at)
            continue
        indicators[key] = Indicator(key, str(spec.get("title", key)), spec["group"], spec["field"],
                                    spec["aggregate"], tuple(values) if isinstance(values, list) else ())
    return indicators


def _catalogue(reader: _Reader, indicators: Mapping[str, Indicator]) -> tuple[str, tuple[RiskFactor, ...]]:
    section = reader.mapping("risk_catalogue")
    if not section:
        return "", ()
    declared = reader.raw.get("indicators")
    items = section.get("factors", [])
    if not isinstance(items, list):
        reader.problem("risk_catalogue.factors: список факторов", ("risk_catalogue", "factors"))
        items = []
    factors: list[RiskFactor] = []
    for index, item in enumerate(items):
        at: JsonPath = ("risk_catalogue", "factors", index)
        ok = isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("key", "title", "indicator"))
        if not ok:
            reader.problem("фактор риска: объект с полями key, title, indicator", at)
        elif item["indicator"] not in indicators:
            # Reported only when truly undeclared: not for an indicator refused, nor a section unreadable.
            if "indicators" not in reader.raw or (isinstance(declared, dict) and item["indicator"] not in declared):
                reader.problem(f"фактор риска «{item['key']}»: показатель «{item['indicator']}» не объявлен",
                               (*at, "indicator"))
        elif any(f.key == item["key"] for f in factors):
            reader.problem(f"фактор риска «{item['key']}» объявлен дважды", (*at, "key"))
        else:
            factors.append(RiskFactor(item["key"], item["title"], item["indicator"]))
    return str(section.get("version", "")), tuple(factors)


def cross_check(sections: ManifestSections, manifest: Manifest, task_ids: frozenset[str] | None,
                user_tasks: Mapping[str, Any], forms: Mapping[str, set[str]],
                form_files: frozenset[str]) -> list[Problem]:
    """Checks that need the BPMN and the forms: tasks exist, rule fields exist, forms exist.

    ``task_ids``: every user task of the BPMN (None when a BPMN file could not be read); ``user_tasks``: the
    ones that passed their checks; ``forms``: the keys of every form that reads; ``form_files``: every form
    file there is, read or not — a form that is there but broken was reported on its own file."""
    problems = []
    if task_ids is not None:
        for section, tasks in (("rules", sections.rules), ("actions", sections.actions)):
            for task in tasks:
                if task not in task_ids:
                    problems.append(manifest.problem((section, task), f"пользовательской задачи «{task}» нет в BPMN"))
        for index, task in enumerate(sections.questionnaire_open_while):
            if task not in task_ids:
                problems.append(manifest.problem(("questionnaires", "open_while", index),
                                                 f"пользовательской задачи «{task}» нет в BPMN"))
    problems += _context_problems(sections, manifest, task_ids, user_tasks, forms)
    problems += _measures_problems(sections, manifest, task_ids, user_tasks, forms)
    problems += _visits_problems(sections, manifest, task_ids, user_tasks, forms)
    for task, rules in sections.rules.items():
        keys = forms.get(user_tasks[task].form) if task in user_tasks else None
        for index, rule in enumerate(rules):
            if keys is not None and rule.field not in keys:
                problems.append(manifest.problem(
                    ("rules", task, index, "field"),
                    f"правило ссылается на поле «{rule.field}», которого нет в форме задачи ({user_tasks[task].form})"))
    for group in sections.respondent_groups.values():
        keys = forms.get(group.form)
        if keys is None:
            if group.form not in form_files:
                problems.append(manifest.problem(("questionnaires", "groups", group.key, "form"),
                                                 f"анкета группы «{group.key}»: нет формы forms/{group.form}.form"))
            continue
        for indicator in sections.indicators.values():
            if indicator.group == group.key and indicator.field not in keys:
                problems.append(manifest.problem(("indicators", indicator.key, "field"),
                                                 f"показатель «{indicator.key}»: в анкете «{group.form}» нет поля "
                                                 f"«{indicator.field}»"))
    return problems


def _measures_problems(sections: ManifestSections, manifest: Manifest, task_ids: frozenset[str] | None,
                       user_tasks: Mapping[str, Any], forms: Mapping[str, set[str]]) -> list[Problem]:
    """The measures' task exists and its form has the list; ``track_measures`` is declared on that task only,
    and needs the section."""
    problems = []
    measures = sections.measures
    for task, actions in sections.actions.items():
        for index, action in enumerate(actions):
            visits = action.params.get("visits") if action.action == "attach_school_report" else None
            if visits is not None and task_ids is not None and visits not in task_ids:
                problems.append(manifest.problem(("actions", task, index, "visits"),
                                                 f"действие «attach_school_report»: задачи посещений «{visits}» "
                                                 "нет в BPMN"))
            if action.action not in ("track_measures", "count_measures", "attach_school_report"):
                continue
            if measures is None and "measures" not in manifest.raw:
                problems.append(manifest.problem(("actions", task, index, "action"),
                                                 f"действие «{action.action}»: в манифесте нет раздела measures"))
            elif action.action == "track_measures" and measures is not None and task != measures.task:
                problems.append(manifest.problem(("actions", task, index, "action"),
                                                 f"действие «track_measures» — у задачи «{measures.task}», "
                                                 "которую называет раздел measures"))
    if measures is None:
        return problems
    if task_ids is not None and measures.task not in task_ids:
        problems.append(manifest.problem(("measures", "task"), f"пользовательской задачи «{measures.task}» нет в BPMN"))
    keys = forms.get(user_tasks[measures.task].form) if measures.task in user_tasks else None
    if keys is not None and measures.list not in keys:
        problems.append(manifest.problem(("measures", "list"), f"в форме задачи «{measures.task}» "
                                                               f"({user_tasks[measures.task].form}) нет списка "
                                                               f"«{measures.list}»"))
    every_form_read = task_ids is not None and set(task_ids) <= set(user_tasks) and all(
        user_tasks[task].form in forms for task in user_tasks)
    task_fields = {key for task in user_tasks.values() for key in forms.get(task.form, ())}
    if measures.directions_from and every_form_read and measures.directions_from not in task_fields:
        problems.append(manifest.problem(("measures", "directions_from"),
                                         f"мероприятия: поля «{measures.directions_from}» нет ни в одной форме "
                                         "пользовательских задач"))
    raw_actions = manifest.raw.get("actions", {})
    written = raw_actions.get(measures.task, []) if isinstance(raw_actions, dict) else None
    # As written, refused entries included: an unreadable actions section was reported already, once.
    if isinstance(written, list) and not any(isinstance(a, dict) and a.get("action") == "track_measures"
                                             for a in written):
        problems.append(manifest.problem(("measures", "task"), f"у задачи «{measures.task}» не объявлено действие "
                                                               "track_measures: мероприятия не будут учтены"))
    return problems


def _visits_problems(sections: ManifestSections, manifest: Manifest, task_ids: frozenset[str] | None,
                     user_tasks: Mapping[str, Any], forms: Mapping[str, set[str]]) -> list[Problem]:
    """The visit report task exists and its form has the date field; ``link_visit`` is declared on that task
    only, and needs the section."""
    problems = []
    visits = sections.visits
    for task, actions in sections.actions.items():
        for index, action in enumerate(actions):
            if action.action != "link_visit":
                continue
            if visits is None and "visits" not in manifest.raw:
                problems.append(manifest.problem(("actions", task, index, "action"),
                                                 "действие «link_visit»: в манифесте нет раздела visits"))
            elif visits is not None and task != visits.report_task:
                problems.append(manifest.problem(("actions", task, index, "action"),
                                                 f"действие «link_visit» — у задачи «{visits.report_task}», "
                                                 "которую называет раздел visits"))
    if visits is None:
        return problems
    if task_ids is not None and visits.report_task not in task_ids:
        problems.append(manifest.problem(("visits", "report_task"),
                                         f"пользовательской задачи «{visits.report_task}» нет в BPMN"))
    keys = forms.get(user_tasks[visits.report_task].form) if visits.report_task in user_tasks else None
    if keys is not None and visits.date_field not in keys:
        problems.append(manifest.problem(("visits", "date_field"), f"в форме задачи «{visits.report_task}» "
                                                                   f"({user_tasks[visits.report_task].form}) нет "
                                                                   f"поля «{visits.date_field}»"))
    raw_actions = manifest.raw.get("actions", {})
    written = raw_actions.get(visits.report_task, []) if isinstance(raw_actions, dict) else None
    if isinstance(written, list) and not any(isinstance(a, dict) and a.get("action") == "link_visit"
                                             for a in written):
        problems.append(manifest.problem(("visits", "report_task"),
                                         f"у задачи «{visits.report_task}» не объявлено действие link_visit: "
                                         "отчёты о посещении не будут связаны с планом посещений"))
    return problems


def _context_problems(sections: ManifestSections, manifest: Manifest, task_ids: frozenset[str] | None,
                      user_tasks: Mapping[str, Any], forms: Mapping[str, set[str]]) -> list[Problem]:
    """Panels name tasks and fields that must exist; a task or form that did not read judges nothing."""
    problems = []
    every_form_read = task_ids is not None and set(task_ids) <= set(user_tasks) and all(
        user_tasks[task].form in forms for task in user_tasks)
    task_fields = {key for task in user_tasks.values() for key in forms.get(task.form, ())}
    for task, panels in sections.context.items():
        if task_ids is not None and task not in task_ids:
            problems.append(manifest.problem(("context", task), f"пользовательской задачи «{task}» нет в BPMN"))
        for index, panel in enumerate(panels):
            at: JsonPath = ("context", task, index)
            problems += _panel_problems(panel, at, manifest, task_ids, user_tasks, forms,
                                        task_fields if every_form_read else None)
    return problems


def _panel_problems(panel: ContextPanel, at: JsonPath, manifest: Manifest, task_ids: frozenset[str] | None,
                    user_tasks: Mapping[str, Any], forms: Mapping[str, set[str]],
                    task_fields: set[str] | None) -> list[Problem]:
    problems = []
    if panel.kind == "responses" and "questionnaires" not in manifest.raw:
        problems.append(manifest.problem((*at, "kind"), "панель «responses»: в манифесте нет раздела questionnaires "
                                                        "с группами респондентов"))
    if panel.kind == "risk_profile" and "risk_catalogue" not in manifest.raw:
        problems.append(manifest.problem((*at, "kind"), "панель «risk_profile»: в манифесте нет раздела "
                                                        "risk_catalogue с факторами риска"))
    if panel.kind == "measures" and "measures" not in manifest.raw:
        problems.append(manifest.problem((*at, "kind"), "панель «measures»: в манифесте нет раздела measures"))
    if panel.kind == "documents":
        if task_ids is not None and panel.task not in task_ids:
            problems.append(manifest.problem((*at, "task"), f"пользовательской задачи «{panel.task}» нет в BPMN"))
        keys = forms.get(user_tasks[panel.task].form) if panel.task in user_tasks else None
        if keys is not None:
            form = user_tasks[panel.task].form
            if panel.field not in keys:
                problems.append(manifest.problem((*at, "field"), f"в форме задачи «{panel.task}» ({form}) нет поля "
                                                                 f"«{panel.field}»"))
            problems += [manifest.problem((*at, "compare", i), f"в форме задачи «{panel.task}» ({form}) нет поля "
                                                                f"«{name}»")
                         for i, name in enumerate(panel.compare) if name not in keys]
    named: list[tuple[str, int | None, str]] = [("fields", i, name) for i, name in enumerate(panel.fields)]
    if panel.chosen:
        named.append(("chosen", None, panel.chosen))
    for param, i, name in named:
        if task_fields is not None and name not in task_fields:
            where: JsonPath = (*at, param) if i is None else (*at, param, i)
            problems.append(manifest.problem(where, f"панель «{panel.kind}»: поля «{name}» нет ни в одной форме "
                                                    "пользовательских задач"))
    return problems


def month_day(text: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(text)
    assert match is not None
    return int(match[1]), int(match[2])
