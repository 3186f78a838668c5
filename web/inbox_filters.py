"""The inbox's filters: read from the query string with the API's own schema, and remembered per browser.

Why a cookie and not a column on the user: the filters are how this person looks at the list on this device
(a phone and a desk computer may well differ), like the page's URL; keeping them needs no schema change, and
opening the inbox stays a read (``db.reading()``) instead of a write on every GET. The cookie holds the
canonical query string and the login it belongs to, so on a shared computer the next user does not inherit
them; what it holds is read with the same schema as a typed URL, so a forged cookie is only as good as a URL,
and one that no longer parses is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from marshmallow import EXCLUDE, ValidationError
from werkzeug.wrappers import Response

from engine.errors import FormInvalid
from engine.process.task_pages import decode
from web.api.schemas import TaskQuery
from web.i18n import gettext
from web.inputs import InputRejected

COOKIE = "inbox_filters"
MAX_AGE = 180 * 24 * 3600  # half a year: a school year's habits
_DEFAULTS = {"sort": "due", "assigned": "all", "overdue": False}
#: Query parameters that are not filters: they never make the cookie, nor count as "a query was given".
NOT_FILTERS = frozenset({"reset", "after"})


def parse(args: Mapping[str, str]) -> dict[str, Any]:
    """``tasks.list_tasks`` keywords from a query string; a broken value is InputRejected (400) naming it."""
    try:
        loaded: dict[str, Any] = TaskQuery(unknown=EXCLUDE).load(dict(args))
    except ValidationError as err:
        fields = ", ".join(sorted(str(name) for name in err.messages))
        raise InputRejected(gettext("Фильтр задан неверно: {fields}.", fields=fields)) from None
    return loaded


def cursor(args: Mapping[str, str]) -> str | None:
    """The page's position (``after``, from the previous page's link); a broken one is InputRejected (400)."""
    after = args.get("after") or None
    if after is not None:
        try:
            decode(args.get("sort") or "due", after)
        except FormInvalid:
            raise InputRejected(gettext("Ссылка на страницу списка устарела или испорчена: откройте список "
                                        "с начала.")) from None
    return after


def query_string(filters: Mapping[str, Any]) -> str:
    """The filters that differ from the defaults, as a query string (dates in ISO form)."""
    shown = {name: value for name, value in filters.items() if value not in (None, "") and
             _DEFAULTS.get(name) != value}
    return urlencode({name: ("1" if value is True else str(value)) for name, value in sorted(shown.items())})


def remembered(cookies: Mapping[str, str], login: str) -> str:
    """The query string this user last filtered the inbox with in this browser, or ''."""
    owner, _, query = cookies.get(COOKIE, "").partition("|")
    if owner != login or not query:
        return ""
    try:
        return query_string(parse(dict(parse_qsl(query))))
    except InputRejected:
        return ""  # a cookie from an older version or edited by hand: forget it rather than fail


def remember(response: Response, login: str, query: str, *, secure: bool) -> None:
    if query:
        response.set_cookie(COOKIE, f"{login}|{query}", max_age=MAX_AGE, httponly=True, samesite="Lax",
                            secure=secure)
    else:
        forget(response)


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE)
