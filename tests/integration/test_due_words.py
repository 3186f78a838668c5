"""Deadlines read as days: the date (Moscow) and the working days left or overdue, on the production calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import User
from engine.process import instances, tasks
from engine.templates import versions
from tests.conftest import Clock, Org
from tests.helpers import set_password, signed_in
from web.app import create_app


def test_the_inbox_shows_the_date_and_the_working_days_left_then_overdue(db: Database, org: Org,
                                                                          bundle_copy: Path) -> None:
    clock = Clock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))  # a Monday; the mini template gives 14 days
    clocked = Database(db.engine, clock=clock, sessions=db.sessions)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instances.start_instance(clocked, key, org.school, actor=OPERATOR)
    set_password(db, org.school_user)
    client = signed_in(create_app({"DATABASE": clocked, "TESTING": True, "SECRET_KEY": "t"}), org.school_user)
    page = client.get("/").get_data(as_text=True)
    # Due Monday 15 March: 2–5 and 9–12 March and the 15th are working days; 8 March is a holiday.
    assert "15 марта 2027" in page and "осталось 9 рабочих дней" in page
    clock.advance(days=16)  # Wednesday 17 March: the 16th and the 17th have passed
    page = client.get("/").get_data(as_text=True)
    assert "просрочено на 2 рабочих дня" in page
    client.get("/lang/en")
    assert "2 working days overdue" in client.get("/").get_data(as_text=True)



def test_the_overdue_page_names_who_took_a_late_task(db: Database, org: Org, bundle_copy: Path) -> None:
    clock = Clock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    clocked = Database(db.engine, clock=clock, sessions=db.sessions)
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instances.start_instance(clocked, key, org.school, actor=OPERATOR)
    [task] = tasks.list_tasks(clocked, actor=org.school_user)
    tasks.claim_task(clocked, task.id, actor=org.school_user)
    clock.advance(days=20)
    set_password(db, org.municipal)
    client = signed_in(create_app({"DATABASE": clocked, "TESTING": True, "SECRET_KEY": "t"}), org.municipal)
    page = client.get(f"/dashboard/overdue?municipality={org.municipality}").get_data(as_text=True)
    with db.reading() as session:
        name = session.scalars(select(User.full_name).where(User.login == org.school_user)).one()
    assert task.name in page and f"в работе у {name}" in page
