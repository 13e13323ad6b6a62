"""Agency results applied to applications — idempotent and forward-only.

The hand-off after tax approval (decision recorded here because both flows meet here):

    pension / unit:  approved --HRSS accepted--> at_agency --bank paid--> refunded
                              --HRSS rejected--> agency_rejected    --bank failed--> refund_failed
    medical:         approved --核验通过--------> at_agency --bank paid--> refunded
                              --核验不通过------> agency_rejected   --bank failed--> refund_failed

The bank step is a separate outbox message from us to the bank (agency "bank"), written in
the same transaction as the move to at_agency. The tax bureau orders refunds of the fees it
collected through the treasury's bank, so the payout is ours to send; and as our own message
it gets the same retries, unknown-outcome queries and dispatch monitor as every other
request, instead of depending on HRSS forwarding it.

Results arrive three ways — the answer to our request, a signed callback, a poll — often
more than once and in any order. A result only applies while the application waits for
exactly that agency (HRSS and medical security in `approved`, the bank in `at_agency`);
anything else is a duplicate or a late result and changes nothing: no error, no audit row.
The application row is locked first, so of two copies of one result arriving at once, the
second sees the first one's status.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..agencies.base import FINAL_STATUSES, AgencyResult
from ..clock import CHINA_TZ, as_utc
from ..domain.errors import Conflict, NotFound
from ..domain.workflow import ApplicationStatus as S
from ..models import OutboxMessage
from . import applications
from .applications import Actor

log = logging.getLogger(__name__)

VERIFICATION_PASSED = "核验通过"
VERIFICATION_FAILED = "核验不通过"
BANK_PAID = "退付成功"
BANK_FAILED = "退付失败"

# The status an application waits in for each agency's result.
AWAITING = {"hrss": S.APPROVED, "medical_security": S.APPROVED, "bank": S.AT_AGENCY}


def find_message(session: Session, *, agency: str, request_id: str) -> OutboxMessage:
    msg = session.execute(
        select(OutboxMessage).where(OutboxMessage.request_id == request_id)
    ).scalar_one_or_none()
    if msg is None or msg.agency != agency:
        raise NotFound("callback.unknown_request", "未找到该请求")
    return msg


def apply_result(
    session: Session,
    *,
    agency: str,
    result: AgencyResult,
    at: datetime,
    message: OutboxMessage | None = None,
) -> bool:
    """Apply what `agency` says about `result.request_id`. True if the application moved.

    NotFound if we never sent that request to that agency. A non-final status ("received")
    or a result for an application no longer waiting for this agency is a no-op.
    `message` is passed by the worker, which is recording that very message's answer.
    """
    at = as_utc(at)
    if message is None:
        msg = find_message(session, agency=agency, request_id=result.request_id)
        # Whatever it says, the agency has the request: stop resending or querying it.
        outbox.mark_delivered(session, message=msg, at=at)
    else:
        msg = message
    if result.status not in FINAL_STATUSES[agency]:
        return False
    app = applications.lock(session, msg.application_id)
    if app.status != AWAITING[agency].value:
        log.debug(
            "application %s: %s result %r ignored in status %s (duplicate or late)",
            app.id,
            agency,
            result.status,
            app.status,
        )
        return False
    target, values, reason = _plan(agency, result, at)
    try:
        applications.transition(
            session,
            application=app,
            target=target,
            actor=Actor.agency(agency),
            at=at,
            reason=reason,
            values=values,
        )
    except Conflict:
        # Moved by someone else between our read and our write: theirs was first.
        return False
    if target == S.AT_AGENCY:
        outbox.enqueue_payout(session, application=app, at=at)
    return True


def _plan(agency: str, result: AgencyResult, at: datetime) -> tuple[S, dict[str, Any], str]:
    reason = result.reason
    decided = as_utc(result.decided_at) if result.decided_at else at
    if agency == "hrss":
        if result.status == "accepted":
            return S.AT_AGENCY, {"agency_message": "人社已受理"}, "人社受理"
        text = f"人社退回：{reason}" if reason else "人社退回"
        return S.AGENCY_REJECTED, {"agency_message": text[:200]}, text
    if agency == "medical_security":
        if result.status == "passed":
            return (
                S.AT_AGENCY,
                {"verification_result": VERIFICATION_PASSED, "verified_at": decided},
                "医保核验通过",
            )
        text = f"{VERIFICATION_FAILED}：{reason}" if reason else VERIFICATION_FAILED
        return (
            S.AGENCY_REJECTED,
            {
                "verification_result": VERIFICATION_FAILED,
                "verified_at": decided,
                "agency_message": text[:200],
            },
            text,
        )
    if result.status == "paid":
        paid_on = result.paid_on or decided.astimezone(CHINA_TZ).date()
        return S.REFUNDED, {"refund_date": paid_on, "bank_result": BANK_PAID}, "银行退付成功"
    text = f"{BANK_FAILED}：{reason}" if reason else BANK_FAILED
    return S.REFUND_FAILED, {"bank_result": text[:100]}, text
