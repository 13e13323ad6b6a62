"""税务端发起退费: an officer files the refund of an ``arrived`` pension payment at the
citizen's request (the citizen cannot file those), and looks the payments up first.

The application has channel ``officer`` and records the initiator, who may then not review it
(four eyes, see review_decisions). Only initiators use this (403 ``officer.not_initiator``); a
payment or citizen outside the scope is 404 like an absent one. Functions never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import identity, regions, rules, workflow
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..domain.rules import ArrivalStatus
from ..domain.workflow import ApplicationStatus, Channel
from ..models import Application, Officer, PensionPayment, Person
from . import applications, bank_details, pension, views
from .applications import Actor
from .bank_details import BankDetailsIn
from .officers import OfficerRef, active_officer, in_scope
from .review_decisions import OPINION_MAX

PAYMENT_ID_MAX = 40
LOOKUP_MAX_PAYMENTS = 200


def payment_not_found() -> NotFound:
    """A fresh error each time: a shared exception object would collect tracebacks."""
    return NotFound("pension.payment_not_found", "缴费记录不存在", "payment_id")


class InitiateRefund(BankDetailsIn):
    """What the officer fills in: the payment, why, and where the money goes (the bank
    details checked by :class:`BankDetailsIn`, as for the citizen's own refund)."""

    model_config = bank_details.input_config(
        {
            "payment_id": "PP00012345",
            "reason": "缴费人重复缴费，到办税服务厅申请退费",
            **bank_details.EXAMPLE,
        },
        strip=True,
    )

    payment_id: str = Field(min_length=1, max_length=PAYMENT_ID_MAX)
    reason: str = Field(max_length=OPINION_MAX, description="发起退费的原因")


@dataclass(frozen=True, slots=True)
class PayerBrief:
    name: str
    id_number_masked: str
    region_name: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A payment the officer may (or, with the reason, may not) initiate a refund of."""

    payment: pension.PaymentView
    application_id: int | None  # its active application
    application_status: ApplicationStatus | None
    blocked_reason: str | None

    @property
    def can_initiate(self) -> bool:
        return self.blocked_reason is None


@dataclass(frozen=True, slots=True)
class Candidates:
    payer: PayerBrief
    payments: list[Candidate]


def _initiator(session: Session, officer: OfficerRef) -> Officer:
    me = active_officer(session, officer)
    if not me.is_initiator:
        raise Forbidden("officer.not_initiator", "您没有发起退费的权限")
    return me


def _payment_in_scope(
    session: Session, me: Officer, payment_id: str
) -> tuple[PensionPayment, Person]:
    pay = session.get(PensionPayment, payment_id) if len(payment_id) <= PAYMENT_ID_MAX else None
    person = session.get(Person, pay.person_id) if pay is not None else None
    if pay is None or person is None or not in_scope(me, person.region_code):
        raise payment_not_found()
    return pay, person


def _active_applications(session: Session, payment_ids: list[str]) -> dict[str, Application]:
    if not payment_ids:
        return {}
    found = session.execute(
        select(Application).where(
            Application.pension_payment_id.in_(payment_ids),
            Application.status.in_([s.value for s in workflow.ACTIVE]),
        )
    ).scalars()
    return {app.pension_payment_id: app for app in found if app.pension_payment_id is not None}


def initiate_pension_refund(
    session: Session, *, officer: OfficerRef, request: InitiateRefund, at: datetime
) -> views.ApplicationView:
    """税务端发起退费 of an ``arrived`` pension payment (the input model has checked the bank
    details). 422 for a payment that is not arrived (the citizen files those) or a missing
    reason; 409 when the payment already has an active application."""
    me = _initiator(session, officer)
    pay, person = _payment_in_scope(session, me, request.payment_id)
    rules.check_pension_refundable_by_officer(pay.arrival_status)
    if not request.reason:
        raise Invalid("initiate.reason_required", "请填写发起退费的原因", "reason")
    if _active_applications(session, [pay.payment_id]):
        raise applications.already_applied("payment_id")
    app = pension.new_application(person, pay, request, channel=Channel.OFFICER)
    app.reason_text = request.reason
    app.initiated_by_officer_id = me.id
    try:
        created = applications.create(
            session,
            application=app,
            actor=Actor.officer(me.code),
            at=at,
            reason=f"税务人员发起退费：{request.reason}",
        )
    except Conflict as exc:
        # A concurrent submission won on the partial unique index.
        raise Conflict(exc.code, exc.message, "payment_id") from None
    return views.application(created, audience="officer")


def payments_to_initiate(
    session: Session,
    *,
    officer: OfficerRef,
    payment_id: str | None = None,
    id_number: str | None = None,
    year: int | None = None,
    today: date,
) -> Candidates:
    """The pension payments an officer looks at before 发起退费: one payment by its id, or the
    ``arrived`` payments of the citizen with ``id_number`` (of ``year`` when given). Each says
    whether a refund can be initiated now and if not why (not arrived, or an active
    application exists). A malformed ID number is 422 on ``id_number``."""
    me = _initiator(session, officer)
    pid = (payment_id or "").strip()
    idn = (id_number or "").strip()
    if pid:
        pay, person = _payment_in_scope(session, me, pid)
        payments = [pay]
    elif idn:
        normalised = identity.check_resident_id(idn, today=today)
        found = session.execute(
            select(Person).where(Person.id_number == normalised)
        ).scalar_one_or_none()
        if found is None or not in_scope(me, found.region_code):
            raise NotFound("initiate.person_not_found", "未找到该缴费人的缴费记录", "id_number")
        person = found
        query = select(PensionPayment).where(
            PensionPayment.person_id == person.id,
            PensionPayment.arrival_status == ArrivalStatus.ARRIVED.value,
        )
        if year is not None:
            query = query.where(PensionPayment.payment_year == year)
        payments = list(
            session.execute(
                query.order_by(PensionPayment.period_start, PensionPayment.payment_id).limit(
                    LOOKUP_MAX_PAYMENTS
                )
            ).scalars()
        )
    else:
        raise Invalid(
            "initiate.lookup_required", "请输入缴费记录编号，或缴费人证件号码", "payment_id"
        )

    active = _active_applications(session, [p.payment_id for p in payments])
    rows = []
    for pay in payments:
        app = active.get(pay.payment_id)
        blocked = None
        if pay.arrival_status != ArrivalStatus.ARRIVED.value:
            blocked = "该缴费未到账或异常，请由缴费人自行申请退费"
        elif app is not None:
            blocked = "该缴费已有退费申请，不能重复发起"
        rows.append(
            Candidate(
                payment=pension.payment_view(pay),
                application_id=app.id if app is not None else None,
                application_status=ApplicationStatus(app.status) if app is not None else None,
                blocked_reason=blocked,
            )
        )
    return Candidates(
        payer=PayerBrief(
            name=person.name,
            id_number_masked=identity.mask_id_number_for_officer(person.id_number),
            region_name=regions.division_name(person.region_code),
        ),
        payments=rows,
    )
