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

The worker applies answers and polls after recording the attempt (outbox.py); the callback
route reads the agency and the body through `callback_agency` / `parse_callback`, so the web
layer needs neither the outbox nor the agency adapters.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..clock import CHINA_TZ, as_utc
from ..domain.agencies import AWAITING, FINAL_STATUSES, POSITIVE, STATUSES, Agency, AgencyResult
from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.workflow import ApplicationStatus as S
from ..models import OutboxMessage
from . import applications, dispatches
from .applications import Actor

log = logging.getLogger(__name__)

VERIFICATION_PASSED = "核验通过"
VERIFICATION_FAILED = "核验不通过"
BANK_PAID = "退付成功"
BANK_FAILED = "退付失败"
# Widths of the application columns the texts go into.
AGENCY_MESSAGE_MAX_CHARS = 200
BANK_RESULT_MAX_CHARS = 100


def callback_agency(name: str) -> Agency:
    """The agency a callback URL names; NotFound for any other name."""
    try:
        return Agency(name)
    except ValueError:
        raise NotFound("callback.unknown_agency", "未知的机构") from None


def parse_callback(agency: Agency, body: bytes) -> AgencyResult:
    """A callback body (already authenticated) as a result of `agency`; Invalid if it is not
    one, or reports a status that agency never uses."""
    try:
        result = AgencyResult.from_wire(json.loads(body))
    except ValueError:
        raise Invalid("callback.malformed", "回调内容格式不正确") from None
    if result.status not in STATUSES[agency]:
        raise Invalid("callback.status", "回调状态不正确", "status")
    return result


def apply_result(
    session: Session,
    *,
    agency: Agency,
    result: AgencyResult,
    at: datetime,
    application_id: int | None = None,
) -> bool:
    """Apply what `agency` says about `result.request_id`. True if the application moved.

    From a callback or a poll (`application_id` None) the request id is looked up, and the
    message marked delivered; NotFound if we never sent that request to that agency. The
    worker, recording the answer to its own request, passes the application's id instead.
    A non-final status ("received") or a result for an application no longer waiting for
    this agency is a no-op.
    """
    at = as_utc(at)
    if application_id is None:
        msg = _message_for(session, agency=agency, request_id=result.request_id)
        # Whatever it says, the agency has the request: stop resending or querying it.
        outbox.mark_delivered(session, message_id=msg.id, at=at)
        application_id = msg.application_id
        superseded = msg.superseded_at is not None
    else:
        superseded = _is_superseded(session, request_id=result.request_id)
    if result.status not in FINAL_STATUSES[agency]:
        return False
    if superseded:
        # A late answer about a payout that a re-issue replaced: the application now waits
        # for the new request only, so the old one's (failed) result must not move it.
        log.debug("request %s: result ignored, superseded by a re-issue", result.request_id)
        return False
    app = applications.lock(session, application_id)
    if app.status != AWAITING[agency]:
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
            actor=Actor.agency(agency.value),
            at=at,
            reason=reason,
            values=values,
        )
    except Conflict:
        # Moved by someone else between our read and our write: theirs was first.
        return False
    if target == S.AT_AGENCY:
        dispatches.enqueue_payout(session, application=app, at=at)
    return True


def _message_for(session: Session, *, agency: Agency, request_id: str) -> OutboxMessage:
    msg = session.execute(
        select(OutboxMessage).where(OutboxMessage.request_id == request_id)
    ).scalar_one_or_none()
    if msg is None or msg.agency != agency:
        raise NotFound("callback.unknown_request", "未找到该请求")
    return msg


def _is_superseded(session: Session, *, request_id: str) -> bool:
    return (
        session.execute(
            select(OutboxMessage.superseded_at).where(OutboxMessage.request_id == request_id)
        ).scalar_one_or_none()
        is not None
    )


def _plan(agency: Agency, result: AgencyResult, at: datetime) -> tuple[S, dict[str, Any], str]:
    """Where a final result takes the application, the values it sets, and the audit reason."""
    reason = result.reason
    positive = result.status == POSITIVE[agency]
    decided = as_utc(result.decided_at) if result.decided_at else at
    if agency == Agency.HRSS:
        if positive:
            return S.AT_AGENCY, {"agency_message": "人社已受理"}, "人社受理"
        text = f"人社退回：{reason}" if reason else "人社退回"
        return S.AGENCY_REJECTED, {"agency_message": text[:AGENCY_MESSAGE_MAX_CHARS]}, text
    if agency == Agency.MEDICAL_SECURITY:
        if positive:
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
                "agency_message": text[:AGENCY_MESSAGE_MAX_CHARS],
            },
            text,
        )
    if positive:
        paid_on = result.paid_on or decided.astimezone(CHINA_TZ).date()
        return S.REFUNDED, {"refund_date": paid_on, "bank_result": BANK_PAID}, "银行退付成功"
    text = f"{BANK_FAILED}：{reason}" if reason else BANK_FAILED
    return S.REFUND_FAILED, {"bank_result": text[:BANK_RESULT_MAX_CHARS]}, text
