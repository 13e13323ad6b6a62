"""The outbox: requests to agencies written in the same transaction as the change needing
them, then claimed and sent by the worker (worker.py).

Life of a message (models.OutboxMessage):

    pending --claim--> sending --ok--------> done     (the agency has it; results follow)
       ^                  |  --transient--> pending  (backoff with jitter; `failed` after
       |                  |                           settings.dispatch_max_attempts)
       |                  |  --permanent--> failed   (shown in the dispatch monitor)
       |                  |  --timeout----> unknown  (maybe booked: ask, don't resend)
       |                  '--lease expires-> claimable again as unknown (worker died mid-send)
       '--------- retry_failed (officer) --- failed

The request id is fixed when the message is written. Every resend and every query reuses it,
and the agencies treat a request id they have seen as the same request, so a resend after a
transient error cannot book twice. A message whose outcome is unknown is settled by asking
the agency about that request id; only if the agency has never seen it is it sent.

Claims: PostgreSQL picks rows with `FOR UPDATE SKIP LOCKED` so several workers share the
queue without waiting on each other; SQLite (one writer at a time) uses a conditional UPDATE
and checks the row count. Both bump `attempts` at claim time, so a worker that crashes on a
message still uses up one of its attempts and a poison message cannot loop forever.

A done message whose application still waits for that agency's result doubles as a polling
schedule: `next_attempt_at` is then the time of the next status query (for lost callbacks).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .clock import as_utc
from .db import unit_of_work
from .domain.errors import Conflict, Invalid, NotFound
from .domain.money import format_yuan
from .domain.workflow import ApplicationStatus as S
from .models import (
    Application,
    DepositAccount,
    DispatchAttempt,
    MedicalPayment,
    MedicalRegistration,
    OutboxMessage,
    Person,
    SecurityEvent,
    Unit,
    UnitPaymentPerson,
)
from .services.officers import active_officer, in_scope, region_clause

log = logging.getLogger(__name__)

# Which agency receives an approved application first.
FIRST_AGENCY = {"pension": "hrss", "unit_pension": "hrss", "medical": "medical_security"}
OPERATIONS = {
    "hrss": "refund_request",
    "medical_security": "verify_request",
    "bank": "payout_request",
}

STATES = ("pending", "sending", "unknown", "done", "failed")
STATE_LABELS = {
    "pending": "待发送",
    "sending": "发送中",
    "unknown": "结果待确认",
    "done": "已送达",
    "failed": "发送失败",
}
OUTCOME_LABELS = {"ok": "成功", "retry": "暂时失败", "permanent": "被拒绝", "unknown": "结果未知"}
AGENCY_LABELS = {"hrss": "人社", "medical_security": "医保", "bank": "银行"}

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
# After delivery, how long to wait for a callback before asking the agency ourselves.
DEFAULT_POLL_AFTER_SECONDS = 60.0

# What each agency's result is awaited in: a done message of that agency whose application
# is still here gets polled.
_AWAITING = {
    "hrss": S.APPROVED.value,
    "medical_security": S.APPROVED.value,
    "bank": S.AT_AGENCY.value,
}

SEND, QUERY = "send", "query"

# Hot-path UPDATEs go through the table (Core), not the ORM: the worker issues several per
# message, and the ORM's bulk-update machinery costs more than the statement itself.
_T = OutboxMessage.__table__
_C = _T.c


# --------------------------------------------------------------------------- enqueue


def enqueue(
    session: Session,
    *,
    application: Application,
    agency: str,
    operation: str,
    payload: dict,
    at: datetime,
) -> OutboxMessage:
    """Add a message due now. The request id is fixed here, once: every retry and every
    status query reuses it, so the agency can recognise a repeat."""
    at = as_utc(at)
    msg = OutboxMessage(
        application_id=application.id,
        agency=agency,
        operation=operation,
        request_id=uuid.uuid4().hex,
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(msg)
    session.flush()
    return msg


def enqueue_for_approval(
    session: Session, *, application: Application, at: datetime
) -> OutboxMessage:
    """The request an approval triggers: HRSS for pension and unit, medical security for medical.

    Call it in the approval's transaction (style habit 4): the approval, its audit row and
    this message commit together or not at all.
    """
    agency = FIRST_AGENCY[application.kind]
    return enqueue(
        session,
        application=application,
        agency=agency,
        operation=OPERATIONS[agency],
        payload=request_payload(session, application=application, agency=agency),
        at=at,
    )


def enqueue_payout(session: Session, *, application: Application, at: datetime) -> OutboxMessage:
    """The payout order to the bank, written when HRSS accepted / medical security verified."""
    return enqueue(
        session,
        application=application,
        agency="bank",
        operation=OPERATIONS["bank"],
        payload=request_payload(session, application=application, agency="bank"),
        at=at,
    )


def request_payload(session: Session, *, application: Application, agency: str) -> dict[str, Any]:
    """What the agency needs, frozen at enqueue time: a resend with the same request id must
    carry the same request even if the application row is edited later."""
    app = application
    person = session.get(Person, app.person_id)
    assert person is not None
    base: dict[str, Any] = {
        "application_id": app.id,
        "kind": app.kind,
        "amount_fen": app.amount_fen,
        "amount": format_yuan(app.amount_fen),
        "payment_year": app.payment_year,
        "period_start": app.period_start.isoformat(),
        "period_end": app.period_end.isoformat(),
        "payer": {
            "id_number": person.id_number,
            "name": person.name,
            "region_code": app.region_code,
        },
    }
    if agency == "hrss":
        base["payment_id"] = app.pension_payment_id
        if app.unit_line_id:
            line = session.get(UnitPaymentPerson, app.unit_line_id)
            unit = session.get(Unit, app.unit_id)
            base["line"] = {
                "line_id": app.unit_line_id,
                "ss_no": line.ss_no if line else None,
                "unit_payment_id": line.unit_payment_id if line else None,
            }
            base["unit"] = (
                {"tax_id": unit.tax_id, "name": unit.name, "ss_no": unit.ss_no} if unit else None
            )
        return base
    if agency == "medical_security":
        payment = session.get(MedicalPayment, app.medical_payment_id)
        reg = session.get(MedicalRegistration, app.registration_id) if app.registration_id else None
        base.update(
            payment_id=app.medical_payment_id,
            ticket_no=payment.ticket_no if payment else None,
            registration={"agency_code": reg.agency_code, "ss_code": reg.ss_code} if reg else None,
            reason_code=app.reason_code,
            reason_text=app.reason_text,
        )
        return base
    if agency == "bank":
        base["account"] = _payout_account(session, app, person)
        return base
    raise ValueError(f"unknown agency {agency!r}")


def _payout_account(session: Session, app: Application, person: Person) -> dict[str, Any]:
    if app.bank_account_no:
        return {
            "no": app.bank_account_no,
            "name": app.bank_account_name or person.name,
            "type": app.bank_account_type,
            "bank_category": app.bank_category,
        }
    acct = session.get(DepositAccount, app.deposit_account_id) if app.deposit_account_id else None
    if acct is None:
        return {"no": None, "name": person.name, "type": None, "bank_category": None}
    return {
        "no": acct.account_no,
        "name": acct.account_name,
        "type": acct.account_nature,
        "bank_category": acct.bank_category,
        "branch": acct.bank_branch,
    }


# --------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this worker holds until `claimed_until`. `mode` is QUERY when an earlier
    try may have reached the agency (timeout, or a worker died holding it)."""

    id: int
    application_id: int
    agency: str
    operation: str
    request_id: str
    payload: dict[str, Any]
    attempt: int
    mode: str
    claimed_until: datetime


def _due(at: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(_C.state.in_(("pending", "unknown")), _C.next_attempt_at <= at),
        # The worker holding it died (or hung past its lease) mid-send.
        and_(_C.state == "sending", _C.claimed_until < at),
    )


def claim_due(
    session_factory: sessionmaker[Session],
    *,
    worker_id: str,
    at: datetime,
    limit: int,
    lease_seconds: float,
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages for `worker_id` in one short transaction of its own.

    Returns them oldest-due first. Nobody else can claim them until `at + lease_seconds`
    (see `renew`); a claim left to expire comes back as `unknown`.
    """
    at = as_utc(at)
    until = at + timedelta(seconds=lease_seconds)
    M = _C
    claimed: list[ClaimedMessage] = []
    with unit_of_work(session_factory) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        query = (
            select(
                M.id,
                M.state,
                M.claimed_by,
                M.attempts,
                M.application_id,
                M.agency,
                M.operation,
                M.request_id,
                M.payload,
            )
            .where(_due(at))
            .order_by(M.next_attempt_at, M.id)
            .limit(limit)
        )
        if postgres:
            # Rows another worker is claiming right now are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        for row in session.execute(query).all():
            # The conditional UPDATE is the claim on SQLite and a harmless re-check on
            # PostgreSQL (the row is locked): it only succeeds if the row is still as seen.
            result = session.execute(
                update(_T)
                .where(M.id == row.id, M.state == row.state, M.attempts == row.attempts, _due(at))
                .values(
                    state="sending",
                    claimed_by=worker_id,
                    claimed_until=until,
                    attempts=row.attempts + 1,
                    updated_at=at,
                )
            )
            if result.rowcount != 1:
                continue
            if row.state == "sending":
                # The previous holder never reported: record its attempt, outcome unknown.
                session.add(
                    DispatchAttempt(
                        message_id=row.id,
                        at=at,
                        worker=row.claimed_by,
                        outcome="unknown",
                        detail="租约到期，未收到发送结果（处理进程可能已中断），将先查询",
                    )
                )
            claimed.append(
                ClaimedMessage(
                    id=row.id,
                    application_id=row.application_id,
                    agency=row.agency,
                    operation=row.operation,
                    request_id=row.request_id,
                    payload=dict(row.payload),
                    attempt=row.attempts + 1,
                    mode=SEND if row.state == "pending" else QUERY,
                    claimed_until=until,
                )
            )
    return claimed


def renew(
    session: Session, *, message_id: int, worker_id: str, at: datetime, lease_seconds: float
) -> bool:
    """Extend this worker's claim before sending; False if the claim was lost (someone else
    took the message after the lease ran out), and then the message must not be sent."""
    result = session.execute(
        update(_T)
        .where(_C.id == message_id, _C.state == "sending", _C.claimed_by == worker_id)
        .values(claimed_until=as_utc(at) + timedelta(seconds=lease_seconds))
    )
    return result.rowcount == 1


def release(session: Session, *, message: ClaimedMessage, worker_id: str, at: datetime) -> bool:
    """Give back a claimed message that was not tried (the worker is stopping): due at once
    for the next worker, in the state it was claimed from, the attempt not counted."""
    result = session.execute(
        update(_T)
        .where(_C.id == message.id, _C.state == "sending", _C.claimed_by == worker_id)
        .values(
            state="unknown" if message.mode == QUERY else "pending",
            attempts=_C.attempts - 1,
            claimed_by=None,
            claimed_until=None,
            next_attempt_at=as_utc(at),
            updated_at=as_utc(at),
        )
    )
    return result.rowcount == 1


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Outcome:
    """How one attempt went. `kind`: ok | transient | permanent | unknown."""

    kind: str
    detail: str
    result: Any = None  # agencies.base.AgencyResult when ok

    @classmethod
    def ok(cls, result: Any, detail: str) -> Outcome:
        return cls("ok", detail, result)


_ATTEMPT_OUTCOME = {
    "ok": "ok",
    "transient": "retry",
    "permanent": "permanent",
    "unknown": "unknown",
}


def backoff_seconds(
    attempts: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Delay before try number `attempts + 1`: exponential, capped, with jitter.

    Half the delay is fixed and half random ("equal jitter"), so messages that failed
    together during an outage do not all come back in the same second, yet none comes back
    immediately.
    """
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def record_result(
    session: Session,
    *,
    message_id: int,
    worker_id: str,
    outcome: Outcome,
    at: datetime,
    settings: Any,
    rng: random.Random,
    poll_after_seconds: float = DEFAULT_POLL_AFTER_SECONDS,
) -> bool:
    """Write an attempt and move the message on; apply an agency's answer to the application.

    Returns False when this worker no longer held the claim (its lease ran out and another
    worker took the message): the attempt is still recorded and a successful answer still
    applied (settlement is idempotent), but the message's state is left to its new holder.
    """
    from .services import settlement  # settlement enqueues payouts through this module

    at = as_utc(at)
    msg = session.get(OutboxMessage, message_id)
    if msg is None:
        raise NotFound("dispatch.not_found", "派发记录不存在")
    session.add(
        DispatchAttempt(
            message_id=message_id,
            at=at,
            worker=worker_id,
            outcome=_ATTEMPT_OUTCOME[outcome.kind],
            detail=outcome.detail[:500],
        )
    )
    max_attempts = settings.dispatch_max_attempts
    changes: dict[str, Any] = {"claimed_by": None, "claimed_until": None, "updated_at": at}
    if outcome.kind == "ok":
        changes.update(
            state="done",
            last_error=None,
            next_attempt_at=at + timedelta(seconds=poll_after_seconds),
        )
    elif outcome.kind == "permanent":
        changes.update(state="failed", last_error=outcome.detail[:500])
    elif msg.attempts >= max_attempts:
        note = "（已达最大尝试次数）"
        changes.update(state="failed", last_error=(outcome.detail + note)[:500])
    else:
        # Transient: resend later. Unknown: ask later (soon, but not in a tight loop).
        changes.update(
            state="pending" if outcome.kind == "transient" else "unknown",
            last_error=outcome.detail[:500],
            next_attempt_at=at + timedelta(seconds=backoff_seconds(msg.attempts, rng)),
        )
    # The message row first, then the application (settlement): the same lock order as a
    # callback, so the two can never deadlock on PostgreSQL.
    owned = (
        session.execute(
            update(_T)
            .where(_C.id == message_id, _C.state == "sending", _C.claimed_by == worker_id)
            .values(**changes)
        ).rowcount
        == 1
    )
    if not owned:
        log.warning(
            "dispatch %s: result of %s arrived after its claim was lost", message_id, worker_id
        )
    if outcome.kind == "ok" and outcome.result is not None:
        settlement.apply_result(
            session, agency=msg.agency, result=outcome.result, at=at, message=msg
        )
    session.expire(msg)
    return owned


def mark_delivered(
    session: Session,
    *,
    message: OutboxMessage,
    at: datetime,
    poll_after_seconds: float = DEFAULT_POLL_AFTER_SECONDS,
) -> bool:
    """The agency reported on this request (callback or poll), so it has it: a message still
    waiting to be resent or queried is done. One being sent right now is left to its worker."""
    result = session.execute(
        update(_T)
        .where(_C.id == message.id, _C.state.in_(("pending", "unknown", "failed")))
        .values(
            state="done",
            claimed_by=None,
            claimed_until=None,
            updated_at=as_utc(at),
            next_attempt_at=as_utc(at) + timedelta(seconds=poll_after_seconds),
        )
    )
    return result.rowcount == 1


def claim_polls(
    session_factory: sessionmaker[Session],
    *,
    at: datetime,
    limit: int,
    interval_seconds: float,
) -> list[ClaimedMessage]:
    """Delivered messages whose application still waits for that agency's result and whose
    poll is due; each is rescheduled `interval_seconds` later in the same conditional UPDATE,
    so two workers polling at once do not both ask about it."""
    at = as_utc(at)
    M, A = OutboxMessage, Application
    waiting = or_(
        *(and_(M.agency == agency, A.status == status) for agency, status in _AWAITING.items())
    )
    out: list[ClaimedMessage] = []
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(
                M.id,
                M.next_attempt_at,
                M.application_id,
                M.agency,
                M.operation,
                M.request_id,
                M.attempts,
            )
            .join(A, A.id == M.application_id)
            .where(M.state == "done", M.next_attempt_at <= at, waiting)
            .order_by(M.next_attempt_at, M.id)
            .limit(limit)
        ).all()
        for row in rows:
            result = session.execute(
                update(_T)
                .where(
                    _C.id == row.id, _C.state == "done", _C.next_attempt_at == row.next_attempt_at
                )
                .values(next_attempt_at=at + timedelta(seconds=interval_seconds))
            )
            if result.rowcount == 1:
                out.append(
                    ClaimedMessage(
                        id=row.id,
                        application_id=row.application_id,
                        agency=row.agency,
                        operation=row.operation,
                        request_id=row.request_id,
                        payload={},
                        attempt=row.attempts,
                        mode=QUERY,
                        claimed_until=at,
                    )
                )
    return out


# --------------------------------------------------------------------------- officers


def retry_failed(
    session: Session, *, message_id: int, officer: Any, at: datetime
) -> dict[str, Any]:
    """An officer sends a failed message again (dispatch monitor 重试).

    The message keeps its request id and its attempt history; it gets a fresh budget of
    attempts. If any earlier attempt's outcome was unknown it restarts as `unknown`, so the
    agency is asked before anything is sent. Audited as a SecurityEvent. 404 outside the
    officer's region; 409 unless the message is failed.
    """
    at = as_utc(at)
    who = active_officer(session, officer)
    msg = session.get(OutboxMessage, message_id) if isinstance(message_id, int) else None
    app = session.get(Application, msg.application_id) if msg is not None else None
    if msg is None or app is None or not in_scope(who, app.region_code):
        raise NotFound("dispatch.not_found", "派发记录不存在")
    if msg.state != "failed":
        raise Conflict(
            "dispatch.not_failed",
            f"该派发当前为“{STATE_LABELS[msg.state]}”，只有发送失败的派发可以重试",
        )
    uncertain = (
        session.execute(
            select(func.count())
            .select_from(DispatchAttempt)
            .where(DispatchAttempt.message_id == msg.id, DispatchAttempt.outcome == "unknown")
        ).scalar_one()
        > 0
    )
    result = session.execute(
        update(_T)
        .where(_C.id == msg.id, _C.state == "failed")
        .values(
            state="unknown" if uncertain else "pending",
            attempts=0,
            next_attempt_at=at,
            claimed_by=None,
            claimed_until=None,
            updated_at=at,
        )
    )
    if result.rowcount != 1:
        raise Conflict("dispatch.changed", "该派发已被他人处理，请刷新后重试")
    session.add(
        SecurityEvent(
            at=at,
            kind="dispatch.retry",
            actor=f"officer:{who.code}",
            detail=f"message={msg.id} agency={msg.agency} application={msg.application_id}",
        )
    )
    session.flush()
    session.refresh(msg)
    return dispatch_view(msg, _attempts_of(session, [msg.id]).get(msg.id, []))


def _attempts_of(session: Session, ids: list[int]) -> dict[int, list[DispatchAttempt]]:
    out: dict[int, list[DispatchAttempt]] = {i: [] for i in ids}
    if not ids:
        return out
    for att in session.execute(
        select(DispatchAttempt)
        .where(DispatchAttempt.message_id.in_(ids))
        .order_by(DispatchAttempt.id)
    ).scalars():
        out[att.message_id].append(att)
    return out


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def dispatch_view(msg: OutboxMessage, attempts: list[DispatchAttempt]) -> dict[str, Any]:
    """A message for the dispatch monitor. The payload is not shown: it holds ID and
    account numbers, and the monitor needs none of them."""
    return {
        "id": msg.id,
        "application_id": msg.application_id,
        "agency": msg.agency,
        "agency_label": AGENCY_LABELS.get(msg.agency, msg.agency),
        "operation": msg.operation,
        "request_id": msg.request_id,
        "state": msg.state,
        "state_label": STATE_LABELS.get(msg.state, msg.state),
        "attempt_count": msg.attempts,
        "next_attempt_at": _iso(msg.next_attempt_at)
        if msg.state in ("pending", "unknown")
        else None,
        "claimed_by": msg.claimed_by,
        "last_error": msg.last_error,
        "created_at": _iso(msg.created_at),
        "updated_at": _iso(msg.updated_at),
        "can_retry": msg.state == "failed",
        "attempts": [
            {
                "at": _iso(a.at),
                "worker": a.worker,
                "outcome": a.outcome,
                "outcome_label": OUTCOME_LABELS.get(a.outcome, a.outcome),
                "detail": a.detail,
            }
            for a in attempts
        ],
    }


def list_dispatches(
    session: Session,
    *,
    state: str | None = None,
    page: int = 1,
    page_size: int = 20,
    region_scope: str | None = None,
    agency: str | None = None,
) -> dict[str, Any]:
    """The dispatch monitor: messages (newest change first) with their attempts.

    `state` filters (pending/sending/unknown/done/failed); `region_scope` is the officer's
    division code: only messages of applications under it are listed.
    """
    if state is not None and state not in STATES:
        raise Invalid("dispatch.state", "派发状态不正确", "state")
    if agency is not None and agency not in AGENCY_LABELS:
        raise Invalid("dispatch.agency", "机构不正确", "agency")
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise Invalid("page.invalid", "页码应为正整数", "page")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 100:
        raise Invalid("page_size.invalid", "每页条数应为1至100", "page_size")
    M = OutboxMessage
    conditions = []
    if state is not None:
        conditions.append(M.state == state)
    if agency is not None:
        conditions.append(M.agency == agency)
    base = select(M).join(Application, Application.id == M.application_id)
    if region_scope is not None:
        conditions.append(region_clause(Application.region_code, region_scope))
    if conditions:
        base = base.where(*conditions)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = (
        session.execute(
            base.order_by(M.updated_at.desc(), M.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        .scalars()
        .all()
    )
    attempts = _attempts_of(session, [m.id for m in rows])
    return {
        "items": [dispatch_view(m, attempts[m.id]) for m in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }
