"""Approved applications written as the review service writes them: the pending application
through services.applications, then approve + outbox message in one transaction."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from sirefund.models import Application
from tests import factories

_people = itertools.count()


def unique_resident_id(region: str) -> str:
    # factories.resident_id repeats after 1,000 people; a birth date per person does not.
    n = next(_people)
    birth = (date(1950, 1, 1) + timedelta(days=n)).strftime("%Y%m%d")
    return factories.resident_id(region, birth, seq=n % 997)


def pending_application(
    session: Session, *, kind: str = "pension", at: datetime, region: str = "420703"
) -> Application:
    person = factories.make_person(session, region=region, id_number=unique_resident_id(region))
    if kind == "pension":
        pay = factories.make_pension_payment(session, person)
        app = factories.pension_application(
            person,
            pay,
            region_code=region,
            bank_account_name=person.name,
            contact_phone="13871234567",
        )
    elif kind == "unit_pension":
        unit = factories.make_unit(session, region=region)
        up, (line,) = factories.make_unit_payment(session, unit, [person])
        app = factories.unit_application(
            session,
            unit,
            up,
            line,
            at=at,
            region_code=region,
            payment_month=up.payment_month,
            bank_account_no="6228480402564890026",
            bank_category="314",
            contact_phone="13871234568",
        )
    else:
        reg = factories.make_registration(session, person)
        pay = factories.make_medical_payment(session, reg)
        acct = factories.make_submitted_account(session, person)
        app = factories.medical_application(
            person, pay, reg, acct, region_code=region, handler_phone="13871234569"
        )
    return factories.submit(session, app, at=at)


#: The approval, its audit row and the outbox message, in the caller's transaction.
approve = factories.approve


def approved_applications(
    session_factory: sessionmaker[Session],
    *,
    n: int = 1,
    kind: str = "pension",
    at: datetime,
    region: str = "420703",
) -> list[int]:
    ids = []
    with session_factory() as session, session.begin():
        for _ in range(n):
            app = pending_application(session, kind=kind, at=at, region=region)
            approve(session, app, at=at)
            ids.append(app.id)
    return ids
