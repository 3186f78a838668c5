"""Webhooks: subscribers, the fan-out of events into deliveries, and the delivery itself.

- A subscriber (``webhook``) names a URL, a secret, the event types it wants and whether it is active;
  admins (and the operator) keep them: the web page, the API and the CLI call the same services here.
- ``dispatch_events`` (cron, every minute) takes undispatched events (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so two fan-outs split the work) and writes one delivery per (event, matching subscriber) —
  a unique pair, so nothing is fanned out twice — then marks the events dispatched, in one transaction.
- ``deliver`` sends one delivery: it claims it first (pending → sending, with a lease) in a short
  transaction of its own, so two jobs holding the same delivery never send it at the same time; a worker
  killed mid-POST leaves the lease to expire and the delivery is then claimed again (``due_deliveries``).
  The POST carries the event as JSON, signed: ``X-Roadmap-Signature: sha256=<HMAC-SHA256(secret, body)>``,
  and the event id in ``X-Roadmap-Event-Id`` so a receiver drops a repeat (a kill after the receiver
  answered but before the delivery was marked). A 2xx is delivered; anything else is retried after 1, 2,
  4 … minutes (at most 6 h), and the delivery is dead after ``MAX_ATTEMPTS``. Each try is logged on the
  delivery (time, status code, error, duration).
- ``prune`` (daily) deletes events older than ``KEEP_EVENTS`` with their deliveries.

With ``WEBHOOK_BLOCK_PRIVATE`` (on unless set to 0) URLs of private, loopback, link-local and reserved
addresses are refused, when a subscriber is saved and again, after resolving the host, at every try.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.actors import Who
from engine.config import Settings
from engine.db import Database
from engine.errors import FormInvalid, NotFound
from engine.models import DeliveryStatus, Event, Webhook, WebhookDelivery
from engine.org.core import operator_or_admin
from engine.process import events

MAX_ATTEMPTS = 12
MAX_DELAY = timedelta(hours=6)
KEEP_EVENTS = timedelta(days=30)
DISPATCH_BATCH = 500
SIGNATURE_HEADER = "X-Roadmap-Signature"
EVENT_ID_HEADER = "X-Roadmap-Event-Id"
ADMINS_ONLY = "подписки на события ведёт администратор"


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 10.0
    #: Longer than any try can take (connect, send, read — each limited by ``timeout``): while it holds,
    #: no other job takes the delivery; after it, a delivery whose worker died is sent again.
    lease: timedelta = timedelta(minutes=2)
    block_private: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliverySettings:
        return cls(settings.webhook_timeout, timedelta(seconds=settings.webhook_lease),
                   settings.webhook_block_private)


@dataclass(frozen=True)
class WebhookView:
    id: int
    url: str
    event_types: list[str]
    active: bool
    description: str
    created_at: datetime
    secret_hint: str  # the secret's last four characters: enough to tell two apart, useless to an attacker
    pending: int = 0
    dead: int = 0


@dataclass(frozen=True)
class DeliveryView:
    id: int
    webhook_id: int
    event_uid: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    attempt_log: list[dict[str, Any]]


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after the ``attempts``-th failed try, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_DELAY)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Roadmap-Signature`` value for ``body``: receivers compute the same and compare in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- subscribers -------------------------------------------------------------------------------------------


def _view(row: Webhook, pending: int = 0, dead: int = 0) -> WebhookView:
    return WebhookView(row.id, row.url, list(row.event_types), row.active, row.description, row.created_at,
                       row.secret[-4:], pending, dead)


def list_webhooks(db: Database, *, actor: Who) -> list[WebhookView]:
    """Every subscriber with its count of pending and dead deliveries (one grouped query)."""
    with db.reading() as session:
        operator_or_admin(session, actor, ADMINS_ONLY)
        counts: dict[tuple[int, DeliveryStatus], int] = {
            (webhook_id, status): count for webhook_id, status, count in session.execute(
                select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count())
                .where(WebhookDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.DEAD)))
                .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status))}
        rows = session.scalars(select(Webhook).order_by(Webhook.id))
        pending, dead = DeliveryStatus.PENDING, DeliveryStatus.DEAD
        return [_view(row, counts.get((row.id, pending), 0), counts.get((row.id, dead), 0)) for row in rows]


def get_webhook(db: Database, webhook_id: int, *, actor: Who) -> WebhookView:
    with db.reading() as session:
        operator_or_admin(session, actor, ADMINS_ONLY)
        return _view(_find(session, webhook_id))


def _find(session: Session, webhook_id: int) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"подписка {webhook_id} не найдена")
    return row


def create_webhook(db: Database, url: str, event_types: Sequence[str], *, actor: Who, secret: str | None = None,
                   description: str = "", active: bool = True, block_private: bool = True) -> tuple[WebhookView, str]:
    """A new subscriber; returns it and its secret (generated unless given — shown once, to be kept by the
    receiver). It hears of events written after it subscribed."""
    secret = secret or secrets.token_urlsafe(32)
    _check(url, event_types, secret, description, block_private)
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        now = db.now()
        row = Webhook(url=url, secret=secret, event_types=list(dict.fromkeys(event_types)), active=active,
                      description=description, created_at=now, created_by_id=actor_id,
                      after_event_id=session.scalar(select(func.max(Event.id))) or 0)
        session.add(row)
        session.flush()
        audit.record(session, now, "webhook.created", actor_id=actor_id, webhook_id=row.id, url=url,
                     event_types=row.event_types)
        return _view(row), secret


def update_webhook(db: Database, webhook_id: int, *, actor: Who, url: str | None = None,
                   event_types: Sequence[str] | None = None, active: bool | None = None,
                   description: str | None = None, secret: str | None = None,
                   block_private: bool = True) -> WebhookView:
    """Change what is given; the rest stays."""
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        row = _find(session, webhook_id)
        _check(row.url if url is None else url, row.event_types if event_types is None else event_types,
               secret or row.secret,
               row.description if description is None else description, block_private)
        given = (("url", url), ("active", active), ("description", description))
        changed: dict[str, Any] = {name: value for name, value in given if value is not None}
        if event_types is not None:
            changed["event_types"] = list(dict.fromkeys(event_types))
        for name, value in changed.items():
            setattr(row, name, value)
        if secret:
            row.secret = secret
        audit.record(session, db.now(), "webhook.updated", actor_id=actor_id, webhook_id=row.id,
                     secret_changed=bool(secret), **changed)
        session.flush()
        return _view(row)


def delete_webhook(db: Database, webhook_id: int, *, actor: Who) -> None:
    """Remove a subscriber and its deliveries (pending ones are never sent)."""
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        row = _find(session, webhook_id)
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == row.id))
        audit.record(session, db.now(), "webhook.deleted", actor_id=actor_id, webhook_id=row.id, url=row.url)
        session.delete(row)


def _check(url: str, event_types: Sequence[str], secret: str, description: str, block_private: bool) -> None:
    errors: dict[str, list[str]] = {}
    problem = url_problem(url, block_private=block_private, resolve=False)
    if problem:
        errors["url"] = [problem]
    unknown = [t for t in event_types if t not in events.TYPES]
    if unknown or not event_types:
        errors["event_types"] = [f"типы событий — одно или несколько из: {', '.join(events.TYPES)}"]
    if not 16 <= len(secret) <= 200:
        errors["secret"] = ["секрет — от 16 до 200 символов"]
    if len(description) > 200:
        errors["description"] = ["не длиннее 200 символов"]
    if errors:
        raise FormInvalid(errors)


def url_problem(url: str, *, block_private: bool, resolve: bool) -> str | None:
    """What is wrong with a subscriber's URL, or None. With ``block_private``, an address in a private,
    loopback, link-local or reserved range is refused (``resolve``: the host's addresses are looked up too)."""
    if len(url) > 2000:
        return "адрес не длиннее 2000 символов"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return "некорректный адрес"
    if parts.scheme not in ("http", "https") or not host:
        return "адрес вида https://сервер/путь"
    if parts.username or parts.password:
        return "адрес без имени и пароля: подлинность подтверждает подпись"
    if not block_private:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "адреса внутренней сети запрещены (WEBHOOK_BLOCK_PRIVATE)"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return None
        try:
            addresses = [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, parts.port or 443)]
        except (OSError, ValueError) as err:
            return f"сервер «{host}» не найден: {err}"
    if any(not address.is_global for address in addresses):
        return "адреса внутренней сети запрещены (WEBHOOK_BLOCK_PRIVATE)"
    return None


# --- fan-out -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatched:
    events: int  # events fanned out (``limit`` of them: there may be more)
    delivery_ids: list[int]  # the new deliveries, for delivery jobs


def dispatch_events(db: Database, *, limit: int = DISPATCH_BATCH) -> Dispatched:
    """Fan out up to ``limit`` undispatched events: one delivery per matching active subscriber. Events nobody
    subscribes to are marked dispatched too."""
    with db.transaction() as session:
        now = db.now()
        rows = session.execute(select(Event.id, Event.type).where(Event.dispatched_at.is_(None))
                               .order_by(Event.id).limit(limit).with_for_update(skip_locked=True)).all()
        if not rows:
            return Dispatched(0, [])
        hooks = session.execute(select(Webhook.id, Webhook.event_types, Webhook.after_event_id)
                                .where(Webhook.active.is_(True))).all()
        values = [_new_delivery(hook_id, event_id, now)
                  for event_id, type_ in rows for hook_id, types, after in hooks
                  if type_ in types and event_id > after]
        session.execute(update(Event).where(Event.id.in_([event_id for event_id, _ in rows]))
                        .values(dispatched_at=now).execution_options(synchronize_session=False))
        ids = list(session.scalars(_INSERT_DELIVERIES, values)) if values else []
        return Dispatched(len(rows), ids)


def _new_delivery(webhook_id: int, event_id: int, now: datetime) -> dict[str, Any]:
    return {"webhook_id": webhook_id, "event_id": event_id, "status": DeliveryStatus.PENDING, "attempts": 0,
            "created_at": now, "next_attempt_at": now, "claimed_until": None, "delivered_at": None,
            "last_status": None, "last_error": None, "attempt_log": []}


_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_INSERT_DELIVERIES = insert(_DELIVERIES).returning(_DELIVERIES.c.id, sort_by_parameter_order=True)


def due_deliveries(db: Database, *, limit: int = 500) -> list[int]:
    """Deliveries of active subscribers ready for a try now: retries due, or abandoned by a dead worker."""
    now = db.now()
    with db.reading() as session:
        return list(session.scalars(
            select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(Webhook.active.is_(True), _claimable(now)).order_by(WebhookDelivery.id).limit(limit)))


def _claimable(now: datetime) -> Any:
    return or_((WebhookDelivery.status == DeliveryStatus.PENDING) & (WebhookDelivery.next_attempt_at <= now),
               (WebhookDelivery.status == DeliveryStatus.SENDING) & (WebhookDelivery.claimed_until < now))


# --- delivery ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_uid: str
    event_type: str
    body: bytes


def body_of(event: Event) -> bytes:
    """What is POSTed (and signed): the event as compact JSON, the same bytes on every try."""
    return json.dumps({"id": event.uid, "type": event.type, "created_at": event.created_at.isoformat(),
                       "data": event.payload}, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _claim(db: Database, delivery_id: int, lease: timedelta) -> _Claimed | None:
    now = db.now()
    with db.transaction() as session:
        claimed = session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _claimable(now),
                                          WebhookDelivery.webhook_id.in_(select(Webhook.id).where(Webhook.active)))
            .values(status=DeliveryStatus.SENDING, claimed_until=now + lease, attempts=WebhookDelivery.attempts + 1)
            .returning(WebhookDelivery.attempts, WebhookDelivery.webhook_id, WebhookDelivery.event_id)).first()
        if claimed is None:
            return None
        attempts, webhook_id, event_id = claimed
        hook, event = session.get_one(Webhook, webhook_id), session.get_one(Event, event_id)
        return _Claimed(delivery_id, attempts, hook.url, hook.secret, event.uid, event.type, body_of(event))


def post(claimed: _Claimed, settings: DeliverySettings) -> int:
    """One try: the status code of the receiver's answer (a network failure raises ``httpx.HTTPError``)."""
    headers = {"Content-Type": "application/json", "User-Agent": "roadmap-500-webhooks/1",
               SIGNATURE_HEADER: sign(claimed.secret, claimed.body), EVENT_ID_HEADER: claimed.event_uid,
               "X-Roadmap-Event": claimed.event_type, "X-Roadmap-Delivery": str(claimed.delivery_id)}
    # No redirects: a 3xx is an answer like any other non-2xx (following it could lead into the internal network).
    with httpx.Client(timeout=settings.timeout, follow_redirects=False, trust_env=False) as client:
        return client.post(claimed.url, content=claimed.body, headers=headers).status_code


def deliver(db: Database, delivery_id: int, settings: DeliverySettings) -> bool:
    """Send one delivery if it is ours to send now; True when the receiver took it (2xx).

    Not ours: delivered already, dead, not yet due, claimed by another job whose lease holds, or its
    subscriber paused. A failed try is logged and the delivery given back for a later try (or dead)."""
    claimed = _claim(db, delivery_id, settings.lease)
    if claimed is None:
        return False
    started = time.monotonic()
    status: int | None = None
    error = url_problem(claimed.url, block_private=True, resolve=True) if settings.block_private else None
    if error is None:
        try:
            status = post(claimed, settings)
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"[:1000]
        else:
            error = None if 200 <= status < 300 else f"ответ {status}"
    _record(db, claimed, status, error, round((time.monotonic() - started) * 1000))
    return error is None


def _record(db: Database, claimed: _Claimed, status: int | None, error: str | None, duration_ms: int) -> None:
    with db.transaction() as session:
        now = db.now()
        row = session.get(WebhookDelivery, claimed.delivery_id, populate_existing=True)
        if row is None or row.status is not DeliveryStatus.SENDING or row.attempts != claimed.attempts:
            return  # its subscriber was deleted meanwhile, or our lease ran out and another job's outcome counts
        row.attempt_log = [*row.attempt_log, {"at": now.isoformat(), "attempt": claimed.attempts, "status": status,
                                              "error": error, "duration_ms": duration_ms}]
        row.last_status, row.last_error, row.claimed_until = status, error, None
        if error is None:
            row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
        elif claimed.attempts >= MAX_ATTEMPTS:
            row.status = DeliveryStatus.DEAD
        else:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, now + retry_delay(claimed.attempts)


# --- deliveries for people ---------------------------------------------------------------------------------


def list_deliveries(db: Database, *, actor: Who, webhook_id: int | None = None, status: str | None = None,
                    limit: int = 50) -> list[DeliveryView]:
    """The newest deliveries (of one subscriber, in one status), with their attempts."""
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise FormInvalid({"status": [f"одно из: {', '.join(s.value for s in DeliveryStatus)}"]})
    if not 1 <= limit <= 500:
        raise FormInvalid({"limit": ["от 1 до 500"]})
    with db.reading() as session:
        operator_or_admin(session, actor, ADMINS_ONLY)
        query = (select(WebhookDelivery, Event.uid, Event.type).join(Event, Event.id == WebhookDelivery.event_id)
                 .order_by(WebhookDelivery.id.desc()).limit(limit))
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == DeliveryStatus(status))
        return [_delivery_view(row, uid, type_) for row, uid, type_ in session.execute(query)]


def _delivery_view(row: WebhookDelivery, uid: str, type_: str) -> DeliveryView:
    waiting = row.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    return DeliveryView(row.id, row.webhook_id, uid, type_, row.status.value, row.attempts, row.created_at,
                        row.next_attempt_at if waiting else None, row.delivered_at, row.last_status, row.last_error,
                        list(row.attempt_log))


def redeliver(db: Database, delivery_id: int, *, actor: Who) -> int:
    """A dead (or delivered) delivery gets another round of tries from now; returns its id for a job."""
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            raise NotFound(f"доставка {delivery_id} не найдена")
        if row.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            return row.id  # already waiting for its next try
        now = db.now()
        row.status, row.attempts, row.next_attempt_at, row.claimed_until = DeliveryStatus.PENDING, 0, now, None
        audit.record(session, now, "webhook.redelivered", actor_id=actor_id, webhook_id=row.webhook_id,
                     delivery_id=row.id)
        return row.id


def send_test_event(db: Database, webhook_id: int, *, actor: Who) -> int:
    """A ``webhook.test`` event for one subscriber only (never fanned out); returns its delivery's id."""
    with db.transaction() as session:
        actor_id = operator_or_admin(session, actor, ADMINS_ONLY)
        hook = _find(session, webhook_id)
        now = db.now()
        event = Event(uid=str(uuid.uuid4()), type=events.TEST, created_at=now, dispatched_at=now,
                      payload={"webhook_id": hook.id, "message": "Тестовое событие дорожных карт «500+»"})
        session.add(event)
        session.flush()
        delivery = WebhookDelivery(**_new_delivery(hook.id, event.id, now))
        session.add(delivery)
        session.flush()
        audit.record(session, now, "webhook.tested", actor_id=actor_id, webhook_id=hook.id, delivery_id=delivery.id)
        return delivery.id


def prune(db: Database, *, keep: timedelta = KEEP_EVENTS) -> int:
    """Delete events older than ``keep`` (dispatched ones) with their deliveries; returns how many events."""
    with db.transaction() as session:
        old = select(Event.id).where(Event.created_at < db.now() - keep, Event.dispatched_at.is_not(None))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
        return len(session.execute(delete(Event).where(Event.id.in_(old)).returning(Event.id)).all())
