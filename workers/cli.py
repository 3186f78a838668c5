"""`roadmap worker` and `roadmap cron`: the rq processes of a deployment with Redis."""

from __future__ import annotations

import click
from redis import Redis
from rq import Queue, Worker

from engine.config import Settings
from workers.cron import build_scheduler
from workers.queue import WORKER_QUEUES


def _redis() -> Redis:
    url = Settings.from_env().redis_url
    if not url:
        raise click.UsageError("REDIS_URL не задан: без Redis фоновую работу выполняет `roadmap serve`")
    return Redis.from_url(url)


@click.command()
@click.option("--burst", is_flag=True, help="Выполнить накопившиеся задания и выйти.")
def worker(burst: bool) -> None:
    """Обработчик фоновых заданий rq (сроки, рассылка писем)."""
    connection = _redis()
    # The deadlines queue first: rq takes a job from the first queue that has one (workers/queue.py).
    Worker([Queue(name, connection=connection) for name in WORKER_QUEUES], connection=connection).work(burst=burst)


@click.command()
def cron() -> None:
    """Планировщик rq cron: проверка сроков и очередь писем каждую минуту, сводки раз в день."""
    build_scheduler(_redis()).start()
