"""A task that arrives tells its people: the school submits in the browser, the deadline sweep runs (as
the inline queue or rq cron would, a minute later), and the curator sees the badge and the new task."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.deadlines.sweep import sweep
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage, screenshot


def test_the_curator_hears_of_the_task_the_school_sent(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    sweep(live.db, base_url=live.url)  # what arrived before: the region's selection, the school's questionnaire
    e2e.sign_in(page, live, org.curator, PASSWORD)
    expect(page.get_by_test_id("unread")).to_have_count(0)

    page.context.clear_cookies()
    e2e.sign_in(page, live, org.school_user, PASSWORD)
    page.get_by_role("link", name=re.compile("Провести анкетирование")).first.click()
    page.wait_for_selector("html[data-form-ready='1']")
    page.get_by_label(re.compile("Анкетирование директора")).check()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Задача выполнена.")).to_be_visible()

    report = sweep(live.db, base_url=live.url)  # the next minute's sweep
    [arrival] = [a for a in report.arrivals if a.school == org.school]
    assert arrival.recipients == [org.curator]

    page.context.clear_cookies()
    e2e.sign_in(page, live, org.curator, PASSWORD)
    expect(page.get_by_test_id("unread")).to_have_text("1")
    page.get_by_role("link", name=re.compile("Уведомления")).click()
    item = page.get_by_test_id("notifications").locator("li[data-kind='arrival']")
    expect(item).to_have_count(1)
    expect(item.locator(".badge")).to_have_text("Новая задача")
    expect(item).to_contain_text("Новая задача «Подтвердить охват анкетирования»")
    expect(item).to_contain_text(org.school)
    screenshot(page, "notifications")
    item.get_by_role("link", name="Открыть").click()
    expect(page).to_have_url(f"{live.url}/tasks/{arrival.task_id}")
    page.wait_for_selector("html[data-form-ready='1']")
    expect(page.get_by_role("heading", name=re.compile("Подтвердить охват анкетирования"))).to_be_visible()
