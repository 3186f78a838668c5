"""The school's report in a browser: the school downloads its «Отчёт о выполнении дорожной карты» from its page,
and the file it gets is the DOCX of its own roadmap (read back) and the PDF; an admin's replacement template with an
unknown placeholder is refused on the admin page, naming it (and the page passes axe-core)."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import docx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from engine.models import ProcessInstance, School, User
from engine.org.passwords import hash_password
from engine.process.measures import track_planned
from engine.process.report_docx import DEFAULT_TEMPLATES
from engine.templates.versions import compiled_version
from tests.conftest import make_org
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage, screenshot, sign_in
from tests.roadmap_steps import MEASURES

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


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


def test_the_admin_is_told_which_placeholder_a_refused_template_names(browser: Browser, live: LiveServer,
                                                                       tmp_path: Path) -> None:
    org = make_org(live.db)
    with live.db.transaction() as session:
        admin = session.scalar(select(User).where(User.login == org.admin))
        assert admin is not None
        admin.password_hash = hash_password(PASSWORD)
    default = DEFAULT_TEMPLATES["school_report"]
    bad = tmp_path / "наш-шаблон.docx"
    with zipfile.ZipFile(default) as source, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"{{ curators }}", b"{{ curator_names }}", 1)
            target.writestr(item, data)

    # axe-core is injected by the test (the pages allow only their own scripts): the browser lets it in alone.
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, live, org.admin, PASSWORD)
    page.goto(f"{live.url}/admin")
    page.get_by_role("link", name="Шаблон отчёта").click()
    expect(page.get_by_test_id("report-template")).to_contain_text("Действует шаблон по умолчанию.")
    page.get_by_label("Новый шаблон (DOCX)").set_input_files(str(bad))
    page.get_by_role("button", name="Проверить и заменить").click()
    expect(page.locator("[data-error='file']")).to_contain_text("неизвестная подстановка «curator_names»")
    expect(page.get_by_test_id("report-template")).to_contain_text("Действует шаблон по умолчанию.")
    screenshot(page, "admin-report-template")
    page.add_script_tag(path=str(AXE))  # axe-core, as tests/e2e/test_accessibility.py runs it
    found = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})")
    assert [v["id"] for v in found["violations"] if v["impact"] in ("serious", "critical")] == []
    context.close()
