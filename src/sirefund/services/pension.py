"""城乡居民基本养老保险退费（个人）: a person refunds their own not-arrived or abnormal payments.

Manual 1.1 (楚税通) and 1.2.1 (电子税务局): query payments by 缴费年度 and 查询状态, 申请退费
with bank details (one application per selected payment), 撤销退费 while 待审核, 进度查询.
Arrived payments are refused here; an officer initiates those (services for the officer side).

Every function takes the session of a transaction the caller owns and never commits; when a
function raises, the caller's rollback undoes everything it added (all-or-nothing).
Rows are plain dicts with yuan strings, ISO dates and masked personal data, ready for JSON
and for templates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow
from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.money import format_yuan
from ..domain.rules import ARRIVAL_LABELS, ArrivalStatus
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, ApplicationEvent, PensionPayment, Person
from . import applications, queries
from .applications import Actor, application_not_found
from .bank_details import validate_bank_details
from .paging import DEFAULT_PAGE_SIZE, Page, check_page
from .queries import PensionPaymentRow
from .views import application_view, event_view

KIND = ApplicationKind.PENSION.value
STATES = queries.PENSION_STATES
STATE_LABELS = {"refundable": "可退费", "applied": "已申请", "all": "全部"}
SELF_SERVICE_CHANNELS = (Channel.WEB.value, Channel.MOBILE_APP.value)
MAX_SELECTED = 100
_ID_MAX = 40  # pension_payments.payment_id


# Fresh instances on every raise: a shared exception object would collect tracebacks and be
# shared between threads.
def payment_not_found() -> NotFound:
    return NotFound("pension.payment_not_found", "缴费记录不存在", "payment_ids")


def not_cancellable() -> Conflict:
    return Conflict("application.not_cancellable", "仅待审核的申请可以撤销")


def already_applied(field: str = "payment_ids") -> Conflict:
    template = applications.ALREADY_APPLIED
    return Conflict(template.code, template.message, field)


# --------------------------------------------------------------------------- payments


def _check_year(year: int | None, field: str = "year") -> int | None:
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        raise Invalid("year.invalid", "缴费年度不正确", field)
    return year


def payment_fields(pay: PensionPayment | PensionPaymentRow) -> dict[str, Any]:
    """The payment's own columns as every screen shows them (the person's 退费信息查询, the
    officer's application detail and 代发起 lookup): yuan strings, ISO dates, arrival label."""
    return {
        "payment_id": pay.payment_id,
        "amount": format_yuan(pay.amount_fen),
        "period_start": pay.period_start.isoformat(),
        "period_end": pay.period_end.isoformat(),
        "payment_year": pay.payment_year,
        "payment_date": pay.payment_date.isoformat(),
        "channel": pay.channel,  # 缴费渠道, a free label such as 楚税通
        "arrival_status": pay.arrival_status,
        "arrival_status_label": ARRIVAL_LABELS[ArrivalStatus(pay.arrival_status)],
    }


def payment_row(pay: PensionPaymentRow, person: Person, *, cancellable: bool) -> dict[str, Any]:
    """One line of the 退费信息查询 table, from the shared read query's row."""
    status = pay.application_status
    shown = status is not None and status != ApplicationStatus.CANCELLED
    lab = workflow.labels(status if shown else None, KIND)
    return {
        **payment_fields(pay),
        "refundable": pay.refundable,
        "application_id": pay.application_id if shown else None,
        "application_status": status if shown else None,
        "cancellable": cancellable,
        "refund_status_label": lab.refund_status,
        "review_status_label": lab.review_status,
        "review_result_label": lab.review_result,
        "payer_name": person.name,
        "id_number_masked": identity.mask_id_number(person.id_number),
    }


def list_payments(
    session: Session,
    *,
    person_id: int,
    year: int | None = None,
    state: str = "all",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The person's pension payments of 缴费年度 `year` (all years when None), by period.

    `state`: ``refundable`` (the person may apply now: not arrived and no active application),
    ``applied`` (an active application: 已申请, 人社退费中, 退费成功) or ``all``. Rows come
    from queries.pension_payments_for_person (one statement); a person has few payments, so
    the page is cut here.
    """
    _check_year(year)
    page, page_size = check_page(page, page_size)
    person = session.get(Person, person_id)
    if person is None:
        return Page(items=[], total=0, page=page, page_size=page_size)
    rows = queries.pension_payments_for_person(session, person_id=person_id, year=year, state=state)
    shown = rows[(page - 1) * page_size : page * page_size]
    pending = [
        r.application_id for r in shown if r.application_status == ApplicationStatus.PENDING_REVIEW
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
    items = [payment_row(r, person, cancellable=r.application_id in cancellable) for r in shown]
    return Page(items=items, total=len(rows), page=page, page_size=page_size)


# --------------------------------------------------------------------------- applying


def _selected_ids(payment_ids: Iterable[object] | None) -> list[str]:
    """The selection without duplicates, in the order given."""
    if payment_ids is None or isinstance(payment_ids, (str, bytes)):
        raise Invalid("pension.no_payment_selected", "请选择需要退费的缴费记录", "payment_ids")
    ids: list[str] = []
    for raw in payment_ids:
        if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > _ID_MAX:
            raise payment_not_found()  # no such payment can exist
        pid = raw.strip()
        if pid not in ids:
            ids.append(pid)
    if not ids:
        raise Invalid("pension.no_payment_selected", "请选择需要退费的缴费记录", "payment_ids")
    if len(ids) > MAX_SELECTED:
        raise Invalid(
            "pension.too_many_selected", f"一次最多选择{MAX_SELECTED}条缴费记录", "payment_ids"
        )
    return ids


def check_self_service_channel(channel: object) -> str:
    if channel not in SELF_SERVICE_CHANNELS:
        raise Invalid("channel.invalid", "申请渠道不正确", "channel")
    return str(channel)


def apply(
    session: Session,
    *,
    person_id: int,
    payment_ids: Iterable[object],
    bank_account_type: object,
    bank_account_no: object,
    account_no_confirmed: bool = False,
    bank_category: object,
    contact_name: object,
    contact_phone: object,
    channel: object = Channel.WEB.value,
    at: datetime,
    today: date | None = None,  # accepted for symmetry with other use cases; no rule needs it
) -> list[Application]:
    """申请退费: one pending application per selected payment, all or nothing.

    Checks, in order: a selection (422 ``pension.no_payment_selected``); every payment is the
    person's (404 — someone else's payment is reported exactly like a missing one); none has
    arrived (422 ``pension.arrived_needs_officer``); none is already actively applied for
    (409 ``application.already_applied``); the bank details (422 with the field). A race with
    an identical submission is decided by the database's partial unique index (409 too).
    """
    del today
    ids = _selected_ids(payment_ids)
    channel = check_self_service_channel(channel)
    person = session.get(Person, person_id)
    if person is None:
        raise payment_not_found()
    payments = {
        p.payment_id: p
        for p in session.execute(
            select(PensionPayment).where(
                PensionPayment.payment_id.in_(ids), PensionPayment.person_id == person_id
            )
        ).scalars()
    }
    if any(pid not in payments for pid in ids):
        raise payment_not_found()
    for pid in ids:
        rules.check_pension_refundable_by_person(payments[pid].arrival_status)
    already = session.execute(
        select(Application.id)
        .where(
            Application.pension_payment_id.in_(ids),
            Application.status.in_([s.value for s in workflow.ACTIVE]),
        )
        .limit(1)
    ).first()
    if already is not None:
        raise already_applied()
    details = validate_bank_details(
        bank_account_type=bank_account_type,
        bank_account_no=bank_account_no,
        account_no_confirmed=account_no_confirmed,
        bank_category=bank_category,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    created = []
    for pid in ids:
        pay = payments[pid]
        app = Application(
            kind=KIND,
            channel=channel,
            person_id=person.id,
            region_code=person.region_code,
            pension_payment_id=pay.payment_id,
            amount_fen=pay.amount_fen,
            payment_year=pay.payment_year,
            period_start=pay.period_start,
            period_end=pay.period_end,
            bank_account_type=details.bank_account_type,
            bank_account_no=details.bank_account_no,
            bank_category=details.bank_category,
            contact_name=details.contact_name,
            contact_phone=details.contact_phone,
        )
        created.append(
            applications.create(session, application=app, actor=Actor.person(person.id), at=at)
        )
    return created


# --------------------------------------------------------------------------- progress, cancel


def _cancellable_by_person(app: Application) -> bool:
    # Only the applicant cancels: an application an officer initiated is the officer's.
    return app.status == ApplicationStatus.PENDING_REVIEW and app.initiated_by_officer_id is None


def _with_payment(view: dict[str, Any], app: Application, pay: PensionPayment) -> dict[str, Any]:
    view["payment_channel"] = pay.channel
    view["arrival_status"] = pay.arrival_status
    view["arrival_status_label"] = ARRIVAL_LABELS[ArrivalStatus(pay.arrival_status)]
    view["cancellable"] = _cancellable_by_person(app)
    return view


def progress(session: Session, *, person_id: int, year: int | None = None) -> list[dict[str, Any]]:
    """退费进度查询: the person's pension applications (of 缴费年度 `year`), newest first.

    Cancelled ones are included (退费状态 未申请) so the history stays visible; each row says
    whether it can still be cancelled.
    """
    _check_year(year)
    query = (
        select(Application, PensionPayment)
        .join(PensionPayment, PensionPayment.payment_id == Application.pension_payment_id)
        .where(Application.person_id == person_id, Application.kind == KIND)
    )
    if year is not None:
        query = query.where(Application.payment_year == year)
    rows = session.execute(
        query.order_by(Application.created_at.desc(), Application.id.desc())
    ).all()
    return [_with_payment(application_view(app), app, pay) for app, pay in rows]


def _own_application(
    session: Session, *, person_id: int, application_id: int, lock: bool = False
) -> Application:
    app = applications.find(session, application_id, lock=lock)
    if app is None or app.kind != KIND or app.person_id != person_id:
        raise application_not_found()
    return app


def detail(session: Session, *, person_id: int, application_id: int) -> dict[str, Any]:
    """One of the person's applications with its history (who, when, from, to, why)."""
    app = _own_application(session, person_id=person_id, application_id=application_id)
    pay = session.get(PensionPayment, app.pension_payment_id)
    view = _with_payment(application_view(app), app, pay)  # type: ignore[arg-type]
    events = session.execute(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == app.id)
        .order_by(ApplicationEvent.id)
    ).scalars()
    view["history"] = [event_view(ev) for ev in events]
    return view


def cancel(session: Session, *, person_id: int, application_id: int, at: datetime) -> Application:
    """撤销退费: only the applicant, only while 待审核 (409 ``application.not_cancellable``).

    Afterwards the payment shows 未申请 and can be applied for again.
    """
    app = _own_application(session, person_id=person_id, application_id=application_id, lock=True)
    if not _cancellable_by_person(app):
        raise not_cancellable()
    applications.transition(
        session,
        application=app,
        target=ApplicationStatus.CANCELLED,
        actor=Actor.person(person_id),
        at=at,
        reason="缴费人撤销退费申请",
    )
    session.refresh(app)
    return app
