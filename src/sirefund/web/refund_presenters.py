"""The pension refunds' read models (services/pension.py, services/units.py) as text: the
contract's JSON fields (api.md "Pension, person" and "Pension, unit") with yuan strings, ISO
dates and the manual's labels. The API returns these dicts and the pages render them, so a
screen and the JSON never disagree.
"""

from __future__ import annotations

from typing import Any

from ..domain import workflow
from ..domain.money import format_yuan
from ..domain.rules import ARRIVAL_LABELS, UNIT_PAYMENT_TYPE_LABELS
from ..domain.workflow import ApplicationKind
from ..services.pension import PaymentLine, PaymentView, Refund, RefundDetail
from ..services.units import PersonLine, RefundPerson, SavedBatch, UnitPaymentView, UnitRefund
from . import presenters
from .presenters import iso

# --------------------------------------------------------------------------- person


def pension_payment(view: PaymentView) -> dict[str, Any]:
    """The payment's own columns as every screen shows them (the person's, the officer's)."""
    return {
        "payment_id": view.payment_id,
        "amount": format_yuan(view.amount_fen),
        "period_start": iso(view.period_start),
        "period_end": iso(view.period_end),
        "payment_year": view.payment_year,
        "payment_date": iso(view.payment_date),
        "channel": view.channel,
        "arrival_status": view.arrival_status.value,
        "arrival_status_label": ARRIVAL_LABELS[view.arrival_status],
    }


def pension_line(line: PaymentLine) -> dict[str, Any]:
    """One line of 退费信息查询."""
    status = line.application_status
    lab = workflow.payment_labels(status, ApplicationKind.PENSION)
    return {
        **pension_payment(line.payment),
        "refundable": line.refundable,
        "not_refundable_reason": line.not_refundable_reason,
        "application_id": line.application_id,
        "application_status": status.value if status else None,
        "cancellable": line.cancellable,
        "refund_status_label": lab.refund_status,
        "review_status_label": lab.review_status,
        "review_result_label": lab.review_result,
        "payer_name": line.payer_name,
        "id_number_masked": line.id_number_masked,
    }


def pension_refund(refund: Refund) -> dict[str, Any]:
    """One row of 退费进度查询: the application, its payment's 缴费渠道 and 到账状态."""
    return {
        **presenters.application(refund.application),
        "payment_channel": refund.payment_channel,
        "arrival_status": refund.arrival_status.value,
        "arrival_status_label": ARRIVAL_LABELS[refund.arrival_status],
        "cancellable": refund.cancellable,
        "reapplicable": refund.reapplicable,
    }


def pension_refund_detail(detail: RefundDetail) -> dict[str, Any]:
    return {
        **pension_refund(detail.refund),
        "history": [presenters.event(ev) for ev in detail.history],
    }


# --------------------------------------------------------------------------- unit


def unit_payment_columns(
    view: UnitPaymentView,
) -> dict[str, Any]:
    """A unit payment's own columns as every screen shows them (the unit's, the officer's)."""
    return {
        "unit_payment_id": view.unit_payment_id,
        "unit_name": view.unit_name,
        "unit_tax_id": view.unit_tax_id,
        "unit_ss_no": view.unit_ss_no,
        "payment_type": view.payment_type.value,
        "payment_type_label": UNIT_PAYMENT_TYPE_LABELS[view.payment_type],
        "payment_year": view.payment_year,
        "payment_month": view.payment_month,
        "amount": format_yuan(view.amount_fen),
        "period_start": iso(view.period_start),
        "period_end": iso(view.period_end),
        "declaration_channel": view.declaration_channel,
    }


def unit_payment(view: UnitPaymentView) -> dict[str, Any]:
    """One line of 可退费查询 (实缴人数, 退费人数, 实缴金额 …)."""
    return {
        **unit_payment_columns(view),
        "paid_count": view.paid_count,
        "refund_count": view.refund_count,
        "refundable": view.refundable,
        "not_refundable_reason": view.not_refundable_reason,
    }


def _person(person: PersonLine | RefundPerson) -> dict[str, Any]:
    return {
        "line_id": person.line_id,
        "name": person.name,
        "ss_no": person.ss_no,
        "id_number": person.id_number_masked,
        "amount": format_yuan(person.amount_fen),
        "period_start": iso(person.period_start),
        "period_end": iso(person.period_end),
    }


def unit_person(line: PersonLine) -> dict[str, Any]:
    """A person of the 选择区 / 退费区 (ID number masked) and whether they can be chosen."""
    return {
        **_person(line),
        "refundable": line.refundable,
        "not_refundable_reason": line.not_refundable_reason,
        "application_id": line.application_id,
        "refund_status_label": workflow.payment_labels(
            line.application_status, ApplicationKind.UNIT_PENSION
        ).refund_status,
    }


def saved_batch(batch: SavedBatch) -> dict[str, Any]:
    """The answer to a save: ``{batch_id, amount, applications: [...]}``."""
    return {
        "batch_id": batch.batch_id,
        "amount": format_yuan(batch.amount_fen),
        "applications": [presenters.application(a) for a in batch.applications],
    }


def unit_refund(refund: UnitRefund) -> dict[str, Any]:
    """One row of 退费进度 with the manual's columns (退费人数 is 1 per application)."""
    app = refund.application
    return {
        **presenters.application(app),
        "unit_name": refund.unit_name,
        "unit_ss_no": refund.unit_ss_no,
        "unit_payment_id": refund.unit_payment_id,
        "refund_count": 1,
        "tax_review_status_label": workflow.labels(app.status, app.kind).review_status,
        "cancellable": refund.cancellable,
        "reapplicable": refund.reapplicable,
    }


def refund_person(person: RefundPerson) -> dict[str, Any]:
    """A line of the 退费人数 drill-down."""
    return _person(person)
