"""The school report's default DOCX template: it renders the sample report with nothing left unfilled, and the
committed file is what scripts/make_report_template.py makes (the binary is generated from reviewed code)."""

from __future__ import annotations

import importlib.util
from io import BytesIO
from pathlib import Path

import docx
import pytest

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.compiler import compile_bundle, validate_bundle
from engine.process.report_docx import DEFAULT_TEMPLATES, TemplateRejected, check_template, render_docx
from engine.process.report_pdf import school_report_pdf
from engine.process.school_report import report_elements, sample_report

ROOT = Path(__file__).resolve().parents[2]


def _text(content: bytes) -> str:
    document = docx.Document(BytesIO(content))
    return "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])


def test_the_default_template_renders_every_part_of_the_sample() -> None:
    text = _text(render_docx(DEFAULT_TEMPLATES["school_report"].read_bytes(), sample_report().context()))
    for part in ("1. Участие в проекте", "2. Рисковые направления", "3. Мероприятия дорожной карты",
                 "4. Посещения школы куратором", "5. Результаты", "с января 2027 года", "Кураторова К. К.",
                 "Курсы повышения квалификации по формирующему оцениванию", "Выполнено (в срок)",
                 "Удостоверения — https://school.example/pk", "15.03.2027", "Методическая уверенность учителей",
                 "Исполнение дорожной карты: 100%", "Директор школы"):
        assert part in text, part
    assert "{{" not in text and "{%" not in text
    assert "Посещений пока не было" not in text and "ещё не выбраны" not in text  # the «none» lines only when empty


def test_the_committed_template_is_what_the_script_makes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_report_template", ROOT / "scripts" / "make_report_template.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = tmp_path / "made.docx"
    module.build(made)
    context = sample_report().context()
    assert _text(render_docx(made.read_bytes(), context)) == _text(
        render_docx(DEFAULT_TEMPLATES["school_report"].read_bytes(), context))


def test_a_template_that_is_not_a_docx_is_refused() -> None:
    for content, reason in ((b"", "пуст"), (b"hello", "не файл DOCX"), (b"PK\x03\x04broken", "не файл DOCX")):
        with pytest.raises(TemplateRejected, match=reason):
            check_template(content)


def test_the_pdf_of_the_sample_is_a_pdf() -> None:
    assert school_report_pdf(sample_report()).startswith(b"%PDF")


def _roadmap_with(old: str, new: str) -> list[str]:
    bundle, _ = load_bundle(ROOT / "workflows" / "roadmap-500")
    assert bundle is not None
    files = dict(bundle.files)
    text = files["manifest.json"].decode("utf-8")
    assert old in text
    files["manifest.json"] = text.replace(old, new, 1).encode("utf-8")
    return [p.format() for p in validate_bundle(Bundle("roadmap-500", files))]


def test_the_report_action_names_its_tasks_and_the_validator_checks_them() -> None:
    declared = '"school_report": [{"action": "attach_school_report"}]'
    assert _roadmap_with(declared, declared) == []
    bundle, _ = load_bundle(ROOT / "workflows" / "roadmap-500")
    assert bundle is not None
    assert report_elements(compile_bundle(bundle).spec.sections) == ("school_report", "curator_visit")
    problems = _roadmap_with(declared, '"school_report": [{"action": "attach_school_report", "visits": "no_such"}]')
    assert len(problems) == 1 and "задачи посещений «no_such» нет в BPMN" in problems[0]
    assert _roadmap_with(declared, '"school_report": [{"action": "attach_school_report", "visits": "curator_visit"}]'
                         ) == []
