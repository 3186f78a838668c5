"""An admin changes the «500+» roadmap with nothing but a browser, and the demo cohort moves to it.

The story of the admin issue, end to end on the real site: open the template, change a task's deadline in
the BPMN editor (a wrong rule first: the problem appears on the task itself), add a field to a form in
the form editor, deploy version 2, dry-run the migration, move the demo cohort, and see a school's open
task show the new field. It runs on a database of its own, because deploying a second version of
roadmap-500 would change what every other test starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.demo import load_demo, school_login
from engine.models import ProcessInstance, TemplateVersion, User
from engine.org.passwords import hash_password
from engine.process import tasks
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Clock, LiveServer, database_of_its_own, editor_screenshots, screenshot, serving

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
PASSWORD = "админ-2035"
SCHOOL = "42-PROM-01"
NEW_FIELD = "Сколько родителей пришло на собрание"


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    """The real app on a database of its own with the «500+» template and the demo region's cohort."""
    clock = Clock()
    with database_of_its_own("admin", clock) as db:
        load_demo(db, year=2035, story=False)  # every school at selection: all eight can move
        with db.transaction() as session:
            for user in session.scalars(select(User).where(User.login.in_(["admin", school_login(SCHOOL)]))):
                user.password_hash = hash_password(PASSWORD)
        # The region confirms one school, so the school has a task open when the template changes under it.
        [selection] = [t for t in tasks.list_tasks(db, limit=100, actor="region-42") if t.school_code == SCHOOL]
        tasks.complete_task(db, selection.id, {"participation": "confirmed", "curator_login": "curator-1"},
                            actor="region-42")
        with serving(db, clock) as server:
            yield server


def sign_in(page: Page, site: LiveServer, login: str) -> None:
    page.context.clear_cookies()
    e2e.sign_in(page, site, login, PASSWORD)


def open_file(page: Page, path: str) -> None:
    page.get_by_role("link", name=path, exact=True).click()
    page.wait_for_selector("#template-editor[data-ready='1']")


def save(page: Page) -> None:
    page.locator("#editor-save").click()
    expect(page.locator("#editor-status")).to_contain_text("Сохранено")


def select_task(page: Page, element_id: str) -> None:
    page.locator(f".djs-element[data-element-id='{element_id}']").first.click()
    expect(page.locator("[data-group-id='group-roadmap']")).to_be_visible()


def change_deadline(page: Page) -> None:
    """A wrong rule is saved (drafts keep anything), shown on the task, then put right."""
    select_task(page, "review_concept")
    # Its rule is in manifest.json until the task gets its own: the panel says which one applies.
    expect(page.locator("[data-group-id='group-roadmap']")).to_contain_text("срок из manifest.json: 5WD")
    deadline = page.locator("#bio-properties-panel-roadmap-deadline")
    deadline.fill("через неделю")
    page.locator("#editor-save").click()
    badge = page.locator(".djs-overlays[data-container-id='review_concept'] .problem-badge")
    expect(badge).to_be_visible()
    expect(page.locator("#editor-problems li.problem-here[data-element-id='review_concept']")).to_be_visible()
    screenshot(page, "admin-editor-problem")
    deadline.fill("7WD")
    save(page)
    expect(badge).to_have_count(0)
    expect(page.locator("#editor-status")).not_to_contain_text("ошибки")


def add_form_field(page: Page) -> None:
    """Add a text field from the palette (Enter on a palette entry appends it, as a keyboard user would),
    select it in the form and name it in the properties panel."""
    page.locator(".fjs-palette-field[data-field-type='textfield']").focus()
    page.keyboard.press("Enter")
    added = page.locator(".fjs-editor-form-root .fjs-form-field-textfield")
    expect(added).to_have_count(1)
    added.click()
    general = page.locator(".fjs-properties-panel [data-group-id='group-general']")
    if "open" not in (general.locator(".bio-properties-panel-group-header").get_attribute("class") or ""):
        general.locator(".bio-properties-panel-group-header").click()
    label = page.locator("#bio-properties-panel-label")
    expect(label).to_be_visible()
    label.fill(NEW_FIELD)
    page.locator("#bio-properties-panel-key").fill("parents_at_meeting")
    save(page)
    expect(page.locator("#editor-status")).not_to_contain_text("ошибки")
    screenshot(page, "admin-form-editor")


def test_admin_changes_the_roadmap_and_moves_the_demo_cohort(page: Page, site: LiveServer) -> None:
    sign_in(page, site, "admin")
    page.get_by_role("link", name="Шаблоны").first.click()
    page.get_by_role("link", name="roadmap-500").first.click()
    screenshot(page, "admin-template")
    page.get_by_role("button", name="Редактировать черновик").click()
    expect(page.get_by_role("heading", name=re.compile("Черновик шаблона"))).to_be_visible()
    draft_url = page.url
    screenshot(page, "admin-draft")

    open_file(page, "roadmap-500.bpmn")
    editor_screenshots(page, "admin-editor-bpmn")
    change_deadline(page)
    page.goto(draft_url)
    open_file(page, "forms/run_questionnaires.form")
    add_form_field(page)
    editor_screenshots(page, "admin-editor-form")
    page.goto(draft_url)
    open_file(page, "risk-factors.dmn")
    editor_screenshots(page, "admin-editor-dmn")

    page.goto(draft_url)
    expect(page.get_by_test_id("draft-valid")).to_be_visible()
    page.get_by_test_id("draft-diff").click()
    expect(page.get_by_test_id("diff")).to_contain_text("review_concept")
    expect(page.get_by_test_id("diff")).to_contain_text(f"+ поле «{NEW_FIELD}» (parents_at_meeting), textfield")
    expect(page.get_by_test_id("diff")).to_contain_text("срок: «")  # in words: which attribute, old → new
    diagram = page.get_by_test_id("diff-diagram")  # and on the diagram: the changed task is marked
    expect(diagram).to_have_attribute("data-ready", "1")
    expect(diagram.locator(".djs-element.diff-changed[data-element-id='review_concept']")).to_have_count(1)
    screenshot(page, "admin-diff")
    page.goto(draft_url)
    page.get_by_role("button", name="Развернуть новую версию").click()
    dialog = page.locator("dialog#confirm-deploy")  # what deploying does, before it is done
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("На версии 1 сейчас идут процессы: 8")
    expect(dialog.locator(".confirm-schools li")).to_have_count(8)
    screenshot(page, "admin-confirm-deploy")
    dialog.get_by_role("button", name="Развернуть новую версию").click()
    expect(page.get_by_text("Развёрнута версия 2")).to_be_visible()

    page.get_by_role("link", name="Перенести запущенные процессы на новую версию").click()
    page.get_by_role("button", name="Пробный прогон").click()
    plan = page.get_by_test_id("migration-plan")
    expect(plan.locator("tr[data-can-move='yes']")).to_have_count(8)  # the demo cohort: eight schools
    screenshot(page, "admin-migration-dry-run")
    page.get_by_role("button", name="Перенести все возможные").click()
    dialog = page.locator("dialog#confirm-migrate")
    expect(dialog).to_contain_text("Будут перенесены процессы: 8 из 8 (версия 1 → 2)")
    expect(dialog.locator(".confirm-schools li")).to_have_count(8)
    dialog.get_by_role("button", name="Перенести все возможные").click()
    run = page.get_by_test_id("migration-run")
    expect(run).to_have_attribute("data-finished", "true", timeout=60_000)
    expect(run.locator("[data-field='moved']")).to_have_text("8")
    expect(run.locator("[data-field='failed']")).to_have_text("0")
    screenshot(page, "admin-migration-run")
    with site.db.reading() as session:
        deployed = set(session.scalars(select(TemplateVersion.version).join(
            ProcessInstance, ProcessInstance.template_version_id == TemplateVersion.id)))
    assert deployed == {2}

    # Retiring the version the cohort runs on: the confirmation names the schools; cancel does nothing; after
    # retiring, the undo is offered right there.
    page.goto(f"{site.url}/admin/templates/roadmap-500")
    row = page.locator("tr[data-version='2']")
    row.get_by_role("button", name="Вывести из использования").click()
    dialog = page.locator("dialog#confirm-retire-2")
    expect(dialog).to_contain_text("Запущенные процессы (8) продолжат работу")
    expect(dialog.locator(".confirm-schools li")).to_have_count(8)
    dialog.get_by_role("button", name="Отмена").click()
    expect(dialog).to_be_hidden()
    expect(row.locator("[data-status='deployed']")).to_be_visible()
    row.get_by_role("button", name="Вывести из использования").click()
    dialog.get_by_role("button", name="Вывести из использования").click()
    undo = page.get_by_test_id("retired-undo")
    expect(undo).to_contain_text("Версия 2 выведена из использования")
    screenshot(page, "admin-retired-undo")
    undo.get_by_role("button", name="Вернуть в использование").click()
    expect(page.locator("tr[data-version='2'] [data-status='deployed']")).to_be_visible()
    expect(page.get_by_test_id("retired-undo")).to_have_count(0)

    sign_in(page, site, school_login(SCHOOL))
    page.get_by_role("link", name=re.compile("Провести анкетирование")).first.click()
    page.wait_for_selector("html[data-form-ready='1']")
    expect(page.get_by_label(NEW_FIELD)).to_be_visible()
    screenshot(page, "admin-school-sees-new-field")



def test_admin_edits_the_working_day_calendar_and_a_cohort_date(page: Page, site: LiveServer) -> None:
    sign_in(page, site, "admin")
    e2e.admin_menu(page, "Календарь")
    page.get_by_label("Дата (ГГГГ-ММ-ДД)").fill("2035-03-12")
    page.get_by_label("Основание").fill("Региональный выходной")
    page.get_by_role("button", name="Сохранить день").click()
    expect(page.get_by_test_id("calendar-overrides").locator("tr[data-day='2035-03-12']")).to_contain_text(
        "Региональный выходной")
    screenshot(page, "admin-calendar")

    e2e.admin_menu(page, "Когорты")
    close = page.locator("#date-2035-questionnaire_close")
    close.fill("2035-02-30")
    page.get_by_role("button", name="Сохранить даты").first.click()
    expect(page.locator("[data-error='questionnaire_close']")).to_be_visible()  # no such day: the field says so, nothing stored
    page.locator("#date-2035-questionnaire_close").fill("2035-03-15")
    page.get_by_role("button", name="Сохранить даты").first.click()
    expect(page.get_by_text("Календарь когорты 2035 года сохранён.")).to_be_visible()
    expect(page.locator("#date-2035-questionnaire_close")).to_have_value("2035-03-15")
    screenshot(page, "admin-cohorts")


def test_admin_gives_the_demo_region_its_time_zone(page: Page, site: LiveServer) -> None:
    sign_in(page, site, "admin")
    e2e.admin_menu(page, "Регионы")
    field = page.get_by_label("Часовой пояс региона 42")
    expect(field).to_have_value("Asia/Novokuznetsk")  # the demo's Kuzbass, МСК+4
    field.fill("Asia/Kuzbass")
    page.locator("tr[data-region='42']").get_by_role("button", name="Сохранить").click()
    expect(page.locator("[data-error='time_zone']")).to_contain_text("неизвестен")  # nothing stored
    page.get_by_label("Часовой пояс региона 42").fill("Asia/Krasnoyarsk")
    page.locator("tr[data-region='42']").get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text("Часовой пояс региона 42: Asia/Krasnoyarsk.")).to_be_visible()
    page.get_by_label("Часовой пояс региона 42").fill("Asia/Novokuznetsk")
    page.locator("tr[data-region='42']").get_by_role("button", name="Сохранить").click()
    expect(page.get_by_label("Часовой пояс региона 42")).to_have_value("Asia/Novokuznetsk")
    screenshot(page, "admin-regions")
