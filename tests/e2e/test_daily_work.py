"""A working day in the demo region, as `make run` leaves it: each role signs in, finds its work waiting
(late and escalated where the story made it so) and does it — in Chromium, at desk and phone sizes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from engine.demo import load_demo, school_login
from engine.models import User
from engine.org.passwords import hash_password
from tests.conftest import Clock
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, LiveServer, database_of_its_own, screenshot, serving

TODAY = datetime(2027, 11, 17, 8, 30, tzinfo=UTC)  # a Wednesday morning in Moscow


@pytest.fixture(scope="module")
def demo() -> Iterator[LiveServer]:
    """The app over a database of its own holding the demo region and its story (the story's sweeps act on
    every due deadline, so it cannot share the other tests' database)."""
    clock = Clock(TODAY)
    with database_of_its_own("demo", clock) as db:
        load_demo(db)
        with db.transaction() as session:
            session.execute(update(User).values(password_hash=hash_password(PASSWORD)))
        with serving(db, clock) as server:
            yield server


def sign_in(page: Page, live: LiveServer, login: str) -> None:
    e2e.sign_in(page, live, login, PASSWORD)


def both_sizes(page: Page, name: str) -> None:
    """The page as a desk and as a phone shows it, for the guides (`make screenshots`)."""
    screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1366, "height": 900})


def no_sideways_scroll(page: Page, live: LiveServer, *urls: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    for url in urls:
        page.goto(f"{live.url}{url}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide on a 390 px screen"
    page.set_viewport_size({"width": 1366, "height": 900})


def test_the_region_finds_a_school_weeks_late_and_confirms_it(page: Page, demo: LiveServer) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, demo, "region-42")
    hint = page.get_by_test_id("start-hint")
    expect(hint).to_contain_text("Начните с просроченной задачи: Подтвердить участие")
    expect(hint).to_contain_text("ушло выше по цепочке эскалации")
    row = page.get_by_test_id("inbox").locator("tr", has_text="СОШ № 176")
    expect(row).to_contain_text("Подтвердить участие")
    expect(row).to_contain_text("просрочено")
    expect(row).to_contain_text("эскалация 3")
    both_sizes(page, "inbox-region")
    page.goto(f"{demo.url}/dashboard/overdue?region=42")
    both_sizes(page, "overdue-region")
    expect(page.get_by_test_id("overdue-3")).to_contain_text("СОШ № 176")
    expect(page.get_by_test_id("overdue-2")).to_contain_text("Тарасовская")
    no_sideways_scroll(page, demo, "/", "/dashboard?region=42", "/dashboard/overdue?region=42", "/notifications")
    page.goto(f"{demo.url}/")
    row.get_by_role("link").first.click()
    page.wait_for_selector("html[data-form-ready='1']")
    page.get_by_label("Подтвердить участие школы в проекте").check()
    page.get_by_label("Куратор", exact=True).fill("Морозов")  # the candidates are searchable
    options = page.locator(".fjs-dropdownlist-item")
    expect(options).to_have_count(1)
    expect(options).to_contain_text("Морозов Д. С. — Тайгинский городской округ, 3 школы")
    options.click()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Задача выполнена.")).to_be_visible()
    expect(page.get_by_test_id("inbox").locator("tr", has_text="СОШ № 176")).to_have_count(0)


def test_the_curator_is_told_what_is_late_and_accepts_the_coverage(page: Page, demo: LiveServer) -> None:
    sign_in(page, demo, "curator-1")
    expect(page.get_by_test_id("start-hint")).to_contain_text("Начните с просроченной задачи: Подтвердить охват")
    expect(page.get_by_test_id("unread")).to_have_text(re.compile(r"[1-9]"))
    page.goto(f"{demo.url}/notifications")
    expect(page.locator("main")).to_contain_text("Подтвердить охват анкетирования")
    both_sizes(page, "notifications-curator")
    page.goto(f"{demo.url}/")
    inbox = page.get_by_test_id("inbox")
    expect(inbox.locator("tr", has_text="Проверить концепцию")).to_have_count(1)
    late = inbox.locator("tr", has_text="Подтвердить охват")
    expect(late).to_contain_text("просрочено")
    late.get_by_role("link").first.click()
    page.wait_for_selector("html[data-form-ready='1']")
    expect(page.locator(".task-context")).to_contain_text("Ответы на анкеты")
    both_sizes(page, "task-curator-coverage")
    page.get_by_label("Охват достаточный").check()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Задача выполнена.")).to_be_visible()
    expect(page.get_by_test_id("inbox").locator("tr", has_text="Подтвердить охват")).to_have_count(0)
    # The school's history: dozens of questionnaire answers read as a few lines with their counts.
    page.goto(f"{demo.url}/schools/42-PROM-02")
    answers = page.get_by_test_id("history").locator("li", has_text="Получена анкета")
    assert 2 <= answers.count() <= 4
    expect(answers.first.get_by_test_id("repeated")).to_have_text(re.compile(r"× \d\d"))
    no_sideways_scroll(page, demo, "/", "/notifications", "/schools/42-PROM-01")
    # Two schools' questionnaires under one header entry, so the header stays one line.
    header = page.locator(".site-header")
    assert header.bounding_box()["height"] < 80  # type: ignore[index]
    page.get_by_test_id("questionnaires-menu").locator("summary").click()
    page.get_by_test_id("questionnaires-menu").get_by_role("link", name="42-PROM-02").click()
    expect(page).to_have_url(re.compile("/schools/42-PROM-02/questionnaires"))


def test_a_school_chooses_its_risks_with_its_profile_in_view(page: Page, demo: LiveServer) -> None:
    sign_in(page, demo, school_login("42-BEL-02"))
    expect(page.get_by_test_id("start-hint")).to_contain_text("Ближайший срок: Выбрать рисковые направления")
    both_sizes(page, "inbox-school")
    # On a phone the filters fold under one button, so the list comes first.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("inbox-filters")).to_be_hidden()
    page.get_by_test_id("filters-button").click()
    expect(page.get_by_test_id("inbox-search")).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(page.get_by_test_id("inbox-search")).to_be_visible()
    page.get_by_test_id("inbox").get_by_role("link", name="Выбрать рисковые направления").click()
    page.wait_for_selector("html[data-form-ready='1']")
    expect(page.locator(".task-context")).to_contain_text("Рисковый профиль школы")
    both_sizes(page, "task-school-risks")
    no_sideways_scroll(page, demo, "/", "/schools/42-BEL-02", "/schools/42-BEL-02/questionnaires")


def test_the_school_far_ahead_keeps_its_roadmap_of_measures(page: Page, demo: LiveServer) -> None:
    sign_in(page, demo, school_login("42-TAI-01"))
    # No task is the school's now, but a measure is late: the first line says so and leads to them.
    hint = page.get_by_test_id("start-hint")
    expect(hint).to_contain_text("Просрочены мероприятия дорожной карты (1)")
    hint.get_by_role("link").click()
    expect(page).to_have_url(re.compile("/schools/42-TAI-01/measures"))
    expect(page.get_by_test_id("execution-percent")).to_have_text("50%")
    late = page.locator("tr", has_text="Диагностика профессиональных дефицитов учителей")
    expect(late).to_contain_text("просрочено")
    expect(page.locator("tr", has_text="Методический семинар")).to_contain_text("в срок")
    both_sizes(page, "measures-school")
    page.goto(f"{demo.url}/schools/42-TAI-01")
    expect(page.get_by_test_id("current-stage")).to_have_text("Мониторинг")
    both_sizes(page, "school-timeline")
    no_sideways_scroll(page, demo, "/", "/schools/42-TAI-01", "/schools/42-TAI-01/measures")


def test_the_municipal_coordinator_sees_the_escalation_of_a_late_curator(page: Page, demo: LiveServer) -> None:
    sign_in(page, demo, "mun-prom")
    expect(page.get_by_test_id("start-hint")).to_contain_text("Ваших задач сейчас нет. Ход школ")
    page.goto(f"{demo.url}/notifications")
    expect(page.locator("main")).to_contain_text("Тарасовская")
    page.goto(f"{demo.url}/dashboard?municipality=42-PROM")
    expect(page.locator("main")).to_contain_text("Заринская")
    both_sizes(page, "dashboard-municipality")
    no_sideways_scroll(page, demo, "/", "/dashboard?municipality=42-PROM", "/notifications")

