"""The curator visit schedule in a browser: the municipal coordinator plans a visit from the school's page and
moves it with a reason; the school's curator sees it on the same page, without the planning forms."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from engine.process.visits import half_year, half_year_title
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage, screenshot, sign_in


def test_the_municipal_coordinator_plans_a_visit_and_the_curator_sees_it(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    today = live.db.now().date()
    day, later = today + timedelta(days=10), today + timedelta(days=12)

    sign_in(page, live, org.municipal, PASSWORD)
    page.goto(f"{live.url}/dashboard?municipality={org.municipality}")
    page.locator(f'tr[data-school="{org.school}"]').get_by_role("link").first.click()
    page.get_by_test_id("visits-link").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("График посещений куратора"))).to_be_visible()
    expect(page.get_by_text("Посещений пока не запланировано.").first).to_be_visible()
    form = page.get_by_test_id("visit-plan")
    form.get_by_label("Дата посещения").fill(day.isoformat())
    form.get_by_label("Что посмотреть").fill("Уроки математики в 7-х классах")
    form.get_by_role("button", name="Запланировать").click()
    expect(page.get_by_text("Посещение запланировано: куратор получит напоминание.")).to_be_visible()
    row = page.locator("tr[data-visit]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{day:%d.%m.%Y}")
    expect(row.get_by_test_id("visit-status")).to_have_text("Запланировано")
    row.get_by_text("Перенести или отменить").click()
    move = row.get_by_test_id("visit-move")
    move.get_by_label("Новая дата").fill(later.isoformat())
    move.get_by_label("Причина переноса").fill("Куратор на курсах повышения квалификации")
    move.get_by_role("button", name="Перенести").click()
    expect(page.get_by_text("Посещение перенесено.")).to_be_visible()
    expect(page.locator("tr[data-visit]")).to_contain_text(f"{later:%d.%m.%Y}")
    expect(page.locator("tr[data-visit]")).to_contain_text("Куратор на курсах повышения квалификации")
    expect(page.get_by_test_id("visit-tallies")).to_contain_text(f"{half_year_title(half_year(later))}: 0 из 1")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "visits-municipal")

    page.context.clear_cookies()
    sign_in(page, live, org.curator, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}/visits")
    row = page.locator("tr[data-visit]")
    expect(row).to_contain_text(f"{later:%d.%m.%Y}")
    expect(row).to_contain_text("Уроки математики в 7-х классах")
    expect(page.get_by_test_id("visit-plan")).to_have_count(0)
    expect(page.get_by_test_id("visit-move")).to_have_count(0)
    screenshot(page, "visits-curator")
