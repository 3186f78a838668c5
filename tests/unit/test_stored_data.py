"""Process data can never be read back as the serializer's own objects, whatever keys and values it holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.bpmn import runtime, stored_data
from engine.bpmn.bundle import load_bundle
from engine.bpmn.compiler import CompiledTemplate, compile_bundle
from engine.bpmn.runtime import WorkflowRun
from tests.conftest import MINI_BUNDLE
from tests.helpers import v1_dump, v1_serializer


@pytest.fixture(scope="module")
def mini() -> CompiledTemplate:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    return compile_bundle(bundle)


def _registry_typenames() -> list[str]:
    return sorted(runtime._SERIALIZER.registry.convert_from_dict)  # noqa: SLF001 - this tests the serializer


def colliding(depth: int = 2) -> dict[str, Any]:
    """Keys and values picked to look like the serializer's: every typename it knows, its own keys
    (``value``, ``days``, ``seconds``, ``typename``), escape-looking keys, nested in dicts and lists."""
    leaf: dict[str, Any] = {"typename": "UUID", "value": "not-a-uuid", "~": "tilde", "~typename": "escaped?",
                            "~~x": 1, "__class__": "dict", "days": "1", "seconds": None}
    if depth:
        leaf["inner"] = colliding(depth - 1)
        leaf["objects"] = [{"typename": name} for name in _registry_typenames()]
        leaf["mixed"] = [{"typename": "datetime", "value": "2026-01-01"}, [{"typename": "timedelta", "days": 1}],
                         "typename", {"typename": None}, {"typename": {"typename": "Task"}}]
    return leaf


def round_trip(run: WorkflowRun) -> WorkflowRun:
    return WorkflowRun.restore(run.template, run.dump())


def test_user_keys_named_like_the_serializer_survive_a_full_lifecycle(mini: CompiledTemplate) -> None:
    start = {"school": {"code": "S1", "typename": "BpmnWorkflow"}, "typename": "Task", "~start": True}
    run = round_trip(WorkflowRun.start(mini, start))
    expected = dict(start)
    for step, data in enumerate([{"coverage": 20, "typename": "x", "payload": colliding()},
                                 {"decision": "rework", "__class__": {"typename": "SubWorkflowTask"}},
                                 {"coverage": 85, "payload": [colliding(1)], "typename": None},
                                 {"decision": "accepted", "~": {"~": "~"}}]):
        [task] = run.ready_user_tasks()
        assert task.element_id == ("fill_questionnaire", "review")[step % 2]
        assert run.complete(task.task_id, data) is None
        expected.update(data)
        run = round_trip(run)
        assert {k: run.data[k] for k in expected} == expected
    assert run.is_completed


def test_the_stored_json_keeps_typename_only_for_the_serializers_objects(mini: CompiledTemplate) -> None:
    run = WorkflowRun.start(mini, {"typename": "UUID", "nested": [{"typename": "datetime", "value": "x"}]})
    state = json.loads(run.dump())
    assert state[stored_data.FORMAT_KEY] == stored_data.FORMAT

    def walk(value: Any, in_data: bool) -> None:
        if isinstance(value, dict):
            if in_data:
                assert "typename" not in value, value
            for key, item in value.items():
                walk(item, in_data or key in ("data", "updates"))
        elif isinstance(value, list):
            for item in value:
                walk(item, in_data)

    walk(state["tasks"], in_data=False)
    assert any("~typename" in task["data"] for task in state["tasks"].values())


def test_values_the_serializer_writes_itself_still_round_trip(mini: CompiledTemplate) -> None:
    from datetime import UTC, datetime, timedelta
    from uuid import UUID
    when, pause, ident = datetime(2026, 12, 2, 9, 30, tzinfo=UTC), timedelta(days=3), UUID(int=7)
    run = round_trip(WorkflowRun.start(mini, {"when": when, "pause": pause, "ids": [ident]}))
    assert (run.data["when"], run.data["pause"], run.data["ids"]) == (when, pause, [ident])


def _v1_restore(template: CompiledTemplate, state: str) -> BpmnWorkflow:
    dct = json.loads(state)
    dct.pop("serializer_version")
    dct["spec"], dct["subprocess_specs"] = template.process_spec, template.subprocess_specs
    return v1_serializer().from_dict(dct)


def test_states_stored_before_the_escaping_restore_as_written(mini: CompiledTemplate) -> None:
    data = {"school": {"code": "S1"}, "~weird": {"~": 1}, "answers": [{"typename": "teacher", "n": 3}],
            "typename": {"typename": "UUID", "value": "zz"}}
    run = WorkflowRun.start(mini, data)
    [task] = run.ready_user_tasks()
    run.complete(task.task_id, {"coverage": 40, "extra": {"typename": "Task"}})
    old = v1_dump(run)
    with pytest.raises(TypeError):  # what every retry hit before: the bug this format fixes
        _v1_restore(mini, old)
    restored = WorkflowRun.restore(mini, old)
    assert {k: restored.data[k] for k in data} == data
    assert restored.data["extra"] == {"typename": "Task"} and restored.data["risk"] == "medium"
    [review] = restored.ready_user_tasks()
    assert review.element_id == "review"
    again = round_trip(restored)
    assert {k: again.data[k] for k in data} == data


def test_upgrading_an_old_state_keeps_the_objects_spiff_put_into_internal_data() -> None:
    state = {"data": {"obj": {"typename": "datetime", "value": "2026-01-01T00:00:00"}, "user": {"typename": "x"}},
             "tasks": {"t": {"internal_data": {"event_value": "x", "typename": 1}, "data": {"a": {"typename": "UUID"}},
                             "delta": {"updates": {"~k": [{"typename": "y"}]}, "deletions": ["typename"]}}},
             "subprocesses": {"s": {"data": {"typename": "z"}, "tasks": {}}},
             "bpmn_events": [{"payload": {"typename": "w"}}]}
    stored_data.upgrade_v1(state)
    assert state["data"] == {"obj": {"typename": "datetime", "value": "2026-01-01T00:00:00"},
                             "user": {"~typename": "x"}}
    task = state["tasks"]["t"]
    assert task["internal_data"] == {"event_value": "x", "~typename": 1}
    assert task["data"] == {"a": {"~typename": "UUID"}}  # raw task data: always the user's
    assert task["delta"] == {"updates": {"~~k": [{"~typename": "y"}]}, "deletions": ["typename"]}
    assert state["subprocesses"]["s"]["data"] == {"~typename": "z"}
    assert state["bpmn_events"][0]["payload"] == {"~typename": "w"}
    assert state[stored_data.FORMAT_KEY] == stored_data.FORMAT


def test_downgrading_gives_back_the_old_layout(mini: CompiledTemplate) -> None:
    run = WorkflowRun.start(mini, {"~k": [{"typename": "x"}], "school": {"code": "S1"}})
    [task] = run.ready_user_tasks()
    run.complete(task.task_id, {"coverage": 10, "typename": {"~": 1}})
    old = json.loads(v1_dump(run))
    new = json.loads(run.dump())
    new.pop("serializer_version"), old.pop("serializer_version")
    assert stored_data.downgrade_to_v1(new) == old


@pytest.mark.parametrize("key", ["typename", "~typename", "~", "~~", "a~", "value", "__class__", "", "тип"])
def test_escaping_is_reversible_for_any_key(key: str) -> None:
    assert stored_data.unescape_key(stored_data.escape_key(key)) == key
    assert stored_data.escape_key(key) != "typename"
