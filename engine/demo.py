"""A demo region to try the engine with: Kuzbass, three municipalities, eight schools, curators bound
to them, coordinators at each level, a federal user and an admin — and a cohort started for all, weeks
ago, with its schools at different steps (the story in engine/demo_story.py).

Loading it again changes nothing: org data is upserted by code, passwords are only set for users that
have none, the story is told only to a cohort that did not exist, and the cohort starts only schools
that have no roadmap in it yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.actors import OPERATOR
from engine.db import Database
from engine.demo_story import Told, tell
from engine.models import Cohort, User
from engine.org.core import GrantRow, OrgData, UserRow, apply_org
from engine.org.passwords import hash_password
from engine.process.instances import CohortStart, start_cohort
from engine.roles import Role

DEMO_PASSWORD = "demo500"  # noqa: S105 - the demo region's shared, printed password
REGION = ("42", "Кемеровская область — Кузбасс")
REGION_ZONE = "Asia/Novokuznetsk"  # МСК+4: the demo shows local times with their zone named
MUNICIPALITIES = [
    ("42-PROM", "Промышленновский муниципальный округ"),
    ("42-BEL", "Беловский муниципальный округ"),
    ("42-TAI", "Тайгинский городской округ"),
]
SCHOOLS = [
    ("42-PROM-01", "МБОУ «Заринская СОШ им. М. А. Аверина»", "42-PROM"),
    ("42-PROM-02", "МБОУ «Тарасовская СОШ»", "42-PROM"),
    ("42-PROM-03", "МБОУ «Окуневская ООШ»", "42-PROM"),
    ("42-BEL-01", "МБОУ «Старобачатская СОШ»", "42-BEL"),
    ("42-BEL-02", "МБОУ «Евтинская ООШ»", "42-BEL"),
    ("42-TAI-01", "МБОУ «СОШ № 32»", "42-TAI"),
    ("42-TAI-02", "МБОУ «ООШ № 34»", "42-TAI"),
    ("42-TAI-03", "МБОУ «СОШ № 176»", "42-TAI"),
]
# A curator is a deputy director of a stronger school nearby and usually has one to three schools. They
# are also the region's curator candidates: the regional coordinator's form offers exactly these four.
CURATORS = {
    "curator-1": ("Иванова Марина Петровна", ["42-PROM-01", "42-PROM-02"]),
    "curator-2": ("Сидоров Алексей Викторович", ["42-PROM-03", "42-BEL-01"]),
    "curator-3": ("Кузнецова Ольга Андреевна", ["42-BEL-02"]),
    "curator-4": ("Морозов Дмитрий Сергеевич", ["42-TAI-01", "42-TAI-02", "42-TAI-03"]),
}
COORDINATORS = [
    ("admin", "Администратор системы", Role.ADMIN, None),
    ("fioko", "Координатор ФИОКО", Role.FEDERAL, None),
    ("region-42", "Региональный координатор Кузбасса", Role.REGIONAL_COORDINATOR, "42"),
    ("mun-prom", "Координатор Промышленновского МО", Role.MUNICIPAL_COORDINATOR, "42-PROM"),
    ("mun-bel", "Координатор Беловского МО", Role.MUNICIPAL_COORDINATOR, "42-BEL"),
    ("mun-tai", "Координатор Тайгинского ГО", Role.MUNICIPAL_COORDINATOR, "42-TAI"),
]


@dataclass(frozen=True)
class DemoLogin:
    login: str
    role: Role
    full_name: str
    scope: str


@dataclass(frozen=True)
class DemoLoaded:
    logins: list[DemoLogin]
    password: str
    cohort: CohortStart
    story: Told | None  # None: the cohort existed, or the demo was asked for without its story


def school_login(code: str) -> str:
    return f"school-{code.lower()}"


def demo_org() -> tuple[OrgData, list[DemoLogin]]:
    logins = [DemoLogin(login, role, name, scope or "вся страна") for login, name, role, scope in COORDINATORS]
    logins += [DemoLogin(login, Role.CURATOR, name, ", ".join(codes)) for login, (name, codes) in CURATORS.items()]
    logins += [DemoLogin(school_login(code), Role.SCHOOL, f"Директор: {name}", code) for code, name, _ in SCHOOLS]
    grants = [GrantRow(login, role, scope) for login, _, role, scope in COORDINATORS]
    grants += [GrantRow(login, Role.CURATOR, code) for login, (_, codes) in CURATORS.items() for code in codes]
    grants += [GrantRow(school_login(code), Role.SCHOOL, code) for code, _, _ in SCHOOLS]
    # Kuzbass lives at UTC+7 (МСК+4): its schools' deadlines end at their own midnight.
    data = OrgData(regions=[REGION], region_zones={REGION[0]: REGION_ZONE},
                   municipalities=[(c, n, REGION[0]) for c, n in MUNICIPALITIES],
                   schools=SCHOOLS, users=[UserRow(d.login, d.full_name) for d in logins], grants=grants)
    return data, logins


def default_cohort_year(now: datetime) -> int:
    """The project year runs from January; from September on, the demo prepares next year's cohort."""
    return now.year + 1 if now.month >= 9 else now.year


def set_missing_passwords(db: Database, logins: list[str], password: str) -> int:
    with db.transaction() as session:
        users = session.scalars(select(User).where(User.login.in_(logins), User.password_hash.is_(None))).all()
        for user in users:
            user.password_hash = hash_password(password)
        return len(users)


def load_demo(db: Database, template_key: str = "roadmap-500", year: int | None = None, *,
              story: bool = True) -> DemoLoaded:
    """The demo region, and its cohort: with ``story``, a new cohort is started weeks ago and played up
    to today (engine/demo_story.py); otherwise, or when the cohort exists, its missing schools start now."""
    data, logins = demo_org()
    apply_org(db, data)
    set_missing_passwords(db, [d.login for d in logins], DEMO_PASSWORD)
    year = year or default_cohort_year(db.now())
    if story and not _cohort_exists(db, year):
        directors = {code: school_login(code) for code, _, _ in SCHOOLS}
        told = tell(db, template_key, year, REGION[0], REGION_ZONE, directors)
        return DemoLoaded(logins, DEMO_PASSWORD, told.cohort, told)
    cohort = start_cohort(db, template_key, year, region_code=REGION[0], actor=OPERATOR)
    return DemoLoaded(logins, DEMO_PASSWORD, cohort, None)


def _cohort_exists(db: Database, year: int) -> bool:
    with db.reading() as session:
        return session.scalar(select(Cohort.id).where(Cohort.year == year)) is not None
