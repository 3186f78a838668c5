"""The manifest editor on the real site (issue 18, point 4): manifest.json as forms, a tab per section, errors
under the field they concern — the schema's as the admin types, the template check's after saving — and the
raw JSON for experts, both views editing one document. And the admin header: one «Администрирование» menu,
one line at 1366 px, usable on a phone.

It runs on a database of its own: the draft it saves must not be the one other tests open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from engine.models import User
from engine.org.passwords import hash_password
from engine.templates import workspace
from tests.conftest import make_org
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Clock, LiveServer, database_of_its_own, editor_screenshots, screenshot, serving

PASSWORD = "манифест-2035"
KEY = "roadmap-500"


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[LiveServer, str]]:
    clock = Clock()
    with database_of_its_own("manifest", clock) as db:
        org = make_org(db)
        with db.transaction() as session:
            admin = session.scalars(select(User).where(User.login == org.admin)).one()
            admin.password_hash = hash_password(PASSWORD)
        with serving(db, clock) as server:
            yield server, org.admin


def open_manifest(page: Page, server: LiveServer) -> None:
    """From the template's page, as an admin goes: its draft (opened, or the one there is), then manifest.json."""
    page.goto(f"{server.url}/admin/templates/{KEY}")
    edit = "Редактировать черновик"  # a button that opens one, a link to the one there is
    page.get_by_role("button", name=edit).or_(page.get_by_role("link", name=edit)).click()
    page.get_by_role("link", name="manifest.json", exact=True).click()
    page.wait_for_selector("#template-editor[data-ready='1']")


def field(page: Page, path: str) -> Any:
    return page.locator(f"#manifest-panel [data-path='{path}']")


def error(page: Page, path: str, source: str) -> Any:
    return page.locator(f"#manifest-panel .manifest-error[data-for='{path}'][data-source='{source}']")


def tab(page: Page, section: str) -> Any:
    return page.locator(f"#manifest-tabs [data-section='{section}']")


def saved_manifest(server: LiveServer, admin: str) -> dict[str, Any]:
    text = workspace.read_draft_file(server.db, KEY, "manifest.json", actor=admin)
    return dict(json.loads(text))


def test_admin_edits_the_manifest_in_forms_and_sees_errors_at_their_fields(
        page: Page, site: tuple[LiveServer, str]) -> None:
    server, admin = site
    page.set_viewport_size({"width": 1366, "height": 900})
    e2e.sign_in(page, server, admin, PASSWORD)
    open_manifest(page, server)
    expect(page.locator("#manifest-views [data-view='forms']")).to_have_attribute("aria-pressed", "true")
    for section in ("main", "stages", "deadlines", "escalation", "cohort_calendar", "rules", "indicators",
                    "risk_catalogue", "questionnaires", "measures", "visits", "actions", "context"):
        expect(tab(page, section)).to_have_count(1)
    expect(field(page, "key")).to_have_value(KEY)

    # A value the schema refuses is flagged under its field as it is typed, and its tab counts it.
    tab(page, "escalation").click()
    page.locator(".manifest-add[data-for='escalation.steps']").click()
    field(page, "escalation.steps[0].after").fill("3 дня")
    expect(error(page, "escalation.steps[0].after", "schema")).to_contain_text("рабочие дни (3WD)")
    expect(field(page, "escalation.steps[0].after")).to_have_attribute("aria-invalid", "true")
    expect(tab(page, "escalation")).to_have_attribute("data-errors", "1")
    screenshot(page, "admin-editor-manifest-error")
    field(page, "escalation.steps[0].after").fill("3WD")
    expect(error(page, "escalation.steps[0].after", "schema")).to_have_count(0)
    expect(tab(page, "escalation")).to_have_attribute("data-errors", "0")

    # What only the template check knows — a deadline for a task the BPMN does not have — comes back from the
    # save and stands under that deadline's field; the problem list's link leads to it too.
    tab(page, "deadlines").click()
    page.locator(".manifest-new-key").fill("review_concpt")
    page.locator(".manifest-add[data-for='deadlines']").click()
    field(page, "deadlines.review_concpt").fill("5WD")
    page.locator("#editor-save").click()
    expect(page.locator("#editor-status")).to_contain_text("Сохранено. Есть ошибки: 1")
    expect(error(page, "deadlines.review_concpt", "server")).to_contain_text("«review_concpt» нет в BPMN")
    expect(tab(page, "deadlines")).to_have_attribute("data-errors", "1")
    error(page, "deadlines.review_concpt", "server").scroll_into_view_if_needed()
    editor_screenshots(page, "admin-editor-manifest")
    tab(page, "stages").click()
    page.locator("#editor-problems li[data-element-id='deadlines.review_concpt'] .problem-reveal").click()
    expect(tab(page, "deadlines")).to_have_attribute("aria-selected", "true")
    expect(field(page, "deadlines.review_concpt")).to_be_focused()

    # Put right (the row removed) and saved: no problems, and the draft's file has the forms' changes.
    page.locator("tr[data-entry='deadlines.review_concpt'] .manifest-remove").click()
    page.locator("#editor-save").click()
    expect(page.locator("#editor-status")).to_have_text("Сохранено")
    expect(page.locator("#manifest-panel .manifest-error")).to_have_count(0)
    stored = saved_manifest(server, admin)
    assert stored["escalation"] == {"steps": [{"after": "3WD", "levels_up": 1}]}
    assert "review_concpt" not in stored["deadlines"]

    # The raw JSON shows the same document; an expert's edit there is what the forms show after.
    page.locator("#manifest-views [data-view='raw']").click()
    raw = page.locator("#manifest-raw")
    expect(raw).to_be_visible()
    document = json.loads(raw.input_value())
    assert document["escalation"] == {"steps": [{"after": "3WD", "levels_up": 1}]}
    assert document == stored
    raw.fill(raw.input_value().replace('"confirm_coverage": "5WD"', '"confirm_coverage": "6WD"'))
    editor_screenshots(page, "admin-editor-manifest-raw")
    page.locator("#manifest-views [data-view='forms']").click()
    tab(page, "deadlines").click()
    expect(field(page, "deadlines.confirm_coverage")).to_have_value("6WD")
    page.keyboard.press("Control+s")
    expect(page.locator("#editor-status")).to_have_text("Сохранено")
    assert saved_manifest(server, admin)["deadlines"]["confirm_coverage"] == "6WD"

    # A section the engine does not know (misspelt) has no field: the «Основное» tab says so at its top.
    page.locator("#manifest-views [data-view='raw']").click()
    raw.fill(raw.input_value().replace('"deadlines": {', '"deadline": {}, "deadlines": {', 1))
    page.locator("#manifest-views [data-view='forms']").click()
    tab(page, "main").click()
    expect(page.locator(".manifest-unplaced .manifest-error[data-for='deadline']")).to_contain_text(
        "раздел движку неизвестен")
    expect(tab(page, "main")).to_have_attribute("data-errors", "1")

    # Text that is not JSON stays in the raw view, which says why; it is saved as written (drafts keep anything).
    page.locator("#manifest-views [data-view='raw']").click()
    raw.fill('{"key": ')
    page.locator("#manifest-views [data-view='forms']").click()
    expect(page.locator("#manifest-raw-error")).to_contain_text("Это не JSON")
    expect(page.locator("#manifest-views [data-view='raw']")).to_have_attribute("aria-pressed", "true")


def test_the_admin_header_is_one_line_at_1366_and_opens_on_a_phone(
        page: Page, site: tuple[LiveServer, str]) -> None:
    server, admin = site
    page.set_viewport_size({"width": 1366, "height": 900})
    e2e.sign_in(page, server, admin, PASSWORD)
    header = page.locator(".site-header")
    link_tops = {round(box["y"]) for box in page.locator(".site-header nav > a, .site-header nav > details")
                 .evaluate_all("(all) => all.map((e) => e.getBoundingClientRect().toJSON())")}
    assert len(link_tops) == 1, link_tops
    assert (header.bounding_box() or {"height": 999})["height"] < 70
    menu = page.get_by_test_id("admin-menu")
    expect(menu.get_by_role("link", name="Шаблоны")).to_be_hidden()
    # The keyboard opens it as a click does: <details> needs no script.
    menu.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(menu.get_by_role("link", name="Шаблоны")).to_be_visible()
    screenshot(page, "admin-header-menu")
    page.keyboard.press("Tab")
    expect(menu.get_by_role("link", name="Обзор")).to_be_focused()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/admin")
    e2e.admin_menu(page, "Когорты")
    expect(page.get_by_role("heading", level=1, name="Календари когорт")).to_be_visible()


AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})")
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_the_manifest_forms_and_the_admin_menu_pass_axe(browser: Browser, site: tuple[LiveServer, str]) -> None:
    server, admin = site
    # The site allows only its own scripts (CSP); the test's injected axe is let in by the browser alone.
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        e2e.sign_in(page, server, admin, PASSWORD)
        page.get_by_test_id("admin-menu").locator("summary").click()
        found = {"admin-menu": serious_violations(page)}
        open_manifest(page, server)
        for section in ("main", "deadlines", "escalation", "indicators", "context"):
            tab(page, section).click()
            if section == "escalation":  # a table row with a field error
                page.locator(".manifest-add[data-for='escalation.steps']").click()
                field(page, "escalation.steps[0].after").fill("3 дня")
                expect(error(page, "escalation.steps[0].after", "schema")).to_be_visible()
            found[section] = serious_violations(page)
        assert {name: seen for name, seen in found.items() if seen} == {}
    finally:
        context.close()
