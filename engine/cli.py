"""The ``roadmap`` command line: each command is a thin call of one engine service.

The group lives here so that workers and the web app can add their own commands to it
(``web/cli.py`` is the entry point that assembles them). Errors are printed as one readable line —
never a traceback — and the exit code says what happened: 0 done, 1 refused or invalid, 2 usage.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from engine import labels
from engine.actors import OPERATOR
from engine.bpmn.bundle import MANIFEST, load_bundle
from engine.bpmn.compiler import validate_bundle
from engine.config import Settings
from engine.db import Database, upgrade_schema
from engine.deadlines.sweep import DEFAULT_BATCH, retry_incident
from engine.deadlines.sweep import sweep as sweep_deadlines
from engine.demo import load_demo
from engine.demo_story import START
from engine.errors import EngineError, FormInvalid, TemplateInvalid
from engine.models import DeliveryStatus
from engine.org import api_tokens, curator_pool
from engine.org.importing import import_org, read_org_file
from engine.org.regions import list_region_zones, set_region_zone, viewer_zone
from engine.process import (
    batches,
    events,
    instances,
    management,
    merges,
    questionnaires,
    report_docx,
    simulation,
    tasks,
    visits,
    webhooks,
)
from engine.process.cohorts import cohort_calendar, set_cohort_dates
from engine.process.incidents import list_incidents as incident_list
from engine.process.instances import start_cohort
from engine.process.mailer import SmtpSettings, deliver_due
from engine.process.measures import Execution
from engine.process.migration import (
    InstanceCheck,
    MigrationRunView,
    list_runs,
    plan_migration,
    resume_migration,
    run_migration,
    start_migration,
)
from engine.process.notifications import list_notifications
from engine.process.notifications import mark_read as mark_notifications_read
from engine.process.report_files import school_report_file
from engine.reports.status import SchoolStatus, StageState, stage_status
from engine.reports.summaries import area_summary, summary_file
from engine.roles import ROLE_TITLES
from engine.templates import versions, workspace
from engine.templates.diff import diff_versions
from engine.timing.due import MOSCOW
from engine.timing.production_calendar import list_overrides, set_calendar_day
from engine.timing.zones import local_time


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):  # a datetime is a date too: both in ISO
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
        except BrokenPipeError:  # `roadmap status | head`: the reader is gone, nothing to report
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush is quiet
            sys.exit(0)
        except Exception as err:  # noqa: BLE001 - the last line of defence for a terminal user
            click.echo(f"Внутренняя ошибка: {type(err).__name__}: {err}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Движок дорожных карт «500+»."""
    if ctx.obj is None:
        ctx.obj = Database.from_url(Settings.from_env().database_url)
        ctx.call_on_close(ctx.obj.engine.dispose)  # its own database: no connection outlives the command


def _project_template() -> str:
    return Settings.from_env().project_template


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
    for deployed in versions.deploy_bundled_templates(db, Settings.from_env().templates_dir):
        state = "развёрнут" if deployed.created else "без изменений"
        click.echo(f"{deployed.key}@{deployed.version}: {state}")
    click.echo("База данных готова.")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Проверить BPMN-файлы и папки/архивы шаблонов; одна строка на каждую проблему.

    Папка без manifest.json — это папка файлов (например, выгрузок из разных моделеров): каждый её
    BPMN-файл и архив проверяется отдельно."""
    targets = [target for path in paths for target in _validation_targets(path)]
    invalid = 0
    for path in targets:
        bundle, problems = load_bundle(path)
        if bundle is not None:
            problems = validate_bundle(bundle)
        for problem in problems:
            click.echo(problem.format())
        invalid += bool(problems)
    click.echo(f"Проверено: {len(targets)}, с ошибками: {invalid}", err=True)
    sys.exit(1 if invalid else 0)


def _validation_targets(path: Path) -> list[Path]:
    """A template (a folder with manifest.json, a zip) or a file is checked as one; a folder without a manifest
    is a folder of files, each BPMN file, zip and template in it (and in its subfolders) checked on its own."""
    if not path.is_dir() or (path / MANIFEST).exists():
        return [path]
    found = _checkable(path)
    if not found:
        return [path]  # nothing to check one by one: reported as a bundle (no manifest, no BPMN)
    click.echo(f"{path}: нет manifest.json — каждый BPMN-файл проверен отдельно", err=True)
    return found


def _checkable(folder: Path) -> list[Path]:
    found = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            found += [child] if (child / MANIFEST).exists() else _checkable(child)
        elif child.suffix in (".bpmn", ".zip"):
            found.append(child)
    return found


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_db
def deploy(db: Database, path: Path) -> None:
    """Проверить и развернуть шаблон как новую версию."""
    deployed = versions.deploy_template(db, versions.read_bundle(path), actor=OPERATOR)
    note = "" if deployed.created else " (без изменений: такая версия уже развёрнута)"
    click.echo(f"{deployed.key}@{deployed.version}{note}")


@cli.command()
@click.option("--template", "template_key", required=True, help="Ключ шаблона, например roadmap-500.")
@click.option("--school", "school_code", required=True, help="Код школы.")
@click.option("--version", type=int, default=None, help="Версия шаблона (по умолчанию новейшая).")
@click.option("--cohort", "cohort_year", type=int, default=None, help="Год когорты (если маршрут в когорте).")
@click.option("--json", "as_json", is_flag=True)
@with_db
def start(db: Database, template_key: str, school_code: str, version: int | None, cohort_year: int | None,
          as_json: bool) -> None:
    """Запустить маршрут для школы; печатает номер процесса."""
    started = instances.start_instance(db, template_key, school_code, actor=OPERATOR, version=version,
                                       cohort_year=cohort_year)
    _print_json(started) if as_json else click.echo(started.instance_id)


@cli.command("tasks")
@click.option("--user", "login", required=True)
@click.option("--search", default=None, help="Часть названия задачи или школы, код школы (регистр не важен).")
@click.option("--assigned", type=click.Choice(tasks.ASSIGNED), default="all", help="Все, взятые мной, ничьи.")
@click.option("--due-from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Срок с этого дня (МСК).")
@click.option("--due-to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Срок по этот день (МСК).")
@click.option("--sort", type=click.Choice(list(tasks.SORTS)), default="due")
@click.option("--limit", type=click.IntRange(1, tasks.PAGE_MAX), default=50, show_default=True,
              help="Строк на странице.")
@click.option("--after", default=None, help="Курсор следующей страницы (его печатает предыдущая).")
@click.option("--json", "as_json", is_flag=True)
@with_db
def list_tasks(db: Database, login: str, search: str | None, assigned: str, due_from: datetime | None,
               due_to: datetime | None, sort: str, limit: int, after: str | None, as_json: bool) -> None:
    """Задачи, которые пользователь может выполнить сейчас (фильтры — как на странице «Мои задачи»),
    страница за страницей: курсор следующей печатается в stderr."""
    page = tasks.task_page(db, actor=login, search=search, assigned=assigned, sort=sort, limit=limit, after=after,
                           due_from=due_from.date() if due_from else None,
                           due_to=due_to.date() if due_to else None)
    found = page.tasks
    if page.next_cursor:
        click.echo(f"Дальше: --after {page.next_cursor}", err=True)
    if as_json:
        _print_json(found)
        return
    zone_name = viewer_zone(db, actor=login)  # the reader's region's zone, as on the web; named in every line
    for t in found:
        click.echo(f"{t.id}\t{t.school_code}\t{t.stage}\t{t.name}\tсрок: {local_time(t.due_at, zone_name)}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True)
@click.option("--data", "data_text", default="{}", help="Данные формы в JSON.")
@click.option("--json", "as_json", is_flag=True)
@with_db
def complete(db: Database, task_id: int, login: str, data_text: str, as_json: bool) -> None:
    """Выполнить задачу с данными формы."""
    done = tasks.complete_task(db, task_id, _json_object(data_text, "--data"), actor=login)
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
    tasks.claim_task(db, task_id, actor=login)
    click.echo(f"Задача {task_id} закреплена за {login}")


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True, help="Кто переназначает.")
@click.option("--to", "to_login", default=None, help="Кому (без параметра — освободить задачу).")
@with_db
def reassign(db: Database, task_id: int, login: str, to_login: str | None) -> None:
    """Передать задачу другому исполнителю (с той же ролью в этой школе); он получит уведомление."""
    done = tasks.reassign_task(db, task_id, to_login, actor=login, base_url=Settings.from_env().base_url)
    click.echo(f"Задача {task_id}: исполнитель {done.assignee_name or 'не назначен'}"
               + (f" ({done.assignee})" if done.assignee else ""))


@cli.command()
@click.argument("task_id", type=int)
@click.option("--user", "login", required=True, help="Кто возвращает: исполнитель или координатор.")
@with_db
def release(db: Database, task_id: int, login: str) -> None:
    """Вернуть задачу в общий список исполнителей."""
    tasks.release_task(db, task_id, actor=login)
    click.echo(f"Задача {task_id} возвращена в общий список")


@cli.command()
@click.option("--template", "template_key", default="roadmap-500", show_default=True)
@click.option("--year", type=int, default=None, help="Год когорты (по умолчанию ближайший учебный).")
@click.option("--story/--no-story", default=True, show_default=True,
              help="Новая когорта начата несколько недель назад: школы на разных шагах, есть просрочки и эскалации.")
@with_db
def demo(db: Database, template_key: str, year: int | None, story: bool) -> None:
    """Демо-регион: муниципалитеты, школы, кураторы, координаторы; запуск когорты для всех школ."""
    loaded = load_demo(db, template_key, year, story=story)
    cohort = loaded.cohort
    click.echo(f"Демо-регион готов. Когорта {cohort.year}: запущено {len(cohort.started)}, "
               f"уже шло {cohort.already_running}.")
    if loaded.story is not None:
        click.echo(f"Когорта начата {START} рабочих дней назад; сделано шагов: {loaded.story.steps}, "
                   f"напоминаний и эскалаций: {loaded.story.fired}.")
    for code, message in cohort.failed.items():
        click.echo(f"  {code}: не запущено — {message}", err=True)
    click.echo(f"\nВход: любой логин ниже, пароль «{loaded.password}».")
    for entry in loaded.logins:
        click.echo(f"  {entry.login:<22} {ROLE_TITLES[entry.role]:<35} {entry.scope}")


@contextmanager
def _progress(label: str, *, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long work reported as (done, total); none with --json or when stderr
    is not a terminal (a pipe or a log gets the result only)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as stack:
        bars: list[Any] = []

        def advance(done: int, total: int) -> None:
            if not bars:
                bars.append(stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr)))
            bars[0].update(done - bars[0].pos)

        yield advance


@cli.command("import-org")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Импортировать корректные строки, даже если в файле есть ошибки.")
@with_db
def import_org_command(db: Database, path: Path, force: bool) -> None:
    """Импорт муниципалитетов, школ и пользователей из CSV или XLSX."""
    rows = len(read_org_file(path))
    with click.progressbar(length=rows, label="Проверка строк", file=sys.stderr) as bar:
        report = import_org(db, path, actor=OPERATOR, force=force, progress=bar.update)
    for error in report.errors:
        click.echo(error.format(), err=True)
    if not report.applied:
        hint = " (исправьте файл или запустите с --force)" if report.errors else ""
        click.echo(f"Ничего не импортировано: ошибок {len(report.errors)}{hint}.", err=True)
        sys.exit(1 if report.errors else 0)
    counts = ", ".join(f"{kind}: {n}" for kind, n in report.imported.items())
    click.echo(f"Импортировано из {report.rows} строк — {counts}; пропущено с ошибками: {len(report.errors)}.")


_STATE_MARKS = {StageState.DONE: "✓", StageState.CURRENT: "▶", StageState.PENDING: "·", StageState.SKIPPED: "—",
                StageState.WITHDRAWN: "✗"}


@cli.command()
@click.option("--region", "region_code", default=None)
@click.option("--municipality", "municipality_code", default=None)
@click.option("--template", "template_key", default=_project_template,
              show_default="PROJECT_TEMPLATE, иначе roadmap-500")
@click.option("--cohort", "cohort_year", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
@with_db
def status(db: Database, region_code: str | None, municipality_code: str | None, template_key: str,
           cohort_year: int | None, as_json: bool) -> None:
    """Этапы дорожной карты по школам и число школ на каждом этапе."""
    if region_code and municipality_code:
        raise click.UsageError("укажите либо --region, либо --municipality")
    report = stage_status(db, template_key, region_code=region_code, municipality_code=municipality_code,
                          cohort_year=cohort_year)
    if as_json:
        _print_json(report)
        return
    header = " ".join(f"{s.title[:6]:<6}" for s in report.stages)
    click.echo(f"{'Школа':<14} {'Муниципалитет':<14} {header} Задач Просроч. Мероприятия")
    for row in report.schools:
        marks = " ".join(f"{_mark(row, s.key):<6}" for s in report.stages)
        click.echo(f"{row.school_code:<14} {row.municipality_code:<14} {marks} {row.open_tasks:<5} "
                   f"{row.overdue_tasks:<8} {_execution(row.measures)}")
    per_stage = ", ".join(f"{s.title}: {report.at_stage[s.key]}" for s in report.stages)
    click.echo(f"\nНа этапах — {per_stage}. Завершили: {report.completed}. Не начали: {report.not_started}. "
               f"С просрочкой: {report.with_overdue}. Остановлены инцидентом: {report.with_incident}.")
    if report.measures.due or report.measures.planned:
        click.echo(f"Мероприятия дорожных карт: {_execution(report.measures)}.")
    if report.visits:
        click.echo(f"Посещения кураторов (проведено из запланированных): {_tallies(report.visits)}.")
        for row in report.schools:
            if row.visits:
                click.echo(f"  {row.school_code:<14} {_tallies(row.visits)}")


def _tallies(tallies: dict[str, visits.VisitTally]) -> str:
    """«II полугодие 2026/27: 1 из 2; I полугодие 2027/28: 0 из 1»."""
    return "; ".join(f"{visits.half_year_title(key)}: {t.done} из {t.planned}" for key, t in tallies.items())


def _execution(counts: Execution) -> str:
    """«67% (в срок 1, с опозданием 1, просрочено 1, впереди 1)»; «—» for a school without measures."""
    if not (counts.due or counts.planned):
        return "—"
    percent = f"{counts.percent}%" if counts.percent is not None else "срок не наступил"
    return (f"{percent} (в срок {counts.on_time}, с опозданием {counts.late}, просрочено {counts.overdue}, "
            f"впереди {counts.planned})")


def _mark(row: SchoolStatus, stage: str) -> str:
    mark = _STATE_MARKS[row.stages[stage]]
    return mark + "!" if stage in row.overdue_stages else mark


@cli.group("visits")
def visits_group() -> None:
    """График посещений школ кураторами: список, план, перенос, отмена."""


def _visit_line(visit: visits.VisitView) -> str:
    done = f" {visit.visited_on:%d.%m.%Y}" if visit.visited_on else ""
    late = ", не проведено в срок" if visit.overdue else ""
    why = f" ({visit.cancel_reason})" if visit.cancel_reason else ""
    return (f"{visit.id}\t{visit.planned_on:%d.%m.%Y}\t{visit.half_year_title}\t{visit.status_title}{done}{late}{why}"
            + (f"\t{visit.note}" if visit.note else ""))


@visits_group.command("list")
@click.argument("school_code")
@click.option("--user", "login", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_db
def visits_list(db: Database, school_code: str, login: str, as_json: bool) -> None:
    """Посещения школы и счёт по полугодиям (проведено из запланированных)."""
    found = visits.list_visits(db, school_code, actor=login)
    if as_json:
        _print_json(found)
        return
    for visit in found.visits:
        click.echo(_visit_line(visit))
    click.echo(f"Итого: {_tallies(dict(found.tallies))}" if found.tallies else "Посещений не запланировано.")


@visits_group.command("plan")
@click.argument("school_code")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--user", "login", required=True)
@click.option("--note", default="", help="Что посмотреть при посещении.")
@with_db
def visits_plan(db: Database, school_code: str, day: datetime, login: str, note: str) -> None:
    """Запланировать посещение школы куратором (муниципальный, региональный координатор, администратор)."""
    click.echo(_visit_line(visits.plan_visit(db, school_code, planned_on=day.date(), note=note, actor=login)))


@visits_group.command("move")
@click.argument("visit_id", type=int)
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--user", "login", required=True)
@click.option("--reason", required=True, help="Почему посещение переносится.")
@with_db
def visits_move(db: Database, visit_id: int, day: datetime, login: str, reason: str) -> None:
    """Перенести посещение на другой день с обоснованием."""
    click.echo(_visit_line(visits.move_visit(db, visit_id, planned_on=day.date(), reason=reason, actor=login)))


@visits_group.command("cancel")
@click.argument("visit_id", type=int)
@click.option("--user", "login", required=True)
@click.option("--reason", required=True, help="Почему посещение отменяется.")
@with_db
def visits_cancel(db: Database, visit_id: int, login: str, reason: str) -> None:
    """Отменить посещение с обоснованием."""
    click.echo(_visit_line(visits.cancel_visit(db, visit_id, reason=reason, actor=login)))


@cli.group()
def cohort() -> None:
    """Когорты (годы проекта)."""


@cohort.command("start")
@click.option("--template", "template_key", default=_project_template,
              show_default="PROJECT_TEMPLATE, иначе roadmap-500")
@click.option("--year", type=int, required=True)
@click.option("--region", "region_code", default=None, help="Только школы этого региона.")
@with_db
def cohort_start(db: Database, template_key: str, year: int, region_code: str | None) -> None:
    """Запустить дорожную карту для всех школ, у которых её ещё нет в этой когорте."""
    with _progress("Запуск маршрутов") as progress:
        result = start_cohort(db, template_key, year, actor=OPERATOR, region_code=region_code, progress=progress)
    click.echo(f"Когорта {year}: запущено {len(result.started)}, уже шло {result.already_running}, "
               f"ошибок {len(result.failed)}.")
    for code, message in result.failed.items():
        click.echo(f"  {code}: {message}", err=True)
    if result.failed:
        sys.exit(1)


@cohort.command("dates")
@click.option("--template", "template_key", default=_project_template,
              show_default="PROJECT_TEMPLATE, иначе roadmap-500")
@click.option("--year", type=int, required=True)
@click.argument("assignments", nargs=-1, metavar="[ИМЯ=ГГГГ-ММ-ДД | ИМЯ=] ...")
@with_db
def cohort_dates(db: Database, template_key: str, year: int, assignments: tuple[str, ...]) -> None:
    """Календарь когорты; с аргументами — задать даты (ИМЯ= — вернуть дату шаблона).

    Дата означает конец этого дня по местному времени каждой школы; уже назначенные сроки не меняются."""
    if assignments:
        dates: dict[str, str] = {}
        for item in assignments:
            name, sign, text = item.partition("=")
            if not sign or not name.strip():
                raise click.BadParameter(f"«{item}»: ожидается ИМЯ=ГГГГ-ММ-ДД или ИМЯ=", param_hint="даты")
            dates[name.strip()] = text
        shown = set_cohort_dates(db, year, template_key, dates, actor=OPERATOR)
    else:
        shown = cohort_calendar(db, year, template_key, actor=OPERATOR)
    for row in shown.dates:
        effective = f"{row.effective:%d.%m.%Y}" if row.effective else "—"
        source = "задана для когорты" if row.override else "по шаблону"
        click.echo(f"{row.name}\t{effective}\t{source}")


@cli.group()
def region() -> None:
    """Регионы: часовые пояса."""


@region.command("zones")
@with_db
def region_zones(db: Database) -> None:
    """Регионы с их часовыми поясами."""
    for row in list_region_zones(db, actor=OPERATOR):
        click.echo(f"{row.code}\t{row.time_zone}\t{row.name}\tшкол: {row.schools}")


@region.command("zone")
@click.argument("region_code")
@click.argument("time_zone")
@with_db
def region_zone_set(db: Database, region_code: str, time_zone: str) -> None:
    """Задать региону часовой пояс (имя IANA, например Asia/Kamchatka). Уже назначенные сроки не меняются."""
    before = set_region_zone(db, region_code, time_zone, actor=OPERATOR)
    click.echo(f"{region_code}: {before} → {time_zone.strip()}")


@cli.group()
def questionnaire() -> None:
    """Анкеты респондентов."""


@questionnaire.command("submit")
@click.option("--school", "school_code", required=True)
@click.option("--group", "group", required=True, help="director, teacher, student или parent.")
@click.option("--answers", "answers_text", required=True, help="Ответы в JSON.")
@click.option("--token", default=None, help="Токен персональной ссылки (анонимные анкеты).")
@click.option("--user", "login", default=None, help="Логин (для анкеты директора).")
@with_db
def questionnaire_submit(db: Database, school_code: str, group: str, answers_text: str, token: str | None,
                         login: str | None) -> None:
    """Принять ответы одного респондента."""
    answers = _json_object(answers_text, "--answers")
    done = questionnaires.submit_response(db, school_code, group, answers, token=token,
                                          actor=OPERATOR if login is None else login)
    issued = f"; токен респондента: {done.token}" if done.token else ""
    click.echo(f"Ответ принят (группа {done.group}, процесс {done.instance_id}){issued}")


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise click.BadParameter(f"не JSON: {err}", param_hint=option) from err
    if not isinstance(data, dict):
        raise click.BadParameter("ожидается объект JSON", param_hint=option)
    return data


@cli.command()
@click.option("--now", "now_text", default=None, help="Момент проверки (ISO 8601), по умолчанию — сейчас.")
@click.option("--dry-run", is_flag=True, help="Показать, что произойдёт, ничего не делая.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_db
def sweep(db: Database, now_text: str | None, dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Проверить сроки: напоминания, наступившие сроки, эскалации."""
    now = _moment(now_text) if now_text else None
    report = sweep_deadlines(db, now=now, dry_run=dry_run, batch_size=batch_size,
                             base_url=Settings.from_env().base_url)
    if as_json:
        _print_json(report)
        return
    verb = "сработает" if dry_run else "сработало"
    told = "будет объявлено" if dry_run else "объявлено"
    click.echo(f"На {report.now.isoformat()}: {verb} сроков — {report.fired}; {told} новых задач — "
               f"{report.announced}.")
    for action in report.arrivals + report.actions:
        level = f" (уровень {action.escalation_level})" if action.escalation_level else ""
        click.echo(f"  {labels.DEADLINE_KINDS[action.kind]}{level}: {action.school} «{action.task}» → "
                   f"{', '.join(action.recipients) or 'нет получателей'}")
    for failure in report.failures:
        retry = f"повтор {failure.retry_at.isoformat()}" if failure.retry_at else "ждёт исправления и повтора"
        click.echo(f"  не выполнено (процесс {failure.instance_id}, шаг {failure.element_id}): {failure.error}; "
                   f"{retry}")
    if report.failures:
        click.echo(f"Инцидентов: {len(report.failures)} — `roadmap incidents`.")



@cli.group(invoke_without_command=True)
@click.option("--all", "include_resolved", is_flag=True, help="И решённые инциденты.")
@click.option("--school", default=None, help="Только одна школа (код).")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@click.pass_context
def incidents(ctx: click.Context, include_resolved: bool, school: str | None, as_json: bool) -> None:
    """Инциденты: шаги маршрутов, которые не выполнились (без подкоманды — список)."""
    if ctx.invoked_subcommand is not None:
        return
    found = incident_list(_db(ctx), include_resolved=include_resolved, school=school, actor=OPERATOR)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("Инцидентов нет.")
        return
    for i in found:
        state = "открыт" if i.is_open else f"решён {i.resolved_at.isoformat() if i.resolved_at else ''}"
        retry = f", автоповтор {i.next_retry_at.isoformat()}" if i.next_retry_at else ""
        click.echo(f"#{i.id} {i.school_code} {i.template_key}@{i.template_version} шаг {i.element_id} "
                   f"«{i.element_name}» ({i.trigger_words}), попыток {i.tries}, с {i.created_at.isoformat()}: "
                   f"{state}{retry}\n    {i.error}")


@incidents.command("retry")
@click.argument("incident_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def incident_retry(db: Database, incident_id: int, as_json: bool) -> None:
    """Повторить шаг инцидента сейчас (после исправления шаблона и переноса процесса)."""
    view = retry_incident(db, incident_id, base_url=Settings.from_env().base_url, actor=OPERATOR)
    if as_json:
        click.echo(json.dumps(view.as_dict(), ensure_ascii=False, indent=2))
    elif view.resolved_at is not None:
        click.echo(f"Инцидент {incident_id} решён: шаг {view.element_id} выполнен.")
    else:
        click.echo(f"Повтор не удался: {view.error}", err=True)
    if view.resolved_at is None:
        sys.exit(1)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise click.BadParameter("ожидается дата и время ISO 8601, например 2027-03-02T09:00+03:00",
                                 param_hint="--now") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=MOSCOW)


@cli.command()
@with_db
def deliver(db: Database) -> None:
    """Отправить письма, ожидающие в очереди (без Redis; нужен SMTP_HOST)."""
    smtp = SmtpSettings.from_settings(Settings.from_env())
    if smtp is None:
        raise click.UsageError("SMTP_HOST не задан: письма ждут в очереди")
    sent, failed = deliver_due(db, smtp)
    click.echo(f"Отправлено: {sent}, не удалось: {failed} (причина — в outbox.last_error; "
               "письма, которые нельзя составить, не повторяются, остальные — позже).")


@cli.group("curator-pool")
def curator_pool_group() -> None:
    """Резерв кураторов региона: кого можно назначить куратором школы, ещё не курируя ни одной."""


@curator_pool_group.command("add")
@click.argument("region")
@click.argument("login")
@with_db
def curator_pool_add(db: Database, region: str, login: str) -> None:
    """Добавить пользователя в резерв кураторов региона (доступа к школам это не даёт)."""
    added = curator_pool.add_to_pool(db, region, login, actor=OPERATOR)
    click.echo(f"{login}: {'добавлен в резерв' if added else 'уже в резерве'} кураторов региона {region}")


@curator_pool_group.command("remove")
@click.argument("region")
@click.argument("login")
@with_db
def curator_pool_remove(db: Database, region: str, login: str) -> None:
    """Убрать пользователя из резерва (школы, которые он уже курирует, остаются за ним)."""
    removed = curator_pool.remove_from_pool(db, region, login, actor=OPERATOR)
    click.echo(f"{login}: {'убран из резерва' if removed else 'не был в резерве'} кураторов региона {region}")


@curator_pool_group.command("list")
@click.argument("region")
@with_db
def curator_pool_list(db: Database, region: str) -> None:
    """Резерв кураторов региона."""
    for entry in curator_pool.list_pool(db, region, actor=OPERATOR):
        click.echo(f"{entry.login}\t{entry.full_name}\tс {entry.added_at.astimezone(MOSCOW):%d.%m.%Y}")


@cli.group()
def calendar() -> None:
    """Производственный календарь: переносы и дополнительные выходные."""


@calendar.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--working/--day-off", required=True, help="Рабочий день или выходной.")
@click.option("--note", default="", help="Основание (например, постановление о переносе).")
@with_db
def calendar_set(db: Database, day: datetime, working: bool, note: str) -> None:
    """Отметить день рабочим или выходным."""
    set_calendar_day(db, day.date(), working=working, note=note, actor=OPERATOR)
    click.echo(f"{day.date():%d.%m.%Y}: {'рабочий день' if working else 'выходной'}")


@calendar.command("reset")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@with_db
def calendar_reset(db: Database, day: datetime) -> None:
    """Вернуть день к общему календарю."""
    set_calendar_day(db, day.date(), working=None, actor=OPERATOR)
    click.echo(f"{day.date():%d.%m.%Y}: по производственному календарю РФ")


@calendar.command("list")
@click.option("--year", type=int, required=True)
@with_db
def calendar_list(db: Database, year: int) -> None:
    """Исправления календаря за год."""
    for row in list_overrides(db, year, actor=OPERATOR):
        click.echo(f"{row.day:%d.%m.%Y}\t{'рабочий' if row.is_working_day else 'выходной'}\t{row.note}")


@cli.command()
@click.option("--user", "login", required=True)
@click.option("--unread", is_flag=True, help="Только непрочитанные.")
@click.option("--mark-read", is_flag=True, help="Отметить все прочитанными.")
@click.option("--json", "as_json", is_flag=True)
@with_db
def notifications(db: Database, login: str, unread: bool, mark_read: bool, as_json: bool) -> None:
    """Уведомления пользователя."""
    items, unread_count = list_notifications(db, unread_only=unread, actor=login)
    if as_json:
        _print_json({"unread": unread_count, "items": [asdict(i) for i in items]})
    else:
        click.echo(f"Непрочитанных: {unread_count}")
        for item in items:
            click.echo(f"{'  ' if item.read else '● '}{item.created_at:%d.%m.%Y %H:%M}  {item.title}")
    if mark_read:
        mark_notifications_read(db, actor=login)


@cli.group()
def token() -> None:
    """Личные токены REST API."""


@token.command("create")
@click.option("--user", "login", required=True, help="Чей токен.")
@click.option("--name", required=True, help="Для чего (например, «выгрузка для РЦОИ»).")
@with_db
def token_create(db: Database, login: str, name: str) -> None:
    """Выдать токен (оператору); токен печатается один раз."""
    view, secret = api_tokens.create_token(db, name, actor=login)
    click.echo(f"Токен {view.id} для {view.login}: {secret}")
    click.echo("Сохраните его сейчас: больше он показан не будет.", err=True)


@token.command("revoke")
@click.argument("token_id", type=int)
@click.option("--user", "login", required=True, help="Владелец токена или администратор.")
@with_db
def token_revoke(db: Database, token_id: int, login: str) -> None:
    """Отозвать токен."""
    api_tokens.revoke_token(db, token_id, actor=login)
    click.echo(f"Токен {token_id} отозван.")


@cli.command()
@click.argument("key")
@click.argument("old_version", type=int)
@click.argument("new_version", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_db
def diff(db: Database, key: str, old_version: int, new_version: int, as_json: bool) -> None:
    """Что изменилось между двумя версиями шаблона."""
    found = diff_versions(db, key, old_version, new_version, actor=OPERATOR)
    if as_json:
        _print_json(found)
        return
    click.echo(f"{key}: версия {old_version} → {new_version}")
    for title, changes in (("Элементы BPMN", found.elements), ("Пользовательские задачи", found.tasks),
                           ("Формы", found.forms), ("Правила таблиц решений", found.rules)):
        if changes.empty:
            continue
        click.echo(f"{title}:")
        for item in changes.added:
            click.echo(f"  + {item}")
        for item in changes.removed:
            click.echo(f"  − {item}")
        for item, notes in changes.changed.items():
            click.echo(f"  ~ {item}: {'; '.join(notes)}")
    for note in found.manifest:
        click.echo(f"Манифест: {note}")


def _version_ref(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, int]:
    key, at, number = value.rpartition("@")
    if not (key and at and number.isdigit()):
        raise click.BadParameter("ожидается КЛЮЧ@ВЕРСИЯ, например roadmap-500@2")
    return key, int(number)



@cli.command("migrate")
@click.option("--from", "source", required=True, callback=_version_ref, help="КЛЮЧ@ВЕРСИЯ, с которой переносить.")
@click.option("--to", "target", required=True, callback=_version_ref, help="КЛЮЧ@ВЕРСИЯ, на которую переносить.")
@click.option("--dry-run", is_flag=True, help="Только проверить, какие процессы можно перенести.")
@click.option("--json", "as_json", is_flag=True)
@with_db
def migrate_instances(db: Database, source: tuple[str, int], target: tuple[str, int], dry_run: bool,
                      as_json: bool) -> None:
    """Перенести запущенные процессы шаблона на другую его версию (каждый в своей транзакции)."""
    if source[0] != target[0]:
        raise click.UsageError("--from и --to должны называть один и тот же шаблон")
    key, old, new = source[0], source[1], target[1]
    title = f"{key}@{old} → {new}"
    if dry_run:
        with _progress("Проверка процессов", quiet=as_json) as progress:
            plan = plan_migration(db, key, old, new, actor=OPERATOR, progress=progress)
        found: Any = plan
        items, ok = plan.instances, plan.blocked == 0
        summary = f"{title}: процессов {len(plan.instances)}, можно перенести {plan.movable}, нельзя {plan.blocked}."
    else:
        with _progress("Перенос процессов", quiet=as_json) as progress:
            found = run = run_migration(db, start_migration(db, key, old, new, actor=OPERATOR).id, progress=progress)
        items, ok = run.results, run.failed == 0
        summary = f"{title}: перенесено {run.moved} из {run.total}, с ошибками {run.failed}."
    if as_json:
        _print_json(found)
    else:
        for item in items:
            click.echo(_migration_line(item))
        click.echo(summary)
    sys.exit(0 if ok else 1)



def _run_line(run: MigrationRunView) -> str:
    return (f"{run.id}\t{run.key}@{run.from_version} → {run.to_version}{' (пробный)' if run.dry_run else ''}\t"
            f"{labels.MIGRATION_RUNS[run.status]}\tобработано {run.processed} из {run.total}, перенесено {run.moved}, "
            f"с ошибками {run.failed}")


@cli.command("migrate-runs")
@click.option("--json", "as_json", is_flag=True)
@with_db
def migrate_runs(db: Database, as_json: bool) -> None:
    """Последние переносы и их состояние; прерванный можно возобновить командой migrate-resume."""
    runs = list_runs(db, actor=OPERATOR)
    if as_json:
        _print_json(runs)
        return
    for run in runs:
        click.echo(_run_line(run))


@cli.command("migrate-resume")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_db
def migrate_resume(db: Database, run_id: int, as_json: bool) -> None:
    """Возобновить прерванный перенос (его обработчик не отвечает) здесь же: только оставшиеся процессы."""
    resume_migration(db, run_id, actor=OPERATOR)
    run = run_migration(db, run_id)
    if as_json:
        _print_json(run)
    else:
        click.echo(_run_line(run))
    sys.exit(0 if run.failed == 0 else 1)


def _migration_line(item: InstanceCheck) -> str:
    outcome = item.outcome or ("can_move" if item.can_move else "cannot_move")
    why = f": {'; '.join(item.reasons)}" if item.reasons else ""
    tasks = ", ".join(item.tasks) or "нет открытых задач"
    return f"{item.school_code}\tпроцесс {item.instance_id}\t{tasks}\t{labels.MIGRATION_OUTCOMES[outcome]}{why}"


@cli.group()
def template() -> None:
    """Версии шаблонов: выгрузка."""


@template.command("export")
@click.argument("key")
@click.argument("version", type=int)
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_db
def template_export(db: Database, key: str, version: int, path: Path) -> None:
    """Выгрузить версию шаблона zip-архивом (manifest.json, BPMN, DMN, формы)."""
    _, data = workspace.export_version(db, key, version, actor=OPERATOR)
    path.write_bytes(data)
    click.echo(f"{key}@{version} → {path} ({len(data)} байт)")


@cli.group("roadmaps")
def roadmaps_group() -> None:
    """Управление идущими маршрутами: снять с проекта, приостановить, возобновить (с причиной; в журнал)."""


def _selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name, words in (("region", "всех школ региона"), ("municipality", "всех школ муниципалитета"),
                        ("school", "одной школы")):
        func = click.option(f"--{name}", default=None, help=f"Маршруты {words} (код).")(func)
    return func


def _roadmap_line(item: management.ManagedRoadmap) -> str:
    shift = f"\tсдвиг сроков {item.shift_working_days} раб. дн." if item.suspended_at else ""
    return f"{item.school_code}\tпроцесс {item.instance_id}\t{item.school_name}{shift}"


@roadmaps_group.command("withdraw")
@click.argument("school")
@click.option("--reason", required=True, type=click.Choice(sorted(management.WITHDRAW_REASONS)),
              help="Причина: " + "; ".join(f"{k} — {v}" for k, v in management.WITHDRAW_REASONS.items()))
@click.option("--comment", default="", help="Комментарий (обязателен для other).")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_withdraw(db: Database, school: str, reason: str, comment: str, as_json: bool) -> None:
    """Снять маршрут школы с проекта: открытые задачи закрываются, сроки останавливаются."""
    done = management.withdraw_roadmap(db, school, reason=reason, comment=comment, actor=OPERATOR)
    if as_json:
        _print_json(done)
    else:
        click.echo(f"Маршрут школы {school} (процесс {done.instance_id}) снят с проекта; "
                   f"закрыто задач: {done.tasks_closed}.")


@roadmaps_group.command("suspend")
@_selection_options
@click.option("--reason", default="", help="Причина (обязательна, кроме --dry-run).")
@click.option("--dry-run", is_flag=True, help="Только показать, какие маршруты будут приостановлены.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_suspend(db: Database, school: str | None, municipality: str | None, region: str | None, reason: str,
                     dry_run: bool, as_json: bool) -> None:
    """Приостановить маршруты школы, муниципалитета или региона: сроки и эскалации не срабатывают."""
    selection = management.Selection(school, municipality, region)
    found = (management.preview_suspension(db, selection, resume=False, actor=OPERATOR) if dry_run
             else management.suspend_roadmaps(db, selection, reason=reason, actor=OPERATOR))
    _report_roadmaps(found, as_json, "Будет приостановлено" if dry_run else "Приостановлено")


@roadmaps_group.command("resume")
@_selection_options
@click.option("--reason", default="", help="Комментарий к возобновлению.")
@click.option("--dry-run", is_flag=True, help="Только показать маршруты и сдвиг их сроков.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_resume(db: Database, school: str | None, municipality: str | None, region: str | None, reason: str,
                    dry_run: bool, as_json: bool) -> None:
    """Возобновить приостановленные маршруты; сроки сдвигаются на рабочие дни приостановки."""
    selection = management.Selection(school, municipality, region)
    found = (management.preview_suspension(db, selection, resume=True, actor=OPERATOR) if dry_run
             else management.resume_roadmaps(db, selection, reason=reason, actor=OPERATOR))
    _report_roadmaps(found, as_json, "Будет возобновлено" if dry_run else "Возобновлено")


def _report_roadmaps(found: list[management.ManagedRoadmap], as_json: bool, verb: str) -> None:
    if as_json:
        _print_json(found)
        return
    for item in found:
        click.echo(_roadmap_line(item))
    click.echo(f"{verb} маршрутов: {len(found)}.")


@roadmaps_group.command("curator")
@click.argument("to_login")
@click.option("--school", default=None, help="Школа (код): её кураторы заменяются новым.")
@click.option("--from", "from_login", default=None, help="Прежний куратор: без --school — все его школы.")
@click.option("--reason", required=True, help="Причина замены.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_curator(db: Database, to_login: str, school: str | None, from_login: str | None, reason: str,
                     as_json: bool) -> None:
    """Сменить куратора школы (или всех школ одного куратора): задачи куратора переходят новому."""
    changes = management.change_curator(db, to_login, school=school, from_login=from_login, reason=reason,
                                        actor=OPERATOR)
    if as_json:
        _print_json(changes)
        return
    for change in changes:
        click.echo(f"{change.school_code}\t{', '.join(change.previous) or '—'} → {change.curator}\t"
                   f"задач передано: {change.tasks_moved}")


@roadmaps_group.command("send-back")
@click.argument("school")
@click.argument("element")
@click.option("--reason", required=True, help="Причина возврата.")
@click.option("--whole-branch", is_flag=True, help="Шаг в параллельной ветке: вернуть всю развилку.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_send_back(db: Database, school: str, element: str, reason: str, whole_branch: bool,
                       as_json: bool) -> None:
    """Вернуть маршрут школы на выполненный ранее шаг (ELEMENT — id задачи в BPMN); данные сохраняются."""
    done = management.send_back(db, school, element, reason=reason, whole_branch=whole_branch, actor=OPERATOR)
    if as_json:
        _print_json(done)
    else:
        click.echo(f"Маршрут школы {school} возвращён к шагу {done.reset_element}; открыто задач: "
                   f"{len(done.opened_task_ids)}, закрыто: {len(done.cancelled_task_ids)}.")


@roadmaps_group.command("move-school")
@click.argument("school")
@click.argument("municipality")
@click.option("--reason", required=True, help="Причина (реорганизация).")
@with_db
def roadmaps_move_school(db: Database, school: str, municipality: str, reason: str) -> None:
    """Перевести школу в другой муниципалитет: её задачи, сводки и эскалации следуют за ней."""
    moved = management.move_school(db, school, municipality, reason=reason, actor=OPERATOR)
    click.echo(f"Школа {school}: {moved.from_municipality} → {moved.to_municipality}; задач перенесено: "
               f"{moved.tasks_moved}.")


@roadmaps_group.command("batch")
@click.argument("operation", type=click.Choice(list(batches.OPERATIONS)))
@click.option("--region", default=None, help="Маршруты школ региона (код).")
@click.option("--municipality", default=None, help="Маршруты школ муниципалитета (код).")
@click.option("--stage", default=None, help="Только маршруты на этом этапе (ключ этапа).")
@click.option("--overdue", is_flag=True, help="Только маршруты с просроченной открытой задачей.")
@click.option("--reason", default="", help="Причина (для withdraw — код из списка причин).")
@click.option("--comment", default="", help="withdraw: комментарий (обязателен для other).")
@click.option("--to", "to_login", default=None, help="curator: новый куратор.")
@click.option("--from", "from_login", default=None, help="curator: заменить только этого куратора.")
@click.option("--element", default=None, help="send_back: id шага в BPMN.")
@click.option("--whole-branch", is_flag=True, help="send_back: вернуть всю параллельную развилку.")
@click.option("--target-municipality", default=None, help="move: муниципалитет, куда перевести школы.")
@click.option("--dry-run", is_flag=True, help="Попробовать для каждой школы и откатить: что сделано, что откажет.")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_batch(db: Database, operation: str, region: str | None, municipality: str | None, stage: str | None,
                   overdue: bool, reason: str, comment: str, to_login: str | None, from_login: str | None,
                   element: str | None, whole_branch: bool, target_municipality: str | None, dry_run: bool,
                   as_json: bool) -> None:
    """Пакетная операция над идущими маршрутами региона или муниципалитета (по школе за транзакцию)."""
    params = {"reason": reason, "comment": comment, "to": to_login, "from": from_login, "element": element,
              "whole_branch": whole_branch, "municipality": target_municipality}
    selection = batches.BatchFilter(region, municipality, stage, overdue)
    run = batches.start_batch(db, operation, params, selection, actor=OPERATOR, dry_run=dry_run)
    _run_and_report(db, run.id, as_json)


def _run_and_report(db: Database, run_id: int, as_json: bool) -> None:
    with _progress("Школы", quiet=as_json) as progress:
        run = batches.run_batch(db, run_id, progress=progress)
    if as_json:
        _print_json(run)
    else:
        for item in run.items:
            click.echo(_batch_item_line(item, run.dry_run))
        click.echo(_batch_line(run))
    sys.exit(0 if run.failed == 0 else 1)


def _batch_item_line(item: batches.BatchItemView, dry_run: bool) -> str:
    if item.outcome == batches.DONE:
        words = "будет сделано" if dry_run else "сделано"
    elif item.outcome == batches.FAILED:
        words = f"{'откажет' if dry_run else 'отказ'}: {item.message}"
    else:
        words = "ожидает"
    return f"{item.school_code}\t{item.school_name}\t{words}"


def _batch_line(run: batches.BatchRunView) -> str:
    area = run.selection.get("municipality") or run.selection.get("region")
    return (f"{run.id}\t{run.operation}{' (пробная)' if run.dry_run else ''}\t{area}\t"
            f"{labels.BATCH_RUNS[run.status]}\tобработано {run.processed} из {run.total}, сделано {run.done}, "
            f"отказов {run.failed}")


@roadmaps_group.command("batch-runs")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_batch_runs(db: Database, as_json: bool) -> None:
    """Последние пакетные операции и их состояние; прерванную можно возобновить командой batch-resume."""
    runs = batches.list_batches(db, actor=OPERATOR)
    if as_json:
        _print_json(runs)
        return
    for run in runs:
        click.echo(_batch_line(run))


@roadmaps_group.command("batch-resume")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_batch_resume(db: Database, run_id: int, as_json: bool) -> None:
    """Возобновить прерванную пакетную операцию здесь же: только школы, до которых она не дошла."""
    batches.resume_batch(db, run_id, actor=OPERATOR)
    _run_and_report(db, run_id, as_json)


@roadmaps_group.command("merge")
@click.argument("school")
@click.argument("into")
@click.option("--reason", required=True, help="Причина (реорганизация).")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def roadmaps_merge(db: Database, school: str, into: str, reason: str, as_json: bool) -> None:
    """Присоединить школу SCHOOL к школе INTO: её маршрут снимается («слияние») и хранится, люди переходят."""
    done = merges.merge_schools(db, school, into, reason=reason, actor=OPERATOR)
    if as_json:
        _print_json(done)
        return
    withdrawn = (f"маршрут {done.withdrawn_instance_id} снят («слияние»)" if done.withdrawn_instance_id
                 else "маршрута не было")
    click.echo(f"Школа {school} присоединена к {into}: {withdrawn}; перешли: {', '.join(done.people) or '—'}.")
# --- reports ------------------------------------------------------------------------------------------------

_REPORT_FORMATS = {"school": ("docx", "pdf"), "municipality": ("docx", "xlsx"), "region": ("docx", "xlsx")}


@cli.command("report")
@click.argument("kind", type=click.Choice(list(_REPORT_FORMATS)))
@click.argument("code")
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf", "xlsx"]), default="docx", show_default=True,
              help="Школа: docx или pdf; муниципалитет и регион: docx или xlsx.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Куда записать файл.")
@click.option("--template", "template_key", default=None, help="Шаблон (для сводок; по умолчанию PROJECT_TEMPLATE).")
@with_db
def report(db: Database, kind: str, code: str, fmt: str, output: Path, template_key: str | None) -> None:
    """Отчёт школы о выполнении дорожной карты (school КОД_ШКОЛЫ) или сводный отчёт муниципалитета или региона."""
    if fmt not in _REPORT_FORMATS[kind]:
        raise click.UsageError(f"для «{kind}» формат — {' или '.join(_REPORT_FORMATS[kind])}")
    if kind == "school":
        made = school_report_file(db, code, fmt, actor=OPERATOR)
        name, content = made.filename, made.content
    else:
        found = area_summary(db, template_key or _project_template(), kind, code, actor=OPERATOR)
        name, _, content = summary_file(found, fmt)
    output.write_bytes(content)
    click.echo(f"{output}: {name}, {len(content) // 1024 + 1} КБ")


@cli.group("report-template")
def report_template() -> None:
    """Шаблон Word отчёта школы: показать, скачать, заменить (с проверкой на образце), вернуть по умолчанию."""


@report_template.command("show")
@with_db
def report_template_show(db: Database) -> None:
    info = report_docx.template_info(db, actor=OPERATOR)
    where = f"загружен {local_time(info.uploaded_at)} ({info.uploaded_by or 'консоль'})" if info.replaced \
        else "по умолчанию"
    click.echo(f"{info.filename}: {where}; SHA-256 {info.sha256}")


@report_template.command("download")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_db
def report_template_download(db: Database, output: Path) -> None:
    name, content = report_docx.template_file(db, actor=OPERATOR)
    output.write_bytes(content)
    click.echo(f"{output}: {name}")


@report_template.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_db
def report_template_upload(db: Database, path: Path) -> None:
    """Заменить шаблон: он проверяется на образце отчёта; шаблон с неизвестной подстановкой не принимается."""
    info = report_docx.replace_template(db, path.name, path.read_bytes(), actor=OPERATOR)
    click.echo(f"Шаблон отчёта заменён: {info.filename} (SHA-256 {info.sha256[:12]}…).")


@report_template.command("reset")
@with_db
def report_template_reset(db: Database) -> None:
    reset = report_docx.reset_template(db, actor=OPERATOR)
    click.echo("Восстановлен шаблон по умолчанию." if reset else "Шаблон по умолчанию уже действует.")
@cli.group("webhooks")
def webhooks_group() -> None:
    """Вебхуки: подписки внешних систем на события маршрутов и их доставки."""


@webhooks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def webhooks_list(db: Database, as_json: bool) -> None:
    """Подписки: адрес, типы событий, ждущие и остановленные доставки."""
    found = webhooks.list_webhooks(db, actor=OPERATOR)
    if as_json:
        _print_json(found)
        return
    if not found:
        click.echo("Подписок нет.")
    for w in found:
        state = "включена" if w.active else "выключена"
        click.echo(f"#{w.id} {w.url} [{', '.join(w.event_types)}] {state}; ждут {w.pending}, остановлены {w.dead}"
                   + (f" — {w.description}" if w.description else ""))


@webhooks_group.command("add")
@click.argument("url")
@click.option("--event", "event_types", multiple=True, required=True, type=click.Choice(events.TYPES),
              help="Тип события (можно несколько раз).")
@click.option("--secret", default=None, help="Ключ подписи HMAC (по умолчанию создаётся и печатается).")
@click.option("--description", default="", help="Описание подписки.")
@with_db
def webhooks_add(db: Database, url: str, event_types: tuple[str, ...], secret: str | None, description: str) -> None:
    """Подписать адрес URL на события; секрет печатается один раз."""
    view, secret = webhooks.create_webhook(db, url, event_types, secret=secret, description=description,
                                           block_private=Settings.from_env().webhook_block_private, actor=OPERATOR)
    click.echo(f"Подписка {view.id} создана. Секрет (сохраните — больше не показывается): {secret}")


@webhooks_group.command("remove")
@click.argument("webhook_id", type=click.IntRange(1, 2**63 - 1))
@with_db
def webhooks_remove(db: Database, webhook_id: int) -> None:
    """Удалить подписку и её доставки."""
    webhooks.delete_webhook(db, webhook_id, actor=OPERATOR)
    click.echo(f"Подписка {webhook_id} удалена.")


@webhooks_group.command("deliveries")
@click.option("--webhook", "webhook_id", type=click.IntRange(1, 2**63 - 1), default=None)
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Вывод в JSON.")
@with_db
def webhooks_deliveries(db: Database, webhook_id: int | None, status: str | None, limit: int, as_json: bool) -> None:
    """Последние доставки с их попытками."""
    found = webhooks.list_deliveries(db, webhook_id=webhook_id, status=status, limit=limit, actor=OPERATOR)
    if as_json:
        _print_json(found)
        return
    if not found:
        click.echo("Доставок нет.")
    for d in found:
        last = f", последний ответ {d.last_status or '—'}" + (f": {d.last_error}" if d.last_error else "")
        click.echo(f"#{d.id} подписка {d.webhook_id} {d.event_type} {d.event_uid}: {d.status}, попыток {d.attempts}"
                   f"{last if d.attempts else ''}")


@webhooks_group.command("redeliver")
@click.argument("delivery_id", type=click.IntRange(1, 2**63 - 1))
@with_db
def webhooks_redeliver(db: Database, delivery_id: int) -> None:
    """Повторить остановленную доставку: её отправит ближайший запуск рассылки (`roadmap cron`, раз в минуту)."""
    webhooks.redeliver(db, delivery_id, actor=OPERATOR)
    click.echo(f"Доставка {delivery_id} снова ждёт отправки.")


@cli.group("templates")
def templates_group() -> None:
    """Шаблоны: пробный запуск черновика."""


@templates_group.command("simulate")
@click.argument("template_key")
@click.option("--school-region", "region_code", default=None,
              help="Код региона, чьё название и часовой пояс берёт выдуманная школа (без него — московское время).")
@click.option("--start", "start_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Первый день, ГГГГ-ММ-ДД (по умолчанию сегодня).")
@click.option("--cohort", "cohort_year", type=click.IntRange(2000, 2100), default=None,
              help="Год когорты, чей календарь действует (по умолчанию год начала).")
@click.option("--fill", "fill_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='JSON-список шагов: {"task": "элемент.N", "data": {…}} или {"clock": "next"}.')
@click.option("--json", "as_json", is_flag=True)
@with_db
def templates_simulate(db: Database, template_key: str, region_code: str | None, start_day: datetime | None,
                       cohort_year: int | None, fill_path: Path | None, as_json: bool) -> None:
    """Пробный запуск черновика для выдуманной школы: ничего не сохраняется. Выдуманные люди — sim-cli-<роль>
    (куратор — sim-cli-curator)."""
    first = start_day.date() if start_day else simulation.default_setup(db.now()).start
    setup = simulation.SimulationSetup(region_code, first, cohort_year or first.year,
                                       tag=simulation.CLI_TAG)
    steps = _json_list(fill_path.read_text(encoding="utf-8"), "--fill") if fill_path else []
    view = simulation.run_script(db, template_key, setup, steps, actor=OPERATOR)
    if as_json:
        _print_json(view)
    else:
        _print_simulation(view)
    if view.problems:
        sys.exit(1)


def _json_list(text: str, option: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise click.BadParameter(f"не JSON: {err}", param_hint=option) from None
    if not isinstance(value, list):
        raise click.BadParameter("ожидается JSON-список", param_hint=option)
    return value


def _print_simulation(view: simulation.SimulationView) -> None:
    for problem in view.problems:
        click.echo(f"Ошибка: {problem}", err=True)
    if view.school is None:
        return
    click.echo(f"{view.school.name}, {view.school.municipality}, {view.school.region} ({view.school.time_zone}); "
               f"время пробного запуска: {view.clock_shown}")
    for step in view.done:
        click.echo(f"  выполнено: {step.what}" + (f" — {step.person}" if step.person else "") + f", {step.at}")
    for incident in view.incidents:
        click.echo(f"  шаг не выполнился: {incident}")
    for task in view.ready:
        late = " (просрочено)" if task.overdue else ""
        click.echo(f"{task.ref}\t{task.name}\t{task.role_title}: {', '.join(task.people)}\tсрок {task.due_shown}{late}")
        for d in task.deadlines:
            click.echo(f"    {d.kind} {d.step}: {d.shown_at} → {d.to}: {d.person}")
    if view.finished:
        click.echo("Маршрут завершён.")
