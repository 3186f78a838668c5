"""The ``roadmap`` command line: each command is a thin call of one engine service.

The group lives here so that workers and the web app can add their own commands to it
(``web/cli.py`` is the entry point that assembles them). Errors are printed as one readable line —
never a traceback — and the exit code says what happened: 0 done, 1 refused or invalid, 2 usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from engine import instances, tasks, templates
from engine.bpmn.bundle import load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.config import Settings
from engine.db import Database, upgrade_schema
from engine.errors import EngineError, FormInvalid, TemplateInvalid


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _print_json(value: Any) -> None:
    data = asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
    if isinstance(value, list):
        data = [asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for v in value]
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _fail(err: EngineError) -> NoReturn:
    if isinstance(err, TemplateInvalid):
        for problem in err.problems:
            click.echo(problem.format(), err=True)
    elif isinstance(err, FormInvalid):
        for key, messages in err.errors.items():
            click.echo(f"{key}: {' '.join(messages)}", err=True)
    click.echo(f"Ошибка: {err.message}", err=True)
    sys.exit(1)


class _Group(click.Group):
    """Turns engine errors into one line and exit 1, and anything unexpected into a short notice."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as err:
            _fail(err)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001 - the last line of defence for a terminal user
            click.echo(f"Внутренняя ошибка: {type(err).__name__}: {err}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Движок дорожных карт «500+»."""
    if ctx.obj is None:
        ctx.obj = Database.from_url(Settings.from_env().database_url)


def _db(ctx: click.Context) -> Database:
    db = ctx.find_root().obj
    assert isinstance(db, Database)
    return db


def with_db(func: Callable[..., Any]) -> Callable[..., Any]:
    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        return func(_db(ctx), *args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@cli.command()
@with_db
def init(db: Database) -> None:
    """Создать или обновить схему БД и развернуть шаблоны из workflows/."""
    upgrade_schema(db)
    for deployed in templates.deploy_bundled_templates(db, Settings.from_env().templates_dir):
        state = "развёрнут" if deployed.created else "без изменений"
        click.echo(f"{deployed.key}@{deployed.version}: {state}")
    click.echo("База данных готова.")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Проверить BPMN-файлы и папки/архивы шаблонов; одна строка на каждую проблему."""
    invalid = 0
    for path in paths:
        bundle, problems = load_bundle(path)
        if bundle is not None:
            problems = validate_bundle(bundle)
        for problem in problems:
            click.echo(problem.format())
        invalid += bool(problems)
    click.echo(f"Проверено: {len(paths)}, с ошибками: {invalid}", err=True)
    sys.exit(1 if invalid else 0)


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_db
def deploy(db: Database, path: Path) -> None:
    """Проверить и развернуть шаблон как новую версию."""
    deployed = templates.deploy_template(db, templates.read_bundle(path))
    note = "" if deployed.created else " (без изменений: такая версия уже развёрнута)"
    click.echo(f"{deployed.key}@{deployed.version}{note}")


@cli.command()
@click.option("--template", "template_key", required=True, help="Ключ шаблона, например roadmap-500.")
@click.option("--school", "school_code", required=True, help="Код школы.")
@click.option("--version", type=int, default=None, help="Версия шаблона (по умолчанию новейшая).")
@click.option("--json", "as_json", is_flag=True)
@with_db
def start(db: Database, template_key: str, school_code: str, version: int | None, as_json: bool) -> None:
    """Запустить маршрут для школы; печатает номер процесса."""
    started = instances.start_instance(db, template_key, school_code, version=version)
    _print_json(started) if as_json else click.echo(started.instance_id)


@cli.command("tasks")
@click.option("--user", "login", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_db
def list_tasks(db: Database, login: str, as_json: bool) -> None:
    """Задачи, которые пользователь может выполнить сейчас."""
    found = tasks.list_tasks(db, login)
    if as_json:
        _print_json(found)
        return
    for t in found:
        due = t.due_at.strftime("%d.%m.%Y %H:%M") if t.due_at else "без срока"
        click.echo(f"{t.id}\t{t.school_code}\t{t.stage}\t{t.name}\tсрок: {due}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True)
@click.option("--data", "data_text", default="{}", help="Данные формы в JSON.")
@click.option("--json", "as_json", is_flag=True)
@with_db
def complete(db: Database, task_id: int, login: str, data_text: str, as_json: bool) -> None:
    """Выполнить задачу с данными формы."""
    try:
        data = json.loads(data_text)
    except json.JSONDecodeError as err:
        raise click.BadParameter(f"не JSON: {err}", param_hint="--data") from err
    if not isinstance(data, dict):
        raise click.BadParameter("ожидается объект JSON", param_hint="--data")
    done = tasks.complete_task(db, task_id, login, data)
    if as_json:
        _print_json(done)
    else:
        state = "процесс завершён" if done.instance_completed else f"новые задачи: {done.next_task_ids}"
        click.echo(f"Задача {done.task_id} выполнена; {state}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True)
@with_db
def claim(db: Database, task_id: int, login: str) -> None:
    """Взять задачу в работу."""
    tasks.claim_task(db, task_id, login)
    click.echo(f"Задача {task_id} закреплена за {login}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True, help="Кто переназначает.")
@click.option("--to", "to_login", default=None, help="Кому (без параметра — освободить задачу).")
@with_db
def reassign(db: Database, task_id: int, login: str, to_login: str | None) -> None:
    """Переназначить задачу другому исполнителю."""
    tasks.reassign_task(db, task_id, login, to_login)
    click.echo(f"Задача {task_id}: исполнитель {to_login or 'не назначен'}")
