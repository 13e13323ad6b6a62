"""税务端 page 审计日志: auditors browse the audit log by application, actor, person and date,
and export what they filtered (xlsx). Other officers get the 无权 answer (403)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import Forbidden
from ...services import audit_log
from ...services.audit_log import AuditEntry, AuditFilters
from ...services.paging import Page
from .. import audit_presenters
from ..deps import DbSession
from . import common, guard
from .common import in_transaction, render
from .officer import _base_context

router = APIRouter(include_in_schema=False)

AUDIT_PAGE_SIZE = 20
_FIELDS = ("application_id", "actor", "person_id", "date_from", "date_to")


def _filters(request: Request) -> tuple[dict[str, str], AuditFilters | None, dict[str, str]]:
    """(the query as typed, the filters or None when one is wrong, errors by field)."""
    return common.query_filters(
        request,
        AuditFilters,
        _FIELDS,
        max_chars=80,
        invalid=lambda name: "请输入正确的日期" if name.startswith("date") else "请输入正整数",
    )


@router.get("/officer/audit")
async def audit_page(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    query, filters, errors = _filters(request)
    page_no = common.query_int(request, "page", default=1, minimum=1, maximum=1_000_000) or 1
    ctx = _base_context(principal, title="审计日志", nav="audit", crumbs=[("审计日志", None)])
    found: Page[AuditEntry] = Page(page_size=AUDIT_PAGE_SIZE)
    status_code = HTTPStatus.OK
    try:
        found = await in_transaction(
            db,
            lambda s: audit_log.search(
                s,
                officer=principal,
                filters=filters or AuditFilters(),
                page=page_no,
                page_size=AUDIT_PAGE_SIZE,
            ),
        )
        if filters is None:
            found = Page(page_size=AUDIT_PAGE_SIZE)
            status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    except Forbidden as exc:
        errors = {"_filters": exc.message}
        status_code = HTTPStatus.FORBIDDEN
    keep = {k: v for k, v in query.items() if v}
    rows: list[dict[str, Any]] = [
        {
            **audit_presenters.entry(e),
            "cn_time": audit_presenters.china_time(e),
            "details_text": e.details,
        }
        for e in found.items
    ]
    ctx.update(
        {
            "query": query,
            "filter_errors": errors,
            "rows": rows,
            "keep": keep,
            "pager": common.Pager(found.page, AUDIT_PAGE_SIZE, found.total),
            "export_url": audit_presenters.EXPORT.path + (f"?{urlencode(keep)}" if keep else ""),
            "allowed": status_code != HTTPStatus.FORBIDDEN,
        }
    )
    return render(request, "officer/audit.html", ctx, status_code=status_code)


# 导出Excel of what the page shows; the page again, with its 403, for officers
# without the role.
common.add_export_page(
    router, audit_presenters.EXPORT, filters=lambda request: _filters(request)[1], page=audit_page
)
