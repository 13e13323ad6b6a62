"""The printed documents of an application (domain.md "Document numbers"): the 受理回执
(acknowledgement of receipt, at once after submission) and the 退费凭证 (refund
certificate, once ``refunded``), as typed read models; web/documents_pdf.py lays them out.

Who may print: the applicant — the person for their own pension and medical applications,
the unit (村组) for its batches' applications — and an officer whose region covers the
payer's (to hand a printed copy over the counter). Anybody else gets 404, exactly as for an
application that does not exist. Personal data is masked here, as on the citizen's screens:
the document goes to the applicant, whoever prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..domain import documents, identity, regions
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS, add_working_days
from ..domain.errors import Conflict
from ..domain.rules import BANK_CATEGORIES
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import (
    Application,
    DepositAccount,
    MedicalPayment,
    PensionPayment,
    Person,
    Unit,
    UnitPaymentPerson,
)
from . import applications
from .accounts import Principal
from .officers import active_officer, in_scope

#: 征收项目 of each kind, as on the tax bureau's own tickets.
ITEM_NAMES = {
    ApplicationKind.PENSION: "城乡居民基本养老保险费",
    ApplicationKind.UNIT_PENSION: "城乡居民基本养老保险费",
    ApplicationKind.MEDICAL: "城乡居民基本医疗保险费",
}
#: Who checks the refund after the tax review.
CHECKING_AGENCIES = {
    ApplicationKind.PENSION: "人力资源和社会保障部门",
    ApplicationKind.UNIT_PENSION: "人力资源和社会保障部门",
    ApplicationKind.MEDICAL: "医疗保障部门",
}


@dataclass(frozen=True, slots=True)
class RefundDocument:
    """What a 受理回执 or 退费凭证 says; masked, amounts in fen, instants in UTC."""

    document_no: str
    application_id: int
    kind: ApplicationKind
    status: ApplicationStatus
    channel: Channel
    item_name: str
    payment_ref: str  # 缴费凭证号 / 票证号码 / the unit's person line
    period_start: date
    period_end: date
    payment_year: int
    amount_fen: int
    amount_in_capitals: str
    payer_name: str
    payer_id_number_masked: str
    unit_name: str | None  # the 村组 that applied for the payer, for unit applications
    unit_tax_id: str | None
    bank_account_name: str | None
    bank_account_masked: str | None
    bank_name: str | None
    submitted_at: datetime
    submitted_on: date  # in China
    review_deadline: date  # 30 working days from submission
    checking_agency: str
    refund_date: date | None
    bank_result: str | None
    tax_bureau: str
    region_name: str | None


def _readable(session: Session, *, principal: Principal, application_id: int) -> Application:
    """The application if ``principal`` may print its documents; 404 otherwise."""
    app = applications.find(session, application_id)
    if app is None:
        raise applications.application_not_found()
    if principal.kind == "person":
        # A unit's application for a villager is the unit's to print, not the villager's.
        allowed = app.unit_id is None and app.person_id == principal.account_id
    elif principal.kind == "unit":
        allowed = app.unit_id == principal.account_id
    else:
        allowed = in_scope(active_officer(session, principal), app.region_code)
    if not allowed:
        raise applications.application_not_found()
    return app


def _payment(session: Session, app: Application) -> str:
    if app.kind == ApplicationKind.PENSION:
        pension = session.get(PensionPayment, app.pension_payment_id)
        return pension.payment_id if pension else ""
    if app.kind == ApplicationKind.UNIT_PENSION:
        line = session.get(UnitPaymentPerson, app.unit_line_id)
        return line.unit_payment_id if line else ""
    medical = session.get(MedicalPayment, app.medical_payment_id)
    return medical.ticket_no if medical else ""


def _account(session: Session, app: Application) -> tuple[str | None, str | None, str | None]:
    """(holder, masked number, bank) of the account the refund goes to."""
    if app.kind == ApplicationKind.MEDICAL:
        acct = (
            session.get(DepositAccount, app.deposit_account_id) if app.deposit_account_id else None
        )
        if acct is None:
            return None, None, None
        bank = acct.bank_branch or BANK_CATEGORIES.get(acct.bank_category or "")
        return acct.account_name, identity.mask_account(acct.account_no) or None, bank
    return (
        app.bank_account_name,
        identity.mask_account(app.bank_account_no) or None,
        BANK_CATEGORIES.get(app.bank_category or ""),
    )


def _document(session: Session, app: Application) -> RefundDocument:
    kind = ApplicationKind(app.kind)
    person = session.get(Person, app.person_id)
    assert person is not None  # a foreign key of the application
    unit = session.get(Unit, app.unit_id) if app.unit_id is not None else None
    payment_ref = _payment(session, app)
    holder, account, bank = _account(session, app)
    submitted_at = as_utc(app.created_at)
    submitted_on = submitted_at.astimezone(CHINA_TZ).date()
    return RefundDocument(
        document_no=app.document_no,
        application_id=app.id,
        kind=kind,
        status=ApplicationStatus(app.status),
        channel=Channel(app.channel),
        item_name=ITEM_NAMES[kind],
        payment_ref=payment_ref,
        period_start=app.period_start,
        period_end=app.period_end,
        payment_year=app.payment_year,
        amount_fen=app.amount_fen,
        amount_in_capitals=documents.amount_in_capitals(app.amount_fen),
        payer_name=person.name,
        payer_id_number_masked=identity.mask_id_number(person.id_number),
        unit_name=unit.name if unit else None,
        unit_tax_id=unit.tax_id if unit else None,
        bank_account_name=holder,
        bank_account_masked=account,
        bank_name=bank,
        submitted_at=submitted_at,
        submitted_on=submitted_on,
        review_deadline=add_working_days(submitted_on, STATUTORY_REVIEW_WORKING_DAYS),
        checking_agency=CHECKING_AGENCIES[kind],
        refund_date=app.refund_date,
        bank_result=app.bank_result,
        tax_bureau=documents.tax_bureau_name(app.region_code),
        region_name=regions.division_name(app.region_code),
    )


def receipt(session: Session, *, principal: Principal, application_id: int) -> RefundDocument:
    """The 受理回执 of an application ``principal`` may print (any state: it records the
    submission); 404 otherwise."""
    return _document(
        session, _readable(session, principal=principal, application_id=application_id)
    )


def certificate(session: Session, *, principal: Principal, application_id: int) -> RefundDocument:
    """The 退费凭证 of a ``refunded`` application ``principal`` may print; 404 when not
    theirs, 409 ``document.not_refunded`` before the refund is paid."""
    app = _readable(session, principal=principal, application_id=application_id)
    if app.status != ApplicationStatus.REFUNDED:
        raise Conflict("document.not_refunded", "退费成功后才能打印退费凭证")
    return _document(session, app)
