"""城乡居民基本医疗保险退费 for a person: registrations, refundable payments, applications,
progress and cancelling.

The flow of the manual (sections 2.1 and 2.2): choose the registration (选择登记信息, chosen
for the person when there is only one), query a 参保年度 (today's by default; 2023 and
later only), tick payments and 申请退费. Without a submitted 存款账户账号报告 the application is
refused with 未查询到存款账户报告信息 and the person is led to the report
(services/deposit_accounts.py). The application names the account, 办理人电话 and 退费理由;
its amount is 医疗金额 + 长护金额, and the account's details are copied onto it so that a later
change of the report does not redirect a refund already under way.

Functions return plain dataclasses or dicts (the contract's application view plus the
medical columns) and raise domain errors naming the field, for API routes and form handlers
alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..domain import identity, rules, workflow, years
from ..domain.errors import Conflict, DomainError, Invalid, NotFound
from ..domain.money import format_yuan
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, DepositAccount, MedicalPayment, MedicalRegistration, Person
from . import applications, deposit_accounts
from .applications import Actor
from .deposit_accounts import FormInvalid
from .views import application_view, event_view

MAX_PAYMENTS_PER_APPLICATION = 50
_REASON_TEXT_MAX = 500

NO_DEPOSIT_ACCOUNT_MESSAGE = "未查询到存款账户报告信息"

#: Channels a person applies through (an officer's channel is the officer's own route).
PERSON_CHANNELS = (Channel.WEB.value, Channel.MOBILE_APP.value)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Registration:
    """登记信息: 社保经办机构名称 / 申报机构代码 / 社保编码."""

    registration_id: str
    agency_name: str
    agency_code: str
    ss_code: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PaymentRow:
    """One row of 城乡居民医疗社保费(退费): amounts are yuan strings, 长护金额 "0.00" when none."""

    payment_id: str
    registration_id: str
    ticket_no: str
    item_name: str
    refund_amount: str
    medical_amount: str
    ltc_amount: str
    period_start: date
    period_end: date
    payment_date: date
    insurance_year: int
    refundable: bool
    application_id: int | None
    status: str | None
    refund_status_label: str
    review_status_label: str
    review_result_label: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PaymentList:
    """The query result: the year asked (or defaulted), the registration used, the rows, and
    the header of the page (缴费人, 证件号码 masked)."""

    insurance_year: int
    registration: Registration | None
    items: list[PaymentRow]
    payer_name: str = ""
    id_number_masked: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "insurance_year": self.insurance_year,
            "registration": self.registration.as_dict() if self.registration else None,
            "items": [row.as_dict() for row in self.items],
            "payer_name": self.payer_name,
            "id_number_masked": self.id_number_masked,
        }


def _registration_view(reg: MedicalRegistration) -> Registration:
    return Registration(
        registration_id=reg.registration_id,
        agency_name=reg.agency_name,
        agency_code=reg.agency_code,
        ss_code=reg.ss_code,
    )


# --------------------------------------------------------------------------- registrations


def _registrations(session: Session, person_id: int) -> list[MedicalRegistration]:
    return list(
        session.execute(
            select(MedicalRegistration)
            .where(MedicalRegistration.person_id == person_id)
            .order_by(MedicalRegistration.registration_id)
        ).scalars()
    )


def list_registrations(session: Session, *, person_id: int) -> list[Registration]:
    """The person's 登记信息, for 选择登记信息."""
    return [_registration_view(r) for r in _registrations(session, person_id)]


def _choose_registration(
    session: Session, *, person_id: int, registration_id: str | None
) -> MedicalRegistration | None:
    """The registration asked for (404 unless it is the person's); with none asked, the only
    one, or None when there is none; several and none chosen -> 422 registration_required."""
    if registration_id not in (None, ""):
        reg = (
            session.get(MedicalRegistration, registration_id)
            if isinstance(registration_id, str)
            else None
        )
        if reg is None or reg.person_id != person_id:
            raise NotFound("medical.registration_not_found", "登记信息不存在", "registration_id")
        return reg
    regs = _registrations(session, person_id)
    if len(regs) > 1:
        raise Invalid("medical.registration_required", "请选择登记信息", "registration_id")
    return regs[0] if regs else None


def default_year(today: date) -> int:
    """参保年度 the query starts with: the current one (2023-09-01..2024-08-31 -> 2024)."""
    return years.insurance_year(today)


def _year(insurance_year: int | str | None, today: date | None) -> int:
    if insurance_year in (None, ""):
        if today is None:
            raise Invalid("medical.year_invalid", "参保年度不正确", "insurance_year")
        return years.check_medical_insurance_year(years.insurance_year(today))
    if isinstance(insurance_year, str):
        # Form handlers pass the query string as typed.
        text = insurance_year.strip()
        if not (text.isascii() and text.isdigit() and len(text) == 4):
            raise Invalid("medical.year_invalid", "参保年度不正确", "insurance_year")
        insurance_year = int(text)
    return years.check_medical_insurance_year(insurance_year)


# --------------------------------------------------------------------------- payments


def _latest_applications(session: Session, payment_ids: Sequence[str]) -> dict[str, Application]:
    """Per payment: its active application if any, else its latest one."""
    if not payment_ids:
        return {}
    apps = session.execute(
        select(Application)
        .where(Application.medical_payment_id.in_(list(payment_ids)))
        .order_by(Application.id)
    ).scalars()
    chosen: dict[str, Application] = {}
    for app in apps:
        pid = app.medical_payment_id
        assert pid is not None
        current = chosen.get(pid)
        if current is None or not workflow.is_active(current.status):
            chosen[pid] = app
    return chosen


def _payment_row(pay: MedicalPayment, app: Application | None) -> PaymentRow:
    active = app is not None and workflow.is_active(app.status)
    lab = workflow.labels(app.status if app else None, ApplicationKind.MEDICAL)
    return PaymentRow(
        payment_id=pay.payment_id,
        registration_id=pay.registration_id,
        ticket_no=pay.ticket_no,
        item_name=pay.item_name,
        refund_amount=format_yuan(pay.refund_amount_fen),
        medical_amount=format_yuan(pay.medical_amount_fen),
        ltc_amount=format_yuan(pay.ltc_amount_fen or 0),
        period_start=pay.period_start,
        period_end=pay.period_end,
        payment_date=pay.payment_date,
        insurance_year=pay.insurance_year,
        refundable=not active,
        application_id=app.id if app else None,
        status=app.status if app else None,
        refund_status_label=lab.refund_status,
        review_status_label=lab.review_status,
        review_result_label=lab.review_result,
    )


def list_payments(
    session: Session,
    *,
    person_id: int,
    insurance_year: int | str | None = None,
    registration_id: str | None = None,
    today: date | None = None,
) -> PaymentList:
    """城乡居民医疗社保费(退费) for one 参保年度 and registration.

    ``insurance_year`` None -> the insurance year of ``today`` (1 Sept starts the next one).
    Years before 2023 -> 422 ``medical.year_unsupported``. Several registrations and none
    chosen -> 422 ``medical.registration_required``; a registration that is not the
    person's -> 404. A person without any registration gets an empty list.
    """
    year = _year(insurance_year, today)
    reg = _choose_registration(session, person_id=person_id, registration_id=registration_id)
    person = session.get(Person, person_id)
    payer = {
        "payer_name": person.name if person else "",
        "id_number_masked": identity.mask_id_number(person.id_number) if person else "",
    }
    if reg is None:
        return PaymentList(insurance_year=year, registration=None, items=[], **payer)
    payments = list(
        session.execute(
            select(MedicalPayment)
            .where(
                MedicalPayment.registration_id == reg.registration_id,
                MedicalPayment.insurance_year == year,
            )
            .order_by(
                MedicalPayment.period_start, MedicalPayment.payment_date, MedicalPayment.payment_id
            )
        ).scalars()
    )
    apps = _latest_applications(session, [p.payment_id for p in payments])
    return PaymentList(
        insurance_year=year,
        registration=_registration_view(reg),
        items=[_payment_row(p, apps.get(p.payment_id)) for p in payments],
        **payer,
    )


# --------------------------------------------------------------------------- views


def _local_datetime(value: datetime) -> str:
    """退费申请日期 as the manual prints it: ``2023-10-17 00:00:00``, China time."""
    return as_utc(value).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def medical_view(
    app: Application,
    payment: MedicalPayment | None = None,
    registration: MedicalRegistration | None = None,
) -> dict[str, Any]:
    """The contract's application view plus every column of 城乡居民医保社保费退费进度.

    Result columns (tax_opinion, verification_result, verified_at, refund_date, bank_result)
    are null until the officer and the agencies fill them.
    """
    view = application_view(app)
    view.update(
        insurance_year=app.payment_year,
        refund_amount=view["amount"],
        medical_amount=format_yuan(payment.medical_amount_fen) if payment else None,
        ltc_amount=format_yuan(payment.ltc_amount_fen or 0) if payment else None,
        ticket_no=payment.ticket_no if payment else None,
        item_name=payment.item_name if payment else None,
        payment_date=payment.payment_date.isoformat() if payment else None,
        registration_id=app.registration_id,
        agency_name=registration.agency_name if registration else None,
        deposit_account_id=app.deposit_account_id,
        applied_at=view["created_at"],
        applied_at_local=_local_datetime(app.created_at),
        reason_text=app.reason_text,
        cancellable=app.status == ApplicationStatus.PENDING_REVIEW,
    )
    return view


# --------------------------------------------------------------------------- applying


def _payment_ids(payment_ids: object) -> list[str]:
    if isinstance(payment_ids, str) or not isinstance(payment_ids, Sequence):
        raise Invalid("medical.payments_required", "请选择要退费的缴费记录", "payment_ids")
    ids: list[str] = []
    for pid in payment_ids:
        if not isinstance(pid, str) or not pid.strip() or len(pid) > 40:
            raise NotFound("medical.payment_not_found", "缴费记录不存在", "payment_ids")
        if pid.strip() not in ids:
            ids.append(pid.strip())
    if not ids:
        raise Invalid("medical.payments_required", "请选择要退费的缴费记录", "payment_ids")
    if len(ids) > MAX_PAYMENTS_PER_APPLICATION:
        raise Invalid(
            "medical.too_many_payments",
            f"一次最多选择{MAX_PAYMENTS_PER_APPLICATION}条缴费记录",
            "payment_ids",
        )
    return ids


def _account(session: Session, *, person_id: int, deposit_account_id: object) -> DepositAccount:
    accounts = deposit_accounts.accounts_in_force(session, person_id=person_id)
    if not accounts:
        raise Conflict("deposit_account.missing", NO_DEPOSIT_ACCOUNT_MESSAGE, "deposit_account_id")
    if deposit_account_id in (None, ""):
        if len(accounts) == 1:
            return accounts[0]
        raise Invalid("deposit_account.required", "请选择银行账户信息", "deposit_account_id")
    if isinstance(deposit_account_id, str) and deposit_account_id.strip().isdigit():
        deposit_account_id = int(deposit_account_id.strip())
    for account in accounts:
        if account.id == deposit_account_id and not isinstance(deposit_account_id, bool):
            return account
    # Someone else's, deleted, or only in a draft: all look the same from outside.
    raise NotFound("deposit_account.not_found", "银行账户信息不存在", "deposit_account_id")


def _phone_and_reason(
    handler_phone: object, reason_code: object, reason_text: object
) -> tuple[str, str, str]:
    errors: list[DomainError] = []
    phone = reason = text = ""
    if not isinstance(handler_phone, str) or not handler_phone.strip():
        errors.append(Invalid("handler_phone.required", "请填写办理人电话", "handler_phone"))
    else:
        try:
            phone = identity.check_phone(handler_phone, field="handler_phone")
        except DomainError as exc:
            errors.append(exc)
    if reason_text is not None and not isinstance(reason_text, str):
        errors.append(Invalid("reason.text_invalid", "退费理由说明应为文本", "reason_text"))
        reason_text = None
    elif isinstance(reason_text, str) and len(reason_text.strip()) > _REASON_TEXT_MAX:
        errors.append(
            Invalid(
                "reason.text_too_long",
                f"退费理由说明不能超过{_REASON_TEXT_MAX}个字符",
                "reason_text",
            )
        )
        reason_text = None
    try:
        reason, text = rules.check_medical_reason(
            reason_code if isinstance(reason_code, str) else "",
            reason_text if isinstance(reason_text, str) else None,
        )
    except DomainError as exc:
        errors.append(exc)
    if errors:
        raise FormInvalid(errors)
    return phone, reason, text


def apply(
    session: Session,
    *,
    person_id: int,
    payment_ids: Sequence[str],
    registration_id: str | None,
    deposit_account_id: int | str | None,
    handler_phone: str | None,
    reason_code: str | None,
    reason_text: str | None,
    channel: str,
    at: datetime,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Apply for a refund of each chosen payment; returns one application view per payment.

    Checked in the order the person meets them on the page: the payments are theirs and of
    the registration (404), their 参保年度 is 2023 or later (422), a submitted deposit
    account exists (409 ``deposit_account.missing``, 未查询到存款账户报告信息) and the chosen
    one is theirs and in force (404; with only one it may be left out), then 办理人电话 and
    退费理由 (422, both reported at once via :class:`FormInvalid`), then that none is
    already applied for (409 ``application.already_applied``; the database decides races).
    ``today`` is accepted for symmetry with the other medical services and not needed.
    """
    del today
    if channel not in PERSON_CHANNELS:
        raise Invalid("channel.invalid", "申请渠道不正确", "channel")
    ids = _payment_ids(payment_ids)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person.not_found", "缴费人不存在")
    reg = _choose_registration(session, person_id=person_id, registration_id=registration_id)
    if reg is None:
        raise NotFound("medical.payment_not_found", "缴费记录不存在", "payment_ids")
    payments = {
        p.payment_id: p
        for p in session.execute(
            select(MedicalPayment).where(
                MedicalPayment.payment_id.in_(ids),
                MedicalPayment.registration_id == reg.registration_id,
            )
        ).scalars()
    }
    if len(payments) != len(ids):
        raise NotFound("medical.payment_not_found", "缴费记录不存在", "payment_ids")
    for pay in payments.values():
        try:
            years.check_medical_insurance_year(pay.insurance_year)
        except Invalid as exc:
            raise Invalid(exc.code, exc.message, "payment_ids") from None
    account = _account(session, person_id=person_id, deposit_account_id=deposit_account_id)
    phone, reason, text = _phone_and_reason(handler_phone, reason_code, reason_text)

    existing = _latest_applications(session, ids)
    if any(workflow.is_active(a.status) for a in existing.values()):
        raise applications.already_applied()

    actor = Actor.person(person_id)
    created = []
    for pid in ids:
        pay = payments[pid]
        app = applications.create(
            session,
            actor=actor,
            at=at,
            application=Application(
                kind=ApplicationKind.MEDICAL.value,
                channel=channel,
                person_id=person_id,
                region_code=person.region_code,
                medical_payment_id=pay.payment_id,
                amount_fen=pay.refund_amount_fen,
                payment_year=pay.insurance_year,
                period_start=pay.period_start,
                period_end=pay.period_end,
                registration_id=reg.registration_id,
                deposit_account_id=account.id,
                # Copied: the refund is paid to the account as it was when the person applied.
                bank_account_no=account.account_no,
                bank_category=account.bank_category,
                bank_account_name=account.account_name,
                handler_phone=phone,
                reason_code=reason,
                reason_text=text or None,
            ),
        )
        created.append(medical_view(app, pay, reg))
    return created


# --------------------------------------------------------------------------- progress


def _rows(session: Session, *conditions: Any):  # type: ignore[no-untyped-def]
    return session.execute(
        select(Application, MedicalPayment, MedicalRegistration)
        .join(MedicalPayment, Application.medical_payment_id == MedicalPayment.payment_id)
        .join(
            MedicalRegistration,
            MedicalPayment.registration_id == MedicalRegistration.registration_id,
        )
        .where(Application.kind == ApplicationKind.MEDICAL.value, *conditions)
        .order_by(Application.created_at.desc(), Application.id.desc())
    ).all()


def progress(
    session: Session,
    *,
    person_id: int,
    insurance_year: int | str | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """城乡居民医保社保费退费进度 of one 参保年度 (today's by default), newest first."""
    year = _year(insurance_year, today)
    return [
        medical_view(app, pay, reg)
        for app, pay, reg in _rows(
            session, Application.person_id == person_id, Application.payment_year == year
        )
    ]


def _owned(
    session: Session, *, person_id: int, application_id: int
) -> tuple[Application, MedicalPayment, MedicalRegistration]:
    found = []
    if isinstance(application_id, int) and not isinstance(application_id, bool):
        found = _rows(session, Application.id == application_id, Application.person_id == person_id)
    if not found:
        raise NotFound("application.not_found", "退费申请不存在")
    app, pay, reg = found[0]
    return app, pay, reg


def get_application(session: Session, *, person_id: int, application_id: int) -> dict[str, Any]:
    """One of the person's medical applications with its history (404 if not theirs)."""
    app, pay, reg = _owned(session, person_id=person_id, application_id=application_id)
    view = medical_view(app, pay, reg)
    view["history"] = [event_view(ev) for ev in app.events]
    return view


def cancel(
    session: Session, *, person_id: int, application_id: int, at: datetime
) -> dict[str, Any]:
    """撤销退费: only the applicant, only while 待审核 (409 ``application.not_cancellable``)."""
    # Lock first, so that the status read is the one the transition will see.
    try:
        locked = applications.lock(session, application_id)
    except NotFound:
        locked = None
    if locked is None or locked.person_id != person_id or locked.kind != ApplicationKind.MEDICAL:
        raise NotFound("application.not_found", "退费申请不存在")
    app, pay, reg = _owned(session, person_id=person_id, application_id=application_id)
    if app.status != ApplicationStatus.PENDING_REVIEW:
        raise Conflict(
            "application.not_cancellable", "税务审核状态为待审核才能撤销退费，已审核的记录不能撤销"
        )
    applications.transition(
        session,
        application=app,
        target=ApplicationStatus.CANCELLED,
        actor=Actor.person(person_id),
        at=at,
        reason="缴费人撤销退费申请",
    )
    return medical_view(app, pay, reg)
