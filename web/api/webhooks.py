"""Webhooks (admins): subscribers to events, their deliveries with each attempt, a redelivery, a test event.

Deliveries are POSTed by background jobs (``workers/jobs.py``), never by these requests: a redelivery or a test
event is queued and this answers at once (202)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from engine.config import Settings
from engine.models import DeliveryStatus
from engine.process import events, webhooks
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.paging import page_of
from web.api.schemas import Problem
from web.session import db, queue
from workers import jobs

blp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="Webhooks: events POSTed to subscribers, signed with HMAC-SHA256 (admins)")
blueprints = [blp]

_TYPES = validate.OneOf(events.TYPES)


class WebhookIn(Schema):
    url = fields.Str(required=True, validate=validate.Length(min=1, max=2000),
                     metadata={"description": "http(s) URL the events are POSTed to"})
    event_types = fields.List(fields.Str(validate=_TYPES), required=True, validate=validate.Length(min=1, max=10),
                              metadata={"description": f"Some of: {', '.join(events.TYPES)}"})
    secret = fields.Str(validate=validate.Length(min=16, max=200), metadata={
        "description": "The HMAC key; generated (and returned once) when not given"})
    description = fields.Str(load_default="", validate=validate.Length(max=200))
    active = fields.Bool(load_default=True)


class WebhookPatch(Schema):
    url = fields.Str(validate=validate.Length(min=1, max=2000))
    event_types = fields.List(fields.Str(validate=_TYPES), validate=validate.Length(min=1, max=10))
    secret = fields.Str(validate=validate.Length(min=16, max=200))
    description = fields.Str(validate=validate.Length(max=200))
    active = fields.Bool()


class WebhookOut(Schema):
    id = fields.Int(required=True)
    url = fields.Str(required=True)
    event_types = fields.List(fields.Str(), required=True)
    active = fields.Bool(required=True)
    description = fields.Str(required=True)
    created_at = fields.AwareDateTime(required=True)
    secret_hint = fields.Str(required=True, metadata={"description": "The secret's last four characters"})
    pending = fields.Int(required=True, metadata={"description": "Deliveries waiting for a try"})
    dead = fields.Int(required=True, metadata={"description": "Deliveries given up after 12 tries"})
    secret = fields.Str(metadata={"description": "Only in the answer to creation: store it, it is not shown again"})


class DeliveryQuery(Schema):
    webhook = fields.Int(validate=validate.Range(min=1, max=2**53))
    status = fields.Str(validate=validate.OneOf([s.value for s in DeliveryStatus]))
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=500))


class AttemptOut(Schema):
    at = fields.Str(required=True)
    attempt = fields.Int(required=True)
    status = fields.Int(allow_none=True, metadata={"description": "The receiver's HTTP status, if it answered"})
    error = fields.Str(allow_none=True)
    duration_ms = fields.Int(required=True)


class DeliveryOut(Schema):
    id = fields.Int(required=True)
    webhook_id = fields.Int(required=True)
    event_uid = fields.Str(required=True, data_key="event_id")
    event_type = fields.Str(required=True)
    status = fields.Str(required=True)
    attempts = fields.Int(required=True)
    created_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    last_status = fields.Int(allow_none=True)
    last_error = fields.Str(allow_none=True)
    attempt_log = fields.List(fields.Nested(AttemptOut), required=True)


class QueuedOut(Schema):
    delivery_id = fields.Int(required=True)


def _block_private() -> bool:
    return Settings.from_env().webhook_block_private


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, WebhookOut(many=True))
    @blp.alt_response(403, schema=Problem)
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """Every subscriber, with its counts of pending and dead deliveries."""
        return page_of(webhooks.list_webhooks(db(), actor=api_login()), pagination_parameters)

    @blp.arguments(WebhookIn)
    @blp.response(201, WebhookOut)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a URL to event types. It hears of events written from now on; the secret is in this answer only."""
        view, secret = webhooks.create_webhook(db(), body["url"], body["event_types"], secret=body.get("secret"),
                                               description=body["description"], active=body["active"],
                                               block_private=_block_private(), actor=api_login())
        return {**view.__dict__, "secret": secret}


@blp.route("/<id:webhook_id>")
class WebhookItem(MethodView):
    @blp.response(200, WebhookOut)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    def get(self, webhook_id: int) -> Any:
        """One subscriber."""
        return webhooks.get_webhook(db(), webhook_id, actor=api_login())

    @blp.arguments(WebhookPatch)
    @blp.response(200, WebhookOut)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    @blp.alt_response(422, schema=Problem)
    def patch(self, body: dict[str, Any], webhook_id: int) -> Any:
        """Change what is given (URL, event types, secret, description, active)."""
        return webhooks.update_webhook(db(), webhook_id, block_private=_block_private(), actor=api_login(), **body)

    @blp.response(204)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    def delete(self, webhook_id: int) -> None:
        """Remove a subscriber and its deliveries."""
        webhooks.delete_webhook(db(), webhook_id, actor=api_login())


@blp.route("/<id:webhook_id>/test", methods=["POST"])
@blp.response(202, QueuedOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def test(webhook_id: int) -> dict[str, int]:
    """Queue a `webhook.test` event for this subscriber only; its delivery shows in the deliveries."""
    delivery_id = webhooks.send_test_event(db(), webhook_id, actor=api_login())
    queue().enqueue(jobs.deliver_webhook, delivery_id)
    return {"delivery_id": delivery_id}


@blp.route("/deliveries")
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, DeliveryOut(many=True))
@blp.alt_response(403, schema=Problem)
def deliveries(query: dict[str, Any]) -> list[Any]:
    """The newest deliveries (of one subscriber, in one status), each with its attempts."""
    return webhooks.list_deliveries(db(), webhook_id=query.get("webhook"), status=query.get("status"),
                                    limit=query["limit"], actor=api_login())


@blp.route("/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@blp.response(202, QueuedOut)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def redeliver(delivery_id: int) -> dict[str, int]:
    """Give a dead (or delivered) delivery another round of tries, starting now."""
    webhooks.redeliver(db(), delivery_id, actor=api_login())
    queue().enqueue(jobs.deliver_webhook, delivery_id)
    return {"delivery_id": delivery_id}
