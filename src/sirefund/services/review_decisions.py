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
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import workflow
from ..domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..domain.workflow import ApplicationStatus
from ..models import Application, Officer
from . import applications, dispatches, risk, views
from .applications import Actor
from .officers import OfficerRef, active_officer
from .review_detail import visible_application

OPINION_MAX = 500  # applications.review_opinion
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
    if app.initiated_by_officer_id is not None and app.initiated_by_officer_id == me.id:
        raise Forbidden("review.four_eyes", "发起人不能审核本人发起的退费申请")
    if app.status != ApplicationStatus.PENDING_REVIEW:
        label = workflow.labels(app.status, app.kind).refund_status
        raise Conflict("review.not_pending", f"该申请当前为“{label}”，不是待审核状态，不能审核")
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

    Each id runs in its own SAVEPOINT, so one failure (not pending, four eyes, out of scope)
    undoes only that id. A non-reviewer is refused as a whole (403). An approval leaves
    applications with 风险提示 out (``risk.confirm_individually``): those are confirmed one
    by one on the case.
    """
    me = active_officer(session, officer)
    _check_reviewer(me)
    outcomes: dict[int, BatchOutcome] = {}
    for app_id in _summary_lock_order(session, request.application_ids):
        try:
            with session.begin_nested():
                app = _decide(
                    session,
                    me=me,
                    application_id=app_id,
                    decision=request.decision,
                    opinion=request.opinion,
                    at=at,
                    in_batch=True,
                )
            outcomes[app_id] = BatchOutcome(app_id, ok=True, status=ApplicationStatus(app.status))
        except DomainError as exc:
            status = None
            if not isinstance(exc, NotFound):
                current = session.get(Application, app_id)
                status = ApplicationStatus(current.status) if current is not None else None
            outcomes[app_id] = BatchOutcome(
                app_id,
                ok=False,
                status=status,
                error_code=exc.code,
                error_message=exc.message,
            )
    return [outcomes[app_id] for app_id in request.application_ids]


def _summary_lock_order(session: Session, ids: list[int]) -> list[int]:
    """The ids in the order of the statistics summary rows their transitions update (region,
    kind, channel, month of application; services/stats_summary.py), unknown ids last.

    The summary's triggers lock one row per (region, month, status, kind, channel) until the
    transaction ends; two batches that met the same rows in opposite orders could deadlock on
    PostgreSQL. Walking every batch in one global order makes that impossible.
    """
    keys = {
        row.id: (row.region_code, row.kind, row.channel, row.created_at, row.id)
        for row in session.execute(
            select(
                Application.id,
                Application.region_code,
                Application.kind,
                Application.channel,
                Application.created_at,
            ).where(Application.id.in_(ids))
        )
    }
    known = sorted((i for i in ids if i in keys), key=keys.__getitem__)
    return known + [i for i in ids if i not in keys]
