"""API routes: the audit log for officers with the `auditor` role (审计): browse and export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from ...services import audit_log
from ...services.audit_log import AuditFilters
from ...services.paging import MAX_PAGE_SIZE
from .. import audit_presenters
from ..deps import CurrentOfficer, DbSession
from .exports import add_export_route, report_router

_ROW = {
    "id": 1042,
    "at": "2026-03-10T09:30:00+00:00",
    "actor_kind": "officer",
    "actor_kind_label": "税务人员",
    "actor_id": "REV01",
    "action": "reveal",
    "action_label": "查看完整信息",
    "application_id": 17,
    "person_id": 3,
    "unit_id": None,
    "officer_id": None,
    "address": "10.20.30.40",
    "details": {"field": "id_number", "reason": "核对身份"},
}
_PAGE = {"items": [_ROW], "total": 1, "page": 1, "page_size": 20}

router = report_router("不是税务人员，或不是审计人员（auditor 角色）")


class AuditPageQuery(AuditFilters):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@router.get(
    "/officer/audit",
    summary="审计日志",
    responses={200: {"description": "成功", "content": {"application/json": {"example": _PAGE}}}},
)
def list_audit(
    officer: CurrentOfficer, db: DbSession, q: Annotated[AuditPageQuery, Query()]
) -> dict[str, Any]:
    """The audit log, newest first: who (actor), when, what (action and the application,
    person, unit or officer it is about), from which address, and details (never an ID,
    phone or card number). Filters: `application_id`, `actor` (`officer:CODE`,
    `person:ID`, `unit:ID`, `system`, or a bare officer code), `person_id`, `date_from`,
    `date_to` (China dates). Auditors only (403 `audit.not_auditor`)."""
    filters = AuditFilters.model_validate(q.model_dump(exclude={"page", "page_size"}))
    with db.begin() as session:
        found = audit_log.search(
            session, officer=officer, filters=filters, page=q.page, page_size=q.page_size
        )
    return audit_presenters.page(found)


add_export_route(
    router,
    audit_presenters.EXPORT,
    AuditFilters,
    name="export_audit",
    summary="导出审计日志（xlsx）",
    description="The filtered log (same filters, no paging) as an Excel workbook; every cell is text.",
)
