"""API routes: the printed documents of an application (api.md "Outcomes"): the 受理回执 at
once after submission and the 退费凭证 once ``refunded``, as PDF files — for the applicant
(a person, or the unit for its batches) and for officers within their region
(services/documents.py decides; web/documents_pdf.py lays out)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response

from ...services import documents
from ...services.accounts import Principal
from .. import documents_pdf
from ..deps import AppSettings, Clock, CurrentPrincipal, Db, DbSession
from ..errors import error_responses
from .params import ApplicationId

router = APIRouter(tags=["documents"])

_STATUS_TEXT = {
    401: "未登录",
    404: "申请不存在，或不属于当前账户（本人、本村组，或税务人员管辖区域之外）",
    409: "申请尚未退费成功，不能打印退费凭证",
    503: "服务器未安装中文字体，暂时无法生成PDF",
}


def _pdf_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {
                "application/pdf": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "%PDF-1.3 …（PDF文件，A4，内嵌中文字体）",
                }
            },
        }
    }


@dataclass(frozen=True)
class _Document:
    """One printed document: its Chinese name, the ASCII file name for old clients, how it is
    found (services/documents.py) and laid out (web/documents_pdf.py)."""

    name: str
    ascii_name: str
    find: Callable[..., documents.RefundDocument]
    render: Callable[..., bytes]

    def serve(
        self, *, application_id: int, principal: Principal, db: Db, font: Path | None, now: datetime
    ) -> Response:
        with db.begin() as session:
            doc = self.find(session, principal=principal, application_id=application_id)
        data = self.render(doc, font=documents_pdf.font_path(font), printed_at=now)
        # An ASCII name for old clients, the Chinese one (RFC 6266 / 5987) for the others.
        filename = f"{self.name}-{doc.document_no}.pdf"
        return Response(
            content=data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{self.ascii_name}"; '
                    f"filename*=UTF-8''{quote(filename)}"
                ),
                "Cache-Control": "no-store",
            },
        )


def _add_route(path: str, *, name: str, summary: str, responses: Any, document: _Document) -> None:
    """``GET path``, answered with ``document`` of the application as a PDF attachment."""

    def serve(
        application_id: ApplicationId,
        principal: CurrentPrincipal,
        db: DbSession,
        clock: Clock,
        settings: AppSettings,
    ) -> Response:
        return document.serve(
            application_id=application_id,
            principal=principal,
            db=db,
            font=settings.pdf_font,
            now=clock.now(),
        )

    # ``name`` keeps the OpenAPI operation id of the route it was declared as.
    router.add_api_route(
        path,
        serve,
        methods=["GET"],
        name=name,
        summary=summary,
        response_class=Response,
        responses=responses,
    )


_add_route(
    "/applications/{application_id}/receipt.pdf",
    name="receipt_pdf",
    summary="受理回执（PDF）：提交后即可下载",
    responses={
        **_pdf_response(
            "受理回执：文书号、申请人、缴费与退费金额（含大写）、账户（脱敏）、办理时限"
        ),
        **error_responses(401, 404, 503, descriptions=_STATUS_TEXT),
    },
    document=_Document("受理回执", "receipt.pdf", documents.receipt, documents_pdf.receipt_pdf),
)
_add_route(
    "/applications/{application_id}/certificate.pdf",
    name="certificate_pdf",
    summary="退费凭证（PDF）：退费成功后可下载",
    responses={
        **_pdf_response("退费凭证：文书号、退费金额（含大写）、退费日期、收款账户（脱敏）"),
        **error_responses(401, 404, 409, 503, descriptions=_STATUS_TEXT),
    },
    document=_Document(
        "退费凭证", "certificate.pdf", documents.certificate, documents_pdf.certificate_pdf
    ),
)
