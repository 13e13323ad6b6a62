"""Requests to the agencies, as use cases: what an approval and a positive agency result send
(`enqueue_for_approval`, `enqueue_payout`, with the payload frozen at that moment), and the
officers' dispatch monitor (`list_dispatches`, `retry_failed`).

Payload building lives here rather than in settlement.py because both the approval
(services/review_decisions.py) and settlement enqueue requests, and the payload is what a
request *is*; settlement.py only decides what an agency's answer does to the application. The queue
itself (claims, leases, attempts) is outbox.py, which imports no service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, inspect, select
from sqlalchemy.orm import Session

from .. import outbox
from ..clock import as_utc
from ..domain.agencies import FIRST_AGENCY, OPERATIONS, Agency, Operation
from ..domain.audit import AuditAction
from ..domain.dispatch import DUE, AttemptOutcome, DispatchState
from ..domain.dispatch import DispatchState as D
from ..domain.errors import Conflict, DomainError, NotFound
from ..domain.money import format_yuan
from ..domain.workflow import ApplicationKind
from ..models import (
    Application,
    DispatchAttempt,
    HeirClaim,
    MedicalPayment,
    MedicalRegistration,
    OutboxMessage,
    Person,
    SecurityEvent,
    Unit,
    UnitPaymentPerson,
)
from . import audit, heir_claims
from .officers import OfficerRef, active_officer, in_scope, region_clause
from .payout_accounts import payout_account

DEFAULT_PAGE_SIZE = 20

# --------------------------------------------------------------------------- enqueue


def enqueue_for_approval(
    session: Session, *, application: Application, at: datetime
) -> OutboxMessage:
    """The request an approval triggers: HRSS for pension and unit, medical security for medical.

    Call it in the approval's transaction (style habit 4): the approval, its audit row and
    this message commit together or not at all.
    """
    agency = FIRST_AGENCY[ApplicationKind(application.kind)]
    return _enqueue(session, application=application, agency=agency, at=at)


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """The request an approval will send, built before the approval is written (批量审核)."""

    application_id: int
    agency: Agency
    payload: dict[str, Any]


def approval_requests(
    session: Session, applications: Sequence[Application]
) -> dict[int, ApprovalRequest | DomainError]:
    """What :func:`enqueue_for_approval` would send for each application, or why it cannot
    be built (a payer gone): the rows the payloads read are loaded a few statements for all,
    then each payload is built exactly as for one approval."""
    held = _load_payload_rows(session, applications)  # held: the session keeps them weakly
    out: dict[int, ApprovalRequest | DomainError] = {}
    for app in applications:
        agency = FIRST_AGENCY[ApplicationKind(app.kind)]
        try:
            payload = _request_payload(session, application=app, agency=agency)
        except DomainError as exc:
            out[app.id] = exc
        else:
            out[app.id] = ApprovalRequest(app.id, agency, payload)
    del held
    return out


def enqueue_approvals(
    session: Session, requests: Sequence[ApprovalRequest], *, at: datetime
) -> int:
    """Queue requests :func:`approval_requests` built, in one INSERT (same transaction as the
    approvals, as :func:`enqueue_for_approval`)."""
    return outbox.enqueue_many(
        session,
        [
            outbox.NewMessage(r.application_id, r.agency, OPERATIONS[r.agency], r.payload)
            for r in requests
        ],
        at=at,
    )


_IN_CHUNK = 5000  # ids per IN list (SQLite's limit on bound parameters is 32,766)


def _load_payload_rows(session: Session, applications: Sequence[Application]) -> list[object]:
    """Every row an approval's payload reads, into the session's identity map, so that the
    ``session.get`` calls building it are answered without a statement each."""
    wanted: list[tuple[Any, set[Any]]] = [
        (Person, {a.person_id for a in applications}),
        (HeirClaim, {a.heir_claim_id for a in applications if a.heir_claim_id}),
        (Unit, {a.unit_id for a in applications if a.unit_id and a.unit_line_id}),
        (UnitPaymentPerson, {a.unit_line_id for a in applications if a.unit_line_id}),
        (MedicalPayment, {a.medical_payment_id for a in applications if a.medical_payment_id}),
        (MedicalRegistration, {a.registration_id for a in applications if a.registration_id}),
    ]
    held: list[object] = []
    for model, ids in wanted:
        key = inspect(model).primary_key[0]
        ordered = sorted(ids)
        for first in range(0, len(ordered), _IN_CHUNK):
            chunk = ordered[first : first + _IN_CHUNK]
            held.extend(session.execute(select(model).where(key.in_(chunk))).scalars())
    return held


def enqueue_payout(session: Session, *, application: Application, at: datetime) -> OutboxMessage:
    """The payout order to the bank, written when HRSS accepted / medical security verified."""
    return _enqueue(session, application=application, agency=Agency.BANK, at=at)


def _enqueue(
    session: Session, *, application: Application, agency: Agency, at: datetime
) -> OutboxMessage:
    return outbox.enqueue(
        session,
        application=application,
        agency=agency,
        operation=OPERATIONS[agency],
        payload=_request_payload(session, application=application, agency=agency),
        at=at,
    )


def _request_payload(
    session: Session, *, application: Application, agency: Agency
) -> dict[str, Any]:
    """What the agency needs, frozen at enqueue time: a resend with the same request id must
    carry the same request even if the application row is edited later."""
    app = application
    person = session.get(Person, app.person_id)
    if person is None:
        raise NotFound("person.not_found", "缴费人不存在")
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
    deceased = heir_claims.deceased_of(session, app.heir_claim_id) if app.heir_claim_id else None
    if deceased is not None:
        # 继承人代办: the payment is the deceased's; the heir applies and is paid (payee).
        base["payer"].update(id_number=deceased[0], name=deceased[1])
        base["heir"] = {"id_number": person.id_number, "name": person.name}
    if agency == Agency.HRSS:
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
    elif agency == Agency.MEDICAL_SECURITY:
        payment = session.get(MedicalPayment, app.medical_payment_id)
        reg = session.get(MedicalRegistration, app.registration_id) if app.registration_id else None
        base.update(
            payment_id=app.medical_payment_id,
            ticket_no=payment.ticket_no if payment else None,
            registration={"agency_code": reg.agency_code, "ss_code": reg.ss_code} if reg else None,
            reason_code=app.reason_code,
            reason_text=app.reason_text,
        )
    else:
        base["account"] = _payout_account(session, app, person)
        base["payee"] = _payee(session, app, person)
    return base


def _payee(session: Session, app: Application, person: Person) -> dict[str, Any]:
    """Whom the bank pays (domain.md "Payee = account holder"): the unit for a unit's refund,
    else the payer. The bank refuses the order when the account's holder is someone else."""
    unit = session.get(Unit, app.unit_id) if app.unit_id else None
    if unit is not None:
        return {"name": unit.name, "id": unit.tax_id}
    return {"name": person.name, "id": person.id_number}


def _payout_account(session: Session, app: Application, person: Person) -> dict[str, Any]:
    """The account the bank pays into: the copy on the application (payout_accounts.py)."""
    account = payout_account(session, app, payer_name=person.name)
    wire: dict[str, Any] = {
        "no": account.no,
        "name": account.name,
        "type": account.account_type,
        "bank_category": account.bank_category,
    }
    if account.branch is not None:
        wire["branch"] = account.branch
    return wire


# --------------------------------------------------------------------------- monitor


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    worker: str | None
    outcome: AttemptOutcome
    detail: str | None


@dataclass(frozen=True)
class DispatchView:
    """A message for the dispatch monitor. The payload is not here: it holds ID and account
    numbers, and the monitor needs none of them."""

    id: int
    application_id: int
    agency: Agency
    operation: Operation
    request_id: str
    state: DispatchState
    attempt_count: int
    next_attempt_at: datetime | None  # only while a try is scheduled (pending / unknown)
    claimed_by: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    attempts: tuple[AttemptView, ...]

    @property
    def can_retry(self) -> bool:
        return self.state == D.FAILED


@dataclass(frozen=True)
class DispatchPage:
    items: tuple[DispatchView, ...]
    total: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))


def list_dispatches(
    session: Session,
    *,
    state: DispatchState | None = None,
    agency: Agency | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    region_scope: str | None = None,
) -> DispatchPage:
    """The dispatch monitor: messages (newest change first) with their attempts.

    `region_scope` is the officer's division code: only messages of applications under it
    are listed. `page` and `page_size` are positive (the edges check them).
    """
    M = OutboxMessage
    conditions: list[ColumnElement[bool]] = []
    if state is not None:
        conditions.append(M.state == state.value)
    if agency is not None:
        conditions.append(M.agency == agency.value)
    if region_scope is not None:
        conditions.append(region_clause(Application.region_code, region_scope))
    base = select(M).join(Application, Application.id == M.application_id).where(*conditions)
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
    return DispatchPage(
        items=tuple(_view(m, attempts[m.id]) for m in rows),
        total=total,
        page=page,
        page_size=page_size,
    )


def retry_failed(
    session: Session, *, message_id: int, officer: OfficerRef, at: datetime
) -> DispatchView:
    """An officer sends a failed message again (dispatch monitor 重试).

    The message keeps its request id and its attempt history; it gets a fresh budget of
    attempts. If any earlier attempt's outcome was unknown it restarts as `unknown`, so the
    agency is asked before anything is sent. Audited as a SecurityEvent. 404 outside the
    officer's region; 409 unless the message is failed.
    """
    at = as_utc(at)
    who = active_officer(session, officer)
    msg = session.get(OutboxMessage, message_id)
    app = session.get(Application, msg.application_id) if msg is not None else None
    if msg is None or app is None or not in_scope(who, app.region_code):
        raise NotFound("dispatch.not_found", "派发记录不存在")
    if msg.superseded_at is not None:
        raise Conflict("dispatch.superseded", "该退付指令已由重新提交账户后的新指令取代，无需重试")
    if msg.state != D.FAILED:
        raise Conflict(
            "dispatch.not_failed",
            f"该派发当前为“{DispatchState(msg.state).label}”，只有发送失败的派发可以重试",
        )
    uncertain = (
        session.execute(
            select(func.count())
            .select_from(DispatchAttempt)
            .where(
                DispatchAttempt.message_id == msg.id,
                DispatchAttempt.outcome == AttemptOutcome.UNKNOWN.value,
            )
        ).scalar_one()
        > 0
    )
    if not outbox.requeue_failed(session, message_id=msg.id, ask_first=uncertain, at=at):
        raise Conflict("dispatch.changed", "该派发已被他人处理，请刷新后重试")
    session.add(
        SecurityEvent(
            at=at,
            kind="dispatch.retry",
            actor=f"officer:{who.code}",
            detail=f"message={msg.id} agency={msg.agency} application={msg.application_id}",
        )
    )
    audit.record(
        session,
        actor=audit.Actor.officer(who.code),
        action=AuditAction.DISPATCH_RETRY,
        at=at,
        subject=audit.Subject(application_id=msg.application_id),
        details={"message_id": msg.id, "agency": msg.agency},
    )
    session.flush()
    session.refresh(msg)
    return _view(msg, _attempts_of(session, [msg.id])[msg.id])


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


def _view(msg: OutboxMessage, attempts: list[DispatchAttempt]) -> DispatchView:
    state = DispatchState(msg.state)
    return DispatchView(
        id=msg.id,
        application_id=msg.application_id,
        agency=Agency(msg.agency),
        operation=Operation(msg.operation),
        request_id=msg.request_id,
        state=state,
        attempt_count=msg.attempts,
        next_attempt_at=as_utc(msg.next_attempt_at) if state in DUE else None,
        claimed_by=msg.claimed_by,
        last_error=msg.last_error,
        created_at=as_utc(msg.created_at),
        updated_at=as_utc(msg.updated_at),
        attempts=tuple(
            AttemptView(
                at=as_utc(a.at),
                worker=a.worker,
                outcome=AttemptOutcome(a.outcome),
                detail=a.detail,
            )
            for a in attempts
        ),
    )
