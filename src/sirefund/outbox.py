"""The outbox's queue mechanics: requests to agencies are written in the same transaction as
the change needing them (`enqueue`), then claimed, sent and recorded by the worker
(worker.py). What goes into a request and the officers' dispatch monitor are use cases in
services/dispatches.py; applying an agency's answer is services/settlement.py. This module
imports neither: the worker calls settlement after recording an attempt.

The states and the moves between them are data in domain/dispatch.py.

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
from enum import StrEnum
from typing import Any, Final, Literal, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    Update,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from . import request_context
from .clock import as_utc
from .db import unit_of_work
from .domain.agencies import AWAITING, Agency, AgencyResult, Operation
from .domain.dispatch import ACKNOWLEDGEABLE, DUE, AttemptOutcome, advance
from .domain.dispatch import DispatchState as D
from .domain.errors import NotFound
from .models import Application, DispatchAttempt, OutboxMessage

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
# After delivery, how long to wait for a callback before asking the agency ourselves.
DEFAULT_POLL_AFTER_SECONDS = 60.0
# Longest error text kept on a message or an attempt (the columns' width).
ERROR_MAX_CHARS = 500

Mode = Literal["send", "query"]
SEND: Final = "send"
QUERY: Final = "query"

# Hot-path UPDATEs go through the table (Core), not the ORM: the worker issues several per
# message, and the ORM's bulk-update machinery costs more than the statement itself.
_T = cast(Table, OutboxMessage.__table__)
_C = _T.c


def _changed(session: Session, statement: Update) -> int:
    """How many rows a conditional UPDATE changed: 0 means the row was not as expected."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


# --------------------------------------------------------------------------- enqueue


def enqueue(
    session: Session,
    *,
    application: Application,
    agency: Agency,
    operation: Operation,
    payload: dict[str, Any],
    at: datetime,
) -> OutboxMessage:
    """Add a message due now. The request id is fixed here, once: every retry and every
    status query reuses it, so the agency can recognise a repeat."""
    at = as_utc(at)
    msg = OutboxMessage(
        application_id=application.id,
        agency=agency.value,
        operation=operation.value,
        request_id=uuid.uuid4().hex,
        origin_request_id=request_context.current(),
        payload=payload,
        state=D.PENDING.value,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(msg)
    session.flush()
    return msg


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for :func:`enqueue_many`."""

    application_id: int
    agency: Agency
    operation: Operation
    payload: dict[str, Any]


def enqueue_many(session: Session, messages: list[NewMessage], *, at: datetime) -> int:
    """:func:`enqueue` for many messages (批量审核) in one INSERT, in the order given: the same
    rows, each with its own request id; how many."""
    at = as_utc(at)
    origin = request_context.current()
    if messages:
        session.execute(
            insert(_T),
            [
                {
                    "application_id": m.application_id,
                    "agency": m.agency.value,
                    "operation": m.operation.value,
                    "request_id": uuid.uuid4().hex,
                    "origin_request_id": origin,
                    "payload": m.payload,
                    "state": D.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
                for m in messages
            ],
        )
    return len(messages)


# --------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this worker holds until `claimed_until`. `mode` is QUERY when an earlier
    try may have reached the agency (timeout, or a worker died holding it)."""

    id: int
    application_id: int
    agency: Agency
    operation: Operation
    request_id: str
    payload: dict[str, Any]
    attempt: int
    mode: Mode
    claimed_until: datetime
    # The HTTP request that wrote the message (request_context): logged when it is sent.
    origin_request_id: str | None = None


class _MessageRow(Protocol):
    """The columns of an outbox row a claim is made of (a selected Row has them)."""

    id: int
    application_id: int
    agency: str
    operation: str
    request_id: str
    origin_request_id: str | None


def _claimed(
    row: _MessageRow,
    *,
    payload: dict[str, Any],
    attempt: int,
    mode: Mode,
    claimed_until: datetime,
) -> ClaimedMessage:
    return ClaimedMessage(
        id=row.id,
        application_id=row.application_id,
        agency=Agency(row.agency),
        operation=Operation(row.operation),
        request_id=row.request_id,
        payload=payload,
        attempt=attempt,
        mode=mode,
        claimed_until=claimed_until,
        origin_request_id=row.origin_request_id,
    )


def _due(at: datetime) -> ColumnElement[bool]:
    return and_(
        # A payout replaced by a re-issue is never sent or asked about again.
        _C.superseded_at.is_(None),
        or_(
            and_(_C.state.in_([s.value for s in DUE]), _C.next_attempt_at <= at),
            # The worker holding it died (or hung past its lease) mid-send.
            and_(_C.state == D.SENDING.value, _C.claimed_until < at),
        ),
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
    (see `renew`); a claim left to expire is claimed again in QUERY mode.
    """
    at = as_utc(at)
    until = at + timedelta(seconds=lease_seconds)
    claimed: list[ClaimedMessage] = []
    with unit_of_work(session_factory) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        query = (
            select(
                _C.id,
                _C.state,
                _C.claimed_by,
                _C.attempts,
                _C.application_id,
                _C.agency,
                _C.operation,
                _C.request_id,
                _C.origin_request_id,
                _C.payload,
            )
            .where(_due(at))
            .order_by(_C.next_attempt_at, _C.id)
            .limit(limit)
        )
        if postgres:
            # Rows another worker is claiming right now are skipped, not waited for.
            query = query.with_for_update(skip_locked=True)
        for row in session.execute(query).all():
            advance(row.state, D.SENDING)
            # The conditional UPDATE is the claim on SQLite and a harmless re-check on
            # PostgreSQL (the row is locked): it only succeeds if the row is still as seen.
            claimed_now = _changed(
                session,
                update(_T)
                .where(
                    _C.id == row.id,
                    _C.state == row.state,
                    _C.attempts == row.attempts,
                    _due(at),
                )
                .values(
                    state=D.SENDING.value,
                    claimed_by=worker_id,
                    claimed_until=until,
                    attempts=row.attempts + 1,
                    updated_at=at,
                ),
            )
            if claimed_now != 1:
                continue
            if row.state == D.SENDING:
                # The previous holder never reported: record its attempt, outcome unknown.
                session.add(
                    DispatchAttempt(
                        message_id=row.id,
                        at=at,
                        worker=row.claimed_by,
                        outcome=AttemptOutcome.UNKNOWN.value,
                        detail="租约到期，未收到发送结果（处理进程可能已中断），将先查询",
                    )
                )
            claimed.append(
                _claimed(
                    row,
                    payload=dict(row.payload),
                    attempt=row.attempts + 1,
                    mode=SEND if row.state == D.PENDING else QUERY,
                    claimed_until=until,
                )
            )
    return claimed


def renew(
    session: Session, *, message_id: int, worker_id: str, at: datetime, lease_seconds: float
) -> bool:
    """Extend this worker's claim before sending; False if the claim was lost (someone else
    took the message after the lease ran out), and then the message must not be sent."""
    return (
        _changed(
            session,
            update(_T)
            .where(_C.id == message_id, _C.state == D.SENDING.value, _C.claimed_by == worker_id)
            .values(claimed_until=as_utc(at) + timedelta(seconds=lease_seconds)),
        )
        == 1
    )


def release(session: Session, *, message: ClaimedMessage, worker_id: str, at: datetime) -> bool:
    """Give back a claimed message that was not tried (the worker is stopping): due at once
    for the next worker, in the state it was claimed from, the attempt not counted."""
    back = advance(D.SENDING, D.UNKNOWN if message.mode == QUERY else D.PENDING)
    changed = _changed(
        session,
        update(_T)
        .where(_C.id == message.id, _C.state == D.SENDING.value, _C.claimed_by == worker_id)
        .values(
            state=back.value,
            attempts=_C.attempts - 1,
            claimed_by=None,
            claimed_until=None,
            next_attempt_at=as_utc(at),
            updated_at=as_utc(at),
        ),
    )
    return changed == 1


# --------------------------------------------------------------------------- results


class OutcomeKind(StrEnum):
    OK = "ok"
    TRANSIENT = "transient"  # nothing was booked; sending again may pass
    PERMANENT = "permanent"  # refused; sending again cannot help
    UNKNOWN = "unknown"  # may have been booked: ask before sending again


_ATTEMPT_OUTCOME = {
    OutcomeKind.OK: AttemptOutcome.OK,
    OutcomeKind.TRANSIENT: AttemptOutcome.RETRY,
    OutcomeKind.PERMANENT: AttemptOutcome.PERMANENT,
    OutcomeKind.UNKNOWN: AttemptOutcome.UNKNOWN,
}


@dataclass(frozen=True)
class Outcome:
    """How one attempt went; `result` is the agency's answer when `kind` is OK."""

    kind: OutcomeKind
    detail: str
    result: AgencyResult | None = None

    @classmethod
    def ok(cls, result: AgencyResult, detail: str) -> Outcome:
        return cls(OutcomeKind.OK, detail, result)


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
    ceiling = min(cap, base * 2.0 ** max(0, attempts - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def record_attempt(
    session: Session,
    *,
    message_id: int,
    worker_id: str,
    outcome: Outcome,
    at: datetime,
    max_attempts: int,
    rng: random.Random,
    poll_after_seconds: float = DEFAULT_POLL_AFTER_SECONDS,
) -> bool:
    """Write an attempt and move the message on. Applying an agency's answer to the
    application is the caller's next step (services.settlement), in the same transaction.

    Returns False when this worker no longer held the claim (its lease ran out and another
    worker took the message): the attempt is still recorded, but the message's state is
    left to its new holder.
    """
    at = as_utc(at)
    attempts = session.execute(select(_C.attempts).where(_C.id == message_id)).scalar_one_or_none()
    if attempts is None:
        raise NotFound("dispatch.not_found", "派发记录不存在")
    detail = outcome.detail[:ERROR_MAX_CHARS]
    session.add(
        DispatchAttempt(
            message_id=message_id,
            at=at,
            worker=worker_id,
            outcome=_ATTEMPT_OUTCOME[outcome.kind].value,
            detail=detail,
        )
    )
    changes: dict[str, Any] = {"claimed_by": None, "claimed_until": None, "updated_at": at}
    if outcome.kind == OutcomeKind.OK:
        target = D.DONE
        changes.update(last_error=None, next_attempt_at=at + timedelta(seconds=poll_after_seconds))
    elif outcome.kind == OutcomeKind.PERMANENT:
        target = D.FAILED
        changes.update(last_error=detail)
    elif attempts >= max_attempts:
        target = D.FAILED
        changes.update(last_error=(outcome.detail + "（已达最大尝试次数）")[:ERROR_MAX_CHARS])
    else:
        # Transient: resend later. Unknown: ask later (soon, but not in a tight loop).
        target = D.PENDING if outcome.kind == OutcomeKind.TRANSIENT else D.UNKNOWN
        changes.update(
            last_error=detail,
            next_attempt_at=at + timedelta(seconds=backoff_seconds(attempts, rng)),
        )
    changes["state"] = advance(D.SENDING, target).value
    # The message row before the application (settlement, next): the same lock order as a
    # callback, so the two can never deadlock on PostgreSQL.
    owned = (
        _changed(
            session,
            update(_T)
            .where(_C.id == message_id, _C.state == D.SENDING.value, _C.claimed_by == worker_id)
            .values(**changes),
        )
        == 1
    )
    if not owned:
        log.warning(
            "dispatch %s: result of %s arrived after its claim was lost", message_id, worker_id
        )
    return owned


def mark_delivered(
    session: Session,
    *,
    message_id: int,
    at: datetime,
    poll_after_seconds: float = DEFAULT_POLL_AFTER_SECONDS,
) -> bool:
    """The agency reported on this request (callback or poll), so it has it: a message still
    waiting to be resent or queried is done. One being sent right now is left to its worker."""
    changed = _changed(
        session,
        update(_T)
        .where(_C.id == message_id, _C.state.in_([s.value for s in ACKNOWLEDGEABLE]))
        .values(
            state=D.DONE.value,
            claimed_by=None,
            claimed_until=None,
            updated_at=as_utc(at),
            next_attempt_at=as_utc(at) + timedelta(seconds=poll_after_seconds),
        ),
    )
    return changed == 1


def supersede(session: Session, *, message_id: int, at: datetime) -> None:
    """Retire a message that a re-issue replaces with a new one (a payout after 退付失败).

    It is never sent, polled or settled again; one still waiting to be resent or queried is
    marked done, since the agency already answered it. One being sent right now is left to its
    worker, whose answer settlement ignores."""
    at = as_utc(at)
    session.execute(
        update(_T).where(_C.id == message_id, _C.superseded_at.is_(None)).values(superseded_at=at)
    )
    mark_delivered(session, message_id=message_id, at=at)


def requeue_failed(session: Session, *, message_id: int, ask_first: bool, at: datetime) -> bool:
    """Give a failed message a fresh budget of attempts, due now, keeping its request id.
    `ask_first` restarts it as unknown (an earlier try may have arrived). False if it was no
    longer failed."""
    target = advance(D.FAILED, D.UNKNOWN if ask_first else D.PENDING)
    at = as_utc(at)
    changed = _changed(
        session,
        update(_T)
        .where(_C.id == message_id, _C.state == D.FAILED.value)
        .values(
            state=target.value,
            attempts=0,
            next_attempt_at=at,
            claimed_by=None,
            claimed_until=None,
            updated_at=at,
        ),
    )
    return changed == 1


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
        *(
            and_(M.agency == agency.value, A.status == status.value)
            for agency, status in AWAITING.items()
        )
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
                M.origin_request_id,
                M.attempts,
            )
            .join(A, A.id == M.application_id)
            .where(
                M.state == D.DONE.value,
                M.next_attempt_at <= at,
                M.superseded_at.is_(None),
                waiting,
            )
            .order_by(M.next_attempt_at, M.id)
            .limit(limit)
        ).all()
        for row in rows:
            rescheduled = _changed(
                session,
                update(_T)
                .where(
                    _C.id == row.id,
                    _C.state == D.DONE.value,
                    _C.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=at + timedelta(seconds=interval_seconds)),
            )
            if rescheduled == 1:
                out.append(
                    _claimed(row, payload={}, attempt=row.attempts, mode=QUERY, claimed_until=at)
                )
    return out
