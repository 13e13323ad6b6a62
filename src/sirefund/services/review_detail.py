"""税务端: one application as an officer reads it before deciding — the detail (payer, payment,
bank account, the payer's other applications, history, what the officer may do) and the
audited reveal of a full ID number or account number.

Anything outside the officer's scope answers 404, exactly like an application that does not
exist, so nobody learns what other offices hold. Functions never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import identity, regions
from ..domain.audit import AuditAction
from ..domain.errors import Invalid, NotFound
from ..domain.workflow import ApplicationKind, ApplicationStatus
from ..models import (
    Application,
    MedicalPayment,
    MedicalRegistration,
    Officer,
    PensionPayment,
    Person,
    SecurityEvent,
    UnitPaymentPerson,
)
from . import applications, audit, heir_claims, holidays, risk, units, views
from .applications import application_not_found
from .medical import Registration, registration_view
from .officers import OfficerRef, active_officer, in_scope, region_clause
from .payout_accounts import change_since_submission, payout_account
from .pension import PaymentView, payment_view
from .review_queue import ReviewClock, review_clock

OTHER_APPLICATIONS_MAX = 50
REASON_MAX = 200

RevealField = Literal["id_number", "bank_account_no"]
REVEAL_FIELD_NAMES = {"id_number": "证件号码", "bank_account_no": "银行账号"}


def visible_application(
    session: Session, officer: Officer, application_id: int, *, lock: bool = False
) -> Application:
    """The application if it lies within the officer's scope; 404 otherwise."""
    app = applications.find(session, application_id, lock=lock)
    if app is None or not in_scope(officer, app.region_code):
        raise application_not_found()
    return app


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class OfficerBrief:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Payer:
    person_id: int
    name: str
    id_number_masked: str
    region_code: str
    region_name: str | None
    phone_masked: str | None


@dataclass(frozen=True, slots=True)
class UnitLineView:
    """One person's line of a unit (村组) payment."""

    line_id: str
    ss_no: str  # 个人编号
    amount_fen: int
    batch_id: int | None
    payment_month: int | None
    unit_payment: units.UnitPaymentView


@dataclass(frozen=True, slots=True)
class MedicalPaymentView:
    payment_id: str
    ticket_no: str
    item_name: str
    medical_amount_fen: int
    ltc_amount_fen: int
    refund_amount_fen: int
    period_start: date
    period_end: date
    payment_date: date
    insurance_year: int
    channel: str
    registration: Registration


@dataclass(frozen=True, slots=True)
class DepositAccountView:
    """A medical application's account: the copy of the chosen 存款账户 taken at submission (or
    at a re-issue), which is what the bank is ordered to pay — not the report as it reads now.
    ``changed_after_submission`` flags that the person changed or deleted that account since;
    ``current_no_masked`` is the number the report now holds (for the officer's comparison)."""

    account_no_masked: str
    account_name: str | None
    bank_branch: str | None
    bank_category: str | None
    handler_phone_masked: str | None
    changed_after_submission: bool = False
    current_no_masked: str | None = None
    current_deleted: bool = False


@dataclass(frozen=True, slots=True)
class ApplicationAccountView:
    """The account typed into a pension or unit application."""

    account_no_masked: str
    account_type: str | None
    account_name: str | None
    bank_category: str | None
    contact_name: str | None
    contact_phone_masked: str | None


@dataclass(frozen=True, slots=True)
class Actions:
    """What this officer may do with this application now (for buttons and forms)."""

    can_approve: bool
    can_reject: bool
    can_reveal: bool
    four_eyes_blocked: bool


@dataclass(frozen=True, slots=True)
class ReviewDetail:
    application: views.ApplicationView
    region_name: str | None
    initiated_by: OfficerBrief | None
    reviewed_by: OfficerBrief | None
    clock: ReviewClock
    payer: Payer
    payment: PaymentView | UnitLineView | MedicalPaymentView
    bank_account: DepositAccountView | ApplicationAccountView | None
    other_applications: list[views.ApplicationView]
    history: list[views.EventView]
    actions: Actions
    risk_flags: list[risk.FlagView] = field(default_factory=list)
    # 继承人代办: the claim the heir applied under and its evidence (None: the payer's own).
    heir_claim: heir_claims.HeirClaimView | None = None


@dataclass(frozen=True, slots=True)
class Revealed:
    application_id: int
    field: RevealField
    value: str


# --------------------------------------------------------------------------- detail


def _payer(person: Person) -> Payer:
    return Payer(
        person_id=person.id,
        name=person.name,
        id_number_masked=identity.mask_id_number_for_officer(person.id_number),
        region_code=person.region_code,
        region_name=regions.division_name(person.region_code),
        phone_masked=identity.mask_phone(person.phone) if person.phone else None,
    )


M = TypeVar("M")


def _get(session: Session, model: type[M], key: object) -> M:
    row = session.get(model, key)
    assert row is not None  # a foreign key of the application points here
    return row


def _payment(session: Session, app: Application) -> PaymentView | UnitLineView | MedicalPaymentView:
    if app.kind == ApplicationKind.PENSION:
        return payment_view(_get(session, PensionPayment, app.pension_payment_id))
    if app.kind == ApplicationKind.UNIT_PENSION:
        line = _get(session, UnitPaymentPerson, app.unit_line_id)
        return UnitLineView(
            line_id=line.line_id,
            ss_no=line.ss_no,
            amount_fen=line.amount_fen,
            batch_id=app.batch_id,
            payment_month=app.payment_month,
            unit_payment=units.payment_view(session, line.unit_payment_id),
        )
    mp = _get(session, MedicalPayment, app.medical_payment_id)
    reg = _get(session, MedicalRegistration, mp.registration_id)
    return MedicalPaymentView(
        payment_id=mp.payment_id,
        ticket_no=mp.ticket_no,
        item_name=mp.item_name,
        medical_amount_fen=mp.medical_amount_fen,
        ltc_amount_fen=mp.ltc_amount_fen,
        refund_amount_fen=mp.refund_amount_fen,
        period_start=mp.period_start,
        period_end=mp.period_end,
        payment_date=mp.payment_date,
        insurance_year=mp.insurance_year,
        channel=mp.channel,
        registration=registration_view(reg),
    )


def _masked_phone(value: str | None) -> str | None:
    return identity.mask_phone(value) if value else None


def _bank_account(
    session: Session, app: Application, person: Person
) -> DepositAccountView | ApplicationAccountView | None:
    """The account the payout uses (payout_accounts.py), masked for officers."""
    account = payout_account(session, app, payer_name=person.name)
    if app.kind == ApplicationKind.MEDICAL:
        if account.no is None:
            return None
        change = change_since_submission(session, app)
        return DepositAccountView(
            account_no_masked=identity.mask_account_for_officer(account.no),
            account_name=account.name,
            bank_branch=account.branch,
            bank_category=account.bank_category,
            handler_phone_masked=_masked_phone(app.handler_phone),
            changed_after_submission=change is not None,
            current_no_masked=(
                identity.mask_account_for_officer(change.current_no)
                if change is not None and change.current_no
                else None
            ),
            current_deleted=change is not None and change.deleted,
        )
    return ApplicationAccountView(
        account_no_masked=identity.mask_account_for_officer(account.no),
        account_type=app.bank_account_type,
        account_name=account.name,
        bank_category=app.bank_category,
        contact_name=app.contact_name,
        contact_phone_masked=_masked_phone(app.contact_phone),
    )


def _officer_brief(session: Session, officer_id: int | None) -> OfficerBrief | None:
    if officer_id is None:
        return None
    o = session.get(Officer, officer_id)
    return OfficerBrief(id=o.id, code=o.code, name=o.name) if o is not None else None


def actions_for(officer: Officer, app: Application) -> Actions:
    pending = app.status == ApplicationStatus.PENDING_REVIEW
    own = app.initiated_by_officer_id is not None and app.initiated_by_officer_id == officer.id
    can_decide = pending and officer.is_reviewer and not own
    return Actions(
        can_approve=can_decide,
        can_reject=can_decide,
        can_reveal=True,
        four_eyes_blocked=pending and own,
    )


def detail(
    session: Session, *, officer: OfficerRef, application_id: int, today: date
) -> ReviewDetail:
    """One application for review, with the working-day clock, the payer (masked), the
    payment by kind, the bank account (masked for officers), the payer's other applications
    within scope (newest first), every transition with the actor's code and the actions.
    404 outside the scope."""
    me = active_officer(session, officer)
    app = visible_application(session, me, application_id)
    person = _get(session, Person, app.person_id)
    others = session.execute(
        select(Application)
        .where(
            Application.person_id == app.person_id,
            Application.id != app.id,
            region_clause(Application.region_code, me.region_code),
        )
        .order_by(Application.created_at.desc(), Application.id.desc())
        .limit(OTHER_APPLICATIONS_MAX)
    ).scalars()
    return ReviewDetail(
        application=views.application(app, audience="officer"),
        region_name=regions.division_name(app.region_code),
        initiated_by=_officer_brief(session, app.initiated_by_officer_id),
        reviewed_by=_officer_brief(session, app.reviewed_by_officer_id),
        clock=review_clock(app, today=today, calendar=holidays.working_days(session)),
        payer=_payer(person),
        payment=_payment(session, app),
        bank_account=_bank_account(session, app, person),
        other_applications=[views.application(o, audience="officer") for o in others],
        history=applications.history(session, app, audience="officer"),
        actions=actions_for(me, app),
        risk_flags=risk.flags(session, [app.id]).get(app.id, []),
        heir_claim=heir_claims.for_officer(session, app.heir_claim_id),
    )


# --------------------------------------------------------------------------- reveal


class RevealRequest(BaseModel):
    """查看完整信息: which value and why (the reason is recorded, never the value)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"field": "id_number", "reason": "缴费人来电核对身份"}]},
    )

    field: RevealField = Field(description="id_number 证件号码 / bank_account_no 银行账号")
    # Optional in the schema so that a missing reason gets the domain's code and message.
    reason: str | None = Field(
        default=None, max_length=REASON_MAX, description="查看原因（必填，留痕）"
    )

    @model_validator(mode="after")
    def _reason_required(self) -> RevealRequest:
        if not self.reason:
            raise Invalid("reveal.reason_required", "查看完整信息必须填写查看原因", "reason")
        return self


def reveal(
    session: Session,
    *,
    officer: OfficerRef,
    application_id: int,
    request: RevealRequest,
    at: datetime,
) -> Revealed:
    """The full ID number or bank account number of an application, audited: a SecurityEvent
    (kind ``reveal``) records who, which application, which field and why — never the value.
    404 ``reveal.no_value`` when the application has none."""
    me = active_officer(session, officer)
    app = visible_application(session, me, application_id)
    person = _get(session, Person, app.person_id)
    if request.field == "id_number":
        value: str | None = person.id_number
    else:
        # The number the bank is ordered to pay, not the person's current deposit account.
        value = payout_account(session, app, payer_name=person.name).no
    if not value:
        name = REVEAL_FIELD_NAMES[request.field]
        raise NotFound("reveal.no_value", f"该申请没有{name}", "field")
    session.add(
        SecurityEvent(
            at=at,
            kind="reveal",
            actor=f"officer:{me.code}",
            detail=json.dumps(
                {"application_id": app.id, "field": request.field, "reason": request.reason},
                ensure_ascii=False,
            ),
        )
    )
    audit.record(
        session,
        actor=audit.Actor.officer(me.code),
        action=AuditAction.REVEAL,
        at=at,
        subject=audit.Subject(application_id=app.id, person_id=app.person_id),
        details={"field": request.field, "reason": request.reason},
    )
    session.flush()
    return Revealed(application_id=app.id, field=request.field, value=value)
