"""Plain factory functions for tests: they add rows to a session and flush, never commit."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pyotp
from sqlalchemy.orm import Session
from stdnum.cn import ric

from sirefund.models import (
    DepositAccount,
    DepositAccountReport,
    MedicalPayment,
    MedicalRegistration,
    Officer,
    PensionPayment,
    Person,
    Unit,
    UnitPayment,
    UnitPaymentPerson,
)
from sirefund.services import passwords

_seq = itertools.count(1)
AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PASSWORD = "Str0ng-Passw0rd!"
#: Every test officer's TOTP secret (base32); `otp(at)` is the code their authenticator shows.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_HASH_CACHE: dict[str, str] = {}


def hashed(password: str = PASSWORD) -> str:
    # argon2 is slow by design; tests reuse one hash per password.
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = passwords.hash_password(password)
    return _HASH_CACHE[password]


def resident_id(region: str = "420703", birth: str = "19580312", seq: int | None = None) -> str:
    """A valid 18-digit resident ID (GB 11643 check digit computed)."""
    n = next(_seq) if seq is None else seq
    body = f"{region}{birth}{n % 1000:03d}"
    # calc_check_digit ignores the last character it is given (it expects a full number).
    return body + ric.calc_check_digit(body + "0")


def make_person(
    session: Session,
    *,
    name: str = "邱世贵",
    region: str = "420703",
    id_number: str | None = None,
    password: str | None = None,
    phone: str | None = None,
    username: str | None = None,
) -> Person:
    p = Person(
        id_number=id_number or resident_id(region),
        name=name,
        region_code=region,
        phone=phone,
        username=username,
        password_hash=hashed(password) if password else None,
        registered_at=AT if password else None,
        # A registered account is a real-name one (registered with an SMS code).
        verified_at=AT if password else None,
    )
    session.add(p)
    session.flush()
    return p


def make_pension_payment(
    session: Session,
    person: Person,
    *,
    amount_fen: int = 70000,
    arrival_status: str = "not_arrived",
    year: int = 2025,
    payment_id: str | None = None,
    channel: str = "楚税通",
) -> PensionPayment:
    pay = PensionPayment(
        payment_id=payment_id or f"PP{next(_seq):08d}",
        person_id=person.id,
        amount_fen=amount_fen,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        payment_year=year,
        payment_date=date(year, 3, 1),
        channel=channel,
        arrival_status=arrival_status,
    )
    session.add(pay)
    session.flush()
    return pay


def make_unit(
    session: Session,
    *,
    name: str = "华容区庙岭镇新庙村村民委员会",
    region: str = "420703",
    tax_id: str | None = None,
    password: str | None = None,
    handler: tuple[str, str, str] | None = None,
) -> Unit:
    """A unit; `handler` (ID number, name, phone) is its 办税员 on record."""
    u = Unit(
        tax_id=tax_id or f"5442070{next(_seq):011d}",
        name=name,
        ss_no=f"420984{next(_seq):05d}",
        region_code=region,
        password_hash=hashed(password) if password else None,
        registered_at=AT if password else None,
        verified_at=AT if password else None,
        handler_id_number=handler[0] if handler else None,
        handler_name=handler[1] if handler else None,
        handler_phone=handler[2] if handler else None,
    )
    session.add(u)
    session.flush()
    return u


def make_unit_payment(
    session: Session,
    unit: Unit,
    persons: list[Person],
    *,
    payment_type: str = "collective_subsidy",
    year: int = 2025,
    month: int = 1,
    line_amount_fen: int = 20000,
) -> tuple[UnitPayment, list[UnitPaymentPerson]]:
    up = UnitPayment(
        unit_payment_id=f"UP{next(_seq):08d}",
        unit_id=unit.id,
        payment_type=payment_type,
        payment_year=year,
        payment_month=month,
        amount_fen=line_amount_fen * len(persons),
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        declaration_channel="电子税务局",
    )
    session.add(up)
    session.flush()
    lines = []
    for p in persons:
        line = UnitPaymentPerson(
            line_id=f"UL{next(_seq):08d}",
            unit_payment_id=up.unit_payment_id,
            person_id=p.id,
            ss_no=f"SS{next(_seq):08d}",
            amount_fen=line_amount_fen,
        )
        session.add(line)
        lines.append(line)
    session.flush()
    return up, lines


def make_registration(
    session: Session,
    person: Person,
    *,
    agency_name: str = "武汉市医疗保障局(医疗)",
    agency_code: str = "420100YB",
) -> MedicalRegistration:
    reg = MedicalRegistration(
        registration_id=f"MR{next(_seq):08d}",
        person_id=person.id,
        agency_code=agency_code,
        agency_name=agency_name,
        ss_code=f"S{next(_seq):09d}",
        region_code=person.region_code,
    )
    session.add(reg)
    session.flush()
    return reg


def make_medical_payment(
    session: Session,
    reg: MedicalRegistration,
    *,
    year: int = 2026,
    medical_fen: int = 35000,
    ltc_fen: int = 0,
) -> MedicalPayment:
    mp = MedicalPayment(
        payment_id=f"MP{next(_seq):08d}",
        registration_id=reg.registration_id,
        ticket_no=f"T{next(_seq):010d}",
        item_name="城乡居民基本医疗保险费",
        medical_amount_fen=medical_fen,
        ltc_amount_fen=ltc_fen,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        payment_date=date(year - 1, 9, 6),
        channel="楚税通",
        insurance_year=year,
    )
    session.add(mp)
    session.flush()
    return mp


def make_submitted_account(
    session: Session, person: Person, *, account_no: str = "6228480402564890018", at: datetime = AT
) -> DepositAccount:
    report = DepositAccountReport(
        person_id=person.id,
        handler_name=person.name,
        report_date=date(2026, 3, 10),
        state="submitted",
        created_at=at,
        submitted_at=at,
    )
    session.add(report)
    session.flush()
    acct = DepositAccount(
        report_id=report.id,
        person_id=person.id,
        position=0,
        operation_type="add",
        account_nature="个人储蓄账户",
        issue_date=date(2026, 3, 10),
        division_code="420700",
        bank_category="103",
        bank_branch="中国农业银行股份有限公司鄂州鄂城支行",
        account_name=person.name,
        account_no=account_no,
        currency="156",
        opened_on=date(2020, 1, 1),
    )
    session.add(acct)
    session.flush()
    return acct


def make_officer(
    session: Session,
    *,
    code: str | None = None,
    region: str = "420000",
    reviewer: bool = True,
    initiator: bool = False,
    auditor: bool = False,
    supervisor: bool = False,
    name: str = "张税务",
    password: str = PASSWORD,
    totp_secret: str = TOTP_SECRET,
) -> Officer:
    o = Officer(
        code=code or f"OF{next(_seq):04d}",
        name=name,
        region_code=region,
        is_reviewer=reviewer,
        is_initiator=initiator,
        is_auditor=auditor,
        is_supervisor=supervisor,
        password_hash=hashed(password),
        totp_secret=totp_secret,
        active=True,
        created_at=AT,
    )
    session.add(o)
    session.flush()
    return o


def otp(at: datetime, *, secret: str = TOTP_SECRET) -> str:
    """The code an officer's authenticator app shows at `at`."""
    return pyotp.TOTP(secret).at(at)
