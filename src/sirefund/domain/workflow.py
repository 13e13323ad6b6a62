"""The application life cycle: one state machine for every kind of refund.

The workflow is data (TRANSITIONS), and one function (`advance`) decides whether a move is
allowed. The manual shows three columns for each state (退费状态 / 审核状态 / 审核结果); they
are labels of the state, kept here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import Conflict
from .labelled import LabelledEnum


class ApplicationStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    APPROVED = "approved"
    AT_AGENCY = "at_agency"
    AGENCY_REJECTED = "agency_rejected"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    RETURNED = "returned"
    LAPSED = "lapsed"


S = ApplicationStatus


class ApplicationKind(StrEnum):
    PENSION = "pension"
    UNIT_PENSION = "unit_pension"
    MEDICAL = "medical"


class Channel(LabelledEnum):
    WEB = "web", "电子税务局"
    MOBILE_APP = "mobile_app", "楚税通"
    OFFICER = "officer", "税务端"


# Agency results only move an application forward; terminal states have no way out. The ways
# back are the applicant's: after 退付失败 a corrected account re-issues the bank step
# (refund_failed -> at_agency, services/reissue.py; HRSS is never asked again), and after an
# officer's 退回补正 the corrected application is resubmitted (returned -> pending_review,
# services/corrections.py) unless it lapses first (15 days, returned -> lapsed).
TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    S.PENDING_REVIEW: frozenset({S.CANCELLED, S.REJECTED, S.APPROVED, S.RETURNED}),
    S.RETURNED: frozenset({S.PENDING_REVIEW, S.CANCELLED, S.LAPSED}),
    S.LAPSED: frozenset(),
    S.APPROVED: frozenset({S.AT_AGENCY, S.AGENCY_REJECTED}),
    # HRSS may acknowledge and pay in one answer, so at_agency is skippable in the callbacks,
    # but the bank's result always comes after the agency accepted.
    S.AT_AGENCY: frozenset({S.AGENCY_REJECTED, S.REFUNDED, S.REFUND_FAILED}),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.AGENCY_REJECTED: frozenset(),
    S.REFUNDED: frozenset(),
    S.REFUND_FAILED: frozenset({S.AT_AGENCY}),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# A payment (or unit person line) may have at most one application in these states. The
# database enforces it with partial unique indexes built from this same tuple. A failed
# payout stays open: it waits for a corrected account on the same case (domain.md); so does
# a case returned for correction (待补正), until it is corrected, cancelled or lapses.
ACTIVE = (S.PENDING_REVIEW, S.APPROVED, S.AT_AGENCY, S.REFUNDED, S.REFUND_FAILED, S.RETURNED)

# The applicant may cancel (撤销退费) only while nobody has decided: 待审核 or 待补正.
CANCELLABLE = frozenset({S.PENDING_REVIEW, S.RETURNED})

# 退回补正: an application left uncorrected this many days after its return lapses.
CORRECTION_DAYS = 15


class CorrectionField(LabelledEnum):
    """What an officer may ask the applicant to fix (domain.md "退回补正")."""

    BANK_ACCOUNT = "bank_account", "银行账户信息"
    CONTACT = "contact", "联系人信息"
    REASON = "reason", "退费理由"
    DEPOSIT_ACCOUNT = "deposit_account", "存款账户"


def correction_fields_for(kind: ApplicationKind | str) -> tuple[CorrectionField, ...]:
    """The fields an application of ``kind`` has, so the ones an officer may return it for:
    pension and unit refunds carry a bank account and a contact; a medical refund a deposit
    account (存款账户账号报告), the 办理人电话 and the 退费理由."""
    if ApplicationKind(kind) == ApplicationKind.MEDICAL:
        return (CorrectionField.DEPOSIT_ACCOUNT, CorrectionField.CONTACT, CorrectionField.REASON)
    return (CorrectionField.BANK_ACCOUNT, CorrectionField.CONTACT)


def is_cancellable(status: ApplicationStatus | str) -> bool:
    return ApplicationStatus(status) in CANCELLABLE


class InvalidTransition(Conflict):
    def __init__(
        self,
        current: ApplicationStatus,
        target: ApplicationStatus,
        kind: ApplicationKind | str | None = None,
    ) -> None:
        super().__init__(
            "application.invalid_transition",
            f"当前状态（{labels(current, kind).refund_status}）不允许此操作",
        )
        self.current = current
        self.target = target


def advance(
    current: ApplicationStatus,
    target: ApplicationStatus,
    kind: ApplicationKind | str | None = None,
) -> ApplicationStatus:
    """Return `target` if the machine allows current -> target, else raise InvalidTransition
    (whose message names the state with ``kind``'s label)."""
    current, target = ApplicationStatus(current), ApplicationStatus(target)
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target, kind)
    return target


def is_active(status: ApplicationStatus | str) -> bool:
    return ApplicationStatus(status) in ACTIVE


@dataclass(frozen=True)
class Labels:
    refund_status: str  # 退费状态
    review_status: str  # 审核状态
    review_result: str  # 审核结果


# The one table of labels: every screen, API ``*_label`` field, history line and notice of an
# application reads its state through labels() below, with the application's kind.
_LABELS = {
    # The manual shows 人社退费中 right after submitting; we show 已申请 until an officer
    # approves, because nothing reaches HRSS before that (domain.md).
    S.PENDING_REVIEW: Labels("已申请", "待审核", "未知"),
    # The application itself (its row, its history) says 已撤销; its payment is 未申请 again
    # (payment_labels), as the manual says after 撤销退费 (domain.md).
    S.CANCELLED: Labels("已撤销", "—", "—"),
    S.REJECTED: Labels("税务退回", "审核完成", "未通过"),
    S.APPROVED: Labels("人社退费中", "审核完成", "通过"),
    S.AT_AGENCY: Labels("人社退费中", "审核完成", "通过"),
    S.AGENCY_REJECTED: Labels("人社退回", "审核完成", "通过"),
    S.REFUNDED: Labels("退费成功", "审核完成", "通过"),
    S.REFUND_FAILED: Labels("退付失败", "审核完成", "通过"),
    S.RETURNED: Labels("待补正", "退回补正", "未知"),
    S.LAPSED: Labels("未申请", "退回补正", "逾期未补正"),
}

# Medical refunds are verified by the medical security bureau, not HRSS.
_MEDICAL_OVERRIDES = {
    S.APPROVED: "医保核验中",
    S.AT_AGENCY: "医保核验中",
    S.AGENCY_REJECTED: "核验不通过",
}

NOT_APPLIED = Labels("未申请", "—", "—")


def labels(
    status: ApplicationStatus | str | None, kind: ApplicationKind | str | None = None
) -> Labels:
    """The three labels the manual shows for a state; `None` (never applied) is 未申请."""
    if status is None:
        return NOT_APPLIED
    status = ApplicationStatus(status)
    base = _LABELS[status]
    if kind == ApplicationKind.MEDICAL and status in _MEDICAL_OVERRIDES:
        return Labels(_MEDICAL_OVERRIDES[status], base.review_status, base.review_result)
    return base


def payment_labels(
    status: ApplicationStatus | str | None, kind: ApplicationKind | str | None = None
) -> Labels:
    """The three columns of a payment (or a unit's person line) whose latest application is
    in ``status``: that application's labels, except that a cancelled one leaves the payment
    未申请 (撤销成功，退费状态更新为未申请)."""
    if status is None or ApplicationStatus(status) == S.CANCELLED:
        return NOT_APPLIED
    return labels(status, kind)


#: The two columns of the unit progress table for each state: 人社处理状态 and 税务审核结果
#: (通过 / 不通过 / -- while pending).
_UNIT_PROGRESS = {
    S.PENDING_REVIEW: ("未申请", "--"),
    S.CANCELLED: ("未申请", "--"),
    S.REJECTED: ("未申请", "不通过"),
    S.APPROVED: ("处理中", "通过"),
    S.AT_AGENCY: ("处理中", "通过"),
    S.AGENCY_REJECTED: ("退回", "通过"),
    S.REFUNDED: ("已退费", "通过"),
    # Not an end any more: the case waits for the unit's corrected account.
    S.REFUND_FAILED: ("退付失败", "通过"),
    S.RETURNED: ("未申请", "退回补正"),
    S.LAPSED: ("未申请", "--"),
}


def hrss_status_label(status: ApplicationStatus | str) -> str:
    """人社处理状态 on the unit progress table."""
    return _UNIT_PROGRESS[ApplicationStatus(status)][0]


def tax_review_result_label(status: ApplicationStatus | str) -> str:
    """税务审核结果 on the unit progress table."""
    return _UNIT_PROGRESS[ApplicationStatus(status)][1]
