"""GET /officer/reconciliations: the newest three-way reconciliation (三方对账) of a day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from ...domain.errors import NotFound
from ...services import reconciliation
from ..deps import CurrentOfficer, DbSession
from ..errors import error_responses
from .reconciliation_schemas import EXAMPLE, ReconciliationOut

router = APIRouter(tags=["税务端"])


@router.get(
    "/officer/reconciliations",
    summary="三方对账结果",
    response_model=ReconciliationOut,
    responses={
        200: {"description": "成功", "content": {"application/json": {"example": EXAMPLE}}},
        **error_responses(
            401,
            403,
            404,
            422,
            descriptions={404: "该日期尚未对账", 403: "不是税务人员", 422: "日期格式不正确"},
        ),
    },
)
def get_reconciliation(
    officer: CurrentOfficer,
    db: DbSession,
    day: Annotated[date, Query(alias="date", description="对账日期（北京时间）YYYY-MM-DD")],
) -> ReconciliationOut:
    """Per agency our count and amount beside the agency statement's, and every
    discrepancy (missing_at_agency, unknown_to_us, amount_differs, account_differs,
    paid_twice) of the newest run of that day: those of applications within the officer's
    region and those naming no application of ours. 404 if the day was never reconciled
    (`sirefund reconcile --date`)."""
    with db.begin() as session:
        view = reconciliation.latest(session, day=day, region_scope=officer.region_code)
    if view is None:
        raise NotFound("reconciliation.not_found", "该日期尚未对账")
    return ReconciliationOut.of(view)
