"""API routes: 统计分析 for officers with the `supervisor` role: the figures and their .xlsx."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ...services import statistics
from ...services.statistics import StatsFilters
from .. import stats_presenters
from ..deps import Clock, CurrentOfficer, DbSession
from .exports import add_export_route, report_router

_BUCKET = {"key": "420703", "label": "华容区", "count": 120, "amount": "36000.00"}
_EXAMPLE = {
    "region": "420700",
    "region_name": "鄂州市",
    "date_from": "2026-01-01",
    "date_to": "2026-06-30",
    "total": {"count": 120, "amount": "36000.00"},
    "by_status": [
        {"key": "pending_review", "label": "待审核", "count": 20, "amount": "6000.00"},
        {"key": "refunded", "label": "退费成功", "count": 100, "amount": "30000.00"},
    ],
    "by_kind": [
        {"key": "pension", "label": "城乡居民养老保险（个人）", "count": 120, "amount": "36000.00"}
    ],
    "by_channel": [{"key": "web", "label": "电子税务局", "count": 120, "amount": "36000.00"}],
    "by_region": [_BUCKET],
    "by_month": [{"key": "2026-03", "label": "2026年3月", "count": 120, "amount": "36000.00"}],
    "days_to_refund": {"p50": 6, "p90": 14, "refunded": 100},
    "overdue": 3,
    "agency_refusal": {"count": 2, "of": 102, "rate": 0.0196},
    "payment_failure": {"count": 0, "of": 100, "rate": 0.0},
}

router = report_router("不是统计分析人员（supervisor 角色），或所选地区不在管辖范围内")


@router.get(
    "/officer/stats",
    summary="统计分析",
    responses={
        200: {"description": "成功", "content": {"application/json": {"example": _EXAMPLE}}}
    },
)
def region_stats(
    officer: CurrentOfficer, db: DbSession, clock: Clock, q: Annotated[StatsFilters, Query()]
) -> dict[str, Any]:
    """The region at a glance: counts and amounts (yuan) `by_status`, `by_kind`,
    `by_channel`, `by_region` (county) and `by_month` (China months), each
    `[{key, label, count, amount}]`; `days_to_refund` (working days from application to
    payment: `p50`, `p90`); `overdue` (pending past 30 working days today);
    `agency_refusal` and `payment_failure` rates. Filters: `date_from`, `date_to` (China
    dates of application) and `region` (within the officer's own; 403
    `stats.region_out_of_scope` otherwise). Supervisors only (403 `stats.not_supervisor`)."""
    with db.begin() as session:
        found = statistics.region_stats(session, officer=officer, filters=q, today=clock.today())
    return stats_presenters.stats(found)


add_export_route(
    router,
    stats_presenters.EXPORT,
    StatsFilters,
    name="export_stats",
    summary="导出统计分析（xlsx）",
    description="The same figures as an Excel workbook (a sheet 概况 and one per grouping).",
)
