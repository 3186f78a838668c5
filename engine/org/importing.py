"""Import of regions, municipalities, schools, users and role grants from a CSV or XLSX file.

One row per record; a ``kind`` (``тип``) column says what the row is. Every row is checked before
anything is written, and every problem is reported with the row number the user sees in the file.
The valid part is then written by ONE ``apply_org`` call — one transaction, so a failure leaves
nothing half-imported, and importing the same file again changes nothing.

References (a municipality's region, a school's municipality, a grant's user and scope) must point
to a row above in the file or to a record already in the database: the file is read top-down, the
way it describes the hierarchy, and a row referring to an invalid row is itself invalid.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.actors import Who
from engine.db import Database
from engine.errors import EngineError
from engine.models import Municipality, Region, School, User
from engine.org.core import GrantRow, OrgData, UserRow, apply_org, operator_or_admin
from engine.roles import ROLE_TITLES, SCOPE_OF_ROLE, Role, ScopeLevel
from engine.timing.zones import zone_errors

Row = tuple[int, dict[str, str]]
Progress = Callable[[int], None]

#: Canonical column -> accepted header names (compared case-insensitively, spaces as ``_``).
_COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "kind": ("kind", "тип"),
    "code": ("code", "код"),
    "name": ("name", "название", "наименование"),
    "parent": ("parent", "родитель"),
    "login": ("login", "логин"),
    "full_name": ("full_name", "фио"),
    "email": ("email", "e_mail", "почта", "электронная_почта"),
    "role": ("role", "роль"),
    "scope": ("scope", "область_действия"),
    "time_zone": ("time_zone", "timezone", "часовой_пояс"),
}
_HEADER_TO_COLUMN = {alias: column for column, aliases in _COLUMN_NAMES.items() for alias in aliases}
COLUMNS: tuple[str, ...] = tuple(_COLUMN_NAMES)

_KIND_NAMES: dict[str, tuple[str, ...]] = {
    "region": ("region", "регион"),
    "municipality": ("municipality", "муниципалитет"),
    "school": ("school", "школа"),
    "user": ("user", "пользователь"),
    "grant": ("grant", "role", "роль"),
}
_KINDS = {alias: kind for kind, aliases in _KIND_NAMES.items() for alias in aliases}
KINDS: tuple[str, ...] = tuple(_KIND_NAMES)
_KIND_TITLES = {"region": "регион", "municipality": "муниципалитет", "school": "школа",
                "user": "пользователь"}
_LEVEL_KIND = {ScopeLevel.SCHOOL: "school", ScopeLevel.MUNICIPALITY: "municipality",
               ScopeLevel.REGION: "region"}
_LEVEL_TITLES = {"school": "школу", "municipality": "муниципалитет", "region": "регион"}
_OF_KIND = {"school": "школы", "municipality": "муниципалитета", "region": "региона"}
_TO_KIND = {"school": "школе", "municipality": "муниципалитету"}
_CODE_COLUMNS: dict[str, InstrumentedAttribute[str]] = {
    "region": Region.code, "municipality": Municipality.code, "school": School.code,
}
# Column sizes of the tables: PostgreSQL would refuse longer values in the middle of the write.
_MAX_LENGTH = {"code": 32, "login": 100, "full_name": 255, "email": 255}
_MAX_NAME = {"region": 255, "municipality": 255, "school": 500}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _norm(text: str) -> str:
    """Header, kind and role spelling as people type it: any case, ``_`` or spaces, ё or е."""
    return " ".join(text.replace("_", " ").split()).casefold().replace("ё", "е")


_ROLES: dict[str, Role] = {
    **{_norm(role.value): role for role in Role},
    **{_norm(title): role for role, title in ROLE_TITLES.items()},
    "федеральный координатор": Role.FEDERAL,
}
_ROLE_HINT = ("школа, куратор, муниципальный координатор, региональный координатор, федеральный координатор,"
              f" администратор (или {', '.join(role.value for role in Role)})")


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based, as the user sees it in the file; the header is row 1
    message: str

    def format(self) -> str:
        return f"строка {self.row}: {self.message}"


@dataclass
class ImportReport:
    rows: int  # non-blank data rows in the file
    imported: dict[str, int]  # kind -> records written; all zero unless ``applied``
    errors: list[RowError]
    applied: bool


# --- reading --------------------------------------------------------------------------------------

def read_org_file(path: Path) -> list[Row]:
    """The data rows of a CSV or XLSX file: (row number, canonical column -> trimmed value)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix == ".xlsx":
        table = _read_xlsx(path)
    else:
        raise EngineError(f"Файл «{path.name}»: неизвестный формат «{suffix or 'без расширения'}»."
                          " Нужен CSV в кодировке UTF-8 или XLSX (Excel 2007 и новее).")
    return _records(table, path.name)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise EngineError(f"Не удалось прочитать файл «{path.name}»: {err.strerror or err}") from err


def _read_csv(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = _read_bytes(path).decode("utf-8-sig")  # Excel writes a BOM in «CSV UTF-8»
    except UnicodeDecodeError as err:
        raise EngineError(f"Файл «{path.name}» не в кодировке UTF-8 (ошибка в байте {err.start + 1})."
                          " В Excel сохраните его как «CSV UTF-8 (разделитель — запятая)».") from err
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    table: list[tuple[int, list[str]]] = []
    start = 1  # a quoted value may span lines: a record is numbered by the line it starts on
    try:
        for cells in reader:
            table.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise EngineError(f"Файл «{path.name}», строка {reader.line_num}: CSV повреждён ({err}).") from err
    return table


def _delimiter(text: str) -> str:
    """The separator the header line uses most: Russian Excel writes ';', others ',' or tab."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(";,\t", key=header.count) if header else ","


def _read_xlsx(path: Path) -> list[tuple[int, list[str]]]:
    # Imported here: only XLSX files need it, and it is slow to import for every CLI command.
    import openpyxl

    _read_bytes(path)  # a missing or unreadable file gets the plain message, not "damaged"
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it drops; they do not touch cell values.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as err:  # a damaged file fails in zipfile, XML or openpyxl code alike
        raise EngineError(f"Файл «{path.name}» не читается как XLSX: он повреждён или это другой формат"
                          f" ({type(err).__name__}).") from err
    try:
        if not book.worksheets:
            raise EngineError(f"В файле «{path.name}» нет ни одного листа с данными.")
        rows = book.worksheets[0].iter_rows(values_only=True)
        return [(number, [_cell_text(value) for value in values]) for number, values in enumerate(rows, 1)]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number must not become "12345.0"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _records(table: list[tuple[int, list[str]]], file_name: str) -> list[Row]:
    filled = [(number, cells) for number, cells in table if any(cell.strip() for cell in cells)]
    if not filled:
        raise EngineError(f"Файл «{file_name}» пуст: нет даже строки заголовков.")
    (_, header), *body = filled
    columns = _columns(header, file_name)
    records = [(number, _row_values(cells, columns)) for number, cells in body]
    return [(number, values) for number, values in records if any(values.values())]


def _columns(header: Sequence[str], file_name: str) -> dict[int, str]:
    """Cell index -> canonical column; unknown headers (notes, comments) are ignored."""
    columns: dict[int, str] = {}
    for index, title in enumerate(header):
        column = _HEADER_TO_COLUMN.get(_norm(title).replace(" ", "_"))
        if column is None:
            continue
        if column in columns.values():
            raise EngineError(f"Файл «{file_name}»: столбец «{title.strip()}» повторяется"
                              f" (он означает то же, что и другой столбец «{column}»).")
        columns[index] = column
    found = set(columns.values())
    if "kind" not in found or not found & {"code", "login"}:
        raise EngineError(f"Файл «{file_name}»: в строке заголовков (первой непустой) нет обязательных столбцов."
                          " Нужны столбцы «тип» (kind) и «код» (code) или «логин» (login);"
                          f" найдены: {', '.join(h.strip() for h in header if h.strip()) or 'ничего'}.")
    return columns


def _row_values(cells: Sequence[str], columns: dict[int, str]) -> dict[str, str]:
    values = dict.fromkeys(COLUMNS, "")
    for index, column in columns.items():
        if index < len(cells):
            values[column] = cells[index].strip()
    return values


# --- checking -------------------------------------------------------------------------------------

def check_rows(session: Session, rows: Sequence[Row], *,
               progress: Progress | None = None) -> tuple[OrgData, list[RowError]]:
    """Every problem of every row, and the OrgData of the rows that have none."""
    checker = _Checker(session)
    for number, values in rows:
        checker.check(number, values)
        if progress is not None:
            progress(1)
    return checker.data(), checker.errors


@dataclass
class _Checker:
    """Reads rows top-down, remembering what valid rows above defined and what the database has."""

    session: Session
    errors: list[RowError] = field(default_factory=list)
    # (kind, code or login) -> first row defining it: valid ones, and all of them (for duplicates)
    defined: dict[tuple[str, str], int] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    regions: list[tuple[str, str]] = field(default_factory=list)
    region_zones: dict[str, str] = field(default_factory=dict)
    municipalities: list[tuple[str, str, str]] = field(default_factory=list)
    schools: list[tuple[str, str, str]] = field(default_factory=list)
    users: list[UserRow] = field(default_factory=list)
    grants: dict[GrantRow, None] = field(default_factory=dict)  # ordered set: repeats are harmless
    _in_db: dict[tuple[str, str], bool | None] = field(default_factory=dict)

    def data(self) -> OrgData:
        return OrgData(regions=self.regions, region_zones=self.region_zones, municipalities=self.municipalities,
                       schools=self.schools, users=self.users, grants=tuple(self.grants))

    def check(self, number: int, values: dict[str, str]) -> None:
        kind = _KINDS.get(_norm(values["kind"]))
        if kind == "grant":
            self._grant(number, values)
        elif kind == "user":
            self._user(number, values)
        elif kind is not None:
            self._unit(number, kind, values)
        else:
            problem = (f"неизвестный тип записи «{values['kind']}»" if values["kind"] else "не указан тип записи")
            self._accept(number, None, [f"{problem}: ожидается регион, муниципалитет, школа, пользователь"
                                        " или роль"])

    def _accept(self, number: int, key: tuple[str, str] | None, problems: list[str]) -> bool:
        if key is not None and key[1]:
            self.seen.setdefault(key, number)
        self.errors.extend(RowError(number, problem) for problem in problems)
        if problems:
            return False
        if key is not None:
            self.defined[key] = number
        return True

    # rows

    def _unit(self, number: int, kind: str, values: dict[str, str]) -> None:
        code, name, parent = values["code"], values["name"], values["parent"]
        problems = self._key_problems(kind, code, "код")
        problems += _required(name, "название", _MAX_NAME[kind])
        if kind != "region":
            parent_kind = "region" if kind == "municipality" else "municipality"
            problems += self._parent_problems(parent_kind, parent)
        time_zone = values["time_zone"]
        if time_zone and kind != "region":
            problems.append(f"часовой пояс задаётся региону, а не {_TO_KIND[kind]}: "
                            "у школ и муниципалитетов он тот же, что у их региона")
        elif time_zone:
            problems += [message[0].lower() + message[1:] for message in zone_errors(time_zone)]
        if not self._accept(number, (kind, code), problems):
            return
        if kind == "region":
            self.regions.append((code, name))
            if time_zone:
                self.region_zones[code] = time_zone
        elif kind == "municipality":
            self.municipalities.append((code, name, parent))
        else:
            self.schools.append((code, name, parent))

    def _user(self, number: int, values: dict[str, str]) -> None:
        login, email = values["login"], values["email"]
        problems = self._key_problems("user", login, "логин")
        problems += _required(values["full_name"], "ФИО", _MAX_LENGTH["full_name"])
        problems += _email_problems(email)
        grant: GrantRow | None = None
        if values["role"] or values["scope"]:
            grant, grant_problems = self._grant_problems(login, values["role"], values["scope"])
            problems += grant_problems
            if login and self._user_in_db(login) is False:
                problems.append(f"пользователь «{login}» отключён в системе — роль ему выдать нельзя")
        if self._accept(number, ("user", login), problems):
            self.users.append(UserRow(login, values["full_name"], email or None))
            if grant is not None:
                self.grants[grant] = None

    def _grant(self, number: int, values: dict[str, str]) -> None:
        login = values["login"]
        problems = [self._user_problem(login)] if login else ["не указан логин пользователя"]
        grant, grant_problems = self._grant_problems(login, values["role"], values["scope"])
        problems = [p for p in problems if p] + grant_problems
        if self._accept(number, None, problems) and grant is not None:
            self.grants[grant] = None

    # parts of rows

    def _key_problems(self, kind: str, key: str, title: str) -> list[str]:
        problems = _required(key, title, _MAX_LENGTH["login" if kind == "user" else "code"])
        first = self.seen.get((kind, key))
        if key and first is not None:
            problems.append(f"{title} «{key}» уже встречался в строке {first}")
        return problems

    def _parent_problems(self, kind: str, code: str) -> list[str]:
        if not code:
            return [f"не указан родитель — код {_OF_KIND[kind]}"]
        problem = self._reference_problem(kind, code)
        return [problem] if problem else []

    def _grant_problems(self, login: str, role_text: str, scope: str) -> tuple[GrantRow | None, list[str]]:
        if not role_text:
            return None, ["не указана роль"]
        role = _ROLES.get(_norm(role_text))
        if role is None:
            return None, [f"неизвестная роль «{role_text}»; допустимы: {_ROLE_HINT}"]
        problem = self._scope_problem(role, scope)
        return (None, [problem]) if problem else (GrantRow(login, role, scope or None), [])

    def _scope_problem(self, role: Role, scope: str) -> str | None:
        title = f"«{ROLE_TITLES[role]}»"
        level = SCOPE_OF_ROLE[role]
        if level is ScopeLevel.COUNTRY:
            return f"роль {title} выдаётся на всю страну, область действия «{scope}» лишняя" if scope else None
        kind = _LEVEL_KIND[level]
        if not scope:
            return f"для роли {title} нужна область действия — код {_OF_KIND[kind]}"
        problem = self._reference_problem(kind, scope)
        if problem is None:
            return None
        # The commonest slip: a right code of the wrong level (a curator put on a municipality).
        other = next((k for k in _OF_KIND if k != kind and self._known(k, scope)), None)
        if other is not None:
            return f"роль {title} выдаётся на {_LEVEL_TITLES[kind]}, а «{scope}» — код {_OF_KIND[other]}"
        return problem

    def _reference_problem(self, kind: str, code: str) -> str | None:
        if self._known(kind, code):
            return None
        noun = f"{_KIND_TITLES[kind]} «{code}»"
        found = "найдена" if kind == "school" else "найден"
        broken = self.seen.get((kind, code))
        if broken is not None:
            return f"{noun} из строки {broken} не импортируется: в той строке ошибка"
        return f"{noun} не {found} ни выше в файле, ни в базе"

    def _user_problem(self, login: str) -> str | None:
        active = self._user_in_db(login)
        if active is False:
            return f"пользователь «{login}» отключён в системе — роль ему выдать нельзя"
        if active or ("user", login) in self.defined:
            return None
        broken = self.seen.get(("user", login))
        if broken is not None:
            return f"пользователь «{login}» из строки {broken} не импортируется: в той строке ошибка"
        return f"пользователь «{login}» не найден ни выше в файле, ни в базе"

    # lookups

    def _known(self, kind: str, code: str) -> bool:
        return (kind, code) in self.defined or self._in_database(kind, code)

    def _in_database(self, kind: str, code: str) -> bool:
        if (kind, code) not in self._in_db:
            column = _CODE_COLUMNS[kind]
            self._in_db[kind, code] = self.session.scalar(select(column).where(column == code)) is not None
        return bool(self._in_db[kind, code])

    def _user_in_db(self, login: str) -> bool | None:
        """True for an active user, False for a deactivated one, None for an unknown login."""
        if ("user", login) not in self._in_db:
            self._in_db["user", login] = self.session.scalar(select(User.is_active).where(User.login == login))
        return self._in_db["user", login]


def _required(value: str, title: str, max_length: int) -> list[str]:
    if not value:
        return [f"не указано поле «{title}»"]
    if len(value) > max_length:
        return [f"поле «{title}» длиннее {max_length} символов"]
    return []


def _email_problems(email: str) -> list[str]:
    if not email:
        return []
    if len(email) > _MAX_LENGTH["email"] or not _EMAIL.fullmatch(email):
        return [f"некорректный адрес почты «{email}»"]
    return []


# --- importing ------------------------------------------------------------------------------------

def import_org(db: Database, path: Path, *, actor: Who, force: bool = False,
               progress: Progress | None = None) -> ImportReport:
    """Check the whole file; write it (with ``force``: its valid rows) in one ``apply_org`` call.
    For admins and the operator (``roadmap import-org``)."""
    with db.reading() as session:
        operator_or_admin(session, actor, "импорт оргструктуры — для администратора")
    rows = read_org_file(path)
    with db.reading() as session:
        data, errors = check_rows(session, rows, progress=progress)
    counts = _counts(data)
    if (errors and not force) or not any(counts.values()):
        return ImportReport(len(rows), dict.fromkeys(KINDS, 0), errors, applied=False)
    apply_org(db, data)
    return ImportReport(len(rows), counts, errors, applied=True)


def _counts(data: OrgData) -> dict[str, int]:
    return {"region": len(data.regions), "municipality": len(data.municipalities),
            "school": len(data.schools), "user": len(data.users), "grant": len(data.grants)}
