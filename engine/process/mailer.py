"""E-mail delivery from the outbox over SMTP.

A delivery first claims its message (pending → sending, with a lease) in its own short transaction, then
talks to the SMTP server, then records the outcome. Two deliveries of one message — a retried job and a
flush, say — cannot both claim it. If a process dies after the server accepted the letter but before
it was marked sent, the lease expires and the letter is sent again with the same Message-ID (derived
from the outbox row, not generated per attempt), so mail systems can recognise the repeat: at-least-once
is the honest guarantee across that gap.

Header values come from data people typed or imported (a school's name reaches an escalation subject):
control characters become spaces before they reach a header, and a letter that still cannot be built
is marked failed with its reason, so one bad row never stops the delivery of the others.
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import or_, select, update

from engine.config import Settings
from engine.db import Database
from engine.errors import LetterNotBuildable
from engine.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

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


# C0/C1 controls, and the Unicode line and paragraph separators some mail readers also break lines at.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(value: str) -> str:
    """A header value with every run of control characters (CR, LF, TAB …) as one space: a name
    imported with a line break in it must not end the header or start another one."""
    return " ".join(_CONTROLS.sub(" ", value).split())


def message_id(message: OutboxMessage) -> str:
    """The letter's Message-ID, the same on every attempt: derived from the outbox row (its id and
    creation time, so two installations' first letters still differ)."""
    return f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@roadmap-500>"


def _mailbox(value: str) -> Address:
    """One address with an optional display name («Дорожные карты <noreply@…>»): the name is cleaned
    like any header text, the address itself must be a plain addr-spec."""
    name, addr_spec = parseaddr(header_text(value))
    try:
        if "@" not in addr_spec or any(c.isspace() for c in addr_spec):
            raise ValueError("ожидается адрес вида имя@домен")
        return Address(display_name=name, addr_spec=addr_spec)
    except (ValueError, IndexError) as err:
        raise LetterNotBuildable(f"некорректный адрес «{header_text(value)}»: {err}") from err


def _letter(message: OutboxMessage, sender: str) -> EmailMessage:
    if _CONTROLS.search(message.to_address):
        raise LetterNotBuildable(f"некорректный адрес получателя «{header_text(message.to_address)}»")
    letter = EmailMessage(policy=_POLICY)
    try:
        letter["From"] = _mailbox(sender)
        letter["To"] = _mailbox(message.to_address)
        letter["Subject"] = header_text(message.subject)
        letter["Message-ID"] = message_id(message)
        letter.set_content(message.body)
        letter.as_bytes()  # encode now: a failure here is the letter's, not the mail server's
    except (ValueError, LookupError) as err:  # UnicodeError is a ValueError
        raise LetterNotBuildable(f"письмо не удалось составить: {type(err).__name__}: {err}") from err
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
    shows the failing job too. A letter that cannot be built is failed at once (``LetterNotBuildable``):
    retrying would build it the same way."""
    message = _claim(db, outbox_id)
    if message is None:
        return False
    try:
        letter = _letter(message, smtp.sender)
    except LetterNotBuildable as err:
        log.warning("outbox message %d cannot be built: %s", outbox_id, err.message)
        _record_failure(db, message, err, give_up=True)
        raise
    try:
        send(smtp, letter)
    except (OSError, smtplib.SMTPException) as err:
        _record_failure(db, message, err)
        raise
    with db.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                        .values(status=OutboxStatus.SENT, sent_at=db.now(), claimed_until=None, last_error=None))
    return True


def _record_failure(db: Database, message: OutboxMessage, err: Exception, *, give_up: bool = False) -> None:
    gave_up = give_up or message.attempts >= MAX_ATTEMPTS
    reason = err.message if isinstance(err, LetterNotBuildable) else f"{type(err).__name__}: {err}"
    with db.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status=OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING, claimed_until=None,
            next_attempt_at=db.now() + retry_delay(message.attempts), last_error=reason))


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
        except (OSError, smtplib.SMTPException, LetterNotBuildable):
            failed += 1
    return sent, failed
