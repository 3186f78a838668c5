"""The school's «Отчёт о выполнении дорожной карты» through the real «500+» template: the roadmap's own data (its
coordinators and curator, risk directions, measures with status and evidence, the curator's visits, the results
the school states) in the DOCX (read back with python-docx) and the PDF (its text read with pypdf, its page
rendered with pdftoppm and checked to be non-blank); attached to the school_report task on submission and sent to
the municipal coordinator; a school sees only its own report; a replacement template is checked before use."""

from __future__ import annotations

import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import docx
import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import NotAllowed, NotFound
from engine.models import Attachment, AuditRecord, Notification, OutboxMessage, User
from engine.process import attachments, instances, measures, report_docx
from engine.process.cohorts import ensure_cohort
from engine.process.report_files import school_report_file
from engine.process.report_pdf import ReportUnavailable, school_report_pdf
from engine.process.school_report import school_report
from engine.templates import versions
from tests.conftest import Clock
from tests.helpers import ROADMAP
from tests.roadmap_steps import (
    COHORT,
    MEASURES,
    START,
    School,
    act,
    new_school,
    plan_measures,
    run_measures_program,
    run_questionnaire_stage,
    run_risk_profile,
    run_selection,
)

LINK = "https://school.example/docs/kpk-2027.pdf"
SUMMARY = "Дорожная карта выполнена: курсы пройдены, кабинеты оснащены."


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def reported(timed: Database, clock: Clock) -> tuple[School, int]:
    """A school that planned its measures, did one with evidence, was visited twice and submitted its report."""
    school = new_school(timed)
    o = school.org
    with timed.transaction() as session:
        mun = session.scalar(select(User).where(User.login == o.municipal))
        assert mun is not None
        mun.email = "mun@example.org"
    ensure_cohort(timed, COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id
    run_selection(timed, school, instance_id)
    run_questionnaire_stage(timed, school, instance_id, clock)
    run_measures_program(timed, school, instance_id, run_risk_profile(timed, school, instance_id))
    plan_measures(timed, school, instance_id, MEASURES)
    courses = next(m for m in measures.list_measures(timed, school.code, actor=school.director).measures
                   if m.title.startswith("Курсы"))
    measures.update_measure(timed, courses.id, status="done", evidence_link=LINK, evidence_note="Удостоверения",
                            actor=school.director)
    visit = {"visit_term": "h1", "visit_date": "2027-02-10", "visit_findings": "Посещены уроки математики"}
    act(timed, school, instance_id, "curator_visit", school.curator, visit)
    act(timed, school, instance_id, "curator_visit", school.curator,
        {**visit, "visit_term": "h2", "visit_date": "2027-10-20", "visit_findings": "Проверено оснащение кабинетов",
         "visits_complete": True})
    act(timed, school, instance_id, "municipal_monitoring", o.municipal, {"monitoring_assessment": "on_track"})
    act(timed, school, instance_id, "regional_monitoring_report", o.regional,
        {"regional_summary": "Мониторинг проведён во всех школах региона."})
    act(timed, school, instance_id, "school_report", school.director,
        {"roadmap_completion": 92, "vpr_dynamics": "improved", "report_summary": SUMMARY})
    return school, instance_id


def _docx_text(content: bytes) -> str:
    document = docx.Document(BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(content)).pages)


def test_the_submitted_report_is_attached_as_docx_and_pdf_and_sent_to_the_municipality(
        timed: Database, reported: tuple[School, int], tmp_path: Path) -> None:
    school, instance_id = reported
    o = school.org
    with timed.reading() as session:
        rows = session.scalars(select(Attachment).where(Attachment.instance_id == instance_id,
                                                        Attachment.field_key == "report_generated")
                               .order_by(Attachment.version)).all()
        files = {row.filename: (row.content_type, row.content, row.task_id) for row in rows}
        note = session.scalar(select(Notification).join(User, User.id == Notification.user_id)
                              .where(User.login == o.municipal, Notification.kind == "report"))
        letter = session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == "mun@example.org"))
        attached = session.scalar(select(AuditRecord).where(AuditRecord.instance_id == instance_id,
                                                            AuditRecord.action == "report.attached"))
        others = session.scalar(select(Notification).join(User, User.id == Notification.user_id)
                                .where(User.login == o.other_municipal, Notification.kind == "report"))
    stem = f"otchet-{school.code}"
    assert set(files) == {f"{stem}.docx", f"{stem}.pdf"}
    docx_type, docx_bytes, task_id = files[f"{stem}.docx"]
    assert docx_type == report_docx.DOCX_TYPE and files[f"{stem}.pdf"][0] == "application/pdf"
    assert note is not None and "МБОУ «Кураловская СОШ»" in note.title and note.link and note.link.endswith(
        f"/tasks/{task_id}")
    assert letter is not None and letter.subject == note.title and f"{stem}.pdf" in letter.body
    assert attached is not None and others is None  # the other municipality is not told

    text = _docx_text(docx_bytes)
    for expected in ("Отчёт о выполнении дорожной карты", "МБОУ «Кураловская СОШ»", "Первый район",
                     "Тестовая область", "с января 2027 года", f"Пользователь {o.regional}",
                     f"Пользователь {o.municipal}", "Куратор Новый", "Курсы повышения квалификации",
                     "Выполнено (в срок)", f"Удостоверения — {LINK}", "Оснащение кабинетов физики и химии",
                     "Запланировано", "01.04.2027", "Завуч Петрова А. А.", "10.02.2027", "I полугодие",
                     "Посещены уроки математики", "Проверено оснащение кабинетов", "92%",
                     "Результаты ВПР улучшились", SUMMARY, "Директор", "Маслов Г. Г."):
        assert expected in text, expected
    assert "{{" not in text and "{%" not in text
    assert "Низкий уровень оснащения школы" in text  # a chosen risk direction, by its title

    # The task's documents, as the task page and the API list them, for the municipal coordinator too.
    listed = {d.filename for d in attachments.for_task(timed, task_id, actor=o.municipal)}
    assert {f"{stem}.docx", f"{stem}.pdf"} <= listed

    pdf_bytes = files[f"{stem}.pdf"][1]
    pdf_text = _pdf_text(pdf_bytes)
    for expected in ("Отчёт о выполнении дорожной карты", "МБОУ «Кураловская СОШ»", "Курсы повышения",
                     "Посещены уроки математики", "Результаты ВПР улучшились"):
        assert expected in pdf_text, expected
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    _assert_not_blank(next(tmp_path.glob("page*.png")))


def _assert_not_blank(png: Path) -> None:
    """Text was drawn: a good part of the page is dark (pdftoppm of an empty page is all white)."""
    with Image.open(png) as image:
        histogram = image.convert("L").histogram()
        dark, total = sum(histogram[:128]), image.width * image.height
    assert dark > total // 100, f"the rendered page is blank ({dark} dark pixels of {total})"


def test_a_school_sees_only_its_own_report(timed: Database, reported: tuple[School, int]) -> None:
    school, _ = reported
    o = school.org
    assert school_report(timed, school.code, actor=school.director).school_code == school.code
    for who in (school.curator, o.municipal, o.regional, o.federal, o.admin):
        assert school_report_file(timed, school.code, "docx", actor=who).content.startswith(b"PK")
    for who in (o.school_user, o.foreign_school_user, o.other_municipal, o.sibling_curator):
        with pytest.raises(NotFound):
            school_report(timed, school.code, actor=who)


def test_a_replacement_template_is_checked_against_a_sample_before_it_is_used(
        timed: Database, reported: tuple[School, int], tmp_path: Path) -> None:
    school, _ = reported
    o = school.org
    default = report_docx.DEFAULT_TEMPLATES["school_report"]
    bad = _template_with(default, "{{ school.name }}", "{{ school.nmae }}")
    with pytest.raises(report_docx.TemplateRejected, match="school.nmae|nmae"):
        report_docx.replace_template(timed, "bad.docx", bad, actor=o.admin)
    with pytest.raises(report_docx.TemplateRejected, match="не файл DOCX"):
        report_docx.replace_template(timed, "bad.docx", b"%PDF-1.4 not a docx", actor=o.admin)
    with pytest.raises(report_docx.TemplateRejected, match="ошибка в подстановке"):
        report_docx.replace_template(timed, "bad.docx", _template_with(default, "{{ school.name }}",
                                                                        "{{ school.name "), actor=o.admin)
    with pytest.raises(NotAllowed):
        report_docx.replace_template(timed, "mine.docx", default.read_bytes(), actor=o.regional)
    assert report_docx.template_info(timed, actor=o.admin).replaced is False

    mine = _template_with(default, "Отчёт о выполнении дорожной карты проекта",
                          "ОТЧЁТ ШКОЛЫ {{ school.code }} о выполнении дорожной карты проекта")
    info = report_docx.replace_template(timed, "C:\\Users\\admin\\наш-шаблон.docx", mine, actor=o.admin)
    assert info.replaced and info.filename == "наш-шаблон.docx" and info.uploaded_by == o.admin
    text = _docx_text(school_report_file(timed, school.code, "docx", actor=school.director).content)
    assert f"ОТЧЁТ ШКОЛЫ {school.code}" in text
    assert report_docx.template_file(timed, actor=o.admin) == ("наш-шаблон.docx", mine)
    assert report_docx.reset_template(timed, actor=o.admin) is True
    assert report_docx.reset_template(timed, actor=o.admin) is False
    assert "ОТЧЁТ ШКОЛЫ" not in _docx_text(school_report_file(timed, school.code, "docx", actor=o.admin).content)


def _template_with(path: Path, old: str, new: str) -> bytes:
    """The default template with one text replaced in its document part (as an admin edits it in Word)."""
    out = BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode(), 1)
            target.writestr(item, data)
    return out.getvalue()


def test_without_the_font_the_pdf_is_refused_with_a_reason(timed: Database, reported: tuple[School, int]) -> None:
    school, _ = reported
    report = school_report(timed, school.code, actor=school.director)
    with pytest.raises(ReportUnavailable, match="отчёт в PDF недоступен: нет файла шрифта /nowhere/font.ttf"):
        school_report_pdf(report, {"REPORT_FONT": "/nowhere/font.ttf"})
