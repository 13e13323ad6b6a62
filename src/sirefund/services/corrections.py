"""退回补正: an officer returns a pending application for correction; the applicant fixes
the fields asked for and resubmits the same case; uncorrected, it lapses after 15 days
(domain.md "Outcomes a person can act on").

    pending_review --return (officer: opinion, fields)--> returned
    returned --correct (applicant)--> pending_review      (same id, history kept)
    returned --cancel (applicant)--> cancelled
    returned --15 days, lapse_overdue (system)--> lapsed  (the payment is refundable again)

A returned application is open (domain.workflow.ACTIVE): nobody can apply for the same
payment while it waits. The correction may change only the fields the officer asked for; a
field not asked for is refused (422 ``correction.field_not_requested``), so the reviewer
sees exactly what was changed. Another's application answers 404 like a missing one; one
that is not ``returned`` 409 ``application.not_returned``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import identity, rules, workflow
from ..domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..domain.workflow import ApplicationKind, CorrectionField
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, Person, Unit
from . import applications, bank_details, deposit_accounts, views
from .applications import Actor
from .deposit_accounts import BIGINT_MAX, FormInvalid
from .officers import OfficerRef, active_officer
from .review_decisions import OPINION_MAX
from .review_detail import visible_application
from .views import ApplicationView

__all__ = [
    "CorrectionIn",
    "ReturnIn",
    "correct",
    "lapse_overdue",
    "requested_fields",
    "return_for_correction",
    "returned_case",
]

#: Which submitted fields each correction field stands for.
FIELD_INPUTS: dict[CorrectionField, tuple[str, ...]] = {
    CorrectionField.BANK_ACCOUNT: (
        "bank_account_type",
        "account_no_confirmed",
        "bank_account_no",
        "bank_account_name",
        "bank_category",
    ),
    CorrectionField.CONTACT: ("contact_name", "contact_phone", "handler_phone"),
    CorrectionField.REASON: ("reason_code", "reason_text"),
    CorrectionField.DEPOSIT_ACCOUNT: ("deposit_account_id",),
}


class ReturnIn(BaseModel):
    """退回补正: the opinion (税务机关意见, required) and the fields the applicant must fix."""

    model_config = bank_details.input_config(
        {"opinion": "银行账号与户名不符，请核对后补正", "fields": ["bank_account"]}, strip=True
    )

    opinion: str | None = Field(
        default=None, max_length=OPINION_MAX, description="补正意见（必填）"
    )
    fields: list[CorrectionField] = Field(
        default_factory=list,
        max_length=len(CorrectionField),
        description="需补正的项目：bank_account 银行账户信息 / contact 联系人信息 / "
        "reason 退费理由 / deposit_account 存款账户（医保）",
    )

    @field_validator("opinion")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("fields")
    @classmethod
    def _once_each(cls, value: list[CorrectionField]) -> list[CorrectionField]:
        return list(dict.fromkeys(value))


class CorrectionIn(BaseModel):
    """补正: the fields the officer asked to fix, under the names they have on submission.
    Every field is optional here; which ones must and may be given depends on what was
    asked (checked by :func:`correct`)."""

    model_config = bank_details.input_config(
        {
            "bank_account_type": "bank_card",
            "bank_account_no": "6228480402564890018",
            "bank_account_name": "邱世贵",
            "bank_category": "103",
        },
        strip=True,
    )

    bank_account_type: str | None = Field(
        default=None, max_length=bank_details.ACCOUNT_TYPE_MAX, description="账户类型"
    )
    account_no_confirmed: bool | None = Field(default=None, description="确认卡号无误")
    bank_account_no: str | None = Field(
        default=None, max_length=bank_details.ACCOUNT_NO_MAX, description="银行账号"
    )
    bank_account_name: str | None = Field(
        default=None, max_length=bank_details.ACCOUNT_NAME_MAX, description="银行账户名称"
    )
    bank_category: str | None = Field(
        default=None, max_length=bank_details.CATEGORY_MAX, description="银行类别"
    )
    contact_name: str | None = Field(
        default=None, max_length=bank_details.CONTACT_NAME_MAX, description="联系人名称"
    )
    contact_phone: str | None = Field(
        default=None, max_length=bank_details.CONTACT_PHONE_MAX, description="联系人电话"
    )
    handler_phone: str | None = Field(default=None, max_length=20, description="办理人电话（医保）")
    reason_code: str | None = Field(default=None, max_length=24, description="退费理由（医保）")
    reason_text: str | None = Field(default=None, max_length=500, description="退费理由说明")
    deposit_account_id: int | None = Field(
        default=None, ge=1, le=BIGINT_MAX, description="银行账户信息（医保，GET /deposit-accounts）"
    )


def requested_fields(app: Application) -> tuple[CorrectionField, ...]:
    """What the officer asked to fix, in the order of CorrectionField."""
    return views.application(app).correction_fields


def not_returned() -> Conflict:
    return Conflict("application.not_returned", "仅待补正的申请可以补正")


# --------------------------------------------------------------------------- the officer


def return_for_correction(
    session: Session, *, officer: OfficerRef, application_id: int, request: ReturnIn, at: datetime
) -> ApplicationView:
    """退回补正 of a pending application in the officer's scope (404 outside it): only
    reviewers (403 ``review.not_reviewer``), not the initiator (403 ``review.four_eyes``),
    only while 待审核 (409 ``review.not_pending``); an opinion (422
    ``review.opinion_required``) and at least one field the application has (422
    ``correction.fields_required`` / ``correction.field_unknown``)."""
    me = active_officer(session, officer)
    if not me.is_reviewer:
        raise Forbidden("review.not_reviewer", "您没有审核权限")
    if request.opinion is None:
        raise Invalid("review.opinion_required", "退回补正时必须填写补正意见", "opinion")
    app = visible_application(session, me, application_id, lock=True)
    if app.initiated_by_officer_id is not None and app.initiated_by_officer_id == me.id:
        raise Forbidden("review.four_eyes", "发起人不能审核本人发起的退费申请")
    if app.status != S.PENDING_REVIEW:
        label = workflow.labels(app.status, app.kind).refund_status
        raise Conflict("review.not_pending", f"该申请当前为“{label}”，不是待审核状态，不能退回补正")
    allowed = workflow.correction_fields_for(app.kind)
    if not request.fields:
        raise Invalid("correction.fields_required", "请选择需补正的项目", "fields")
    for wanted in request.fields:
        if wanted not in allowed:
            raise Invalid(
                "correction.field_unknown",
                f"此类申请没有“{wanted.label}”可补正",
                "fields",
            )
    fields = [f for f in allowed if f in request.fields]
    names = "、".join(f.label for f in fields)
    applications.transition(
        session,
        application=app,
        target=S.RETURNED,
        actor=Actor.officer(me.code),
        at=at,
        reason=f"退回补正（{names}）：{request.opinion}",
        values={
            "review_opinion": request.opinion,
            "correction_fields": ",".join(f.value for f in fields),
        },
    )
    session.refresh(app)
    return views.application(app, audience="officer")


# --------------------------------------------------------------------------- the applicant


def returned_case(
    session: Session, *, owner: Actor, kind: ApplicationKind, application_id: int
) -> ApplicationView:
    """The applicant's returned case, for the 补正 form: 404 unless ``owner``'s of ``kind``,
    409 ``application.not_returned`` unless 待补正."""
    return applications.own_case(
        session, application_id, kind=kind, owner=owner, status=S.RETURNED, refusal=not_returned
    )


def correct(
    session: Session,
    *,
    owner: Actor,
    kind: ApplicationKind,
    application_id: int,
    correction: CorrectionIn,
    at: datetime,
) -> ApplicationView:
    """补正: ``owner`` (the person; the unit for unit refunds) changes the fields asked for
    and the same application goes back to 待审核, its history kept."""
    app = applications.find_own(session, application_id, kind=kind.value, owner=owner, lock=True)
    if app.status != S.RETURNED:
        raise not_returned()
    asked = requested_fields(app)
    given = correction.model_fields_set
    for field in CorrectionField:
        if field in asked:
            continue
        extra = [n for n in FIELD_INPUTS[field] if n in given]
        if extra:
            raise Invalid(
                "correction.field_not_requested",
                f"“{field.label}”不在补正要求之内，不能修改",
                extra[0],
            )
    values: dict[str, object] = {}
    errors: list[DomainError] = []
    for field in asked:
        try:
            values.update(_checked(session, app, field, correction))
        except FormInvalid as exc:
            errors.extend(exc.errors)
        except DomainError as exc:
            errors.append(exc)
    if errors:
        raise FormInvalid(errors)
    names = "、".join(f.label for f in asked)
    applications.transition(
        session,
        application=app,
        target=S.PENDING_REVIEW,
        actor=owner,
        at=at,
        reason=f"补正后重新提交（{names}）",
        values={**values, "correction_fields": None, "review_opinion": None},
    )
    session.refresh(app)
    return views.application(app)


def _required(value: str | None, code: str, message: str, field: str) -> str:
    if not value:
        raise Invalid(code, message, field)
    return value


def _checked(
    session: Session, app: Application, field: CorrectionField, given: CorrectionIn
) -> dict[str, object]:
    """The columns a corrected ``field`` sets, each value checked as on submission."""
    if field == CorrectionField.BANK_ACCOUNT:
        return _bank_account(session, app, given)
    if field == CorrectionField.CONTACT:
        if app.kind == ApplicationKind.MEDICAL:
            phone = _required(
                given.handler_phone, "handler_phone.required", "请填写办理人电话", "handler_phone"
            )
            return {"handler_phone": identity.check_phone(phone, field="handler_phone")}
        errors: list[DomainError] = []
        out: dict[str, object] = {}
        for name, check in (
            ("contact_name", bank_details.check_contact_name),
            ("contact_phone", bank_details.check_contact_phone),
        ):
            try:
                out[name] = check(getattr(given, name) or "")
            except DomainError as exc:
                errors.append(exc)
        if errors:
            raise FormInvalid(errors)
        return out
    if field == CorrectionField.REASON:
        code, text = rules.check_medical_reason(given.reason_code or "", given.reason_text)
        return {"reason_code": code, "reason_text": text or None}
    return _deposit_account(session, app, given)


def _bank_account(session: Session, app: Application, given: CorrectionIn) -> dict[str, object]:
    errors: list[DomainError] = []
    out: dict[str, object] = {}

    def attempt(name: str, check: Callable[[], str]) -> None:
        try:
            out[name] = check()
        except DomainError as exc:
            errors.append(exc)

    account_type = given.bank_account_type or ""
    attempt("bank_account_type", lambda: bank_details.check_account_type(account_type))
    attempt(
        "bank_account_no",
        lambda: bank_details.check_account_no(
            given.bank_account_no or "",
            account_type=account_type,
            confirmed=bool(given.account_no_confirmed),
        ),
    )
    attempt("bank_category", lambda: bank_details.check_category(given.bank_category or ""))
    attempt("bank_account_name", lambda: _holder(session, app, given.bank_account_name))
    if errors:
        raise FormInvalid(errors)
    return out


def _holder(session: Session, app: Application, name: str | None) -> str:
    """The 户名 must be the payee's: the unit's name for a unit, else the payer's (who is
    also the default when none is given, as on submission)."""
    if app.kind == ApplicationKind.UNIT_PENSION:
        unit = session.get(Unit, app.unit_id)
        assert unit is not None  # foreign key
        text = bank_details.check_account_name(name or "")
        rules.check_unit_account_holder(text, unit.name)
        return text
    person = session.get(Person, app.person_id)
    assert person is not None  # foreign key
    text = bank_details.check_account_name(name or person.name)
    rules.check_person_account_holder(text, person.name)
    return text


def _deposit_account(session: Session, app: Application, given: CorrectionIn) -> dict[str, object]:
    wanted = given.deposit_account_id
    in_force = deposit_accounts.accounts_in_force(session, person_id=app.person_id)
    chosen = next((a for a in in_force if a.id == wanted), None)
    if chosen is None:
        raise NotFound("deposit_account.not_found", "银行账户信息不存在", "deposit_account_id")
    person = session.get(Person, app.person_id)
    assert person is not None  # foreign key
    rules.check_person_account_holder(chosen.account_name or "", person.name)
    return {
        "deposit_account_id": chosen.id,
        "bank_account_no": chosen.account_no,
        "bank_account_name": chosen.account_name,
        "bank_category": chosen.bank_category,
    }


# --------------------------------------------------------------------------- lapsing


@dataclass(frozen=True, slots=True)
class LapseResult:
    lapsed: list[int]


def correction_due(returned_at: datetime) -> datetime:
    """The moment a returned application lapses when still uncorrected."""
    return returned_at + timedelta(days=workflow.CORRECTION_DAYS)


def lapse_overdue(session: Session, *, now: datetime, limit: int = 500) -> LapseResult:
    """逾期未补正: every application returned more than 15 days before ``now`` and still not
    corrected becomes ``lapsed`` (its payment can be applied for again). Its ``updated_at``
    is the moment it was returned: nothing else moves a returned application. Safe to run
    from several workers: a case someone else moved first is skipped."""
    cutoff = now - timedelta(days=workflow.CORRECTION_DAYS)
    due = (
        session.execute(
            select(Application)
            .where(Application.status == S.RETURNED.value, Application.updated_at <= cutoff)
            .order_by(Application.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    lapsed: list[int] = []
    for app in due:
        try:
            with session.begin_nested():
                applications.transition(
                    session,
                    application=app,
                    target=S.LAPSED,
                    actor=Actor.system("correction-deadline"),
                    at=now,
                    reason=f"退回补正后{workflow.CORRECTION_DAYS}日内未补正，申请失效（逾期未补正）",
                    values={"correction_fields": None},
                )
        except Conflict:
            continue
        lapsed.append(app.id)
    return LapseResult(lapsed)
