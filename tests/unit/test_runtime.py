"""The workflow runtime: a small template run end to end, serialized and restored at every step."""

from __future__ import annotations

import json

import pytest

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import CompiledTemplate, compile_bundle
from engine.bpmn.runtime import WorkflowRun
from engine.bpmn.script_engine import SafeEnvironment
from engine.errors import ExpressionRejected, TaskNotFound, WorkflowFailed
from tests.conftest import MINI_BUNDLE


@pytest.fixture(scope="module")
def mini() -> CompiledTemplate:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    return compile_bundle(bundle)


def save_restore(run: WorkflowRun) -> WorkflowRun:
    """What production does between every two steps: the workflow only lives as stored JSON."""
    return WorkflowRun.restore(run.template, run.dump())


def only_ready(run: WorkflowRun) -> str:
    [task] = run.ready_user_tasks()
    return task.element_id


def complete(run: WorkflowRun, data: dict[str, object]) -> WorkflowRun:
    [task] = run.ready_user_tasks()
    run.complete(task.task_id, data)
    return save_restore(run)


def test_lifecycle_with_rework_round_trips_at_every_step(mini: CompiledTemplate) -> None:
    run = save_restore(WorkflowRun.start(mini, {"school": {"code": "S1"}}))
    assert only_ready(run) == "fill_questionnaire"
    run = complete(run, {"coverage": 20})
    assert only_ready(run) == "review"
    assert run.data["risk"] == "high"  # the DMN ran between the two user tasks
    run = complete(run, {"decision": "rework"})
    assert only_ready(run) == "fill_questionnaire"
    run = complete(run, {"coverage": 85})
    assert run.data["risk"] == "low"
    run = complete(run, {"decision": "accepted"})
    assert run.is_completed and run.ready_user_tasks() == []
    assert run.data["school"] == {"code": "S1"}


def test_stored_state_leaves_the_spec_out(mini: CompiledTemplate) -> None:
    state = json.loads(WorkflowRun.start(mini).dump())
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["serializer_version"]


def test_completing_an_unknown_or_finished_task_is_refused(mini: CompiledTemplate) -> None:
    run = WorkflowRun.start(mini)
    [task] = run.ready_user_tasks()
    with pytest.raises(TaskNotFound):
        run.complete("not-a-uuid", {})
    run.complete(task.task_id, {"coverage": 50})
    with pytest.raises(TaskNotFound):
        run.complete(task.task_id, {"coverage": 50})


def test_failing_condition_names_the_element_and_the_cause(mini: CompiledTemplate) -> None:
    run = complete(WorkflowRun.start(mini), {"coverage": 50})
    [review] = run.ready_user_tasks()
    failure = run.complete(review.task_id, {})  # no "decision": the gateway cannot choose a path
    assert isinstance(failure, WorkflowFailed) and "decision" in failure.message
    assert (failure.element_id, failure.element_name) == ("decision", "Принято?")


def test_a_parked_step_survives_a_restore_and_runs_again(mini: CompiledTemplate) -> None:
    run = complete(WorkflowRun.start(mini), {"coverage": 50})
    [review] = run.ready_user_tasks()
    assert run.complete(review.task_id, {}) is not None
    parked = save_restore(run)
    assert parked.ready_user_tasks() == [] and not parked.is_completed
    with pytest.raises(WorkflowFailed):
        parked.advance()  # the same step, tried again, fails the same way
    fixed = save_restore(run)
    assert fixed.advance_or_park() is not None  # still failing: parked again, nothing raised


def test_runtime_refuses_what_slipped_past_validation() -> None:
    env = SafeEnvironment()
    with pytest.raises(ExpressionRejected):
        env.evaluate("__import__('os').system('id')", {})
    with pytest.raises(ExpressionRejected):
        env.execute("import os", {})
    assert env.evaluate("x + 1", {"x": 1}) == 2


def _tampered(mini_bundle: Bundle, old: str, new: str) -> CompiledTemplate:
    files = dict(mini_bundle.files)
    files["mini.bpmn"] = files["mini.bpmn"].replace(old.encode(), new.encode())
    return compile_bundle(Bundle("tampered", files))


def test_runtime_error_in_condition_becomes_workflow_failed() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    compiled = _tampered(bundle, "decision == 'accepted'", "1 / (coverage - coverage) == 1")
    run = WorkflowRun.start(compiled)
    run.complete(run.ready_user_tasks()[0].task_id, {"coverage": 10})
    [review] = run.ready_user_tasks()
    failure = run.complete(review.task_id, {"decision": "accepted"})
    assert failure is not None and "процесс не может продолжиться" in failure.message


def _filled_twice() -> Bundle:
    """The mini template with its questionnaire a parallel multi-instance task of two instances."""
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    parallel = b'<bpmn:outgoing>f2</bpmn:outgoing>\n      <bpmn:multiInstanceLoopCharacteristics>' \
               b'<bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
    source = bundle.files["mini.bpmn"].replace(b"<bpmn:outgoing>f2</bpmn:outgoing>", parallel, 1)
    return Bundle("mini", {**bundle.files, "mini.bpmn": source})


def test_a_multi_instance_step_finishes_in_a_process_that_did_not_start_it() -> None:
    """SpiffWorkflow hears an instance of a multi-instance task complete through an event it connects on the
    spec when it creates the instances; a fresh process (a restart, another worker) compiles the spec anew,
    and its instances finished there were never merged: the roadmap stood still with nothing to do."""
    twice = _filled_twice()
    started = WorkflowRun.start(compile_bundle(twice), {"school": {"code": "S1"}})
    assert [t.element_id.split()[0] for t in started.ready_user_tasks()] == ["fill_questionnaire"] * 2
    run = WorkflowRun.restore(compile_bundle(twice), started.dump())  # as after a restart
    for task in run.ready_user_tasks():
        run.complete(task.task_id, {"coverage": 85})
    assert only_ready(run) == "review"



def test_a_spec_that_does_not_hear_its_instances_still_merges_them_when_it_advances() -> None:
    """A spec without the ear (as compiled before the compiler connected it), or a stored workflow whose
    instances finished unmerged, is not stuck: each step replays the merges SpiffWorkflow missed."""
    twice = _filled_twice()
    deaf = compile_bundle(twice)
    multi = deaf.process_spec.task_specs["fill_questionnaire"]
    instance = deaf.process_spec.task_specs[multi.task_spec]
    assert instance.completed_event.is_connected(multi.merge_child)  # the compiler connects it
    instance.completed_event.disconnect(multi.merge_child)
    run = WorkflowRun.restore(deaf, WorkflowRun.start(compile_bundle(twice), {"school": {"code": "S1"}}).dump())
    for task in run.ready_user_tasks():
        run.complete(task.task_id, {"coverage": 85})
    assert only_ready(run) == "review"
