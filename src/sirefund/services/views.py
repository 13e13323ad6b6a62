"""Read models: what an application looks like outside. Masking happens here, on the server,
via domain.identity — never in a template or in JavaScript.

:class:`ApplicationView` and :class:`EventView` are typed: fen, dates, instants and enums.
Turning them into text (yuan strings, ISO or China time, the manual's labels) happens once at
the edge, in ``web/presenters.py``, for the API and the pages alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from ..clock import as_utc
from ..domain import identity, notices
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel, CorrectionField
from ..models import Application, ApplicationEvent

Audience = Literal["owner", "officer"]


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application as its owner (or an officer) may see it; personal data already masked."""

    id: int
    document_no: str
    kind: ApplicationKind
    status: ApplicationStatus
    amount_fen: int
    channel: Channel
    created_at: datetime
    updated_at: datetime | None
    payment_year: int
    period_start: date
    period_end: date
    region_code: str
    batch_id: int | None
    payment_id: str | None
    line_id: str | None
    bank_account_masked: str | None
    bank_account_type: str | None
    bank_category: str | None
    contact_name: str | None
    contact_phone_masked: str | None
    tax_opinion: str | None
    reviewed_at: datetime | None
    verification_result: str | None
    verified_at: datetime | None
    refund_date: date | None
    bank_result: str | None
    reason_code: str | None
    reason_text: str | None
    handler_phone_masked: str | None
    # Why it was refused, returned or failed (domain/notices.reason_label); None otherwise.
    reason_label: str | None = None
    # 退回补正: what the officer asked to fix while the application is returned.
    correction_fields: tuple[CorrectionField, ...] = ()
    deposit_account_id: int | None = None
    # 继承人代办: the verified claim an heir applied under (None: the payer's own).
    heir_claim_id: int | None = None


ACTOR_LABELS = {
    "person": "缴费人",
    "unit": "村组（单位）",
    "officer": "税务人员",
    "agency": "外部机构",
    "system": "系统",
}


@dataclass(frozen=True, slots=True)
class EventView:
    """One recorded state change of an application of ``kind``: who, when, from, to and why."""

    kind: ApplicationKind
    at: datetime
    actor_kind: str
    actor_id: str | None
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    reason: str | None
    audience: Audience


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressRow:
    """One of the applicant's own applications in 退费进度 (a pension or a unit row adds its
    payment's columns): whether it can still be cancelled, and whether 重新申请 is offered
    (refused, and its payment or person line refundable again: services/reapply.py)."""

    application: ApplicationView
    cancellable: bool
    reapplicable: bool = False


def application(app: Application, *, audience: Audience = "owner") -> ApplicationView:
    """The typed view of ``app``. audience "owner" masks as domain.md says for citizens;
    "officer" shows the longer officer masks (first six, last four). Full values only through
    an audited reveal."""
    officer = audience == "officer"
    mask_account = identity.mask_account_for_officer if officer else identity.mask_account
    return ApplicationView(
        id=app.id,
        document_no=app.document_no,
        kind=ApplicationKind(app.kind),
        status=ApplicationStatus(app.status),
        amount_fen=app.amount_fen,
        channel=Channel(app.channel),
        created_at=as_utc(app.created_at),
        updated_at=as_utc(app.updated_at) if app.updated_at is not None else None,
        payment_year=app.payment_year,
        period_start=app.period_start,
        period_end=app.period_end,
        region_code=app.region_code,
        batch_id=app.batch_id,
        payment_id=app.pension_payment_id or app.medical_payment_id,
        line_id=app.unit_line_id,
        bank_account_masked=mask_account(app.bank_account_no) if app.bank_account_no else None,
        bank_account_type=app.bank_account_type,
        bank_category=app.bank_category,
        contact_name=app.contact_name,
        contact_phone_masked=(
            identity.mask_phone(app.contact_phone) if app.contact_phone else None
        ),
        tax_opinion=app.review_opinion,
        reviewed_at=as_utc(app.reviewed_at) if app.reviewed_at is not None else None,
        verification_result=app.verification_result,
        verified_at=as_utc(app.verified_at) if app.verified_at is not None else None,
        refund_date=app.refund_date,
        bank_result=app.bank_result,
        reason_code=app.reason_code,
        reason_text=app.reason_text,
        handler_phone_masked=(
            identity.mask_phone(app.handler_phone) if app.handler_phone else None
        ),
        reason_label=notices.reason_label(
            app.status,
            review_opinion=app.review_opinion,
            agency_message=app.agency_message,
            bank_result=app.bank_result,
        ),
        deposit_account_id=app.deposit_account_id,
        heir_claim_id=app.heir_claim_id,
        correction_fields=tuple(
            f for f in CorrectionField if f.value in (app.correction_fields or "").split(",")
        ),
    )


def event(
    ev: ApplicationEvent, *, kind: ApplicationKind, audience: Audience = "owner"
) -> EventView:
    return EventView(
        kind=kind,
        at=as_utc(ev.at),
        actor_kind=ev.actor_kind,
        actor_id=ev.actor_id,
        from_status=ApplicationStatus(ev.from_status) if ev.from_status else None,
        to_status=ApplicationStatus(ev.to_status),
        reason=ev.reason,
        audience=audience,
    )


@dataclass(frozen=True, slots=True)
class Payer:
    """缴费人 as the person's own answers show it: name and masked ID number."""

    name: str
    id_number_masked: str
