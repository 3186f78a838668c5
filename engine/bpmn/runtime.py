"""Running workflows: start, advance, complete user tasks, serialize.

Stored state leaves out the process spec: every instance of a template version shares one compiled
spec (cached per version), so the JSON holds only the task tree and data — about 40% of what
SpiffWorkflow's default serialization writes, and restoring skips rebuilding the spec objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import safe_eval, stored_data
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.spec import ReadyTask
from engine.errors import EngineError, SendBackRefused, TaskNotFound, WorkflowFailed


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Serialize a workflow without its spec; on restore the caller hands the cached spec in."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    config[Task] = stored_data.DataSafeTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config, stored_data.DataSafeRegistry()))


_SERIALIZER = _serializer()
#: Stored beside each instance's state so a future format change can migrate old rows.
SERIALIZER_VERSION = f"spiff-{_SERIALIZER.VERSION}/roadmap-{stored_data.FORMAT}"
_SCRIPT_ENGINE = SafeScriptEngine()


def _failure(err: Exception) -> WorkflowFailed:
    """Turn whatever Spiff raised into a message that names the element and the cause.

    Callers catch every ``Exception`` on purpose. SpiffWorkflow wraps script and expression errors in
    ``WorkflowTaskException``, but not all it raises: a timer's text alone can fail with a bare
    ``Exception('Invalid duration')``, a ``ValueError`` (no date) or an ``AttributeError`` (a malformed
    week date); our ``EngineError``s come through as well. Each is a fault of the template's step, to be
    parked as an incident naming it, never a crash of the request or the sweep that ran the step."""
    task = getattr(err, "task", None)
    where, element_id, element_name = "", None, None
    if task is not None:
        spec = task.task_spec
        element_id = getattr(spec, "bpmn_id", None) or spec.name
        element_name = getattr(spec, "bpmn_name", None) or spec.name
        where = f"шаг «{element_name}» ({spec.name}): "
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, EngineError):
        cause = cause.__cause__ or getattr(cause, "exception", None) or cause.__context__
    if isinstance(cause, WorkflowFailed) and cause.element_id and element_id is None:
        return cause
    detail = cause.message if isinstance(cause, EngineError) else str(err)
    return WorkflowFailed(f"процесс не может продолжиться: {where}{detail}", element_id=element_id,
                          element_name=element_name)


@dataclass(frozen=True)
class PendingTimer:
    task_id: str
    element_id: str
    fire_at: datetime


#: Set on a timer that our sweep fires: any moment in the past makes SpiffWorkflow see it as due.
_LONG_AGO = "2000-01-01T00:00:00+00:00"
#: Internal-data key of the fire time the engine set (by its clock) for a waiting timer.
_TIMED_BY_ENGINE = "roadmap_fire_at"


@dataclass(frozen=True)
class SentBack:
    target_task_id: str  # the Spiff task reopened (its id is kept by the reset)
    reset_element: str  # where the workflow was reset: the target, or the gateway that split its branch


def _enclosing_split(task: Task) -> Task | None:
    """The parallel/inclusive split (or multi-instance) whose branch ``task`` runs in, if it has not been
    joined again before ``task``: walking up, a join opens a nesting level and a split closes one."""
    depth = 0
    came_from, current = task, task.parent
    while current is not None:
        spec = current.task_spec
        # A multi-instance's iterations are its children, and so is what follows it: only the former are inside.
        if isinstance(spec, LoopTask) and came_from.task_spec.name == spec.task_spec:
            return current
        if isinstance(spec, (ParallelGateway, InclusiveGateway)):
            if len(spec.inputs) > 1:
                depth += 1
            if len(spec.outputs) > 1:
                if depth == 0:
                    return current
                depth -= 1
        came_from, current = current, current.parent
    return None


class WorkflowRun:
    """One process instance in memory. Only this class touches ``BpmnWorkflow``."""

    def __init__(self, template: CompiledTemplate, workflow: BpmnWorkflow) -> None:
        self.template = template
        self._workflow = workflow
        # What the workflow waits on, asked several times per step (task mirror, progress): walking the
        # task tree each time is the larger part of a start. Forgotten whenever the workflow moves.
        self._ready: list[ReadyTask] | None = None

    @classmethod
    def start(cls, template: CompiledTemplate, data: Mapping[str, Any] | None = None) -> WorkflowRun:
        workflow = BpmnWorkflow(template.process_spec, template.subprocess_specs,
                                script_engine=_SCRIPT_ENGINE)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data or {})
        run = cls(template, workflow)
        run.advance()
        return run

    @classmethod
    def restore(cls, template: CompiledTemplate, state: str) -> WorkflowRun:
        dct = json.loads(state)
        if dct.pop(stored_data.FORMAT_KEY, None) != stored_data.FORMAT:
            stored_data.upgrade_v1(dct)
            dct.pop(stored_data.FORMAT_KEY)
        _SERIALIZER.migrate(dct)
        dct["spec"] = template.process_spec
        dct["subprocess_specs"] = template.subprocess_specs
        workflow = _SERIALIZER.from_dict(dct)
        workflow.script_engine = _SCRIPT_ENGINE
        return cls(template, workflow)

    def dump(self) -> str:
        dct = _SERIALIZER.to_dict(self._workflow)
        dct[_SERIALIZER.VERSION_KEY] = _SERIALIZER.VERSION
        dct[stored_data.FORMAT_KEY] = stored_data.FORMAT
        return json.dumps(dct, ensure_ascii=False, separators=(",", ":"))

    def advance(self) -> None:
        """Run every automatic step (gateways, scripts, decisions) until people or timers must act.

        Timers are not refreshed here on purpose: their fire times go through the deadline table."""
        self._ready = None
        try:
            if self.template.multi_instance:
                self._merge_missed_instances()
            self._workflow.do_engine_steps()
        except Exception as err:  # any failure of a template's step (see _failure) becomes WorkflowFailed
            raise _failure(err) from err

    def _merge_missed_instances(self) -> None:
        """Merge the finished instances of a multi-instance task that SpiffWorkflow did not hear finish: before
        the compiler connected every such task (engine/bpmn/compiler.py), an instance finished in a process
        that had not created it was never merged, and its roadmap stood still. Replaying the missed merges,
        in order, lets such a stored roadmap go on; for every other workflow there is nothing to merge."""
        for task in self._workflow.get_tasks(state=TaskState.STARTED):
            spec = task.task_spec
            if not isinstance(spec, MultiInstanceTask):
                continue
            merged = set(task.internal_data.get("merged", []))
            for child in list(task.children):
                if child.task_spec.name == spec.task_spec and child.state == TaskState.COMPLETED \
                        and str(child.id) not in merged:
                    spec.merge_child(child.workflow, child)

    def ready_user_tasks(self) -> list[ReadyTask]:
        if self._ready is None:
            self._ready = [
                ReadyTask(str(task.id), task.task_spec.name, task.task_spec.bpmn_name or task.task_spec.name,
                          self._subject(task))
                for task in self._workflow.get_tasks(state=TaskState.READY, manual=True)
            ]
        return list(self._ready)

    def _subject(self, task: Any) -> str:
        """What this task is about, from the template's subject expression (e.g. which risk direction).
        A subject that cannot be computed is left out rather than stopping the workflow."""
        meta = self.template.spec.user_tasks.get(task.task_spec.name)
        if meta is None or not meta.subject:
            return ""
        try:
            return str(safe_eval.evaluate(meta.subject, task.data))
        except EngineError:
            return ""

    def task_data(self, task_id: str) -> dict[str, Any]:
        return dict(self._ready_task(task_id).data)

    def complete(self, task_id: str, data: Mapping[str, Any]) -> WorkflowFailed | None:
        """Complete a user task and run on. A failure of the task itself raises; a failure of an
        automatic step after it is parked (``advance_or_park``) and returned."""
        task = self._ready_task(task_id)
        self._ready = None
        task.data.update(data)
        try:
            task.run()
        except Exception as err:  # the task's own post-script or data output may fail likewise
            raise _failure(err) from err
        return self.advance_or_park()

    def advance_or_park(self) -> WorkflowFailed | None:
        """``advance``, but a failing automatic step does not undo what came before it: the step is made
        ready again (SpiffWorkflow leaves it in ERROR) and the failure returned, so the state can be
        stored with the continuation parked there — the next ``advance`` runs it again."""
        try:
            self.advance()
        except WorkflowFailed as failure:
            for task in self._workflow.get_tasks(state=TaskState.ERROR):
                # ERROR → READY is a move back, which the public ``state`` setter refuses; Spiff has no
                # public retry (``reset_branch`` would also reset its data and drop its children).
                task._set_state(TaskState.READY)  # noqa: SLF001 - see above
            self._ready = None
            return failure
        return None

    def _ready_task(self, task_id: str) -> Any:
        try:
            task = self._workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotFound(f"задача {task_id} не ожидает выполнения в этом процессе")
        return task

    def pending_timers(self, now: datetime) -> list[PendingTimer]:
        """The timer events the workflow waits on, with their fire times.

        SpiffWorkflow would measure a duration from the machine's clock when it first looks; we fix the
        fire time from the engine's clock instead (injectable, and the same one deadlines use), and the
        sweep fires the timer through the deadline table."""
        timers = []
        for task in list(self._workflow.event_manager.tasks.values()):
            definition = task.task_spec.event_definition
            if not isinstance(definition, (DurationTimerEventDefinition, TimeDateEventDefinition)):
                continue
            value = task.internal_data.get(_TIMED_BY_ENGINE)
            if value is None:
                # Spiff may already have stamped it from the machine's clock during the engine steps.
                value = self._timer_value(task, definition, now)
                task.internal_data.update(event_value=value, **{_TIMED_BY_ENGINE: value})
            fire_at = TimerEventDefinition.get_datetime(value)
            timers.append(PendingTimer(str(task.id), getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name,
                                       fire_at.astimezone(UTC)))
        return timers

    def _timer_value(self, task: Any, definition: Any, now: datetime) -> str:
        try:
            expression = str(self._workflow.script_engine.evaluate(task, definition.expression))
            if isinstance(definition, DurationTimerEventDefinition):
                delta = TimerEventDefinition.get_timedelta_from_start(
                    TimerEventDefinition.parse_iso_duration(expression), now)
                return str((now + delta).astimezone(UTC).isoformat())
            moment = TimerEventDefinition.parse_time_or_duration(expression)
        except (SpiffWorkflowException, EngineError, ValueError, TypeError) as err:
            raise _failure(err) from err
        if not isinstance(moment, datetime):
            raise WorkflowFailed(f"таймер {task.task_spec.name}: ожидается дата и время, получено «{expression}»")
        return moment.astimezone(UTC).isoformat()

    def fire_timer(self, task_id: str) -> bool:
        """Fire a waiting timer (its time has come by the engine's clock) and run on; False if it no
        longer waits (cancelled with its task, or fired already)."""
        try:
            task = self._workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            return False
        if task is None or task.id not in self._workflow.event_manager.tasks:
            return False
        task.internal_data.update(event_value=_LONG_AGO)
        self._ready = None
        try:
            self._workflow.refresh_timers()
        except Exception as err:  # a timer's own expression may fail likewise
            raise _failure(err) from err
        self.advance()
        return True

    def send_back(self, element_id: str, *, whole_branch: bool = False) -> SentBack:
        """Move the workflow back to the last completed run of the user task ``element_id`` and run on to it.

        Safe only where one token runs: a target inside a parallel (or inclusive) branch or a multi-instance
        would leave the other branches half done, so it is refused with ``SendBackRefused`` — unless
        ``whole_branch``, which goes back to the gateway that split the branches and restarts all of them.
        The data known so far is kept (merged from what the workflow waits on now), not the target's own
        older copy: a school sent back to its programme finds what it entered, as after a rejection."""
        target = self._last_completed(element_id)
        split = _enclosing_split(target)
        if split is not None and not whole_branch:
            raise SendBackRefused(
                f"шаг «{target.task_spec.bpmn_name or element_id}» идёт параллельно с другими (после развилки "
                f"«{split.task_spec.bpmn_name or split.task_spec.name}»): вернуть можно только всю развилку целиком "
                "или шаг до неё")
        data: dict[str, Any] = {}
        for task in self._workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            if task.workflow is self._workflow:  # a called process's own data stays with it
                data.update(task.data)
        for name in self._loop_items():  # a multi-instance refuses to start over an item left from its last run
            data.pop(name, None)
        reset_to = split if split is not None else target
        self._ready = None
        try:
            self._workflow.reset_from_task_id(reset_to.id, data=data or None)
        except Exception as err:
            raise SendBackRefused(f"вернуть маршрут к этому шагу нельзя: {err}") from err
        self.advance()
        return SentBack(str(target.id), reset_to.task_spec.name)

    def _loop_items(self) -> set[str]:
        names = set()
        for spec in self._workflow.spec.task_specs.values():
            if isinstance(spec, LoopTask):
                for item in (getattr(spec, "input_item", None), getattr(spec, "output_item", None)):
                    if item is not None:
                        names.add(item.bpmn_id)
        return names

    def _last_completed(self, element_id: str) -> Task:
        if element_id not in self.template.spec.user_tasks:
            raise SendBackRefused(f"в шаблоне нет задачи «{element_id}»")
        done = [task for task in self._workflow.get_tasks(state=TaskState.COMPLETED)
                if task.task_spec.name == element_id]
        if not done:
            raise SendBackRefused("этот шаг ещё не выполнялся: вернуть к нему нельзя")
        target = max(done, key=lambda task: task.last_state_change)
        if target.workflow is not self._workflow:
            raise SendBackRefused("шаг внутри подпроцесса: вернуть можно к шагу основного процесса")
        return target

    @property
    def is_completed(self) -> bool:
        return bool(self._workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The data of the most recently completed task: what the process knows so far."""
        last = self._workflow.last_task
        return dict(last.data) if last is not None else dict(self._workflow.data)
