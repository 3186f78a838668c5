"""Issue 15 in a browser: the inbox's search and filters (remembered until «Сбросить»), a heat-map count that
lists its schools, a school's diagram without a link to the curator's step, the 1–5 scale as a choice, and
the admins' start page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.models import ProcessInstance, QuestionnaireResponse, School, User
from engine.org.passwords import hash_password
from engine.process import instances, questionnaires, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, ROADMAP, LiveServer, school_in_questionnaire_stage, screenshot


@pytest.fixture
def region(live: LiveServer) -> Org:
    """Three schools of one region, each waiting for the regional coordinator to confirm it."""
    found = make_org(live.db)
    with live.db.transaction() as session:
        for user in session.scalars(select(User).where(User.login.in_([found.regional, found.admin]))):
            user.password_hash = hash_password(PASSWORD)
    ensure_cohort(live.db, 2035)
    key = versions.deploy_template(live.db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    for code in (found.school, found.sibling_school, found.foreign_school):
        instances.start_instance(live.db, key, code, cohort_year=2035, actor=OPERATOR)
    return found


def _rows(page: Page) -> list[str]:
    return page.get_by_test_id("inbox").locator("tbody tr").all_inner_texts()


def test_inbox_search_mine_and_remembered_filters(page: Page, live: LiveServer, region: Org) -> None:
    e2e.sign_in(page, live, region.regional, PASSWORD)
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(3)
    page.get_by_test_id("inbox-search").fill("СОСЕДНЯЯ")  # the school is «МБОУ «Соседняя СОШ»»
    page.get_by_role("button", name="Показать").click()
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(1)
    assert "Соседняя" in _rows(page)[0]
    screenshot(page, "inbox-filters")

    # Take one task, then ask for «мои»: only it; «не назначенные»: the other two.
    [mine] = [t for t in tasks.list_tasks(live.db, actor=region.regional) if t.school_code == region.foreign_school]
    tasks.claim_task(live.db, mine.id, actor=region.regional)
    page.get_by_test_id("inbox-search").fill("")
    page.get_by_test_id("inbox-assigned").select_option("mine")
    page.get_by_role("button", name="Показать").click()
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(1)
    assert "Дальняя" in _rows(page)[0]
    page.get_by_test_id("inbox-assigned").select_option("unassigned")
    page.get_by_role("button", name="Показать").click()
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(2)

    # The inbox opened again from the menu comes back with the same filters, until «Сбросить».
    page.get_by_role("link", name="Уведомления").first.click()
    page.get_by_role("link", name="Мои задачи").first.click()
    expect(page).to_have_url(re.compile(r"assigned=unassigned"))
    expect(page.get_by_test_id("inbox-assigned")).to_have_value("unassigned")
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("inbox-reset").click()
    expect(page).to_have_url(f"{live.url}/")
    expect(page.get_by_test_id("inbox").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("inbox-reset")).to_have_count(0)


def test_a_heat_map_count_lists_the_schools_waiting_there(page: Page, live: LiveServer, region: Org) -> None:
    e2e.sign_in(page, live, region.regional, PASSWORD)
    page.goto(f"{live.url}/dashboard/heatmap?region={region.region}")
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    count = page.locator("a.heat-badge[data-element='confirm_participation']")
    expect(count).to_have_text("3")
    count.click()
    expect(page.get_by_role("heading", name=re.compile("Ждут на шаге «Подтвердить участие"))).to_be_visible()
    rows = page.get_by_test_id("waiting-schools").locator("tbody tr")
    expect(rows).to_have_count(3)
    codes = {rows.nth(i).get_attribute("data-school") for i in range(3)}
    assert codes == {region.school, region.sibling_school, region.foreign_school}
    screenshot(page, "heatmap-schools")


def test_the_schools_diagram_links_only_steps_it_may_open(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    [own] = [t for t in tasks.list_tasks(live.db, actor=org.school_user)]
    tasks.complete_task(live.db, own.id, {"questionnaires_done": True}, actor=org.school_user)
    [curators] = tasks.list_tasks(live.db, actor=org.curator)

    e2e.sign_in(page, live, org.school_user, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}")
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    expect(page.locator(".here-flag")).to_have_count(1)  # where the roadmap is: the curator's step
    expect(page.locator("a.here-flag")).to_have_count(0)  # ... but not a link the school would get 403 from
    expect(page.locator(f"a[href='/tasks/{curators.id}']")).to_have_count(0)
    expect(page.locator(".djs-element.linked")).to_have_count(0)  # nor a step that opens on a click

    page.context.clear_cookies()
    e2e.sign_in(page, live, org.curator, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}")
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    expect(page.locator(f".djs-element.linked[data-element-id='{curators.element_id}']")).to_have_count(1)
    page.locator("a.here-flag").click()
    expect(page).to_have_url(f"{live.url}/tasks/{curators.id}")


def test_a_one_to_five_scale_is_a_choice(page: Page, live: LiveServer, org_with_teachers: Org) -> None:
    [token] = questionnaires.create_links(live.db, org_with_teachers.school, "teacher", 1,
                                          actor=org_with_teachers.school_user)
    page.goto(f"{live.url}/q/{token}")
    page.wait_for_selector("html[data-form-ready='1']")
    scale = page.locator(".fjs-form-field-radio").filter(has_text="методическими приёмами")
    expect(scale.get_by_role("radio")).to_have_count(5)
    expect(scale).to_contain_text("1 — совсем неуверенно")
    expect(page.locator("input[type='number']")).to_have_count(0)  # no spinner left on this form
    scale.get_by_label("4").check()
    page.locator(".fjs-form-field-radio").filter(has_text="разноуровневые").get_by_label("Иногда").check()
    page.locator(".fjs-form-field-radio").filter(has_text="дисциплиной").get_by_label("Редко").check()
    page.get_by_role("button", name="Отправить ответы").click()
    expect(page.get_by_text("Ваши ответы приняты")).to_be_visible()
    [answer] = questionnaires_answers(live, org_with_teachers.school)
    assert answer["methodical_confidence"] == 4  # stored as a number: the indicators average it


@pytest.fixture
def org_with_teachers(live: LiveServer) -> Org:
    return school_in_questionnaire_stage(live)


def questionnaires_answers(live: LiveServer, school: str) -> list[dict[str, object]]:
    with live.db.reading() as session:
        rows = session.scalars(select(QuestionnaireResponse.answers)
                               .join(ProcessInstance, ProcessInstance.id == QuestionnaireResponse.instance_id)
                               .join(School, School.id == ProcessInstance.school_id).where(School.code == school))
        return [dict(row) for row in rows]


def test_an_admin_starts_on_the_admin_page(page: Page, live: LiveServer, region: Org) -> None:
    e2e.sign_in(page, live, region.admin, PASSWORD)
    expect(page).to_have_url(f"{live.url}/admin")
    for card in ("admin-incidents", "admin-templates", "admin-migrations", "admin-users", "admin-cohorts"):
        expect(page.get_by_test_id(card)).to_be_visible()
    screenshot(page, "admin-home")
    page.get_by_test_id("admin-templates").get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("Шаблоны"))).to_be_visible()
