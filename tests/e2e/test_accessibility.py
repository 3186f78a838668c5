"""axe-core (from npm, web/package.json) on the pages every participant uses: sign-in, inbox, notifications,
task, dashboard, the visit schedule and the respondent's questionnaire — no serious or critical violation of WCAG 2 A/AA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from engine.deadlines.sweep import sweep
from engine.process import questionnaires
from tests.conftest import Org
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, LiveServer, school_in_questionnaire_stage

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture
def org(live: LiveServer) -> Org:
    return school_in_questionnaire_stage(live)


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    # The pages allow only their own scripts (CSP); the test's injected axe is let in by the browser alone.
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 900}, bypass_csp=True)
    yield context.new_page()
    context.close()


def violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in SERIOUS]


def test_participants_pages_have_no_serious_accessibility_violation(axe_page: Page, live: LiveServer,
                                                                    org: Org) -> None:
    page = axe_page
    found: dict[str, list[dict[str, Any]]] = {}
    page.goto(f"{live.url}/login")
    found["sign-in"] = violations(page)
    [token] = questionnaires.create_links(live.db, org.school, "parent", 1, actor=org.school_user)
    page.goto(f"{live.url}/q/{token}")
    page.wait_for_selector("html[data-form-ready='1']")
    found["respondent"] = violations(page)
    [teacher] = questionnaires.create_links(live.db, org.school, "teacher", 1, actor=org.school_user)
    page.goto(f"{live.url}/q/{teacher}")  # the 1–5 scale as radio buttons
    page.wait_for_selector("html[data-form-ready='1']")
    found["respondent-scale"] = violations(page)
    e2e.sign_in(page, live, org.school_user, PASSWORD)
    found["inbox"] = violations(page)
    sweep(live.db, base_url=live.url)  # the school hears of its questionnaire: the page shows a notification
    page.goto(f"{live.url}/notifications")
    assert page.locator("li[data-kind='arrival']").count() >= 1
    found["notifications"] = violations(page)
    page.goto(f"{live.url}/")
    page.get_by_role("link", name="Провести анкетирование").first.click()
    page.wait_for_selector("html[data-form-ready='1']")
    found["task"] = violations(page)
    page.goto(f"{live.url}/")
    page.get_by_role("button", name="Выйти").click()
    e2e.sign_in(page, live, org.municipal, PASSWORD)
    page.goto(f"{live.url}/dashboard")
    found["dashboard"] = violations(page)
    page.goto(f"{live.url}/dashboard/heatmap/schools?element=run_questionnaires")
    found["heatmap-schools"] = violations(page)
    page.goto(f"{live.url}/schools/{org.school}")
    page.wait_for_selector(".bpmn-diagram[data-ready='1']")
    found["school"] = violations(page)
    page.goto(f"{live.url}/schools/{org.school}/visits")  # the curator visit schedule, with its planning form
    found["visits"] = violations(page)
    assert {name: found for name, found in found.items() if found} == {}
