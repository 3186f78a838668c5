"""«Пробный запуск» in a real browser: an admin walks a draft of the «500+» template for a made-up school — the
regional coordinator confirms it and binds the made-up curator, the school runs its questionnaires, the clock
moves past the curator's due time, the curator accepts the coverage — seeing who each task goes to and when it is
due in the school's zone, and nothing real is written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from engine import models
from engine.actors import OPERATOR
from engine.org.regions import set_region_zone
from engine.templates import versions, workspace
from tests.conftest import make_org
from tests.e2e.conftest import ROADMAP, LiveServer, screenshot, sign_in
from tests.helpers import PASSWORD, set_password

TABLES = ("process_instance", "task", "deadline", "notification", "outbox", "audit_log", "event", "school",
          "app_user", "role_grant", "template_version", "incident")
SIZES = ((1366, 900), (1920, 1080))


def _counts(live: LiveServer) -> dict[str, int]:
    tables = models.Base.metadata.tables
    with live.db.reading() as session:
        return {name: session.scalar(select(func.count()).select_from(tables[name])) or 0 for name in TABLES}


def _draft_of_500(live: LiveServer, admin: str, tmp_path: Path) -> str:
    """The «500+» bundle under a key of this test's own, deployed, with a draft open: no other test's draft of
    roadmap-500 (valid or not) can change what this one walks. (The database is new for every run of the suite.)"""
    bundle = tmp_path / "roadmap-500"
    shutil.copytree(ROADMAP, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["key"] = "roadmap-500-trial"
    (bundle / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    key = versions.deploy_template(live.db, versions.read_bundle(bundle), actor=OPERATOR).key
    workspace.open_draft(live.db, key, actor=admin)
    return key


def _shots(page: Page, name: str) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


def _fill_and_wait(page: Page, button: str) -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_selector("html[data-form-ready='1']")


def test_an_admin_walks_a_draft_as_three_roles_without_touching_real_data(page: Page, live: LiveServer,
                                                                         tmp_path: Path) -> None:
    org = make_org(live.db)
    set_password(live.db, org.admin)
    set_region_zone(live.db, org.region, "Asia/Novokuznetsk", actor=OPERATOR)  # МСК+4
    key = _draft_of_500(live, org.admin, tmp_path)
    before = _counts(live)
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    sign_in(page, live, org.admin, PASSWORD)
    page.goto(f"{live.url}/admin/templates/{key}/draft")
    page.get_by_test_id("draft-simulation").click()
    expect(page.get_by_test_id("simulation-title")).to_contain_text(key)

    setup = page.get_by_test_id("simulation-setup")
    setup.get_by_label("Регион выдуманной школы").select_option(org.region)
    setup.get_by_label("Дата начала").fill("2041-01-14")  # a Monday
    setup.get_by_label("Когорта (год календаря)").fill("2041")
    setup.get_by_role("button", name="Начать пробный запуск").click()
    page.wait_for_selector("html[data-form-ready='1']")

    # 1. The region confirms the school (due: the cohort calendar's «selection_close», 15 February, local time).
    tasks = page.get_by_test_id("simulation-tasks")
    row = tasks.locator("tr", has_text="Подтвердить участие школы")
    expect(row).to_contain_text("Региональный координатор")
    expect(row).to_contain_text("Образцов Павел Андреевич")
    expect(row.get_by_test_id("simulation-due")).to_have_text("15.02.2041 23:59 (МСК+4)")
    expect(page.get_by_test_id("simulation-school")).to_contain_text("Asia/Novokuznetsk")
    _shots(page, "simulation-start")
    page.get_by_label("Подтвердить участие школы в проекте").check()
    page.get_by_label("Куратор", exact=True).fill("Пробный")  # the made-up curator is the region's candidate
    page.locator(".fjs-dropdownlist-item").filter(has_text="Пробный И. П.").click()
    _fill_and_wait(page, "Заполнить как региональный координатор")

    # 2. The school runs its questionnaires (due: «questionnaire_close», 1 March).
    row = tasks.locator("tr", has_text="Провести анкетирование")
    expect(row).to_contain_text("Тестова Анна Сергеевна")
    expect(row.get_by_test_id("simulation-due")).to_have_text("01.03.2041 23:59 (МСК+4)")
    page.get_by_label("Анкетирование директора, учителей, обучающихся и родителей проведено").check()
    _fill_and_wait(page, "Заполнить как школа")

    # 3. The curator confirms the coverage: 5 working days from Monday 9:00, in the school's zone.
    row = tasks.locator("tr", has_text="Подтвердить охват")
    expect(row).to_contain_text("Пробный Иван Петрович")
    expect(row.get_by_test_id("simulation-due")).to_have_text("21.01.2041 09:00 (МСК+4)")
    page.get_by_test_id("simulation-move-clock").click()  # past the due time: overdue, the due step fired
    expect(page.get_by_test_id("simulation-clock")).to_contain_text("21.01.2041 09:01 (МСК+4)")
    expect(row).to_contain_text("просрочено")
    expect(row.locator("li[data-kind='due'][data-fired]")).to_have_count(1)
    expect(row.locator("li[data-kind='escalation']").first).to_contain_text("Муниципальный координатор")
    page.wait_for_selector("html[data-form-ready='1']")
    _shots(page, "simulation-overdue")
    page.get_by_label("Охват достаточный").check()
    _fill_and_wait(page, "Заполнить как куратор")
    expect(tasks.locator("tr", has_text="Подтвердить охват")).to_have_count(0)
    done = page.get_by_test_id("simulation-done")
    expect(done.locator("li")).to_have_count(4)  # three forms and the clock
    expect(done).to_contain_text(re.compile("Подтвердить охват анкетирования.*Пробный Иван Петрович"))

    # «Начать заново»: the same choices, an empty run.
    page.get_by_role("button", name="Начать заново").click()
    expect(page.get_by_test_id("simulation-done")).to_have_count(0)
    expect(tasks.locator("tr", has_text="Подтвердить участие школы")).to_have_count(1)
    assert _counts(live) == before
