"""A school, its curator, the municipal coordinator and an anonymous respondent, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.models import RoleGrant, School, User
from engine.org.passwords import hash_password
from engine.process import instances, questionnaires
from engine.process.cohorts import ensure_cohort
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, ROADMAP, LiveServer, school_in_questionnaire_stage, screenshot


@pytest.fixture
def org(live: LiveServer) -> Org:
    return school_in_questionnaire_stage(live)


def sign_in(page: Page, live: LiveServer, login: str) -> None:
    e2e.sign_in(page, live, login, PASSWORD)


def open_task(page: Page, name: str) -> None:
    page.get_by_role("link", name=re.compile(name)).first.click()
    page.wait_for_selector("html[data-form-ready='1']")


def test_school_curator_and_coordinator_in_a_browser(page: Page, live: LiveServer, org: Org) -> None:
    page.goto(f"{live.url}/")
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    screenshot(page, "login")
    sign_in(page, live, org.school_user)
    open_task(page, "Провести анкетирование")
    page.get_by_role("button", name="Отправить").click()  # the required checkbox is not ticked
    expect(page.locator(".fjs-form-field-error").first).to_be_visible()
    screenshot(page, "task-form-error")
    page.get_by_label(re.compile("Анкетирование директора")).check()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Задача выполнена.")).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, live, org.curator)
    expect(page.get_by_test_id("inbox").get_by_role("link", name=re.compile("Подтвердить охват анкетирования"))).to_be_visible()
    open_task(page, "Подтвердить охват анкетирования")
    page.get_by_label(re.compile("Недостаточный охват")).check()
    page.get_by_role("button", name="Отправить").click()  # a return for rework needs a comment: the server says so
    expect(page.get_by_text("Напишите, каких ответов не хватает.").first).to_be_visible()
    screenshot(page, "task-server-error")

    live.clock.advance(days=20)  # the curator's 5 working days have passed
    page.context.clear_cookies()
    sign_in(page, live, org.municipal)
    page.get_by_role("link", name="Сводка").click()
    row = page.locator(f"tr[data-school='{org.school}']")
    expect(row.locator("td[data-stage='questionnaire']")).to_have_class(re.compile("current"))
    expect(row.locator(".badge-overdue").first).to_be_visible()
    page.get_by_role("link", name="Где сейчас школы (схема)").click()
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    expect(page.locator(".heat-badge").first).to_be_visible()  # one school waits at the coverage check
    screenshot(page, "heatmap")
    page.go_back()
    row.get_by_role("link").first.click()
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")


def test_anonymous_respondent_submits_once(page: Page, live: LiveServer, org: Org) -> None:
    [token] = questionnaires.create_links(live.db, org.school, "parent", 1, actor=org.school_user)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live.url}/q/{token}")
    page.wait_for_selector("html[data-form-ready='1']")
    page.get_by_label(re.compile("мероприятий")).fill("4")
    page.get_by_label("Иногда").check()
    screenshot(page, "questionnaire-phone")
    page.get_by_role("button", name="Отправить ответы").click()
    expect(page.get_by_text("Ваши ответы приняты")).to_be_visible()
    page.goto(f"{live.url}/q/{token}")
    expect(page.get_by_text("анкета уже заполнена")).to_be_visible()
    assert page.locator("#questionnaire-form").count() == 0


def test_the_region_chooses_a_curator_from_its_candidates(page: Page, live: LiveServer) -> None:
    found = make_org(live.db)
    with live.db.transaction() as session:
        user = session.scalars(select(User).where(User.login == found.regional)).one()
        user.password_hash = hash_password(PASSWORD)
    ensure_cohort(live.db, 2035)
    key = versions.deploy_template(live.db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(live.db, key, found.school, cohort_year=2035, actor=OPERATOR)
    sign_in(page, live, found.regional)
    open_task(page, "Подтвердить участие")
    page.get_by_label("Подтвердить участие школы в проекте").check()
    page.get_by_label("Куратор", exact=True).click()
    options = page.locator(".fjs-dropdownlist-item")
    expect(options).to_have_count(2)  # the region's two curators; the school's own user is not offered
    expect(options.first).to_contain_text(f"{found.sibling_curator} — Первый район, 0 школ")  # least loaded first
    page.get_by_label("Куратор", exact=True).fill(found.sibling_curator[:9])  # searchable: typing narrows the list
    expect(options).to_have_count(1)
    options.filter(has_text=found.sibling_curator).click()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Задача выполнена.")).to_be_visible()
    with live.db.reading() as session:
        bound = session.scalars(select(User.login).join(RoleGrant, RoleGrant.user_id == User.id).join(
            School, School.id == RoleGrant.school_id).where(RoleGrant.role == Role.CURATOR, School.code == found.school))
        assert found.sibling_curator in set(bound)


def test_on_a_phone_the_header_folds_into_a_menu_and_no_page_scrolls_sideways(page: Page, live: LiveServer,
                                                                             org: Org) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live, org.regional)
    menu = page.get_by_test_id("menu-button")
    overview = page.locator(".site-header nav").get_by_role("link", name="Сводка")
    expect(menu).to_be_visible()
    expect(overview).to_be_hidden()
    assert page.locator(".site-header").bounding_box()["height"] < 100  # type: ignore[index]
    menu.click()
    expect(overview).to_be_visible()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    screenshot(page, "menu-phone")
    for url in ("/", f"/dashboard?region={org.region}", f"/dashboard/overdue?region={org.region}",
                f"/schools/{org.school}", "/login"):
        page.goto(f"{live.url}{url}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide on a 390 px screen"
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live.url}/")
    expect(page.get_by_test_id("menu-button")).to_be_hidden()
    expect(page.locator(".site-header nav").get_by_role("link", name="Сводка")).to_be_visible()


def test_the_school_creates_respondent_links_and_copies_them_at_once(page: Page, live: LiveServer, org: Org) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, live, org.school_user)
    page.goto(f"{live.url}/schools/{org.school}/questionnaires")
    page.get_by_label("Кому").select_option("teacher")
    page.get_by_label("Сколько").fill("3")
    page.get_by_role("button", name="Создать ссылки").click()
    expect(page.get_by_test_id("links-created")).to_contain_text("Созданы 3 ссылки")  # Russian plural forms
    links = page.get_by_test_id("links").input_value().splitlines()
    assert len(links) == 3 and all(f"{live.url}/q/" in link for link in links)
    page.get_by_role("button", name="Скопировать все ссылки").click()
    expect(page.get_by_test_id("links-status")).to_have_text("Ссылки скопированы")
    assert page.evaluate("navigator.clipboard.readText()").splitlines() == links
    screenshot(page, "respondent-links")


def test_diagrams_have_zoom_buttons_a_legend_and_a_flag_on_the_current_step(page: Page, live: LiveServer,
                                                                            org: Org) -> None:
    sign_in(page, live, org.regional)
    page.goto(f"{live.url}/schools/{org.school}")
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    expect(page.get_by_test_id("diagram-legend")).to_contain_text("сейчас здесь")
    expect(page.locator(".here-flag")).to_have_text("Сейчас здесь")  # over the questionnaire task
    scale = "document.querySelector('.bpmn-diagram').bpmnViewer.get('canvas').zoom()"
    fitted = page.evaluate(scale)
    page.get_by_role("button", name="Крупнее").click()
    page.get_by_role("button", name="Крупнее").click()
    assert page.evaluate(scale) > fitted * 1.5
    page.get_by_role("button", name="Вписать схему").click()
    assert abs(page.evaluate(scale) - fitted) < 0.01
    page.get_by_role("button", name="Масштаб 100 %").click()
    assert page.evaluate(scale) == 1


def test_the_questionnaire_task_shows_the_counts_and_warns_of_missing_answers(page: Page, live: LiveServer,
                                                                             org: Org) -> None:
    links = questionnaires.create_links(live.db, org.school, "teacher", 3, actor=org.school_user)
    questionnaires.submit_by_link(live.db, links[0], {"methodical_confidence": 4, "differentiated_tasks": "often",
                                                      "pd_last_3y": True, "discipline_problems": "rarely"})
    sign_in(page, live, org.school_user)
    open_task(page, "Провести анкетирование")
    context = page.get_by_test_id("task-context")
    expect(context.get_by_role("heading", name="Для решения")).to_be_visible()
    teachers = context.get_by_test_id("responses").get_by_role("row", name=re.compile("Анкета учителя"))
    expect(teachers).to_contain_text("1")
    expect(teachers).to_contain_text("3")
    warning = context.get_by_test_id("responses-warning")
    expect(warning).to_contain_text("Анкета учителя: ответили 1 из 3")
    expect(warning).to_contain_text("Анкета родителя: нет ни одного ответа")
    screenshot(page, "task-context-coverage")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(warning).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the task page is {width} px wide on a 390 px screen"
