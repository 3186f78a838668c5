"""The embedded mode's background work: without Redis, the web server sweeps deadlines and delivers
e-mail (and webhooks) itself, once a minute, in a daemon thread."""

from __future__ import annotations

import logging
import threading

from engine.config import Settings
from engine.db import Database
from engine.deadlines.sweep import sweep
from engine.process.mailer import SmtpSettings, deliver_due
from engine.process.webhooks import DISPATCH_BATCH, DeliverySettings, deliver, dispatch_events, due_deliveries

log = logging.getLogger(__name__)


class InlineSweeper(threading.Thread):
    def __init__(self, db: Database, settings: Settings, interval: float = 60.0) -> None:
        super().__init__(name="roadmap-inline-sweeper", daemon=True)
        self.db, self.settings, self.interval = db, settings, interval
        self.stopped = threading.Event()

    def run_once(self) -> None:
        report = sweep(self.db, base_url=self.settings.base_url)
        smtp = SmtpSettings.from_settings(self.settings)
        if smtp is not None:
            deliver_due(self.db, smtp)
        self.deliver_webhooks()
        if report.fired or report.announced:
            log.info("inline sweep: %d deadlines acted on, %d new tasks announced", report.fired, report.announced)

    def deliver_webhooks(self) -> None:
        """Fan new events out and send what is due, here in this thread (there is no worker to hand them to)."""
        settings = DeliverySettings.from_settings(self.settings)
        while dispatch_events(self.db).events == DISPATCH_BATCH:
            pass
        for delivery_id in due_deliveries(self.db):
            deliver(self.db, delivery_id, settings)

    def run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # a failed round must not end the loop; the next minute retries
                log.exception("inline sweep failed")
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()
