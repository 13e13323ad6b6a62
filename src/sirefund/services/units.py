"""城乡居民基本养老保险退费（村组）: a village committee refunds 村集体补助 / 特殊人群代缴
payments it made for villagers (manual 1.2.2).

可退费查询 lists the unit's payments with 实缴人数 and 退费人数; 退费 opens the 退费维护区 where the
unit picks persons (选择区 → 退费区) and saves: one save is one batch with one application per
chosen person, the amount computed from the chosen lines. 退费进度 lists one row per
application; 撤销退费 on a pending one cancels every pending application of its batch.

Every function takes the session of a transaction the caller owns and never commits; when a
function raises, the caller's rollback undoes everything it added (all-or-nothing).
Reads return typed rows (fen, dates, enums, ID numbers masked); the web layer turns them
into text (web/refund_presenters.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow
from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.rules import UnitPaymentType
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, Person, RefundBatch, Unit, UnitPayment, UnitPaymentPerson
from . import applications, bank_details, document_numbers, reapply, views
from .applications import Actor, not_cancellable
from .bank_details import ACCOUNT_NAME_MAX, BankDetailsIn, check_account_name, checked, refusal
from .views import ApplicationView

KIND = ApplicationKind.UNIT_PENSION.value
MAX_SELECTED = 1000  # a village's payment covers a few hundred persons
ID_MAX = 40  # unit_payments.unit_payment_id, unit_payment_persons.line_id
FIRST_MONTH, LAST_MONTH = 1, 12
_ACTIVE = [s.value for s in workflow.ACTIVE]


def payment_not_found() -> NotFound:
    return NotFound("unit_payment.not_found", "缴费记录不存在", "unit_payment_id")


def line_not_found() -> NotFound:
    return NotFound("unit_line.not_found", "退费人员不在该缴费记录中", "line_ids")


def line_already_applied() -> Conflict:
    return Conflict("application.already_applied", "所选人员已申请退费，请勿重复申请", "line_ids")


def _normalise_id_number(id_number: str | None) -> str | None:
    """A search box value: whitespace removed, trailing x uppercased; None when empty."""
    text = "".join((id_number or "").split()).upper()
    return text or None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class UnitPaymentView:
    """One line of 可退费查询 (and the header of the 退费维护区, and the payment of a unit
    application an officer reviews)."""

    unit_payment_id: str
    unit_name: str
    unit_tax_id: str
    unit_ss_no: str
    payment_type: UnitPaymentType
    payment_year: int
    payment_month: int
    paid_count: int  # 实缴人数
    refund_count: int  # 退费人数: lines refunded or being refunded
    amount_fen: int
    period_start: date
    period_end: date
    declaration_channel: str
    refundable: bool  # the type allows it and someone is left to refund
    not_refundable_reason: str | None  # why not, in words (None when refundable)


@dataclass(frozen=True, slots=True)
class RefundPerson:
    """The 退费人数 drill-down: 姓名, 证件号码 (masked), 个人编号, 缴费金额, 税款所属期起/止."""

    line_id: str
    name: str
    id_number_masked: str
    ss_no: str
    amount_fen: int
    period_start: date
    period_end: date


@dataclass(frozen=True, slots=True)
class PersonLine(RefundPerson):
    """A person of a unit payment (选择区 / 退费区), ID number masked, and whether it can be
    chosen."""

    refundable: bool
    not_refundable_reason: str | None
    application_id: int | None
    application_status: ApplicationStatus | None


@dataclass(frozen=True, slots=True)
class SavedBatch:
    batch_id: int
    amount_fen: int
    applications: list[ApplicationView]


@dataclass(frozen=True, slots=True)
class UnitRefund(views.ProgressRow):
    """One row of 退费进度: an application and its unit's 纳税人名称 / 单位社保号."""

    unit_name: str
    unit_ss_no: str
    unit_payment_id: str


# --------------------------------------------------------------------------- payments


def _counts() -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Per unit payment: 实缴人数 (its lines) and 退费人数 (lines refunded or being refunded)."""
    paid = (
        select(func.count(UnitPaymentPerson.line_id))
        .where(UnitPaymentPerson.unit_payment_id == UnitPayment.unit_payment_id)
        .correlate(UnitPayment)
        .scalar_subquery()
    )
    refunding = (
        select(func.count(func.distinct(Application.unit_line_id)))
        .join(UnitPaymentPerson, UnitPaymentPerson.line_id == Application.unit_line_id)
        .where(
            UnitPaymentPerson.unit_payment_id == UnitPayment.unit_payment_id,
            Application.status.in_(_ACTIVE),
        )
        .correlate(UnitPayment)
        .scalar_subquery()
    )
    return paid, refunding


def _payment_view(
    up: UnitPayment, unit: Unit, paid_count: int | None, refund_count: int | None
) -> UnitPaymentView:
    paid, refunding = paid_count or 0, refund_count or 0
    return UnitPaymentView(
        unit_payment_id=up.unit_payment_id,
        unit_name=unit.name,
        unit_tax_id=unit.tax_id,
        unit_ss_no=unit.ss_no,
        payment_type=UnitPaymentType(up.payment_type),
        payment_year=up.payment_year,
        payment_month=up.payment_month,
        paid_count=paid,
        refund_count=refunding,
        amount_fen=up.amount_fen,
        period_start=up.period_start,
        period_end=up.period_end,
        declaration_channel=up.declaration_channel,
        refundable=rules.unit_type_refundable(up.payment_type) and refunding < paid,
        not_refundable_reason=rules.unit_payment_not_refundable_reason(
            up.payment_type, refunding, paid
        ),
    )


def list_payments(
    session: Session,
    *,
    unit_id: int,
    year: int | None = None,
    month: int | None = None,
    payment_type: UnitPaymentType | None = None,
    id_number: str | None = None,
) -> list[UnitPaymentView]:
    """可退费查询: the unit's payments of 缴费年度 / 缴费月份 / 缴费类型 (None = any).

    `id_number` keeps the payments that cover that person. One SQL statement.
    """
    paid, refunding = _counts()
    query = (
        select(UnitPayment, Unit, paid.label("paid_count"), refunding.label("refund_count"))
        .join(Unit, Unit.id == UnitPayment.unit_id)
        .where(UnitPayment.unit_id == unit_id)
    )
    if year is not None:
        query = query.where(UnitPayment.payment_year == year)
    if month is not None:
        query = query.where(UnitPayment.payment_month == month)
    if payment_type is not None:
        query = query.where(UnitPayment.payment_type == payment_type.value)
    wanted = _normalise_id_number(id_number)
    if wanted is not None:
        query = query.where(
            select(UnitPaymentPerson.line_id)
            .join(Person, Person.id == UnitPaymentPerson.person_id)
            .where(
                UnitPaymentPerson.unit_payment_id == UnitPayment.unit_payment_id,
                Person.id_number == wanted,
            )
            .correlate(UnitPayment)
            .exists()
        )
    rows = session.execute(
        query.order_by(
            UnitPayment.payment_year.desc(),
            UnitPayment.payment_month.desc(),
            UnitPayment.unit_payment_id,
        )
    ).all()
    return [_payment_view(*row) for row in rows]


def _own_payment(session: Session, *, unit_id: int, unit_payment_id: str) -> UnitPayment:
    up = session.get(UnitPayment, unit_payment_id) if unit_payment_id else None
    if up is None or up.unit_id != unit_id:
        raise payment_not_found()
    return up


def payment_view(session: Session, unit_payment_id: str) -> UnitPaymentView:
    """One payment as 可退费查询 lists it, whoever asks (the unit; an officer reviewing one of
    its lines). The payment must exist: the caller has checked who may see it."""
    paid, refunding = _counts()
    row = session.execute(
        select(UnitPayment, Unit, paid, refunding)
        .join(Unit, Unit.id == UnitPayment.unit_id)
        .where(UnitPayment.unit_payment_id == unit_payment_id)
    ).one()
    return _payment_view(*row)


def get_payment(session: Session, *, unit_id: int, unit_payment_id: str) -> UnitPaymentView:
    """One payment row (the header of the 退费维护区), 404 unless it is the unit's."""
    up = _own_payment(session, unit_id=unit_id, unit_payment_id=unit_payment_id)
    return payment_view(session, up.unit_payment_id)


def list_persons(
    session: Session,
    *,
    unit_id: int,
    unit_payment_id: str,
    id_number: str | None = None,
    name: str | None = None,
) -> list[PersonLine]:
    """选择区 / 退费区: the person lines of one of the unit's payments (404 otherwise).

    Filters: the full ID number, and a part of the name. A line is refundable when it has no
    active application (and the payment's type is refundable at all). ID numbers are masked.
    """
    up = _own_payment(session, unit_id=unit_id, unit_payment_id=unit_payment_id)
    active = (
        select(
            Application.unit_line_id,
            Application.id.label("application_id"),
            Application.status.label("status"),
        )
        .where(Application.kind == KIND, Application.status.in_(_ACTIVE))
        .subquery()
    )
    query = (
        select(UnitPaymentPerson, Person, active.c.application_id, active.c.status)
        .join(Person, Person.id == UnitPaymentPerson.person_id)
        .outerjoin(active, active.c.unit_line_id == UnitPaymentPerson.line_id)
        .where(UnitPaymentPerson.unit_payment_id == up.unit_payment_id)
    )
    wanted = _normalise_id_number(id_number)
    if wanted is not None:
        query = query.where(Person.id_number == wanted)
    if name and name.strip():
        query = query.where(Person.name.like(_like_pattern(name.strip()), escape="\\"))
    type_refundable = rules.unit_type_refundable(up.payment_type)
    rows = session.execute(query.order_by(UnitPaymentPerson.line_id)).all()
    return [
        PersonLine(
            line_id=line.line_id,
            name=person.name,
            ss_no=line.ss_no,
            id_number_masked=identity.mask_id_number(person.id_number),
            amount_fen=line.amount_fen,
            period_start=up.period_start,
            period_end=up.period_end,
            refundable=type_refundable and app_id is None,
            not_refundable_reason=rules.unit_line_not_refundable_reason(up.payment_type, status),
            application_id=app_id,
            application_status=ApplicationStatus(status) if status else None,
        )
        for line, person, app_id, status in rows
    ]


# --------------------------------------------------------------------------- saving a batch


class UnitBatchIn(BankDetailsIn):
    """保存 in the 退费维护区: the chosen persons (退费区), 缴费月份 and the bank details."""

    model_config = bank_details.input_config(
        {
            "unit_payment_id": "UP00000001",
            "line_ids": ["UL00000001", "UL00000002"],
            "payment_month": 1,
            **bank_details.EXAMPLE,
            "bank_account_name": "华容区庙岭镇新庙村村民委员会",
        }
    )

    unit_payment_id: Annotated[str, StringConstraints(max_length=ID_MAX)]
    line_ids: list[Annotated[str, StringConstraints(max_length=ID_MAX)]] = Field(
        max_length=MAX_SELECTED, description="退费区的人员；重复的只算一次"
    )
    payment_month: int | None = Field(description="缴费月份 1-12")
    bank_account_name: Annotated[str, StringConstraints(max_length=ACCOUNT_NAME_MAX)] = Field(
        description="银行账户名称"
    )
    channel: Literal["web", "mobile_app"] = "web"

    @field_validator("line_ids")
    @classmethod
    def _selection(cls, value: list[str]) -> list[str]:
        """Trimmed, without duplicates, in the order given; a blank id stays (404 later)."""
        if not value:
            raise refusal(Invalid("unit.no_person_selected", "请选择退费人员", "line_ids"))
        return list(dict.fromkeys(i.strip() for i in value))

    @field_validator("payment_month")
    @classmethod
    def _month(cls, value: int | None) -> int | None:
        if value is None:
            raise refusal(Invalid("month.required", "请填写缴费月份", "payment_month"))
        if not FIRST_MONTH <= value <= LAST_MONTH:
            raise refusal(Invalid("month.invalid", "缴费月份应为1至12", "payment_month"))
        return value

    @field_validator("bank_account_name")
    @classmethod
    def _account_name(cls, value: str) -> str:
        return checked(lambda: check_account_name(value))


def save_batch(session: Session, *, unit_id: int, batch: UnitBatchIn, at: datetime) -> SavedBatch:
    """保存 in the 退费维护区: one RefundBatch and one pending application per chosen line.

    The input model has checked the selection, 缴费月份 and the bank details. Then, in order:
    the payment is the unit's (404); its type is refundable (422
    ``unit.payment_type_not_refundable``); the account is in the unit's name (422
    ``bank_account_name.not_unit``); every line belongs to that payment (404); no chosen
    line is in an active application (409 ``application.already_applied``, also when a
    concurrent save wins the race). The amount is the sum of the chosen lines.
    """
    up = _own_payment(session, unit_id=unit_id, unit_payment_id=batch.unit_payment_id)
    rules.check_unit_payment_refundable(up.payment_type)
    rules.check_unit_account_holder(batch.bank_account_name, up.unit.name)
    ids = batch.line_ids
    lines = {
        line.line_id: (line, person)
        for line, person in session.execute(
            select(UnitPaymentPerson, Person)
            .join(Person, Person.id == UnitPaymentPerson.person_id)
            .where(
                UnitPaymentPerson.line_id.in_(ids),
                UnitPaymentPerson.unit_payment_id == up.unit_payment_id,
            )
        ).all()
    }
    if any(lid not in lines for lid in ids):
        raise line_not_found()
    busy = session.execute(
        select(Application.id)
        .where(Application.unit_line_id.in_(ids), Application.status.in_(_ACTIVE))
        .limit(1)
    ).first()
    if busy is not None:
        raise line_already_applied()

    row = RefundBatch(
        unit_id=unit_id,
        unit_payment_id=up.unit_payment_id,
        amount_fen=sum(lines[lid][0].amount_fen for lid in ids),
        created_at=at,
    )
    session.add(row)
    session.flush()
    # The villagers may live in several regions, each numbered by its own counter.
    document_numbers.lock_counters(
        session.connection(), region_codes=(lines[lid][1].region_code for lid in ids), at=at
    )
    created = []
    for lid in ids:
        line, person = lines[lid]
        app = Application(
            kind=KIND,
            channel=Channel(batch.channel).value,
            person_id=person.id,
            unit_id=unit_id,
            region_code=person.region_code,
            unit_line_id=line.line_id,
            batch_id=row.id,
            amount_fen=line.amount_fen,
            payment_year=up.payment_year,
            payment_month=batch.payment_month,
            period_start=up.period_start,
            period_end=up.period_end,
            bank_account_type=batch.bank_account_type,
            bank_account_no=batch.bank_account_no,
            bank_account_name=batch.bank_account_name,
            bank_category=batch.bank_category,
            contact_name=batch.contact_name,
            contact_phone=batch.contact_phone,
        )
        try:
            applications.create(session, application=app, actor=Actor.unit(unit_id), at=at)
        except Conflict as exc:
            if exc.code == applications.ALREADY_APPLIED_CODE:
                raise line_already_applied() from None
            raise
        created.append(views.application(app))
    return SavedBatch(batch_id=row.id, amount_fen=row.amount_fen, applications=created)


# --------------------------------------------------------------------------- progress, cancel


def progress(session: Session, *, unit_id: int, year: int | None = None) -> list[UnitRefund]:
    """退费进度: one row per application of the unit (of 缴费年度 `year`), newest first.

    Columns of the manual: 纳税人名称, 单位社保号, 缴费金额, 退费人数 (1), 所属期起/止,
    人社处理状态, 税务审核状态, 税务审核结果. Cancelled applications are included.
    """
    query = (
        select(Application, Unit, UnitPaymentPerson)
        .join(Unit, Unit.id == Application.unit_id)
        .join(UnitPaymentPerson, UnitPaymentPerson.line_id == Application.unit_line_id)
        .where(Application.unit_id == unit_id, Application.kind == KIND)
    )
    rows = session.execute(applications.newest_first(query, year=year)).all()
    again = reapply.reapplicable_ids(session, (app for app, _, _ in rows))
    return [
        UnitRefund(
            application=views.application(app),
            unit_name=unit.name,
            unit_ss_no=unit.ss_no,
            unit_payment_id=line.unit_payment_id,
            cancellable=workflow.is_cancellable(app.status),
            reapplicable=app.id in again,
        )
        for app, unit, line in rows
    ]


def progress_persons(session: Session, *, unit_id: int, application_id: int) -> list[RefundPerson]:
    """The 退费人数 drill-down of one of the unit's applications (one person each)."""
    app = applications.find_own(session, application_id, kind=KIND, owner=Actor.unit(unit_id))
    line, person = session.execute(
        select(UnitPaymentPerson, Person)
        .join(Person, Person.id == UnitPaymentPerson.person_id)
        .where(UnitPaymentPerson.line_id == app.unit_line_id)
    ).one()
    return [
        RefundPerson(
            line_id=line.line_id,
            name=person.name,
            id_number_masked=identity.mask_id_number(person.id_number),
            ss_no=line.ss_no,
            amount_fen=app.amount_fen,
            period_start=app.period_start,
            period_end=app.period_end,
        )
    ]


def cancel(session: Session, *, unit_id: int, application_id: int, at: datetime) -> list[int]:
    """撤销退费: this pending application and every other pending one of its batch
    (同一批操作的退费申请会自动全部撤销). Reviewed ones are never touched.

    409 ``application.not_cancellable`` when this one is not 待审核. Returns the cancelled ids.
    """
    app = applications.find_own(
        session, application_id, kind=KIND, owner=Actor.unit(unit_id), lock=True
    )
    if not workflow.is_cancellable(app.status):
        raise not_cancellable()
    app_id, batch_id = app.id, app.batch_id
    siblings = (
        session.execute(
            select(Application)
            .where(
                Application.batch_id == batch_id,
                Application.id != app_id,
                Application.status == ApplicationStatus.PENDING_REVIEW.value,
            )
            .order_by(Application.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    actor = Actor.unit(unit_id)
    applications.transition(
        session,
        application=app,
        target=ApplicationStatus.CANCELLED,
        actor=actor,
        at=at,
        reason="村组撤销退费申请",
    )
    cancelled = [app_id]
    for other in siblings:
        try:
            applications.transition(
                session,
                application=other,
                target=ApplicationStatus.CANCELLED,
                actor=actor,
                at=at,
                reason=f"同批次申请{app_id}撤销，随批撤销",
            )
        except Conflict:
            # Reviewed in the meantime (the conditional UPDATE lost): reviewed ones stay.
            continue
        cancelled.append(other.id)
    return sorted(cancelled)
