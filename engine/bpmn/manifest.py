"""The manifest's project sections: what a template declares besides its BPMN.

* ``cohort_calendar`` — named dates of the project year (``"questionnaire_close": "03-01"``) that
  deadline rules like ``cohort:questionnaire_close`` refer to;
* ``rules`` — per user task, checks across fields and process data that a form alone cannot express
  (``participation != 'confirmed' or bool(curator_login)``), run by the safe evaluator;
* ``actions`` — per user task, named engine actions run on completion (bind the chosen curator to the
  school, aggregate questionnaire answers into indicators, …); templates name them, never code them;
* ``questionnaires`` — respondent groups with their forms, and the task during which answers are taken;
* ``indicators`` — how answers aggregate (mean, share, …) into the numbers decision tables rate;
* ``risk_catalogue`` — the versioned list of risk factors, each rated from one indicator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.bpmn import safe_eval
from engine.due import DueRule
from engine.errors import EngineError, Problem

#: Engine actions a template may name, with the parameters each one needs.
KNOWN_ACTIONS: dict[str, tuple[str, ...]] = {
    "bind_curator": ("field",),
    "aggregate_questionnaires": (),
    "prepare_risk_inputs": (),
}
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


class _Reader:
    """Reads one section after another, collecting problems instead of stopping at the first."""

    def __init__(self, where: str, raw: Mapping[str, Any]) -> None:
        self.where = where
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, message: str, element_id: str | None = None) -> None:
        self.problems.append(Problem(self.where, None, element_id, message))

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            self.problem(f"раздел «{name}» должен быть объектом JSON")
            return {}
        return value

    def expression(self, text: Any, element_id: str, what: str) -> bool:
        if not isinstance(text, str) or not text.strip():
            self.problem(f"{what}: пустое выражение", element_id)
            return False
        try:
            safe_eval.check_expression(text)
        except EngineError as err:
            self.problem(f"{what} «{text}» отклонено: {err.message}", element_id)
            return False
        return True


def read_sections(where: str, raw: Mapping[str, Any]) -> tuple[ManifestSections, list[Problem]]:
    reader = _Reader(where, raw)
    calendar = _calendar(reader)
    rules = {task: tuple(_rules(reader, task, items)) for task, items in reader.mapping("rules").items()}
    actions = {task: tuple(_actions(reader, task, items)) for task, items in reader.mapping("actions").items()}
    open_while, groups = _questionnaires(reader)
    indicators = _indicators(reader, groups)
    version, factors = _catalogue(reader, indicators)
    reminders, steps = _escalation(reader)
    sections = ManifestSections(calendar, rules, actions, open_while, groups, indicators, version, factors,
                                reminders, steps)
    return sections, reader.problems


def _offset_rule(reader: _Reader, text: Any, what: str) -> bool:
    """Reminders and escalation steps are offsets from the due time: a duration or working days."""
    try:
        rule = DueRule.parse(text) if isinstance(text, str) else None
    except ValueError:
        rule = None
    if rule is None or rule.cohort_date is not None:
        reader.problem(f"эскалация: {what} «{text}» — ожидается длительность (P3D) или рабочие дни (3WD)")
        return False
    return True


def _escalation(reader: _Reader) -> tuple[tuple[str, ...], tuple[EscalationStep, ...]]:
    section = reader.mapping("escalation")
    if not section:
        return DEFAULT_REMINDERS, DEFAULT_ESCALATION
    reminders = section.get("reminders_before", list(DEFAULT_REMINDERS))
    reminders = [r for r in reminders if _offset_rule(reader, r, "напоминание")] if isinstance(reminders, list) else []
    steps = []
    for item in section.get("steps", []) if isinstance(section.get("steps"), list) else []:
        levels = item.get("levels_up") if isinstance(item, dict) else None
        if not isinstance(levels, int) or not 1 <= levels <= 3:
            reader.problem("эскалация: каждый шаг — after и levels_up от 1 до 3")
        elif _offset_rule(reader, item.get("after"), "шаг"):
            steps.append(EscalationStep(item["after"], levels, bool(item.get("federal_overdue", False))))
    return tuple(reminders), tuple(steps)


def _calendar(reader: _Reader) -> dict[str, str]:
    calendar = {}
    for name, value in reader.mapping("cohort_calendar").items():
        match = _MONTH_DAY.match(value) if isinstance(value, str) else None
        if not _NAME.match(name) or match is None or not _valid_month_day(match):
            reader.problem(f"календарь когорты: «{name}»: ожидается дата вида ММ-ДД (например 03-01)")
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
    rules = []
    for item in items if isinstance(items, list) else [None]:
        if not (isinstance(item, dict) and isinstance(item.get("field"), str) and item.get("message")):
            reader.problem("правило: объект с полями field, check и message", task)
            continue
        if reader.expression(item.get("check"), task, "проверка"):
            rules.append(TaskRule(item["field"], item["check"], str(item["message"])))
    return rules


def _actions(reader: _Reader, task: str, items: Any) -> list[TaskAction]:
    actions = []
    for item in items if isinstance(items, list) else [None]:
        if not isinstance(item, dict):
            reader.problem("действие: объект с полем action", task)
            continue
        name = item.get("action")
        if name not in KNOWN_ACTIONS:
            reader.problem(f"действие «{name}» неизвестно; доступны: {', '.join(KNOWN_ACTIONS)}", task)
            continue
        params = {k: v for k, v in item.items() if k != "action"}
        missing = [p for p in KNOWN_ACTIONS[name] if not isinstance(params.get(p), str)]
        if missing:
            reader.problem(f"действию «{name}» не хватает параметров: {', '.join(missing)}", task)
            continue
        actions.append(TaskAction(name, params))
    return actions


def _questionnaires(reader: _Reader) -> tuple[tuple[str, ...], dict[str, RespondentGroup]]:
    section = reader.mapping("questionnaires")
    if not section:
        return (), {}
    open_while = section.get("open_while", [])
    if not isinstance(open_while, list) or not all(isinstance(t, str) for t in open_while):
        reader.problem("questionnaires.open_while: список id пользовательских задач")
        open_while = []
    groups = {}
    raw_groups = section.get("groups", {})
    for key, group in (raw_groups.items() if isinstance(raw_groups, dict) else []):
        if not (_NAME.match(key) and isinstance(group, dict) and isinstance(group.get("form"), str)):
            reader.problem(f"группа респондентов «{key}»: нужны title, form и anonymous")
            continue
        groups[key] = RespondentGroup(key, str(group.get("title", key)), group["form"],
                                      bool(group.get("anonymous", True)))
    return tuple(open_while), groups


def _indicators(reader: _Reader, groups: Mapping[str, RespondentGroup]) -> dict[str, Indicator]:
    indicators = {}
    for key, spec in reader.mapping("indicators").items():
        if not (isinstance(spec, dict) and spec.get("group") in groups and isinstance(spec.get("field"), str)):
            reader.problem(f"показатель «{key}»: нужна известная группа респондентов (group) и поле (field)")
            continue
        if spec.get("aggregate") not in AGGREGATES:
            reader.problem(f"показатель «{key}»: aggregate — одно из {', '.join(AGGREGATES)}")
            continue
        values = spec.get("values", [])
        if spec["aggregate"] == "share" and not (isinstance(values, list) and values):
            reader.problem(f"показатель «{key}»: для доли (share) нужен список значений values")
            continue
        indicators[key] = Indicator(key, str(spec.get("title", key)), spec["group"], spec["field"],
                                    spec["aggregate"], tuple(values))
    return indicators


def _catalogue(reader: _Reader, indicators: Mapping[str, Indicator]) -> tuple[str, tuple[RiskFactor, ...]]:
    section = reader.mapping("risk_catalogue")
    if not section:
        return "", ()
    factors: list[RiskFactor] = []
    for item in section.get("factors", []) if isinstance(section.get("factors"), list) else []:
        ok = isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("key", "title", "indicator"))
        if not ok:
            reader.problem("фактор риска: объект с полями key, title, indicator")
        elif item["indicator"] not in indicators:
            reader.problem(f"фактор риска «{item['key']}»: показатель «{item['indicator']}» не объявлен")
        elif any(f.key == item["key"] for f in factors):
            reader.problem(f"фактор риска «{item['key']}» объявлен дважды")
        else:
            factors.append(RiskFactor(item["key"], item["title"], item["indicator"]))
    return str(section.get("version", "")), tuple(factors)


def cross_check(sections: ManifestSections, where: str, user_tasks: Mapping[str, Any],
                form_keys: Callable[[str], set[str] | None]) -> list[Problem]:
    """Checks that need the BPMN and the forms: tasks exist, rule fields exist, forms exist."""
    problems = []

    def problem(message: str, element_id: str | None = None) -> None:
        problems.append(Problem(where, None, element_id, message))

    for section, names in (("rules", sections.rules), ("actions", sections.actions),
                           ("questionnaires.open_while", {t: () for t in sections.questionnaire_open_while})):
        for task in names:
            if task not in user_tasks:
                problem(f"{section}: пользовательской задачи «{task}» нет в BPMN", task)
    for task, rules in sections.rules.items():
        keys = form_keys(user_tasks[task].form) if task in user_tasks else None
        for rule in rules:
            if keys is not None and rule.field not in keys:
                problem(f"правило ссылается на поле «{rule.field}», которого нет в форме задачи", task)
    for group in sections.respondent_groups.values():
        keys = form_keys(group.form)
        if keys is None:
            problem(f"анкета группы «{group.key}»: нет формы forms/{group.form}.form")
            continue
        for indicator in sections.indicators.values():
            if indicator.group == group.key and indicator.field not in keys:
                problem(f"показатель «{indicator.key}»: в анкете «{group.form}» нет поля «{indicator.field}»")
    return problems


def month_day(text: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(text)
    assert match is not None
    return int(match[1]), int(match[2])
