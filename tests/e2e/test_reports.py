"""The school's report in a browser: the school downloads its «Отчёт о выполнении дорожной карты» from its page,
and the file it gets is the DOCX of its own roadmap (read back) and the PDF."""

from __future__ import annotations

from io import BytesIO

import docx
from playwright.sync_api import Page
from sqlalchemy import select

from engine.models import ProcessInstance, School
from engine.process.measures import track_planned
from engine.templates.versions import compiled_version
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage, screenshot, sign_in
from tests.roadmap_steps import MEASURES


def test_the_school_downloads_its_report_from_its_page(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    with live.db.transaction() as session:  # its measures planned (the plan_measures action's rows)
        instance = session.scalar(select(ProcessInstance).join(School, School.id == ProcessInstance.school_id)
                                  .where(School.code == org.school))
        assert instance is not None
        section = compiled_version(session, instance.template_version_id).spec.sections.measures
        assert section is not None
        track_planned(session, live.db.now(), None, instance, section, {"measures": MEASURES})

    sign_in(page, live, org.school_user, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}")
    with page.expect_download() as got:
        page.get_by_test_id("school-report-docx").click()
    download = got.value
    assert download.suggested_filename == f"otchet-{org.school}.docx"
    path = download.path()
    assert path is not None
    document = docx.Document(BytesIO(path.read_bytes()))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])
    assert "Отчёт о выполнении дорожной карты" in text and "МБОУ «Тестовая СОШ»" in text
    assert all(m["title"] in text for m in MEASURES)
    with page.expect_download() as got_pdf:
        page.get_by_test_id("school-report-pdf").click()
    pdf = got_pdf.value.path()
    assert got_pdf.value.suggested_filename == f"otchet-{org.school}.pdf"
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
    screenshot(page, "school-report-links")
