"""城乡居民基本养老保险退费（村组）: a village committee refunds 村集体补助 / 特殊人群代缴
payments it made for villagers (manual 1.2.2).

可退费查询 lists the unit's payments with 实缴人数 and 退费人数; 退费 opens the 退费维护区 where the
unit picks persons (选择区 → 退费区) and saves: one save is one batch with one application per
chosen person, the amount computed from the chosen lines. 退费进度 lists one row per
application; 撤销退费 on a pending one cancels every pending application of its batch.

Every function takes the session of a transaction the caller owns and never commits; when a
function raises, the caller's rollback undoes everything it added (all-or-nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow
from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.money import format_yuan
from ..domain.rules import UNIT_PAYMENT_TYPE_LABELS, UnitPaymentType
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, Person, RefundBatch, Unit, UnitPayment, UnitPaymentPerson
from . import applications
from .applications import Actor, application_not_found
from .bank_details import validate_bank_details
from .pension import check_self_service_channel
from .views import application_view

KIND = ApplicationKind.UNIT_PENSION.value
MAX_SELECTED = 1000  # a village's payment covers a few hundred persons
_ID_MAX = 40
_ACTIVE = [s.value for s in workflow.ACTIVE]


def payment_not_found() -> NotFound:
    return NotFound("unit_payment.not_found", "缴费记录不存在", "unit_payment_id")


def line_not_found() -> NotFound:
    return NotFound("unit_line.not_found", "退费人员不在该缴费记录中", "line_ids")


def not_cancellable() -> Conflict:
    return Conflict("application.not_cancellable", "仅待审核的申请可以撤销")


def line_already_applied() -> Conflict:
    return Conflict("application.already_applied", "所选人员已申请退费，请勿重复申请", "line_ids")


# --------------------------------------------------------------------------- filters


def _check_year(year: object) -> int | None:
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        raise Invalid("year.invalid", "缴费年度不正确", "year")
    return year


def _check_month(month: object, field: str = "month") -> int | None:
    if month is None:
        return None
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise Invalid("month.invalid", "缴费月份应为1至12", field)
    return month


def _check_payment_type(payment_type: object) -> str | None:
    if payment_type in (None, ""):
        return None
    try:
        return UnitPaymentType(payment_type).value
    except ValueError:
        raise Invalid("unit.payment_type_unknown", "缴费类型不正确", "payment_type") from None


def _normalise_id_number(id_number: object) -> str | None:
    """A search box value: whitespace removed, trailing x uppercased; None when empty."""
    if not isinstance(id_number, str):
        return None
    text = "".join(id_number.split()).upper()
    return text or None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --------------------------------------------------------------------------- payments


def _counts():  # type: ignore[no-untyped-def]
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


def _payment_row(up: UnitPayment, unit: Unit, paid_count: int, refund_count: int) -> dict[str, Any]:
    type_refundable = rules.unit_type_refundable(up.payment_type)
    return {
        "unit_payment_id": up.unit_payment_id,
        "unit_name": unit.name,
        "unit_tax_id": unit.tax_id,
        "unit_ss_no": unit.ss_no,
        "payment_type": up.payment_type,
        "payment_type_label": UNIT_PAYMENT_TYPE_LABELS[UnitPaymentType(up.payment_type)],
        "payment_year": up.payment_year,
        "payment_month": up.payment_month,
        "paid_count": paid_count,
        "refund_count": refund_count,
        "amount": format_yuan(up.amount_fen),
        "period_start": up.period_start.isoformat(),
        "period_end": up.period_end.isoformat(),
        "declaration_channel": up.declaration_channel,
        # 退费 is offered while the type allows it and someone is left to refund.
        "refundable": type_refundable and refund_count < paid_count,
    }


def list_payments(
    session: Session,
    *,
    unit_id: int,
    year: int | None = None,
    month: int | None = None,
    payment_type: str | None = None,
    id_number: str | None = None,
) -> list[dict[str, Any]]:
    """可退费查询: the unit's payments of 缴费年度 / 缴费月份 / 缴费类型 (None = any).

    `id_number` keeps the payments that cover that person. One SQL statement.
    """
    _check_year(year)
    _check_month(month)
    payment_type = _check_payment_type(payment_type)
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
        query = query.where(UnitPayment.payment_type == payment_type)
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
    return [
        _payment_row(up, unit, paid_n or 0, refund_n or 0) for up, unit, paid_n, refund_n in rows
    ]


def _own_payment(session: Session, *, unit_id: int, unit_payment_id: object) -> UnitPayment:
    if (
        not isinstance(unit_payment_id, str)
        or not unit_payment_id
        or len(unit_payment_id) > _ID_MAX
    ):
        raise payment_not_found()
    up = session.get(UnitPayment, unit_payment_id)
    if up is None or up.unit_id != unit_id:
        raise payment_not_found()
    return up


def get_payment(session: Session, *, unit_id: int, unit_payment_id: str) -> dict[str, Any]:
    """One payment row (the header of the 退费维护区), 404 unless it is the unit's."""
    up = _own_payment(session, unit_id=unit_id, unit_payment_id=unit_payment_id)
    paid, refunding = _counts()
    row = session.execute(
        select(UnitPayment, Unit, paid, refunding)
        .join(Unit, Unit.id == UnitPayment.unit_id)
        .where(UnitPayment.unit_payment_id == up.unit_payment_id)
    ).one()
    return _payment_row(row[0], row[1], row[2] or 0, row[3] or 0)


def list_persons(
    session: Session,
    *,
    unit_id: int,
    unit_payment_id: str,
    id_number: str | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
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
    if isinstance(name, str) and name.strip():
        query = query.where(Person.name.like(_like_pattern(name.strip()), escape="\\"))
    type_refundable = rules.unit_type_refundable(up.payment_type)
    rows = session.execute(query.order_by(UnitPaymentPerson.line_id)).all()
    return [
        {
            "line_id": line.line_id,
            "name": person.name,
            "ss_no": line.ss_no,
            "id_number": identity.mask_id_number(person.id_number),
            "amount": format_yuan(line.amount_fen),
            "period_start": up.period_start.isoformat(),
            "period_end": up.period_end.isoformat(),
            "refundable": type_refundable and app_id is None,
            "application_id": app_id,
            "refund_status_label": workflow.labels(status, KIND).refund_status,
        }
        for line, person, app_id, status in rows
    ]


# --------------------------------------------------------------------------- saving a batch


class BatchResult(NamedTuple):
    batch: RefundBatch
    applications: list[Application]


def _selected_line_ids(line_ids: Iterable[object] | None) -> list[str]:
    if line_ids is None or isinstance(line_ids, (str, bytes)):
        raise Invalid("unit.no_person_selected", "请选择退费人员", "line_ids")
    ids: list[str] = []
    for raw in line_ids:
        if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > _ID_MAX:
            raise line_not_found()
        lid = raw.strip()
        if lid not in ids:
            ids.append(lid)
    if not ids:
        raise Invalid("unit.no_person_selected", "请选择退费人员", "line_ids")
    if len(ids) > MAX_SELECTED:
        raise Invalid("unit.too_many_selected", f"一次最多选择{MAX_SELECTED}名退费人员", "line_ids")
    return ids


def create_batch(
    session: Session,
    *,
    unit_id: int,
    unit_payment_id: str,
    line_ids: Iterable[object],
    payment_month: object,
    bank_account_no: object,
    account_no_confirmed: bool = False,
    bank_account_name: object,
    bank_account_type: object,
    bank_category: object,
    contact_name: object,
    contact_phone: object,
    channel: object = Channel.WEB.value,
    at: datetime,
) -> BatchResult:
    """保存 in the 退费维护区: one RefundBatch and one pending application per chosen line.

    Checks, in order: the payment is the unit's (404); its type is refundable (422
    ``unit.payment_type_not_refundable``); a selection (422 ``unit.no_person_selected``); every
    line belongs to that payment (404); 缴费月份 and the bank details (422 with the field);
    no chosen line is in an active application (409 ``application.already_applied``, also
    when a concurrent save wins the race). The amount is the sum of the chosen lines.
    """
    up = _own_payment(session, unit_id=unit_id, unit_payment_id=unit_payment_id)
    rules.check_unit_payment_refundable(up.payment_type)
    ids = _selected_line_ids(line_ids)
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
    if payment_month is None or payment_month == "":
        raise Invalid("month.required", "请填写缴费月份", "payment_month")
    month = _check_month(payment_month, "payment_month")
    channel = check_self_service_channel(channel)
    details = validate_bank_details(
        bank_account_type=bank_account_type,
        bank_account_no=bank_account_no,
        account_no_confirmed=account_no_confirmed,
        bank_account_name=bank_account_name,
        bank_category=bank_category,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    busy = session.execute(
        select(Application.id)
        .where(Application.unit_line_id.in_(ids), Application.status.in_(_ACTIVE))
        .limit(1)
    ).first()
    if busy is not None:
        raise line_already_applied()

    batch = RefundBatch(
        unit_id=unit_id,
        unit_payment_id=up.unit_payment_id,
        amount_fen=sum(lines[lid][0].amount_fen for lid in ids),
        created_at=at,
    )
    session.add(batch)
    session.flush()
    created = []
    for lid in ids:
        line, person = lines[lid]
        app = Application(
            kind=KIND,
            channel=channel,
            person_id=person.id,
            unit_id=unit_id,
            region_code=person.region_code,
            unit_line_id=line.line_id,
            batch_id=batch.id,
            amount_fen=line.amount_fen,
            payment_year=up.payment_year,
            payment_month=month,
            period_start=up.period_start,
            period_end=up.period_end,
            bank_account_type=details.bank_account_type,
            bank_account_no=details.bank_account_no,
            bank_account_name=details.bank_account_name,
            bank_category=details.bank_category,
            contact_name=details.contact_name,
            contact_phone=details.contact_phone,
        )
        try:
            created.append(
                applications.create(session, application=app, actor=Actor.unit(unit_id), at=at)
            )
        except Conflict as exc:
            if exc.code == "application.already_applied":
                raise line_already_applied() from None
            raise
    return BatchResult(batch, created)


def batch_view(result: BatchResult) -> dict[str, Any]:
    """The API's answer to a save: ``{batch_id, amount, applications: [...]}``."""
    return {
        "batch_id": result.batch.id,
        "amount": format_yuan(result.batch.amount_fen),
        "applications": [application_view(a) for a in result.applications],
    }


# --------------------------------------------------------------------------- progress, cancel


def _progress_row(app: Application, unit: Unit, line: UnitPaymentPerson) -> dict[str, Any]:
    view = application_view(app)
    view.update(
        unit_name=unit.name,
        unit_ss_no=unit.ss_no,
        unit_payment_id=line.unit_payment_id,
        refund_count=1,
        hrss_status_label=workflow.hrss_status_label(app.status),
        tax_review_status_label=workflow.labels(app.status, KIND).review_status,
        tax_review_result_label=workflow.tax_review_result_label(app.status),
        cancellable=app.status == ApplicationStatus.PENDING_REVIEW,
    )
    return view


def progress(session: Session, *, unit_id: int, year: int | None = None) -> list[dict[str, Any]]:
    """退费进度: one row per application of the unit (of 缴费年度 `year`), newest first.

    Columns of the manual: 纳税人名称, 单位社保号, 缴费金额, 退费人数 (1), 所属期起/止,
    人社处理状态, 税务审核状态, 税务审核结果. Cancelled applications are included.
    """
    _check_year(year)
    query = (
        select(Application, Unit, UnitPaymentPerson)
        .join(Unit, Unit.id == Application.unit_id)
        .join(UnitPaymentPerson, UnitPaymentPerson.line_id == Application.unit_line_id)
        .where(Application.unit_id == unit_id, Application.kind == KIND)
    )
    if year is not None:
        query = query.where(Application.payment_year == year)
    rows = session.execute(
        query.order_by(Application.created_at.desc(), Application.id.desc())
    ).all()
    return [_progress_row(app, unit, line) for app, unit, line in rows]


def _own_application(
    session: Session, *, unit_id: int, application_id: object, lock: bool = False
) -> Application:
    app = applications.find(session, application_id, lock=lock)
    if app is None or app.kind != KIND or app.unit_id != unit_id:
        raise application_not_found()
    return app


def progress_persons(
    session: Session, *, unit_id: int, application_id: int
) -> list[dict[str, Any]]:
    """The 退费人数 drill-down: 姓名, 证件号码 (masked), 个人编号, 缴费金额, 税款所属期起/止."""
    app = _own_application(session, unit_id=unit_id, application_id=application_id)
    line, person = session.execute(
        select(UnitPaymentPerson, Person)
        .join(Person, Person.id == UnitPaymentPerson.person_id)
        .where(UnitPaymentPerson.line_id == app.unit_line_id)
    ).one()
    return [
        {
            "line_id": line.line_id,
            "name": person.name,
            "id_number": identity.mask_id_number(person.id_number),
            "ss_no": line.ss_no,
            "amount": format_yuan(app.amount_fen),
            "period_start": app.period_start.isoformat(),
            "period_end": app.period_end.isoformat(),
        }
    ]


def cancel(session: Session, *, unit_id: int, application_id: int, at: datetime) -> list[int]:
    """撤销退费: this pending application and every other pending one of its batch
    (同一批操作的退费申请会自动全部撤销). Reviewed ones are never touched.

    409 ``application.not_cancellable`` when this one is not 待审核. Returns the cancelled ids.
    """
    app = _own_application(session, unit_id=unit_id, application_id=application_id, lock=True)
    if app.status != ApplicationStatus.PENDING_REVIEW:
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
