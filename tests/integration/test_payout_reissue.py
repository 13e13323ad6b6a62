"""The payout-failure loop through the real worker and the bank simulator over HTTP, on
SQLite and PostgreSQL: a payout to an account whose holder is not the payee (or a closed or
frozen one) ends 退付失败 with the bank's reason and is never paid; the applicant re-issues
it to a corrected account, only the bank step is sent again, and every attempt stays in the
history (domain.md "Re-issue after 退付失败", "Payee = account holder")."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sirefund.domain.agencies import Agency, AgencyResult
from sirefund.domain.errors import Conflict, Invalid, NotFound
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, ApplicationEvent, Person, Unit
from sirefund.services import reissue, settlement
from sirefund.services.applications import Actor
from sirefund.services.bank_details import PayoutAccountIn
from sirefund.services.reissue import MedicalReissueIn
from tests import factories
from tests.integration.conftest import load, messages_of, status_of

SUBMITTED_NO = "6228480402564890018"  # the account approvals.pending_application types in
CORRECTED_NO = "6228480402564890026"
OTHER_NO = "6228480402564890034"


def _payer(session_factory, app_id: int) -> Person:
    with session_factory() as s:
        app = s.get(Application, app_id)
        person = s.get(Person, app.person_id)
        s.expunge(person)
        return person


def _account(no: str, name: str) -> PayoutAccountIn:
    return PayoutAccountIn(
        bank_account_type="bank_card",
        bank_account_no=no,
        bank_account_name=name,
        bank_category="103",
    )


def _reissue(session_factory, app_id: int, *, owner: Actor, no: str, name: str, at: datetime):
    with session_factory() as s, s.begin():
        return reissue.reissue_pension(
            s, owner=owner, application_id=app_id, account=_account(no, name), at=at
        )


def _history(session_factory, app_id: int) -> list[tuple[str | None, str, str, str | None]]:
    with session_factory() as s:
        return [
            (e.from_status, e.to_status, e.actor_kind, e.reason)
            for e in s.execute(
                select(ApplicationEvent)
                .where(ApplicationEvent.application_id == app_id)
                .order_by(ApplicationEvent.id)
            ).scalars()
        ]


@pytest.fixture
def bank(simulator, settings_for, dispatcher_for):
    """(simulator, dispatcher) for driving applications through HRSS and the bank; the bank
    decides at once, so its answer carries the decision."""
    simulator.script.set_delay("bank", 0)
    return simulator, dispatcher_for(settings_for(simulator))


def test_a_payout_to_an_account_of_another_holder_fails_and_is_not_paid(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    # The number the citizen typed belongs to somebody else at the bank.
    sim.state.accounts.register(
        [{"account_no": SUBMITTED_NO, "holder_name": "张三", "holder_id": "420703199001010011"}]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    app = load(session_factory, app_id)
    assert app.bank_result == "退付失败：户名与账号不符"
    assert app.refund_date is None
    assert [b["status"] for b in sim.bookings("bank")] == ["failed"]
    # The case is not lost: it stays open, waiting for a corrected account.
    assert _history(session_factory, app_id)[-1][:2] == (S.AT_AGENCY, S.REFUND_FAILED)


def test_a_namesake_holding_the_account_is_not_the_payee_either(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    sim.state.accounts.register(
        [{"account_no": SUBMITTED_NO, "holder_name": payer.name, "holder_id": "420703199001010011"}]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    assert load(session_factory, app_id).bank_result == "退付失败：户名与账号不符"


@pytest.mark.parametrize(("state", "reason"), [("closed", "账户已销户"), ("frozen", "账户冻结")])
def test_a_payout_to_a_closed_or_frozen_account_fails_with_the_banks_reason(
    bank, make_approved, session_factory, shift_clock, state, reason
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    sim.state.accounts.register(
        [
            {
                "account_no": SUBMITTED_NO,
                "holder_name": payer.name,
                "holder_id": payer.id_number,
                "state": state,
            }
        ]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    assert load(session_factory, app_id).bank_result == f"退付失败：{reason}"


def test_the_payers_own_open_account_is_paid(bank, make_approved, session_factory, shift_clock):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    sim.state.accounts.register(
        [{"account_no": SUBMITTED_NO, "holder_name": payer.name, "holder_id": payer.id_number}]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUNDED)


def test_a_reissued_payout_is_paid_without_asking_hrss_again_and_every_attempt_is_kept(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    owner = Actor.person(payer.id)
    sim.state.accounts.register(
        [
            {"account_no": SUBMITTED_NO, "holder_name": "张三", "holder_id": "420703199001010011"},
            {
                "account_no": CORRECTED_NO,
                "holder_name": payer.name,
                "holder_id": payer.id_number,
                "state": "closed",
            },
        ]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)

    # First correction: the payer's own account, but closed — a second failure.
    view = _reissue(
        session_factory, app_id, owner=owner, no=CORRECTED_NO, name=payer.name, at=shift_clock.now()
    )
    assert view.status == S.AT_AGENCY
    assert view.bank_result is None
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    assert load(session_factory, app_id).bank_result == "退付失败：账户已销户"

    # Second correction: an account the bank does not know of — paid.
    _reissue(
        session_factory, app_id, owner=owner, no=OTHER_NO, name=payer.name, at=shift_clock.now()
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUNDED)

    app = load(session_factory, app_id)
    assert app.bank_account_no == OTHER_NO
    assert len(sim.submits("hrss")) == 1, "HRSS must never be asked again"
    paid_to = [m.payload["account"]["no"] for m in messages_of(session_factory, app_id)[1:]]
    assert paid_to == [SUBMITTED_NO, CORRECTED_NO, OTHER_NO]
    assert [b["status"] for b in sim.bookings("bank")] == ["failed", "failed", "paid"]
    moves = [(f, t, who) for f, t, who, _ in _history(session_factory, app_id)]
    assert moves == [
        (None, S.PENDING_REVIEW, "person"),
        (S.PENDING_REVIEW, S.APPROVED, "officer"),
        (S.APPROVED, S.AT_AGENCY, "agency"),
        (S.AT_AGENCY, S.REFUND_FAILED, "agency"),
        (S.REFUND_FAILED, S.AT_AGENCY, "person"),
        (S.AT_AGENCY, S.REFUND_FAILED, "agency"),
        (S.REFUND_FAILED, S.AT_AGENCY, "person"),
        (S.AT_AGENCY, S.REFUNDED, "agency"),
    ]
    reasons = [r for *_, r in _history(session_factory, app_id)]
    assert reasons[3] == "退付失败：户名与账号不符"
    assert reasons[4] == (
        "重新提交账户：***************0018 → ***************0026（退付失败：户名与账号不符），"
        "重新发送退付指令"
    )
    assert reasons[5] == "退付失败：账户已销户"


def test_a_late_result_of_the_superseded_payout_does_not_move_the_reissued_case(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    sim.state.accounts.register(
        [{"account_no": SUBMITTED_NO, "holder_name": "张三", "holder_id": "420703199001010011"}]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    failed_payout = messages_of(session_factory, app_id)[-1]
    sim.script.set_delay("bank", 60)  # the new payout stays undecided for now
    _reissue(
        session_factory,
        app_id,
        owner=Actor.person(payer.id),
        no=CORRECTED_NO,
        name=payer.name,
        at=shift_clock.now(),
    )
    # The old failure arrives once more (a duplicate callback, a poll).
    with session_factory() as s, s.begin():
        moved = settlement.apply_result(
            s,
            agency=Agency.BANK,
            result=AgencyResult(
                request_id=failed_payout.request_id, status="failed", reason="户名与账号不符"
            ),
            at=shift_clock.now(),
        )
    assert not moved
    assert status_of(session_factory, app_id) == S.AT_AGENCY
    # Polls ask about the live payout only.
    shift_clock.advance(seconds=120)
    dispatcher.run_once()
    dispatcher.poll()
    asked = {q["request_id"] for q in sim.queries("bank")}
    assert failed_payout.request_id not in asked
    assert status_of(session_factory, app_id) == S.AT_AGENCY


def test_a_unit_refund_is_reissued_by_the_unit_to_an_account_in_the_units_name(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(kind="unit_pension", at=shift_clock.now())
    app = load(session_factory, app_id)
    with session_factory() as s:
        unit = s.get(Unit, app.unit_id)
        unit_name, tax_id = unit.name, unit.tax_id
    # The account the unit typed is a villager's, not the unit's.
    sim.state.accounts.register(
        [
            {
                "account_no": app.bank_account_no,
                "holder_name": "王五",
                "holder_id": "420703199001010011",
            },
            {"account_no": OTHER_NO, "holder_name": unit_name, "holder_id": tax_id},
        ]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    owner = Actor.unit(app.unit_id)
    with pytest.raises(Invalid) as err:
        _reissue(session_factory, app_id, owner=owner, no=OTHER_NO, name="王五", at=app.created_at)
    assert err.value.code == "bank_account_name.not_unit"
    _reissue(
        session_factory, app_id, owner=owner, no=OTHER_NO, name=unit_name, at=shift_clock.now()
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUNDED)
    assert len(sim.submits("hrss")) == 1


def test_a_medical_refund_is_reissued_to_another_of_the_persons_deposit_accounts(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(kind="medical", at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    sim.state.accounts.register(
        [
            {
                "account_no": SUBMITTED_NO,
                "holder_name": payer.name,
                "holder_id": payer.id_number,
                "state": "frozen",
            }
        ]
    )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    assert load(session_factory, app_id).bank_result == "退付失败：账户冻结"
    with session_factory() as s, s.begin():
        other = factories.make_submitted_account(s, s.get(Person, payer.id), account_no=OTHER_NO)
        stranger = factories.make_person(s, name="李四")
        strangers = factories.make_submitted_account(s, stranger, account_no=CORRECTED_NO)
        other_id, strangers_id = other.id, strangers.id
    with pytest.raises(NotFound), session_factory() as s, s.begin():
        reissue.reissue_medical(
            s,
            person_id=payer.id,
            application_id=app_id,
            account=MedicalReissueIn(deposit_account_id=strangers_id),
            at=shift_clock.now(),
        )
    with session_factory() as s, s.begin():
        reissue.reissue_medical(
            s,
            person_id=payer.id,
            application_id=app_id,
            account=MedicalReissueIn(deposit_account_id=other_id),
            at=shift_clock.now(),
        )
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUNDED)
    assert load(session_factory, app_id).bank_account_no == OTHER_NO
    assert len(sim.submits("medical_security")) == 1


def test_only_the_applicant_reissues_and_only_a_failed_payout(
    bank, make_approved, session_factory, shift_clock
):
    sim, dispatcher = bank
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    with session_factory() as s, s.begin():
        # Someone who knows the payer's name and ID number, with an account of their own.
        intruder = factories.make_person(s, name=payer.name).id
        unit = factories.make_unit(s).id
    sim.script.set_delay("bank", 60)
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.AT_AGENCY)
    with pytest.raises(Conflict) as err:
        _reissue(
            session_factory,
            app_id,
            owner=Actor.person(payer.id),
            no=CORRECTED_NO,
            name=payer.name,
            at=shift_clock.now(),
        )
    assert err.value.code == "application.not_reissuable"
    sim.script.set_delay("bank", 0)
    sim.state.accounts.register(
        [{"account_no": SUBMITTED_NO, "holder_name": "张三", "holder_id": "420703199001010011"}]
    )
    # Nothing decided yet at the bank: the booking made above decides after its delay, so
    # walk a fresh application instead.
    (app_id,) = make_approved(at=shift_clock.now())
    payer = _payer(session_factory, app_id)
    dispatcher.drive(lambda: status_of(session_factory, app_id) == S.REFUND_FAILED)
    for owner in (Actor.person(intruder), Actor.unit(unit)):
        with pytest.raises(NotFound):
            _reissue(
                session_factory,
                app_id,
                owner=owner,
                no=CORRECTED_NO,
                name=payer.name,
                at=shift_clock.now(),
            )
    with pytest.raises(Invalid) as err:
        _reissue(
            session_factory,
            app_id,
            owner=Actor.person(payer.id),
            no=CORRECTED_NO,
            name="张三",
            at=shift_clock.now(),
        )
    assert err.value.code == "bank_account_name.not_payer"
    assert status_of(session_factory, app_id) == S.REFUND_FAILED
    assert len([m for m in messages_of(session_factory, app_id) if m.agency == "bank"]) == 1


def test_a_failed_payout_keeps_its_payment_taken_in_the_database(session):
    """refund_failed is open: the partial unique index refuses a second application."""
    person = factories.make_person(session)
    pay = factories.make_pension_payment(session, person)

    def app(status: str) -> Application:
        return factories.pension_application(
            person, pay, status=status, created_at=factories.AT, updated_at=factories.AT
        )

    session.add(app("refund_failed"))
    session.flush()
    session.add(app("pending_review"))
    with pytest.raises(IntegrityError):
        session.flush()
