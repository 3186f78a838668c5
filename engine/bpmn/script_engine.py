"""SpiffWorkflow's script engine, with every expression and script run by our safe evaluator.

SpiffWorkflow calls ``evaluate`` for gateway conditions, timer expressions and DMN cells, ``execute``
for script tasks and pre/post scripts, and ``validate`` when it parses DMN cells. None of them reach
Python's ``eval``/``exec``: template text only ever runs through ``engine.bpmn.safe_eval``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn import safe_eval
from engine.errors import ExpressionRejected


class SafeEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        names = {**context, **(external_context or {})}
        return safe_eval.evaluate(expression, names)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        if external_context:
            # Names the engine lends a script (DMN inputs) must not leak into task data.
            names = {**context, **external_context}
            safe_eval.execute(script, names)
            context.update({k: v for k, v in names.items() if k not in external_context})
        else:
            safe_eval.execute(script, context)
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise ExpressionRejected("сервисные задачи не поддерживаются")


class SafeScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(environment=SafeEnvironment())

    def validate(self, expression: str) -> None:
        # Spiff's DMN engine catches SyntaxError here to tell `> 5` from `x > 5`.
        safe_eval.validate_syntax(expression)
