"""Who took a task: people read the assignee's name, programs get the login (and the name) through the API."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import User
from engine.org.api_tokens import create_token
from engine.process import instances, tasks
from engine.templates import versions
from tests.conftest import Org
from tests.helpers import set_password, signed_in
from web.app import create_app


def test_people_see_who_took_a_task_by_name_and_programs_by_login(db: Database, org: Org, bundle_copy: Path) -> None:
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    claimed = tasks.claim_task(db, task.id, actor=org.school_user)
    with db.reading() as session:
        name = session.scalar(select(User.full_name).where(User.login == org.school_user))
    assert (claimed.assignee, claimed.assignee_name) == (org.school_user, name)
    set_password(db, org.school_user)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "t"})
    page = signed_in(app, org.school_user).get("/").get_data(as_text=True)
    assert f'<span title="{org.school_user}">{name}</span>' in page
    token = create_token(db, "тест", actor=org.school_user)[1]
    listed = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).json
    [mine] = [t for t in listed if t["instance_id"] == instance_id]
    assert (mine["assignee"], mine["assignee_name"]) == (org.school_user, name)
