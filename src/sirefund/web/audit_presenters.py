"""The audit log's rows as the API and the 税务端 page show them, and as an .xlsx export.

Cells that come from data are written as text, never as a formula: a value beginning with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return would otherwise run in the auditor's
spreadsheet (OWASP, CSV injection); control characters are dropped, which openpyxl refuses.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..services import audit_log
from ..services.accounts import Principal
from ..services.audit_log import AuditEntry, AuditFilters
from ..services.paging import Page
from ..services.views import ACTOR_LABELS
from . import presenters
from .presenters import AGENCY_LABELS, iso
from .xlsx_download import OfficerExport, XlsxDownload

EXPORT_HEADERS = (
    "序号",
    "时间（北京时间）",
    "操作人类型",
    "操作人",
    "操作",
    "申请编号",
    "缴费人编号",
    "单位编号",
    "税务人员编号",
    "来源地址",
    "详情",
)
_ACTOR_LABELS = {**ACTOR_LABELS, "anonymous": "未登录"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def actor_label(kind: str) -> str:
    return _ACTOR_LABELS.get(kind, kind)


def actor_text(kind: str, actor_id: str | None) -> str:
    """Who acted, in words: 税务人员 OF0001, 人社, 缴费人（编号 200）, 系统."""
    label = actor_label(kind)
    if not actor_id:
        return label
    if kind == "agency":
        return AGENCY_LABELS.get(actor_id, label)
    if kind == "officer":
        return f"{label} {actor_id}"
    if kind in ("person", "unit"):
        return f"{label}（编号 {actor_id}）"
    return label


def entry(e: AuditEntry) -> dict[str, Any]:
    return {
        "actor_text": actor_text(e.actor_kind, e.actor_id),
        "id": e.id,
        "at": iso(e.at),
        "actor_kind": e.actor_kind,
        "actor_kind_label": actor_label(e.actor_kind),
        "actor_id": e.actor_id,
        "action": e.action,
        "action_label": e.action_label,
        "application_id": e.application_id,
        "person_id": e.person_id,
        "unit_id": e.unit_id,
        "officer_id": e.officer_id,
        "address": e.address,
        "details": json.loads(e.details),
    }


def page(p: Page[AuditEntry]) -> dict[str, Any]:
    return presenters.page(p, entry)


def china_time(e: AuditEntry) -> str:
    return as_utc(e.at).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _text(ws: WriteOnlyWorksheet, value: object) -> WriteOnlyCell | None:
    """A cell that holds `value` as text (or None when empty): never a formula."""
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=_CONTROL.sub("", str(value)))
    cell.data_type = "s"
    return cell


def xlsx(entries: Iterable[AuditEntry]) -> bytes:
    """One sheet 审计日志: a header row and a row per entry, every data cell text."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("审计日志")
    for column, width in {"B": 20, "E": 16, "J": 16, "K": 60}.items():
        ws.column_dimensions[column].width = width
    ws.append(list(EXPORT_HEADERS))
    for e in entries:
        ws.append(
            [
                e.id,
                china_time(e),
                _text(ws, actor_label(e.actor_kind)),
                _text(ws, e.actor_id),
                _text(ws, e.action_label),
                e.application_id,
                e.person_id,
                e.unit_id,
                e.officer_id,
                _text(ws, e.address),
                _text(ws, e.details),
            ]
        )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _export(session: Session, officer: Principal, filters: AuditFilters, _today: date) -> bytes:
    return xlsx(audit_log.export_rows(session, officer=officer, filters=filters))


#: 导出审计日志: the filtered log (every page) as a workbook, on the API and the page.
EXPORT = OfficerExport("/officer/audit.xlsx", XlsxDownload("audit-log", "审计日志"), _export)
