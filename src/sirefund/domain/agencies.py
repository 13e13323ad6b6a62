"""The agencies an approved application is handed to, what we ask each of them, what they
answer, and their names on screen — kept here and nowhere else.

These are domain concepts, not wire details: the settlement rules (services/settlement.py),
the dispatch monitor, the callback route and the HTTP adapters (agencies/) all speak of
them, and the web layer may not import the adapters. So the result an agency reports
(`AgencyResult`, parsed from a JSON object) lives here too; parsing a dict is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .labelled import LabelledEnum
from .workflow import ApplicationKind as K
from .workflow import ApplicationStatus as S

REASON_MAX_CHARS = 200


class Agency(LabelledEnum):
    HRSS = "hrss", "人社"
    MEDICAL_SECURITY = "medical_security", "医保"
    BANK = "bank", "银行"


class Operation(LabelledEnum):
    """What a request asks its agency to do."""

    REFUND_REQUEST = "refund_request", "退费申请"
    VERIFY_REQUEST = "verify_request", "核验申请"
    PAYOUT_REQUEST = "payout_request", "退付指令"


OPERATIONS = {
    Agency.HRSS: Operation.REFUND_REQUEST,
    Agency.MEDICAL_SECURITY: Operation.VERIFY_REQUEST,
    Agency.BANK: Operation.PAYOUT_REQUEST,
}

# Which agency receives an approved application first; the bank always comes second.
FIRST_AGENCY = {
    K.PENSION: Agency.HRSS,
    K.UNIT_PENSION: Agency.HRSS,
    K.MEDICAL: Agency.MEDICAL_SECURITY,
}

# The status an application waits in for each agency's result. A result arriving in any
# other status is a duplicate or a late one.
AWAITING = {Agency.HRSS: S.APPROVED, Agency.MEDICAL_SECURITY: S.APPROVED, Agency.BANK: S.AT_AGENCY}

RECEIVED = "received"
"""Booked but not decided yet: every agency may answer this first."""

# Statuses each agency reports; all but RECEIVED are decisions.
STATUSES = {
    Agency.HRSS: (RECEIVED, "accepted", "rejected"),
    Agency.MEDICAL_SECURITY: (RECEIVED, "passed", "failed"),
    Agency.BANK: (RECEIVED, "paid", "failed"),
}
FINAL_STATUSES = {agency: frozenset(s) - {RECEIVED} for agency, s in STATUSES.items()}
# The decision that moves the application forward (the other final one sends it back).
POSITIVE = {Agency.HRSS: "accepted", Agency.MEDICAL_SECURITY: "passed", Agency.BANK: "paid"}


@dataclass(frozen=True)
class AgencyResult:
    """What an agency says about one request id (an answer, a callback or a poll)."""

    request_id: str
    status: str
    booking_id: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    paid_on: date | None = None

    @classmethod
    def from_wire(cls, data: object) -> AgencyResult:
        """Parse an answer or a callback body; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not an object")  # noqa: TRY004 - callers catch ValueError for any bad body
        fields: dict[str, Any] = data
        request_id, status = fields.get("request_id"), fields.get("status")
        if not isinstance(request_id, str) or not request_id or not isinstance(status, str):
            raise ValueError("request_id and status are required")
        decided_at, paid_on, reason = (
            fields.get("decided_at"),
            fields.get("paid_on"),
            fields.get("reason"),
        )
        booking_id = fields.get("booking_id")
        return cls(
            request_id=request_id,
            status=status,
            booking_id=str(booking_id) if booking_id is not None else None,
            reason=str(reason)[:REASON_MAX_CHARS] if reason is not None else None,
            decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
            paid_on=date.fromisoformat(paid_on) if paid_on else None,
        )
