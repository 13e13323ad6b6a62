"""The tamper-evident audit log: `record` what happened; `verify` the hash chain.

`record` only notes the row in the session; the rows are chained and inserted when the
session commits (a `before_commit` hook), after everything else the transaction did. So the
chain tip — the one row of audit_chain_head, locked FOR UPDATE (SQLite's BEGIN IMMEDIATE
already serialises writers) — is the last lock a transaction takes and is held only for its
commit: writers append one after another without waiting on each other's work, and no
transaction holding the tip waits for a lock another holds (no deadlock). A transaction that
rolls back writes nothing, exactly like the change it would have recorded.

Who: an `Actor` (person/unit/officer/agency/system + id). From where: `address`, by default
the client address the web layer put in ``session.info`` (`ADDRESS_KEY`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, select, text, update
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..domain.audit import (
    CHECKPOINT_EVERY,
    GENESIS_HASH,
    HASHED_FIELDS,
    AuditAction,
    ChainRow,
    Walk,
    canonical_details,
    row_digest,
    walk,
)
from ..domain.workflow import ApplicationKind
from ..models import Application, AuditChainHead, AuditCheckpoint, AuditRecord

#: session.info key under which the web layer puts the client's address.
ADDRESS_KEY = "client_address"
_PENDING_KEY = "audit_pending"
_MAX_ADDRESS = 64
_MAX_ACTOR_ID = 60


@dataclass(frozen=True)
class Actor:
    """Who or what causes a change: person/unit/officer/agency/system and an identifier."""

    kind: str
    id: str | None = None

    @classmethod
    def person(cls, person_id: int) -> Actor:
        return cls("person", str(person_id))

    @classmethod
    def unit(cls, unit_id: int) -> Actor:
        return cls("unit", str(unit_id))

    @classmethod
    def applicant(cls, kind: ApplicationKind, account_id: int) -> Actor:
        """Who applies for a refund of ``kind``: the unit for unit refunds, else the person."""
        if kind == ApplicationKind.UNIT_PENSION:
            return cls.unit(account_id)
        return cls.person(account_id)

    @classmethod
    def officer(cls, code: str) -> Actor:
        return cls("officer", code)

    @classmethod
    def agency(cls, name: str) -> Actor:
        return cls("agency", name)

    @classmethod
    def system(cls, name: str | None = None) -> Actor:
        return cls("system", name)

    def owns(self, app: Application) -> bool:
        """Whether `app` is this person's or this unit's own application."""
        owner = {"person": app.person_id, "unit": app.unit_id}.get(self.kind)
        return owner is not None and str(owner) == self.id


@dataclass(frozen=True)
class Subject:
    """Whom or what a row is about (any of them may be None)."""

    application_id: int | None = None
    person_id: int | None = None
    unit_id: int | None = None
    officer_id: int | None = None


@dataclass
class _Pending:
    transaction: object
    rows: list[dict[str, Any]] = field(default_factory=list)


def record(
    session: Session,
    *,
    actor: Actor,
    action: AuditAction,
    at: datetime,
    subject: Subject | None = None,
    details: Mapping[str, object] | None = None,
    address: str | None = None,
) -> None:
    """Note an audit row; it is chained and written when `session` commits (not at all if
    it rolls back). `details` must not hold ID, phone or card numbers; long digit runs are
    masked anyway (domain.audit.scrub)."""
    subject = subject or Subject()
    where = address if address is not None else session.info.get(ADDRESS_KEY)
    root = session.get_transaction()
    if root is None:  # nothing done yet in this session: begin, so the row has a transaction
        session.connection()
        root = session.get_transaction()
    pending: _Pending | None = session.info.get(_PENDING_KEY)
    if pending is None or pending.transaction is not root:
        pending = session.info[_PENDING_KEY] = _Pending(root)
    pending.rows.append(
        {
            "at": as_utc(at),
            "actor_kind": actor.kind,
            "actor_id": actor.id[:_MAX_ACTOR_ID] if actor.id is not None else None,
            "action": action.value,
            "application_id": subject.application_id,
            "person_id": subject.person_id,
            "unit_id": subject.unit_id,
            "officer_id": subject.officer_id,
            "address": str(where)[:_MAX_ADDRESS] if where is not None else None,
            "details": canonical_details(details),
        }
    )


_HEAD = cast(Table, AuditChainHead.__table__)
_LOG = cast(Table, AuditRecord.__table__)
_LOCK_TIP = select(_HEAD.c.last_id, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()


def _lock_tip(session: Session) -> tuple[int, str]:
    """The chain head (last id, last hash), its row locked until commit (created on first
    use, race-free). Plain rows, not ORM objects: the tip is held from here to the commit,
    so the statements in between are kept few and cheap."""
    head = session.execute(_LOCK_TIP).one_or_none()
    if head is None:
        session.execute(
            text(
                "INSERT INTO audit_chain_head (id, last_id, last_hash) "
                "VALUES (1, 0, :genesis) ON CONFLICT DO NOTHING"
            ),
            {"genesis": GENESIS_HASH},
        )
        head = session.execute(_LOCK_TIP).one()
    return int(head[0]), str(head[1])


def flush_pending(session: Session) -> int:
    """Chain and insert the rows `record` noted in this transaction; how many. Called by the
    commit hook; tests reading the log before committing may call it themselves."""
    pending: _Pending | None = session.info.pop(_PENDING_KEY, None)
    if pending is None or not pending.rows or pending.transaction is not session.get_transaction():
        return 0
    # What the transaction still has to write goes first: the tip is then the last lock it
    # takes, held only for the audit rows and the commit (the commit's own flush comes after
    # this hook).
    session.flush()
    last_id, last_hash = _lock_tip(session)
    anchors: list[dict[str, Any]] = []
    for row in pending.rows:
        last_id += 1
        row["id"] = last_id
        row["prev_hash"] = last_hash
        last_hash = row["row_hash"] = row_digest(**{k: row[k] for k in HASHED_FIELDS})
        if last_id % CHECKPOINT_EVERY == 0:
            anchors.append(
                {"at": row["at"], "audit_id": last_id, "row_hash": last_hash, "reason": "periodic"}
            )
    move = update(_HEAD).where(_HEAD.c.id == 1).values(last_id=last_id, last_hash=last_hash)
    if session.get_bind().dialect.name == "postgresql" and not anchors:
        # One round trip under the tip: the rows inserted in the WITH of the tip's UPDATE
        # (PostgreSQL runs a data-modifying WITH to completion, read or not).
        session.execute(move.add_cte(insert(_LOG).values(pending.rows).cte("appended")))
        return len(pending.rows)
    session.execute(insert(_LOG), pending.rows)
    if anchors:
        session.execute(insert(AuditCheckpoint), anchors)
    session.execute(move)
    return len(pending.rows)


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    # The hook also fires when a SAVEPOINT is released; the rows wait for the real commit,
    # so that the chain head is still the last lock the transaction takes.
    if _PENDING_KEY in session.info and not session.in_nested_transaction():
        flush_pending(session)


# --------------------------------------------------------------------------- verification


def _chain_rows(session: Session, batch_size: int) -> Iterator[ChainRow]:
    """Every audit row in id order, streamed `batch_size` at a time (a server-side cursor
    on PostgreSQL), as plain tuples: no ORM objects for 100,000 rows."""
    t = AuditRecord
    result = session.execute(
        select(
            t.id,
            t.at,
            t.actor_kind,
            t.actor_id,
            t.action,
            t.application_id,
            t.person_id,
            t.unit_id,
            t.officer_id,
            t.address,
            t.details,
            t.prev_hash,
            t.row_hash,
        )
        .order_by(t.id)
        .execution_options(yield_per=batch_size)
    )
    for batch in result.partitions():
        for r in batch:
            yield ChainRow(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12]
            )


def verify(session: Session, *, at: datetime, anchor: bool = True, batch_size: int = 5000) -> Walk:
    """Walk the whole chain; the first row changed, deleted or inserted is `broken`. When the
    chain is intact and `anchor`, a checkpoint of its tip is added (the caller commits)."""
    checkpoints: dict[int, list[str]] = defaultdict(list)
    for audit_id, row_hash in session.execute(
        select(AuditCheckpoint.audit_id, AuditCheckpoint.row_hash)
    ):
        checkpoints[audit_id].append(row_hash)
    head_row = session.execute(
        select(AuditChainHead.last_id, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).one_or_none()
    head = (head_row[0], head_row[1]) if head_row is not None else None
    result = walk(_chain_rows(session, batch_size), checkpoints=checkpoints, head=head)
    if anchor and result.broken is None and result.rows:
        session.add(
            AuditCheckpoint(
                at=as_utc(at), audit_id=result.last_id, row_hash=result.last_hash, reason="verify"
            )
        )
        session.flush()
    return result
