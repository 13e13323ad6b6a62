"""The routes every kind of refund has under ``/{kind}/refunds`` (api.md: the applicant's
progress list, one application where the kind shows it, cancel), declared here once.
pension.py, unit.py and medical.py give each its kind's applicant, query parameters, service
calls and response models; the methods, status codes and error responses are the same for
every kind. ``/reissue`` (wave 2) takes a different body per kind (a corrected account, or a
deposit account for medical), so each kind module declares it with its own input model.
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

from ...services.accounts import Principal
from ..deps import Clock, DbSession, PrincipalOfKind
from .params import ApplicationId, Paged, Paging
from .refund_schemas import error_responses

Call = TypeVar("Call", bound=Callable[..., Any])
Query = TypeVar("Query")


@dataclass(frozen=True)
class Answer(Generic[Call]):
    """How one kind answers one route: its OpenAPI summary and response model, and ``call``,
    which runs inside the route's transaction with the logged-in applicant and gives the JSON
    answer."""

    summary: str
    response_model: Any
    call: Call


def add_refund_routes(
    router: APIRouter,
    *,
    path: str,
    applicant: PrincipalOfKind,
    query: Callable[..., Query],
    progress: Answer[Callable[[Session, Principal, Paging, Query], Any]],
    detail: Answer[Callable[[Session, Principal, int], Any]] | None = None,
    cancel: Answer[Callable[[Session, Principal, int, datetime], Any]],
) -> None:
    """``GET path``: a page of the applicant's refunds, filtered by the kind's ``query``
    parameters (a dependency); ``GET path/{application_id}`` when the kind has a ``detail``;
    ``POST path/{application_id}/cancel``."""
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
