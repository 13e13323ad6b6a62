"""Read models: what an application looks like outside. Masking happens here, on the server,
via domain.identity — never in a template or in JavaScript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import as_utc
from ..domain import identity, workflow
from ..domain.money import format_yuan
from ..domain.rules import BANK_CATEGORIES, MEDICAL_REFUND_REASONS
from ..models import Application, ApplicationEvent


def iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def application_view(app: Application, *, audience: str = "owner") -> dict[str, Any]:
    """The contract's application fields plus the kind's extras.

    audience "owner" masks as domain.md says for citizens; "officer" shows the longer
    officer masks (first six, last four). Full values only through an audited reveal.
    """
    lab = workflow.labels(app.status, app.kind)
    officer = audience == "officer"
    mask_account = identity.mask_account_for_officer if officer else identity.mask_account
    view: dict[str, Any] = {
        "id": app.id,
        "kind": app.kind,
        "status": app.status,
        "refund_status_label": lab.refund_status,
        "review_status_label": lab.review_status,
        "review_result_label": lab.review_result,
        "amount": format_yuan(app.amount_fen),
        "channel": app.channel,
        "channel_label": workflow.CHANNEL_LABELS.get(workflow.Channel(app.channel), app.channel),
        "created_at": iso(app.created_at),
        "updated_at": iso(app.updated_at),
        "payment_year": app.payment_year,
        "period_start": app.period_start.isoformat(),
        "period_end": app.period_end.isoformat(),
        "region_code": app.region_code,
        "batch_id": app.batch_id,
        "payment_id": app.pension_payment_id or app.medical_payment_id,
        "line_id": app.unit_line_id,
        "bank_account_masked": mask_account(app.bank_account_no) if app.bank_account_no else None,
        "bank_account_type": app.bank_account_type,
        "bank_category": app.bank_category,
        "bank_category_label": BANK_CATEGORIES.get(app.bank_category or "", None),
        "contact_name": app.contact_name,
        "contact_phone_masked": identity.mask_phone(app.contact_phone)
        if app.contact_phone
        else None,
        "tax_opinion": app.review_opinion,
        "reviewed_at": iso(app.reviewed_at),
        "hrss_status_label": workflow.hrss_status_label(app.status),
        "tax_review_result_label": workflow.tax_review_result_label(app.status),
        "verification_result": app.verification_result,
        "verified_at": iso(app.verified_at),
        "refund_date": app.refund_date.isoformat() if app.refund_date else None,
        "bank_result": app.bank_result,
        "reason_code": app.reason_code,
        "reason": _reason(app),
        "handler_phone_masked": identity.mask_phone(app.handler_phone)
        if app.handler_phone
        else None,
    }
    return view


def _reason(app: Application) -> str | None:
    if not app.reason_code:
        return app.reason_text
    label = MEDICAL_REFUND_REASONS.get(app.reason_code, app.reason_code)
    return f"{label}：{app.reason_text}" if app.reason_text else label


def event_view(ev: ApplicationEvent, *, audience: str = "owner") -> dict[str, Any]:
    def label(status: str | None) -> str | None:
        return workflow.labels(status).refund_status if status else None

    actor = {
        "person": "缴费人",
        "unit": "村组（单位）",
        "officer": "税务人员",
        "agency": "外部机构",
        "system": "系统",
    }.get(ev.actor_kind, ev.actor_kind)
    return {
        "at": iso(ev.at),
        "actor_kind": ev.actor_kind,
        "actor": actor if audience != "officer" else f"{actor} {ev.actor_id or ''}".strip(),
        "from_status": ev.from_status,
        "to_status": ev.to_status,
        "from_label": label(ev.from_status),
        "to_label": label(ev.to_status),
        "reason": ev.reason,
    }
