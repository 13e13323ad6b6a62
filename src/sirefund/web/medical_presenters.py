"""Medical refunds and deposit accounts as text: the API's JSON and the pages' progress rows
start from here, so both read the same (yuan strings, ISO dates, China time, labels)."""

from __future__ import annotations

from typing import Any

from ..clock import CHINA_TZ, as_utc
from ..domain.money import format_yuan
from ..services import review_detail
from ..services.medical import MedicalApplication, PaymentRow
from . import presenters
from .presenters import iso

#: 退费申请日期 as the manual prints it: ``2023-10-17 00:00:00``, China time.
LOCAL_DATETIME = "%Y-%m-%d %H:%M:%S"


def payment_columns(pay: PaymentRow | review_detail.MedicalPaymentView) -> dict[str, Any]:
    """A medical payment's own columns as every screen shows them (the person's, the
    officer's); 退费金额 is the caller's, which names it differently."""
    return {
        "payment_id": pay.payment_id,
        "ticket_no": pay.ticket_no,
        "item_name": pay.item_name,
        "medical_amount": format_yuan(pay.medical_amount_fen),
        "ltc_amount": format_yuan(pay.ltc_amount_fen),
        "period_start": iso(pay.period_start),
        "period_end": iso(pay.period_end),
        "payment_date": iso(pay.payment_date),
        "insurance_year": pay.insurance_year,
    }


def payment(row: PaymentRow) -> dict[str, Any]:
    """One row of 城乡居民医疗社保费(退费) (api.md MedicalPayment)."""
    labels = row.labels
    return {
        **payment_columns(row),
        "registration_id": row.registration_id,
        "refund_amount": format_yuan(row.refund_amount_fen),
        "refundable": row.refundable,
        "not_refundable_reason": row.not_refundable_reason,
        "application_id": row.application_id,
        "status": row.status.value if row.status else None,
        "refund_status_label": labels.refund_status,
        "review_status_label": labels.review_status,
        "review_result_label": labels.review_result,
    }


def application(view: MedicalApplication) -> dict[str, Any]:
    """The contract's application view plus every column of 城乡居民医保社保费退费进度."""
    out = presenters.application(view.application)
    app = view.application
    out.update(
        insurance_year=app.payment_year,
        refund_amount=out["amount"],
        medical_amount=format_yuan(view.medical_amount_fen),
        ltc_amount=format_yuan(view.ltc_amount_fen),
        ticket_no=view.ticket_no,
        item_name=view.item_name,
        payment_date=view.payment_date.isoformat(),
        registration_id=view.registration_id,
        agency_name=view.agency_name,
        deposit_account_id=view.deposit_account_id,
        applied_at=out["created_at"],
        applied_at_local=as_utc(app.created_at).astimezone(CHINA_TZ).strftime(LOCAL_DATETIME),
        reason_text=app.reason_text,
        cancellable=view.cancellable,
        reapplicable=view.reapplicable,
    )
    return out


def application_detail(view: MedicalApplication) -> dict[str, Any]:
    """:func:`application` with the state changes (history)."""
    return {**application(view), "history": [presenters.event(ev) for ev in view.history]}
