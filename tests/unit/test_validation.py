"""Validation of broken and hostile BPMN files and bundles: every problem located, nothing raised."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.bpmn.bundle import Bundle, from_zip, load_bundle
from engine.bpmn.compiler import compile_bundle, validate_bundle
from engine.errors import Problem, TemplateInvalid
from tests.conftest import FIXTURES, MINI_BUNDLE

BROKEN = FIXTURES / "broken"

# file -> (line or None, element id or None, a fragment of the message)
EXPECTED = {
    "not_well_formed.bpmn": (16, None, "XML некорректен"),
    "empty.bpmn": (None, None, "XML"),
    "not_bpmn.bpmn": (2, None, "это не BPMN 2.0"),
    "no_start_event.bpmn": (5, "proc", "нет стартового события"),
    "unknown_lane.bpmn": (7, "Lane_0x1", "не соответствует известной роли"),
    "task_without_form.bpmn": (16, "task", "нет формы"),
    "task_without_deadline.bpmn": (16, "task", "не задано правило срока"),
    "bad_deadline.bpmn": (16, "task", "срок «две недели» не распознан"),
    "condition_syntax_error.bpmn": (22, "f_cond", "отклонено"),
    "condition_import.bpmn": (22, "f_cond", "__import__"),
    "condition_subclasses.bpmn": (22, "f_cond", "__class__"),
    "condition_function_walk.bpmn": (22, "f_cond", "__self__"),
    "condition_format_walk.bpmn": (22, "f_cond", "format"),
    "condition_huge_power.bpmn": (22, "f_cond", "слишком больш"),
    "script_exec.bpmn": (20, "evil_script", "скрипт"),
    "timer_attack.bpmn": (20, "evil_timer", "open"),
    "unsupported_service_task.bpmn": (20, "call_api", "«serviceTask» не поддерживается"),
    "unsupported_message_event.bpmn": (20, "md", "«messageEventDefinition» не поддерживается"),
    "xxe.bpmn": (2, None, "DOCTYPE и ENTITY запрещены"),
    "billion_laughs.bpmn": (3, None, "DOCTYPE и ENTITY запрещены"),
    "invalid_utf8.bpmn": (16, None, "байт 0xC7 не читается в кодировке UTF-8"),
    "binary_garbage.bpmn": (2, None, "байт 0x80 не читается в кодировке UTF-8 (кодировка не объявлена)"),
    "timer_cycle.bpmn": (20, "every_week", "timeCycle"),
    "timer_start_event.bpmn": (15, "start", "таймер на стартовом событии"),
    "dangling_flow.bpmn": (23, "f_default", "несуществующий элемент «nowhere»"),
}


def _problems(name: str) -> list[Problem]:
    bundle, problems = load_bundle(BROKEN / name)
    assert bundle is not None and not problems
    return validate_bundle(bundle)


# Valid siblings of the broken files; cp1251.bpmn declares windows-1251 and its bytes are windows-1251.
VALID = ("valid.bpmn", "cp1251.bpmn")


def test_every_broken_file_has_an_expectation() -> None:
    on_disk = {p.name for p in BROKEN.glob("*.bpmn")} - set(VALID)
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", VALID)
def test_the_valid_siblings_are_valid(name: str) -> None:
    assert _problems(name) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_is_reported_with_location(name: str) -> None:
    line, element_id, fragment = EXPECTED[name]
    problems = _problems(name)
    assert problems, f"{name} passed validation"
    matching = [p for p in problems if fragment in p.message or fragment in (p.element_id or "")]
    assert matching, [p.format() for p in problems]
    found = matching[0]
    assert found.path.endswith(name)
    if line is not None:
        assert found.line == line, found.format()
    if element_id is not None:
        assert found.element_id == element_id, found.format()


def test_problem_format_uses_dashes_for_unknowns() -> None:
    assert Problem("a.bpmn", None, None, "плохо").format() == "a.bpmn:-: -: плохо"
    assert Problem("a.bpmn", 3, "task", "плохо").format() == "a.bpmn:3: task: плохо"


def test_xxe_does_not_read_files() -> None:
    problems = _problems("xxe.bpmn")
    assert all("root:" not in p.message for p in problems)


def test_mini_bundle_is_valid_and_compiles() -> None:
    bundle, problems = load_bundle(MINI_BUNDLE)
    assert bundle is not None and problems == []
    compiled = compile_bundle(bundle)
    assert compiled.spec.key == "mini"
    assert set(compiled.spec.user_tasks) == {"fill_questionnaire", "review"}
    review = compiled.spec.user_tasks["review"]
    assert (review.role, review.stage, review.form, review.deadline) == ("curator", "questionnaire",
                                                                         "review", "5WD")


def _broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(MINI_BUNDLE, target)
    return target


def test_bundle_reports_every_problem_at_once(tmp_path: Path) -> None:
    target = _broken_copy(tmp_path)
    bpmn = target / "mini.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    text = text.replace('roadmap:form="review"', 'roadmap:form="missing_form"')
    text = text.replace('roadmap:stage="questionnaire" roadmap:form="questionnaire"',
                        'roadmap:stage="nonexistent" roadmap:form="questionnaire"')
    text = text.replace("decision == 'rework'", "decision.__class__")
    bpmn.write_text(text, encoding="utf-8")
    (target / "forms" / "review.form").unlink()
    (target / "forms" / "broken.form").write_text('{"components": [{"type": "rocket", "key": "x"}]}',
                                                  encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    messages = [p.format() for p in validate_bundle(bundle)]
    assert any("missing_form" in m and ": review:" in m for m in messages), messages
    assert any("этап «nonexistent»" in m and ": fill_questionnaire:" in m for m in messages), messages
    assert any("__class__" in m and ": f_rework:" in m for m in messages), messages
    assert any("broken.form" in m and "rocket" in m for m in messages), messages


def test_manifest_problems(tmp_path: Path) -> None:
    target = _broken_copy(tmp_path)
    (target / "manifest.json").write_text(json.dumps({"key": "Bad Key!", "stages": []}), encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    messages = " | ".join(p.message for p in validate_bundle(bundle))
    assert "ключ шаблона" in messages and "«title»" in messages and "этапов" in messages


def test_manifest_not_json(tmp_path: Path) -> None:
    target = _broken_copy(tmp_path)
    (target / "manifest.json").write_text("{ key: }", encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    [problem] = [p for p in validate_bundle(bundle) if p.path.endswith("manifest.json")]
    assert problem.line == 1 and "manifest.json некорректен" in problem.message


def test_dmn_cells_are_checked(tmp_path: Path) -> None:
    target = _broken_copy(tmp_path)
    dmn = target / "risk.dmn"
    dmn.write_text(dmn.read_text(encoding="utf-8").replace('"medium"', '"".__class__'), encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    problems = validate_bundle(bundle)
    assert [p.element_id for p in problems] == ["r_medium_out"]


def test_business_rule_task_must_name_an_existing_decision(tmp_path: Path) -> None:
    target = _broken_copy(tmp_path)
    (target / "risk.dmn").unlink()
    bundle, _ = load_bundle(target)
    assert bundle is not None
    [problem] = validate_bundle(bundle)
    assert problem.element_id == "rate_risk" and "risk_level" in problem.message


def test_compile_raises_template_invalid_with_all_problems() -> None:
    bundle = Bundle("x.bpmn", {"x.bpmn": b"<nope"})
    with pytest.raises(TemplateInvalid) as caught:
        compile_bundle(bundle)
    assert caught.value.problems and "x.bpmn" in caught.value.message


def test_zip_with_path_traversal_is_refused() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.bpmn", "x")
    bundle, problems = from_zip("evil.zip", buffer.getvalue())
    assert bundle is None and "недопустимый путь" in problems[0].message


def test_garbage_zip_is_a_problem_not_an_exception() -> None:
    bundle, problems = from_zip("junk.zip", b"PK\x03\x04 not really")
    assert bundle is None and "архив повреждён" in problems[0].message


def test_bundle_round_trips_through_zip() -> None:
    bundle, _ = load_bundle(MINI_BUNDLE)
    assert bundle is not None
    again, problems = from_zip("mini.zip", bundle.to_zip())
    assert again is not None and not problems
    assert again.content_hash == bundle.content_hash


def test_context_panels_need_the_sections_they_read(tmp_path: Path) -> None:
    """A bundle without questionnaires or a risk catalogue cannot show answers or a risk profile; a panel that
    would is reported where it is written. Panels that read only the forms are fine."""
    target = tmp_path / "mini"
    shutil.copytree(MINI_BUNDLE, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["context"] = {"review": [{"kind": "responses"}, {"kind": "risk_profile"},
                                      {"kind": "values", "fields": ["comment"], "title": "Анкета"}]}
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    bundle, _ = load_bundle(target)
    assert bundle is not None
    problems = validate_bundle(bundle)
    assert [(p.element_id, p.message.split(":")[0]) for p in problems] == [
        ("context.review[0].kind", "панель «responses»"), ("context.review[1].kind", "панель «risk_profile»")]
    assert all(p.path.endswith("manifest.json") and p.line for p in problems)
    assert "questionnaires" in problems[0].message and "risk_catalogue" in problems[1].message
