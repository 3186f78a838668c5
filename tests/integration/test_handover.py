"""Releasing and handing over a task (issue 15 point 6): who may, to whom, what is recorded and who is told —
through the engine services, the CLI, the API and the task page, which all share the same rules."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.audit import instance_history
from engine.db import Database
from engine.errors import NotAllowed, OrgUnitNotFound
from engine.models import Notification, OutboxMessage, User
from engine.org.api_tokens import create_token
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.process import instances, tasks
from engine.roles import Role
from engine.templates import versions
from tests.conftest import Org
from tests.helpers import post, set_password, signed_in, with_passwords
from web.app import create_app
from web.cli import cli


@dataclass
class Desk:
    db: Database
    org: Org
    colleague: str  # a second user of the same school: someone the school's task may go to
    school_task: int
    instance_id: int


@pytest.fixture
def desk(db: Database, org: Org, bundle_copy: Path) -> Desk:
    colleague = f"deputy-{org.school_user}"
    apply_org(db, OrgData(users=[UserRow(colleague, "Заместитель Ирина Львовна", f"{colleague}@school.example")],
                          grants=[GrantRow(colleague, Role.SCHOOL, org.school)]))
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instance_id = instances.start_instance(db, key, org.school, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(db, actor=org.school_user) if t.instance_id == instance_id]
    return Desk(db, org, colleague, task.id, instance_id)


def _actions(d: Desk) -> list[str]:
    with d.db.reading() as session:
        return [r.action for r in instance_history(session, d.instance_id)]


def _notifications(d: Desk, login: str) -> list[Notification]:
    with d.db.reading() as session:
        return list(session.scalars(select(Notification).join(User, User.id == Notification.user_id)
                                    .where(User.login == login).order_by(Notification.id)))


def test_the_assignee_releases_a_task_and_a_colleague_takes_it(desk: Desk) -> None:
    db, org = desk.db, desk.org
    tasks.claim_task(db, desk.school_task, actor=org.school_user)
    with pytest.raises(NotAllowed, match="вернуть задачу в общий список может её исполнитель или координатор"):
        tasks.release_task(db, desk.school_task, actor=desk.colleague)
    released = tasks.release_task(db, desk.school_task, actor=org.school_user)
    assert released.assignee is None and released.assignee_name is None
    assert tasks.get_task(db, desk.school_task, actor=org.school_user).task.assignee is None
    assert tasks.claim_task(db, desk.school_task, actor=desk.colleague).assignee_name == "Заместитель Ирина Львовна"
    assert tasks.release_task(db, desk.school_task, actor=org.municipal).assignee is None  # a coordinator may
    tasks.release_task(db, desk.school_task, actor=org.school_user)  # already free: nothing happens, nothing recorded
    with pytest.raises(NotAllowed):  # not theirs to touch at all
        tasks.release_task(db, desk.school_task, actor=org.foreign_school_user)
    assert _actions(desk).count("task.released") == 2 and _actions(desk).count("task.claimed") == 2


def test_candidates_are_the_others_holding_the_tasks_role_for_the_school(desk: Desk) -> None:
    db, org = desk.db, desk.org
    assert tasks.handover_candidates(db, desk.school_task, actor=org.school_user) == [
        tasks.Colleague(desk.colleague, "Заместитель Ирина Львовна")]
    by_name = [desk.colleague, org.school_user]  # «Заместитель …» before «Пользователь …»
    assert [c.login for c in tasks.handover_candidates(db, desk.school_task, actor=org.municipal)] == by_name
    tasks.claim_task(db, desk.school_task, actor=desk.colleague)
    with pytest.raises(NotAllowed, match="передать задачу может её исполнитель или координатор"):
        tasks.handover_candidates(db, desk.school_task, actor=org.school_user)  # taken by the colleague
    assert [c.login for c in tasks.handover_candidates(db, desk.school_task, actor=desk.colleague)] == [org.school_user]
    with pytest.raises(NotAllowed):
        tasks.handover_candidates(db, desk.school_task, actor=org.curator)  # sees the school, not its role
    detail = tasks.get_task(db, desk.school_task, actor=desk.colleague)
    assert detail.handover == tasks.Handover(may_claim=False, may_release=True, may_hand_over=True, colleagues=(
        tasks.Colleague(org.school_user, f"Пользователь {org.school_user}"),))
    assert tasks.get_task(db, desk.school_task, actor=org.school_user).handover == tasks.Handover()
    overseer = tasks.get_task(db, desk.school_task, actor=org.municipal).handover
    assert (overseer.may_claim, overseer.may_release, len(overseer.colleagues)) == (False, True, 1)
    tasks.release_task(db, desk.school_task, actor=desk.colleague)
    assert tasks.get_task(db, desk.school_task, actor=org.school_user).handover.may_claim
    assert not tasks.get_task(db, desk.school_task, actor=org.municipal).handover.may_claim  # oversees, cannot do it


def test_handing_over_notifies_the_new_assignee_and_is_audited(desk: Desk) -> None:
    db, org = desk.db, desk.org
    tasks.claim_task(db, desk.school_task, actor=org.school_user)
    before = len(_notifications(desk, desk.colleague))
    done = tasks.reassign_task(db, desk.school_task, desk.colleague, actor=org.school_user, base_url="https://500.example")
    assert (done.assignee, done.assignee_name) == (desk.colleague, "Заместитель Ирина Львовна")
    [note] = _notifications(desk, desk.colleague)[before:]
    assert note.kind == "handover" and note.task_id == desk.school_task and note.read_at is None
    assert note.link == f"https://500.example/tasks/{desk.school_task}"
    assert note.title.startswith("Вам передана задача «") and f"Передал(а): Пользователь {org.school_user}" in note.body
    assert _notifications(desk, org.school_user) == []  # the giver is not told about their own act
    with db.reading() as session:  # and a letter waits in the outbox for the delivery job
        [letter] = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == f"{desk.colleague}@school.example"))
        assert letter.subject == note.title and note.link in letter.body
    with db.reading() as session:
        [row] = [r for r in instance_history(session, desk.instance_id) if r.action == "task.reassigned"]
        colleague_id = session.scalar(select(User.id).where(User.login == desk.colleague))
        giver_id = session.scalar(select(User.id).where(User.login == org.school_user))
    assert row.actor_id == giver_id and row.details["to"] == colleague_id and row.details["previous"] == giver_id
    # The colleague now has it on their desk: only they may submit it.
    assert desk.school_task in {t.id for t in tasks.list_tasks(db, actor=desk.colleague) if t.assignee == desk.colleague}
    with pytest.raises(NotAllowed, match="закреплена за другим"):
        tasks.complete_task(db, desk.school_task, {"coverage": 40}, actor=org.school_user)
    tasks.complete_task(db, desk.school_task, {"coverage": 40}, actor=desk.colleague)


@pytest.mark.parametrize("who", ["curator", "foreign_school_user", "municipal"])
def test_a_task_goes_only_to_someone_who_may_act_on_it(desk: Desk, who: str) -> None:
    db, org = desk.db, desk.org
    tasks.claim_task(db, desk.school_task, actor=org.school_user)
    target = getattr(org, who)
    with pytest.raises(NotAllowed, match="нет роли для этой задачи в этой школе: передать её можно только тому"):
        tasks.reassign_task(db, desk.school_task, target, actor=org.school_user)
    with pytest.raises(NotAllowed, match="нет роли для этой задачи"):  # a coordinator cannot either
        tasks.reassign_task(db, desk.school_task, target, actor=org.regional)
    with pytest.raises(OrgUnitNotFound):
        tasks.reassign_task(db, desk.school_task, "nobody-like-this", actor=org.school_user)
    assert tasks.get_task(db, desk.school_task, actor=org.school_user).task.assignee == org.school_user
    assert _notifications(desk, target) == []


def test_a_free_task_may_be_handed_over_by_anyone_who_may_act_on_it(desk: Desk) -> None:
    """Nobody has taken it: passing it to a colleague is taking it and handing it on in one step."""
    db, org = desk.db, desk.org
    assert tasks.reassign_task(db, desk.school_task, desk.colleague, actor=org.school_user).assignee == desk.colleague
    with pytest.raises(NotAllowed, match="переназначить задачу может её исполнитель или координатор"):
        tasks.reassign_task(db, desk.school_task, org.school_user, actor=org.school_user)  # taken back: claim-only
    with pytest.raises(NotAllowed):
        tasks.reassign_task(db, desk.school_task, desk.colleague, actor=org.curator)


def test_a_free_task_can_still_be_submitted_without_taking_it(desk: Desk) -> None:
    """As in spiff-arena (anyone in the lane completes): «Взять в работу» only tells the others someone is on it."""
    done = tasks.complete_task(desk.db, desk.school_task, {"coverage": 40}, actor=desk.colleague)
    assert done.task_id == desk.school_task


def _curator_task(d: Desk) -> int:
    tasks.complete_task(d.db, d.school_task, {"coverage": 40}, actor=d.org.school_user)
    [task] = [t for t in tasks.list_tasks(d.db, actor=d.org.curator) if t.instance_id == d.instance_id]
    return task.id


def _run(db: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=db)
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_refuses_a_foreign_user_and_releases(desk: Desk) -> None:
    db, org, task = desk.db, desk.org, str(desk.school_task)
    assert _run(db, "claim", task, "--user", org.school_user)[0] == 0
    code, _, err = _run(db, "reassign", task, "--user", org.school_user, "--to", org.foreign_school_user)
    assert code == 1 and "нет роли для этой задачи в этой школе" in err
    code, out, _ = _run(db, "reassign", task, "--user", org.school_user, "--to", desk.colleague)
    assert code == 0 and f"Заместитель Ирина Львовна ({desk.colleague})" in out
    assert [n.kind for n in _notifications(desk, desk.colleague)] == ["handover"]
    code, _, err = _run(db, "release", task, "--user", org.school_user)
    assert code == 1 and "может её исполнитель или координатор" in err
    code, out, _ = _run(db, "release", task, "--user", desk.colleague)
    assert code == 0 and "возвращена в общий список" in out
    assert "task.released" in _actions(desk)


@pytest.fixture
def app(desk: Desk) -> Flask:
    with_passwords(desk.db, desk.org)
    set_password(desk.db, desk.colleague)
    return create_app({"DATABASE": desk.db, "TESTING": True, "SECRET_KEY": "handover", "SESSION_COOKIE_SECURE": False})


def test_the_api_releases_lists_candidates_and_hands_over(desk: Desk, app: Flask) -> None:
    db, org, client = desk.db, desk.org, app.test_client()
    tokens = {login: create_token(db, "тест", actor=login)[1] for login in (org.school_user, org.foreign_school_user)}

    def call(login: str, method: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return client.open(f"/api/v1/tasks/{desk.school_task}{url}", method=method,
                           headers={"Authorization": f"Bearer {tokens[login]}"}, **kwargs)

    assert call(org.school_user, "POST", "/claim").json["assignee"] == org.school_user
    assert call(org.school_user, "GET", "/candidates").json == [
        {"login": desk.colleague, "full_name": "Заместитель Ирина Львовна"}]
    assert call(org.foreign_school_user, "GET", "/candidates").status_code == 403
    assert call(org.foreign_school_user, "POST", "/release").status_code == 403
    released = call(org.school_user, "POST", "/release")
    assert released.status_code == 200 and released.json["assignee"] is None
    refused = call(org.school_user, "POST", "/reassign", json={"to": org.foreign_school_user})
    assert refused.status_code == 403 and "нет роли для этой задачи" in refused.json["detail"]
    assert call(org.school_user, "POST", "/reassign", json={"to": "nobody-like-this"}).status_code == 404
    handed = call(org.school_user, "POST", "/reassign", json={"to": desk.colleague})
    assert handed.status_code == 200 and handed.json["assignee_name"] == "Заместитель Ирина Львовна"
    assert [n.kind for n in _notifications(desk, desk.colleague)] == ["handover"]
    spec = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/tasks/{task_id}/release", "/api/v1/tasks/{task_id}/candidates"} <= set(spec)


def test_the_task_page_releases_and_hands_over(desk: Desk, app: Flask) -> None:
    org, url = desk.org, f"/tasks/{desk.school_task}"
    school = signed_in(app, org.school_user)
    page = school.get(url).get_data(as_text=True)
    assert "Взять в работу" in page and "Вернуть в общий список" not in page
    assert f'<option value="{desk.colleague}">Заместитель Ирина Львовна</option>' in page
    post(school, f"{url}/claim", {}, url)
    page = html.unescape(school.get(url).get_data(as_text=True))
    assert "Вернуть в общий список" in page and "Взять в работу" not in page
    status, _ = post(school, f"{url}/handover", {"to": org.foreign_school_user}, url)
    assert status == 302
    assert "нет роли для этой задачи в этой школе" in html.unescape(school.get(url).get_data(as_text=True))
    status, _ = post(school, f"{url}/handover", {"to": desk.colleague}, url)
    assert status == 302
    page = html.unescape(school.get(url).get_data(as_text=True))
    assert "Задача передана: Заместитель Ирина Львовна." in page and "в работе у Заместитель Ирина Львовна" in page
    assert "Вернуть в общий список" not in page  # no longer theirs
    colleague = signed_in(app, desk.colleague)
    status, _ = post(colleague, f"{url}/release", {}, url)
    assert status == 302
    page = html.unescape(colleague.get(url).get_data(as_text=True))
    assert "Задача возвращена в общий список" in page and "Взять в работу" in page
    assert "Возвращено в общий список" in page and "Передано другому исполнителю" in page  # the history says so
    coordinator = html.unescape(signed_in(app, org.municipal).get(url).get_data(as_text=True))
    assert "Взять в работу" not in coordinator and "Передать…" in coordinator  # oversees: may hand over, not do it
    alone = html.unescape(signed_in(app, org.curator).get(f"/tasks/{_curator_task(desk)}").get_data(as_text=True))
    assert "Взять в работу" in alone and "Передать…" not in alone  # the school's only curator: nobody to pass it to
