"""The officer's filtered 导出Excel on the API (``GET /officer/audit.xlsx``,
``GET /officer/stats.xlsx``): the same query parameters as the figures' route, the workbook of
an OfficerExport, declared once.
"""

# No ``from __future__ import annotations`` here: the route function is built per export
# inside add_export_route, and FastAPI could not resolve annotations naming its arguments (the
# export's filters) if they were left as strings.

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from ..deps import Clock, CurrentOfficer, DbSession
from ..xlsx_download import XLSX_ROUTE, OfficerExport

Filters = TypeVar("Filters")


def add_export_route(
    router: APIRouter,
    export: OfficerExport[Filters],
    *,
    filters: Callable[..., Filters],
    name: str,
    summary: str,
    description: str,
) -> None:
    """``GET`` the export's path: its workbook for the logged-in officer, named for today;
    ``filters`` is a dependency whose one parameter is the filters model, read from the query
    (as if declared on the route)."""

    @router.get(export.path, summary=summary, description=description, name=name, **XLSX_ROUTE)
    def export_workbook(
        officer: CurrentOfficer,
        db: DbSession,
        clock: Clock,
        q: Annotated[Any, Depends(filters)],
    ) -> Response:
        with db.begin() as session:
            content = export.build(session, officer, q, clock.today())
        return export.download.response(content, clock.today())
