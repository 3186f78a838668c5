"""Process data in the stored workflow: user keys can never be read as the serializer's own.

SpiffWorkflow's serializer marks its saved objects with a ``typename`` key and, on restore, treats
*any* dict carrying that key as one of them. Process data is written by people (form field keys) and
templates (scripts, engine actions), so a field named ``typename`` — or a nested dict a script builds
with one — turned the next restore into ``TypeError: 'NoneType' object is not callable`` on every
retry. The engine's state must not depend on what users type.

So every plain dict in process data is stored with its keys escaped, reversibly:

- ``typename`` → ``~typename``, and any key already starting with ``~`` gets one more ``~``;
- every other key is stored as it is (the stored JSON stays readable and no larger in practice).

After escaping, a dict with a ``typename`` key in the stored JSON is always a serializer object, and
restoring strips exactly one ``~`` from every key that has one. The same registry converts task data,
the deltas SpiffWorkflow stores per task (which it writes without any conversion), workflow data,
internal data and event payloads, so no place is left where a user dict passes raw.

States written before this format (``FORMAT`` absent) are upgraded on read by ``upgrade_v1``, and the
Alembic migration ``d5e7f9a1b3c5`` rewrites the stored rows once with the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry

#: The key SpiffWorkflow's registry recognises its objects by.
TYPENAME = "typename"
_ESCAPE = "~"
#: Stored in the dumped state: which layout of process data it uses.
FORMAT_KEY = "roadmap_data_format"
FORMAT = 2
_PLAIN = frozenset({str, int, float, bool, type(None)})


def escape_key(key: Any) -> Any:
    if isinstance(key, str) and (key == TYPENAME or key.startswith(_ESCAPE)):
        return _ESCAPE + key
    return key


def unescape_key(key: Any) -> Any:
    if isinstance(key, str) and key.startswith(_ESCAPE):
        return key[1:]
    return key


class DataSafeRegistry(DefaultRegistry):  # type: ignore[misc]
    """SpiffWorkflow's default registry, with plain dicts' keys escaped on the way out and back in.

    Every value of process data passes through here on each dump and restore, so the common types
    are handled inline instead of through the registry's generic lookups."""

    def convert(self, obj: Any, **kwargs: Any) -> Any:
        kind = obj.__class__
        if kind in _PLAIN:
            return obj
        if kind is dict or kind is list:
            return self._escaped(obj)
        return super().convert(obj, **kwargs)

    def _escaped(self, obj: Any) -> Any:
        kind = obj.__class__
        if kind in _PLAIN:
            return obj
        if kind is dict:
            return {(_ESCAPE + k if k.__class__ is str and (k == TYPENAME or k[:1] == _ESCAPE) else k): self._escaped(v)
                    for k, v in obj.items() if not callable(v) and not isinstance(v, ModuleType)}
        if kind is list:
            return [self._escaped(v) for v in obj]
        return super().convert(obj)

    def restore(self, val: Any, **kwargs: Any) -> Any:
        kind = val.__class__
        if kind in _PLAIN:
            return val
        if kind is dict and TYPENAME not in val:
            return {(k[1:] if k[:1] == _ESCAPE else k): self.restore(v, **kwargs) for k, v in val.items()}
        if kind is list:
            return [self.restore(v, **kwargs) for v in val]
        return super().restore(val, **kwargs)


class DataSafeTaskConverter(TaskConverter):  # type: ignore[misc]
    """SpiffWorkflow stores the root task's data and every task's delta as they are, bypassing the
    registry; here they go through it like all other data (restore already passes them through it)."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(task)
        if task.parent is None:
            dct["data"] = self.registry.convert(task.data)
        else:
            dct["delta"]["updates"] = self.registry.convert(dct["delta"]["updates"])
        return dct


# --- states stored before FORMAT 2 -------------------------------------------------------------------

#: Objects SpiffWorkflow itself may have put into data, internal data or event payloads (its
#: ``DefaultRegistry``); anything else carrying ``typename`` there was a user's dict.
_OBJECTS_IN_DATA = frozenset({"UUID", "datetime", "timedelta"})


def upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a state dumped before ``FORMAT`` 2 (in place) so it restores as the user wrote it.

    In that layout the root task's data and the task deltas were stored raw, so every dict there is
    the user's; workflow data, internal data and payloads went through the registry, so a dict there
    is a saved object only when it names one of the few types SpiffWorkflow puts in data."""
    _rewrite(state, raw=lambda v: _rekey(v, escape_key, _never), converted=lambda v: _rekey(v, escape_key, _is_object))
    state[FORMAT_KEY] = FORMAT
    return state


def downgrade_to_v1(state: dict[str, Any]) -> dict[str, Any]:
    """The reverse, for an Alembic downgrade: keys unescaped, the format mark removed (a user dict with
    ``typename`` breaks the old engine again, as it always did)."""
    def unescape(value: Any) -> Any:
        return _rekey(value, unescape_key, lambda v: TYPENAME in v)
    _rewrite(state, raw=unescape, converted=unescape)
    state.pop(FORMAT_KEY, None)
    return state


Rewrite = Callable[[Any], Any]


def _rewrite(state: dict[str, Any], raw: Rewrite, converted: Rewrite) -> None:
    """Apply ``raw`` to task data and deltas, ``converted`` to every other place holding process data."""
    for workflow in [state, *(s for s in (state.get("subprocesses") or {}).values() if isinstance(s, dict))]:
        if "data" in workflow:
            workflow["data"] = converted(workflow["data"])
        for task in (workflow.get("tasks") or {}).values():
            if not isinstance(task, dict):
                continue
            if "internal_data" in task:
                task["internal_data"] = converted(task["internal_data"])
            if "data" in task:
                task["data"] = raw(task["data"])
            delta = task.get("delta")
            if isinstance(delta, dict) and "updates" in delta:
                delta["updates"] = raw(delta["updates"])
    for event in state.get("bpmn_events") or []:
        if isinstance(event, dict) and "payload" in event:
            event["payload"] = converted(event["payload"])


def _never(value: dict[Any, Any]) -> bool:
    return False


def _is_object(value: dict[Any, Any]) -> bool:
    return value.get(TYPENAME) in _OBJECTS_IN_DATA


def _rekey(value: Any, key: Rewrite, is_object: Callable[[dict[Any, Any]], bool]) -> Any:
    """``value`` with ``key`` applied to the keys of every dict in it, saved objects left as they are."""
    if isinstance(value, dict):
        if is_object(value):
            return value
        return {key(k): _rekey(v, key, is_object) for k, v in value.items()}
    if isinstance(value, list):
        return [_rekey(v, key, is_object) for v in value]
    return value
