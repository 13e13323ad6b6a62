"""API routes: 税务端 (kind=officer) — review queue, detail, audited reveal, decisions,
officer-initiated pension refunds, xlsx export, dispatch monitor.

Routes only translate HTTP to the review services; each owns its transaction. The bodies and
the queue filters are the services' own input models; answers are their typed read models,
presented once by ``web.officer_presenters``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ... import clock as clocks
from ...domain.agencies import Agency
from ...domain.dispatch import DispatchState
from ...services import (
    corrections,
    dispatches,
    officer_refunds,
    review_decisions,
    review_detail,
    review_queue,
)
from ...services.accounts import Principal
from ...services.corrections import ReturnIn
from ...services.officer_refunds import InitiateRefund
from ...services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ...services.review_decisions import ApproveRequest, BatchReview, RejectRequest
from ...services.review_detail import RevealRequest
from ...services.review_queue import QueueFilters
from ...services.views import ApplicationView
from .. import export_worker, officer_export, officer_presenters, presenters
from ..deps import Clock, CurrentOfficer, Db, DbSession
from ..errors import error_responses
from ..xlsx_download import XLSX_RESPONSE
from .dispatch_schemas import DispatchOut, DispatchPageOut
from .listing import create_once

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
    "risk_flags": [{"code": "shared_account", "label": "多名缴费人使用同一银行账户"}],
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
    "queue": {"items": [_APP], "total": 1, "total_exact": True, "page": 1, "page_size": 10},
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
            {
                "id": 19,
                "ok": False,
                "status": "pending_review",
                "error": {
                    "code": "risk.confirm_individually",
                    "message": "该申请有风险提示，不能批量通过，请逐件核实确认",
                },
            },
        ],
        "succeeded": 1,
        "failed": 2,
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
    "returned": {
        **_APP,
        "status": "returned",
        "refund_status_label": "待补正",
        "review_status_label": "退回补正",
        "review_result_label": "未知",
        "tax_opinion": "银行账号与户名不符，请核对后补正",
        "correction_fields": ["bank_account"],
        "correction_field_labels": ["银行账户信息"],
        "correction_due": "2026-03-25T09:30:00+00:00",
    },
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


# Every route needs a logged-in officer.
router = APIRouter(tags=["officer"], responses=_errors(401, 403))

# Approve and reject answer alike: the decided application, or why it could not be decided.
_DECISION_RESPONSES = {**_ok("decided"), **_errors(404, 409, 422)}


# --------------------------------------------------------------------------- queue filters


class QueuePageQuery(QueueFilters):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


# --------------------------------------------------------------------------- routes


@router.get(
    "/officer/applications",
    summary="审核队列",
    responses={**_ok("queue"), **_errors(422)},
)
def list_applications(
    officer: CurrentOfficer, db: DbSession, clock: Clock, q: Annotated[QueuePageQuery, Query()]
) -> dict[str, Any]:
    """Applications within the officer's region, oldest first, with the working days each has
    waited against the statutory 30 (`working_days_pending`, `review_deadline`, `overdue`).
    `total` is exact up to 1,000 applications; beyond, `total_exact` is false and `total`
    says "at least this many" (a page never counts the whole table)."""
    with db.begin() as session:
        page = review_queue.queue(
            session,
            officer=officer,
            filters=q,
            page=q.page,
            page_size=q.page_size,
            today=clock.today(),
        )
        return officer_presenters.queue_page(page)


@router.get(
    "/officer/applications.xlsx",
    summary="导出审核队列（xlsx）",
    response_class=Response,
    responses={
        200: XLSX_RESPONSE,
        **_errors(422),
    },
)
async def export_applications(
    request: Request, officer: CurrentOfficer, clock: Clock, q: Annotated[QueueFilters, Query()]
) -> Response:
    """The filtered queue (same filters as the list, no paging) as an Excel workbook, built
    in a helper process and streamed (web/export_worker.py): a large export never stalls
    the other requests."""
    today = clock.today()
    path = await export_worker.queue_xlsx_file(
        request.app.state.engine, officer=officer, filters=q, today=today
    )
    return officer_export.DOWNLOAD.streamed(export_worker.stream_and_delete(path), today)


@router.get(
    "/officer/applications/{application_id}",
    summary="审核详情",
    responses={**_ok("detail"), **_errors(404, 422)},
)
def get_application(
    application_id: int, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> dict[str, Any]:
    """Application, payer (masked), payment, bank account (masked), the payer's other
    applications, full history and the actions this officer may take."""
    with db.begin() as session:
        found = review_detail.detail(
            session, officer=officer, application_id=application_id, today=clock.today()
        )
    return officer_presenters.detail(found)


@router.post(
    "/officer/applications/{application_id}/reveal",
    summary="查看完整证件号码或银行账号（留痕）",
    responses=_errors(404, 422),
)
def reveal(
    application_id: int,
    body: RevealRequest,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
) -> JSONResponse:
    """The full value, once; the reveal is recorded with the officer and the reason."""
    with db.begin() as session:
        result = review_detail.reveal(
            session,
            officer=officer,
            application_id=application_id,
            request=body,
            at=clock.now(),
        )
    content = {
        "application_id": result.application_id,
        "field": result.field,
        "value": result.value,
    }
    # Personal data: no cache may keep it.
    return JSONResponse(content, headers={"Cache-Control": "no-store"})


def _decide(
    use_case: Callable[..., ApplicationView],
    request: Any,
    officer: Principal,
    application_id: int,
    db: Db,
    clock: clocks.Clock,
) -> dict[str, Any]:
    """An officer's decision on one application (``use_case`` of services/, with its
    ``request``) in its own transaction, answered with the application as it now is."""
    with db.begin() as session:
        view = use_case(
            session, officer=officer, application_id=application_id, request=request, at=clock.now()
        )
    return presenters.application(view)


@router.post(
    "/officer/applications/{application_id}/approve",
    summary="审核通过",
    responses=_DECISION_RESPONSES,
)
def approve(
    application_id: int,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
    body: Annotated[ApproveRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Pending → approved; the request to HRSS / medical security is queued in the same
    transaction. 409 when not pending; 403 for the initiator of an officer-initiated refund;
    409 `risk.unconfirmed` for an application with `risk_flags` unless `confirm_risk` is true."""
    return _decide(review_decisions.approve, body, officer, application_id, db, clock)


@router.post(
    "/officer/applications/{application_id}/reject",
    summary="审核不通过",
    responses=_DECISION_RESPONSES,
)
def reject(
    application_id: int,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
    body: Annotated[RejectRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Pending → rejected (税务退回) with the required opinion; nothing is sent."""
    # No body at all is a rejection without an opinion: the same 422 as an empty one.
    request = body if body is not None else RejectRequest.model_validate({})
    return _decide(review_decisions.reject, request, officer, application_id, db, clock)


@router.post(
    "/officer/applications/{application_id}/return",
    summary="退回补正",
    responses={**_ok("returned"), **_errors(404, 409, 422)},
)
def return_for_correction(
    application_id: int,
    officer: CurrentOfficer,
    db: DbSession,
    clock: Clock,
    body: Annotated[ReturnIn | None, Body()] = None,
) -> dict[str, Any]:
    """Pending → returned (待补正) with the required opinion and the fields the applicant must
    fix (`bank_account`, `contact` for pension and unit refunds; `deposit_account`,
    `contact`, `reason` for medical). 409 unless pending; uncorrected for 15 days it lapses."""
    request = body if body is not None else ReturnIn()
    return _decide(corrections.return_for_correction, request, officer, application_id, db, clock)


@router.post("/officer/reviews", summary="批量审核", responses={**_ok("reviews"), **_errors(422)})
def review_many(
    body: BatchReview, officer: CurrentOfficer, db: DbSession, clock: Clock
) -> dict[str, Any]:
    """A result per id: `{id, ok, status, error}`; one failure does not undo the others."""
    with db.begin() as session:
        outcomes = review_decisions.review_many(
            session, officer=officer, request=body, at=clock.now()
        )
    return {
        "results": [officer_presenters.batch_outcome(o) for o in outcomes],
        "succeeded": sum(o.ok for o in outcomes),
        "failed": sum(not o.ok for o in outcomes),
    }


@router.post(
    "/officer/pension/refunds",
    status_code=201,
    summary="税务端发起养老保险退费",
    responses={**_ok("initiated", 201), **_errors(404, 409, 422)},
)
def initiate_pension_refund(
    request: Request, body: InitiateRefund, officer: CurrentOfficer, db: DbSession
) -> JSONResponse:
    """An application (channel `officer`) for an `arrived` pension payment, at the citizen's
    request; a different officer must review it. Idempotent with `Idempotency-Key`."""

    def create(session: Session, at: datetime) -> dict[str, Any]:
        view = officer_refunds.initiate_pension_refund(
            session, officer=officer, request=body, at=at
        )
        return presenters.application(view)

    return create_once(request, db=db, principal=officer, body=body, create=create)


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
    responses={**_ok("dispatches"), **_errors(422)},
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
    responses={**_ok("retry", 202), **_errors(404, 409, 422)},
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
