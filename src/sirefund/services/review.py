"""税务端 (officer console): the review queue, the detail, audited reveals, decisions one at a
time or many at once, officer-initiated refunds of arrived pension payments, the xlsx export.

Data scope: an officer sees only applications whose payer region lies under the office's
administrative division (``domain.regions.is_within``: 420000 sees 42xxxx, 420700 sees 4207xx,
a county or a 4290xx unit sees itself). Anything outside answers 404, exactly like an
application that does not exist, so nobody learns what other offices hold.

Every function takes the session of a transaction the caller owns and never commits.
`officer` is the logged-in officer: an ``Officer`` row or the web ``Principal``; it is
re-read here, so a role removed a minute ago counts now.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from ..clock import CHINA_TZ, as_utc
from ..domain import identity, regions, rules, workflow
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS, add_working_days, working_days_between
from ..domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..domain.money import format_yuan
from ..domain.rules import (
    BANK_ACCOUNT_TYPE_LABELS,
    BANK_CATEGORIES,
    UNIT_PAYMENT_TYPE_LABELS,
    ArrivalStatus,
    BankAccountType,
    UnitPaymentType,
)
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import (
    Application,
    ApplicationEvent,
    DepositAccount,
    MedicalPayment,
    MedicalRegistration,
    Officer,
    PensionPayment,
    Person,
    SecurityEvent,
    Unit,
    UnitPayment,
    UnitPaymentPerson,
)
from . import applications, dispatches, pension
from .applications import Actor, application_not_found
from .bank_details import validate_bank_details
from .officers import active_officer, in_scope, region_clause
from .paging import DEFAULT_PAGE_SIZE, Page, check_page
from .views import application_view, event_view

KIND_LABELS = {
    ApplicationKind.PENSION.value: "城乡居民养老保险（个人）",
    ApplicationKind.UNIT_PENSION.value: "城乡居民养老保险（村组）",
    ApplicationKind.MEDICAL.value: "城乡居民医疗保险",
}
DECISIONS = ("approve", "reject")
REVEAL_FIELDS = ("id_number", "bank_account_no")
REVEAL_FIELD_LABELS = {"id_number": "证件号码", "bank_account_no": "银行账号"}
OPINION_MAX = 500  # applications.review_opinion
REASON_MAX = 200
MAX_BATCH = 200
OTHER_APPLICATIONS_MAX = 50
EXPORT_MAX_ROWS = 200_000
EXPORT_HEADERS = (
    "申请编号",
    "类型",
    "缴费人",
    "证件号码(脱敏)",
    "金额",
    "渠道",
    "退费状态",
    "审核状态",
    "审核结果",
    "申请日期",
    "已等待工作日",
)


# Fresh instances on every raise: a shared exception object would collect tracebacks and be
# shared between threads.
def payment_not_found() -> NotFound:
    return NotFound("pension.payment_not_found", "缴费记录不存在", "payment_id")


# --------------------------------------------------------------------------- officer, scope


def _visible_application(
    session: Session, officer: Officer, application_id: object, *, lock: bool = False
) -> Application:
    app = applications.find(session, application_id, lock=lock)
    if app is None or not in_scope(officer, app.region_code):
        raise application_not_found()
    return app


# --------------------------------------------------------------------------- queue


def _china_date(value: datetime) -> date:
    return as_utc(value).astimezone(CHINA_TZ).date()


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA_TZ)


@dataclass(frozen=True)
class QueueFilters:
    """Validated filters of the review queue; None means "any"."""

    status: str | None = None
    kind: str | None = None
    region: str | None = None
    channel: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def check(
        cls,
        *,
        status: object = None,
        kind: object = None,
        region: object = None,
        channel: object = None,
        date_from: object = None,
        date_to: object = None,
    ) -> QueueFilters:
        def blank(v: object) -> bool:
            return v is None or (isinstance(v, str) and not v.strip())

        status = None if blank(status) else status
        kind = None if blank(kind) else kind
        region = None if blank(region) else region
        channel = None if blank(channel) else channel
        if status is not None and status not in set(ApplicationStatus):
            raise Invalid("queue.status", "退费状态不正确", "status")
        if kind is not None and kind not in set(ApplicationKind):
            raise Invalid("queue.kind", "申请类型不正确", "kind")
        if channel is not None and channel not in set(Channel):
            raise Invalid("queue.channel", "申请渠道不正确", "channel")
        if region is not None:
            region = region.strip() if isinstance(region, str) else region
            if not (
                isinstance(region, str)
                and len(region) == 6
                and region.isascii()
                and region.isdigit()
            ):
                raise Invalid("queue.region", "行政区划代码应为6位数字", "region")
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise Invalid("queue.date", "日期格式应为YYYY-MM-DD", name)
        if date_from is not None and date_to is not None and date_from > date_to:  # type: ignore[operator]
            raise Invalid("queue.date_range", "申请日期起不能晚于申请日期止", "date_from")
        return cls(
            status=status,
            kind=kind,
            region=region,
            channel=channel,  # type: ignore[arg-type]
            date_from=date_from,
            date_to=date_to,
        )  # type: ignore[arg-type]


def _conditions(officer: Officer, filters: QueueFilters) -> list[ColumnElement[bool]]:
    conds = [region_clause(Application.region_code, officer.region_code)]
    if filters.region is not None:
        # A region outside the officer's scope simply intersects to nothing.
        conds.append(region_clause(Application.region_code, filters.region))
    if filters.status is not None:
        conds.append(Application.status == filters.status)
    if filters.kind is not None:
        conds.append(Application.kind == filters.kind)
    if filters.channel is not None:
        conds.append(Application.channel == filters.channel)
    # 申请日期 is a date in China; created_at is stored in UTC.
    if filters.date_from is not None:
        conds.append(Application.created_at >= _china_midnight(filters.date_from))
    if filters.date_to is not None:
        conds.append(Application.created_at < _china_midnight(filters.date_to + timedelta(days=1)))
    return conds


_Initiator = aliased(Officer, name="initiator")
_Reviewer = aliased(Officer, name="reviewer")


def _queue_select(officer: Officer, filters: QueueFilters):  # type: ignore[no-untyped-def]
    return (
        select(Application, Person.name, Person.id_number, _Initiator.code, _Reviewer.code)
        .join(Person, Person.id == Application.person_id)
        .outerjoin(_Initiator, _Initiator.id == Application.initiated_by_officer_id)
        .outerjoin(_Reviewer, _Reviewer.id == Application.reviewed_by_officer_id)
        .where(*_conditions(officer, filters))
        # The longest-waiting first: the statutory clock runs on them.
        .order_by(Application.created_at, Application.id)
    )


def review_clock(app: Application, *, today: date) -> dict[str, Any]:
    """Working days the application waited for review, against the statutory 30.

    Pending: from the day of submission to `today` (China dates). Decided or cancelled: the
    count stops on the day of the decision, so the figure says how long the review took.
    """
    submitted = _china_date(app.created_at)
    pending = app.status == ApplicationStatus.PENDING_REVIEW
    if pending:
        until = today
    elif app.reviewed_at is not None:
        until = _china_date(app.reviewed_at)
    else:  # cancelled by the applicant: the clock stopped then
        until = _china_date(app.updated_at)
    waited = max(0, working_days_between(submitted, until))
    deadline = add_working_days(submitted, STATUTORY_REVIEW_WORKING_DAYS)
    return {
        "submitted_on": submitted.isoformat(),
        "working_days_pending": waited,
        "statutory_working_days": STATUTORY_REVIEW_WORKING_DAYS,
        "working_days_left": max(0, STATUTORY_REVIEW_WORKING_DAYS - waited) if pending else None,
        "review_deadline": deadline.isoformat(),
        "overdue": waited > STATUTORY_REVIEW_WORKING_DAYS,
    }


def _queue_item(
    app: Application,
    payer_name: str,
    payer_id_number: str,
    initiator_code: str | None,
    reviewer_code: str | None,
    *,
    today: date,
) -> dict[str, Any]:
    item = application_view(app, audience="officer")
    item.update(
        kind_label=KIND_LABELS.get(app.kind, app.kind),
        region_name=regions.division_name(app.region_code),
        payer_name=payer_name,
        payer_id_number_masked=identity.mask_id_number_for_officer(payer_id_number),
        initiated_by_officer_code=initiator_code,
        reviewed_by_officer_code=reviewer_code,
        **review_clock(app, today=today),
    )
    return item


def queue(
    session: Session,
    *,
    officer: Any,
    status: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    channel: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    today: date,
) -> Page:
    """The review queue within the officer's scope, filtered, oldest first.

    Filters: ``status`` (an ApplicationStatus value), ``kind``, ``region`` (a division code,
    read with the same prefix rule as the scope), ``channel``, ``date_from``/``date_to``
    (申请日期, China dates, inclusive). Bad values are 422 with the field. Items are the
    officer view of the application plus payer name, masked ID number (first six, last
    four), and the working-day clock (:func:`review_clock`).
    """
    me = active_officer(session, officer)
    filters = QueueFilters.check(
        status=status,
        kind=kind,
        region=region,
        channel=channel,
        date_from=date_from,
        date_to=date_to,
    )
    page, page_size = check_page(page, page_size)
    total = session.execute(
        select(func.count()).select_from(Application).where(*_conditions(me, filters))
    ).scalar_one()
    rows = session.execute(
        _queue_select(me, filters).limit(page_size).offset((page - 1) * page_size)
    ).all()
    items = [_queue_item(*row, today=today) for row in rows]
    return Page(items=items, total=total, page=page, page_size=page_size)


# --------------------------------------------------------------------------- detail


def _payer(person: Person) -> dict[str, Any]:
    return {
        "person_id": person.id,
        "name": person.name,
        "id_number_masked": identity.mask_id_number_for_officer(person.id_number),
        "region_code": person.region_code,
        "region_name": regions.division_name(person.region_code),
        "phone_masked": identity.mask_phone(person.phone) if person.phone else None,
    }


def _payment(session: Session, app: Application) -> dict[str, Any]:
    if app.kind == ApplicationKind.PENSION:
        pay = session.get(PensionPayment, app.pension_payment_id)
        assert pay is not None  # foreign key
        return {"kind": app.kind, **pension.payment_fields(pay)}
    if app.kind == ApplicationKind.UNIT_PENSION:
        line = session.get(UnitPaymentPerson, app.unit_line_id)
        assert line is not None
        up = session.get(UnitPayment, line.unit_payment_id)
        assert up is not None
        unit = session.get(Unit, up.unit_id)
        assert unit is not None
        return {
            "kind": app.kind,
            "line_id": line.line_id,
            "ss_no": line.ss_no,  # 个人编号
            "amount": format_yuan(line.amount_fen),
            "batch_id": app.batch_id,
            "payment_month": app.payment_month,
            "unit_payment": {
                "unit_payment_id": up.unit_payment_id,
                "unit_name": unit.name,
                "unit_tax_id": unit.tax_id,
                "unit_ss_no": unit.ss_no,
                "payment_type": up.payment_type,
                "payment_type_label": UNIT_PAYMENT_TYPE_LABELS[UnitPaymentType(up.payment_type)],
                "payment_year": up.payment_year,
                "payment_month": up.payment_month,
                "amount": format_yuan(up.amount_fen),
                "period_start": up.period_start.isoformat(),
                "period_end": up.period_end.isoformat(),
                "declaration_channel": up.declaration_channel,
            },
        }
    mp = session.get(MedicalPayment, app.medical_payment_id)
    assert mp is not None
    reg = session.get(MedicalRegistration, mp.registration_id)
    assert reg is not None
    return {
        "kind": app.kind,
        "payment_id": mp.payment_id,
        "ticket_no": mp.ticket_no,
        "item_name": mp.item_name,
        "medical_amount": format_yuan(mp.medical_amount_fen),
        "ltc_amount": format_yuan(mp.ltc_amount_fen),
        "amount": format_yuan(mp.refund_amount_fen),
        "period_start": mp.period_start.isoformat(),
        "period_end": mp.period_end.isoformat(),
        "payment_date": mp.payment_date.isoformat(),
        "insurance_year": mp.insurance_year,
        "channel": mp.channel,
        "registration": {
            "registration_id": reg.registration_id,
            "agency_name": reg.agency_name,  # 社保经办机构名称
            "agency_code": reg.agency_code,  # 申报机构代码
            "ss_code": reg.ss_code,  # 社保编码
        },
    }


def _bank_account(session: Session, app: Application) -> dict[str, Any] | None:
    if app.kind == ApplicationKind.MEDICAL:
        if app.deposit_account_id is None:
            return None
        acct = session.get(DepositAccount, app.deposit_account_id)
        if acct is None:
            return None
        return {
            "source": "deposit_account",
            "account_no_masked": identity.mask_account_for_officer(acct.account_no),
            "account_name": acct.account_name,
            "bank_branch": acct.bank_branch,
            "bank_category": acct.bank_category,
            "bank_category_label": BANK_CATEGORIES.get(acct.bank_category or ""),
            "handler_phone_masked": identity.mask_phone(app.handler_phone)
            if app.handler_phone
            else None,
        }
    return {
        "source": "application",
        "account_no_masked": identity.mask_account_for_officer(app.bank_account_no),
        "account_type": app.bank_account_type,
        "account_type_label": BANK_ACCOUNT_TYPE_LABELS.get(BankAccountType(app.bank_account_type))
        if app.bank_account_type in set(BankAccountType)
        else None,
        "account_name": app.bank_account_name,
        "bank_category": app.bank_category,
        "bank_category_label": BANK_CATEGORIES.get(app.bank_category or ""),
        "contact_name": app.contact_name,
        "contact_phone_masked": identity.mask_phone(app.contact_phone)
        if app.contact_phone
        else None,
    }


def _officer_brief(session: Session, officer_id: int | None) -> dict[str, Any] | None:
    if officer_id is None:
        return None
    o = session.get(Officer, officer_id)
    return {"id": o.id, "code": o.code, "name": o.name} if o is not None else None


def actions_for(officer: Officer, app: Application) -> dict[str, Any]:
    """What this officer may do with this application now (for buttons and forms)."""
    pending = app.status == ApplicationStatus.PENDING_REVIEW
    own = app.initiated_by_officer_id is not None and app.initiated_by_officer_id == officer.id
    can_decide = pending and officer.is_reviewer and not own
    return {
        "can_approve": can_decide,
        "can_reject": can_decide,
        "can_reveal": True,
        "four_eyes_blocked": pending and own,
    }


def detail(
    session: Session, *, officer: Any, application_id: int, today: date | None = None
) -> dict[str, Any]:
    """One application for review: ``application`` (officer view + working-day clock),
    ``payer`` (masked), ``payment`` (by kind), ``bank_account`` (masked for officers),
    ``other_applications`` (the payer's others within scope, newest first), ``history``
    (every transition with the actor's code) and ``actions``. 404 outside the scope."""
    me = active_officer(session, officer)
    app = _visible_application(session, me, application_id)
    person = session.get(Person, app.person_id)
    assert person is not None
    view = application_view(app, audience="officer")
    view["kind_label"] = KIND_LABELS.get(app.kind, app.kind)
    view["region_name"] = regions.division_name(app.region_code)
    view["initiated_by"] = _officer_brief(session, app.initiated_by_officer_id)
    view["reviewed_by"] = _officer_brief(session, app.reviewed_by_officer_id)
    if today is not None:
        view.update(review_clock(app, today=today))
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
    events = session.execute(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == app.id)
        .order_by(ApplicationEvent.id)
    ).scalars()
    return {
        "application": view,
        "payer": _payer(person),
        "payment": _payment(session, app),
        "bank_account": _bank_account(session, app),
        "other_applications": [
            {
                **application_view(o, audience="officer"),
                "kind_label": KIND_LABELS.get(o.kind, o.kind),
            }
            for o in others
        ],
        "history": [event_view(ev, audience="officer") for ev in events],
        "actions": actions_for(me, app),
    }


# --------------------------------------------------------------------------- reveal


def reveal(
    session: Session, *, officer: Any, application_id: int, field: str, reason: str, at: datetime
) -> dict[str, Any]:
    """The full ID number or bank account number of an application, audited.

    A reason is required (422 ``reveal.reason_required``). A SecurityEvent (kind
    ``reveal``) records who, which application, which field and why — never the value.
    """
    me = active_officer(session, officer)
    if field not in REVEAL_FIELDS:
        raise Invalid("reveal.field", "查看的项目不正确", "field")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise Invalid("reveal.reason_required", "查看完整信息必须填写查看原因", "reason")
    if len(text) > REASON_MAX:
        raise Invalid("reveal.reason_too_long", f"查看原因不能超过{REASON_MAX}个字符", "reason")
    app = _visible_application(session, me, application_id)
    value: str | None
    if field == "id_number":
        person = session.get(Person, app.person_id)
        value = person.id_number if person is not None else None
    elif app.kind == ApplicationKind.MEDICAL:
        acct = (
            session.get(DepositAccount, app.deposit_account_id) if app.deposit_account_id else None
        )
        value = acct.account_no if acct is not None else None
    else:
        value = app.bank_account_no
    if not value:
        raise NotFound("reveal.no_value", f"该申请没有{REVEAL_FIELD_LABELS[field]}", "field")
    session.add(
        SecurityEvent(
            at=at,
            kind="reveal",
            actor=f"officer:{me.code}",
            detail=json.dumps(
                {"application_id": app.id, "field": field, "reason": text}, ensure_ascii=False
            ),
        )
    )
    session.flush()
    return {"application_id": app.id, "field": field, "value": value}


# --------------------------------------------------------------------------- decisions


def _opinion(opinion: object, *, required: bool) -> str | None:
    if opinion is not None and not isinstance(opinion, str):
        raise Invalid("review.opinion", "税务机关意见应为文本", "opinion")
    text = (opinion or "").strip()
    if required and not text:
        raise Invalid("review.opinion_required", "审核不通过时必须填写税务机关意见", "opinion")
    if len(text) > OPINION_MAX:
        raise Invalid(
            "review.opinion_too_long", f"税务机关意见不能超过{OPINION_MAX}个字符", "opinion"
        )
    return text or None


def _check_reviewer(officer: Officer) -> None:
    if not officer.is_reviewer:
        raise Forbidden("review.not_reviewer", "您没有审核权限")


def _decide(
    session: Session,
    *,
    me: Officer,
    application_id: int,
    approve: bool,
    opinion: str | None,
    at: datetime,
) -> Application:
    _check_reviewer(me)
    app = _visible_application(session, me, application_id, lock=True)
    if app.initiated_by_officer_id is not None and app.initiated_by_officer_id == me.id:
        raise Forbidden("review.four_eyes", "发起人不能审核本人发起的退费申请")
    if app.status != ApplicationStatus.PENDING_REVIEW:
        label = workflow.labels(app.status, app.kind).refund_status
        raise Conflict("review.not_pending", f"该申请当前为“{label}”，不是待审核状态，不能审核")
    target = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    verdict = "审核通过" if approve else "审核不通过"
    # The reviewer, opinion and time go into the same conditional UPDATE as the status, so a
    # concurrent decision cannot leave one officer's status with another's opinion.
    applications.transition(
        session,
        application=app,
        target=target,
        actor=Actor.officer(me.code),
        at=at,
        reason=f"{verdict}：{opinion}" if opinion else verdict,
        values={"reviewed_by_officer_id": me.id, "review_opinion": opinion, "reviewed_at": at},
    )
    if approve:
        # Same transaction as the approval: both commit or neither does.
        dispatches.enqueue_for_approval(session, application=app, at=at)
    session.refresh(app)
    return app


def approve(
    session: Session, *, officer: Any, application_id: int, opinion: str | None = None, at: datetime
) -> Application:
    """审核通过: pending -> approved, with the officer, opinion (optional) and time, plus the
    request to the first agency in the outbox, in the caller's transaction.

    403 ``review.not_reviewer`` / ``review.four_eyes`` (the initiator of an officer-channel
    application may not review it); 404 outside the scope; 409 ``review.not_pending`` (or
    ``application.changed`` when another officer decided in between).
    """
    me = active_officer(session, officer)
    text = _opinion(opinion, required=False)
    return _decide(session, me=me, application_id=application_id, approve=True, opinion=text, at=at)


def reject(
    session: Session, *, officer: Any, application_id: int, opinion: str | None, at: datetime
) -> Application:
    """审核不通过: pending -> rejected; the opinion (税务机关意见) is required (422
    ``review.opinion_required``). Nothing is sent to any agency."""
    me = active_officer(session, officer)
    text = _opinion(opinion, required=True)
    return _decide(
        session, me=me, application_id=application_id, approve=False, opinion=text, at=at
    )


def _batch_ids(application_ids: Iterable[object] | None) -> list[int]:
    if application_ids is None or isinstance(application_ids, (str, bytes)):
        raise Invalid("review.no_selection", "请选择需要审核的退费申请", "application_ids")
    ids: list[int] = []
    for raw in application_ids:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise Invalid("review.application_id", "申请编号应为整数", "application_ids")
        if raw not in ids:
            ids.append(raw)
    if not ids:
        raise Invalid("review.no_selection", "请选择需要审核的退费申请", "application_ids")
    if len(ids) > MAX_BATCH:
        raise Invalid("review.too_many", f"一次最多审核{MAX_BATCH}条退费申请", "application_ids")
    return ids


def review_many(
    session: Session,
    *,
    officer: Any,
    application_ids: Iterable[int],
    decision: str,
    opinion: str | None = None,
    at: datetime,
) -> list[dict[str, Any]]:
    """Approve or reject many applications with one shared opinion: a result per id, in the
    order given (duplicates once): ``{id, ok, status, error: {code, message} | None}``.

    Each id runs in its own SAVEPOINT, so one failure (not pending, four eyes, out of scope)
    undoes only that id. Problems with the request itself — the decision, a rejection
    without opinion, no ids — are 422 for the whole request; so is a non-reviewer (403).
    A failed id outside the scope reports ``status: null``, like a missing one.
    """
    me = active_officer(session, officer)
    if decision not in DECISIONS:
        raise Invalid("review.decision", "审核结果应为通过或不通过", "decision")
    approving = decision == "approve"
    text = _opinion(opinion, required=not approving)
    ids = _batch_ids(application_ids)
    _check_reviewer(me)
    results: list[dict[str, Any]] = []
    for app_id in ids:
        try:
            with session.begin_nested():
                app = _decide(
                    session, me=me, application_id=app_id, approve=approving, opinion=text, at=at
                )
            results.append({"id": app_id, "ok": True, "status": app.status, "error": None})
        except DomainError as exc:
            status = None
            if not isinstance(exc, NotFound):
                current = session.get(Application, app_id)
                status = current.status if current is not None else None
            results.append(
                {
                    "id": app_id,
                    "ok": False,
                    "status": status,
                    "error": {"code": exc.code, "message": exc.message},
                }
            )
    return results


# --------------------------------------------------------------------------- initiate


def initiate_pension_refund(
    session: Session,
    *,
    officer: Any,
    payment_id: str,
    reason: str,
    bank_account_type: str,
    bank_account_no: str,
    account_no_confirmed: bool = False,
    bank_category: str,
    contact_name: str,
    contact_phone: str,
    at: datetime,
) -> Application:
    """税务端发起退费 of an ``arrived`` pension payment at the citizen's request.

    The application has channel ``officer`` and records the initiator, who may then not
    review it (four eyes). 403 ``officer.not_initiator``; 404 for a payment that does not
    exist or whose payer lies outside the scope; 422 for a payment that is not arrived
    (the citizen files those), a missing reason or bad bank details; 409 when the payment
    already has an active application.
    """
    me = active_officer(session, officer)
    if not me.is_initiator:
        raise Forbidden("officer.not_initiator", "您没有发起退费的权限")
    if not isinstance(payment_id, str) or not payment_id.strip() or len(payment_id.strip()) > 40:
        raise payment_not_found()
    pay = session.get(PensionPayment, payment_id.strip())
    if pay is None:
        raise payment_not_found()
    person = session.get(Person, pay.person_id)
    if person is None or not in_scope(me, person.region_code):
        raise payment_not_found()
    rules.check_pension_refundable_by_officer(pay.arrival_status)
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise Invalid("initiate.reason_required", "请填写发起退费的原因", "reason")
    if len(text) > OPINION_MAX:
        raise Invalid(
            "initiate.reason_too_long", f"发起退费的原因不能超过{OPINION_MAX}个字符", "reason"
        )
    already = session.execute(
        select(Application.id)
        .where(
            Application.pension_payment_id == pay.payment_id,
            Application.status.in_([s.value for s in workflow.ACTIVE]),
        )
        .limit(1)
    ).first()
    if already is not None:
        raise Conflict(
            applications.ALREADY_APPLIED.code, applications.ALREADY_APPLIED.message, "payment_id"
        )
    details = validate_bank_details(
        bank_account_type=bank_account_type,
        bank_account_no=bank_account_no,
        account_no_confirmed=account_no_confirmed,
        bank_category=bank_category,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    app = Application(
        kind=ApplicationKind.PENSION.value,
        channel=Channel.OFFICER.value,
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
        reason_text=text,
        initiated_by_officer_id=me.id,
    )
    try:
        return applications.create(
            session,
            application=app,
            actor=Actor.officer(me.code),
            at=at,
            reason=f"税务人员发起退费：{text}",
        )
    except Conflict as exc:
        # A concurrent submission won on the partial unique index.
        raise Conflict(exc.code, exc.message, "payment_id") from None


def payments_to_initiate(
    session: Session,
    *,
    officer: Any,
    payment_id: str | None = None,
    id_number: str | None = None,
    year: int | None = None,
    today: date,
) -> dict[str, Any]:
    """The pension payments an officer looks at before 发起退费: one payment by its id, or the
    ``arrived`` payments of the citizen with ``id_number`` (of ``year`` when given).

    ``{"payer": {name, id_number_masked, region_name}, "payments": [...]}``; each payment says
    whether a refund can be initiated now (``can_initiate``) and if not why (``blocked_reason``:
    not arrived, or an active application exists). A payment or citizen outside the scope is
    404 like an absent one; a malformed ID number is 422 on ``id_number``.
    """
    me = active_officer(session, officer)
    if not me.is_initiator:
        raise Forbidden("officer.not_initiator", "您没有发起退费的权限")
    pid = payment_id.strip() if isinstance(payment_id, str) else ""
    idn = id_number.strip() if isinstance(id_number, str) else ""
    if pid:
        if len(pid) > 40:
            raise payment_not_found()
        pay = session.get(PensionPayment, pid)
        person = session.get(Person, pay.person_id) if pay is not None else None
        if pay is None or person is None or not in_scope(me, person.region_code):
            raise payment_not_found()
        payments = [pay]
    elif idn:
        normalised = identity.check_resident_id(idn, today=today)
        person = session.execute(
            select(Person).where(Person.id_number == normalised)
        ).scalar_one_or_none()
        if person is None or not in_scope(me, person.region_code):
            raise NotFound("initiate.person_not_found", "未找到该缴费人的缴费记录", "id_number")
        query = select(PensionPayment).where(
            PensionPayment.person_id == person.id,
            PensionPayment.arrival_status == ArrivalStatus.ARRIVED.value,
        )
        if year is not None:
            query = query.where(PensionPayment.payment_year == year)
        payments = list(
            session.execute(
                query.order_by(PensionPayment.period_start, PensionPayment.payment_id).limit(200)
            ).scalars()
        )
    else:
        raise Invalid(
            "initiate.lookup_required", "请输入缴费记录编号，或缴费人证件号码", "payment_id"
        )

    ids = [p.payment_id for p in payments]
    active: dict[str, Application] = {}
    if ids:
        for app in session.execute(
            select(Application).where(
                Application.pension_payment_id.in_(ids),
                Application.status.in_([s.value for s in workflow.ACTIVE]),
            )
        ).scalars():
            active[app.pension_payment_id] = app  # type: ignore[index]
    rows = []
    for pay in payments:
        app = active.get(pay.payment_id)
        arrived = pay.arrival_status == ArrivalStatus.ARRIVED.value
        blocked = None
        if not arrived:
            blocked = "该缴费未到账或异常，请由缴费人自行申请退费"
        elif app is not None:
            blocked = "该缴费已有退费申请，不能重复发起"
        rows.append(
            {
                **pension.payment_fields(pay),
                "application_id": app.id if app is not None else None,
                "refund_status_label": workflow.labels(app.status if app else None).refund_status,
                "can_initiate": blocked is None,
                "blocked_reason": blocked,
            }
        )
    return {
        "payer": {
            "name": person.name,
            "id_number_masked": identity.mask_id_number_for_officer(person.id_number),
            "region_name": regions.division_name(person.region_code),
        },
        "payments": rows,
    }


# --------------------------------------------------------------------------- export


def iter_queue_rows(
    session: Session, *, officer: Any, today: date, **filters: Any
) -> Iterator[dict[str, Any]]:
    """Every item of the filtered queue (no paging), read in chunks of 500 rows."""
    me = active_officer(session, officer)
    checked = QueueFilters.check(**filters)
    result = session.execute(_queue_select(me, checked), execution_options={"yield_per": 500})
    for row in result:
        yield _queue_item(*row, today=today)


def export_queue_xlsx(
    session: Session,
    *,
    officer: Any,
    today: date,
    status: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    channel: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> bytes:
    """The filtered queue as an .xlsx workbook (openpyxl write-only: rows are streamed to
    the file, not held as cells). Amounts are numbers with two decimals so that Excel can
    sum them; ID numbers are masked as officers see them. More than EXPORT_MAX_ROWS rows
    is 422: narrow the filters."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    me = active_officer(session, officer)
    filters = dict(
        status=status,
        kind=kind,
        region=region,
        channel=channel,
        date_from=date_from,
        date_to=date_to,
    )
    checked = QueueFilters.check(**filters)
    total = session.execute(
        select(func.count()).select_from(Application).where(*_conditions(me, checked))
    ).scalar_one()
    if total > EXPORT_MAX_ROWS:
        raise Invalid("export.too_many", f"导出结果超过{EXPORT_MAX_ROWS}条，请缩小查询范围", None)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("退费申请")
    ws.column_dimensions["A"].width = 10
    ws.column_dimensions["B"].width = 26
    ws.column_dimensions["D"].width = 22
    ws.column_dimensions["J"].width = 12
    ws.append(list(EXPORT_HEADERS))
    for item in iter_queue_rows(session, officer=me, today=today, **filters):
        amount = WriteOnlyCell(ws, value=Decimal(item["amount"]))
        amount.number_format = "0.00"
        ws.append(
            [
                item["id"],
                item["kind_label"],
                item["payer_name"],
                item["payer_id_number_masked"],
                amount,
                item["channel_label"],
                item["refund_status_label"],
                item["review_status_label"],
                item["review_result_label"],
                item["submitted_on"],
                item["working_days_pending"],
            ]
        )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
