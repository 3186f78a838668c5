"""Words for the codes people see: stage states, history events, migration runs and outcomes, deadline kinds.

One place for each word. They are Russian (the language every text is written in); the web UI shows them
through ``gettext`` (so they are marked with ``N_`` for the message catalogs, web/translations), the CLI
and the Excel export print them as they are.
"""

from __future__ import annotations


def N_(text: str) -> str:  # the name gettext's extractors look for
    """Mark ``text`` for translation where it is defined; it is translated where it is shown."""
    return text


#: The state of one stage of a school's roadmap (engine.reports.status.StageState values).
STAGE_STATES = {"done": N_("пройден"), "current": N_("идёт"), "pending": N_("впереди"), "skipped": "—",
                "withdrawn": N_("снят на этом этапе")}

#: Audit actions as a school's or a task's history shows them.
EVENTS = {
    "instance.started": N_("Маршрут запущен"), "instance.completed": N_("Маршрут завершён"),
    "task.ready": N_("Новая задача"), "task.completed": N_("Выполнено"), "task.cancelled": N_("Задача снята"),
    "task.claimed": N_("Взято в работу"), "task.reassigned": N_("Передано другому исполнителю"),
    "task.released": N_("Возвращено в общий список"),
    "task.draft_saved": N_("Черновик сохранён"), "task.escalated": N_("Эскалация"),
    "timer.fired": N_("Сработал таймер"), "org.curator_bound": N_("Назначен куратор"),
    "attachment.uploaded": N_("Загружен документ"), "questionnaire.response": N_("Получена анкета"),
    "questionnaire.links_created": N_("Созданы ссылки на анкеты"),
    "instance.migrated": N_("Перенесён на новую версию шаблона"), "instance.migration_failed": N_("Перенос не удался"),
    "incident.opened": N_("Шаг не выполнился: инцидент"), "incident.retried": N_("Инцидент: повтор"),
    "incident.resolved": N_("Инцидент решён"), "instance.resumed": N_("Маршрут продолжен"),
    "instance.withdrawn": N_("Маршрут снят с проекта"), "instance.suspended": N_("Маршрут приостановлен"),
    "instance.resumed_by_person": N_("Маршрут возобновлён"), "org.curator_changed": N_("Куратор заменён"),
    "instance.sent_back": N_("Маршрут возвращён на шаг"),
    "org.school_moved": N_("Школа переведена в другой муниципалитет"),
    "org.schools_merged": N_("Школа присоединена к другой"),
    "visit.planned": N_("Запланировано посещение куратора"), "visit.moved": N_("Посещение куратора перенесено"),
    "visit.cancelled": N_("Посещение куратора отменено"), "visit.done": N_("Посещение куратора проведено"),
    "visit.escalated": N_("Посещение куратора не проведено: эскалация"),
}

#: Audit actions of a template's history (engine.templates.workspace.HISTORY_ACTIONS, in that order).
TEMPLATE_HISTORY = {
    "template.draft_created": N_("Создан черновик"), "template.draft_saved": N_("Сохранён файл черновика"),
    "template.draft_form_added": N_("Добавлена форма"), "template.draft_file_deleted": N_("Удалена форма"),
    "template.draft_discarded": N_("Черновик удалён"), "template.imported": N_("Импортирован zip-архив"),
    "template.deployed": N_("Развёрнута версия"), "template.retired": N_("Версия выведена из использования"),
    "template.restored": N_("Версия возвращена в работу"),
}

#: The status of an instance migration run.
MIGRATION_RUNS = {"pending": N_("ожидает запуска"), "running": N_("идёт"), "done": N_("завершён"),
                  "failed": N_("остановлен из-за ошибки"), "interrupted": N_("прерван (обработчик не отвечает)")}

#: The operations a batch can do (engine/process/batches.py), in the words of the page.
BATCH_OPERATIONS = {
    "withdraw": N_("снять с проекта"),
    "suspend": N_("приостановить"),
    "resume": N_("возобновить"),
    "curator": N_("сменить куратора"),
    "send_back": N_("вернуть на шаг"),
    "move": N_("перевести в другой муниципалитет"),
}

#: How a batch operation stands (engine/process/batches.py).
BATCH_RUNS = {"pending": N_("ожидает запуска"), "running": N_("идёт"), "done": N_("завершена"),
              "failed": N_("остановлена из-за ошибки"), "interrupted": N_("прервана (обработчик не отвечает)")}

#: What a migration run did, or would do, with one instance.
MIGRATION_OUTCOMES = {"moved": N_("перенесён"), "failed": N_("ошибка"), "skipped": N_("пропущен"),
                      "can_move": N_("можно перенести"), "cannot_move": N_("нельзя перенести")}

#: What an incident's failed step was doing when it failed.
INCIDENT_TRIGGERS = {
    "completion": N_("после выполнения задачи"), "action": N_("действие движка по форме"),
    "timer": N_("срабатывание таймера"), "retry": N_("повтор шага"), "reminder": N_("напоминание о сроке"),
    "due": N_("наступление срока"), "escalation": N_("эскалация просрочки"),
    "arrival": N_("уведомление о новой задаче"),
}

#: Kinds of deadline rows, as the sweep's report names them.
DEADLINE_KINDS = {"reminder": N_("напоминание"), "due": N_("срок наступил"), "escalation": N_("эскалация"),
                  "timer": N_("таймер"), "retry": N_("повтор шага"), "arrival": N_("новая задача")}
