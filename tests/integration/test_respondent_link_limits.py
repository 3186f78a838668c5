"""Respondent links within bounds: a school cannot create links without end (a ceiling per group), and
guessing at /q/<token> is throttled per address — past the limit that address gets 429, other addresses
still open their links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import EngineError
from engine.models import RespondentLink
from engine.process import instances, questionnaires, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import Clock, Org, unique
from tests.helpers import PASSWORD, set_password
from web.app import create_app

ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2036, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def timed(db: Database, clock: Clock) -> Database:
    return Database(db.engine, clock=clock, sessions=db.sessions)


@pytest.fixture
def collecting(timed: Database, org: Org) -> int:
    """A roadmap of org.school whose questionnaire window is open; its instance id."""
    ensure_cohort(timed, 2036)
    key = versions.deploy_template(timed, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(timed, key, org.school, cohort_year=2036, actor=OPERATOR).instance_id
    [task] = [t for t in tasks.list_tasks(timed, actor=org.regional) if t.instance_id == instance_id]
    tasks.complete_task(timed, task.id, {"participation": "confirmed", "curator_login": org.curator},
                        actor=org.regional)
    return instance_id


def _fill(db: Database, instance_id: int, group: str, count: int) -> None:
    with db.transaction() as session:
        session.execute(insert(RespondentLink), [
            {"token_hash": unique().ljust(64, "0"), "instance_id": instance_id, "group": group,
             "created_at": db.now(), "created_by_id": None} for _ in range(count)])


def test_a_group_has_a_ceiling_of_links(timed: Database, org: Org, collecting: int) -> None:
    ceiling = questionnaires.MAX_LINKS_PER_GROUP
    _fill(timed, collecting, "parent", ceiling - 3)
    with pytest.raises(EngineError) as refused:
        questionnaires.create_links(timed, org.school, "parent", 4, actor=org.school_user)
    assert "не больше 5000" in refused.value.message and "ещё не больше 3" in refused.value.message
    assert len(questionnaires.create_links(timed, org.school, "parent", 3, actor=org.school_user)) == 3
    with pytest.raises(EngineError, match="ещё не больше 0"):
        questionnaires.create_links(timed, org.school, "parent", 1, actor=org.curator)
    assert len(questionnaires.create_links(timed, org.school, "student", 1, actor=org.school_user)) == 1  # per group


def test_the_ceiling_is_shown_on_the_page(timed: Database, org: Org, collecting: int) -> None:
    _fill(timed, collecting, "parent", questionnaires.MAX_LINKS_PER_GROUP)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                      "SESSION_COOKIE_SECURE": False})
    client = app.test_client()
    questionnaires_url = f"/schools/{org.school}/questionnaires"
    _sign_in(timed, client, org.school_user)
    page = client.post(questionnaires_url, data={"group": "parent", "count": "1"}).get_data(as_text=True)
    assert "всего их может быть не больше 5000" in page and "/q/" not in page


def _sign_in(db: Database, client: FlaskClient, login: str) -> None:
    set_password(db, login)
    answer = client.post("/login", data={"login": login, "password": PASSWORD},
                         environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert answer.status_code == 302


def test_guessing_links_is_throttled_per_address(timed: Database, clock: Clock, org: Org, collecting: int) -> None:
    [token] = questionnaires.create_links(timed, org.school, "parent", 1, actor=org.school_user)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "test"})
    guesser, respondent = unique("guesser-"), unique("respondent-")

    def open_link(link: str, address: str) -> tuple[int, str]:
        answer = app.test_client().get(f"/q/{link}", environ_base={"REMOTE_ADDR": address})
        return answer.status_code, answer.get_data(as_text=True)

    limit = questionnaires.UNKNOWN_LINKS.failures
    for _ in range(limit):
        assert open_link(unique("wrong-"), guesser)[0] == 404
    status, page = open_link(unique("wrong-"), guesser)
    assert status == 429 and "Слишком много обращений по несуществующим ссылкам" in page and "через 15 мин" in page
    assert open_link(token, guesser)[0] == 429  # from that address, even a real link waits
    status, page = open_link(token, respondent)
    assert status == 200 and 'id="questionnaire-form"' in page  # everyone else is not affected
    clock.now += timedelta(minutes=15)
    assert open_link(token, guesser)[0] == 200


def test_real_links_do_not_count(timed: Database, org: Org, collecting: int) -> None:
    [token] = questionnaires.create_links(timed, org.school, "parent", 1, actor=org.school_user)
    app = create_app({"DATABASE": timed, "TESTING": True, "SECRET_KEY": "test"})
    school_address = unique("school-")
    for _ in range(questionnaires.UNKNOWN_LINKS.failures * 2):
        assert app.test_client().get(f"/q/{token}", environ_base={"REMOTE_ADDR": school_address}).status_code == 200
