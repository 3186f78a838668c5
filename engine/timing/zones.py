"""Time zones of regions: IANA names checked with ``zoneinfo``, and how a moment is shown to people.

Russia spans eleven zones; a region names its own (``Region.time_zone``), Moscow's by default. Moments
are stored in UTC; dates a person means («до 1 марта», «5 рабочих дней») are dates of the school's zone.
People read a time with its zone named the Russian way — «МСК», «МСК+9», «МСК−1» — relative to Moscow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine import caches

DEFAULT_ZONE = "Europe/Moscow"
MAX_ZONE_NAME = 64


@lru_cache(maxsize=128)  # Russia has 11 zones; a name is checked when stored
def zone(name: str | None) -> ZoneInfo:
    """The zone of a region's stored name (Moscow's for none): names are checked when stored."""
    return ZoneInfo(name or DEFAULT_ZONE)


caches.register_lru("zones", zone)


MOSCOW_ZONE = zone(DEFAULT_ZONE)


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_errors(text: str) -> list[str]:
    """Why ``text`` is not a time zone a region may have (empty when it is)."""
    name = text.strip()
    if not name:
        return ["Укажите часовой пояс (например, Europe/Moscow, Asia/Novosibirsk, Asia/Kamchatka)."]
    if len(name) > MAX_ZONE_NAME or name not in _known():
        return [f"Часовой пояс «{name[:MAX_ZONE_NAME]}» неизвестен: ожидается имя IANA, "
                "например Europe/Kaliningrad, Europe/Moscow, Asia/Kamchatka."]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"Часовой пояс «{name}» неизвестен."]
    return []


def russian_zones() -> list[str]:
    """The zones of Russia, west to east, for a form's suggestions."""
    return sorted((name for name in _known() if name in _RUSSIA), key=lambda n: (_utc_offset(n), n))


def _utc_offset(name: str) -> timedelta:
    return datetime(2026, 1, 1, tzinfo=zone(name)).utcoffset() or timedelta(0)


_RUSSIA = frozenset({
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Simferopol", "Europe/Kirov", "Europe/Volgograd",
    "Europe/Astrakhan", "Europe/Samara", "Europe/Saratov", "Europe/Ulyanovsk", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Novosibirsk", "Asia/Barnaul", "Asia/Tomsk", "Asia/Novokuznetsk", "Asia/Krasnoyarsk", "Asia/Irkutsk",
    "Asia/Chita", "Asia/Yakutsk", "Asia/Khandyga", "Asia/Vladivostok", "Asia/Ust-Nera", "Asia/Magadan",
    "Asia/Sakhalin", "Asia/Srednekolymsk", "Asia/Kamchatka", "Asia/Anadyr",
})


def zone_label(moment: datetime) -> str:
    """«МСК», «МСК+9», «МСК−1»: the zone of an aware ``moment`` named relative to Moscow's time."""
    here = moment.utcoffset() or timedelta(0)
    moscow = moment.astimezone(MOSCOW_ZONE).utcoffset() or timedelta(0)
    if here == moscow:
        return "МСК"
    sign = "+" if here > moscow else "−"
    total = abs(int((here - moscow).total_seconds()))
    shown = f"{total // 3600}" + (f":{total % 3600 // 60:02d}" if total % 3600 else "")
    return f"МСК{sign}{shown}"


def local_time(moment: datetime | None, zone_name: str | None = None, *, empty: str = "без срока") -> str:
    """«01.03.2027 23:59 (МСК+9)»: a stored moment in a zone, with the zone named."""
    if moment is None:
        return empty
    here = moment.astimezone(zone(zone_name))
    return f"{here:%d.%m.%Y %H:%M} ({zone_label(here)})"
