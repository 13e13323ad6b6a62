"""城乡居民基本养老保险退费（个人） at the service layer: each test is one rule of apply /
cancel, called with a session and a fixed clock, no HTTP. The input model is built as the
API and the pages build it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sirefund.domain.errors import Conflict, Invalid, NotFound
from sirefund.domain.rules import ArrivalStatus
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.services import pension
from sirefund.services.pension import PensionRefundIn
from tests import factories as f

GOOD_CARD = "6228480402564890018"
BAD_CARD = "6228480402564890019"


def refund(*payment_ids: str, **overrides: object) -> PensionRefundIn:
    return PensionRefundIn.model_validate(
        {
            "payment_ids": list(payment_ids),
            "bank_account_type": "bank_card",
            "bank_account_no": GOOD_CARD,
            "bank_category": "103",
            "contact_name": "邱世贵",
            "contact_phone": "13812341234",
            **overrides,
        }
    )


def codes(error: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]): e["type"] for e in error.errors()}


def test_the_input_model_reports_every_bad_bank_detail_with_its_domain_code():
    with pytest.raises(ValidationError) as refused:
        refund(
            "PP1",
            bank_account_type="cash",
            bank_account_no="12ab",
            bank_category="999",
            contact_phone="12345",
        )
    assert codes(refused.value) == {
        "bank_account_type": "bank_account_type.unknown",
        "bank_account_no": "bank_account.format",
        "bank_category": "bank_category.unknown",
        "contact_phone": "phone.format",
    }


def test_an_empty_selection_is_refused_and_duplicates_count_once():
    with pytest.raises(ValidationError) as refused:
        refund()
    assert codes(refused.value) == {"payment_ids": "pension.no_payment_selected"}
    assert refund(" PP1", "PP1 ", "PP2").payment_ids == ["PP1", "PP2"]


def test_a_card_failing_luhn_passes_only_when_confirmed_or_a_passbook():
    with pytest.raises(ValidationError) as refused:
        refund("PP1", bank_account_no=BAD_CARD)
    assert codes(refused.value) == {"bank_account_no": "bank_account.luhn"}
    assert refund("PP1", bank_account_no=BAD_CARD, account_no_confirmed=True)
    assert refund("PP1", bank_account_no=BAD_CARD, bank_account_type="passbook")


def test_applying_creates_one_pending_application_per_payment(session, clock):
    person = f.make_person(session)
    a = f.make_pension_payment(session, person, amount_fen=35000)
    b = f.make_pension_payment(session, person)
    created = pension.apply(
        session,
        person_id=person.id,
        refund=refund(a.payment_id, b.payment_id, channel="mobile_app"),
        at=clock.now(),
    )
    assert [(v.payment_id, v.status, v.amount_fen) for v in created] == [
        (a.payment_id, S.PENDING_REVIEW, 35000),
        (b.payment_id, S.PENDING_REVIEW, 70000),
    ]
    assert {v.channel.value for v in created} == {"mobile_app"}
    lines = pension.payments(session, person_id=person.id, state="applied")
    assert [(ln.payment_id, ln.refundable, ln.cancellable) for ln in lines] == [
        (a.payment_id, False, True),
        (b.payment_id, False, True),
    ]


def test_an_arrived_payment_needs_an_officer_and_nothing_is_created(session, clock):
    person = f.make_person(session)
    ok = f.make_pension_payment(session, person)
    arrived = f.make_pension_payment(session, person, arrival_status=ArrivalStatus.ARRIVED)
    with pytest.raises(Invalid) as refused:
        pension.apply(
            session,
            person_id=person.id,
            refund=refund(ok.payment_id, arrived.payment_id),
            at=clock.now(),
        )
    assert refused.value.code == "pension.arrived_needs_officer"
    assert pension.progress(session, person_id=person.id) == []


def test_another_persons_payment_is_reported_as_missing(session, clock):
    owner, intruder = f.make_person(session), f.make_person(session, name="王秀英")
    pay = f.make_pension_payment(session, owner)
    with pytest.raises(NotFound):
        pension.apply(session, person_id=intruder.id, refund=refund(pay.payment_id), at=clock.now())


def test_applying_twice_is_a_conflict_until_the_first_is_cancelled(session, clock):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    (first,) = pension.apply(
        session, person_id=person.id, refund=refund(pay.payment_id), at=clock.now()
    )
    with pytest.raises(Conflict) as refused:
        pension.apply(session, person_id=person.id, refund=refund(pay.payment_id), at=clock.now())
    assert refused.value.code == "application.already_applied"
    cancelled = pension.cancel(
        session, person_id=person.id, application_id=first.id, at=clock.now()
    )
    assert cancelled.status == S.CANCELLED
    (line,) = pension.payments(session, person_id=person.id)
    assert (line.refundable, line.application_id, line.application_status) == (True, None, None)
    assert pension.apply(
        session, person_id=person.id, refund=refund(pay.payment_id), at=clock.now()
    )


def test_only_a_pending_application_can_be_cancelled(session, clock):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    (app,) = pension.apply(
        session, person_id=person.id, refund=refund(pay.payment_id), at=clock.now()
    )
    pension.cancel(session, person_id=person.id, application_id=app.id, at=clock.now())
    with pytest.raises(Conflict) as refused:
        pension.cancel(session, person_id=person.id, application_id=app.id, at=clock.now())
    assert refused.value.code == "application.not_cancellable"


def test_the_detail_keeps_the_history_of_a_cancelled_application(session, clock):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    (app,) = pension.apply(
        session, person_id=person.id, refund=refund(pay.payment_id), at=clock.now()
    )
    pension.cancel(session, person_id=person.id, application_id=app.id, at=clock.now())
    detail = pension.detail(session, person_id=person.id, application_id=app.id)
    assert [(e.from_status, e.to_status) for e in detail.history] == [
        (None, S.PENDING_REVIEW),
        (S.PENDING_REVIEW, S.CANCELLED),
    ]
    assert detail.refund.cancellable is False
    with pytest.raises(NotFound):
        pension.detail(session, person_id=person.id + 1, application_id=app.id)
