"""Admins: webhooks — subscribers to events, their last deliveries with each attempt, «повторить» for a dead
delivery, a test event. The engine (engine/process/webhooks.py) authorizes and audits; deliveries are sent by
background jobs, so no button here waits for a receiver."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.config import Settings
from engine.errors import FormInvalid
from engine.process import events, webhooks
from web.i18n import N_, gettext
from web.session import db, me, queue
from workers import jobs

blueprint = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")

EVENT_WORDS = {
    events.TASK_READY: N_("задача открыта"),
    events.TASK_COMPLETED: N_("задача выполнена"),
    events.TASK_OVERDUE: N_("срок задачи наступил"),
    events.TASK_ESCALATED: N_("задача эскалирована"),
    events.STAGE_CHANGED: N_("сменился этап"),
    events.INSTANCE_COMPLETED: N_("маршрут завершён"),
    events.TEST: N_("тестовое событие"),
}


@blueprint.route("")
@login_required
def index() -> str:
    return _page(None)


@blueprint.route("/<id:webhook_id>")
@login_required
def edit(webhook_id: int) -> str:
    return _page(webhook_id)


@dataclass(frozen=True)
class WebhookForm:
    """What the create/edit form holds (shown again when it is refused)."""

    url: str = ""
    event_types: tuple[str, ...] = ()
    description: str = ""
    secret: str | None = None
    active: bool = True


def _page(webhook_id: int | None, form: WebhookForm | None = None) -> str:
    found = webhooks.list_webhooks(db(), actor=me())
    editing = webhooks.get_webhook(db(), webhook_id, actor=me()) if webhook_id is not None else None
    deliveries = webhooks.list_deliveries(db(), webhook_id=webhook_id, limit=30, actor=me())
    return render_template("admin_webhooks.html", webhooks=found, editing=editing, deliveries=deliveries,
                           types=events.TYPES, event_words=EVENT_WORDS, form=form)


def _form() -> WebhookForm:
    return WebhookForm(request.form.get("url", "").strip(), tuple(request.form.getlist("event_types")),
                       request.form.get("description", "").strip(), request.form.get("secret", "").strip() or None,
                       request.form.get("active") == "1")


def _refused(err: FormInvalid) -> None:
    for messages in err.errors.values():
        for message in messages:
            flash(message, "error")


@blueprint.route("", methods=["POST"])
@login_required
def create() -> Response | str:
    form = _form()
    try:
        view, secret = webhooks.create_webhook(
            db(), form.url, form.event_types, secret=form.secret, description=form.description, active=form.active,
            block_private=Settings.from_env().webhook_block_private, actor=me())
    except FormInvalid as err:
        _refused(err)
        return _page(None, form)
    flash(gettext("Подписка создана. Секрет для проверки подписи (показан один раз): {secret}", secret=secret),
          "info")
    return redirect(url_for(".edit", webhook_id=view.id))


@blueprint.route("/<id:webhook_id>", methods=["POST"])
@login_required
def update(webhook_id: int) -> Response | str:
    form = _form()
    try:
        webhooks.update_webhook(db(), webhook_id, url=form.url, event_types=form.event_types,
                                description=form.description, active=form.active, secret=form.secret,
                                block_private=Settings.from_env().webhook_block_private, actor=me())
    except FormInvalid as err:
        _refused(err)
        return _page(webhook_id, form)
    flash(gettext("Подписка сохранена."), "info")
    return redirect(url_for(".edit", webhook_id=webhook_id))


@blueprint.route("/<id:webhook_id>/delete", methods=["POST"])
@login_required
def delete(webhook_id: int) -> Response:
    webhooks.delete_webhook(db(), webhook_id, actor=me())
    flash(gettext("Подписка удалена."), "info")
    return redirect(url_for(".index"))


@blueprint.route("/<id:webhook_id>/test", methods=["POST"])
@login_required
def test(webhook_id: int) -> Response:
    delivery_id = webhooks.send_test_event(db(), webhook_id, actor=me())
    queue().enqueue(jobs.deliver_webhook, delivery_id)
    flash(gettext("Тестовое событие поставлено в очередь: его доставка — ниже."), "info")
    return redirect(url_for(".edit", webhook_id=webhook_id))


@blueprint.route("/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@login_required
def redeliver(delivery_id: int) -> Response:
    webhooks.redeliver(db(), delivery_id, actor=me())
    queue().enqueue(jobs.deliver_webhook, delivery_id)
    flash(gettext("Доставка {id} повторяется.", id=delivery_id), "info")
    back = request.form.get("webhook", type=int)
    return redirect(url_for(".edit", webhook_id=back) if back else url_for(".index"))
