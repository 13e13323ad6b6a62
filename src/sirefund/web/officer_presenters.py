"""The officer console's read models as text: the contract's dicts (api.md) that the JSON API
answers and the console's templates show, so both read the same. Application and history
lines come from ``presenters``; this adds the queue, the detail and the 发起退费 lookup.
"""

from __future__ import annotations

import re
from typing import Any

from ..domain import workflow
from ..domain.agencies import Agency
from ..domain.money import format_yuan
from ..domain.rules import (
    BANK_ACCOUNT_TYPE_LABELS,
    BANK_CATEGORIES,
    BankAccountType,
)
from ..domain.workflow import ApplicationKind
from ..services.officer_refunds import Candidate, Candidates
from ..services.paging import Page
from ..services.pension import PaymentView
from ..services.review_decisions import BatchOutcome
from ..services.review_detail import (
    ApplicationAccountView,
    DepositAccountView,
    MedicalPaymentView,
    OfficerBrief,
    ReviewDetail,
    UnitLineView,
)
from ..services.review_queue import QueueItem, ReviewClock
from ..services.views import ApplicationView
from . import medical_presenters, presenters
from .refund_presenters import pension_payment, unit_payment_columns

KIND_LABELS = {
    ApplicationKind.PENSION: "城乡居民养老保险（个人）",
    ApplicationKind.UNIT_PENSION: "城乡居民养老保险（村组）",
    ApplicationKind.MEDICAL: "城乡居民医疗保险",
}
REVEAL_FIELD_LABELS = {"id_number": "证件号码", "bank_account_no": "银行账号"}

# ------------------------------------------------------------------ agency errors in words
# The adapters record what went wrong for the logs and the retry logic (``hrss HTTP 422
# agency.request_refused``, ``bank 无法连接（ConnectError）``); an officer reads it in words.
_AGENCY_CODES = "|".join(re.escape(a.value) for a in Agency)
_AGENCY_HTTP = re.compile(rf"\b({_AGENCY_CODES}) HTTP (\d{{3}})(?: ([A-Za-z0-9_.]+))?")
_AGENCY_NAME = re.compile(rf"\b({_AGENCY_CODES})\b")
_TECH_NOTE = re.compile(r"（[A-Za-z_.]+）")
AGENCY_ERROR_CODE_WORDS = {
    "agency.request_refused": "拒绝受理该请求",
    "agency.unavailable": "系统暂停服务",
    "agency.unknown": "查无此请求",
}
_BAD_REQUEST, _CONFLICT, _TOO_MANY, _SERVER_ERROR = 400, 409, 429, 500
_STATUS_WORDS = {
    401: "身份验证未通过（请检查对接密钥配置）",
    403: "身份验证未通过（请检查对接密钥配置）",
    404: "查无此请求",
    _CONFLICT: "认为该请求重复",
    422: "拒绝受理该请求",
    _TOO_MANY: "请求过于频繁，稍后重试",
}


def _status_words(status: int) -> str:
    if status >= _SERVER_ERROR:
        return "系统故障，稍后重试"
    return _STATUS_WORDS.get(status, "未受理该请求（请求格式有误）")


def agency_error_words(text: str | None) -> str | None:
    """An outbox error or attempt note as an officer reads it: ``hrss HTTP 422
    agency.request_refused`` -> ``人社拒绝受理该请求``; ``bank 无法连接（ConnectError）`` ->
    ``银行无法连接``. Words already Chinese pass through; no code or HTTP status is left."""
    if not text:
        return text

    def http(match: re.Match[str]) -> str:
        label = Agency(match.group(1)).label
        code = match.group(3)
        words = AGENCY_ERROR_CODE_WORDS.get(code or "") or _status_words(int(match.group(2)))
        return f"{label}{words}"

    out = _AGENCY_HTTP.sub(http, text)
    out = _AGENCY_NAME.sub(lambda m: Agency(m.group(1)).label, out)
    out = _TECH_NOTE.sub("", out)
    return re.sub(r"(人社|医保|银行) ", r"\1", out)


def _clock(clock: ReviewClock) -> dict[str, Any]:
    return {
        "submitted_on": clock.submitted_on.isoformat(),
        "working_days_pending": clock.working_days_pending,
        "statutory_working_days": clock.statutory_working_days,
        "working_days_left": clock.working_days_left,
        "review_deadline": clock.review_deadline.isoformat(),
        "overdue": clock.overdue,
    }


def application(view: ApplicationView) -> dict[str, Any]:
    """An application with its 类型 as the console names it."""
    return {**presenters.application(view), "kind_label": KIND_LABELS[view.kind]}


def queue_item(item: QueueItem) -> dict[str, Any]:
    return {
        **application(item.application),
        "region_name": item.region_name,
        "payer_name": item.payer_name,
        "payer_id_number_masked": item.payer_id_number_masked,
        "initiated_by_officer_code": item.initiated_by_officer_code,
        "reviewed_by_officer_code": item.reviewed_by_officer_code,
        **_clock(item.clock),
        "risk_flags": [{"code": f.code, "label": f.label} for f in item.risk_flags],
        "heir_claim_id": item.application.heir_claim_id,
    }


def queue_page(page: Page[QueueItem]) -> dict[str, Any]:
    """The queue's page, with ``total_exact`` (false: ``total`` rows or more were counted)."""
    return {**presenters.page(page, queue_item), "total_exact": page.total_exact}


def _officer(brief: OfficerBrief | None) -> dict[str, Any] | None:
    return None if brief is None else {"id": brief.id, "code": brief.code, "name": brief.name}


def _payment(
    kind: ApplicationKind, pay: PaymentView | UnitLineView | MedicalPaymentView
) -> dict[str, Any]:
    if isinstance(pay, PaymentView):
        return {"kind": kind.value, **pension_payment(pay)}
    if isinstance(pay, UnitLineView):
        return {
            "kind": kind.value,
            "line_id": pay.line_id,
            "ss_no": pay.ss_no,
            "amount": format_yuan(pay.amount_fen),
            "batch_id": pay.batch_id,
            "payment_month": pay.payment_month,
            "unit_payment": unit_payment_columns(pay.unit_payment),
        }
    reg = pay.registration
    return {
        "kind": kind.value,
        **medical_presenters.payment_columns(pay),
        "amount": format_yuan(pay.refund_amount_fen),
        "channel": pay.channel,
        "registration": {
            "registration_id": reg.registration_id,
            "agency_name": reg.agency_name,
            "agency_code": reg.agency_code,
            "ss_code": reg.ss_code,
        },
    }


def _bank_account(
    account: DepositAccountView | ApplicationAccountView | None,
) -> dict[str, Any] | None:
    if account is None:
        return None
    category_label = BANK_CATEGORIES.get(account.bank_category or "")
    if isinstance(account, DepositAccountView):
        return {
            "source": "deposit_account",
            "account_no_masked": account.account_no_masked,
            "account_name": account.account_name,
            "bank_branch": account.bank_branch,
            "bank_category": account.bank_category,
            "bank_category_label": category_label,
            "handler_phone_masked": account.handler_phone_masked,
            "changed_after_submission": account.changed_after_submission,
            "current_no_masked": account.current_no_masked,
            "current_deleted": account.current_deleted,
        }
    known = {t.value: t for t in BankAccountType}
    account_type = known.get(account.account_type or "")
    return {
        "source": "application",
        "account_no_masked": account.account_no_masked,
        "account_type": account.account_type,
        "account_type_label": BANK_ACCOUNT_TYPE_LABELS[account_type] if account_type else None,
        "account_name": account.account_name,
        "bank_category": account.bank_category,
        "bank_category_label": category_label,
        "contact_name": account.contact_name,
        "contact_phone_masked": account.contact_phone_masked,
    }


def _heir_claim(d: ReviewDetail) -> dict[str, Any] | None:
    """继承人代办's evidence: the applicant (payer above) is the heir of this deceased."""
    claim = d.heir_claim
    if claim is None:
        return None
    return {
        "id": claim.id,
        "status": claim.status.value,
        "status_label": claim.status_label,
        "relationship": claim.relationship.value,
        "relationship_label": claim.relationship_label,
        "deceased_name": claim.deceased_name,
        "deceased_id_number_masked": claim.deceased_id_number_for_officer,
        "death_date": claim.death_date.isoformat(),
        "confirmation_result": claim.confirmation_result,
        "confirmed_at": claim.confirmed_at.isoformat() if claim.confirmed_at else None,
    }


def detail(d: ReviewDetail) -> dict[str, Any]:
    payer = d.payer
    return {
        "application": {
            **application(d.application),
            "region_name": d.region_name,
            "initiated_by": _officer(d.initiated_by),
            "reviewed_by": _officer(d.reviewed_by),
            **_clock(d.clock),
            # 风险提示: which rule, and what it found (approval needs confirm_risk).
            "risk_flags": [
                {"code": f.code, "label": f.label, "detail": f.detail} for f in d.risk_flags
            ],
        },
        "payer": {
            "person_id": payer.person_id,
            "name": payer.name,
            "id_number_masked": payer.id_number_masked,
            "region_code": payer.region_code,
            "region_name": payer.region_name,
            "phone_masked": payer.phone_masked,
        },
        "payment": _payment(d.application.kind, d.payment),
        "bank_account": _bank_account(d.bank_account),
        "heir_claim": _heir_claim(d),
        "other_applications": [application(o) for o in d.other_applications],
        "history": [presenters.event(ev) for ev in d.history],
        "actions": {
            "can_approve": d.actions.can_approve,
            "can_reject": d.actions.can_reject,
            "can_reveal": d.actions.can_reveal,
            "four_eyes_blocked": d.actions.four_eyes_blocked,
        },
    }


def batch_outcome(outcome: BatchOutcome) -> dict[str, Any]:
    error = None
    if outcome.error_code is not None:
        error = {"code": outcome.error_code, "message": outcome.error_message}
    return {
        "id": outcome.id,
        "ok": outcome.ok,
        "status": outcome.status.value if outcome.status is not None else None,
        "error": error,
    }


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        **pension_payment(c.payment),
        "application_id": c.application_id,
        "refund_status_label": workflow.payment_labels(
            c.application_status, ApplicationKind.PENSION
        ).refund_status,
        "can_initiate": c.can_initiate,
        "blocked_reason": c.blocked_reason,
    }


def candidates(found: Candidates) -> dict[str, Any]:
    return {
        "payer": {
            "name": found.payer.name,
            "id_number_masked": found.payer.id_number_masked,
            "region_name": found.payer.region_name,
        },
        "payments": [_candidate(c) for c in found.payments],
    }
