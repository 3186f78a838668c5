"""The SQL filter and the Python check of a scope agree on every task row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import Task, TaskStatus
from engine.org.core import load_actor
from engine.org.scopes import OrgPlace
from engine.process import instances, tasks
from engine.templates import versions
from tests.conftest import Org


def test_filter_agrees_with_can_act_for_every_user(db: Database, org: Org, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    for school in (org.school, org.sibling_school, org.foreign_school):
        started = instances.start_instance(db, key, school, actor=OPERATOR)
    # Move one instance on so curator tasks exist too.
    [first] = [t for t in tasks.list_tasks(db, actor=org.foreign_school_user) if t.instance_id == started.instance_id]
    tasks.complete_task(db, first.id, {"coverage": 10}, actor=org.foreign_school_user)
    logins = [org.school_user, org.curator, org.sibling_curator, org.municipal, org.other_municipal,
              org.regional, org.federal, org.admin, org.foreign_school_user]
    with db.reading() as session:
        rows = session.scalars(select(Task).where(Task.status == TaskStatus.READY)).all()
        for login in logins:
            actor = load_actor(session, login)
            by_sql = set(session.scalars(select(Task.id).where(Task.status == TaskStatus.READY,
                                                                 actor.scope.task_filter())))
            by_python = {r.id for r in rows
                         if actor.scope.can_act(r.role, OrgPlace(r.school_id, r.municipality_id, r.region_id))}
            assert by_sql == by_python, login
