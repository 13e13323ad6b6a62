"""Plain factory functions for tests: they add rows to a session and flush, never commit."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from sirefund.domain.agencies import Agency, AgencyResult
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import (
    Application,
    DepositAccount,
    DepositAccountReport,
    MedicalPayment,
    MedicalRegistration,
    Officer,
    OutboxMessage,
    PensionPayment,
    Person,
    RefundBatch,
    Unit,
    UnitPayment,
    UnitPaymentPerson,
)
from sirefund.services import applications, corrections, dispatches, passwords, settlement
from sirefund.services.applications import Actor
from sirefund.services.corrections import ReturnIn

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


# --------------------------------------------------------------------------- applications
#
# Applications of each kind built from their payment rows, submitted the way applicants
# submit them, and moved on the way officers and agencies move them: 退付失败 (fail_payout)
# and 退回补正 (return_for_correction).

ACCOUNT_NO = "6228480402564890018"
CONTACT_PHONE = "13812341234"


def pension_application(person: Person, payment: PensionPayment, **values: Any) -> Application:
    """An unsaved pension application of ``person`` for ``payment`` into bank card ACCOUNT_NO;
    ``values`` override or add columns (``status=`` with created_at/updated_at to add a row
    as is, past services.applications)."""
    return Application(
        **{
            "kind": "pension",
            "channel": "web",
            "person_id": person.id,
            "region_code": person.region_code,
            "pension_payment_id": payment.payment_id,
            "amount_fen": payment.amount_fen,
            "payment_year": payment.payment_year,
            "period_start": payment.period_start,
            "period_end": payment.period_end,
            "bank_account_type": "bank_card",
            "bank_account_no": ACCOUNT_NO,
            "bank_category": "103",
            "contact_name": person.name,
            "contact_phone": CONTACT_PHONE,
            **values,
        }
    )


def medical_application(
    person: Person,
    payment: MedicalPayment,
    registration: MedicalRegistration,
    account: DepositAccount | None,
    **values: Any,
) -> Application:
    """An unsaved medical refund of ``payment`` into the deposit ``account``."""
    return Application(
        **{
            "kind": "medical",
            "channel": "web",
            "person_id": person.id,
            "region_code": person.region_code,
            "medical_payment_id": payment.payment_id,
            "registration_id": registration.registration_id,
            "deposit_account_id": account.id if account else None,
            "amount_fen": payment.refund_amount_fen,
            "payment_year": payment.insurance_year,
            "period_start": payment.period_start,
            "period_end": payment.period_end,
            "handler_phone": CONTACT_PHONE,
            "reason_code": "duplicate_payment",
            **values,
        }
    )


def unit_application(
    session: Session,
    unit: Unit,
    payment: UnitPayment,
    line: UnitPaymentPerson,
    *,
    at: datetime = AT,
    **values: Any,
) -> Application:
    """An unsaved unit refund of ``line`` (month 1) in a new 批次 of its own, into bank card
    ACCOUNT_NO in the unit's name."""
    batch = RefundBatch(
        unit_id=unit.id,
        unit_payment_id=payment.unit_payment_id,
        amount_fen=line.amount_fen,
        created_at=at,
    )
    session.add(batch)
    session.flush()
    return Application(
        **{
            "kind": "unit_pension",
            "channel": "web",
            "person_id": line.person_id,
            "unit_id": unit.id,
            "region_code": unit.region_code,
            "unit_line_id": line.line_id,
            "batch_id": batch.id,
            "amount_fen": line.amount_fen,
            "payment_year": payment.payment_year,
            "payment_month": 1,
            "period_start": payment.period_start,
            "period_end": payment.period_end,
            "bank_account_type": "bank_card",
            "bank_account_no": ACCOUNT_NO,
            "bank_account_name": unit.name,
            "bank_category": "103",
            "contact_name": "王会计",
            "contact_phone": CONTACT_PHONE,
            **values,
        }
    )


def submit(session: Session, app: Application, *, at: datetime = AT) -> Application:
    """``app`` submitted by its applicant (the unit for a unit refund): 待审核."""
    actor = Actor.unit(app.unit_id) if app.unit_id else Actor.person(app.person_id)
    return applications.create(session, application=app, actor=actor, at=at)


def approve(session: Session, app: Application, *, at: datetime = AT) -> None:
    """The approval, its audit row and the outbox message, as the review service writes them."""
    applications.transition(
        session,
        application=app,
        target=S.APPROVED,
        actor=Actor.officer("OF0001"),
        at=at,
        reason="审核通过",
    )
    dispatches.enqueue_for_approval(session, application=app, at=at)


def fail_payout(
    session: Session, app_id: int, *, reason: str = "户名与账号不符", at: datetime = AT
) -> None:
    """退付失败 of a submitted application: approved, HRSS (or 医保) accepts, the bank refuses
    with ``reason``, each recorded the way the worker records agency answers."""
    approve(session, applications.get(session, app_id), at=at)
    sent = select(OutboxMessage).where(OutboxMessage.application_id == app_id)
    first = session.execute(sent.order_by(OutboxMessage.id)).scalars().first()
    assert first is not None
    positive = {"hrss": "accepted", "medical_security": "passed"}[first.agency]
    settlement.apply_result(
        session,
        agency=Agency(first.agency),
        result=AgencyResult(request_id=first.request_id, status=positive),
        at=at,
    )
    payout = session.execute(sent.order_by(OutboxMessage.id.desc())).scalars().first()
    assert payout is not None and payout.agency == "bank"
    settlement.apply_result(
        session,
        agency=Agency.BANK,
        result=AgencyResult(request_id=payout.request_id, status="failed", reason=reason),
        at=at,
    )


def return_for_correction(
    session: Session,
    app_id: int,
    *,
    officer: Officer,
    fields: tuple[str, ...] = ("bank_account",),
    opinion: str = "请补正银行账户",
    at: datetime = AT,
) -> None:
    """退回补正 of a pending application by ``officer`` (a reviewer of its region)."""
    corrections.return_for_correction(
        session,
        officer=officer,
        application_id=app_id,
        request=ReturnIn(opinion=opinion, fields=list(fields)),
        at=at,
    )


def refuse_at_agency(
    session: Session, app_id: int, *, reason: str, agency: str = "hrss", at: datetime = AT
) -> None:
    """人社退回 (or 医保's) of a submitted application: approved, then refused by ``agency``
    with ``reason`` as its message."""
    app = applications.get(session, app_id)
    applications.transition(
        session, application=app, target=S.APPROVED, actor=Actor.officer("OF0001"), at=at
    )
    applications.transition(
        session,
        application=app,
        target=S.AGENCY_REJECTED,
        actor=Actor.agency(agency),
        at=at,
        reason=reason,
        values={"agency_message": reason},
    )


def walk(
    session: Session,
    app_id: int,
    *path: S,
    at: datetime = AT,
    values: Mapping[S, Mapping[str, Any]] | None = None,
) -> None:
    """Move an application along ``path`` as the officer and the agencies would (recorded as
    officer OF0001); ``values``: the columns each target sets (review_opinion, refund_date...)."""
    for target in path:
        app = applications.get(session, app_id)
        session.refresh(app)
        applications.transition(
            session,
            application=app,
            target=target,
            actor=Actor.officer("OF0001"),
            at=at,
            values=dict((values or {}).get(target, {})) or None,
        )


def pay_out(session: Session, app_id: int, *, on: date = date(2026, 4, 2), **values: Any) -> None:
    """已退付 on ``on``: approved, at the agency, refunded (``values`` set with it)."""
    walk(
        session,
        app_id,
        S.APPROVED,
        S.AT_AGENCY,
        S.REFUNDED,
        values={S.REFUNDED: {"refund_date": on, **values}},
    )
