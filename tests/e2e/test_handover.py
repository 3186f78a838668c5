"""Taking, returning and handing over a task in a browser (issue 15 point 6)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.roles import Role
from tests.e2e import conftest as e2e
from tests.e2e.conftest import LiveServer, school_in_questionnaire_stage, screenshot
from tests.helpers import PASSWORD, set_password

TASK = "Провести анкетирование"
COLLEAGUE_NAME = "Заместитель Ирина Львовна"


def test_claim_release_claim_and_hand_over_to_a_colleague(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    colleague = f"deputy-{org.school_user}"
    apply_org(live.db, OrgData(users=[UserRow(colleague, COLLEAGUE_NAME)],
                               grants=[GrantRow(colleague, Role.SCHOOL, org.school)]))
    set_password(live.db, org.school_user, colleague)  # tests.helpers' password for both
    me = f"Пользователь {org.school_user}"

    e2e.sign_in(page, live, org.school_user, PASSWORD)
    page.get_by_role("link", name=re.compile(TASK)).first.click()
    assignment = page.get_by_test_id("task-assignment")
    task_path = re.sub(r"^https?://[^/]+", "", page.url)
    assignment.get_by_role("button", name="Взять в работу").click()
    expect(page.get_by_text(f"в работе у {me}")).to_be_visible()
    assignment.get_by_role("button", name="Вернуть в общий список").click()
    expect(page.get_by_text("Задача возвращена в общий список")).to_be_visible()
    expect(page.get_by_text(f"в работе у {me}")).to_have_count(0)
    assignment.get_by_role("button", name="Взять в работу").click()
    expect(page.get_by_text(f"в работе у {me}")).to_be_visible()

    assignment.get_by_text("Передать…").click()
    choice = page.get_by_label("Кому передать задачу")
    expect(choice.locator("option")).to_have_text(["— выберите исполнителя —", COLLEAGUE_NAME])
    choice.select_option(label=COLLEAGUE_NAME)
    screenshot(page, "task-handover")
    assignment.get_by_role("button", name="Передать", exact=True).click()
    expect(page.get_by_text(f"Задача передана: {COLLEAGUE_NAME}.")).to_be_visible()
    expect(page.get_by_text(f"в работе у {COLLEAGUE_NAME}")).to_be_visible()
    expect(assignment.get_by_role("button", name="Вернуть в общий список")).to_have_count(0)  # no longer mine

    page.context.clear_cookies()
    e2e.sign_in(page, live, colleague, PASSWORD)
    row = page.locator("tr", has=page.get_by_role("link", name=re.compile(TASK)))
    expect(row.first).to_contain_text(COLLEAGUE_NAME)  # in their inbox, with their name as the assignee
    expect(page.get_by_test_id("unread")).to_have_text("1")
    page.get_by_role("link", name="Уведомления").click()
    expect(page.get_by_text(re.compile(f"Вам передана задача «{TASK}"))).to_be_visible()
    link = page.get_by_role("link", name="Открыть").first.get_attribute("href") or ""
    path = re.sub(r"^https?://[^/]+", "", link)  # the link is on the configured BASE_URL, not this test server
    assert path == task_path, link
    page.goto(f"{live.url}{path}")
    expect(page.get_by_test_id("task-assignment").get_by_role("button", name="Вернуть в общий список")).to_be_visible()
