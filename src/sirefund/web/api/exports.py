"""An officer's filtered 导出Excel on the API (审计日志, 统计分析): the route that answers an
`OfficerExport`'s workbook, the JSON counterpart of `pages.common.add_export_page`."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..deps import Clock, CurrentOfficer, DbSession
from ..xlsx_download import XLSX_ROUTE, OfficerExport

T = TypeVar("T")


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
