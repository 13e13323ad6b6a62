"""城乡居民基本养老保险退费（个人）: a person refunds their own not-arrived or abnormal payments.

Manual 1.1 (楚税通) and 1.2.1 (电子税务局): query payments by 缴费年度 and 查询状态, 申请退费
with bank details (one application per selected payment), 撤销退费 while 待审核, 进度查询.
Arrived payments are refused here; an officer initiates those (services for the officer side).

Every function takes the session of a transaction the caller owns and never commits; when a
function raises, the caller's rollback undoes everything it added (all-or-nothing).
Reads return typed rows (fen, dates, enums, personal data already masked); the web layer
turns them into text (web/refund_presenters.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow
from ..domain.errors import Invalid, NotFound
from ..domain.rules import ArrivalStatus
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, PensionPayment, Person
from . import applications, bank_details, heir_claims, queries, reapply, views
from .applications import Actor, not_cancellable
from .bank_details import BankDetailsIn, check_account_name, checked, refusal
from .queries import PensionPaymentRow, PensionState
from .views import ApplicationView, EventView, Payer

KIND = ApplicationKind.PENSION.value
MAX_SELECTED = 100
PAYMENT_ID_MAX = 40  # pension_payments.payment_id


# Fresh instances on every raise: a shared exception object would collect tracebacks and be
# shared between threads.
def payment_not_found() -> NotFound:
    return NotFound("pension.payment_not_found", "缴费记录不存在", "payment_ids")


def no_payment_selected() -> Invalid:
    return Invalid("pension.no_payment_selected", "请选择需要退费的缴费记录", "payment_ids")


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class PaymentView:
    """A pension payment's own columns, as every screen shows them (the person's 退费信息查询,
    the officer's application detail and 代发起 lookup)."""

    payment_id: str
    amount_fen: int
    period_start: date
    period_end: date
    payment_year: int
    payment_date: date
    channel: str  # 缴费渠道, a free label such as 楚税通
    arrival_status: ArrivalStatus


def payment_view(pay: PensionPayment | PensionPaymentRow) -> PaymentView:
    return PaymentView(
        payment_id=pay.payment_id,
        amount_fen=pay.amount_fen,
        period_start=pay.period_start,
        period_end=pay.period_end,
        payment_year=pay.payment_year,
        payment_date=pay.payment_date,
        channel=pay.channel,
        arrival_status=ArrivalStatus(pay.arrival_status),
    )


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One line of 退费信息查询: the payment and the application that speaks for it.

    ``application_*`` is None when the payment was never applied for or its latest
    application was cancelled (退费状态 未申请); ``refundable``: the person may apply now.
    """

    payment: PaymentView
    refundable: bool
    not_refundable_reason: str | None  # why not, in words (None when refundable)
    application_id: int | None
    application_status: ApplicationStatus | None
    cancellable: bool
    payer_name: str
    id_number_masked: str

    @property
    def payment_id(self) -> str:
        return self.payment.payment_id


def heir_payments(
    session: Session,
    *,
    person_id: int,
    heir_claim_id: int,
    year: int | None = None,
    state: PensionState = "all",
    arrival: ArrivalStatus | None = None,
) -> list[PaymentLine]:
    """继承人代办: the deceased's pension payments, for the heir of a verified claim only
    (404 for another person's claim, 409 ``heir_claim.not_verified`` before it is)."""
    found = heir_claims.verified(session, person_id=person_id, claim_id=heir_claim_id)
    if found.deceased is None:
        return []
    return payments(session, person_id=found.deceased.id, year=year, state=state, arrival=arrival)


def payments(
    session: Session,
    *,
    person_id: int,
    year: int | None = None,
    state: PensionState = "all",
    arrival: ArrivalStatus | None = None,
    payer: Payer | None = None,
    rows: list[PensionPaymentRow] | None = None,
) -> list[PaymentLine]:
    """The person's pension payments of 缴费年度 `year` (all years when None), by period.

    `state`: ``refundable`` (the person may apply now: not arrived and no active application),
    ``applied`` (an active application: 已申请, 人社退费中, 退费成功) or ``all``. Rows come
    from queries.pension_payments_for_person (one statement); a person has few payments, so
    the caller pages them. `payer`: the person's name and masked ID number when the caller
    has them already (accounts.peek_person_session); else the person is loaded. `rows`: the
    payments as read already with the session (queries.pension_payments_with_session).
    """
    if payer is None:
        person = session.get(Person, person_id)
        if person is None:
            return []
        payer = Payer(person.name, identity.mask_id_number(person.id_number))
    if rows is None:
        rows = queries.pension_payments_for_person(
            session, person_id=person_id, year=year, state=state, arrival=arrival
        )
    pending = [
        r.application_id
        for r in rows
        if r.application_status is not None and workflow.is_cancellable(r.application_status)
    ]
    cancellable: set[int] = set()
    if pending:
        # Officer-initiated applications are the officer's to withdraw, not the person's.
        cancellable = set(
            session.execute(
                select(Application.id).where(
                    Application.id.in_(pending), Application.initiated_by_officer_id.is_(None)
                )
            ).scalars()
        )
    return [
        _line(r, payer.name, payer.id_number_masked, r.application_id in cancellable) for r in rows
    ]


def _line(row: PensionPaymentRow, name: str, masked: str, cancellable: bool) -> PaymentLine:
    status = row.application_status
    shown = status is not None and status != ApplicationStatus.CANCELLED
    return PaymentLine(
        payment=payment_view(row),
        refundable=row.refundable,
        not_refundable_reason=rules.pension_not_refundable_reason(
            row.arrival_status, row.application_status
        ),
        application_id=row.application_id if shown else None,
        application_status=ApplicationStatus(status) if shown and status else None,
        cancellable=cancellable,
        payer_name=name,
        id_number_masked=masked,
    )


# --------------------------------------------------------------------------- applying


class PensionRefundIn(BankDetailsIn):
    """申请退费: one application per selected payment, with the dialog's bank details."""

    model_config = bank_details.input_config(
        {"payment_ids": ["PP00000001"], **bank_details.EXAMPLE, "channel": "web"}
    )

    payment_ids: list[Annotated[str, StringConstraints(max_length=PAYMENT_ID_MAX)]] = Field(
        max_length=MAX_SELECTED, description="所选缴费记录；重复的只算一次"
    )
    channel: Literal["web", "mobile_app"] = Field(
        default="web", description="web 电子税务局 / mobile_app 楚税通"
    )
    bank_account_name: Annotated[
        str | None, StringConstraints(max_length=bank_details.ACCOUNT_NAME_MAX)
    ] = Field(
        default=None,
        description="银行账户名称：须为缴费人本人姓名（退费只退至本人账户；继承人代办须为继承人"
        "本人姓名）；不填即为缴费人（继承人）姓名",
    )
    heir_claim_id: int | None = Field(
        default=None,
        description="继承人代办：已核实的继承人代办申请编号；所选缴费须为该已故参保人的缴费",
    )

    @field_validator("bank_account_name")
    @classmethod
    def _account_name(cls, value: str | None) -> str | None:
        return None if value is None else checked(lambda: check_account_name(value))

    @field_validator("payment_ids")
    @classmethod
    def _selection(cls, value: list[str]) -> list[str]:
        """Trimmed, without duplicates, in the order given. A blank id stays: no payment has
        it, so the service answers 404 as for any payment that is not the person's."""
        if not value:
            raise refusal(no_payment_selected())
        return list(dict.fromkeys(i.strip() for i in value))


def new_application(
    person: Person,
    pay: PensionPayment,
    details: BankDetailsIn,
    *,
    channel: Channel,
    account_name: str | None = None,
) -> Application:
    """The unsaved application of ``pay`` (the person's own or one an officer files), its
    money going where ``details`` say, to an account held by the payer (``account_name``, the
    payer's name when None; the caller has checked it); applications.create stores it."""
    return Application(
        kind=KIND,
        channel=channel.value,
        person_id=person.id,
        region_code=person.region_code,
        pension_payment_id=pay.payment_id,
        amount_fen=pay.amount_fen,
        payment_year=pay.payment_year,
        period_start=pay.period_start,
        period_end=pay.period_end,
        bank_account_type=details.bank_account_type,
        bank_account_no=details.bank_account_no,
        bank_account_name=account_name or person.name,
        bank_category=details.bank_category,
        contact_name=details.contact_name,
        contact_phone=details.contact_phone,
    )


def apply(
    session: Session, *, person_id: int, refund: PensionRefundIn, at: datetime
) -> list[ApplicationView]:
    """申请退费: one pending application per selected payment, all or nothing.

    The input model has checked the selection and the bank details. Then, in order: every
    payment is the person's (404 — someone else's payment is reported exactly like a missing
    one); none has arrived (422 ``pension.arrived_needs_officer``); the account is the
    payer's own (422 ``bank_account_name.not_payer``); none is already actively applied for
    (409 ``application.already_applied``). A race with an identical submission is decided by
    the database's partial unique index (409 too).
    """
    ids = refund.payment_ids
    person = session.get(Person, person_id)
    if person is None:
        raise payment_not_found()
    payer = person
    if refund.heir_claim_id is not None:
        claim = heir_claims.verified(session, person_id=person_id, claim_id=refund.heir_claim_id)
        if claim.deceased is None:
            raise payment_not_found()
        payer = claim.deceased
    found = {
        p.payment_id: p
        for p in session.execute(
            select(PensionPayment).where(
                PensionPayment.payment_id.in_(ids), PensionPayment.person_id == payer.id
            )
        ).scalars()
    }
    if any(pid not in found for pid in ids):
        raise payment_not_found()
    for pid in ids:
        rules.check_pension_refundable_by_person(found[pid].arrival_status)
    # The account is the applicant's own: the payer's, or for an heir the heir's.
    account_name = refund.bank_account_name or person.name
    if payer is person:
        rules.check_person_account_holder(account_name, person.name)
    else:
        heir_claims.check_heir_account_holder(account_name, person.name)
    already = session.execute(
        select(Application.id)
        .where(
            Application.pension_payment_id.in_(ids),
            Application.status.in_([s.value for s in workflow.ACTIVE]),
        )
        .limit(1)
    ).first()
    if already is not None:
        raise applications.already_applied()
    created = []
    for pid in ids:
        pay = found[pid]
        app = new_application(
            person, pay, refund, channel=Channel(refund.channel), account_name=account_name
        )
        if refund.heir_claim_id is not None:
            # Reviewed where the deceased's payments are: the payer's region.
            app.heir_claim_id = refund.heir_claim_id
            app.region_code = payer.region_code
        applications.create(
            session,
            application=app,
            actor=Actor.person(person.id),
            at=at,
            reason="继承人代办：提交退费申请" if refund.heir_claim_id else "提交退费申请",
        )
        created.append(views.application(app))
    return created


# --------------------------------------------------------------------------- progress, cancel


@dataclass(frozen=True, slots=True)
class Refund(views.ProgressRow):
    """One of the person's applications in 退费进度查询, with its payment's 缴费渠道 and 到账状态."""

    payment_channel: str
    arrival_status: ArrivalStatus


@dataclass(frozen=True, slots=True)
class RefundDetail:
    refund: Refund
    history: list[EventView]


def _cancellable_by_person(app: Application) -> bool:
    # Only the applicant cancels: an application an officer initiated is the officer's.
    return workflow.is_cancellable(app.status) and app.initiated_by_officer_id is None


def _refund(app: Application, pay: PensionPayment, reapplicable: set[int]) -> Refund:
    return Refund(
        application=views.application(app),
        payment_channel=pay.channel,
        arrival_status=ArrivalStatus(pay.arrival_status),
        cancellable=_cancellable_by_person(app),
        reapplicable=app.id in reapplicable,
    )


def progress(session: Session, *, person_id: int, year: int | None = None) -> list[Refund]:
    """退费进度查询: the person's pension applications (of 缴费年度 `year`), newest first.

    Cancelled ones are included (退费状态 已撤销; their payment is 未申请 again) so the
    history stays visible; each row says whether it can still be cancelled, or applied for
    again (重新申请).
    """
    query = (
        select(Application, PensionPayment)
        .join(PensionPayment, PensionPayment.payment_id == Application.pension_payment_id)
        .where(Application.person_id == person_id, Application.kind == KIND)
    )
    rows = session.execute(applications.newest_first(query, year=year)).all()
    again = reapply.reapplicable_ids(session, (app for app, _ in rows))
    return [_refund(app, pay, again) for app, pay in rows]


def detail(session: Session, *, person_id: int, application_id: int) -> RefundDetail:
    """One of the person's applications with its history (who, when, from, to, why)."""
    app = applications.find_own(session, application_id, kind=KIND, owner=Actor.person(person_id))
    pay = session.get(PensionPayment, app.pension_payment_id)
    assert pay is not None  # foreign key
    again = reapply.reapplicable_ids(session, [app])
    return RefundDetail(_refund(app, pay, again), applications.history(session, app))


def cancel(
    session: Session, *, person_id: int, application_id: int, at: datetime
) -> ApplicationView:
    """撤销退费: only the applicant, only while 待审核 or 待补正 (409 ``application.not_cancellable``).

    Afterwards the payment shows 未申请 and can be applied for again.
    """
    app = applications.find_own(
        session, application_id, kind=KIND, owner=Actor.person(person_id), lock=True
    )
    if not _cancellable_by_person(app):
        raise not_cancellable()
    applications.cancel_by_person(session, application=app, person_id=person_id, at=at)
    return views.application(app)
