"""The one place where typed read models become text: yuan strings, ISO instants, the
manual's labels. The API's response models and the pages' templates both start from here,
so a screen and the JSON never disagree about how an application reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from ..clock import CHINA_TZ, as_utc
from ..domain import workflow
from ..domain.agencies import Agency
from ..domain.money import format_yuan
from ..domain.rules import BANK_CATEGORIES, MEDICAL_REFUND_REASONS
from ..services.paging import Page
from ..services.views import ACTOR_LABELS, ApplicationView, EventView

T = TypeVar("T")

AGENCY_LABELS = {a.value: a.label for a in Agency}


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601: an instant in UTC with its offset, a day as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value.isoformat()


def reason(code: str | None, text: str | None) -> str | None:
    """退费原因 as shown: the medical reason's label and the applicant's words."""
    if not code:
        return text
    label = MEDICAL_REFUND_REASONS.get(code, code)
    return f"{label}：{text}" if text else label


def application(view: ApplicationView) -> dict[str, Any]:
    """The contract's application fields (api.md) of a typed view."""
    lab = workflow.labels(view.status, view.kind)
    return {
        "id": view.id,
        "document_no": view.document_no,
        "kind": view.kind.value,
        "status": view.status.value,
        "refund_status_label": lab.refund_status,
        "review_status_label": lab.review_status,
        "review_result_label": lab.review_result,
        "amount": format_yuan(view.amount_fen),
        "channel": view.channel.value,
        "channel_label": view.channel.label,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "payment_year": view.payment_year,
        "period_start": iso(view.period_start),
        "period_end": iso(view.period_end),
        "region_code": view.region_code,
        "batch_id": view.batch_id,
        "payment_id": view.payment_id,
        "line_id": view.line_id,
        "bank_account_masked": view.bank_account_masked,
        "bank_account_type": view.bank_account_type,
        "bank_category": view.bank_category,
        "bank_category_label": BANK_CATEGORIES.get(view.bank_category or ""),
        "contact_name": view.contact_name,
        "contact_phone_masked": view.contact_phone_masked,
        "tax_opinion": view.tax_opinion,
        "reviewed_at": iso(view.reviewed_at),
        "hrss_status_label": workflow.hrss_status_label(view.status),
        "tax_review_result_label": workflow.tax_review_result_label(view.status),
        "verification_result": view.verification_result,
        "verified_at": iso(view.verified_at),
        "refund_date": iso(view.refund_date),
        "bank_result": view.bank_result,
        "reason_code": view.reason_code,
        "reason": reason(view.reason_code, view.reason_text),
        "handler_phone_masked": view.handler_phone_masked,
        "reason_label": view.reason_label,
        **correction(view),
    }


def correction(view: ApplicationView) -> dict[str, Any]:
    """退回补正: the fields the officer asked to fix (codes and labels) and, while the
    application waits for them, the last moment to correct it (else it lapses)."""
    returned = view.status == workflow.ApplicationStatus.RETURNED
    due = (
        view.updated_at + timedelta(days=workflow.CORRECTION_DAYS)
        if returned and view.updated_at is not None
        else None
    )
    return {
        "deposit_account_id": view.deposit_account_id,
        "correction_fields": [f.value for f in view.correction_fields],
        "correction_field_labels": [f.label for f in view.correction_fields],
        "correction_due": iso(due),
        "correction_due_local": (
            due.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if due is not None else None
        ),
    }


def event(view: EventView) -> dict[str, Any]:
    """One history line: who (税务人员 with their code for officers), when, from, to, why."""
    actor = ACTOR_LABELS.get(view.actor_kind, "系统")
    if view.actor_kind == "agency" and view.actor_id in AGENCY_LABELS:
        actor = AGENCY_LABELS[view.actor_id]  # 人社 / 医保 / 银行, never its code
    elif view.audience == "officer" and view.actor_kind == "officer" and view.actor_id:
        # An officer's code is what colleagues know them by; a payer's row id means nothing.
        actor = f"{actor} {view.actor_id}"
    return {
        "at": iso(view.at),
        "actor_kind": view.actor_kind,
        "actor": actor,
        "from_status": view.from_status.value if view.from_status else None,
        "to_status": view.to_status.value,
        # The same labels as the application's own refund_status_label (one table, by kind).
        "from_label": (
            workflow.labels(view.from_status, view.kind).refund_status if view.from_status else None
        ),
        "to_label": workflow.labels(view.to_status, view.kind).refund_status,
        "reason": view.reason,
    }


def page(found: Page[T], present: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page the service counted (services.paging.Page) as the contract's list page
    (``{"items", "total", "page", "page_size"}``, api.md), each item presented."""
    return {
        "items": [present(item) for item in found.items],
        "total": found.total,
        "page": found.page,
        "page_size": found.page_size,
    }
