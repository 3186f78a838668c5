"""Entry point of the ``roadmap`` command: the engine's commands plus those that need the web app."""

from __future__ import annotations

import click

from engine.cli import cli
from web.app import create_app


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Запустить веб-приложение (сервер разработки)."""
    create_app().run(host=host, port=port)


__all__ = ["cli"]
