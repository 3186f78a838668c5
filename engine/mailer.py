"""E-mail delivery from the outbox over SMTP.

A delivery first claims its message (pending → sending, with a lease) in its own short transaction, then
talks to the SMTP server, then records the outcome. Two deliveries of one message — a retried job and a
flush, say — cannot both claim it. If a process dies after the server accepted the letter but before
it was marked sent, the lease expires and the letter is sent again with the same Message-ID, so mail
systems can recognise the repeat: at-least-once is the honest guarantee across that gap.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import or_, select, update

from engine.config import Settings
from engine.db import Database
from engine.models import OutboxMessage, OutboxStatus

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    sender: str = "roadmap-500@localhost"
    starttls: bool = False
    timeout: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings | None:
        if not settings.smtp_host:
            return None
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_username, settings.smtp_password,
                   settings.smtp_sender, settings.smtp_starttls)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes between attempts, at most an hour: a mail server down overnight is retried."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _claim(db: Database, outbox_id: int) -> OutboxMessage | None:
    now = db.now()
    claimable = or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_until < now),  # a dead sender
    )
    with db.transaction() as session:
        claimed = session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id, claimable)
            .values(status=OutboxStatus.SENDING, claimed_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)).first()
        return session.get(OutboxMessage, outbox_id) if claimed else None


# Python 3.11 folds a long non-ASCII subject into encoded words and loses the space at the fold
# («Заполнитьанкету»); subjects are at most 500 characters, well within RFC 5322's 998, so don't fold.
_POLICY = policy.SMTP.clone(max_line_length=998)


def _letter(message: OutboxMessage, sender: str) -> EmailMessage:
    letter = EmailMessage(policy=_POLICY)
    letter["From"] = sender
    letter["To"] = message.to_address
    letter["Subject"] = message.subject
    # The same id on every attempt: a repeat after a crash is recognisable as the same letter.
    letter["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="roadmap-500")
    letter.set_content(message.body)
    return letter


def send(smtp: SmtpSettings, letter: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(letter)


def deliver(db: Database, outbox_id: int, smtp: SmtpSettings) -> bool:
    """Send one outbox message if it is ours to send; True when it went out now.

    A failure is recorded (retry later, or give up after MAX_ATTEMPTS) and re-raised, so a job queue
    shows the failing job too."""
    message = _claim(db, outbox_id)
    if message is None:
        return False
    try:
        send(smtp, _letter(message, smtp.sender))
    except (OSError, smtplib.SMTPException) as err:
        _record_failure(db, message, err)
        raise
    with db.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                        .values(status=OutboxStatus.SENT, sent_at=db.now(), claimed_until=None, last_error=None))
    return True


def _record_failure(db: Database, message: OutboxMessage, err: Exception) -> None:
    gave_up = message.attempts >= MAX_ATTEMPTS
    with db.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status=OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING, claimed_until=None,
            next_attempt_at=db.now() + retry_delay(message.attempts), last_error=f"{type(err).__name__}: {err}"))


def due_messages(db: Database, *, limit: int = 500, now: datetime | None = None) -> list[int]:
    """Outbox messages ready for an attempt now (new, retry due, or abandoned by a dead sender)."""
    moment = now or db.now()
    with db.reading() as session:
        query = select(OutboxMessage.id).where(or_(
            (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= moment),
            (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_until < moment),
        )).order_by(OutboxMessage.id).limit(limit)
        return list(session.scalars(query))


def deliver_due(db: Database, smtp: SmtpSettings, *, limit: int = 500) -> tuple[int, int]:
    """Deliver what is due, in-process (the embedded mode without Redis); returns (sent, failed)."""
    sent = failed = 0
    for outbox_id in due_messages(db, limit=limit):
        try:
            sent += deliver(db, outbox_id, smtp)
        except (OSError, smtplib.SMTPException):
            failed += 1
    return sent, failed
