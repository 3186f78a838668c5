"""Settings from the environment, with defaults that work on a bare machine (SQLite, no Redis)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INSTANCE_DIR = Path.cwd() / "instance"


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    templates_dir: Path
    base_url: str = "http://127.0.0.1:5000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "roadmap-500@localhost"
    smtp_starttls: bool = False
    #: The template of the project this installation runs: what dashboards, reports and the CLI show by
    #: default (a page or call may name another deployed template with ``template=KEY``).
    project_template: str = "roadmap-500"
    #: Refuse webhook URLs in private, loopback, link-local and reserved ranges (on unless set to 0; tests turn it off).
    webhook_block_private: bool = True
    webhook_timeout: float = 10.0  # seconds per phase of one POST (connect, send, read)
    webhook_lease: float = 120.0  # seconds a delivery is held by the job sending it; longer than any try
    #: A PostgreSQL hot standby of ``database_url`` for dashboards, summaries and exports (docs/operations.md).
    database_read_url: str | None = None
    replica_max_lag: float = 30.0  # seconds behind the primary beyond which its reads go to the primary
    sweep_every: int = 15  # seconds between two sweeps from `roadmap cron` (workers/cron.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default_db = f"sqlite:///{DEFAULT_INSTANCE_DIR / 'roadmap.sqlite3'}"
        return cls(
            database_url=env.get("DATABASE_URL") or default_db,
            redis_url=env.get("REDIS_URL") or None,
            templates_dir=Path(env.get("TEMPLATES_DIR") or Path(__file__).parent.parent / "workflows"),
            base_url=(env.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=int(env.get("SMTP_PORT") or 25),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_sender=env.get("SMTP_SENDER") or "roadmap-500@localhost",
            smtp_starttls=(env.get("SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            project_template=env.get("PROJECT_TEMPLATE") or "roadmap-500",
            webhook_block_private=(env.get("WEBHOOK_BLOCK_PRIVATE") or "1").lower() not in ("0", "false", "no", "off"),
            webhook_timeout=float(env.get("WEBHOOK_TIMEOUT") or 10),
            webhook_lease=float(env.get("WEBHOOK_LEASE") or 120),
            database_read_url=env.get("DATABASE_READ_URL") or None,
            replica_max_lag=float(env.get("REPLICA_MAX_LAG") or 30),
            sweep_every=max(1, int(env.get("SWEEP_EVERY_SECONDS") or 15)),
        )
