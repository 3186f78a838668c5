"""E-mail from the outbox through a real SMTP server on loopback: header values that came from imported
data, letters that cannot be built, and a letter re-sent after its sender died mid-send."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine.actors import OPERATOR
from engine.config import Settings
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.models import OutboxMessage, OutboxStatus
from engine.org.importing import import_org
from engine.process import instances
from engine.process.mailer import LetterNotBuildable, SmtpSettings, deliver, deliver_due
from engine.templates import versions
from tests.conftest import unique
from tests.helpers import Mailbox, free_port
from workers import jobs
from workers.queue import JobContext

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday; the mini template's first task is due in 14 days
LEVEL_1 = datetime(2027, 3, 18, 10, tzinfo=UTC)  # the mini task, due 15 March, is 3 working days late


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, SmtpSettings(host="127.0.0.1", port=port, sender="Дорожные карты\r\n <roadmap@test.local>")
    finally:
        controller.stop()


def _parsed(content: str) -> EmailMessage:
    letter = message_from_string(content, policy=policy.default)
    assert isinstance(letter, EmailMessage)
    return letter


def _import_school_named(db: Database, tmp_path: Path, school_name: str) -> tuple[str, str]:
    """A school (and its curator with an address) through the real import of a CSV file."""
    tag = unique()
    school, curator = f"S{tag}", f"cur-{tag}"
    rows = [["Тип", "Код", "Название", "Родитель", "Логин", "ФИО", "Почта", "Роль", "Область действия"],
            ["регион", f"R{tag}", "Тестовая область", "", "", "", "", "", ""],
            ["муниципалитет", f"M{tag}", "Тестовый район", f"R{tag}", "", "", "", "", ""],
            ["школа", school, school_name, f"M{tag}", "", "", "", "", ""],
            ["пользователь", "", "", "", curator, "Куратор Школы", f"{curator}@example.test", "куратор", school]]
    text = "\r\n".join(";".join(f'"{cell}"' for cell in row) for row in rows) + "\r\n"
    path = tmp_path / "org.csv"
    path.write_text(text, encoding="utf-8", newline="")
    report = import_org(db, path, actor=OPERATOR)
    assert report.applied and not report.errors and report.imported["school"] == 1
    return school, f"{curator}@example.test"


def test_a_school_name_with_a_line_break_gives_a_clean_subject_and_the_letter_goes_out(
        db: Database, tmp_path: Path, bundle_copy: Path, smtp: tuple[Mailbox, SmtpSettings]) -> None:
    mailbox, settings = smtp
    school, curator_address = _import_school_named(db, tmp_path, "МБОУ «СОШ»\r\nBcc: intruder@evil.test")
    key = versions.deploy_template(db, versions.read_bundle(bundle_copy), actor=OPERATOR).key
    instances.start_instance(Database(db.engine, clock=lambda: START, sessions=db.sessions), key, school,
                             actor=OPERATOR)
    report = sweep(db, now=LEVEL_1)
    for outbox_id in report.outbox_ids:
        deliver(db, outbox_id, settings)
    [(_, recipients, content)] = [m for m in mailbox.messages if m[1] == [curator_address]]
    letter = _parsed(content)
    assert str(letter["Subject"]) == ("Просрочена задача «Заполнить анкету» (уровень 1): "
                                      f"МБОУ «СОШ» Bcc: intruder@evil.test ({school})")
    assert letter["Bcc"] is None and recipients == [curator_address]
    assert str(letter["From"]) == "Дорожные карты <roadmap@test.local>"  # the sender's display name, cleaned too
    assert all("intruder@evil.test" not in rcpt for _, rcpts, _ in mailbox.messages for rcpt in rcpts)


def _queued(db: Database, to_address: str, subject: str, *, at: datetime) -> int:
    with db.transaction() as session:
        letter = OutboxMessage(dedupe_key=unique("mailer-test:"), created_at=at, to_address=to_address,
                               subject=subject, body="Текст письма.", status=OutboxStatus.PENDING, attempts=0,
                               next_attempt_at=at)
        session.add(letter)
        session.flush()
        return letter.id


def test_one_letter_that_cannot_be_built_fails_with_its_reason_and_the_rest_go_out(
        db: Database, smtp: tuple[Mailbox, SmtpSettings]) -> None:
    mailbox, settings = smtp
    # Letters due long ago, delivered by a clock of that time: the run sees these and no other test's.
    then = datetime(2001, 1, 1, 9, tzinfo=UTC)
    at_then = Database(db.engine, clock=lambda: then, sessions=db.sessions)
    tag = unique()
    good = [_queued(db, f"first-{tag}@example.test", "Первое", at=then)]
    broken = [_queued(db, f"broken-{tag}@example.test\r\nBcc: intruder@evil.test", "Сломанный адрес", at=then),
              _queued(db, f"no-domain-{tag}", "Адрес без домена", at=then)]
    good += [_queued(db, f"last-{tag}@example.test", "Последнее", at=then)]
    assert deliver_due(at_then, settings) == (2, 2)
    with db.reading() as session:
        rows = {m.id: m for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(good + broken)))}
    assert [rows[i].status for i in good] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert [rows[i].status for i in broken] == [OutboxStatus.FAILED, OutboxStatus.FAILED]
    assert "некорректный адрес получателя" in (rows[broken[0]].last_error or "")
    assert f"некорректный адрес «no-domain-{tag}»" in (rows[broken[1]].last_error or "")
    assert sorted(rcpt for _, rcpts, _ in mailbox.messages for rcpt in rcpts) == [
        f"first-{tag}@example.test", f"last-{tag}@example.test"]
    assert deliver_due(at_then, settings) == (0, 0)  # failed for good: not retried


class HoldingMailbox(Mailbox):
    """Keeps the first letter and then holds its SMTP session open: its sender is killed meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.released = False

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        while len(self.messages) == 1 and not self.released:
            await asyncio.sleep(0.02)
        return answer


def test_a_letter_resent_after_its_sender_died_mid_send_keeps_its_message_id(
        pg_db: Database, postgres_url: str) -> None:
    mailbox = HoldingMailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        outbox_id = _queued(pg_db, f"{unique('twice-')}@example.test", "Письмо", at=datetime.now(UTC))
        sender = subprocess.Popen([sys.executable, "-c", (
            "import sys\nfrom engine.db import Database\nfrom engine.process.mailer import SmtpSettings, deliver\n"
            "deliver(Database.from_url(sys.argv[1]), int(sys.argv[2]), SmtpSettings('127.0.0.1', int(sys.argv[3])))"),
            postgres_url, str(outbox_id), str(port)], cwd=ROOT)
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline and sender.poll() is None:
            time.sleep(0.05)
        assert mailbox.messages, "the first attempt never reached the server"
        sender.kill()  # the server has the letter; the sender dies before marking it sent
        sender.wait(timeout=10)
        mailbox.released = True
        with pg_db.reading() as session:
            assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == outbox_id)) is \
                OutboxStatus.SENDING
        after_lease = Database(pg_db.engine, clock=lambda: datetime.now(UTC) + timedelta(minutes=6),
                               sessions=pg_db.sessions)
        assert deliver(after_lease, outbox_id, SmtpSettings("127.0.0.1", port)) is True
    finally:
        controller.stop()
    first, second = (_parsed(content)["Message-ID"] for _, _, content in mailbox.messages)
    assert first == second and first.startswith(f"<outbox-{outbox_id}.")


def test_one_delivery_job_sends_its_letters_and_fails_for_the_one_that_cannot_go(
        db: Database, smtp: tuple[Mailbox, SmtpSettings]) -> None:
    """A sweep's letters go in jobs of ``LETTERS_PER_JOB`` (issue 21): each letter still on its own — a broken
    one is recorded and the job fails for rq's registry, the others are sent."""
    mailbox, smtp_settings = smtp
    then = datetime(2001, 1, 1, 9, tzinfo=UTC)
    tag = unique()
    letters = [_queued(db, f"one-{tag}@example.test", "Первое", at=then),
               _queued(db, f"no-domain-{tag}", "Адрес без домена", at=then),
               _queued(db, f"two-{tag}@example.test", "Второе", at=then)]
    settings = Settings.from_env({"SMTP_HOST": smtp_settings.host, "SMTP_PORT": str(smtp_settings.port)})
    context = JobContext(db, settings, None)
    with pytest.raises(LetterNotBuildable):
        jobs.deliver_emails(context, letters)
    with db.reading() as session:
        status = dict(session.execute(select(OutboxMessage.id, OutboxMessage.status)
                                      .where(OutboxMessage.id.in_(letters))).all())
    assert [status[i] for i in letters] == [OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SENT]
    assert sorted(rcpt for _, rcpts, _ in mailbox.messages for rcpt in rcpts) == [
        f"one-{tag}@example.test", f"two-{tag}@example.test"]
    assert jobs.deliver_emails(context, letters) == 0  # sent or failed for good: nothing goes twice
    assert len(mailbox.messages) == 2
