"""The school's «Отчёт о выполнении дорожной карты» through the real «500+» template: the roadmap's own data (its
coordinators and curator, risk directions, measures with status and evidence, the curator's visits, the results
the school states) in the DOCX (read back with python-docx) and the PDF (its text read with pypdf, its page
rendered with pdftoppm and checked to be non-blank); attached to the school_report task on submission and sent to
the municipal coordinator; a school sees only its own report; a replacement template is checked before use."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import docx
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.cli import cli
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.errors import NotAllowed, NotFound
from engine.models import Attachment, AuditRecord, Notification, OutboxMessage, Task, User
from engine.org.api_tokens import create_token
from engine.process import attachments, instances, measures, report_docx, visits
from engine.process.cohorts import ensure_cohort
from engine.process.report_files import school_report_file
from engine.process.report_pdf import ReportUnavailable, school_report_pdf
from engine.process.school_report import ru_date, school_report
from engine.templates import versions
from tests.conftest import Clock
from tests.helpers import ROADMAP, csrf_token, set_password, signed_in
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
from web.app import create_app

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
                     "Результаты ВПР улучшились", SUMMARY, "Директор школы", "представил(а): Маслов Г. Г."):
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


def test_without_the_font_the_pdf_is_refused_with_a_reason(timed: Database, reported: tuple[School, int],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    school, _ = reported
    report = school_report(timed, school.code, actor=school.director)
    with pytest.raises(ReportUnavailable, match="отчёт в PDF недоступен: нет файла шрифта /nowhere/font.ttf"):
        school_report_pdf(report, {"REPORT_FONT": "/nowhere/font.ttf"})
    monkeypatch.setenv("REPORT_FONT", "/nowhere/font.ttf")
    set_password(timed, school.director)
    client = signed_in(create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "font"}), school.director)
    refused = client.get(f"/schools/{school.code}/report.pdf")
    assert refused.status_code == 503 and "отчёт в PDF недоступен" in refused.get_data(as_text=True)
    assert client.get(f"/schools/{school.code}/report.docx").status_code == 200  # the DOCX still works


def test_the_pages_the_api_and_the_cli_give_the_same_reports(timed: Database, reported: tuple[School, int],
                                                              tmp_path: Path) -> None:
    school, instance_id = reported
    o = school.org
    set_password(timed, school.director, o.municipal, o.admin, o.foreign_school_user, o.regional)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "reports"})

    director = signed_in(app, school.director)
    page = director.get(f"/schools/{school.code}").get_data(as_text=True)
    assert f"/schools/{school.code}/report.docx" in page and f"/schools/{school.code}/report.pdf" in page
    got = director.get(f"/schools/{school.code}/report.docx")
    assert got.status_code == 200 and got.mimetype == report_docx.DOCX_TYPE
    assert f"otchet-{school.code}.docx" in got.headers["Content-Disposition"]
    assert SUMMARY in _docx_text(got.data)
    pdf = director.get(f"/schools/{school.code}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and SUMMARY[:30] in _pdf_text(pdf.data)
    assert director.get(f"/schools/{school.code}/report.exe").status_code == 404
    stranger = signed_in(app, o.foreign_school_user)
    assert stranger.get(f"/schools/{school.code}/report.docx").status_code == 404

    # The task page of the report offers it, and lists the attached files to the municipal coordinator.
    [task_id] = _task_ids(timed, instance_id, "school_report")
    municipal = signed_in(app, o.municipal)
    task_page = municipal.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-testid="task-school-report"' in task_page and f"otchet-{school.code}.pdf" in task_page
    told = municipal.get("/notifications").get_data(as_text=True)
    assert 'data-kind="report"' in told and "Отчёт школы" in told and f"/tasks/{task_id}" in told

    # The dashboard's summaries: the municipality's and the region's, DOCX and XLSX.
    dashboard = municipal.get(f"/dashboard?municipality={o.municipality}").get_data(as_text=True)
    assert 'data-testid="summary-docx"' in dashboard and 'data-testid="summary-xlsx"' in dashboard
    summary = municipal.get(f"/dashboard/summary.docx?municipality={o.municipality}")
    assert summary.status_code == 200
    text = _docx_text(summary.data)
    assert "Сводный отчёт муниципалитета" in text and "МБОУ «Кураловская СОШ»" in text and "представлен" in text
    sheet = load_workbook(BytesIO(municipal.get(f"/dashboard/summary.xlsx?municipality={o.municipality}").data))
    rows = [[cell.value for cell in row] for row in sheet["Школы"].iter_rows()]
    [ours] = [row for row in rows if row[0] == school.code]
    assert ours[1] == "МБОУ «Кураловская СОШ»" and ours[5] == 4 and ours[6] == 1 and ours[11] == 2
    assert ours[12] == "представлен"
    assert municipal.get(f"/dashboard/summary.xlsx?municipality={o.other_municipality}").status_code == 403
    regional = load_workbook(BytesIO(signed_in(app, o.regional).get(f"/dashboard/summary.xlsx?region={o.region}").data))
    assert [row[0].value for row in regional["Муниципалитеты"].iter_rows(min_row=3)] == ["Второй район", "Первый район"]

    # The API: the same files, the same refusals; the template for admins only, refused with the reason.
    tokens = {login: create_token(timed, "тест", actor=login)[1] for login in (school.director, o.admin, o.municipal,
                                                                               o.foreign_school_user)}

    def call(login: str, method: str, url: str, **kwargs: Any) -> Any:
        return app.test_client().open(f"/api/v1{url}", method=method,
                                      headers={"Authorization": f"Bearer {tokens[login]}"}, **kwargs)

    api_pdf = call(school.director, "GET", f"/schools/{school.code}/report?format=pdf")
    assert api_pdf.status_code == 200 and api_pdf.data.startswith(b"%PDF")
    assert call(o.foreign_school_user, "GET", f"/schools/{school.code}/report").status_code == 404
    assert call(school.director, "GET", f"/schools/{school.code}/report?format=odt").status_code == 422
    assert call(o.municipal, "GET", f"/municipalities/{o.municipality}/summary?format=xlsx").status_code == 200
    assert call(o.municipal, "GET", f"/regions/{o.region}/summary").status_code == 403
    assert call(o.municipal, "GET", "/report-template").status_code == 403
    bad = _template_with(report_docx.DEFAULT_TEMPLATES["school_report"], "{{ curators }}", "{{ curator_names }}")
    refused = call(o.admin, "PUT", "/report-template", data={"file": (BytesIO(bad), "bad.docx")},
                   content_type="multipart/form-data")
    assert refused.status_code == 422 and "curator_names" in refused.json["detail"]
    assert call(o.admin, "GET", "/report-template").json["replaced"] is False
    assert call(o.admin, "GET", "/report-template/file").data == report_docx.DEFAULT_TEMPLATES[
        "school_report"].read_bytes()

    # The admin page refuses the same file with the same reason, shown beside the upload.
    admin = signed_in(app, o.admin)
    form = admin.get("/admin/report-template").get_data(as_text=True)
    answer = admin.post("/admin/report-template", data={"csrf_token": csrf_token(form),
                                                        "file": (BytesIO(bad), "bad.docx")},
                        content_type="multipart/form-data")
    assert answer.status_code == 422 and "curator_names" in answer.get_data(as_text=True)

    # The CLI.
    runner = CliRunner()
    out = tmp_path / "school.pdf"
    done = runner.invoke(cli, ["report", "school", school.code, "--format", "pdf", "-o", str(out)], obj=timed)
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF")
    out = tmp_path / "region.docx"
    done = runner.invoke(cli, ["report", "region", o.region, "--format", "docx", "-o", str(out)], obj=timed)
    assert done.exit_code == 0 and "Сводный отчёт региона" in _docx_text(out.read_bytes())
    wrong = runner.invoke(cli, ["report", "region", o.region, "--format", "pdf", "-o", str(out)], obj=timed)
    assert wrong.exit_code != 0 and "docx или xlsx" in wrong.output
    bad_file = tmp_path / "bad.docx"
    bad_file.write_bytes(bad)
    refused_cli = runner.invoke(cli, ["report-template", "upload", str(bad_file)], obj=timed)
    assert refused_cli.exit_code != 0 and "curator_names" in refused_cli.output


def _task_ids(db: Database, instance_id: int, element: str) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(Task.id).where(Task.instance_id == instance_id,
                                                          Task.element_id == element)))


def test_the_report_lists_the_visits_still_planned_after_the_ones_made(timed: Database, clock: Clock,
                                                                      reported: tuple[School, int]) -> None:
    school, _ = reported
    ahead = clock.now.date() + timedelta(days=40)
    cancelled = clock.now.date() + timedelta(days=60)
    visits.plan_visit(timed, school.code, actor=school.org.municipal, planned_on=ahead, note="Уроки физики")
    dropped = visits.plan_visit(timed, school.code, actor=school.org.municipal, planned_on=cancelled)
    visits.cancel_visit(timed, dropped.id, reason="Карантин", actor=school.org.municipal)
    shown = school_report(timed, school.code, actor=school.director).visits
    assert [v.status for v in shown] == ["проведено", "проведено", "запланировано"]
    assert (shown[-1].date, shown[-1].findings) == (ru_date(ahead), "Уроки физики")
    assert "Уроки физики" in _docx_text(school_report_file(timed, school.code, "docx", actor=school.director).content)
    assert "Карантин" not in _docx_text(school_report_file(timed, school.code, "docx", actor=school.director).content)


def _measure_sweep(timed: Database, school: School, title: str) -> list[tuple[str, int, list[str]]]:
    report = sweep(timed, base_url="https://roadmap.example")
    return [(a.kind, a.step, sorted(a.recipients)) for a in report.actions
            if a.task_id is None and a.school == school.code and a.task == title]


def test_a_year_of_measures_one_missed_and_escalated_once_the_rest_done_ends_in_the_school_s_report(
        timed: Database, clock: Clock) -> None:
    """Issue 16's whole path: the school plans its measures, misses one (reminded, due, then escalated to the
    curator, the municipality and the region, each exactly once), does the rest with evidence, and its submitted
    report (DOCX and PDF) says which were done on time and which is overdue."""
    school = new_school(timed)
    o = school.org
    ensure_cohort(timed, COHORT)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, school.code, cohort_year=COHORT, actor=OPERATOR).instance_id
    run_selection(timed, school, instance_id)
    run_questionnaire_stage(timed, school, instance_id, clock)
    run_measures_program(timed, school, instance_id, run_risk_profile(timed, school, instance_id))
    plan_measures(timed, school, instance_id, MEASURES)
    missed = MEASURES[2]["title"]  # due 15.03.2027
    for m in measures.list_measures(timed, school.code, actor=school.director).measures:
        if m.title != missed:
            measures.update_measure(timed, m.id, status="done", evidence_link=f"{LINK}#{m.id}",
                                    evidence_note="Подтверждение", actor=school.director)
    seen = []
    for moment in (datetime(2027, 3, 12, 9, tzinfo=UTC), datetime(2027, 3, 16, 6, tzinfo=UTC),
                   datetime(2027, 3, 19, 6, tzinfo=UTC), datetime(2027, 3, 25, 6, tzinfo=UTC),
                   datetime(2027, 4, 5, 6, tzinfo=UTC)):
        clock.now = moment
        seen.append(_measure_sweep(timed, school, missed))
        assert _measure_sweep(timed, school, missed) == []  # the same moment again: nothing twice
    assert seen == [[("reminder", 1, [school.director])], [("due", 0, [school.director])],
                    [("escalation", 1, [school.curator])], [("escalation", 2, [o.municipal])],
                    [("escalation", 3, [o.regional])]]
    visit = {"visit_term": "h1", "visit_date": "2027-02-10", "visit_findings": "Посещены уроки математики"}
    act(timed, school, instance_id, "curator_visit", school.curator, visit)
    act(timed, school, instance_id, "curator_visit", school.curator,
        {**visit, "visit_term": "h2", "visit_date": "2027-10-20", "visit_findings": "Проверено оснащение",
         "visits_complete": True})
    act(timed, school, instance_id, "municipal_monitoring", o.municipal, {"monitoring_assessment": "on_track"})
    act(timed, school, instance_id, "regional_monitoring_report", o.regional, {"regional_summary": "Мониторинг проведён во всех школах региона."})
    act(timed, school, instance_id, "school_report", school.director,
        {"roadmap_completion": 75, "vpr_dynamics": "improved", "report_summary": SUMMARY})
    report = school_report(timed, school.code, actor=o.municipal)
    timing = {m.title: (m.status, m.timing) for m in report.measures}
    assert timing[missed] == ("Запланировано", "просрочено")
    assert {timing[m["title"]] for m in MEASURES if m["title"] != missed} == {("Выполнено", "в срок")}
    assert (report.execution.on_time, report.execution.overdue) == (3, 1)
    for text in (_docx_text(school_report_file(timed, school.code, "docx", actor=o.municipal).content),
                 _pdf_text(school_report_file(timed, school.code, "pdf", actor=o.municipal).content)):
        flat = " ".join(text.split())
        for m in MEASURES:
            assert m["title"] in flat
        assert "просрочено" in flat and "в срок" in flat and SUMMARY in flat
