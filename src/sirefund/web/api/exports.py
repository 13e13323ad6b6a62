"""An officer's filtered report on the API (审计日志, 统计分析): its router, and the route of
its 导出Excel that answers an `OfficerExport`'s workbook, the JSON counterpart of
`pages.common.add_export_page`."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..deps import Clock, CurrentOfficer, DbSession
from ..errors import error_responses
from ..xlsx_download import XLSX_ROUTE, OfficerExport

T = TypeVar("T")


def report_router(forbidden: str) -> APIRouter:
    """The router of an officer's filtered report and its export, with the errors each of its
    routes may answer: 401, 403 (``forbidden``: who may not see the report) and 422 (a wrong
    filter)."""
    errors = error_responses(
        401,
        403,
        422,
        descriptions={401: "未登录", 403: forbidden, 422: "筛选条件不正确"},
    )
    return APIRouter(tags=["officer"], responses=errors)


def add_export_route(
    router: APIRouter,
    export: OfficerExport[T],
    filters: type[T],
    *,
    name: str,
    summary: str,
    description: str,
) -> None:
    """``GET export.path``: the workbook of the officer's ``filters`` (query parameters, no
    paging), named for today (China); the service's refusal is its error answer. ``name``
    keeps the OpenAPI operation id of the route it was declared as."""

    def download(officer: CurrentOfficer, db: DbSession, clock: Clock, q: Any) -> Response:
        with db.begin() as session:
            content = export.build(session, officer, q, clock.today())
        return export.download.response(content, clock.today())

    # FastAPI reads the query model from the annotation, which names this route's filters.
    download.__annotations__["q"] = Annotated[filters, Query()]
    router.add_api_route(
        export.path,
        download,
        methods=["GET"],
        name=name,
        summary=summary,
        description=description,
        **XLSX_ROUTE,
    )
