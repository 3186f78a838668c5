"""Moving a running workflow to another compiled version of its template.

SpiffWorkflow 3.2 aligns the old and new specs (``SpecDiff``: by BPMN id first, then by structure) and
re-points every task of the instance at its new spec (``migrate_workflow``); the tasks the instance
waits on keep their ids, their children are predicted again from the new diagram. Deciding *whether*
an instance may move is left to the application (Spiff's docs: "the hard part"). Our rule: the
process may move unless something it is doing right now, or has done, has no place in the new version:

- a task or event it waits on (READY, WAITING, STARTED) is removed, or changes its kind;
- a step that is already running (a multi-instance task, a call activity, a waiting join or event)
  changes how it runs (loop, inputs, data, event definition — anything but its name, text or lane);
- a subprocess it has entered is gone;
- a completed step is removed: Spiff keeps the history as tasks pointing at specs, so it cannot be
  restored without them.

Whatever passes these checks is then really migrated, advanced and round-tripped through the
serializer; anything Spiff still refuses becomes a reason too. So "can move" means "was moved, in a
copy, and came back intact".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.runtime import _SERIALIZER, WorkflowRun
from engine.errors import EngineError, MigrationImpossible

#: Spec attributes that change nothing about how a step already in progress behaves.
_COSMETIC = frozenset({"bpmn_name", "description", "documentation", "lane", "extensions", "outputs"})
#: Spec attributes (as Spiff's serializer names them) in the words an admin reads in a refusal.
_ATTRIBUTE_WORDS = {
    "inputs": "входящие потоки", "data_input": "входная коллекция", "data_output": "выходная коллекция",
    "input_item": "элемент коллекции", "output_item": "элемент результата", "cardinality": "число экземпляров",
    "condition": "условие завершения", "task_spec": "повторяемый элемент", "spec": "вызываемый процесс",
    "event_definition": "определение события", "prescript": "скрипт до выполнения",
    "postscript": "скрипт после выполнения", "io_specification": "входные и выходные данные",
    "data_input_associations": "входные данные", "data_output_associations": "выходные данные",
    "cancel_activity": "прерывание задачи", "manual": "ручное выполнение",
}
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
#: Tasks whose children Spiff drops and predicts again from the new spec (its default reset mask).
_RESET = TaskState.READY | TaskState.WAITING

#: Spec class name fragment → what an admin calls it, and the ending of "удалён" that agrees with it.
_KINDS = (("UserTask", "задача", "а"), ("CallActivity", "вызов подпроцесса", ""), ("SubWorkflow", "подпроцесс", ""),
          ("Gateway", "шлюз", ""), ("Event", "событие", "о"), ("BusinessRuleTask", "таблица решений", "а"))


@dataclass(frozen=True)
class MigrationCheck:
    can_move: bool
    reasons: list[str] = field(default_factory=list)


def check_migration(run: WorkflowRun, target: CompiledTemplate) -> MigrationCheck:
    """Whether ``run`` can move to ``target``; ``run`` itself is left as it is (a copy is tried)."""
    trial = WorkflowRun.restore(run.template, run.dump())
    try:
        migrate(trial, target)
    except MigrationImpossible as err:
        return MigrationCheck(False, err.reasons)
    return MigrationCheck(True)


def migrate(run: WorkflowRun, target: CompiledTemplate) -> WorkflowRun:
    """Move ``run`` to ``target`` and return the moved run (restored from its own dump, as the next
    request would see it). Raises ``MigrationImpossible`` with every reason; ``run`` is then unusable."""
    workflow: BpmnWorkflow = run._workflow  # noqa: SLF001 - engine.bpmn owns both halves of the Spiff object
    top, subprocesses = diff_workflow(_SERIALIZER.registry, workflow, target.process_spec, target.subprocess_specs)
    # dict.fromkeys: the children of a multi-instance step share its element and would repeat its reason
    reasons = list(dict.fromkeys(_diff_reasons(top) + _subprocess_reasons(workflow, subprocesses)))
    if reasons:
        raise MigrationImpossible(reasons)
    kept = _reset_state(workflow)
    migrate_workflow(top, workflow, target.process_spec)
    for sp_id, subprocess in workflow.subprocesses.items():
        migrate_workflow(subprocesses[sp_id], subprocess, target.subprocess_specs[subprocess.spec.name])
    workflow.subprocess_specs = target.subprocess_specs
    _restore_state(workflow, kept)
    return _settle(WorkflowRun(target, workflow), target)


def _diff_reasons(diff: WorkflowDiff) -> list[str]:
    reasons = [_removed_reason(task) for task in diff.removed if task.has_state(_LIVE | TaskState.COMPLETED)]
    for task in diff.changed:
        new_spec = diff.alignment.get(task)
        if new_spec is None or not task.has_state(_LIVE):
            continue
        changes = _changed_attributes(task.task_spec, new_spec)
        if "typename" in changes:
            reasons.append(f"{_describe(task.task_spec)}: процесс стоит на этом элементе, а в новой версии "
                           f"это другой элемент ({_kind(new_spec)})")
        elif not task.has_state(TaskState.READY) and changes - _COSMETIC:
            words = sorted(_ATTRIBUTE_WORDS.get(name, name) for name in changes - _COSMETIC)
            reasons.append(f"{_describe(task.task_spec)} уже выполняется, а в новой версии изменено: "
                           f"{', '.join(words)}")
    return reasons


def _removed_reason(task: Any) -> str:
    if task.has_state(TaskState.COMPLETED):
        return (f"{_describe(task.task_spec)} уже пройден{_ending(task.task_spec)} и {_removed(task.task_spec)} "
                f"в новой версии, а история процесса ссылается на этот элемент")
    spec = task.task_spec
    waits = "которую ждёт процесс" if _ending(spec) == "а" else "на котором стоит процесс"
    return f"{_describe(spec)}, {waits}, {_removed(spec)} в новой версии"


def _subprocess_reasons(workflow: BpmnWorkflow, diffs: dict[Any, WorkflowDiff | None]) -> list[str]:
    reasons = []
    for sp_id, diff in diffs.items():
        if diff is None:
            caller = workflow.get_task_from_id(sp_id)
            where = _describe(caller.task_spec) if caller is not None else f"подпроцесс {sp_id}"
            reasons.append(f"{where}: процесс «{workflow.subprocesses[sp_id].spec.name}», в который уже вошёл "
                           f"маршрут, удалён в новой версии")
        else:
            reasons += _diff_reasons(diff)
    return reasons


def _changed_attributes(old: Any, new: Any) -> set[str]:
    before, after = _SERIALIZER.registry.convert(old), _SERIALIZER.registry.convert(new)
    if before.get("typename") != after.get("typename"):
        return {"typename"}
    return {key for key, value in before.items() if after.get(key) != value and key != "name"}


def _all_tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    yield from workflow.get_tasks(skip_subprocesses=True)
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.get_tasks(skip_subprocesses=True)


def _reset_state(workflow: BpmnWorkflow) -> dict[Any, tuple[dict[str, Any], dict[str, Any]]]:
    """Data of the tasks Spiff is about to reset. ``reset_branch`` would refill a task's data from its
    parent — a multi-instance child would lose its item (which risk direction it is about) and a
    waiting timer the fire time the engine fixed — so what the task held is put back afterwards."""
    return {task.id: (copy.deepcopy(task.data), copy.deepcopy(task.internal_data))
            for task in _all_tasks(workflow) if task.has_state(_RESET)}


def _restore_state(workflow: BpmnWorkflow, kept: dict[Any, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    for task in _all_tasks(workflow):
        if task.id in kept:
            task.data, task.internal_data = kept[task.id]


def _settle(run: WorkflowRun, target: CompiledTemplate) -> WorkflowRun:
    """Run what became possible, then prove the state restores against the new version alone."""
    known = _spec_names(target)
    stale = [task for task in _all_tasks(run._workflow)  # noqa: SLF001
             if task.task_spec.name not in known.get(task.workflow.spec.name, set())]
    if stale:
        raise MigrationImpossible([f"{_describe(task.task_spec)}: в новой версии нет соответствующего "
                                   f"элемента (SpiffWorkflow не сопоставил его)" for task in stale[:5]])
    try:
        run.advance()
        return WorkflowRun.restore(target, run.dump())
    except EngineError as err:
        raise MigrationImpossible([f"после переноса процесс не может продолжиться: {err.message}"]) from err
    except Exception as err:  # whatever Spiff raises here means "cannot move", with its words
        raise MigrationImpossible([f"SpiffWorkflow не смог перенести состояние: {err}"]) from err


def _spec_names(target: CompiledTemplate) -> dict[str, set[str]]:
    names = {target.process_spec.name: set(target.process_spec.task_specs)}
    for name, spec in target.subprocess_specs.items():
        names[name] = set(spec.task_specs)
    return names


def _kind(spec: Any) -> str:
    return _kind_of(spec)[0]


def _ending(spec: Any) -> str:
    return _kind_of(spec)[1]


def _removed(spec: Any) -> str:
    return {"а": "удалена", "о": "удалено"}.get(_ending(spec), "удалён")


def _kind_of(spec: Any) -> tuple[str, str]:
    typename = type(spec).__name__
    return next(((word, ending) for marker, word, ending in _KINDS if marker in typename), ("шаг", ""))


def _describe(spec: Any) -> str:
    element = getattr(spec, "bpmn_id", None) or spec.name
    title = getattr(spec, "bpmn_name", None) or element
    return f"{_kind(spec)} “{title}” ({element})"
