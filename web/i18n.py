"""Two languages for the web UI: Russian (the default, and the language every text is written in) and English.

The Russian text is its own key: templates write ``{{ _('Мои задачи') }}`` and views
``translate("Пароль изменён.", current_language())``; ``EN`` maps each such text to English. A text missing
from ``EN`` simply stays Russian, so a forgotten entry never breaks a page. The user picks a language with
``GET /lang/ru`` or ``GET /lang/en`` (links in the page header); the choice lives in the session.

Deliberately left in Russian (they are data, not UI text, or come from elsewhere):
- form field labels, hints and options of task forms and questionnaires (the template's form definitions);
- stage titles, task names and questionnaire titles (the BPMN diagram and the template manifest);
- names of regions, municipalities and schools, user names and role codes (the organisation data);
- engine error messages shown as they are (``err.message``, e.g. «Неверный логин или пароль»);
- e-mail and in-app notification texts (written by the engine and the workers);
- the Excel export (built by ``engine.dashboards``) and the «500+» brand.
"""

from __future__ import annotations

from flask import Blueprint, Flask, has_request_context, redirect, request, session
from werkzeug.wrappers import Response

from web.session import local_path

LANGUAGES = ("ru", "en")
DEFAULT = "ru"

EN: dict[str, str] = {
    # page frame
    "Дорожные карты «500+»": "«500+» roadmaps",
    "«500+» · дорожные карты": "«500+» · roadmaps",
    "Мои задачи": "My tasks",
    "Уведомления": "Notifications",
    "Сводка": "Overview",
    "Просрочено": "Overdue",
    "Анкеты {code}": "Questionnaires {code}",
    "Пользователи": "Users",
    "Выйти": "Sign out",
    "Язык": "Language",
    # sign-in and password
    "Вход": "Sign in",
    "Логин": "Login",
    "Пароль": "Password",
    "Войти": "Sign in",
    "Забыли пароль? Обратитесь к администратору системы в вашем регионе.":
        "Forgot your password? Contact the system administrator in your region.",
    "Смена пароля": "Change password",
    "Текущий пароль": "Current password",
    "Новый пароль (не короче 8 символов)": "New password (at least 8 characters)",
    "Сменить пароль": "Change password",
    "Войдите, чтобы продолжить.": "Please sign in to continue.",
    "Вы вышли из системы.": "You have signed out.",
    "Пароль изменён.": "Your password has been changed.",
    "Токены API": "API tokens",
    "Такой страницы нет.": "There is no such page.",
    "Так к этой странице обратиться нельзя.": "This page cannot be requested this way.",
    "Запрос не удалось выполнить.": "The request could not be completed.",
    "Токен даёт программам доступ к REST API от вашего имени (документация — /api/v1/docs).":
        "A token lets programs use the REST API on your behalf (documentation: /api/v1/docs).",
    "Новый токен (показывается один раз):": "New token (shown once):",
    "Название": "Name",
    "Создать токен": "Create token",
    "Создан": "Created",
    "Использован": "Last used",
    "отозван": "revoked",
    "Отозвать": "Revoke",
    # errors
    "Ошибка": "Error",
    "Не найдено": "Not found",
    "Нет доступа": "Access denied",
    "Уже изменено": "Already changed",
    "Слишком много попыток": "Too many attempts",
    "Не получилось": "Something went wrong",
    "К моим задачам": "Back to my tasks",
    "Форма устарела или отправлена не с этого сайта. Обновите страницу и попробуйте ещё раз.":
        "The form has expired or was not sent from this site. Reload the page and try again.",
    # my tasks
    "Этап": "Stage",
    "все": "all",
    "Школа": "School",
    "код": "code",
    "только просроченные": "overdue only",
    "Сортировка": "Sort",
    "по сроку": "by due date",
    "по эскалации": "by escalation",
    "новые сначала": "newest first",
    "Показать": "Show",
    "Задача": "Task",
    "Срок": "Due",
    "Исполнитель": "Assignee",
    "Задач нет. Когда появится работа, она будет здесь.": "No tasks. When there is work to do, it will appear here.",
    # due badges
    "без срока": "no due date",
    "просрочено": "overdue",
    "Уровень эскалации": "Escalation level",
    "эскалация {level}": "escalation {level}",
    "ФИОКО": "FIOKO",
    # one task
    "в работе у {name}": "in progress by {name}",
    "Взять в работу": "Take it",
    "Сохранить черновик": "Save draft",
    "Отправить": "Submit",
    "Задача выполнена.": "Task completed.",
    "Задача закрыта.": "Task closed.",
    "Документы": "Documents",
    "Файл": "File",
    "Версия": "Version",
    "Размер": "Size",
    "Загружен": "Uploaded",
    "{size} КБ": "{size} KB",
    "Поле": "Field",
    "Файл (PDF, DOCX, XLSX, ODT, JPG, PNG, до 20 МБ)": "File (PDF, DOCX, XLSX, ODT, JPG, PNG, up to 20 MB)",
    "Загрузить": "Upload",
    "История": "History",
    "Данные формы не удалось прочитать; обновите страницу.": "The form data could not be read; reload the page.",
    "Черновик сохранён.": "Draft saved.",
    "Форма заполнена с ошибками — исправьте отмеченные поля.":
        "The form has errors — correct the marked fields.",
    "Маршрут школы завершён.": "The school's roadmap is complete.",
    "Задача взята в работу.": "You have taken the task.",
    "Документ «{filename}» загружен (версия {version}).": "Document «{filename}» uploaded (version {version}).",
    # notifications
    "Отметить все прочитанными": "Mark all as read",
    "Открыть": "Open",
    "Уведомлений нет.": "No notifications.",
    # dashboards
    "Сводка: {area}": "Overview: {area}",
    "Этапы дорожных карт: {area}": "Roadmap stages: {area}",
    "Выгрузить в Excel": "Export to Excel",
    "Выгрузить школы в Excel": "Export schools to Excel",
    "Просроченные задачи": "Overdue tasks",
    "Где сейчас школы (схема)": "Where the schools are now (diagram)",
    "Школ на каждом этапе": "Schools at each stage",
    "Завершили": "Completed",
    "Школ: {total}. Не начали: {not_started}. С просроченными задачами: {overdue}.":
        "Schools: {total}. Not started: {not_started}. With overdue tasks: {overdue}.",
    "Школы × этапы": "Schools × stages",
    "Муниципалитет": "Municipality",
    "Муниципалитеты": "Municipalities",
    "Регион": "Region",
    "Регионы": "Regions",
    "Школ": "Schools",
    "С просрочкой": "With overdue tasks",
    "ур. {level}": "lvl {level}",
    "Дорожных карт: {total}. С просроченными задачами: {overdue}.":
        "Roadmaps: {total}. With overdue tasks: {overdue}.",
    "Дорожные карты ещё не запущены.": "No roadmaps have been started yet.",
    "Просрочено: {area}": "Overdue: {area}",
    "Просроченные задачи: {area}": "Overdue tasks: {area}",
    "← к сводке": "← back to the overview",
    "Уровень эскалации {level}": "Escalation level {level}",
    "Срок прошёл, эскалации ещё нет": "Past due, not escalated yet",
    "Просроченных задач нет.": "No overdue tasks.",
    "Схема: {area}": "Diagram: {area}",
    "Где сейчас школы: {area}": "Where the schools are now: {area}",
    "Число на шаге — сколько школ сейчас ждут на нём.":
        "The number on a step is how many schools are waiting at it now.",
    # one school
    "маршрут завершён": "roadmap completed",
    "Схема маршрута": "Roadmap diagram",
    "Задачи": "Tasks",
    "Кто": "Who",
    "Состояние": "Status",
    "выполнена {at}": "completed {at}",
    "в работе": "in progress",
    "отменена": "cancelled",
    "Для школы ещё не запущена дорожная карта.": "No roadmap has been started for this school yet.",
    # stage states (STAGE_WORDS) and history events (EVENT_WORDS) of web.app
    "пройден": "done",
    "идёт": "in progress",
    "впереди": "ahead",
    "Маршрут запущен": "Roadmap started",
    "Маршрут завершён": "Roadmap completed",
    "Новая задача": "New task",
    "Выполнено": "Completed",
    "Задача снята": "Task cancelled",
    "Взято в работу": "Taken",
    "Переназначено": "Reassigned",
    "Черновик сохранён": "Draft saved",
    "Эскалация": "Escalation",
    "Сработал таймер": "Timer fired",
    "Назначен куратор": "Curator assigned",
    "Загружен документ": "Document uploaded",
    "Получена анкета": "Questionnaire received",
    "Созданы ссылки на анкеты": "Questionnaire links created",
    # questionnaires
    "Анкетирование: {code}": "Questionnaires: {code}",
    "Охват": "Coverage",
    "Анкета": "Questionnaire",
    "Ответов": "Responses",
    "Выдано ссылок": "Links issued",
    "заполнена": "filled in",
    "не заполнена": "not filled in",
    "Дорожная карта школы ещё не запущена.": "The school's roadmap has not been started yet.",
    "Заполнить анкету директора": "Fill in the principal's questionnaire",
    "Персональные ссылки для анонимных респондентов": "Personal links for anonymous respondents",
    "Одна ссылка — один респондент. Ссылки показываются один раз: скопируйте и раздайте их.":
        "One link, one respondent. The links are shown only once: copy them and hand them out.",
    "Кому": "For",
    "учителям": "teachers",
    "обучающимся": "students",
    "родителям": "parents",
    "Сколько": "How many",
    "Создать ссылки": "Create links",
    "Ответы не удалось прочитать; обновите страницу.": "The answers could not be read; reload the page.",
    "Анкета директора принята.": "The principal's questionnaire has been received.",
    "Отправить ответы": "Send answers",
    "По этой ссылке анкета уже заполнена. Спасибо!":
        "The questionnaire for this link has already been filled in. Thank you!",
    "Анкетирование в этой школе сейчас не проводится.": "This school is not running questionnaires at the moment.",
    "Спасибо! Ваши ответы приняты.": "Thank you! Your answers have been received.",
    # users
    "Новый пароль пользователя {login}:": "New password of user {login}:",
    "— передайте его пользователю; больше он показан не будет.": "— give it to the user; it will not be shown again.",
    "Поиск": "Search",
    "Найти": "Find",
    "ФИО": "Full name",
    "Почта": "E-mail",
    "Роли": "Roles",
    "Сбросить пароль": "Reset password",
    # incidents: failed steps of roadmaps
    "Инциденты": "Incidents",
    "инцидент": "incident",
    "Шаг": "Step",
    "Возникла": "Raised",
    "Попыток": "Tries",
    "Повторить": "Retry",
    "открыт": "open",
    "сегодня": "today",
    "{days} дн. назад": "{days} days ago",
    "ждёт исправления": "waits for a fix",
    "автоповтор {at}": "automatic retry {at}",
    "решён {at}": "resolved {at}",
    "попыток: {n}": "tries: {n}",
    "показывать решённые": "show resolved",
    "Инцидентов нет: все шаги маршрутов выполняются.": "No incidents: every step of every roadmap runs.",
    "Шаг маршрута, который не выполнился (таймер, шлюз, таблица решений, действие движка), становится инцидентом "
    "своей школы: остальная работа идёт дальше. После исправления шаблона перенесите процессы на исправленную "
    "версию и нажмите «Повторить».":
        "A roadmap step that failed (a timer, a gateway, a decision table, an engine action) becomes an incident of "
        "its own school while all other work goes on. After fixing the template, move the processes to the fixed "
        "version and press «Retry».",
    "Маршрут остановлен: шаг не выполнился": "The roadmap is stopped: a step failed",
    "Ошибка в шаблоне или в данных маршрута. Задачи школы сохранены; администраторы видят инцидент и повторят шаг "
    "после исправления.":
        "An error in the template or in the roadmap's data. The school's work is saved; admins see the incident "
        "and will retry the step after a fix.",
    "Остановлены инцидентом: {n}": "Stopped by an incident: {n}",
    "Шаг маршрута не выполнился; администратор видит инцидент": "A roadmap step failed; an admin sees the incident",
    "Данные сохранены, но следующий шаг маршрута не выполнился. Администраторы видят эту ошибку и исправят её; "
    "повторять ничего не нужно.":
        "Your data is saved, but the next step of the roadmap failed. Admins see the error and will fix it; "
        "there is nothing to repeat.",
    "Повтор удался: шаг «{name}» выполнен, маршрут школы {school} продолжается.":
        "Retry succeeded: step «{name}» ran, the roadmap of school {school} goes on.",
    "Повтор не удался: {error}": "Retry failed: {error}",
    "Шаг не выполнился: инцидент": "A step failed: incident",
    "Инцидент: повтор": "Incident: retry",
    "Инцидент решён": "Incident resolved",
    "Маршрут продолжен": "Roadmap resumed",
    "после выполнения задачи": "after a task was completed",
    "действие движка по форме": "an engine action on a form",
    "срабатывание таймера": "a timer firing",
    "повтор шага": "a retry of the step",
    "напоминание о сроке": "a deadline reminder",
    "наступление срока": "a deadline",
    "эскалация просрочки": "an overdue escalation",
    # moving running instances to a new template version
    "Перенос процессов": "Instance migration",
    "Перенос процессов на новую версию": "Move running processes to a new version",
    "Запущенные процессы переходят на новую версию шаблона, если всё, на чём они стоят, в ней осталось. "
    "Сначала пробный прогон: он ничего не меняет.":
        "Running processes move to the new template version if everything they stand on is still in it. "
        "Start with a dry run: it changes nothing.",
    "Шаблон": "Template",
    "С версии": "From version",
    "На версию": "To version",
    "Пробный прогон": "Dry run",
    "Запущенных процессов": "Running processes",
    "выведена": "retired",
    "Пробный прогон: {key}, версия {old} → {new}": "Dry run: {key}, version {old} → {new}",
    "Запущенных процессов: {total}; можно перенести: {movable}; нельзя: {blocked}.":
        "Running processes: {total}; can move: {movable}; cannot: {blocked}.",
    "Процесс": "Process",
    "Текущие задачи": "Current tasks",
    "Можно перенести": "Can move",
    "Почему нет": "Why not",
    "да": "yes",
    "нет": "no",
    "На этой версии нет запущенных процессов.": "No running processes on this version.",
    "Перенести все возможные": "Move all that can move",
    "Проверены первые {checked} из {total} процессов. Полный пробный прогон идёт в фоне и ничего не меняет.":
        "The first {checked} of {total} processes were checked. The full dry run runs in the background and "
        "changes nothing.",
    "Полный пробный прогон в фоне": "Full dry run in the background",
    "Последние переносы": "Recent migrations",
    "Версии": "Versions",
    "Перенесено": "Moved",
    "С ошибками": "Failed",
    "пробный": "dry run",
    "Переносов ещё не было.": "No migrations yet.",
    "Перенос {key}: версия {old} → {new}": "Migration of {key}: version {old} → {new}",
    "Обработано": "Processed",
    "Перенос идёт; страница обновится сама.": "The migration is running; the page refreshes by itself.",
    "Результаты по процессам": "Results per process",
    "Задачи до переноса": "Tasks before the move",
    "Итог": "Outcome",
    "Причина": "Reason",
    "Пока ни один процесс не обработан.": "No process has been handled yet.",
    "К пробному прогону": "Back to the dry run",
    "ожидает запуска": "waiting to start",
    "завершён": "finished",
    "прерван": "interrupted",
    "остановлен из-за ошибки": "stopped by an error",
    "Обработчик переноса не отвечает (остановлен или перезапущен сервер). Уже перенесённые процессы останутся "
    "на новой версии; возобновлённый перенос обработает только оставшиеся.":
        "The migration's worker does not respond (stopped, or the server restarted). Processes already moved "
        "stay on the new version; a resumed migration handles only the rest.",
    "Возобновить перенос": "Resume the migration",
    # curator pool
    "Резерв кураторов": "Curator pool",
    "Резерв кураторов региона {code}": "Curator pool of region {code}",
    "Куратором школы можно назначить того, кто уже курирует школы региона, или пользователя из этого резерва. "
    "Резерв не даёт доступа к школам: его даёт только назначение куратором.":
        "A school's curator can be someone who already curates schools of the region, or a user from this pool. "
        "The pool gives no access to schools: only being made a curator does.",
    "В резерве с": "In the pool since",
    "В резерве пока никого нет.": "Nobody is in the pool yet.",
    "Логин пользователя": "User login",
    "Добавить в резерв": "Add to the pool",
    "{login} добавлен в резерв кураторов.": "{login} was added to the curator pool.",
    "{login} уже в резерве кураторов.": "{login} is already in the curator pool.",
    "{login} убран из резерва кураторов.": "{login} was removed from the curator pool.",
    "Перенесён": "Moved",
    "Пропущен": "Skipped",
    "Нельзя перенести": "Cannot move",
    "Перенесён на новую версию шаблона": "Moved to a new template version",
    "Перенос не удался": "Migration failed",
    # template workspace
    "Шаблоны": "Templates",
    "Календарь": "Calendar",
    "Когорты": "Cohorts",
    "Ключ": "Key",
    "Версия в работе": "Version in service",
    "Черновик": "Draft",
    "Запущено процессов по версиям": "Running processes by version",
    "есть, без ошибок": "yes, no errors",
    "есть, с ошибками": "yes, with errors",
    "Шаблонов пока нет.": "No templates yet.",
    "Импорт нового шаблона": "Import a new template",
    "Zip-архив с manifest.json, BPMN, DMN и формами; ключ шаблона берётся из manifest.json.":
        "A zip with manifest.json, BPMN, DMN and forms; the template key is taken from manifest.json.",
    "Архив станет черновиком, даже если в нём есть ошибки.": "The archive becomes a draft even if it has errors.",
    "Архив шаблона": "Template archive",
    "Импорт zip": "Import zip",
    "Перенести запущенные процессы на новую версию": "Move running processes to the new version",
    "Редактировать черновик": "Edit draft",
    "Статус": "Status",
    "Кто и когда": "Who and when",
    "Запущено процессов": "Running processes",
    "Всего процессов": "All processes",
    "черновик": "draft",
    "развёрнута": "deployed",
    "выведена из использования": "retired",
    "оператор": "operator",
    "Экспорт (zip)": "Export (zip)",
    "Вывести из использования": "Retire",
    "Вернуть в работу": "Return to service",
    "Сравнить версии": "Compare versions",
    "Было": "From",
    "Стало": "To",
    "Когда": "When",
    "Что": "What",
    "версия": "version",
    "Изменений пока не было.": "No changes yet.",
    "Создан черновик": "Draft created",
    "Сохранён файл черновика": "Draft file saved",
    "Добавлена форма": "Form added",
    "Удалена форма": "Form deleted",
    "Черновик удалён": "Draft deleted",
    "Импортирован zip-архив": "Zip archive imported",
    "Развёрнута версия": "Version deployed",
    "Версия выведена из использования": "Version retired",
    "Версия возвращена в работу": "Version returned to service",
    "Черновик шаблона": "Template draft",
    "Основан на версии {version}.": "Based on version {version}.",
    "Изменён": "Changed",
    "Файлы": "Files",
    "байт": "bytes",
    "Удалить форму": "Delete form",
    "Проверка": "Check",
    "Ошибок нет: черновик можно развернуть.": "No errors: the draft can be deployed.",
    "шаблон": "template",
    "Развернуть новую версию": "Deploy a new version",
    "Развернуть можно, когда в черновике не останется ошибок.": "Deploying is possible once the draft has no errors.",
    "Удалить черновик": "Delete draft",
    "Добавить форму": "Add form",
    "Имя формы (латиница)": "Form name (Latin letters)",
    "Файлы архива заменят файлы черновика. Архив с ошибками тоже сохраняется — ошибки будут показаны здесь.":
        "The archive's files replace the draft's files. An archive with errors is kept too; the errors are shown here.",
    "Сравнение версий": "Version comparison",
    "Без изменений.": "No changes.",
    "Версия {old} → {new}": "Version {old} → {new}",
    "Элементы BPMN": "BPMN elements",
    "Пользовательские задачи (роль, этап, форма, срок)": "User tasks (role, stage, form, deadline)",
    "Поля форм": "Form fields",
    "Правила таблиц решений": "Decision table rules",
    "Разделы manifest.json": "manifest.json sections",
    "Редактировать как текст": "Edit as text",
    "Сохранить файл": "Save file",
    "Что изменится по сравнению с версией {version}": "What changes compared with version {version}",
    "Версия {version} выведена из использования: новые процессы на ней не запускаются.":
        "Version {version} is retired: no new processes start on it.",
    "Версия {version} возвращена в работу.": "Version {version} is back in service.",
    "Черновик удалён.": "The draft has been deleted.",
    "Черновик содержит ошибки: исправьте их перед развёртыванием.": "The draft has errors: fix them before deploying.",
    "Развёрнута версия {version}": "Version {version} deployed",
    "Черновик совпал с версией {version}: новая версия не создана.":
        "The draft equals version {version}: no new version was created.",
    "Архив импортирован в черновик; ошибок нет.": "The archive was imported into the draft; no errors.",
    "Архив импортирован в черновик; найдено ошибок: {count}. Файлы сохранены.":
        "The archive was imported into the draft; errors found: {count}. The files are kept.",
    "Добавлена форма {path}.": "Form {path} added.",
    "Файл {path} сохранён.": "File {path} saved.",
    "В черновике есть ошибки.": "The draft has errors.",
    'ожидается JSON вида {"content": "текст файла"}': 'expected JSON like {"content": "file text"}',
    # calendars
    "Производственный календарь": "Production calendar",
    "Исправления общего календаря РФ: перенесённые рабочие дни и дополнительные выходные.":
        "Corrections of the Russian production calendar: transferred working days and extra days off.",
    "Сроки, рассчитанные раньше, не меняются.": "Deadlines computed earlier do not change.",
    "Год": "Year",
    "День": "Day",
    "Какой": "Kind",
    "Основание": "Reason",
    "рабочий день": "working day",
    "выходной": "day off",
    "Убрать": "Remove",
    "Исправлений за этот год нет.": "No corrections for this year.",
    "Добавить день": "Add a day",
    "Проверьте поля формы.": "Check the form's fields.",
    "Дата (ГГГГ-ММ-ДД)": "Date (YYYY-MM-DD)",
    "Какой день": "Kind of day",
    "Сохранить день": "Save day",
    "День {day} сохранён.": "Day {day} saved.",
    "День {day} снова по производственному календарю РФ.": "Day {day} follows the Russian production calendar again.",
    "Календари когорт": "Cohort calendars",
    "Даты проектного года из шаблона {key} (раздел cohort_calendar). Пустое поле — дата по умолчанию из шаблона.":
        "Project-year dates from template {key} (the cohort_calendar section). An empty field means the template's "
        "default date.",
    "Проверьте поля формы; ничего не сохранено.": "Check the form's fields; nothing was saved.",
    "Дата": "Date",
    "По шаблону": "Template default",
    "Своя дата когорты": "Cohort's own date",
    "Действует": "In effect",
    "ГГГГ-ММ-ДД": "YYYY-MM-DD",
    "В шаблоне нет дат проектного года.": "The template has no project-year dates.",
    "Сохранить даты": "Save dates",
    "Когорт пока нет.": "No cohorts yet.",
    "Календарь когорты {year} года сохранён.": "The calendar of the {year} cohort has been saved.",
    # input that cannot be read (web/inputs.py)
    "Поле «{name}» должно быть целым числом.": "The field «{name}» must be a whole number.",
    "Поле «{name}» должно быть от {minimum} до {maximum}.": "The field «{name}» must be from {minimum} to {maximum}.",
    "Запись не найдена.": "Not found.",
    "Число в JSON длиннее {digits} цифр.": "A number in the JSON is longer than {digits} digits.",
    "Число в JSON вне допустимого диапазона.": "A number in the JSON is out of range.",
    "{constant} — не значение JSON.": "{constant} is not a JSON value.",
    "Тело запроса больше {size} КБ.": "The request body is larger than {size} KB.",
    "Тело запроса не в кодировке UTF-8 (байт {position}).": "The request body is not UTF-8 (byte {position}).",
    "Тело запроса — не JSON: {reason} (строка {line}, столбец {column}).":
        "The request body is not JSON: {reason} (line {line}, column {column}).",
    "JSON вложен глубже {depth} уровней.": "The JSON is nested deeper than {depth} levels.",
}

_TABLES: dict[str, dict[str, str]] = {"en": EN}


def translate(text: str, lang: str) -> str:
    """``text`` in ``lang``; the Russian text itself for Russian, an unknown language or a missing entry."""
    table = _TABLES.get(lang)
    if table is None:
        return text
    return table.get(text, text)


def current_language() -> str:
    """The language chosen in this session; Russian outside a request or when nothing valid is chosen."""
    if not has_request_context():
        return DEFAULT
    lang = session.get("lang", DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def gettext(text: str, **kwargs: object) -> str:
    """The templates' ``_``: translate into the current language, then fill in ``{name}`` placeholders."""
    translated = translate(text, current_language())
    return translated.format(**kwargs) if kwargs else translated


blueprint = Blueprint("i18n", __name__)


@blueprint.route("/lang/<code>")
def switch(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(local_path(request.args.get("next")))


def _language_context() -> dict[str, str]:
    return {"lang": current_language()}


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals["_"] = gettext
    app.context_processor(_language_context)
