"""Entry point of the ``roadmap`` command: the engine's commands plus the web server and rq processes."""

from __future__ import annotations

import click

from engine.cli import cli
from engine.config import Settings
from web.app import create_app
from workers.cli import cron, worker
from workers.inline import InlineSweeper


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Запустить веб-приложение (сервер разработки); без Redis — и фоновую проверку сроков."""
    # The development server speaks plain HTTP: Secure cookies would never come back to it. Production
    # runs behind HTTPS (gunicorn), where create_app's default (Secure cookies) applies.
    app = create_app({"SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    settings = Settings.from_env()
    if not settings.redis_url:
        InlineSweeper(app.extensions["roadmap.db"], settings).start()
        click.echo("Redis не настроен: сроки проверяются в этом процессе раз в минуту.")
    app.run(host=host, port=port)


cli.add_command(worker)
cli.add_command(cron)

__all__ = ["cli"]
