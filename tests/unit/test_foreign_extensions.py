"""BPMN from Camunda Modeler 7 and 8 (and bpmn.io): what the engine supports is accepted, modeler metadata is
kept quietly, and everything it cannot run is reported naming the element and what to use instead."""

from __future__ import annotations

import pytest
from lxml import etree

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import compile_bundle, validate_bundle
from engine.bpmn.lint import foreign_form
from tests.conftest import FIXTURES, MINI_BUNDLE

CAMUNDA = FIXTURES / "camunda"

# file -> {(line, element id, message start)}
UNSUPPORTED = {
    "camunda7_unsupported.bpmn": {
        (13, "start", "camunda:formKey не поддерживается: форма бывает только у пользовательской задачи"),
        (13, "start", "camunda:initiator не поддерживается: процессы запускает движок"),
        (16, "approve", "camunda:assignee не поддерживается: исполнителя задаёт дорожка (lane) с ролью"),
        (16, "approve", "camunda:candidateGroups не поддерживается: исполнителя задаёт дорожка (lane) с ролью"),
        (16, "approve", "camunda:dueDate не поддерживается: срок задаётся атрибутом roadmap:deadline"),
        (16, "approve", "camunda:followUpDate не поддерживается: эскалация задачи"),
        (18, "approve", "camunda:taskListener не поддерживается: вместо слушателя — скрипт-задача"),
        (19, "approve", "camunda:inputOutput не поддерживается: данные процесса общие"),
        (26, "compute", "camunda:resultVariable не поддерживается: результат скрипта задаётся присваиванием"),
        (31, "decide", "camunda:class не поддерживается: движок не вызывает внешний код"),
    },
    "zeebe_unsupported.bpmn": {
        (17, "fill", "zeebe:assignmentDefinition не поддерживается: исполнителя задаёт дорожка (lane) с ролью"),
        (18, "fill", "zeebe:taskSchedule не поддерживается: срок задаётся атрибутом roadmap:deadline"),
        (19, "fill", "zeebe:ioMapping не поддерживается: данные процесса общие"),
        (28, "notify", "zeebe:taskDefinition не поддерживается: движок не вызывает внешний код"),
    },
}


def _problems(name: str) -> list[tuple[int | None, str | None, str]]:
    bundle, problems = load_bundle(CAMUNDA / name)
    assert bundle is not None and not problems
    return [(p.line, p.element_id, p.message) for p in validate_bundle(bundle)]


@pytest.mark.parametrize("name", ["camunda7_supported.bpmn", "zeebe_supported.bpmn"])
def test_modeler_files_using_what_the_engine_supports_are_valid(name: str) -> None:
    assert _problems(name) == []  # bpmndi, bioc colours, modeler:, camunda:historyTimeToLive, zeebe:properties …


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_what_the_engine_cannot_run_is_named_with_what_to_use_instead(name: str) -> None:
    found = _problems(name)
    for line, element_id, start in UNSUPPORTED[name]:
        assert any(p[:2] == (line, element_id) and p[2].startswith(start) for p in found), (line, element_id, start)
    assert len(found) == len(UNSUPPORTED[name])  # nothing else: harmless metadata stays unreported


def test_a_camunda_form_key_names_the_bundle_form() -> None:
    files = {path: content for path, content in _mini_files().items() if path != "mini.bpmn"}
    files["mini.bpmn"] = (CAMUNDA / "camunda7_supported.bpmn").read_bytes()
    compiled = compile_bundle(Bundle("camunda", files))
    assert {key: task.form for key, task in compiled.spec.user_tasks.items()} == {
        "fill": "questionnaire", "review": "review"}
    missing = dict(files, **{"mini.bpmn": files["mini.bpmn"].replace(b"forms/review.form", b"forms/absent.form")})
    problems = validate_bundle(Bundle("camunda", missing))
    assert [(p.element_id, p.message) for p in problems] == [
        ("review", "форма «absent» не найдена: нет файла forms/absent.form")]


def _mini_files() -> dict[str, bytes]:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    return {path: content for path, content in bundle.files.items() if path != "risk.dmn"}


@pytest.mark.parametrize(("xml", "expected"), [
    ('camunda:formKey="camunda-forms:bpmn:review"', "review"),
    ('camunda:formKey="embedded:app:forms/review.html"', "review"),
    ('camunda:formRef="review"', "review"),
    ('camunda:formKey="forms/review.form"', "review"),
    ("", ""),
])
def test_foreign_form_names(xml: str, expected: str) -> None:
    task = etree.fromstring(f'<bpmn:userTask xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                            f'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="t" {xml}/>')
    assert foreign_form(task) == expected


def test_camunda_dmn_metadata_is_kept_and_its_input_variable_reported() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    dmn = bundle.files["risk.dmn"].replace(
        b'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"',
        b'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn"')
    dmn = dmn.replace(b'<decision id="risk_level"', b'<decision camunda:historyTimeToLive="30" id="risk_level"')
    files = dict(bundle.files, **{"risk.dmn": dmn})
    assert validate_bundle(Bundle("mini", files)) == []
    files["risk.dmn"] = dmn.replace(b'<input id="in_coverage"', b'<input camunda:inputVariable="c" id="in_coverage"')
    [problem] = validate_bundle(Bundle("mini", files))
    assert (problem.element_id, problem.line) == ("in_coverage", 5)
    assert problem.message.startswith("camunda:inputVariable не поддерживается: во входных ячейках")
