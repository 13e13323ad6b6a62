"""Read-side queries: a person's pension payments with the application that speaks for each."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sirefund.domain.errors import Invalid
from sirefund.models import Application
from sirefund.services.queries import pension_payments_for_person
from tests.factories import make_pension_payment, make_person

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _apply(session, payment, status: str, minutes: int = 0) -> Application:  # type: ignore[no-untyped-def]
    app = Application(
        kind="pension",
        status=status,
        channel="web",
        person_id=payment.person_id,
        region_code="420703",
        pension_payment_id=payment.payment_id,
        amount_fen=payment.amount_fen,
        payment_year=payment.payment_year,
        period_start=payment.period_start,
        period_end=payment.period_end,
        created_at=AT,
        updated_at=AT,
    )
    session.add(app)
    session.flush()
    return app


def test_a_persons_payments_of_a_year_come_by_period_start_with_their_application(session):
    me, other = make_person(session), make_person(session, name="李伊岚")
    late = make_pension_payment(session, me, year=2025, payment_id="PPB")
    late.period_start = date(2025, 6, 1)
    back = make_pension_payment(session, me, year=2025, payment_id="PPA", amount_fen=120000)
    back.period_start = date(2021, 10, 31)  # a back payment (补缴) covering earlier years
    make_pension_payment(session, me, year=2025, arrival_status="arrived", payment_id="PPC")
    make_pension_payment(session, me, year=2024, payment_id="PPD")
    make_pension_payment(session, other, year=2025, payment_id="PPE")
    # Cancelled first, then filed again: the active application speaks for the payment.
    _apply(session, late, "cancelled")
    active = _apply(session, late, "pending_review")
    _apply(session, back, "rejected")
    session.flush()

    rows = pension_payments_for_person(session, person_id=me.id, year=2025)

    assert [r.payment_id for r in rows] == ["PPA", "PPC", "PPB"]
    a, c, b = rows
    assert (a.amount_fen, a.period_start, a.application_status, a.refundable) == (
        120000,
        date(2021, 10, 31),
        "rejected",
        True,
    )
    assert (b.application_id, b.application_status, b.refundable) == (
        active.id,
        "pending_review",
        False,
    )
    assert b.has_active_application
    assert (c.arrival_status, c.application_id, c.refundable) == ("arrived", None, False)
    assert isinstance(c.payment_date, date)


def test_the_latest_application_speaks_when_none_is_active(session):
    me = make_person(session)
    pay = make_pension_payment(session, me)
    _apply(session, pay, "rejected")
    latest = _apply(session, pay, "cancelled")

    (row,) = pension_payments_for_person(session, person_id=me.id, year=None)

    assert (row.application_id, row.application_status, row.refundable) == (
        latest.id,
        "cancelled",
        True,
    )


def test_state_filters_refundable_and_applied_payments(session):
    me = make_person(session)
    free = make_pension_payment(session, me, payment_id="PP1")
    applied = make_pension_payment(session, me, payment_id="PP2", arrival_status="abnormal")
    make_pension_payment(session, me, payment_id="PP3", arrival_status="arrived")
    old = make_pension_payment(session, me, payment_id="PP4", year=2019)
    _apply(session, applied, "approved")
    _apply(session, free, "cancelled")

    def ids(**kw):  # type: ignore[no-untyped-def]
        return [r.payment_id for r in pension_payments_for_person(session, person_id=me.id, **kw)]

    assert ids(year=None) == ["PP4", "PP1", "PP2", "PP3"]
    assert ids(year=2025, state="refundable") == ["PP1"]
    assert ids(year=None, state="refundable") == [old.payment_id, "PP1"]
    assert ids(year=2025, state="applied") == ["PP2"]
    assert ids(year=2030) == []


def test_an_unknown_state_is_refused(session):
    with pytest.raises(Invalid) as refused:
        pension_payments_for_person(session, person_id=1, year=2025, state="pending")
    assert refused.value.code == "state.unknown"
