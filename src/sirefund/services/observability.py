"""What /metrics and /readyz read from the database, and the worker's heartbeat.

Every read here is one aggregate statement over an indexed column, run when Prometheus
scrapes or a probe asks, so that the figures are the database's, whichever process answers
(the app runs as N processes, the workers as M more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..domain.dispatch import AttemptOutcome
from ..domain.dispatch import DispatchState as D
from ..models import (
    Application,
    DispatchAttempt,
    OutboxMessage,
    ReconciliationRun,
    WorkerHeartbeat,
)

#: Messages not yet delivered: waiting to be sent, in flight, or waiting for a status query.
BACKLOG_STATES: Final = (D.PENDING.value, D.SENDING.value, D.UNKNOWN.value)


@dataclass(frozen=True, slots=True)
class Backlog:
    """Undelivered outbox messages of one agency, and when the oldest was written."""

    agency: str
    messages: int
    oldest_created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptCount:
    agency: str
    outcome: AttemptOutcome
    attempts: int


@dataclass(frozen=True, slots=True)
class StatusCount:
    status: str
    applications: int


def outbox_backlog(session: Session) -> list[Backlog]:
    """Per agency: undelivered messages and the oldest one's creation time (agencies with
    none are absent)."""
    rows = session.execute(
        select(OutboxMessage.agency, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.state.in_(BACKLOG_STATES))
        .group_by(OutboxMessage.agency)
    ).all()
    return [Backlog(agency, count, as_utc(oldest)) for agency, count, oldest in rows]


def recent_attempts(session: Session, *, since: datetime) -> list[AttemptCount]:
    """Dispatch attempts since `since`, per agency and outcome (anything but `ok` is an
    error: refused, to be retried, or of unknown outcome)."""
    rows = session.execute(
        select(OutboxMessage.agency, DispatchAttempt.outcome, func.count())
        .join(OutboxMessage, OutboxMessage.id == DispatchAttempt.message_id)
        .where(DispatchAttempt.at >= as_utc(since))
        .group_by(OutboxMessage.agency, DispatchAttempt.outcome)
    ).all()
    return [AttemptCount(agency, AttemptOutcome(outcome), n) for agency, outcome, n in rows]


def applications_by_status(session: Session) -> list[StatusCount]:
    """One GROUP BY over the (status, created_at) index."""
    rows = session.execute(
        select(Application.status, func.count()).group_by(Application.status)
    ).all()
    return [StatusCount(status, n) for status, n in rows]


def reconciliation_differences(session: Session) -> int | None:
    """How many differences the newest reconciliation (三方对账) found — the newest run of the
    newest day reconciled — or None before any day was reconciled (then /metrics leaves
    `sirefund_reconciliation_differences` out). One row read over the (day, id) index."""
    return session.execute(
        select(ReconciliationRun.discrepancy_count)
        .order_by(ReconciliationRun.day.desc(), ReconciliationRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- heartbeat


def beat(session: Session, *, worker_id: str, at: datetime) -> None:
    """Record that `worker_id` is alive at `at` (its first beat records its start)."""
    at = as_utc(at)
    touched = session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id).values(seen_at=at)
    )
    if getattr(touched, "rowcount", 0) == 0:
        session.add(WorkerHeartbeat(worker_id=worker_id, started_at=at, seen_at=at))
        session.flush()


def forget_workers_older_than(session: Session, *, before: datetime) -> None:
    """Drop the rows of workers gone for good (a restarted worker has a new id)."""
    session.query(WorkerHeartbeat).filter(WorkerHeartbeat.seen_at < as_utc(before)).delete()


def newest_heartbeat(session: Session) -> datetime | None:
    seen = session.execute(select(func.max(WorkerHeartbeat.seen_at))).scalar_one_or_none()
    return None if seen is None else as_utc(seen)


# --------------------------------------------------------------------------- readiness


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: Sequence[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)


def readiness(
    session: Session,
    *,
    at: datetime,
    expected_revision: str | None,
    worker_max_age_seconds: float,
    backlog_max: int,
) -> Readiness:
    """Whether this instance should get traffic: the schema is the code's, a worker is alive
    (skipped when `worker_max_age_seconds` is 0) and the outbox is not piling up. The caller
    checks that the database answers at all (an exception here)."""
    checks: list[Check] = []
    revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    checks.append(
        Check(
            "migrations",
            revision == expected_revision,
            f"at {revision}, code expects {expected_revision}",
        )
    )
    if worker_max_age_seconds > 0:
        seen = newest_heartbeat(session)
        age = None if seen is None else (as_utc(at) - seen).total_seconds()
        checks.append(
            Check(
                "worker",
                age is not None and age <= worker_max_age_seconds,
                "no worker heartbeat"
                if age is None
                else f"last heartbeat {age:.0f}s ago (max {worker_max_age_seconds:.0f}s)",
            )
        )
    backlog = sum(b.messages for b in outbox_backlog(session))
    checks.append(
        Check("outbox", backlog <= backlog_max, f"{backlog} undelivered (max {backlog_max})")
    )
    return Readiness(checks)


def since(at: datetime, seconds: float) -> datetime:
    return as_utc(at) - timedelta(seconds=seconds)
