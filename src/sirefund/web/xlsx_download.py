"""An Excel workbook as a download, for the officer's exports (审核队列, 审计日志, 统计分析)
on the API and on the pages: the media type, and an attachment named for the day in ASCII and
in Chinese (RFC 6266), never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from ..services.accounts import Principal

Filters = TypeVar("Filters")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The OpenAPI description of a route's 200 answer that is a workbook.
XLSX_RESPONSE: dict[str, Any] = {"content": {XLSX_MEDIA_TYPE: {}}, "description": "xlsx 文件"}
#: The keywords of a route that answers a workbook and no error of its own.
XLSX_ROUTE: dict[str, Any] = {"response_class": Response, "responses": {200: XLSX_RESPONSE}}


@dataclass(frozen=True)
class XlsxDownload:
    """A workbook saved as ``{ascii_name}-YYYY-MM-DD.xlsx`` (``{chinese_name}-…`` where the
    browser reads the UTF-8 name)."""

    ascii_name: str
    chinese_name: str

    def headers(self, today: date) -> dict[str, str]:
        name = f"{self.chinese_name}-{today.isoformat()}.xlsx"
        disposition = (
            f'attachment; filename="{self.ascii_name}-{today.isoformat()}.xlsx"; '
            f"filename*=UTF-8''{quote(name)}"
        )
        return {"Content-Disposition": disposition, "Cache-Control": "no-store"}

    def response(self, content: bytes, today: date) -> Response:
        return Response(content, media_type=XLSX_MEDIA_TYPE, headers=self.headers(today))

    def streamed(self, chunks: Iterator[bytes], today: date) -> StreamingResponse:
        """The workbook sent as it is read (a large export: web/export_worker.py)."""
        return StreamingResponse(chunks, media_type=XLSX_MEDIA_TYPE, headers=self.headers(today))


@dataclass(frozen=True)
class OfficerExport(Generic[Filters]):
    """An officer's filtered 导出Excel as the API and the console page both answer it: its
    ``path`` (the page's, and the API's under /api/v1), the download, and ``build``, the
    workbook for the officer, the filters and today, made inside the request's transaction (a
    DomainError where the officer may not export)."""

    path: str
    download: XlsxDownload
    build: Callable[[Session, Principal, Filters, date], bytes]
