"""城乡居民基本医疗保险退费 for a person: registrations, refundable payments, applications,
progress and cancelling.

The flow of the manual (sections 2.1 and 2.2): choose the registration (选择登记信息, chosen
for the person when there is only one), query a 参保年度 (today's by default; 2023 and
later only), tick payments and 申请退费. Without a submitted 存款账户账号报告 the application is
refused with 未查询到存款账户报告信息 and the person is led to the report
(services/deposit_accounts.py). The application names the account, 办理人电话 and 退费理由;
its amount is 医疗金额 + 长护金额, and the account's details are copied onto it so that a later
change of the report does not redirect a refund already under way.

:func:`apply` takes the use case's input model :class:`MedicalRefundIn` (built by the API from
JSON and by the pages from form data). Functions return frozen dataclasses holding fen, dates
and statuses (presented as text once, in ``web/medical_presenters.py``) and raise domain
errors naming the field, for API routes and form handlers alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow, years
from ..domain.errors import Conflict, DomainError, Invalid, NotFound
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, DepositAccount, MedicalPayment, MedicalRegistration, Person
from . import applications, deposit_accounts, heir_claims, queries, reapply, views
from .applications import Actor
from .bank_details import input_config
from .deposit_accounts import BIGINT_MAX, FormInvalid
from .views import Payer

MAX_PAYMENTS_PER_APPLICATION = 50
PAYMENT_ID_MAX = 40

NO_DEPOSIT_ACCOUNT_MESSAGE = "未查询到存款账户报告信息"

Str20 = Annotated[str | None, StringConstraints(max_length=20)]
Str24 = Annotated[str | None, StringConstraints(max_length=24)]
Str40 = Annotated[str | None, StringConstraints(max_length=40)]
Str500 = Annotated[str | None, StringConstraints(max_length=500)]


# --------------------------------------------------------------------------- input


class MedicalRefundIn(BaseModel):
    """申请退费 of the ticked payments, with the chosen account, 办理人电话 and 退费理由."""

    model_config = input_config(
        {
            "payment_ids": ["MP00000001"],
            "registration_id": "MR00000001",
            "deposit_account_id": 12,
            "handler_phone": "13812341234",
            "reason_code": "duplicate_payment",
            "reason_text": "",
            "channel": "web",
        }
    )

    payment_ids: list[Annotated[str, StringConstraints(max_length=PAYMENT_ID_MAX)]] = Field(
        max_length=MAX_PAYMENTS_PER_APPLICATION, description="所选缴费记录；重复的只算一次"
    )
    registration_id: Str40 = Field(default=None, description="登记信息；只有一条登记信息时可不填")
    deposit_account_id: int | None = Field(
        default=None,
        ge=1,
        le=BIGINT_MAX,
        description="银行账户信息（GET /deposit-accounts）；只有一个时可不填",
    )
    handler_phone: Str20 = Field(default=None, description="*办理人电话", examples=["13812341234"])
    reason_code: Str24 = Field(
        default=None,
        description="*退费理由：duplicate_payment 重复缴费 / "
        "employee_insurance 已参加职工医保 / deceased 参保人死亡 / military 参军 / "
        "insured_elsewhere 在外地参保 / other 其他（须填写说明）",
    )
    reason_text: Str500 = Field(default=None, description="退费理由说明；选择“其他”时必填")
    channel: Literal["web", "mobile_app"] = Field(
        default="web", description="web 电子税务局 / mobile_app 楚税通"
    )
    heir_claim_id: int | None = Field(
        default=None,
        ge=1,
        le=BIGINT_MAX,
        description="继承人代办：已核实的继承人代办申请编号；缴费与登记信息为已故参保人的，"
        "账户为继承人本人存款账户账号报告中的账户",
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Registration:
    """登记信息: 社保经办机构名称 / 申报机构代码 / 社保编码."""

    registration_id: str
    agency_name: str
    agency_code: str
    ss_code: str


@dataclass(frozen=True)
class PaymentRow(queries.MedicalPaymentColumns):
    """One row of 城乡居民医疗社保费(退费): the payment's columns and whether it can be
    applied for."""

    refundable: bool
    not_refundable_reason: str | None  # why not, in words (None when refundable)
    application_id: int | None
    status: ApplicationStatus | None

    @property
    def refund_amount_fen(self) -> int:
        """退费金额 = 医疗金额 + 长护金额 (0 when none)."""
        return self.medical_amount_fen + self.ltc_amount_fen

    @property
    def labels(self) -> workflow.Labels:
        """退费状态 / 审核状态 / 审核结果 of the row's application (未申请 without one, or
        after 撤销)."""
        return workflow.payment_labels(self.status, ApplicationKind.MEDICAL)


@dataclass(frozen=True)
class PaymentList:
    """The query result: the year asked (or defaulted), the registration used, the rows, and
    the header of the page (缴费人, 证件号码 masked)."""

    insurance_year: int
    registration: Registration | None
    items: list[PaymentRow]
    payer_name: str = ""
    id_number_masked: str = ""
    insurance_years: list[int] = field(default_factory=list)  # the years that have payments


@dataclass(frozen=True)
class MedicalApplication:
    """A medical application: the common view plus every column of 城乡居民医保社保费退费进度.

    Result columns of ``application`` (tax_opinion, verification_result, verified_at,
    refund_date, bank_result) are None until the officer and the agencies fill them;
    ``history`` is filled for one application asked by id only.
    """

    application: views.ApplicationView
    medical_amount_fen: int
    ltc_amount_fen: int
    ticket_no: str
    item_name: str
    payment_date: date
    registration_id: str | None
    agency_name: str
    deposit_account_id: int | None
    history: list[views.EventView] = field(default_factory=list)
    # Refused and its payment refundable again: 重新申请 (services/reapply.py).
    reapplicable: bool = False

    @property
    def cancellable(self) -> bool:
        return workflow.is_cancellable(self.application.status)


def registration_view(reg: MedicalRegistration) -> Registration:
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
    return [registration_view(r) for r in _registrations(session, person_id)]


def _choose_registration(
    session: Session, *, person_id: int, registration_id: str | None
) -> MedicalRegistration | None:
    """The registration asked for (404 unless it is the person's); with none asked, the only
    one, or None when there is none; several and none chosen -> 422 registration_required."""
    if registration_id:
        reg = session.get(MedicalRegistration, registration_id)
        if reg is None or reg.person_id != person_id:
            raise NotFound("medical.registration_not_found", "登记信息不存在", "registration_id")
        return reg
    regs = _registrations(session, person_id)
    if len(regs) > 1:
        raise Invalid("medical.registration_required", "请选择登记信息", "registration_id")
    return regs[0] if regs else None


_REGISTRATIONS_SQL = (
    "SELECT registration_id, agency_name, agency_code, ss_code, person_id "
    "FROM medical_registrations WHERE {column} = {{p}} ORDER BY registration_id"
)


def registrations_with_session(session: Session, token_hash: str) -> queries.SessionAndRows | None:
    """The session lookup and the registrations of its person (as `list_payments` reads
    them without a chosen registration) in one statement on PostgreSQL, else None
    (queries.with_person_session)."""
    sql = _REGISTRATIONS_SQL.format(column="person_id").format(p="ses.pid")
    return queries.with_person_session(
        session, token_hash=token_hash, sql=sql, order="x.registration_id"
    )


def _chosen_registration(
    session: Session,
    *,
    person_id: int,
    registration_id: str | None,
    read: Sequence[Sequence[object]] | None = None,
) -> Registration | None:
    """`_choose_registration` (the same answers and errors) as the view, read on the driver:
    it runs before every medical "my payments" read (issue 12). `read`: the person's
    registrations as read already (`registrations_with_session`; no registration chosen)."""
    column, key = (
        ("registration_id", registration_id) if registration_id else ("person_id", person_id)
    )
    rows = (
        read
        if read is not None and not registration_id
        else queries.driver_rows(session, _REGISTRATIONS_SQL.format(column=column), (key,))
    )
    if registration_id and (not rows or rows[0][4] != person_id):
        raise NotFound("medical.registration_not_found", "登记信息不存在", "registration_id")
    if len(rows) > 1:
        raise Invalid("medical.registration_required", "请选择登记信息", "registration_id")
    if not rows:
        return None
    r = rows[0]
    return Registration(str(r[0]), str(r[1]), str(r[2]), str(r[3]))


def default_year(today: date) -> int:
    """参保年度 the query starts with: the current one (2023-09-01..2024-08-31 -> 2024)."""
    return years.insurance_year(today)


def _year(insurance_year: int | None, today: date) -> int:
    return years.check_medical_insurance_year(
        default_year(today) if insurance_year is None else insurance_year
    )


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


def _queried_row(row: queries.MedicalPaymentRow) -> PaymentRow:
    status = row.application_status
    return PaymentRow(
        payment_id=row.payment_id,
        registration_id=row.registration_id,
        ticket_no=row.ticket_no,
        item_name=row.item_name,
        medical_amount_fen=row.medical_amount_fen,
        ltc_amount_fen=row.ltc_amount_fen,
        period_start=row.period_start,
        period_end=row.period_end,
        payment_date=row.payment_date,
        insurance_year=row.insurance_year,
        refundable=not (status is not None and workflow.is_active(status)),
        not_refundable_reason=rules.medical_not_refundable_reason(status),
        application_id=row.application_id,
        status=ApplicationStatus(status) if status else None,
    )


def list_payments(
    session: Session,
    *,
    person_id: int,
    insurance_year: int | None = None,
    registration_id: str | None = None,
    today: date,
    payer: Payer | None = None,
    registrations: Sequence[Sequence[object]] | None = None,
) -> PaymentList:
    """城乡居民医疗社保费(退费) for one 参保年度 and registration.

    ``insurance_year`` None -> the insurance year of ``today`` (1 Sept starts the next one).
    Years before 2023 -> 422 ``medical.year_unsupported``. Several registrations and none
    chosen -> 422 ``medical.registration_required``; a registration that is not the
    person's -> 404. A person without any registration gets an empty list.
    ``insurance_years`` lists the years of the registration that have payments (newest
    first); with no year asked, the query opens on the newest of them (an empty current year
    would hide the payments a person came for), else on the current one.
    """
    if insurance_year is not None:
        years.check_medical_insurance_year(insurance_year)
    reg = _chosen_registration(
        session, person_id=person_id, registration_id=registration_id, read=registrations
    )
    if payer is None:  # `payer`: the caller has them already (accounts.peek_person_session)
        person = session.get(Person, person_id)
        payer = Payer(person.name, identity.mask_id_number(person.id_number)) if person else None
    payer_name, masked = (payer.name, payer.id_number_masked) if payer else ("", "")
    if reg is None:
        return PaymentList(_year(insurance_year, today), None, [], payer_name, masked)
    with_payments = [
        y
        for y in queries.medical_years_with_payments(session, registration_id=reg.registration_id)
        if y >= years.MIN_MEDICAL_INSURANCE_YEAR
    ]
    if insurance_year is None and with_payments:
        insurance_year = with_payments[0]
    year = _year(insurance_year, today)
    # One statement for the payments and their applications (queries: the hot read).
    rows = queries.medical_payments_for_registration(
        session, registration_id=reg.registration_id, insurance_year=year
    )
    items = [_queried_row(r) for r in rows]
    return PaymentList(year, reg, items, payer_name, masked, with_payments)


def heir_list_payments(
    session: Session,
    *,
    person_id: int,
    heir_claim_id: int,
    insurance_year: int | None = None,
    registration_id: str | None = None,
    today: date,
) -> PaymentList:
    """继承人代办: the deceased's medical payments (as :func:`list_payments`), for the heir of
    a verified claim only (404 for another person's claim, 409 ``heir_claim.not_verified``
    before it is verified or once refused)."""
    found = heir_claims.verified(session, person_id=person_id, claim_id=heir_claim_id)
    if found.deceased is None:
        return PaymentList(_year(insurance_year, today), None, [], found.claim.deceased_name)
    return list_payments(
        session,
        person_id=found.deceased.id,
        insurance_year=insurance_year,
        registration_id=registration_id,
        today=today,
    )


# --------------------------------------------------------------------------- views


def _medical_application(
    app: Application, payment: MedicalPayment, registration: MedicalRegistration
) -> MedicalApplication:
    return MedicalApplication(
        application=views.application(app),
        medical_amount_fen=payment.medical_amount_fen,
        ltc_amount_fen=payment.ltc_amount_fen or 0,
        ticket_no=payment.ticket_no,
        item_name=payment.item_name,
        payment_date=payment.payment_date,
        registration_id=app.registration_id,
        agency_name=registration.agency_name,
        deposit_account_id=app.deposit_account_id,
    )


# --------------------------------------------------------------------------- applying


def _payment_ids(payment_ids: Sequence[str]) -> list[str]:
    """The chosen payments once each, in the order ticked."""
    ids: list[str] = []
    for pid in payment_ids:
        if not pid.strip():
            raise NotFound("medical.payment_not_found", "缴费记录不存在", "payment_ids")
        if pid.strip() not in ids:
            ids.append(pid.strip())
    if not ids:
        raise Invalid("medical.payments_required", "请选择要退费的缴费记录", "payment_ids")
    return ids


def _account(session: Session, *, person_id: int, deposit_account_id: int | None) -> DepositAccount:
    accounts = deposit_accounts.accounts_in_force(session, person_id=person_id)
    if not accounts:
        raise Conflict("deposit_account.missing", NO_DEPOSIT_ACCOUNT_MESSAGE, "deposit_account_id")
    if deposit_account_id is None:
        if len(accounts) == 1:
            return accounts[0]
        raise Invalid("deposit_account.required", "请选择银行账户信息", "deposit_account_id")
    for account in accounts:
        if account.id == deposit_account_id:
            return account
    # Someone else's, deleted, or only in a draft: all look the same from outside.
    raise NotFound("deposit_account.not_found", "银行账户信息不存在", "deposit_account_id")


def _phone_and_reason(refund: MedicalRefundIn) -> tuple[str, str, str]:
    """办理人电话 and 退费理由, both checked so that the form shows every problem at once."""
    errors: list[DomainError] = []
    phone = reason = text = ""
    if not (refund.handler_phone or "").strip():
        errors.append(Invalid("handler_phone.required", "请填写办理人电话", "handler_phone"))
    else:
        try:
            phone = identity.check_phone(refund.handler_phone or "", field="handler_phone")
        except DomainError as exc:
            errors.append(exc)
    try:
        reason, text = rules.check_medical_reason(refund.reason_code or "", refund.reason_text)
    except DomainError as exc:
        errors.append(exc)
    if errors:
        raise FormInvalid(errors)
    return phone, reason, text


def apply(
    session: Session, *, person_id: int, refund: MedicalRefundIn, at: datetime
) -> list[MedicalApplication]:
    """Apply for a refund of each chosen payment; returns one application per payment.

    Checked in the order the person meets them on the page: the payments are theirs and of
    the registration (404), their 参保年度 is 2023 or later (422), a submitted deposit
    account exists (409 ``deposit_account.missing``, 未查询到存款账户报告信息) and the chosen
    one is theirs and in force (404; with only one it may be left out), then 办理人电话 and
    退费理由 (422, both reported at once via :class:`FormInvalid`), then that none is
    already applied for (409 ``application.already_applied``; the database decides races).
    """
    ids = _payment_ids(refund.payment_ids)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person.not_found", "缴费人不存在")
    payer = _payer(session, person, refund.heir_claim_id)
    reg = _choose_registration(session, person_id=payer.id, registration_id=refund.registration_id)
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
    # The account is the applicant's own: the payer's, or for an heir the heir's.
    account = _account(session, person_id=person_id, deposit_account_id=refund.deposit_account_id)
    if payer is not person:
        heir_claims.check_heir_account_holder(account.account_name or "", person.name)
    phone, reason, text = _phone_and_reason(refund)

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
            reason="继承人代办：提交退费申请" if refund.heir_claim_id else "提交退费申请",
            application=Application(
                kind=ApplicationKind.MEDICAL.value,
                channel=Channel(refund.channel).value,
                person_id=person_id,
                # 继承人代办: reviewed where the deceased's payments are (the payer's region).
                region_code=payer.region_code,
                heir_claim_id=refund.heir_claim_id,
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
        created.append(_medical_application(app, pay, reg))
    return created


def _payer(session: Session, person: Person, heir_claim_id: int | None) -> Person:
    """Whose payments are refunded: the person's own, or under a verified 继承人代办 claim of
    theirs the deceased's (404 for another's claim, 409 while not verified)."""
    if heir_claim_id is None:
        return person
    found = heir_claims.verified(session, person_id=person.id, claim_id=heir_claim_id)
    if found.deceased is None:
        raise NotFound("medical.payment_not_found", "缴费记录不存在", "payment_ids")
    return found.deceased


# --------------------------------------------------------------------------- progress


def _rows(
    session: Session, *conditions: ColumnElement[bool]
) -> Sequence[Row[Application, MedicalPayment, MedicalRegistration]]:
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
    session: Session, *, person_id: int, insurance_year: int | None = None, today: date
) -> list[MedicalApplication]:
    """城乡居民医保社保费退费进度 of one 参保年度 (today's by default), newest first."""
    year = _year(insurance_year, today)
    rows = _rows(session, Application.person_id == person_id, Application.payment_year == year)
    again = reapply.reapplicable_ids(session, (app for app, _, _ in rows))
    return [
        replace(_medical_application(app, pay, reg), reapplicable=app.id in again)
        for app, pay, reg in rows
    ]


def _owned(
    session: Session, *, person_id: int, application_id: int
) -> tuple[Application, MedicalPayment, MedicalRegistration]:
    found = _rows(session, Application.id == application_id, Application.person_id == person_id)
    if not found:
        raise NotFound("application.not_found", "退费申请不存在")
    app, pay, reg = found[0]
    return app, pay, reg


def get_application(session: Session, *, person_id: int, application_id: int) -> MedicalApplication:
    """One of the person's medical applications with its history (404 if not theirs)."""
    app, pay, reg = _owned(session, person_id=person_id, application_id=application_id)
    view = _medical_application(app, pay, reg)
    again = app.id in reapply.reapplicable_ids(session, [app])
    return replace(view, history=applications.history(session, app), reapplicable=again)


def cancel(
    session: Session, *, person_id: int, application_id: int, at: datetime
) -> MedicalApplication:
    """撤销退费: only the applicant, only while 待审核 (409 ``application.not_cancellable``)."""
    # Lock first, so that the status read is the one the transition will see.
    try:
        locked = applications.lock(session, application_id)
    except NotFound:
        locked = None
    if locked is None or locked.person_id != person_id or locked.kind != ApplicationKind.MEDICAL:
        raise NotFound("application.not_found", "退费申请不存在")
    app, pay, reg = _owned(session, person_id=person_id, application_id=application_id)
    if not workflow.is_cancellable(app.status):
        raise Conflict(
            "application.not_cancellable", "税务审核状态为待审核才能撤销退费，已审核的记录不能撤销"
        )
    applications.cancel_by_person(session, application=app, person_id=person_id, at=at)
    return _medical_application(app, pay, reg)
