"""导出Excel: the filtered review queue as an .xlsx workbook, for the API and the console page.

openpyxl's write-only mode streams rows to the file instead of holding cells. Amounts are
numbers with two decimals so that Excel can sum them; ID numbers are masked as officers see
them. Every row goes through xlsx_cells.row (no formula from data, no character that breaks
the file). More than EXPORT_MAX_ROWS rows is 422: narrow the filters.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.orm import Session

from ..domain import workflow
from ..domain.errors import Invalid
from ..services import review_queue
from ..services.officers import OfficerRef
from ..services.review_queue import QueueFilters
from .officer_presenters import KIND_LABELS
from .xlsx_cells import row
from .xlsx_download import XlsxDownload

DOWNLOAD = XlsxDownload("refund-review", "退费审核队列")
EXPORT_MAX_ROWS = 200_000
FEN_PER_YUAN = 100
EXPORT_HEADERS = (
    "申请编号",
    "类型",
    "缴费人",
    "证件号码(脱敏)",
    "金额",
    "渠道",
    "退费状态",
    "审核状态",
    "审核结果",
    "申请日期",
    "已等待工作日",
)
COLUMN_WIDTHS = {"A": 10, "B": 26, "D": 22, "J": 12}


def queue_xlsx(
    session: Session, *, officer: OfficerRef, filters: QueueFilters, today: date
) -> bytes:
    """The workbook's bytes (:func:`write_queue_xlsx` into memory)."""
    buffer = io.BytesIO()
    write_queue_xlsx(session, officer=officer, filters=filters, today=today, out=buffer)
    return buffer.getvalue()


def write_queue_xlsx(
    session: Session, *, officer: OfficerRef, filters: QueueFilters, today: date, out: BinaryIO
) -> None:
    """Write the workbook to ``out``: one sheet 退费申请, a header row, a row per application,
    the rows read EXPORT_CHUNK_ROWS at a time (review_queue.queue_rows). The size check
    counts no further than one row past EXPORT_MAX_ROWS."""
    total = review_queue.queue_count(
        session, officer=officer, filters=filters, today=today, limit=EXPORT_MAX_ROWS + 1
    )
    if total > EXPORT_MAX_ROWS:
        raise Invalid("export.too_many", f"导出结果超过{EXPORT_MAX_ROWS}条，请缩小查询范围", None)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("退费申请")
    for column, width in COLUMN_WIDTHS.items():
        ws.column_dimensions[column].width = width
    ws.append(list(EXPORT_HEADERS))
    for item in review_queue.queue_rows(session, officer=officer, filters=filters, today=today):
        app = item.application
        labels = workflow.labels(app.status, app.kind)
        amount = WriteOnlyCell(ws, value=Decimal(app.amount_fen) / FEN_PER_YUAN)
        amount.number_format = "0.00"
        ws.append(
            row(
                ws,
                [
                    app.id,
                    KIND_LABELS[app.kind],
                    item.payer_name,
                    item.payer_id_number_masked,
                    amount,
                    workflow.Channel(app.channel).label,
                    labels.refund_status,
                    labels.review_status,
                    labels.review_result,
                    item.clock.submitted_on.isoformat(),
                    item.clock.working_days_pending,
                ],
            )
        )
    wb.save(out)
