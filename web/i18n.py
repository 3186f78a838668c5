"""Two languages for the web UI: Russian (the default, and the language every text is written in) and English.

The Russian text is its own message id (gettext): templates write ``{{ _('Мои задачи') }}``, views
``gettext("Пароль изменён.")``, and a text defined in one place and shown in another is marked ``N_("…")``
where it is defined. The catalogs are ``web/translations/<lang>/LC_MESSAGES/messages.po`` (English, and
Russian for the plural forms: «1 рабочий день, 3 рабочих дня, 5 рабочих дней»); ``make translations``
extracts the texts and updates both, and a test fails while a text has no English. A text missing from a
catalog stays Russian, so a forgotten entry never breaks a page. Dates and numbers come from Babel's locale
data (``format_day``: «2 декабря 2026 г.»). The user picks a language with ``GET /lang/ru`` or
``GET /lang/en`` (links in the page header); the choice lives in the session.

Deliberately left in Russian (they are data, not UI text, or come from elsewhere):
- form field labels, hints and options of task forms and questionnaires (the template's form definitions);
- stage titles, task names and questionnaire titles (the BPMN diagram and the template manifest);
- names of regions, municipalities and schools, user names and role codes (the organisation data);
- engine error messages shown as they are (``err.message``, e.g. «Неверный логин или пароль»);
- e-mail and in-app notification texts (written by the engine and the workers);
- the Excel export (built by ``engine.reports.dashboards``) and the «500+» brand.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import flask_babel
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Blueprint, Flask, has_request_context, redirect, request, session
from werkzeug.wrappers import Response

from engine import caches
from engine.labels import N_
from web.session import local_path, viewer_zone_name

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
TRANSLATIONS = Path(__file__).parent / "translations"

__all__ = ["DEFAULT", "LANGUAGES", "N_", "current_language", "format_day", "gettext", "init_app", "ngettext"]


@lru_cache(maxsize=8)  # the languages offered (LANGUAGES), plus room for a stray one
def catalog(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang``, read from its ``.po`` once per process (no ``.mo`` files to build
    or to go stale); an unknown language gets the texts as they are."""
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        messages = read_po(source, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled)


caches.register_lru("translation_catalogs", catalog)


class _Catalogs(flask_babel.Domain):  # type: ignore[misc]
    """Flask-Babel's domain, with the catalogs read from the ``.po`` files by ``catalog``."""

    def get_translations(self) -> NullTranslations:
        return catalog(current_language())


def current_language() -> str:
    """The language chosen in this session; Russian outside a request or when nothing valid is chosen."""
    if not has_request_context():
        return DEFAULT
    lang = session.get("lang", DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def gettext(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{name}`` placeholders filled from ``values``."""
    translated = catalog(current_language()).ugettext(text)
    return translated.format(**values) if values else translated


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    """The form of a counted text for ``n`` in the current language («1 рабочий день», «3 рабочих дня»);
    ``{n}`` and the other placeholders are filled in."""
    return catalog(current_language()).ungettext(singular, plural, n).format(n=n, **values)


def format_day(value: date | datetime) -> str:
    """A date as people write it in the current language: «2 декабря 2026 г.», "December 2, 2026"."""
    return str(flask_babel.format_date(value, format="long"))


def workdays_left(n: int) -> str:
    """«осталось 3 рабочих дня», «остался 1 рабочий день», «сегодня последний день» (n = 0)."""
    if n <= 0:
        return gettext("срок сегодня")
    return ngettext("остался {n} рабочий день", "осталось {n} рабочих дней", n)


def zoom_labels() -> dict[str, str]:
    """The diagram's zoom buttons, named in the current language (web/assets/diagram.js)."""
    return {"in": gettext("Крупнее"), "out": gettext("Мельче"), "fit": gettext("Вписать схему"),
            "reset": gettext("Масштаб 100 %")}


blueprint = Blueprint("i18n", __name__)


@blueprint.route("/lang/<code>")
def switch(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(local_path(request.args.get("next")))


def _language_context() -> dict[str, str]:
    return {"lang": current_language()}


def _zone() -> str:
    """Babel's zone for dates (``|day``): the reader's, outside a request Moscow's."""
    return viewer_zone_name() if has_request_context() else "Europe/Moscow"


def init_app(app: Flask) -> None:
    flask_babel.Babel(app, locale_selector=current_language, timezone_selector=_zone,
                      default_domain=_Catalogs(), default_timezone="Europe/Moscow")
    app.register_blueprint(blueprint)
    app.jinja_env.globals.update(_=gettext, ngettext=ngettext, workdays_left=workdays_left, zoom_labels=zoom_labels)
    app.jinja_env.filters["day"] = format_day
    app.context_processor(_language_context)
