"""Schools in Kamchatka (UTC+12) and Kaliningrad (UTC+2): deadlines by their own dates and midnights, reminders
that had already passed, region zones set by the org import, the admin page and the CLI, cohort dates set from
the CLI and the API, and times shown with their zone named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.errors import FormInvalid, NotAllowed
from engine.models import AuditRecord, Cohort, Deadline, DeadlineKind, Notification, Region, Task, User
from engine.org.api_tokens import create_token
from engine.org.core import GrantRow, OrgData, apply_org
from engine.org.importing import import_org
from engine.org.regions import set_region_zone, viewer_zone
from engine.process import instances
from engine.process.cohorts import ensure_cohort, set_cohort_dates
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org, make_org, unique
from tests.helpers import ROADMAP, post, signed_in, with_passwords
from web.app import create_app
from web.cli import cli

KAMCHATKA, KALININGRAD = "Asia/Kamchatka", "Europe/Kaliningrad"


def _org_in(db: Database, zone: str) -> Org:
    org = make_org(db)
    set_region_zone(db, org.region, zone, actor=OPERATOR)
    return org


def _at(db: Database, moment: datetime) -> Database:
    return Database(db.engine, clock=lambda: moment, sessions=db.sessions)


def _open_tasks(db: Database, instance_id: int) -> list[Task]:
    with db.reading() as session:
        return list(session.scalars(select(Task).where(Task.instance_id == instance_id)))


def _rows(db: Database, task_id: int) -> list[tuple[DeadlineKind, int, datetime]]:
    with db.reading() as session:
        return [(r.kind, r.step, r.fire_at) for r in session.scalars(
            select(Deadline).where(Deadline.task_id == task_id).order_by(Deadline.kind, Deadline.step))]


def _run(db: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db)
    return result.exit_code, result.stdout, result.stderr


def _one_wd_bundle(bundle: Path) -> Path:
    """The mini template with its first (school's) task due in one working day."""
    process = bundle / "mini.bpmn"
    process.write_text(process.read_text(encoding="utf-8").replace('roadmap:deadline="P14D"', 'roadmap:deadline="1WD"'),
                       encoding="utf-8")
    return bundle


def test_a_cohort_date_is_each_schools_own_end_of_the_day(db: Database) -> None:
    kamchatka, kaliningrad, moscow = _org_in(db, KAMCHATKA), _org_in(db, KALININGRAD), make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    ensure_cohort(db, 2090)
    started = _at(db, datetime(2090, 1, 10, 9, 0, tzinfo=UTC))
    for org, zone in ((kamchatka, KAMCHATKA), (kaliningrad, KALININGRAD), (moscow, "Europe/Moscow")):
        instance_id = instances.start_instance(started, key, org.school, cohort_year=2090, actor=OPERATOR).instance_id
        [task] = _open_tasks(db, instance_id)
        assert task.due_at is not None
        local = task.due_at.astimezone(ZoneInfo(zone))
        assert (local.date(), local.time().isoformat()) == (date(2090, 2, 15), "23:59:59")  # selection_close 02-15
        assert (DeadlineKind.DUE, 0, task.due_at) in _rows(db, task.id)
    assert [t.due_at for t in _open_tasks(db, instance_id)] == [datetime(2090, 2, 15, 20, 59, 59, tzinfo=UTC)]


@pytest.mark.parametrize(("zone", "opened", "due"), [
    # 30.12.2026, 07:00 in Kamchatka is still 29.12 in UTC and in Moscow; 23:30 in Kaliningrad is 31.12 in Moscow.
    (KAMCHATKA, datetime(2026, 12, 30, 7, 0), datetime(2027, 1, 11, 7, 0)),
    (KALININGRAD, datetime(2026, 12, 30, 23, 30), datetime(2027, 1, 11, 23, 30)),
])
def test_working_days_are_counted_by_the_schools_dates_and_a_passed_reminder_comes_at_once(
        db: Database, bundle_copy: Path, zone: str, opened: datetime, due: datetime) -> None:
    org = _org_in(db, zone)
    here = ZoneInfo(zone)
    key = versions.deploy_template(db, versions.read_bundle(_one_wd_bundle(bundle_copy)), actor=OPERATOR).key
    at_opening = _at(db, opened.replace(tzinfo=here))
    instance_id = instances.start_instance(at_opening, key, org.school, actor=OPERATOR).instance_id
    [task] = _open_tasks(db, instance_id)
    assert task.due_at == due.replace(tzinfo=here)
    # The default reminder, 2 working days before 11.01, was 29.12: already past when the task opened on 30.12.
    # It is not dropped: it comes at once.
    assert (DeadlineKind.REMINDER, 1, task.created_at) in _rows(db, task.id)
    sweep(at_opening)
    with db.reading() as session:
        [body] = session.scalars(select(Notification.body).join(User, User.id == Notification.user_id).where(
            User.login == org.school_user, Notification.task_id == task.id, Notification.kind == "reminder"))
    label = "МСК+9" if zone == KAMCHATKA else "МСК−1"
    assert f"{due:%d.%m.%Y %H:%M} ({label})" in body  # the school's own time, named


def test_a_reminder_still_ahead_keeps_its_moment_and_a_task_due_at_opening_gets_none(db: Database) -> None:
    org = _org_in(db, KAMCHATKA)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    ensure_cohort(db, 2091)
    early = instances.start_instance(_at(db, datetime(2091, 1, 10, 9, 0, tzinfo=UTC)), key, org.school,
                                     cohort_year=2091, actor=OPERATOR).instance_id
    [task] = _open_tasks(db, early)
    reminders = [(step, at) for kind, step, at in _rows(db, task.id) if kind is DeadlineKind.REMINDER]
    # 2 working days before Thursday 15.02.2091 23:59:59 in Kamchatka: Tuesday 13.02 at the same local time.
    assert reminders == [(1, datetime(2091, 2, 13, 23, 59, 59, tzinfo=ZoneInfo(KAMCHATKA)))]
    late = instances.start_instance(_at(db, datetime(2091, 3, 1, 9, 0, tzinfo=UTC)), key, org.sibling_school,
                                    cohort_year=2091, actor=OPERATOR).instance_id
    [overdue] = _open_tasks(db, late)
    # No reminder for a task already due: its arrival, then due and the escalation steps.
    assert [kind for kind, _, _ in _rows(db, overdue.id)] == [DeadlineKind.ARRIVAL, DeadlineKind.DUE,
                                                                DeadlineKind.ESCALATION, DeadlineKind.ESCALATION,
                                                                DeadlineKind.ESCALATION]


def test_the_org_import_sets_zones_and_numbers_the_rows_it_refuses(db: Database, tmp_path: Path) -> None:
    tag = unique()
    good, kept, bad = f"K{tag}", f"L{tag}", f"B{tag}"
    header = "тип;код;название;родитель;часовой пояс"
    rows = [header, f"регион;{good};Камчатский край;;Asia/Kamchatka", f"регион;{kept};Без пояса;;"]
    path = tmp_path / "zones.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_org(db, path, actor=OPERATOR)
    assert report.applied and not report.errors
    set_region_zone(db, kept, KALININGRAD, actor=OPERATOR)
    import_org(db, path, actor=OPERATOR)  # a blank zone leaves the region's own
    with db.reading() as session:
        zones = {code: zone for code, zone in session.execute(
            select(Region.code, Region.time_zone).where(Region.code.in_([good, kept])))}
    assert zones == {good: KAMCHATKA, kept: KALININGRAD}
    path.write_text("\n".join([header, f"регион;{bad};Мордор;;Europe/Mordor",
                               f"муниципалитет;M{tag};Район;{good};Asia/Kamchatka"]) + "\n", encoding="utf-8")
    refused = import_org(db, path, actor=OPERATOR)
    assert not refused.applied
    assert [e.row for e in refused.errors] == [2, 3]
    assert "часовой пояс «Europe/Mordor» неизвестен" in refused.errors[0].format()
    assert "часовой пояс задаётся региону, а не муниципалитету" in refused.errors[1].format()


def test_region_zones_from_the_cli_and_only_admins_change_them(db: Database) -> None:
    org = make_org(db)
    code, out, _ = _run(db, "region", "zone", org.region, KAMCHATKA)
    assert code == 0 and f"{org.region}: Europe/Moscow → {KAMCHATKA}" in out
    code, out, _ = _run(db, "region", "zones")
    assert f"{org.region}\t{KAMCHATKA}\tТестовая область\tшкол: 3" in out
    code, _, err = _run(db, "region", "zone", org.region, "UTC+12")
    assert code == 1 and "time_zone: Часовой пояс «UTC+12» неизвестен" in err
    with pytest.raises(NotAllowed):
        set_region_zone(db, org.region, KALININGRAD, actor=org.regional)
    set_region_zone(db, org.region, KALININGRAD, actor=org.admin)
    with db.reading() as session:
        [details] = session.scalars(select(AuditRecord.details).where(
            AuditRecord.action == "region.time_zone_changed", AuditRecord.details["after"].as_string() == KALININGRAD,
            AuditRecord.details["region"].as_string() == org.region))
    assert details["before"] == KAMCHATKA
    # Whose zone a person reads: their region's; federal and admin users read Moscow's.
    assert [viewer_zone(db, actor=login) for login in (org.school_user, org.curator, org.municipal, org.regional,
                                                         org.federal, org.admin)] == [KALININGRAD] * 4 + ["Europe/Moscow"] * 2
    elsewhere = _org_in(db, KAMCHATKA)  # a curator of schools in two zones reads Moscow's time
    apply_org(db, OrgData(grants=[GrantRow(org.curator, Role.CURATOR, elsewhere.school)]))
    assert viewer_zone(db, actor=org.curator) == "Europe/Moscow"
    assert viewer_zone(db, actor=elsewhere.curator) == KAMCHATKA


def test_cohort_dates_from_the_cli(db: Database, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    ensure_cohort(db, 2092)
    code, out, _ = _run(db, "cohort", "dates", "--template", key, "--year", "2092")
    assert code == 0 and "questionnaire_close\t01.03.2092\tпо шаблону" in out
    code, out, _ = _run(db, "cohort", "dates", "--template", key, "--year", "2092", "questionnaire_close=2092-03-05")
    assert code == 0 and "questionnaire_close\t05.03.2092\tзадана для когорты" in out
    code, _, err = _run(db, "cohort", "dates", "--template", key, "--year", "2092", "questionnaire_close=5 марта",
                        "selection_close=2092-02-20")
    assert code == 1 and "questionnaire_close: Укажите дату в виде ГГГГ-ММ-ДД." in err
    code, _, err = _run(db, "cohort", "dates", "--template", key, "--year", "2092", "no_such_date=2092-02-20")
    assert code == 1 and "нет в календаре шаблона" in err
    code, _, err = _run(db, "cohort", "dates", "--template", key, "--year", "2092", "questionnaire_close")
    assert code == 2 and "ИМЯ=ГГГГ-ММ-ДД" in err
    code, out, _ = _run(db, "cohort", "dates", "--template", key, "--year", "2092", "questionnaire_close=",
                        "selection_close=2092-02-20")
    assert code == 0 and "questionnaire_close\t01.03.2092\tпо шаблону" in out and "selection_close\t20.02.2092" in out
    # A year no cohort has: the API fuzz test may have made any year's cohort in this shared database.
    with db.reading() as session:
        taken = set(session.scalars(select(Cohort.year)))
    missing = max(set(range(2000, 2101)) - taken)
    code, _, err = _run(db, "cohort", "dates", "--template", key, "--year", str(missing))
    assert code == 1 and f"когорта {missing} года не найдена" in err


def test_cohort_dates_through_the_api_for_admins_only(db: Database) -> None:
    org = make_org(db)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    ensure_cohort(db, 2093)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "api"})
    client = app.test_client()

    def call(login: str, method: str, **kwargs: object) -> tuple[int, dict[str, object]]:
        token = create_token(db, "тест", actor=login)[1]
        response = client.open(f"/api/v1/cohorts/2093/dates?template={key}", method=method,
                               headers={"Authorization": f"Bearer {token}"}, **kwargs)  # type: ignore[arg-type]
        return response.status_code, response.json  # type: ignore[return-value]

    status, body = call(org.admin, "GET")
    assert status == 200 and {"name": "questionnaire_close", "default": "2093-03-01", "override": None,
                              "effective": "2093-03-01"} in body["dates"]  # type: ignore[operator]
    status, body = call(org.admin, "PUT", json={"template": key, "dates": {"questionnaire_close": "2093-03-06"}})
    assert status == 200 and {"name": "questionnaire_close", "default": "2093-03-01", "override": "2093-03-06",
                              "effective": "2093-03-06"} in body["dates"]  # type: ignore[operator]
    status, body = call(org.admin, "PUT", json={"template": key, "dates": {"questionnaire_close": "06.03.2093",
                                                                          "concept_due": "2093-04-20"}})
    assert status == 422 and body["errors"] == {"questionnaire_close": ["Укажите дату в виде ГГГГ-ММ-ДД."]}
    assert call(org.admin, "PUT", json={"template": key})[0] == 422
    for login in (org.regional, org.federal, org.school_user):
        assert call(login, "GET")[0] == 403
        assert call(login, "PUT", json={"template": key, "dates": {"concept_due": "2093-04-20"}})[0] == 403
    status, body = call(org.admin, "GET")
    assert {"name": "concept_due", "default": "2093-04-15", "override": None,
            "effective": "2093-04-15"} in body["dates"]  # type: ignore[operator]
    with pytest.raises(FormInvalid):
        set_cohort_dates(db, 2093, key, {}, actor=OPERATOR)
    document = json.dumps(client.get("/api/v1/openapi.json").json)
    assert "/api/v1/cohorts/{year}/dates" in document and "CohortCalendar" in document


def test_a_kamchatka_school_reads_its_deadline_in_its_own_time(db: Database, bundle_copy: Path) -> None:
    org = _org_in(db, KAMCHATKA)
    with_passwords(db, org)
    key = versions.deploy_template(db, versions.read_bundle(_one_wd_bundle(bundle_copy)), actor=OPERATOR).key
    opened = datetime(2026, 12, 30, 7, 0, tzinfo=ZoneInfo(KAMCHATKA))
    instances.start_instance(_at(db, opened), key, org.school, actor=OPERATOR)
    app = create_app({"DATABASE": _at(db, opened), "TESTING": True, "SECRET_KEY": "local"})
    school_page = signed_in(app, org.school_user).get("/").get_data(as_text=True)
    assert "11.01.2027 07:00 (МСК+9)" in school_page  # the deadline in the school's time, its zone named
    assert "остался 1 рабочий день" in school_page  # 30.12 → 11.01 by Kamchatka's dates
    school = signed_in(app, org.school_user)
    school.get("/lang/en")
    assert "11.01.2027 07:00 (MSK+9)" in school.get("/").get_data(as_text=True)
    federal_page = signed_in(app, org.federal).get(f"/schools/{org.school}").get_data(as_text=True)
    assert "10.01.2027 22:00 (МСК)" in federal_page  # the same moment, in a federal reader's Moscow time
    code, out, _ = _run(db, "tasks", "--user", org.school_user)
    assert code == 0 and "срок: 11.01.2027 07:00 (МСК+9)" in out


def test_the_admin_page_of_regions(db: Database) -> None:
    org = make_org(db)
    with_passwords(db, org)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "regions"})
    admin = signed_in(app, org.admin)
    page = admin.get("/admin/regions").get_data(as_text=True)
    assert f'data-region="{org.region}"' in page and 'value="Europe/Moscow"' in page
    status, body = post(admin, f"/admin/regions/{org.region}", {"time_zone": "Europe/Mordor"}, "/admin/regions")
    assert status == 422 and "Europe/Mordor» неизвестен" in body
    status, _ = post(admin, f"/admin/regions/{org.region}", {"time_zone": KAMCHATKA}, "/admin/regions")
    assert status == 302
    assert f'id="zone-{org.region}" name="time_zone" list="russian-zones" size="18" value="{KAMCHATKA}"' in \
        admin.get("/admin/regions").get_data(as_text=True)
    regional = signed_in(app, org.regional)
    assert regional.get("/admin/regions").status_code == 403
    status, _ = post(regional, f"/admin/regions/{org.region}", {"time_zone": KALININGRAD})
    assert status == 403
