"""税务端 page 统计分析: supervisors see their region at a glance (figures, bar charts by status,
kind and county, the trend by month) and export the same figures (xlsx). Other officers get
the 无权 answer (403)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import Forbidden
from ...services import statistics
from ...services.statistics import RegionStats, StatsFilters
from .. import stats_presenters
from ..deps import DbSession
from . import common, guard
from .common import in_transaction, render
from .officer import _base_context

router = APIRouter(include_in_schema=False)

_FIELDS = ("date_from", "date_to", "region")


def _filters(request: Request) -> tuple[dict[str, str], StatsFilters | None, dict[str, str]]:
    """(the query as typed, the filters or None when one is wrong, errors by field)."""
    return common.query_filters(
        request, StatsFilters, _FIELDS, max_chars=20, invalid=lambda _name: "请输入正确的日期"
    )


@router.get("/officer/stats")
async def stats_page(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    query, filters, errors = _filters(request)
    ctx = _base_context(principal, title="统计分析", nav="stats", crumbs=[("统计分析", None)])
    today = request.app.state.clock.today()
    found: RegionStats | None = None
    status_code = HTTPStatus.OK if filters is not None else HTTPStatus.UNPROCESSABLE_ENTITY
    allowed = True
    try:
        found = await in_transaction(
            db,
            lambda s: statistics.region_stats(
                s, officer=principal, filters=filters or StatsFilters(), today=today
            ),
        )
    except Forbidden as exc:
        if exc.code == "stats.not_supervisor":
            allowed = False
        errors = {exc.field or "_filters": exc.message}
        status_code = HTTPStatus.FORBIDDEN
        found = None
    keep = {k: v for k, v in query.items() if v}
    view: dict[str, Any] | None = None
    if found is not None and filters is not None:
        view = stats_presenters.stats(found)
    ctx.update(
        {
            "query": query,
            "filter_errors": errors,
            "allowed": allowed,
            "figures": view,
            "charts": stats_presenters.charts(found) if view is not None and found else None,
            "colours": {
                "bar": stats_presenters.BAR_COLOUR,
                "line": stats_presenters.LINE_COLOUR,
                "text": stats_presenters.TEXT_COLOUR,
                "grid": stats_presenters.GRID_COLOUR,
            },
            "refusal_rate": stats_presenters.percent(found.agency_refusal) if found else "--",
            "failure_rate": stats_presenters.percent(found.payment_failure) if found else "--",
            "export_url": stats_presenters.EXPORT.path + (f"?{urlencode(keep)}" if keep else ""),
        }
    )
    return render(request, "officer/stats.html", ctx, status_code=status_code)


# 导出Excel of what the page shows; the page again, with its 403, for officers
# without the role.
common.add_export_page(
    router, stats_presenters.EXPORT, filters=lambda request: _filters(request)[1], page=stats_page
)
