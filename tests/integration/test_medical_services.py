"""Medical refunds and deposit account reports at the service layer: each rule checked with a
session and a fixed clock, no HTTP (the API tests prove the contract). Runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sirefund.domain.errors import Conflict, Invalid, NotFound
from sirefund.domain.workflow import ApplicationStatus
from sirefund.models import MedicalPayment, MedicalRegistration, Person
from sirefund.services import deposit_accounts, medical
from sirefund.services.deposit_accounts import FormInvalid, ReportIn
from sirefund.services.medical import MedicalRefundIn
from sirefund.web.pages.medical_flows import report_input
from tests import factories as f
from tests.conftest import FixedClock

GOOD_CARD = "6228480402564890018"


@pytest.fixture
def db(session: Session) -> Iterator[Session]:
    with session.begin():
        yield session


@pytest.fixture
def insured(db: Session) -> tuple[Person, MedicalRegistration, MedicalPayment]:
    person = f.make_person(db, name="邱世贵")
    reg = f.make_registration(db, person)
    return person, reg, f.make_medical_payment(db, reg, ltc_fen=2000)


def refund(payment: MedicalPayment, **overrides: Any) -> MedicalRefundIn:
    body = {
        "payment_ids": [payment.payment_id],
        "handler_phone": "13812341234",
        "reason_code": "duplicate_payment",
        **overrides,
    }
    return MedicalRefundIn.model_validate(body)


def row(**overrides: Any) -> dict[str, Any]:
    return {
        "account_nature": "1110",
        "issue_date": "2026-03-10",
        "division_code": "420700",
        "bank_category": "103",
        "bank_branch": "中国农业银行股份有限公司鄂州鄂城支行",
        "account_name": "邱世贵",
        "account_no": GOOD_CARD,
        "opened_on": "2020-01-01",
        **overrides,
    }


def report(*rows: dict[str, Any], submit: bool = True, **overrides: Any) -> ReportIn:
    body = {"handler_name": "邱世贵", "report_date": "2026-03-10", "accounts": list(rows)}
    return ReportIn.model_validate({**body, "submit": submit, **overrides})


def save(db: Session, person: Person, body: ReportIn, clock: FixedClock, **kw: Any) -> Any:
    return deposit_accounts.save_report(
        db, person_id=person.id, report_in=body, at=clock.now(), today=clock.today(), **kw
    )


# --------------------------------------------------------------------------- applying


def test_applying_copies_the_account_and_asks_for_medical_plus_ltc_amount(db, insured, clock):
    person, _reg, payment = insured
    account = f.make_submitted_account(db, person)
    [made] = medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    assert made.application.status == ApplicationStatus.PENDING_REVIEW
    assert made.application.amount_fen == 35000 + 2000
    assert (made.medical_amount_fen, made.ltc_amount_fen) == (35000, 2000)
    assert made.deposit_account_id == account.id and made.cancellable
    assert made.application.bank_account_masked == "***************0018"


def test_without_a_submitted_report_applying_is_refused_with_the_prompt(db, insured, clock):
    person, _reg, payment = insured
    with pytest.raises(Conflict) as caught:
        medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    assert caught.value.code == "deposit_account.missing"
    assert caught.value.message == medical.NO_DEPOSIT_ACCOUNT_MESSAGE


def test_phone_and_reason_problems_are_reported_together(db, insured, clock):
    person, _reg, payment = insured
    f.make_submitted_account(db, person)
    body = refund(payment, handler_phone="", reason_code="")
    with pytest.raises(FormInvalid) as caught:
        medical.apply(db, person_id=person.id, refund=body, at=clock.now())
    assert [e.field for e in caught.value.errors] == ["handler_phone", "reason_code"]


def test_other_reason_needs_its_text(db, insured, clock):
    person, _reg, payment = insured
    f.make_submitted_account(db, person)
    with pytest.raises(FormInvalid) as caught:
        medical.apply(
            db, person_id=person.id, refund=refund(payment, reason_code="other"), at=clock.now()
        )
    assert caught.value.code == "reason.text_required"


def test_a_payment_already_applied_for_cannot_be_applied_for_again(db, insured, clock):
    person, _reg, payment = insured
    f.make_submitted_account(db, person)
    medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    with pytest.raises(Conflict) as caught:
        medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    assert caught.value.code == "application.already_applied"


def test_a_payment_before_insurance_year_2023_is_refused_on_the_payments(db, insured, clock):
    person, reg, _payment = insured
    f.make_submitted_account(db, person)
    old = f.make_medical_payment(db, reg, year=2022)
    with pytest.raises(Invalid) as caught:
        medical.apply(db, person_id=person.id, refund=refund(old), at=clock.now())
    assert (caught.value.code, caught.value.field) == ("medical.year_unsupported", "payment_ids")


def test_another_persons_payment_is_not_found(db, insured, clock):
    _person, _reg, payment = insured
    other = f.make_person(db, name="李伊岚")
    f.make_registration(db, other)
    f.make_submitted_account(db, other)
    with pytest.raises(NotFound):
        medical.apply(db, person_id=other.id, refund=refund(payment), at=clock.now())


def test_listing_marks_an_applied_payment_not_refundable(db, insured, clock):
    person, _reg, payment = insured
    f.make_submitted_account(db, person)
    medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    listing = medical.list_payments(db, person_id=person.id, today=clock.today())
    [shown] = listing.items
    assert listing.insurance_year == 2026 and not shown.refundable
    assert shown.status == ApplicationStatus.PENDING_REVIEW
    assert shown.labels.refund_status == "已申请"


# --------------------------------------------------------------------------- cancelling


def test_cancelling_is_for_the_applicant_while_pending_review(db, insured, clock):
    person, _reg, payment = insured
    f.make_submitted_account(db, person)
    [made] = medical.apply(db, person_id=person.id, refund=refund(payment), at=clock.now())
    app_id = made.application.id
    with pytest.raises(NotFound):
        medical.cancel(db, person_id=person.id + 1000, application_id=app_id, at=clock.now())
    cancelled = medical.cancel(db, person_id=person.id, application_id=app_id, at=clock.now())
    assert cancelled.application.status == ApplicationStatus.CANCELLED
    assert not cancelled.cancellable
    with pytest.raises(Conflict) as caught:
        medical.cancel(db, person_id=person.id, application_id=app_id, at=clock.now())
    assert caught.value.code == "application.not_cancellable"
    detail = medical.get_application(db, person_id=person.id, application_id=app_id)
    assert [ev.to_status for ev in detail.history] == [
        ApplicationStatus.PENDING_REVIEW,
        ApplicationStatus.CANCELLED,
    ]


# --------------------------------------------------------------------------- reports


def test_a_draft_keeps_incomplete_rows_and_submit_checks_every_required_field(db, insured, clock):
    person = insured[0]
    draft = save(db, person, report({"bank_category": "103"}, submit=False), clock)
    assert draft.state == deposit_accounts.DRAFT
    with pytest.raises(FormInvalid) as caught:
        save(db, person, report({"bank_category": "103"}, handler_name=""), clock)
    fields = {e.field for e in caught.value.errors}
    assert {"accounts.0.account_nature", "accounts.0.opened_on", "handler_name"} <= fields
    assert "accounts.0.permit_no" not in fields


def test_a_submitted_report_cannot_go_back_to_draft(db, insured, clock):
    person = insured[0]
    saved = save(db, person, report(row()), clock)
    with pytest.raises(Conflict) as caught:
        save(db, person, report(row(), submit=False), clock, report_id=saved.report_id)
    assert caught.value.code == "deposit_account_report.already_submitted"


def test_changing_a_saved_account_needs_its_change_date_and_deleting_retires_it(db, insured, clock):
    person = insured[0]
    saved = save(db, person, report(row()), clock)
    account_id = saved.accounts[0].account_id
    changed = row(account_id=account_id, bank_branch="中国农业银行股份有限公司武汉分行")
    with pytest.raises(FormInvalid) as caught:
        save(db, person, report(changed), clock, report_id=saved.report_id)
    assert caught.value.code == "deposit_account.change_date_required"
    again = save(
        db,
        person,
        report({"account_id": account_id, "operation_type": "delete"}),
        clock,
        report_id=saved.report_id,
    )
    assert again.accounts[0].retired and not again.accounts[0].in_force
    assert deposit_accounts.submitted_accounts(db, person_id=person.id) == []


def test_latest_draft_and_current_report_for_the_form(db, insured, clock):
    person = insured[0]
    assert deposit_accounts.current_report(db, person_id=person.id) is None
    submitted = save(
        db, person, report(row(preferred_tax_account="1", export_refund_account="0")), clock
    )
    assert submitted.accounts[0].preferred_tax_account is True  # form values accepted
    assert deposit_accounts.latest_draft(db, person_id=person.id) is None
    current = deposit_accounts.current_report(db, person_id=person.id)
    assert current is not None and current.report_id == submitted.report_id
    draft = save(db, person, report({}, submit=False, handler_name="", report_date=None), clock)
    latest = deposit_accounts.latest_draft(db, person_id=person.id)
    assert latest is not None and latest.report_id == draft.report_id
    current = deposit_accounts.current_report(db, person_id=person.id)
    assert current is not None and current.report_id == draft.report_id


def test_a_form_gets_every_problem_by_field(db, insured, clock):
    """The page's form -> model step refuses bad dates; the service still checks the rest,
    so the person sees the date problems and the name mismatch at once."""
    person = insured[0]
    texts = {k: str(v) for k, v in row(account_name="李伊岚", issue_date="昨天").items()}
    body, refused = report_input(
        {"handler_name": "邱世贵", "report_date": "2026-02-30"}, [texts], submit=True
    )
    by_field = {e.field: e for e in refused}
    assert by_field["accounts.0.issue_date"].message == "日期格式应为YYYY-MM-DD"
    assert by_field["report_date"].message == "日期格式应为YYYY-MM-DD"
    with pytest.raises(FormInvalid) as caught:
        save(db, person, body, clock)
    codes = {e.field: e.code for e in caught.value.errors}
    assert codes["accounts.0.account_name"] == "deposit_account.name_mismatch"


def test_form_dates_may_use_slashes(db, insured, clock):
    texts = {k: str(v) for k, v in row(opened_on="2020/01/01").items()}
    body, refused = report_input({"report_date": "2026/03/10"}, [texts], submit=False)
    assert refused == []
    assert body.report_date == date(2026, 3, 10)
    assert body.accounts[0].opened_on == date(2020, 1, 1)
