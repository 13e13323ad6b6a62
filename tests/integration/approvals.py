"""Approved applications written as the review service writes them: the pending application
through services.applications, then approve + outbox message in one transaction."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, RefundBatch
from sirefund.services import applications, dispatches
from sirefund.services.applications import Actor
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
    common: dict[str, Any] = {
        "kind": kind,
        "channel": "web",
        "person_id": person.id,
        "region_code": region,
    }
    actor = Actor.person(person.id)
    if kind == "pension":
        pay = factories.make_pension_payment(session, person)
        app = Application(
            **common,
            pension_payment_id=pay.payment_id,
            amount_fen=pay.amount_fen,
            payment_year=pay.payment_year,
            period_start=pay.period_start,
            period_end=pay.period_end,
            bank_account_type="bank_card",
            bank_account_no="6228480402564890018",
            bank_account_name=person.name,
            bank_category="103",
            contact_name=person.name,
            contact_phone="13871234567",
        )
    elif kind == "unit_pension":
        unit = factories.make_unit(session, region=region)
        up, lines = factories.make_unit_payment(session, unit, [person])
        batch = RefundBatch(
            unit_id=unit.id,
            unit_payment_id=up.unit_payment_id,
            amount_fen=lines[0].amount_fen,
            created_at=at,
        )
        session.add(batch)
        session.flush()
        app = Application(
            **common,
            unit_id=unit.id,
            unit_line_id=lines[0].line_id,
            batch_id=batch.id,
            amount_fen=lines[0].amount_fen,
            payment_year=up.payment_year,
            payment_month=up.payment_month,
            period_start=up.period_start,
            period_end=up.period_end,
            bank_account_type="bank_card",
            bank_account_no="6228480402564890026",
            bank_account_name=unit.name,
            bank_category="314",
            contact_name="王会计",
            contact_phone="13871234568",
        )
        actor = Actor.unit(unit.id)
    else:
        reg = factories.make_registration(session, person)
        pay = factories.make_medical_payment(session, reg)
        acct = factories.make_submitted_account(session, person)
        app = Application(
            **common,
            medical_payment_id=pay.payment_id,
            registration_id=reg.registration_id,
            deposit_account_id=acct.id,
            amount_fen=pay.refund_amount_fen,
            payment_year=pay.insurance_year,
            period_start=pay.period_start,
            period_end=pay.period_end,
            handler_phone="13871234569",
            reason_code="duplicate_payment",
        )
    return applications.create(session, application=app, actor=actor, at=at)


def approve(session: Session, app: Application, *, at: datetime) -> None:
    """The approval, its audit row and the outbox message, in the caller's transaction."""
    applications.transition(
        session,
        application=app,
        target=S.APPROVED,
        actor=Actor.officer("OF0001"),
        at=at,
        reason="审核通过",
    )
    dispatches.enqueue_for_approval(session, application=app, at=at)


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
