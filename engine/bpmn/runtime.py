"""Running workflows: start, advance, complete user tasks, serialize.

Stored state leaves out the process spec: every instance of a template version shares one compiled
spec (cached per version), so the JSON holds only the task tree and data — about 40% of what
SpiffWorkflow's default serialization writes, and restoring skips rebuilding the spec objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import safe_eval
from engine.bpmn.compiler import CompiledTemplate
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.spec import ReadyTask
from engine.errors import EngineError, TaskNotFound, WorkflowFailed


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
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _serializer()
#: Stored beside each instance's state so a future format change can migrate old rows.
SERIALIZER_VERSION = f"spiff-{_SERIALIZER.VERSION}/roadmap-1"
_SCRIPT_ENGINE = SafeScriptEngine()


def _failure(err: Exception) -> WorkflowFailed:
    """Turn whatever Spiff raised into a message that names the element and the cause."""
    task = getattr(err, "task", None)
    where = ""
    if task is not None:
        spec = task.task_spec
        where = f"шаг «{getattr(spec, 'bpmn_name', None) or spec.name}» ({spec.name}): "
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, EngineError):
        cause = cause.__cause__ or getattr(cause, "exception", None) or cause.__context__
    detail = cause.message if isinstance(cause, EngineError) else str(err)
    return WorkflowFailed(f"процесс не может продолжиться: {where}{detail}")


class WorkflowRun:
    """One process instance in memory. Only this class touches ``BpmnWorkflow``."""

    def __init__(self, template: CompiledTemplate, workflow: BpmnWorkflow) -> None:
        self.template = template
        self._workflow = workflow

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
        _SERIALIZER.migrate(dct)
        dct["spec"] = template.process_spec
        dct["subprocess_specs"] = template.subprocess_specs
        workflow = _SERIALIZER.from_dict(dct)
        workflow.script_engine = _SCRIPT_ENGINE
        return cls(template, workflow)

    def dump(self) -> str:
        dct = _SERIALIZER.to_dict(self._workflow)
        dct[_SERIALIZER.VERSION_KEY] = _SERIALIZER.VERSION
        return json.dumps(dct, ensure_ascii=False, separators=(",", ":"))

    def advance(self) -> None:
        """Run every automatic step (gateways, scripts, decisions) until people or timers must act.

        Timers are not refreshed here on purpose: their fire times go through the deadline table."""
        try:
            self._workflow.do_engine_steps()
        except (SpiffWorkflowException, EngineError, Exception) as err:  # noqa: BLE001
            raise _failure(err) from err

    def ready_user_tasks(self) -> list[ReadyTask]:
        return [
            ReadyTask(str(task.id), task.task_spec.name, task.task_spec.bpmn_name or task.task_spec.name,
                      self._subject(task))
            for task in self._workflow.get_tasks(state=TaskState.READY, manual=True)
        ]

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

    def complete(self, task_id: str, data: Mapping[str, Any]) -> None:
        task = self._ready_task(task_id)
        task.data.update(data)
        try:
            task.run()
        except (SpiffWorkflowException, EngineError, Exception) as err:  # noqa: BLE001
            raise _failure(err) from err
        self.advance()

    def _ready_task(self, task_id: str) -> Any:
        try:
            task = self._workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotFound(f"задача {task_id} не ожидает выполнения в этом процессе")
        return task

    @property
    def is_completed(self) -> bool:
        return bool(self._workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The data of the most recently completed task: what the process knows so far."""
        last = self._workflow.last_task
        return dict(last.data) if last is not None else dict(self._workflow.data)
