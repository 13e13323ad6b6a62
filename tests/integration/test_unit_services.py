"""城乡居民基本养老保险退费（村组） at the service layer: the batch and cancel rules, called
with a session and a fixed clock, no HTTP."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sirefund.domain.errors import Conflict, Invalid, NotFound
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.services import applications, units
from sirefund.services.applications import Actor
from sirefund.services.units import UnitBatchIn
from tests import factories as f


def batch(unit_payment_id: str, *line_ids: str, **overrides: object) -> UnitBatchIn:
    return UnitBatchIn.model_validate(
        {
            "unit_payment_id": unit_payment_id,
            "line_ids": list(line_ids),
            "payment_month": 1,
            "bank_account_no": "6228480402564890018",
            "bank_account_name": "华容区庙岭镇新庙村村民委员会",
            "bank_account_type": "bank_card",
            "bank_category": "103",
            "contact_name": "邱世贵",
            "contact_phone": "13812341234",
            **overrides,
        }
    )


@pytest.fixture
def village(session):
    unit = f.make_unit(session)
    people = [f.make_person(session, name=n) for n in ("邱世贵", "王秀英", "李建国")]
    subsidy, lines = f.make_unit_payment(session, unit, people)
    lines[2].amount_fen = 15000
    normal, normal_lines = f.make_unit_payment(session, unit, people[:1], payment_type="normal")
    session.flush()
    return {
        "unit": unit.id,
        "subsidy": subsidy.unit_payment_id,
        "lines": [ln.line_id for ln in lines],
        "normal": normal.unit_payment_id,
        "normal_line": normal_lines[0].line_id,
    }


def test_the_input_model_needs_persons_a_month_and_an_account_name():
    with pytest.raises(ValidationError) as refused:
        batch("UP1", payment_month=None, bank_account_name=" ")
    assert {str(e["loc"][0]): e["type"] for e in refused.value.errors()} == {
        "line_ids": "unit.no_person_selected",
        "payment_month": "month.required",
        "bank_account_name": "bank_account_name.required",
    }
    with pytest.raises(ValidationError):
        batch("UP1", "UL1", payment_month=13)


def test_one_save_is_one_batch_whose_amount_is_the_chosen_lines(session, clock, village):
    lines = village["lines"]
    saved = units.save_batch(
        session,
        unit_id=village["unit"],
        batch=batch(village["subsidy"], lines[0], lines[2], lines[0]),
        at=clock.now(),
    )
    assert saved.amount_fen == 35000
    assert [a.line_id for a in saved.applications] == [lines[0], lines[2]]
    assert {a.batch_id for a in saved.applications} == {saved.batch_id}
    (payment,) = [p for p in units.list_payments(session, unit_id=village["unit"]) if p.refundable]
    assert (payment.paid_count, payment.refund_count) == (3, 2)


def test_a_normal_payment_is_not_refundable_by_the_unit(session, clock, village):
    with pytest.raises(Invalid) as refused:
        units.save_batch(
            session,
            unit_id=village["unit"],
            batch=batch(village["normal"], village["normal_line"]),
            at=clock.now(),
        )
    assert refused.value.code == "unit.payment_type_not_refundable"


def test_a_line_of_another_payment_or_unit_is_not_found(session, clock, village):
    with pytest.raises(NotFound):
        units.save_batch(
            session,
            unit_id=village["unit"],
            batch=batch(village["subsidy"], village["normal_line"]),
            at=clock.now(),
        )
    with pytest.raises(NotFound):
        units.save_batch(
            session,
            unit_id=village["unit"] + 1,
            batch=batch(village["subsidy"], village["lines"][0]),
            at=clock.now(),
        )


def test_a_line_in_an_active_application_is_a_conflict(session, clock, village):
    lines = village["lines"]
    units.save_batch(
        session, unit_id=village["unit"], batch=batch(village["subsidy"], lines[0]), at=clock.now()
    )
    with pytest.raises(Conflict) as refused:
        units.save_batch(
            session,
            unit_id=village["unit"],
            batch=batch(village["subsidy"], lines[1], lines[0]),
            at=clock.now(),
        )
    assert (refused.value.code, refused.value.field) == ("application.already_applied", "line_ids")


def test_cancelling_one_unit_application_cancels_its_whole_batch_but_not_reviewed_ones(
    session, clock, village
):
    lines = village["lines"]
    saved = units.save_batch(
        session, unit_id=village["unit"], batch=batch(village["subsidy"], *lines), at=clock.now()
    )
    first, second, third = (a.id for a in saved.applications)
    reviewed = applications.get(session, third)
    applications.transition(
        session,
        application=reviewed,
        target=S.APPROVED,
        actor=Actor.officer("OF0001"),
        at=clock.now(),
    )
    assert units.cancel(
        session, unit_id=village["unit"], application_id=second, at=clock.now()
    ) == [first, second]
    statuses = {
        r.application.id: r.application.status
        for r in units.progress(session, unit_id=village["unit"])
    }
    assert statuses == {first: S.CANCELLED, second: S.CANCELLED, third: S.APPROVED}
    with pytest.raises(Conflict) as refused:
        units.cancel(session, unit_id=village["unit"], application_id=third, at=clock.now())
    assert refused.value.code == "application.not_cancellable"


def test_the_refund_count_drill_down_shows_the_masked_person(session, clock, village):
    saved = units.save_batch(
        session,
        unit_id=village["unit"],
        batch=batch(village["subsidy"], village["lines"][2]),
        at=clock.now(),
    )
    (person,) = units.progress_persons(
        session, unit_id=village["unit"], application_id=saved.applications[0].id
    )
    assert (person.name, person.amount_fen) == ("李建国", 15000)
    assert "*" in person.id_number_masked
