"""税务端 decisions: 审核通过 / 审核不通过, one application at a time or many with one shared
opinion. An approval queues the request to the first agency in the same transaction.

Rules: only reviewers decide (403 ``review.not_reviewer``); the initiator of an
officer-channel application may not review it (403 ``review.four_eyes``); outside the scope is
404 like an absent application; only pending applications can be decided (409). Functions
never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain import workflow
from ..domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..domain.workflow import ApplicationStatus
from ..models import Application, Officer
from . import applications, dispatches, risk, views
from .applications import Actor
from .officers import OfficerRef, active_officer, in_scope
from .review_detail import visible_application

OPINION_MAX = 500  # applications.review_opinion
#: Ids per 批量审核 request (and transaction). A batch holds the statistics summary rows of its
#: counties and months until it commits, and new applications there wait on them: 200 hold
#: them under 0.5 s; 10,000 are approved as 50 requests (bench/RESULTS.md "Batch approval").
MAX_BATCH = 200


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


VERDICTS = {Decision.APPROVE: "审核通过", Decision.REJECT: "审核不通过"}


def _opinion_required() -> Invalid:
    return Invalid("review.opinion_required", "审核不通过时必须填写税务机关意见", "opinion")


class _Opinion(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    opinion: str | None = Field(
        default=None, max_length=OPINION_MAX, description="税务机关意见（可选）"
    )

    @field_validator("opinion")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class ApproveRequest(_Opinion):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"opinion": "同意退费", "confirm_risk": True}]}
    )

    confirm_risk: bool = Field(
        default=False,
        description="确认风险：有风险提示的申请须逐件确认后才能通过（否则 409 risk.unconfirmed）",
    )


class RejectRequest(_Opinion):
    """The opinion (税务机关意见) is required; it is optional in the schema so that a missing
    one answers ``review.opinion_required``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"opinion": "缴费记录已到账，请联系主管税务机关"}]}
    )

    @model_validator(mode="after")
    def _required(self) -> RejectRequest:
        if self.opinion is None:
            raise _opinion_required()
        return self


class BatchReview(_Opinion):
    """批量审核: many ids, one decision, one shared opinion (required when rejecting)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"application_ids": [101, 102, 103], "decision": "approve", "opinion": "同意"}
            ]
        }
    )

    application_ids: list[int] = Field(min_length=1, max_length=MAX_BATCH)
    decision: Decision

    @field_validator("application_ids")
    @classmethod
    def _once_each(cls, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))

    @model_validator(mode="after")
    def _required(self) -> BatchReview:
        if self.decision == Decision.REJECT and self.opinion is None:
            raise _opinion_required()
        return self


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The result for one id of a batch: ``status`` is None for an id that is absent or
    outside the scope; ``error_code``/``error_message`` say why a failed id failed."""

    id: int
    ok: bool
    status: ApplicationStatus | None
    error_code: str | None = None
    error_message: str | None = None


def _check_reviewer(officer: Officer) -> None:
    if not officer.is_reviewer:
        raise Forbidden("review.not_reviewer", "您没有审核权限")


def risk_unconfirmed() -> Conflict:
    return Conflict(
        "risk.unconfirmed", "该申请有风险提示，请核实后勾选“确认风险”再审核通过", "confirm_risk"
    )


def risk_confirm_individually() -> Conflict:
    return Conflict(
        "risk.confirm_individually", "该申请有风险提示，不能批量通过，请逐件核实确认", None
    )


def _decide(
    session: Session,
    *,
    me: Officer,
    application_id: int,
    decision: Decision,
    opinion: str | None,
    at: datetime,
    risk_confirmed: bool = False,
    in_batch: bool = False,
) -> Application:
    _check_reviewer(me)
    app = visible_application(session, me, application_id, lock=True)
    _check_decidable(me, app)
    approve = decision == Decision.APPROVE
    flagged = approve and risk.is_flagged(session, app.id)
    if flagged and in_batch:
        raise risk_confirm_individually()
    if flagged and not risk_confirmed:
        raise risk_unconfirmed()
    target = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    verdict = VERDICTS[decision]
    # The reviewer, opinion and time go into the same conditional UPDATE as the status, so a
    # concurrent decision cannot leave one officer's status with another's opinion.
    applications.transition(
        session,
        application=app,
        target=target,
        actor=Actor.officer(me.code),
        at=at,
        reason=_reason(verdict, opinion, risk_confirmed=flagged),
        values={"reviewed_by_officer_id": me.id, "review_opinion": opinion, "reviewed_at": at},
    )
    if approve:
        # Same transaction as the approval: both commit or neither does.
        dispatches.enqueue_for_approval(session, application=app, at=at)
    session.refresh(app)
    return app


def _check_decidable(me: Officer, app: Application) -> None:
    """Four eyes, then pending: the rules every decision checks once the application is
    found in scope and locked."""
    if app.initiated_by_officer_id is not None and app.initiated_by_officer_id == me.id:
        raise Forbidden("review.four_eyes", "发起人不能审核本人发起的退费申请")
    if app.status != ApplicationStatus.PENDING_REVIEW:
        label = workflow.labels(app.status, app.kind).refund_status
        raise Conflict("review.not_pending", f"该申请当前为“{label}”，不是待审核状态，不能审核")


def _reason(verdict: str, opinion: str | None, *, risk_confirmed: bool) -> str:
    """The history line: the verdict, the opinion, and that the officer confirmed the risk."""
    text = f"{verdict}：{opinion}" if opinion else verdict
    return f"{text}（已确认风险提示）" if risk_confirmed else text


def _decide_one(
    session: Session,
    *,
    officer: OfficerRef,
    application_id: int,
    decision: Decision,
    opinion: str | None,
    at: datetime,
    risk_confirmed: bool = False,
) -> views.ApplicationView:
    me = active_officer(session, officer)
    app = _decide(
        session,
        me=me,
        application_id=application_id,
        decision=decision,
        opinion=opinion,
        at=at,
        risk_confirmed=risk_confirmed,
    )
    return views.application(app, audience="officer")


def approve(
    session: Session,
    *,
    officer: OfficerRef,
    application_id: int,
    request: ApproveRequest | None = None,
    at: datetime,
) -> views.ApplicationView:
    """审核通过: pending -> approved, with the officer, opinion (optional) and time, plus the
    request to the first agency in the outbox. 409 ``review.not_pending`` (or
    ``application.changed`` when another officer decided in between); 409
    ``risk.unconfirmed`` for an application with 风险提示 unless ``confirm_risk``."""
    opinion = request.opinion if request is not None else None
    return _decide_one(
        session,
        officer=officer,
        application_id=application_id,
        decision=Decision.APPROVE,
        opinion=opinion,
        at=at,
        risk_confirmed=request is not None and request.confirm_risk,
    )


def reject(
    session: Session,
    *,
    officer: OfficerRef,
    application_id: int,
    request: RejectRequest,
    at: datetime,
) -> views.ApplicationView:
    """审核不通过: pending -> rejected with the opinion; nothing is sent to any agency."""
    return _decide_one(
        session,
        officer=officer,
        application_id=application_id,
        decision=Decision.REJECT,
        opinion=request.opinion,
        at=at,
    )


def review_many(
    session: Session, *, officer: OfficerRef, request: BatchReview, at: datetime
) -> list[BatchOutcome]:
    """Approve or reject many applications with one shared opinion: an outcome per id, in the
    order given (duplicates once).

    Set-based: the applications are locked and loaded in one statement, in the global order
    of the statistics summary rows (:func:`_lock_in_summary_order`); each is checked in Python
    (in scope, four eyes, pending, and for an approval no 风险提示); the ones that pass are
    written together — their status updates as one executemany in that order, then their
    history, audit rows, notices and agency requests each in one INSERT. An id that fails
    its checks is left untouched and gets its error, the others go ahead (as if each ran in
    its own SAVEPOINT). A non-reviewer is refused as a whole (403). An approval leaves
    applications with 风险提示 out (``risk.confirm_individually``): those are confirmed one
    by one on the case.
    """
    me = active_officer(session, officer)
    _check_reviewer(me)
    approve = request.decision == Decision.APPROVE
    rows = _lock_in_summary_order(session, request.application_ids)
    flagged = risk.flagged_among(session, [app.id for app in rows]) if approve else set()
    outcomes: dict[int, BatchOutcome] = {}
    chosen: list[Application] = []
    for app in rows:
        try:
            if not in_scope(me, app.region_code):
                raise applications.application_not_found()
            _check_decidable(me, app)
            if app.id in flagged:
                raise risk_confirm_individually()
        except DomainError as exc:
            outcomes[app.id] = _failed(app.id, app, exc)
        else:
            chosen.append(app)
    requests: list[dispatches.ApprovalRequest] = []
    if approve:
        built = dispatches.approval_requests(session, chosen)
        for app in list(chosen):
            made = built[app.id]
            if isinstance(made, DomainError):
                outcomes[app.id] = _failed(app.id, app, made)
                chosen.remove(app)
            else:
                requests.append(made)
    target = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    for app in chosen:  # before the writes expire them (reading one after would reload it)
        outcomes[app.id] = BatchOutcome(app.id, ok=True, status=target)
    _write_decisions(session, me, chosen, request=request, at=at)
    dispatches.enqueue_approvals(session, requests, at=at)
    return [
        outcomes.get(app_id) or _failed(app_id, None, applications.application_not_found())
        for app_id in request.application_ids
    ]


def _write_decisions(
    session: Session,
    me: Officer,
    chosen: list[Application],
    *,
    request: BatchReview,
    at: datetime,
) -> None:
    approve = request.decision == Decision.APPROVE
    applications.transition_many(
        session,
        applications=chosen,
        target=ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED,
        actor=Actor.officer(me.code),
        at=at,
        reason=_reason(VERDICTS[request.decision], request.opinion, risk_confirmed=False),
        values={
            "reviewed_by_officer_id": me.id,
            "review_opinion": request.opinion,
            "reviewed_at": at,
        },
    )


def _failed(app_id: int, app: Application | None, exc: DomainError) -> BatchOutcome:
    """An id's failure, with its current status (None when absent or outside the scope)."""
    status = None
    if app is not None and not isinstance(exc, NotFound):
        status = ApplicationStatus(app.status)
    return BatchOutcome(
        app_id, ok=False, status=status, error_code=exc.code, error_message=exc.message
    )


def _summary_key(app: Application) -> tuple[str, str, str, datetime, int]:
    return (app.region_code, app.kind, app.channel, app.created_at, app.id)


def _lock_in_summary_order(session: Session, ids: list[int]) -> list[Application]:
    """The applications with these ids, locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN
    IMMEDIATE holds the write lock) and loaded afresh in one statement, in the global order
    of the statistics summary rows their transitions update: region, kind, channel, time of
    application (the month), id.

    The summary's triggers lock one row per (region, month, status, kind, channel) until the
    transaction ends; two batches that met the same rows in opposite orders could deadlock
    on PostgreSQL. Locking the applications, and updating them (applications.transition_many),
    in this one global order makes that impossible.
    """
    a = Application
    order = (a.region_code, a.kind, a.channel, a.created_at, a.id)
    if session.get_bind().dialect.name == "postgresql":
        wanted = bindparam("ids", value=list(ids), type_=ARRAY(BigInteger()))
        query = select(a).where(a.id == any_(wanted)).order_by(*order).with_for_update()
        return list(session.execute(query.execution_options(populate_existing=True)).scalars())
    found: list[Application] = []
    for first in range(0, len(ids), _IN_CHUNK):  # SQLite binds at most 32,766 parameters
        chunk = ids[first : first + _IN_CHUNK]
        found.extend(
            session.execute(
                select(a).where(a.id.in_(chunk)).execution_options(populate_existing=True)
            ).scalars()
        )
    return sorted(found, key=_summary_key)


_IN_CHUNK = 5000
