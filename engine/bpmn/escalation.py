"""A user task's own escalation chain: the ``roadmap:escalation`` attribute.

The manifest's ``escalation`` section sets the chain for every task of a template; a task that needs
another one (a federal review that must not wait 14 working days, a report nobody chases) says so:

* ``roadmap:escalation="2WD:1, 5WD:2, 10WD:3:federal"`` — steps ``AFTER:LEVELS_UP[:federal]``, AFTER
  counted from the due time as a duration (``P3D``, ``PT12H``) or working days (``3WD``), LEVELS_UP
  1–3 up the chain school → curator → municipal → regional, ``federal`` flags the task for the
  federal level at that step;
* ``roadmap:escalation="none"`` — this task never escalates (the due notice still goes out);
* no attribute — the manifest's chain.
"""

from __future__ import annotations

import re

from engine.bpmn.manifest import EscalationStep
from engine.timing.due import DueRule

NONE = "none"
MAX_STEPS = 10
_STEP = re.compile(r"^(?P<after>[^:\s]+):(?P<levels>\d{1,3})(?::(?P<flag>[a-z]+))?$")


def parse_escalation(text: str) -> tuple[EscalationStep, ...]:
    """The steps of a rule (empty for ``none``); ``ValueError`` with a Russian message when it is not one."""
    text = text.strip()
    if text == NONE:
        return ()
    if not text:
        raise ValueError("пустое правило эскалации: шаги вида 3WD:1 через запятую или none")
    steps = tuple(_step(part.strip()) for part in text.split(","))
    if len(steps) > MAX_STEPS:
        raise ValueError(f"слишком много шагов эскалации: {len(steps)}, не больше {MAX_STEPS}")
    return steps


def _step(text: str) -> EscalationStep:
    match = _STEP.match(text)
    if match is None or match["flag"] not in (None, "federal") or not 1 <= int(match["levels"]) <= 3:
        raise ValueError(f"шаг эскалации «{_shown(text)}»: ожидается «через:уровней[:federal]» с числом уровней "
                         "от 1 до 3, например 5WD:2 или 10WD:3:federal")
    try:
        rule = DueRule.parse(match["after"])
    except ValueError:
        rule = None
    if rule is None or rule.cohort_date is not None:
        raise ValueError(f"шаг эскалации «{_shown(text)}»: «{_shown(match['after'])}» — ожидается длительность (P3D) "
                         "или рабочие дни (3WD) от срока задачи")
    return EscalationStep(match["after"], int(match["levels"]), federal_overdue=match["flag"] == "federal")


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def format_escalation(steps: tuple[EscalationStep, ...]) -> str:
    """The attribute text of a chain, as ``parse_escalation`` reads it."""
    if not steps:
        return NONE
    return ", ".join(f"{s.after}:{s.levels_up}{':federal' if s.federal_overdue else ''}" for s in steps)
