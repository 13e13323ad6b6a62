"""API routes: 城乡居民基本养老保险退费（个人）, for persons (api.md "Pension, person"):
services/pension.py presented by web/refund_presenters.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ...domain.rules import ArrivalStatus
from ...domain.workflow import ApplicationKind
from ...services import pension, queries
from ...services.accounts import Principal
from ...services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ...services.queries import PENSION_STATES, PensionState
from ...services.views import ApplicationView
from .. import presenters, refund_presenters
from ..deps import (
    CurrentPerson,
    DbSession,
    PersonReader,
    PersonReading,
    current_person,
)
from ..lean_route import (
    ChoiceQuery,
    IntQuery,
    PlainQuery,
    QuerySpec,
    add_hot_read,
    person_read,
)
from .listing import create_once, page_of
from .params import PAGE_NO_MAX, YEAR_MAX, YEAR_MIN, HeirClaimId, Paged, Paging, Year, year_query
from .refund_routes import (
    CORRECT_SUMMARY,
    Answer,
    Changed,
    account_reissue,
    add_refund_routes,
)
from .refund_schemas import (
    ApplicationDetailOut,
    ApplicationOut,
    ApplicationsOut,
    Page,
    PensionPaymentOut,
    PensionRefundIn,
    error_responses,
)

# Every route needs a logged-in person.
router = APIRouter(tags=["pension"], responses=error_responses(401, 403))


def list_payments(
    reader: PersonReading,
    paging: Paged,
    year: Year = None,
    state: Annotated[
        PensionState,
        Query(description="查询状态：refundable 可退费 / applied 已申请 / all 全部"),
    ] = "all",
    arrival_status: Annotated[
        ArrivalStatus | None,
        Query(
            description="到账状态：not_arrived 未到账 / abnormal 异常 / arrived 已到账；不填为全部"
        ),
    ] = None,
    heir_claim_id: HeirClaimId = None,
) -> JSONResponse:
    return JSONResponse(_payments(reader, paging, year, state, arrival_status, heir_claim_id))


def _payments(
    reader: PersonReader,
    paging: Paging,
    year: int | None,
    state: PensionState,
    arrival_status: ArrivalStatus | None,
    heir_claim_id: int | None,
) -> dict[str, Any]:
    # One plain connection for the session lookup and the payments; the answer is built
    # as the response model's very fields (refund_presenters.pension_line), so it is sent as it
    # is, without FastAPI validating it again against the model (issue 12).
    if heir_claim_id is not None:
        with reader.read() as read:
            rows = pension.heir_payments(
                read.session,
                person_id=read.person.account_id,
                heir_claim_id=heir_claim_id,
                year=year,
                state=state,
                arrival=arrival_status,
            )
        return page_of(rows, paging, refund_presenters.pension_line)

    def joined(session: Session, token_hash: str) -> queries.SessionAndPensionRows | None:
        return queries.pension_payments_with_session(
            session, token_hash=token_hash, year=year, state=state, arrival=arrival_status
        )

    # On PostgreSQL the session lookup and the payments are one statement (issue 12).
    with reader.read_with(joined) as (read, first):
        rows = pension.payments(
            read.session,
            person_id=read.person.account_id,
            year=year,
            state=state,
            arrival=arrival_status,
            payer=read.payer,
            rows=first,
        )
    return page_of(rows, paging, refund_presenters.pension_line)


#: What the lean path of GET /pension/payments parses itself (lean_route.py): the parameters
#: of `list_payments` with their declared bounds; the heir's read goes to FastAPI's handler.
PAYMENTS_QUERY: QuerySpec = {
    "page": IntQuery(1, PAGE_NO_MAX, 1),
    "page_size": IntQuery(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    "year": IntQuery(YEAR_MIN, YEAR_MAX),
    "state": ChoiceQuery(frozenset(PENSION_STATES), "all"),
    "arrival_status": ChoiceQuery(frozenset(s.value for s in ArrivalStatus)),
    "heir_claim_id": None,
}


def _lean_payments(reader: PersonReader, query: PlainQuery, _request: Request) -> dict[str, Any]:
    """GET /pension/payments without FastAPI's dependency solving (lean_route.py)."""
    arrival = query.texts["arrival_status"]
    return _payments(
        reader,
        Paging(query.number("page"), query.number("page_size")),
        query.ints["year"],
        cast("PensionState", query.texts["state"]),
        ArrivalStatus(arrival) if arrival else None,
        None,
    )


#: GET /pension/payments, documented here; app.py adds its hot copy ahead of the included routers.
add_hot_route = add_hot_read(
    router,
    "/pension/payments",
    list_payments,
    person_read(PAYMENTS_QUERY, _lean_payments),
    response_model=Page[PensionPaymentOut],
    summary="退费信息查询：本人的城乡居民养老保险缴费（继承人代办：已故参保人的缴费）",
    responses=error_responses(404, 409, 422),
)


@router.post(
    "/pension/refunds",
    status_code=201,
    response_model=ApplicationsOut,
    summary="申请退费：每条所选缴费一条申请（支持 Idempotency-Key）",
    description="已到账的缴费返回 422 `pension.arrived_needs_officer`；已申请的返回 409 "
    "`application.already_applied`；他人的缴费返回 404。全部成功或全部不成功。",
    responses=error_responses(404, 409, 422),
)
def apply_refund(
    body: PensionRefundIn, request: Request, person: CurrentPerson, db: DbSession
) -> JSONResponse:
    def create(session: Session, at: datetime) -> dict[str, Any]:
        created = pension.apply(session, person_id=person.account_id, refund=body, at=at)
        return {"applications": [presenters.application(a) for a in created]}

    return create_once(request, db=db, principal=person, body=body, create=create)


def _progress(
    session: Session, person: Principal, paging: Paging, year: int | None
) -> dict[str, Any]:
    rows = pension.progress(session, person_id=person.account_id, year=year)
    return page_of(rows, paging, refund_presenters.pension_refund)


def _detail(session: Session, person: Principal, application_id: int) -> dict[str, Any]:
    found = pension.detail(session, person_id=person.account_id, application_id=application_id)
    return refund_presenters.pension_refund_detail(found)


def _cancel(
    session: Session, person: Principal, application_id: int, at: datetime
) -> dict[str, Any]:
    view = pension.cancel(
        session, person_id=person.account_id, application_id=application_id, at=at
    )
    return {**presenters.application(view), "cancellable": False}


def _shown(session: Session, person: Principal, view: ApplicationView) -> dict[str, Any]:
    return _detail(session, person, view.id)


add_refund_routes(
    router,
    path="/pension/refunds",
    kind=ApplicationKind.PENSION,
    applicant=current_person,
    query=year_query,
    progress=Answer("退费进度查询", Page[ApplicationOut], _progress),
    detail=Answer("一条退费申请及其状态记录", ApplicationDetailOut, _detail),
    cancel=Answer("撤销退费：仅待审核的申请", ApplicationOut, _cancel),
    changed=Changed(CORRECT_SUMMARY, ApplicationDetailOut, _shown),
    reissue=account_reissue(
        ApplicationKind.PENSION,
        "重新提交账户：退付失败后改正账户，仅重新发送银行退付（不再送人社）",
        "仅退付失败（refund_failed）的本人申请可以重新提交，否则 409 "
        "`application.not_reissuable`；银行账户名称须为缴费人本人姓名（422 "
        "`bank_account_name.not_payer`）。成功后申请回到“人社退费中”（at_agency），每次尝试都留在状态记录中。",
    ),
)
