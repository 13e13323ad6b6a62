"""API routes: 城乡居民基本养老保险退费（村组）, for units (api.md "Pension, unit"):
services/units.py presented by web/refund_presenters.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ...domain.rules import UnitPaymentType
from ...domain.workflow import ApplicationKind
from ...services import units
from ...services.accounts import Principal
from ...services.paging import MAX_PAGE_SIZE
from ...services.views import ApplicationView
from .. import presenters, refund_presenters
from ..deps import CurrentUnit, DbSession, current_unit
from .listing import create_once, page_of
from .params import ApplicationId, Paged, Paging, Year, year_query
from .refund_routes import Answer, Changed, account_reissue, add_refund_routes
from .refund_schemas import (
    ApplicationOut,
    BatchOut,
    CancelledOut,
    Page,
    UnitBatchIn,
    UnitPaymentOut,
    UnitPersonOut,
    UnitProgressOut,
    UnitProgressPersonOut,
    error_responses,
)

# Every route needs a logged-in unit.
router = APIRouter(tags=["unit"], responses=error_responses(401, 403))

UnitPaymentId = Annotated[
    str, Path(min_length=1, max_length=units.ID_MAX, description="缴费记录编号")
]
IdNumber = Annotated[str | None, Query(max_length=40, description="证件号码（完整号码）")]


@router.get(
    "/unit/payments",
    response_model=Page[UnitPaymentOut],
    summary="可退费查询：村组的缴费记录，含实缴人数与退费人数",
    responses=error_responses(422),
)
def list_payments(
    unit: CurrentUnit,
    db: DbSession,
    paging: Paged,
    year: Year = None,
    month: Annotated[
        int | None,
        Query(ge=units.FIRST_MONTH, le=units.LAST_MONTH, description="缴费月份"),
    ] = None,
    payment_type: Annotated[
        Literal["collective_subsidy", "special_group_proxy", "normal"] | None,
        Query(
            description="缴费类型：collective_subsidy 村集体补助 / special_group_proxy 特殊人群代缴"
        ),
    ] = None,
    id_number: IdNumber = None,
) -> dict[str, Any]:
    with db.begin() as session:
        rows = units.list_payments(
            session,
            unit_id=unit.account_id,
            year=year,
            month=month,
            payment_type=UnitPaymentType(payment_type) if payment_type else None,
            id_number=id_number,
        )
    return page_of(rows, paging, refund_presenters.unit_payment)


@router.get(
    "/unit/payments/{unit_payment_id}/persons",
    response_model=Page[UnitPersonOut],
    summary="选择区：缴费记录中的人员（证件号码脱敏）",
    responses=error_responses(404, 422),
)
def list_persons(
    unit_payment_id: UnitPaymentId,
    unit: CurrentUnit,
    db: DbSession,
    paging: Paged,
    id_number: IdNumber = None,
    name: Annotated[str | None, Query(max_length=50, description="姓名（可输入部分）")] = None,
) -> dict[str, Any]:
    with db.begin() as session:
        rows = units.list_persons(
            session,
            unit_id=unit.account_id,
            unit_payment_id=unit_payment_id,
            id_number=id_number,
            name=name,
        )
    return page_of(rows, paging, refund_presenters.unit_person)


@router.post(
    "/unit/refund-batches",
    status_code=201,
    response_model=BatchOut,
    summary="保存退费：一批，每个所选人员一条申请（支持 Idempotency-Key）",
    description="金额由所选人员计算；正常缴费返回 422 `unit.payment_type_not_refundable`；"
    "未选人员返回 422 `unit.no_person_selected`；已在申请中的人员返回 409。全部成功或全部不成功。",
    responses=error_responses(404, 409, 422),
)
def create_batch(
    body: UnitBatchIn, request: Request, unit: CurrentUnit, db: DbSession
) -> JSONResponse:
    def create(session: Session, at: datetime) -> dict[str, Any]:
        saved = units.save_batch(session, unit_id=unit.account_id, batch=body, at=at)
        return refund_presenters.saved_batch(saved)

    return create_once(request, db=db, principal=unit, body=body, create=create)


def _progress(
    session: Session, unit: Principal, paging: Paging, year: int | None
) -> dict[str, Any]:
    rows = units.progress(session, unit_id=unit.account_id, year=year)
    return page_of(rows, paging, refund_presenters.unit_refund)


def _cancel(
    session: Session, unit: Principal, application_id: int, at: datetime
) -> dict[str, list[int]]:
    cancelled = units.cancel(session, unit_id=unit.account_id, application_id=application_id, at=at)
    return {"cancelled": cancelled}


def _shown(session: Session, unit: Principal, view: ApplicationView) -> dict[str, Any]:
    return presenters.application(view)


add_refund_routes(
    router,
    path="/unit/refunds",
    kind=ApplicationKind.UNIT_PENSION,
    applicant=current_unit,
    query=year_query,
    progress=Answer("退费进度：每条申请一行", Page[UnitProgressOut], _progress),
    cancel=Answer("撤销退费：同一批次待审核的申请全部撤销", CancelledOut, _cancel),
    changed=Changed(
        "补正：按税务机关的补正意见修改后重新提交本单位的同一申请", ApplicationOut, _shown
    ),
    reissue=account_reissue(
        ApplicationKind.UNIT_PENSION,
        "重新提交账户：退付失败后改正单位账户，仅重新发送银行退付（不再送人社）",
        "仅本单位退付失败（refund_failed）的申请可以重新提交，否则 409 "
        "`application.not_reissuable`；银行账户名称须为单位名称（422 `bank_account_name.not_unit`）。",
    ),
)


@router.get(
    "/unit/refunds/{application_id}/persons",
    response_model=Page[UnitProgressPersonOut],
    summary="退费人数明细：姓名、证件号码、个人编号、缴费金额、所属期",
    responses=error_responses(404),
)
def list_refund_persons(
    application_id: ApplicationId, unit: CurrentUnit, db: DbSession
) -> dict[str, Any]:
    with db.begin() as session:
        rows = units.progress_persons(
            session, unit_id=unit.account_id, application_id=application_id
        )
    # Not paged by the client: the whole drill-down as one page of the largest size.
    return page_of(rows, Paging(1, MAX_PAGE_SIZE), refund_presenters.refund_person)
