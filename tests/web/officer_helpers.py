"""Applications of each kind, created the way applicants create them, for the 税务端 tests
(tests/web/test_officer_api.py and tests/web/test_officer_pages.py). Factories flush, never
commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sirefund.models import Application, Unit
from tests import factories as f

ACCOUNT = "6228480402564890018"
PHONE = "13812341234"


def own_account(s, payee) -> tuple[str, str]:
    """(account number, phone) of ``payee`` (a Person or a Unit): ACCOUNT and PHONE for the
    first payee of a test, a number and phone of their own for every other one — different
    payees sharing one account (or phone) is what the 风险提示 rules flag
    (services/risk.py), which these plain cases are not about."""
    holder = (
        Application.unit_id == payee.id
        if isinstance(payee, Unit)
        else (Application.person_id == payee.id) & (Application.unit_id.is_(None))
    )
    taken_by_other = s.execute(
        select(Application.id).where(Application.bank_account_no == ACCOUNT, ~holder).limit(1)
    ).first()
    if taken_by_other is None:
        return ACCOUNT, PHONE
    prefix = "7" if isinstance(payee, Unit) else "6"
    return f"62284804{prefix}{payee.id:010d}", f"13{prefix}{payee.id:08d}"


def pension_app(
    s,
    *,
    region: str = "420703",
    at: datetime = f.AT,
    person=None,
    arrival: str = "not_arrived",
    channel: str = "web",
    account: str | None = None,
) -> Application:
    """``account``: the account given (the payee's own by default, :func:`own_account`)."""
    person = person or f.make_person(s, region=region)
    pay = f.make_pension_payment(s, person, arrival_status=arrival)
    own, phone = own_account(s, person)
    app = f.pension_application(
        person, pay, channel=channel, bank_account_no=account or own, contact_phone=phone
    )
    return f.submit(s, app, at=at)


def unit_app(s, *, region: str = "420703") -> Application:
    person = f.make_person(s, region=region)
    unit = f.make_unit(s, region=region)
    up, (line,) = f.make_unit_payment(s, unit, [person])
    account, phone = own_account(s, unit)
    app = f.unit_application(
        s,
        unit,
        up,
        line,
        region_code=person.region_code,
        bank_account_no=account,
        bank_category="314",
        contact_name="村会计",
        contact_phone=phone,
    )
    return f.submit(s, app)


def medical_app(s, *, region: str = "420703") -> Application:
    person = f.make_person(s, region=region)
    reg = f.make_registration(s, person)
    mp = f.make_medical_payment(s, reg, medical_fen=30000, ltc_fen=5000)
    acct = f.make_submitted_account(s, person, account_no="6217000010001234567")
    app = f.medical_application(
        person, mp, reg, acct, channel="mobile_app", handler_phone="13912345678"
    )
    return f.submit(s, app)
