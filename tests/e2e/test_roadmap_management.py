"""A regional coordinator manages running roadmaps in a browser: withdraws one school, suspends a
municipality and resumes it (issue 22)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.models import InstanceStatus, ProcessInstance, School
from engine.process import instances
from engine.templates import versions
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, ROADMAP, LiveServer, school_in_questionnaire_stage, screenshot


def _roadmaps(live: LiveServer, *codes: str) -> dict[str, ProcessInstance]:
    with live.db.reading() as session:
        return {code: row for code, row in session.execute(
            select(School.code, ProcessInstance).join(ProcessInstance, ProcessInstance.school_id == School.id)
            .where(School.code.in_(codes)))}


def test_a_regional_coordinator_withdraws_a_school_and_suspends_a_municipality(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    key = versions.deploy_template(live.db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(live.db, key, org.sibling_school, cohort_year=2035, actor=OPERATOR)
    e2e.sign_in(page, live, org.regional, PASSWORD)

    page.goto(f"{live.url}/schools/{org.school}")
    section = page.get_by_test_id("manage-roadmap")
    expect(section.get_by_role("heading", name="Управление маршрутом")).to_be_visible()
    section.get_by_role("link", name="Снять с проекта").click()
    expect(page.get_by_test_id("withdraw-consequences")).to_contain_text("Закроется 1 открытая задача")
    page.get_by_label("Причина").select_option(label="школа вышла из проекта")
    page.get_by_label("Комментарий").fill("решение учредителя от 1 декабря")
    screenshot(page, "manage-withdraw")
    page.get_by_test_id("confirm-withdraw").click()
    expect(page.get_by_text("Маршрут снят с проекта; закрыта 1 открытая задача.")).to_be_visible()
    expect(page.get_by_test_id("roadmap-withdrawn")).to_be_visible()
    expect(page.get_by_test_id("history")).to_contain_text("Причина: школа вышла из проекта (решение учредителя")
    expect(page.get_by_test_id("manage-roadmap")).to_have_count(0)  # nothing more to manage

    page.goto(f"{live.url}/dashboard?municipality={org.municipality}")
    expect(page.locator(f'tr[data-school="{org.school}"]').get_by_test_id("withdrawn")).to_be_visible()
    page.get_by_test_id("suspend-municipality").click()
    expect(page.get_by_test_id("suspension-consequences")).to_contain_text("не срабатывают")
    rows = page.get_by_test_id("suspension-roadmaps").locator("tbody tr")
    expect(rows).to_have_count(1)  # the withdrawn school is not suspended: only the one still running
    expect(rows.first).to_contain_text(org.sibling_school)
    page.get_by_label("Причина").fill("реорганизация управления образования")
    screenshot(page, "manage-suspend-municipality")
    page.get_by_test_id("confirm-suspend").click()
    expect(page.get_by_text("Приостановлен 1 маршрут.")).to_be_visible()
    expect(page).to_have_url(re.compile(f"municipality={org.municipality}"))

    page.goto(f"{live.url}/schools/{org.sibling_school}")
    expect(page.get_by_test_id("roadmap-suspended")).to_be_visible()
    page.get_by_test_id("manage-resume").click()
    expect(page.get_by_test_id("suspension-roadmaps")).to_contain_text("0 рабочих дней")  # resumed the same day
    screenshot(page, "manage-resume")
    page.get_by_test_id("confirm-resume").click()
    expect(page.get_by_text("Возобновлён 1 маршрут.")).to_be_visible()

    found = _roadmaps(live, org.school, org.sibling_school)
    assert found[org.school].status is InstanceStatus.CANCELLED
    assert found[org.sibling_school].status is InstanceStatus.RUNNING and found[org.sibling_school].suspended_at is None


def test_a_regional_coordinator_changes_a_schools_curator(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)  # its curator was bound when the region confirmed it
    e2e.sign_in(page, live, org.regional, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}")
    page.get_by_test_id("manage-curator").click()
    expect(page.get_by_test_id("curator-consequences")).to_contain_text(f"Сейчас куратор: {org.curator}.")
    page.get_by_label("Новый куратор").select_option(value=org.sibling_curator)
    page.get_by_label("Причина").fill("болезнь куратора")
    screenshot(page, "manage-curator")
    page.get_by_test_id("confirm-curator").click()
    expect(page.get_by_text(f"Куратор школы — {org.sibling_curator}")).to_be_visible()
    expect(page.get_by_test_id("history")).to_contain_text("Куратор заменён")
