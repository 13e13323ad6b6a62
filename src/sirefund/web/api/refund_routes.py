"""The routes every kind of refund has under ``/{kind}/refunds`` (api.md: the applicant's
progress list, one application where the kind shows it, cancel, 补正 and 重新提交账户),
declared here once. pension.py, unit.py and medical.py give each its kind's applicant, query
parameters, service calls and response models; the methods, status codes and error responses
are the same for every kind. ``/reissue`` takes a different body per kind (a corrected
account, or a deposit account for medical): the kind gives it as a dependency whose one
parameter is its input model, so the request body is that model, as if declared on the route.
"""

# No ``from __future__ import annotations`` here: the route functions are built per kind inside
# add_refund_routes, and FastAPI could not resolve annotations naming its arguments (the kind's
# dependencies) if they were left as strings.

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from ...domain.workflow import ApplicationKind
from ...services import corrections, reissue
from ...services.accounts import Principal
from ...services.audit import Actor
from ...services.bank_details import PayoutAccountIn
from ...services.corrections import CorrectionIn
from ...services.views import ApplicationView
from ..deps import Clock, DbSession, PrincipalOfKind
from .params import ApplicationId, Paged, Paging
from .refund_schemas import error_responses

Call = TypeVar("Call", bound=Callable[..., Any])
Query = TypeVar("Query")
Body = TypeVar("Body")

CORRECT_SUMMARY = "补正：按税务机关的补正意见修改后重新提交同一申请"
#: The same rule for every kind (services/corrections.py).
CORRECTION_NOTE = (
    "仅待补正（returned）的申请可以补正，否则 409 `application.not_returned`；只能修改"
    "税务机关要求补正的项目，修改其他项目返回 422 `correction.field_not_requested`。成功后同一申请"
    "回到待审核（pending_review），状态记录保留。"
)


@dataclass(frozen=True)
class Answer(Generic[Call]):
    """How one kind answers one route: its OpenAPI summary and response model, and ``call``,
    which runs inside the route's transaction with the logged-in applicant and gives the JSON
    answer."""

    summary: str
    response_model: Any
    call: Call


@dataclass(frozen=True)
class Changed:
    """How one kind answers 补正 and 重新提交账户: the response model and ``present``, which
    shows the changed application inside the same transaction."""

    correct_summary: str
    response_model: Any
    present: Callable[[Session, Principal, ApplicationView], Any]


@dataclass(frozen=True)
class Reissue(Generic[Body]):
    """How one kind answers ``POST .../reissue``: ``body``, a dependency whose one parameter
    is the kind's input model (the request body), and ``call``, the kind's use case."""

    summary: str
    description: str
    body: Callable[..., Body]
    call: Callable[[Session, Principal, int, Body, datetime], ApplicationView]


def _payout_account(body: PayoutAccountIn) -> PayoutAccountIn:
    """The body of a pension or unit ``/reissue``: the corrected account (a dependency)."""
    return body


def account_reissue(
    kind: ApplicationKind, summary: str, description: str
) -> Reissue[PayoutAccountIn]:
    """``/reissue`` of a pension refund, the person's or the unit's: paid again to the
    corrected account in the body."""

    def call(
        session: Session,
        owner: Principal,
        application_id: int,
        account: PayoutAccountIn,
        at: datetime,
    ) -> ApplicationView:
        return reissue.reissue_pension(
            session,
            owner=Actor.applicant(kind, owner.account_id),
            application_id=application_id,
            account=account,
            at=at,
        )

    return Reissue(summary, description, _payout_account, call)


def add_refund_routes(
    router: APIRouter,
    *,
    path: str,
    kind: ApplicationKind,
    applicant: PrincipalOfKind,
    query: Callable[..., Query],
    progress: Answer[Callable[[Session, Principal, Paging, Query], Any]],
    detail: Answer[Callable[[Session, Principal, int], Any]] | None = None,
    cancel: Answer[Callable[[Session, Principal, int, datetime], Any]],
    changed: Changed,
    reissue: Reissue[Body],
) -> None:
    """``GET path``: a page of the applicant's refunds, filtered by the kind's ``query``
    parameters (a dependency); ``GET path/{application_id}`` when the kind has a ``detail``;
    ``POST path/{application_id}/cancel``; ``POST path/{application_id}/reissue`` and
    ``PUT path/{application_id}`` (补正), both answered by ``changed``."""
    Applicant = Annotated[Principal, Depends(applicant)]

    @router.get(
        path,
        response_model=progress.response_model,
        summary=progress.summary,
        responses=error_responses(422),
    )
    # The kind's filters come before the paging: the OpenAPI document lists their parameters
    # in this order, as it did when each kind declared them on its own route.
    def list_refunds(
        owner: Applicant, db: DbSession, filters: Annotated[Any, Depends(query)], paging: Paged
    ) -> Any:
        with db.begin() as session:
            return progress.call(session, owner, paging, filters)

    if detail is not None:
        answer_detail = detail.call

        @router.get(
            f"{path}/{{application_id}}",
            response_model=detail.response_model,
            summary=detail.summary,
            responses=error_responses(404),
        )
        def get_refund(application_id: ApplicationId, owner: Applicant, db: DbSession) -> Any:
            with db.begin() as session:
                return answer_detail(session, owner, application_id)

    @router.post(
        f"{path}/{{application_id}}/cancel",
        response_model=cancel.response_model,
        summary=cancel.summary,
        responses=error_responses(404, 409),
    )
    def cancel_refund(
        application_id: ApplicationId, owner: Applicant, db: DbSession, clock: Clock
    ) -> Any:
        with db.begin() as session:
            return cancel.call(session, owner, application_id, clock.now())

    @router.post(
        f"{path}/{{application_id}}/reissue",
        response_model=changed.response_model,
        summary=reissue.summary,
        description=reissue.description,
        responses=error_responses(404, 409, 422),
    )
    def reissue_refund(
        application_id: ApplicationId,
        body: Annotated[Any, Depends(reissue.body)],
        owner: Applicant,
        db: DbSession,
        clock: Clock,
    ) -> Any:
        with db.begin() as session:
            view = reissue.call(session, owner, application_id, body, clock.now())
            return changed.present(session, owner, view)

    @router.put(
        f"{path}/{{application_id}}",
        response_model=changed.response_model,
        summary=changed.correct_summary,
        description=CORRECTION_NOTE,
        responses=error_responses(404, 409, 422),
    )
    def correct_refund(
        application_id: ApplicationId,
        body: CorrectionIn,
        owner: Applicant,
        db: DbSession,
        clock: Clock,
    ) -> Any:
        with db.begin() as session:
            view = corrections.correct(
                session,
                owner=Actor.applicant(kind, owner.account_id),
                kind=kind,
                application_id=application_id,
                correction=body,
                at=clock.now(),
            )
            return changed.present(session, owner, view)
