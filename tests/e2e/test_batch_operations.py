"""A regional coordinator suspends a whole municipality as a batch — the filter, the dry run's table, the confirmation
naming the schools, the progress — and is refused a merge of two schools at different stages (issue 22)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from engine.actors import OPERATOR
from engine.models import InstanceStatus, ProcessInstance, School
from engine.process import instances
from engine.templates import versions
from tests.conftest import Org
from tests.e2e import conftest as e2e
from tests.e2e.conftest import PASSWORD, ROADMAP, LiveServer, school_in_questionnaire_stage, screenshot


@pytest.fixture
def org(live: LiveServer) -> Iterator[Org]:
    """Two schools of one municipality; nothing is left suspended for the tests that sweep this database later."""
    found = school_in_questionnaire_stage(live)
    key = versions.deploy_template(live.db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(live.db, key, found.sibling_school, cohort_year=2035, actor=OPERATOR)
    yield found
    with live.db.transaction() as session:
        schools = select(School.id).where(School.code.in_([found.school, found.sibling_school]))
        session.execute(update(ProcessInstance).where(ProcessInstance.school_id.in_(schools))
                        .values(suspended_at=None).execution_options(synchronize_session=False))


def _suspended(live: LiveServer, *codes: str) -> dict[str, bool]:
    with live.db.reading() as session:
        return {code: suspended is not None for code, suspended, status in session.execute(
            select(School.code, ProcessInstance.suspended_at, ProcessInstance.status)
            .join(ProcessInstance, ProcessInstance.school_id == School.id).where(School.code.in_(codes)))
            if status is InstanceStatus.RUNNING}


def test_a_municipality_is_suspended_as_a_batch_after_a_dry_run_and_a_merge_is_refused(
        page: Page, live: LiveServer, org: Org) -> None:
    e2e.sign_in(page, live, org.regional, PASSWORD)
    page.goto(f"{live.url}/dashboard?municipality={org.municipality}")
    page.get_by_test_id("batch-municipality").click()
    picked = page.get_by_test_id("batch-picked").locator("tbody tr")
    expect(picked).to_have_count(2)
    page.get_by_test_id("batch-form").get_by_label("Причина").fill("реорганизация управления образования")
    screenshot(page, "batch-filter")
    page.get_by_test_id("batch-dry-run").click()

    confirm = page.get_by_test_id("batch-confirm")
    expect(confirm).to_contain_text("Выполнить для 2 школ?")  # the page reloads itself when the dry run ends
    expect(page.get_by_test_id("batch-confirm-schools")).to_have_text(f"{org.school}, {org.sibling_school}")
    expect(page.get_by_test_id("batch-items").locator('tr[data-outcome="done"]')).to_have_count(2)
    expect(page.get_by_test_id("batch-items")).to_contain_text("будет сделано")
    screenshot(page, "batch-dry-run")
    assert _suspended(live, org.school, org.sibling_school) == {org.school: False, org.sibling_school: False}

    page.get_by_test_id("batch-run-confirm").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("завершена")
    expect(page.get_by_test_id("batch-progress")).to_contain_text("Обработано: 2 / 2")
    expect(page.get_by_test_id("batch-items").locator('tr[data-outcome="done"]')).to_have_count(2)
    screenshot(page, "batch-done")
    assert _suspended(live, org.school, org.sibling_school) == {org.school: True, org.sibling_school: True}

    # The sibling school's roadmap still waits for the region's confirmation: another stage, so no merge.
    page.goto(f"{live.url}/schools/{org.sibling_school}")
    page.get_by_test_id("manage-merge").click()
    page.get_by_label("Присоединить к школе").select_option(value=org.school)
    page.get_by_label("Причина").fill("слияние двух школ посёлка")
    page.get_by_test_id("confirm-merge").click()
    expect(page.get_by_role("alert")).to_contain_text("маршруты на разных этапах")
    expect(page.get_by_role("alert")).to_contain_text(f"школа «{org.sibling_school}» — этап «")
    screenshot(page, "merge-refused")
    with live.db.reading() as session:
        assert session.scalar(select(School.merged_into_id).where(School.code == org.sibling_school)) is None
