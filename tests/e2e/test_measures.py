"""A school's measures in a browser: the school marks one done with its evidence, the curator accepts it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.models import ProcessInstance, School
from engine.process.measures import track_planned
from engine.templates.versions import compiled_version
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage, screenshot, sign_in
from tests.roadmap_steps import MEASURES


def test_the_school_completes_a_measure_and_the_curator_accepts_it(page: Page, live: LiveServer) -> None:
    org = school_in_questionnaire_stage(live)
    with live.db.transaction() as session:  # as if plan_measures had been submitted (its action, the same rows)
        instance = session.scalar(select(ProcessInstance).join(School, School.id == ProcessInstance.school_id)
                                  .where(School.code == org.school))
        assert instance is not None
        section = compiled_version(session, instance.template_version_id).spec.sections.measures
        assert section is not None
        track_planned(session, live.db.now(), None, instance, section, {"measures": MEASURES})

    sign_in(page, live, org.school_user, PASSWORD)
    page.get_by_role("link", name="Мероприятия").first.click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Дорожная карта: мероприятия"))).to_be_visible()
    row = page.locator("tr", has_text="Курсы повышения квалификации")
    row.get_by_text("Изменить").click()
    row.get_by_label("Статус").select_option(label="Выполнено")
    row.get_by_role("button", name="Сохранить").click()  # «done» needs evidence: the page says so
    expect(page.get_by_text("Для статуса «Выполнено» нужно подтверждение")).to_be_visible()
    row = page.locator("tr", has_text="Курсы повышения квалификации")
    row.get_by_text("Изменить").click()
    row.get_by_label("Статус").select_option(label="Выполнено")
    row.get_by_label("Ссылка на подтверждающий документ").fill("https://school.example/kpk.pdf")
    row.get_by_label("Пояснение к документу").fill("Удостоверения")
    row.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text("Мероприятие обновлено.")).to_be_visible()
    row = page.locator("tr", has_text="Курсы повышения квалификации")
    expect(row.get_by_test_id("measure-status")).to_have_text("Выполнено")
    expect(row.get_by_role("link", name="Удостоверения")).to_be_visible()
    screenshot(page, "measures-school")

    page.context.clear_cookies()
    sign_in(page, live, org.curator, PASSWORD)
    page.goto(f"{live.url}/schools/{org.school}/measures")
    row = page.locator("tr", has_text="Курсы повышения квалификации")
    row.get_by_test_id("measure-accept").click()
    expect(page.get_by_text("Подтверждение принято.")).to_be_visible()
    expect(page.locator("tr", has_text="Курсы повышения квалификации").get_by_test_id("measure-accepted")).to_be_visible()
    expect(page.get_by_test_id("measure-accept")).to_have_count(0)
    screenshot(page, "measures-curator")
