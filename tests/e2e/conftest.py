"""A live server (the real app on a real port, PostgreSQL behind it) and Debian's Chromium, headless,
driven by Playwright. Time on the server is the test's clock, moved by the test."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.actors import OPERATOR
from engine.db import Database
from engine.models import User
from engine.org.passwords import hash_password
from engine.process import instances, tasks
from engine.process.cohorts import ensure_cohort
from engine.templates import versions
from tests.conftest import PG_DATABASE, PG_SERVER, Clock, Org, _admin, _migrate, make_org
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
# As root, headless, and quiet on a machine with no network beyond loopback (see the env notes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ROADMAP = Path(__file__).resolve().parents[2] / "workflows" / "roadmap-500"
PASSWORD = "браузер-2035"


@dataclass
class LiveServer:
    url: str
    db: Database
    clock: Clock


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(db: Database, clock: Clock) -> Iterator[LiveServer]:
    """The real app over ``db`` on a free port of loopback, in a thread, for as long as the block runs."""
    app = create_app({"DATABASE": db, "SECRET_KEY": "e2e", "SESSION_COOKIE_SECURE": False,
                      "REMEMBER_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", db, clock)
    finally:
        server.shutdown()
        db.engine.dispose()


@contextmanager
def database_of_its_own(suffix: str, clock: Clock) -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database for one test module, with the «500+» template deployed, dropped
    after it: for a world the other tests must not see (the demo region, its sweeps acting on every due row)."""
    name = f"{PG_DATABASE}_{suffix}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    _migrate(url)
    db = Database.from_url(url, clock=clock)
    versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR)
    try:
        yield db
    finally:
        db.engine.dispose()
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def live(postgres_url: str) -> Iterator[LiveServer]:
    clock = Clock()
    with serving(Database.from_url(postgres_url, clock=clock), clock) as server:
        yield server


def sign_in(page: Page, live: LiveServer, login: str, password: str) -> None:
    page.goto(f"{live.url}/login")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    # Everyone lands on their tasks; an admin on the admins' start page.
    expect(page.get_by_role("heading", level=1, name=re.compile("^(Мои задачи|Администрирование)$"))).to_be_visible()


def admin_menu(page: Page, link: str) -> None:
    """Open the header's «Администрирование» menu and follow one of its links (a phone opens «Меню» first)."""
    if page.get_by_test_id("menu-button").is_visible():
        page.get_by_test_id("menu-button").click()
    page.get_by_test_id("admin-menu").locator("summary").click()
    page.get_by_test_id("admin-menu").get_by_role("link", name=link).click()  # a count may follow the name


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.exit(f"нет {CHROMIUM}: запустите `make services` (ставит chromium)", returncode=3)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def csp_violations(page: Page) -> list[str]:
    """Console messages in which Chromium reports something refused by the Content-Security-Policy; a page
    fixture asserts the list is empty at the end of each test (a refused script is a broken page)."""
    seen: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.on("console", note)
    return seen


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    refused = csp_violations(opened)
    yield opened
    context.close()
    assert not refused, refused


def screenshot(page: Page, name: str) -> None:
    """Refresh a screenshot of the user guides in docs/screenshots/ — only when asked
    (`make screenshots`), so an ordinary test run leaves the work tree as it was."""
    if os.environ.get("ROADMAP_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def editor_screenshots(page: Page, name: str) -> None:
    """An editor page for the admin guide at a laptop's and a desktop's size (docs/screenshots/NAME-1366.png,
    NAME-1920.png); the editor refits to each."""
    if os.environ.get("ROADMAP_SCREENSHOTS") != "1":
        return
    before = page.viewport_size
    for width, height in ((1366, 900), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        screenshot(page, f"{name}-{width}")
    if before:
        page.set_viewport_size(before)


def school_in_questionnaire_stage(live: LiveServer) -> Org:
    """A school whose region confirmed it: its questionnaire task is open."""
    found = make_org(live.db)
    with live.db.transaction() as session:
        for user in session.scalars(select(User).where(User.login.in_(
                [found.school_user, found.curator, found.municipal, found.regional]))):
            user.password_hash = hash_password(PASSWORD)
    ensure_cohort(live.db, 2035)
    key = versions.deploy_template(live.db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instance_id = instances.start_instance(live.db, key, found.school, cohort_year=2035, actor=OPERATOR).instance_id
    [selection] = [t for t in tasks.list_tasks(live.db, actor=found.regional) if t.instance_id == instance_id]
    tasks.complete_task(live.db, selection.id, {"participation": "confirmed", "curator_login": found.curator},
                        actor=found.regional)
    return found
