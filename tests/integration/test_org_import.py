"""Import of the org structure from CSV/XLSX: checks with row numbers, all-or-nothing, idempotent."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from engine.actors import OPERATOR
from engine.db import Database
from engine.errors import EngineError
from engine.models import Municipality, Region, RoleGrant, School, User
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.org.importing import check_rows, import_org, read_org_file
from engine.roles import Role
from tests.conftest import unique

RU_HEADER = ["Тип", "Код", "Название", "Родитель", "Логин", "ФИО", "Почта", "Роль", "Область действия"]
EN_HEADER = ["kind", "code", "name", "parent", "login", "full_name", "email", "role", "scope"]


@dataclass(frozen=True)
class Codes:
    region: str
    municipality: str
    school: str
    other_school: str
    curator: str
    municipal: str
    federal: str


def _codes() -> Codes:
    tag = unique()
    return Codes(region=f"R{tag}", municipality=f"M{tag}", school=f"S{tag}", other_school=f"T{tag}",
                 curator=f"cur-{tag}", municipal=f"mun-{tag}", federal=f"fed-{tag}")


def _good_rows(c: Codes) -> list[list[str]]:
    """Header first; a blank row in the middle (row 6) that the import must skip."""
    return [
        RU_HEADER,
        ["регион", c.region, "Тестовая область", "", "", "", "", "", ""],
        ["Муниципалитет", c.municipality, "Тестовый район", c.region, "", "", "", "", ""],
        ["школа", c.school, "МБОУ «СОШ № 1»", c.municipality, "", "", "", "", ""],
        ["школа", c.other_school, "МБОУ «СОШ № 2»; корпус 2", c.municipality, "", "", "", "", ""],
        ["", "", "", "", "", "", "", "", ""],
        ["пользователь", "", "", "", c.curator, "Иванова Мария Петровна", "ivanova@example.ru", "куратор",
         c.school],
        ["пользователь", "", "", "", c.municipal, "Петров Пётр", "", "", ""],
        ["пользователь", "", "", "", c.federal, "Сидоров Сидор", "", "", ""],
        ["роль", "", "", "", c.municipal, "", "", "Муниципальный координатор", c.municipality],
        ["роль", "", "", "", c.curator, "", "", "curator", c.other_school],
        ["роль", "", "", "", c.federal, "", "", "федеральный координатор", ""],
    ]


def _write_csv(path: Path, rows: list[list[str]], delimiter: str = ";", bom: bool = True) -> Path:
    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or '"' in value or "\n" in value else value
    text = "\r\n".join(delimiter.join(cell(value) for value in row) for row in rows) + "\r\n"
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="")
    return path


def _write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _grants(db: Database, login: str) -> set[tuple[str, int | None, int | None, int | None]]:
    with db.reading() as session:
        rows = session.execute(select(RoleGrant.role, RoleGrant.school_id, RoleGrant.municipality_id,
                                      RoleGrant.region_id).join(User).where(User.login == login)).all()
    return {(str(role), school, municipality, region) for role, school, municipality, region in rows}


def _unit_ids(db: Database, c: Codes) -> tuple[int, int, int, int]:
    with db.reading() as session:
        region = session.scalars(select(Region).where(Region.code == c.region)).one()
        municipality = session.scalars(select(Municipality).where(Municipality.code == c.municipality)).one()
        school = session.scalars(select(School).where(School.code == c.school)).one()
        other = session.scalars(select(School).where(School.code == c.other_school)).one()
        assert municipality.region_id == region.id
        assert (school.municipality_id, school.region_id) == (municipality.id, region.id)
        assert other.name == "МБОУ «СОШ № 2»; корпус 2"
        return region.id, municipality.id, school.id, other.id


def _assert_good_import(db: Database, c: Codes) -> None:
    region_id, municipality_id, school_id, other_id = _unit_ids(db, c)
    with db.reading() as session:
        curator = session.scalars(select(User).where(User.login == c.curator)).one()
        municipal = session.scalars(select(User).where(User.login == c.municipal)).one()
    assert (curator.full_name, curator.email) == ("Иванова Мария Петровна", "ivanova@example.ru")
    assert municipal.email is None
    assert _grants(db, c.curator) == {("curator", school_id, None, None), ("curator", other_id, None, None)}
    assert _grants(db, c.municipal) == {("municipal_coordinator", None, municipality_id, None)}
    assert _grants(db, c.federal) == {("federal", None, None, None)}


def _count(db: Database, model: type[Region] | type[Municipality] | type[School], codes: list[str]) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.code.in_(codes))) or 0


EXPECTED = {"region": 1, "municipality": 1, "school": 2, "user": 3, "grant": 4}


def test_semicolon_csv_with_russian_headers_imports_everything_idempotently(db: Database, tmp_path: Path) -> None:
    c = _codes()
    path = _write_csv(tmp_path / "org.csv", _good_rows(c))

    first = import_org(db, path, actor=OPERATOR)

    assert (first.errors, first.applied, first.rows, first.imported) == ([], True, 10, EXPECTED)
    _assert_good_import(db, c)
    ids = _unit_ids(db, c)

    second = import_org(db, path, actor=OPERATOR)

    assert (second.errors, second.applied, second.imported) == ([], True, EXPECTED)
    assert _unit_ids(db, c) == ids
    assert _count(db, School, [c.school, c.other_school]) == 2
    _assert_good_import(db, c)  # sets of grants: no duplicates appeared


def test_xlsx_with_english_headers_imports_the_same(db: Database, tmp_path: Path) -> None:
    c = _codes()
    numeric_code = random.randint(10**9, 10**10)  # a code Excel stores as a number
    rows: list[Sequence[object]] = [EN_HEADER, *_good_rows(c)[1:]]
    rows.append(["school", numeric_code, "МБОУ «СОШ № 3»", c.municipality, None, None, None, None, None])
    path = _write_xlsx(tmp_path / "org.xlsx", rows)

    report = import_org(db, path, actor=OPERATOR)

    assert (report.errors, report.applied, report.imported) == ([], True, {**EXPECTED, "school": 3})
    _assert_good_import(db, c)
    assert _count(db, School, [str(numeric_code)]) == 1
    assert import_org(db, path, actor=OPERATOR).imported == {**EXPECTED, "school": 3}
    _assert_good_import(db, c)


def _bad_rows(c: Codes) -> list[list[str]]:
    return [
        EN_HEADER,                                                                   # 1
        ["region", c.region, "Область", "", "", "", "", "", ""],                     # 2 fine
        ["municipality", c.municipality, "Район", "NO-SUCH-REGION", "", "", "", "", ""],  # 3
        ["school", c.school, "", c.municipality, "", "", "", "", ""],                # 4 no name, bad parent
        ["", "", "", "", "", "", "", "", ""],                                        # 5 blank
        ["user", "", "", "", c.curator, "Иванов", "not-an-email", "", ""],            # 6
        ["grant", "", "", "", c.curator, "", "", "директор", c.school],              # 7
        ["region", c.region, "Область ещё раз", "", "", "", "", "", ""],             # 8 duplicate
        ["district", "X", "Что-то", "", "", "", "", "", ""],                          # 9
        ["grant", "", "", "", unique("ghost-"), "", "", "federal", ""],              # 10
    ]


def test_bad_rows_are_reported_with_their_numbers_and_nothing_is_imported(db: Database, tmp_path: Path) -> None:
    c = _codes()
    path = _write_csv(tmp_path / "bad.csv", _bad_rows(c), delimiter=",", bom=False)

    report = import_org(db, path, actor=OPERATOR)

    assert report.applied is False
    assert report.imported == dict.fromkeys(EXPECTED, 0)
    by_row = {error.row: error.format() for error in report.errors}
    assert sorted(by_row) == [3, 4, 6, 7, 8, 9, 10]
    assert "регион «NO-SUCH-REGION» не найден ни выше в файле, ни в базе" in by_row[3]
    assert by_row[4].startswith("строка 4: ")
    assert {e.message for e in report.errors if e.row == 4} >= {"не указано поле «название»"}
    assert "почты" in by_row[6]
    assert "неизвестная роль «директор»" in by_row[7]
    assert "уже встречался в строке 2" in by_row[8]
    assert "неизвестный тип записи «district»" in by_row[9]
    assert "не найден ни выше в файле, ни в базе" in by_row[10]
    assert _count(db, Region, [c.region]) == 0


def test_force_imports_only_the_valid_rows(db: Database, tmp_path: Path) -> None:
    c = _codes()
    rows = [
        EN_HEADER,
        ["region", c.region, "Область", "", "", "", "", "", ""],                          # 2
        ["municipality", c.municipality, "", c.region, "", "", "", "", ""],               # 3 no name
        ["school", c.school, "Школа", c.municipality, "", "", "", "", ""],                # 4 depends on 3
        ["user", "", "", "", c.curator, "Иванов", "", "curator", c.school],               # 5 depends on 4
        ["user", "", "", "", c.federal, "Федоров", "", "", ""],                           # 6 fine
        ["grant", "", "", "", c.federal, "", "", "federal", ""],                          # 7 fine
        ["grant", "", "", "", c.curator, "", "", "admin", ""],                            # 8 depends on 5
    ]
    path = _write_csv(tmp_path / "partial.csv", rows, delimiter="\t")

    report = import_org(db, path, force=True, actor=OPERATOR)

    assert report.applied is True
    assert report.imported == {"region": 1, "municipality": 0, "school": 0, "user": 1, "grant": 1}
    assert sorted({e.row for e in report.errors}) == [3, 4, 5, 8]
    messages = {e.row: e.message for e in report.errors}
    assert "из строки 3 не импортируется" in messages[4]
    assert "из строки 4 не импортируется" in messages[5]
    assert "из строки 5 не импортируется" in messages[8]
    assert _count(db, Region, [c.region]) == 1
    assert _count(db, Municipality, [c.municipality]) == 0
    assert _count(db, School, [c.school]) == 0
    assert _grants(db, c.federal) == {("federal", None, None, None)}
    assert _grants(db, c.curator) == set()


def test_a_scope_that_does_not_fit_the_role_is_rejected(db: Database, tmp_path: Path) -> None:
    c = _codes()
    rows = [
        RU_HEADER,
        ["регион", c.region, "Область", "", "", "", "", "", ""],
        ["муниципалитет", c.municipality, "Район", c.region, "", "", "", "", ""],
        ["школа", c.school, "Школа", c.municipality, "", "", "", "", ""],
        ["пользователь", "", "", "", c.curator, "Куратор", "", "куратор", c.municipality],   # 5
        ["пользователь", "", "", "", c.federal, "Федерал", "", "", ""],
        ["роль", "", "", "", c.federal, "", "", "федеральный координатор", c.region],        # 7
        ["роль", "", "", "", c.federal, "", "", "региональный координатор", ""],             # 8
        ["роль", "", "", "", c.federal, "", "", "regional_coordinator", c.school],           # 9
    ]
    path = _write_csv(tmp_path / "scope.csv", rows)

    report = import_org(db, path, actor=OPERATOR)

    messages = {e.row: e.message for e in report.errors}
    assert sorted(messages) == [5, 7, 8, 9]
    assert messages[5] == f"роль «Куратор» выдаётся на школу, а «{c.municipality}» — код муниципалитета"
    assert "выдаётся на всю страну" in messages[7]
    assert "нужна область действия — код региона" in messages[8]
    assert f"а «{c.school}» — код школы" in messages[9]
    assert report.applied is False
    assert _count(db, Region, [c.region]) == 0


def test_references_to_records_already_in_the_database_are_accepted(db: Database, tmp_path: Path) -> None:
    c = _codes()
    apply_org(db, OrgData(regions=[(c.region, "Уже есть")], users=[UserRow(c.municipal, "Уже есть")]))
    rows = [
        EN_HEADER,
        ["municipality", c.municipality, "Новый район", c.region, "", "", "", "", ""],
        ["school", c.school, "Новая школа", c.municipality, "", "", "", "", ""],
        ["grant", "", "", "", c.municipal, "", "", "municipal_coordinator", c.municipality],
        ["grant", "", "", "", c.municipal, "", "", "regional_coordinator", c.region],
    ]
    report = import_org(db, _write_csv(tmp_path / "refs.csv", rows, delimiter=","), actor=OPERATOR)

    assert report.errors == []
    assert report.imported == {"region": 0, "municipality": 1, "school": 1, "user": 0, "grant": 2}
    with db.reading() as session:
        region = session.scalars(select(Region).where(Region.code == c.region)).one()
        municipality = session.scalars(select(Municipality).where(Municipality.code == c.municipality)).one()
    assert municipality.region_id == region.id
    assert _grants(db, c.municipal) == {("municipal_coordinator", None, municipality.id, None),
                                        ("regional_coordinator", None, None, region.id)}


def test_a_deactivated_user_gets_no_grant(db: Database, tmp_path: Path) -> None:
    c = _codes()
    apply_org(db, OrgData(users=[UserRow(c.federal, "Уволен")], grants=[GrantRow(c.federal, Role.FEDERAL)]))
    with db.transaction() as session:
        session.scalars(select(User).where(User.login == c.federal)).one().is_active = False
    rows = [EN_HEADER, ["grant", "", "", "", c.federal, "", "", "admin", ""]]

    report = import_org(db, _write_csv(tmp_path / "inactive.csv", rows), actor=OPERATOR)

    assert [e.format() for e in report.errors] == [
        f"строка 2: пользователь «{c.federal}» отключён в системе — роль ему выдать нельзя"]


def test_progress_adds_up_to_the_number_of_rows(db: Database, tmp_path: Path) -> None:
    c = _codes()
    path = _write_csv(tmp_path / "org.csv", _good_rows(c))
    steps: list[int] = []

    report = import_org(db, path, progress=steps.append, actor=OPERATOR)

    assert sum(steps) == report.rows == len(read_org_file(path)) == 10
    assert all(step > 0 for step in steps)


def test_check_rows_returns_the_valid_part(db: Database, tmp_path: Path) -> None:
    c = _codes()
    rows = read_org_file(_write_csv(tmp_path / "bad.csv", _bad_rows(c)))
    with db.reading() as session:
        data, errors = check_rows(session, rows)
    assert list(data.regions) == [(c.region, "Область")]
    assert not data.municipalities and not data.schools and not data.grants
    assert len({e.row for e in errors}) == 7


# --- reading the file: no database needed ------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_the_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [["КОД", "тип", "название", "заметки"], ["A1", "регион", "Область, южная; часть", "что угодно"]]
    [(number, values)] = read_org_file(_write_csv(tmp_path / "d.csv", rows, delimiter=delimiter))
    assert number == 2
    assert (values["code"], values["kind"], values["name"]) == ("A1", "регион", "Область, южная; часть")
    assert values["login"] == ""


def test_row_numbers_follow_the_lines_of_the_file(tmp_path: Path) -> None:
    text = 'kind;code;name\n\nregion;R1;"Область\nв две строки"\n;;\nregion;R2;Вторая\n'
    path = tmp_path / "lines.csv"
    path.write_text(text, encoding="utf-8")
    assert [(number, values["code"]) for number, values in read_org_file(path)] == [(3, "R1"), (6, "R2")]


def _broken_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 definitely not a workbook")
    return path


def _cp1251_csv(tmp_path: Path) -> Path:
    path = tmp_path / "cp1251.csv"
    path.write_bytes("тип;код;название\nрегион;R1;Область\n".encode("cp1251"))
    return path


def _no_headers_csv(tmp_path: Path) -> Path:
    return _write_csv(tmp_path / "nohead.csv", [["название", "родитель"], ["Область", ""]])


def _unknown_extension(tmp_path: Path) -> Path:
    path = tmp_path / "org.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    return path


@pytest.mark.parametrize(("make", "expected"), [
    (_broken_xlsx, "не читается как XLSX"),
    (_cp1251_csv, "не в кодировке UTF-8"),
    (_no_headers_csv, "нет обязательных столбцов"),
    (_unknown_extension, "неизвестный формат «.xls»"),
])
def test_an_unreadable_file_is_a_clear_engine_error(tmp_path: Path, make: object, expected: str) -> None:
    assert callable(make)
    with pytest.raises(EngineError, match=expected):
        read_org_file(make(tmp_path))


def test_an_unreadable_file_imports_nothing(db: Database, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="UTF-8"):
        import_org(db, _cp1251_csv(tmp_path), actor=OPERATOR)
