"""API routes: the printed documents of an application (api.md "Outcomes"): the 受理回执 at
once after submission and the 退费凭证 once ``refunded``, as PDF files — for the applicant
(a person, or the unit for its batches) and for officers within their region
(services/documents.py decides; web/documents_pdf.py lays out)."""

from __future__ import annotations

from collections.abc import Callable
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


def _attachment(data: bytes, *, name: str, document_no: str) -> Response:
    # An ASCII name for old clients, the Chinese one (RFC 6266 / 5987) for the others.
    filename = f"{name}-{document_no}.pdf"
    ascii_name = f"{'receipt' if name == '受理回执' else 'certificate'}.pdf"
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
            ),
            "Cache-Control": "no-store",
        },
    )


def _serve(
    *,
    find: Callable[..., documents.RefundDocument],
    render: Callable[..., bytes],
    name: str,
    application_id: int,
    principal: Principal,
    db: Db,
    font: Path | None,
    now: datetime,
) -> Response:
    with db.begin() as session:
        doc = find(session, principal=principal, application_id=application_id)
    data = render(doc, font=documents_pdf.font_path(font), printed_at=now)
    return _attachment(data, name=name, document_no=doc.document_no)


@router.get(
    "/applications/{application_id}/receipt.pdf",
    summary="受理回执（PDF）：提交后即可下载",
    response_class=Response,
    responses={
        **_pdf_response(
            "受理回执：文书号、申请人、缴费与退费金额（含大写）、账户（脱敏）、办理时限"
        ),
        **error_responses(401, 404, 503, descriptions=_STATUS_TEXT),
    },
)
def receipt_pdf(
    application_id: ApplicationId,
    principal: CurrentPrincipal,
    db: DbSession,
    clock: Clock,
    settings: AppSettings,
) -> Response:
    return _serve(
        find=documents.receipt,
        render=documents_pdf.receipt_pdf,
        name="受理回执",
        application_id=application_id,
        principal=principal,
        db=db,
        font=settings.pdf_font,
        now=clock.now(),
    )


@router.get(
    "/applications/{application_id}/certificate.pdf",
    summary="退费凭证（PDF）：退费成功后可下载",
    response_class=Response,
    responses={
        **_pdf_response("退费凭证：文书号、退费金额（含大写）、退费日期、收款账户（脱敏）"),
        **error_responses(401, 404, 409, 503, descriptions=_STATUS_TEXT),
    },
)
def certificate_pdf(
    application_id: ApplicationId,
    principal: CurrentPrincipal,
    db: DbSession,
    clock: Clock,
    settings: AppSettings,
) -> Response:
    return _serve(
        find=documents.certificate,
        render=documents_pdf.certificate_pdf,
        name="退费凭证",
        application_id=application_id,
        principal=principal,
        db=db,
        font=settings.pdf_font,
        now=clock.now(),
    )
