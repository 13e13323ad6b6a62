"""API routes: 税务端 (kind=officer) — review queue, detail, audited reveal, decisions,
officer-initiated pension refunds, xlsx export, dispatch monitor.

Routes only translate HTTP to services.review calls; each owns its transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...domain.agencies import Agency
from ...domain.dispatch import DispatchState
from ...services import dispatches, review
from ...services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ...services.views import application_view
from ..deps import Clock, CurrentOfficer, DbSession
from ..errors import error_responses
from ..idempotency import run_idempotent
from .dispatch_schemas import DispatchOut, DispatchPageOut

router = APIRouter(tags=["officer"])

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


_APP = {
    "id": 17,
    "kind": "pension",
    "status": "pending_review",
    "refund_status_label": "已申请",
    "review_status_label": "待审核",
    "review_result_label": "未知",
    "amount": "700.00",
    "channel": "web",
    "created_at": "2026-03-10T09:30:00+00:00",
    "payer_name": "邱世贵",
    "payer_id_number_masked": "420703********0232",
    "working_days_pending": 3,
}
_DECIDED = {
    **_APP,
    "status": "approved",
    "refund_status_label": "人社退费中",
    "review_status_label": "审核完成",
    "review_result_label": "通过",
    "tax_opinion": "同意退费",
}
_EXAMPLES: dict[str, Any] = {
    "queue": {"items": [_APP], "total": 1, "page": 1, "page_size": 10},
    "detail": {
        "application": _APP,
        "payer": {"name": "邱世贵", "id_number_masked": "420703********0232"},
        "history": [
            {
                "at": "2026-03-10T09:30:00+00:00",
                "actor": "缴费人",
                "from_status": None,
                "to_status": "pending_review",
                "reason": "提交退费申请",
            }
        ],
    },
    "decided": _DECIDED,
    "reviews": {
        "results": [
            {"id": 17, "ok": True, "status": "approved", "error": None},
            {
                "id": 18,
                "ok": False,
                "status": "rejected",
                "error": {"code": "review.not_pending", "message": "该申请不是待审核状态"},
            },
        ],
        "succeeded": 1,
        "failed": 1,
    },
    "initiated": {**_APP, "channel": "officer", "channel_label": "税务端"},
    "dispatches": {
        "items": [
            {
                "id": 5,
                "agency": "hrss",
                "operation": "refund_request",
                "request_id": "9f1c2e",
                "state": "failed",
                "state_label": "发送失败",
                "attempt_count": 8,
                "last_error": "HTTP 503",
                "can_retry": True,
            }
        ],
        "total": 1,
        "page": 1,
        "page_size": 20,
    },
    "retry": {"id": 5, "state": "pending"},
}


def _ok(name: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": "成功",
            "content": {"application/json": {"example": _EXAMPLES[name]}},
        }
    }


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "未登录",
        403: "不是税务人员，或无此权限（审核 / 发起），或发起人审核本人发起的申请",
        404: "不存在，或不在本税务机关的管辖范围内",
        409: "状态冲突：不是待审核、已被他人处理、已申请",
        422: "输入不正确",
    }
    return error_responses(*codes, descriptions=described)


# --------------------------------------------------------------------------- bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RevealBody(_Body):
    field: Literal["id_number", "bank_account_no"] = Field(
        description="id_number 证件号码 / bank_account_no 银行账号"
    )
    # Optional here so that a missing reason gets the service's own code and message.
    reason: str | None = Field(
        default=None, max_length=review.REASON_MAX, description="查看原因（必填，留痕）"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"field": "id_number", "reason": "缴费人来电核对身份"}]}
    )


class ApproveBody(_Body):
    opinion: str | None = Field(
        default=None, max_length=review.OPINION_MAX, description="税务机关意见（可选）"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"opinion": "同意退费"}]})


class RejectBody(_Body):
    # Optional here so that a missing opinion gets 422 review.opinion_required from the service.
    opinion: str | None = Field(
        default=None, max_length=review.OPINION_MAX, description="税务机关意见（必填）"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"opinion": "缴费记录已到账，请联系主管税务机关"}]}
    )


class ReviewManyBody(_Body):
    application_ids: list[int] = Field(min_length=1, max_length=review.MAX_BATCH)
    decision: Literal["approve", "reject"]
    opinion: str | None = Field(
        default=None, max_length=review.OPINION_MAX, description="共用的税务机关意见；不通过时必填"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"application_ids": [101, 102, 103], "decision": "approve", "opinion": "同意"}
            ]
        }
    )


class InitiateBody(_Body):
    payment_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(max_length=review.OPINION_MAX, description="发起退费的原因")
    bank_account_type: Literal["bank_card", "passbook"]
    bank_account_no: str = Field(max_length=40)
    account_no_confirmed: bool = Field(
        default=False, description="银联卡号未通过校验但缴费人确认无误时为 true"
    )
    bank_category: str = Field(max_length=6, description="银行行别（CNAPS），如 103")
    contact_name: str = Field(max_length=50)
    contact_phone: str = Field(max_length=20)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "payment_id": "PP00012345",
                    "reason": "缴费人重复缴费，到办税服务厅申请退费",
                    "bank_account_type": "bank_card",
                    "bank_account_no": "6228480402564890018",
                    "account_no_confirmed": False,
                    "bank_category": "103",
                    "contact_name": "邱世贵",
                    "contact_phone": "13812341234",
                }
            ]
        }
    )


# --------------------------------------------------------------------------- queue filters


class QueueQuery(BaseModel):
    status: str | None = Field(
        default=None, max_length=16, description="pending_review / approved / rejected / …"
    )
    kind: str | None = Field(
        default=None, max_length=14, description="pension / unit_pension / medical"
    )
    region: str | None = Field(
        default=None, max_length=6, description="行政区划代码，如 420703；420700 表示全市"
    )
    channel: str | None = Field(
        default=None, max_length=12, description="web / mobile_app / officer"
    )
    date_from: date | None = Field(default=None, description="申请日期起 YYYY-MM-DD")
    date_to: date | None = Field(default=None, description="申请日期止 YYYY-MM-DD")

    def as_filters(self) -> dict[str, Any]:
        return self.model_dump()


class QueuePageQuery(QueueQuery):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    def as_filters(self) -> dict[str, Any]:
        return self.model_dump(exclude={"page", "page_size"})


# --------------------------------------------------------------------------- routes


@router.get(
    "/officer/applications",
    summary="审核队列",
    responses={**_ok("queue"), **_errors(401, 403, 422)},
)
def list_applications(
    officer: CurrentOfficer, db: DbSession, clock: Clock, q: Annotated[QueuePageQuery, Query()]
) -> dict[str, Any]:
    """Applications within the officer's region, oldest first, with the working days each has
    waited against the statutory 30 (`working_days_pending`, `review_deadline`, `overdue`)."""
    with db.begin() as session:
        page = review.queue(
            session,
            officer=officer,
            **q.as_filters(),
            page=q.page,
            page_size=q.page_size,
            today=clock.today(),
        )  # type: ignore[attr-defined]
    return page.as_dict()


@router.get(
    "/officer/applications.xlsx",
    summary="导出审核队列（xlsx）",
    response_class=Response,
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "xlsx 文件"},
        **_errors(401, 403, 422),
    },
)
def export_applications(
    officer: CurrentOfficer, db: DbSession, clock: Clock, q: Annotated[QueueQuery, Query()]
) -> Response:
    """The filtered queue (same filters as the list, no paging) as an Excel workbook."""
    with db.begin() as session:
        content = review.export_queue_xlsx(
            session,
            officer=officer,
            today=clock.today(),  # type: ignore[attr-defined]
            **q.as_filters(),
        )
    today = clock.today().isoformat()  # type: ignore[attr-defined]
    name = f"退费审核队列-{today}.xlsx"
    disposition = (
        f"attachment; filename=\"refund-review-{today}.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@router.get(
    "/officer/applications/{application_id}",
    summary="审核详情",
    responses={**_ok("detail"), **_errors(401, 403, 404, 422)},
)
def get_application(
    application_id: int, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> dict[str, Any]:
    """Application, payer (masked), payment, bank account (masked), the payer's other
    applications, full history and the actions this officer may take."""
    with db.begin() as session:
        return review.detail(
            session, officer=officer, application_id=application_id, today=clock.today()
        )  # type: ignore[attr-defined]


@router.post(
    "/officer/applications/{application_id}/reveal",
    summary="查看完整证件号码或银行账号（留痕）",
    responses=_errors(401, 403, 404, 422),
)
def reveal(
    application_id: int, body: RevealBody, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> JSONResponse:
    """The full value, once; the reveal is recorded with the officer and the reason."""
    with db.begin() as session:
        result = review.reveal(
            session,
            officer=officer,
            application_id=application_id,
            field=body.field,
            reason=body.reason,
            at=clock.now(),
        )  # type: ignore[attr-defined]
    # Personal data: no cache may keep it.
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


@router.post(
    "/officer/applications/{application_id}/approve",
    summary="审核通过",
    responses={**_ok("decided"), **_errors(401, 403, 404, 409, 422)},
)
def approve(
    application_id: int,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
    body: Annotated[ApproveBody | None, Body()] = None,
) -> dict[str, Any]:
    """Pending → approved; the request to HRSS / medical security is queued in the same
    transaction. 409 when not pending; 403 for the initiator of an officer-initiated refund."""
    with db.begin() as session:
        app = review.approve(
            session,
            officer=officer,
            application_id=application_id,
            opinion=body.opinion if body else None,
            at=clock.now(),
        )  # type: ignore[attr-defined]
        return application_view(app, audience="officer")


@router.post(
    "/officer/applications/{application_id}/reject",
    summary="审核不通过",
    responses={**_ok("decided"), **_errors(401, 403, 404, 409, 422)},
)
def reject(
    application_id: int,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
    body: Annotated[RejectBody | None, Body()] = None,
) -> dict[str, Any]:
    """Pending → rejected (税务退回) with the required opinion; nothing is sent."""
    with db.begin() as session:
        app = review.reject(
            session,
            officer=officer,
            application_id=application_id,
            opinion=body.opinion if body else None,
            at=clock.now(),
        )  # type: ignore[attr-defined]
        return application_view(app, audience="officer")


@router.post(
    "/officer/reviews", summary="批量审核", responses={**_ok("reviews"), **_errors(401, 403, 422)}
)
def review_many(
    body: ReviewManyBody, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> dict[str, Any]:
    """A result per id: `{id, ok, status, error}`; one failure does not undo the others."""
    with db.begin() as session:
        results = review.review_many(
            session,
            officer=officer,
            application_ids=body.application_ids,
            decision=body.decision,
            opinion=body.opinion,
            at=clock.now(),
        )  # type: ignore[attr-defined]
    return {
        "results": results,
        "succeeded": sum(r["ok"] for r in results),
        "failed": sum(not r["ok"] for r in results),
    }


@router.post(
    "/officer/pension/refunds",
    status_code=201,
    summary="税务端发起养老保险退费",
    responses={**_ok("initiated", 201), **_errors(401, 403, 404, 409, 422)},
)
def initiate_pension_refund(
    request: Request, body: InitiateBody, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> JSONResponse:
    """An application (channel `officer`) for an `arrived` pension payment, at the citizen's
    request; a different officer must review it. Idempotent with `Idempotency-Key`."""
    at = clock.now()  # type: ignore[attr-defined]

    def action(session):  # type: ignore[no-untyped-def]
        app = review.initiate_pension_refund(session, officer=officer, **body.model_dump(), at=at)
        return application_view(app, audience="officer")

    return run_idempotent(
        request,
        db=db,
        principal=officer,
        body=body.model_dump(),
        at=at,
        action=action,
        status_code=201,
    )


# --------------------------------------------------------------------------- dispatch monitor


class DispatchQuery(BaseModel):
    state: Literal["pending", "sending", "unknown", "done", "failed"] | None = Field(
        default=None,
        description="pending 待发送 / sending 发送中 / unknown 结果待确认 / "
        "done 已送达 / failed 发送失败",
    )
    agency: Literal["hrss", "medical_security", "bank"] | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@router.get(
    "/officer/dispatches",
    summary="派发监控",
    response_model=DispatchPageOut,
    responses={**_ok("dispatches"), **_errors(401, 403, 422)},
)
def list_dispatches(
    officer: CurrentOfficer, db: DbSession, q: Annotated[DispatchQuery, Query()]
) -> DispatchPageOut:
    """Requests to HRSS, medical security and the bank for applications within the officer's
    region, newest change first, each with its attempts, state and last error."""
    with db.begin() as session:
        page = dispatches.list_dispatches(
            session,
            state=DispatchState(q.state) if q.state else None,
            agency=Agency(q.agency) if q.agency else None,
            page=q.page,
            page_size=q.page_size,
            region_scope=officer.region_code,
        )
    return DispatchPageOut.model_validate(page)


@router.post(
    "/officer/dispatches/{message_id}/retry",
    status_code=202,
    summary="重试发送失败的派发",
    response_model=DispatchOut,
    responses={**_ok("retry", 202), **_errors(401, 403, 404, 409, 422)},
)
def retry_dispatch(
    message_id: int, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> DispatchOut:
    """A failed request goes back to the worker with the same request id (202: it is sent
    later). 409 unless the request is failed."""
    with db.begin() as session:
        view = dispatches.retry_failed(
            session, message_id=message_id, officer=officer, at=clock.now()
        )
    return DispatchOut.model_validate(view)
