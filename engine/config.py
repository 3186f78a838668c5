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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default_db = f"sqlite:///{DEFAULT_INSTANCE_DIR / 'roadmap.sqlite3'}"
        return cls(
            database_url=env.get("DATABASE_URL") or default_db,
            redis_url=env.get("REDIS_URL") or None,
            templates_dir=Path(env.get("TEMPLATES_DIR") or Path(__file__).parent.parent / "workflows"),
        )
