"""Pages of the 税务端 (officer console) under /officer/: login, the review queue with batch
decisions and the xlsx export, the detail with the audited reveal and the decision, 发起退费
for arrived pension payments, and the dispatch monitor.

Plain HTML forms that work without JavaScript (site.js only adds 全选 and confirmations).
Every POST carries the session's CSRF token (checked by ``deps.optional_principal``; the login
form uses the double-submit cookie of ``common``). A successful POST redirects to a page that
shows the result (Post/Redirect/Get), except the reveal and the batch, whose answers (a full
ID number, a result per id) must not live in a URL and are rendered once in the POST's reply.
A refused form is shown again with each message next to its field and what was typed kept.

The work is the services' (review_queue, review_detail, review_decisions, officer_refunds,
outbox): a form is read into the same input model the API takes, and a refusal is shown next
to its field; routes choose templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from http import HTTPStatus
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ...domain import identity, regions
from ...domain.agencies import Agency
from ...domain.dispatch import DispatchState
from ...domain.errors import DomainError, NotFound
from ...domain.rules import BANK_ACCOUNT_TYPE_LABELS, BANK_CATEGORIES
from ...domain.workflow import ApplicationStatus, Channel, correction_fields_for
from ...services import (
    bank_details,
    corrections,
    dispatches,
    officer_refunds,
    reconciliation,
    review_decisions,
    review_detail,
    review_queue,
)
from ...services.accounts import Principal
from ...services.corrections import ReturnIn
from ...services.officer_refunds import InitiateRefund
from ...services.paging import Page
from ...services.review_decisions import ApproveRequest, BatchReview, Decision, RejectRequest
from ...services.review_detail import RevealRequest
from ...services.review_queue import QueueFilters, QueueItem
from .. import export_worker, officer_export, officer_presenters
from ..deps import Db, DbSession
from . import accounts_pages, common, guard
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

HOME = "/officer/applications"
LOGIN = "/officer/login"
PAGE_SIZE = 10
DISPATCH_PAGE_SIZE = 20

CONSOLE = ("税务端", HOME)
QUEUE_CRUMB = ("退费审核", HOME)

STATUS_OPTIONS = [
    (ApplicationStatus.PENDING_REVIEW.value, "待审核"),
    (ApplicationStatus.RETURNED.value, "待补正（退回补正）"),
    (ApplicationStatus.LAPSED.value, "逾期未补正"),
    (ApplicationStatus.APPROVED.value, "审核通过（待机构受理）"),
    (ApplicationStatus.AT_AGENCY.value, "人社/医保处理中"),
    (ApplicationStatus.REFUNDED.value, "退费成功"),
    (ApplicationStatus.AGENCY_REJECTED.value, "人社退回/核验不通过"),
    (ApplicationStatus.REFUND_FAILED.value, "退付失败"),
    (ApplicationStatus.REJECTED.value, "税务退回（审核不通过）"),
    (ApplicationStatus.CANCELLED.value, "已撤销"),
]
KIND_OPTIONS = [(k.value, label) for k, label in officer_presenters.KIND_LABELS.items()]
CHANNEL_OPTIONS = [(c.value, c.label) for c in Channel]
DISPATCH_STATE_OPTIONS = [(s.value, s.label) for s in DispatchState]
AGENCY_OPTIONS = [(a.value, a.label) for a in Agency]
QUEUE_FILTERS = (
    "q",
    "status",
    "kind",
    "region",
    "channel",
    "date_from",
    "date_to",
    "due_within",
    "risk",
    "heir",
    "sort",
)
#: 风险提示 filter of the queue.
RISK_OPTIONS = [("true", "有风险提示"), ("false", "无风险提示")]
#: 继承人代办 filter of the queue: the applications heirs made for deceased payers, or the others.
HEIR_OPTIONS = [("true", "继承人代办"), ("false", "本人申请")]
#: How much of each filter the query string is read (the search box is the long one).
QUEUE_FILTER_CHARS = {"q": review_queue.MAX_SEARCH_LENGTH + 10}
#: The queue opens on 待审核; the status select's 全部 sends a blank status (any).
DEFAULT_QUEUE_STATUS = ApplicationStatus.PENDING_REVIEW.value
SORT_OPTIONS = [
    ("days_pending", "等待时间最长在前"),
    ("-created_at", "最新申请在前"),
    ("-amount", "金额从高到低"),
    ("amount", "金额从低到高"),
]
#: Pending cases with at most this many working days left are highlighted (and offered as
#: the 审核期限 filter, overdue ones included).
DUE_SOON_WORKING_DAYS = 5
DUE_OPTIONS = [
    (str(DUE_SOON_WORKING_DAYS), f"{DUE_SOON_WORKING_DAYS}个工作日内到期（含已超期）"),
    ("0", "已到期或超期"),
]
# The two fields of 发起退费 the bank details do not cover, worded for the page when empty
# (the bank details' own checks word theirs).
INITIATE_REQUIRED = {
    "payment_id": "请选择需要退费的缴费记录",
    "reason": "请填写退费原因",
}
YEAR_DIGITS = 4
#: A text field is read this many times longer than its limit, so a refused text is shown
#: again whole for editing rather than cut.
TEXT_KEPT = 4
OPINION_LABEL = {"opinion": "税务机关意见"}
#: A decision button's value with this suffix (approve_next, reject_next) goes on to the next
#: case of the queue: 通过并下一条 / 退回并下一条.
NEXT_SUFFIX = "_next"
# The batch form's own wording for what the shared input model refuses.
BATCH_MESSAGES: dict[str, dict[str, str]] = {
    "labels": OPINION_LABEL,
    "messages": {
        "application_ids": "请勾选需要审核的退费申请",
        "decision": "请选择批量通过或批量不通过",
    },
}
BATCH_CODE_MESSAGES = {"review.opinion_required": "批量不通过时必须填写税务机关意见"}
REVEAL_LABEL = {"reason": "查看理由"}
REVEAL_MESSAGES = {"field": "查看的项目不正确"}
REVEAL_CODE_MESSAGES = {"reveal.reason_required": "请填写查看理由"}

NOTICES = {
    "approved": "审核通过，系统已自动向人社（医保）部门发起退费申请。",
    "rejected": "审核不通过，已退回申请人；不会向人社（医保）部门发起退费。",
    "returned": "已退回补正，申请人补正后重新提交，15日内未补正的申请自动失效。",
    "initiated": "退费申请已发起，需由其他税务人员审核。",
    "retried": "已重新派发，系统将使用原请求编号再次发送。",
    "logged_out": "您已安全退出税务端。",
    "queue_done": "审核已提交。当前查询条件下已没有待审核的申请。",
}


# --------------------------------------------------------------------------- who is calling


def _error_page(
    request: Request,
    *,
    title: str,
    message: str,
    status_code: int,
    back_url: str = HOME,
    back_label: str = "返回",
) -> Response:
    principal = getattr(request.state, "principal", None)
    officer = principal if principal and getattr(principal, "kind", "") == "officer" else None
    ctx = _base_context(officer, title=title, nav="", crumbs=[(title, None)])
    ctx.update({"message": message, "back_url": back_url, "back_label": back_label})
    return render(request, "officer/error.html", ctx, status_code=status_code)


def denied_response(request: Request, exc: guard.PageDenied) -> Response:
    """The console's answer to a visitor a page does not fit (see guard.py): anonymous
    visitors go to the login page and come back here; other accounts are told why not."""
    if isinstance(exc, guard.LoginRequired):
        target = common.return_target(request, HOME)
        return RedirectResponse(f"{LOGIN}?next={quote(target)}", status_code=303)
    if isinstance(exc, guard.PageNotFound):
        return _not_found(request)
    if isinstance(exc, guard.WrongAccountKind):
        return _error_page(
            request,
            title="无权使用此功能",
            status_code=403,
            back_url=LOGIN,
            back_label="以税务人员身份登录",
            message="当前登录的账户不是税务人员账户，请以税务人员身份登录税务端。",
        )
    message = exc.message if isinstance(exc, guard.PageExpired) else "页面已过期，请刷新后重试"
    return _error_page(
        request,
        title="页面已过期",
        message=message,
        status_code=403,
        back_url=common.referer_path(request) or HOME,
    )


def _base_context(
    principal: Principal | None, *, title: str, nav: str, crumbs: list[tuple[str, str | None]]
) -> dict[str, Any]:
    ctx: dict[str, Any] = {"title": title, "nav": nav, "crumbs": [CONSOLE, *crumbs]}
    if principal is not None:
        roles = [
            label
            for on, label in (
                (principal.is_reviewer, "审核"),
                (principal.is_initiator, "发起"),
                (principal.is_auditor, "审计"),
                (principal.is_supervisor, "统计"),
            )
            if on
        ]
        ctx["officer"] = {
            "code": principal.login_code,
            "name": principal.display_name,
            "region_code": principal.region_code,
            "region_name": regions.scope_name(principal.region_code),
            "roles": "、".join(roles) or "查询",
            "is_reviewer": principal.is_reviewer,
            "is_initiator": principal.is_initiator,
            "is_auditor": principal.is_auditor,
            "is_supervisor": principal.is_supervisor,
        }
    return ctx


def _notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("done", ""), "")


ID_MAX_DIGITS = 12  # more than any id the database holds; longer is simply not found


def _parse_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= ID_MAX_DIGITS else None


def _path_application_id(application_id: str) -> int:
    """The ``{application_id}`` of the path; one that is no id answers 退费申请不存在."""
    app_id = _parse_id(application_id)
    if app_id is None:
        raise guard.PageNotFound()
    return app_id


# Routes name it after the login dependency: an anonymous visitor is sent to log in first.
ApplicationId = Annotated[int, Depends(_path_application_id)]


async def _as_officer(
    request: Request,
    db: Db,
    principal: Principal,
    use_case: Callable[..., T],
    /,
    **args: object,
) -> T:
    """``use_case(session, officer=…, at=now, **args)`` in one transaction: the decisions and
    reveals an officer makes from the console (``args`` names the application and the use
    case's input model, its ``request``)."""
    at = request.app.state.clock.now()
    return await in_transaction(db, lambda s: use_case(s, officer=principal, at=at, **args))


def _not_found(request: Request) -> Response:
    return _error_page(
        request,
        title="退费申请不存在",
        status_code=404,
        message="退费申请不存在，或不在本税务机关的管辖范围内。",
    )


# --------------------------------------------------------------------------- login, logout


def _safe_next(value: object) -> str:
    target = common.safe_next(value, HOME)
    return target if target.startswith("/officer/") else HOME


def _login_context(request: Request, form: Form | None, next_url: str) -> dict[str, Any]:
    ctx = _base_context(None, title="税务人员登录", nav="", crumbs=[("登录", None)])
    ctx.update(
        {
            "next": next_url,
            "values": form.values if form else {},
            "errors": form.errors if form else {},
            "notice": _notice(request),
        }
    )
    return ctx


@router.get("/officer")
@router.get("/officer/")
async def console_home(request: Request) -> Response:
    return RedirectResponse(HOME, status_code=303)


@router.get("/officer/login")
async def login_page(request: Request, principal: guard.PagePrincipal) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if principal is not None and principal.kind == "officer":
        return common.redirect(next_url)
    # A citizen's browser may hold a session too: the login form still needs the anonymous
    # double-submit token, not that session's.
    ctx = _login_context(request, None, next_url)
    ctx["csrf_token"] = common.anon_csrf_token(request)
    return common.attach_anon_csrf(render(request, "officer/login.html", ctx), request)


@router.post("/officer/login")
async def login_submit(request: Request) -> Response:
    """税务人员代码 + 密码 through accounts.login (kind officer), throttled and recorded like an
    API login; the session goes into the HttpOnly ``sirefund_session`` cookie."""
    form = await common.read_form(request)
    next_url = _safe_next(form.text("next", max_chars=common.MAX_NEXT_CHARS))

    def again(status: int) -> Response:
        return render(
            request,
            "officer/login.html",
            _login_context(request, form, next_url),
            status_code=status,
        )

    return await accounts_pages.finish_login(
        request,
        form,
        kind="officer",
        login_label="税务人员代码",
        next_url=next_url,
        again=again,
        expired="页面已过期，请重新登录",
    )


@router.post("/officer/logout")
async def logout(request: Request, principal: guard.PagePrincipal) -> Response:
    return await accounts_pages.do_logout(request, after=LOGIN, principal=principal)


# --------------------------------------------------------------------------- queue


def _queue_raw(request: Request) -> dict[str, str]:
    """The queue's filters as typed, from the query string (the queue page's, or the one a case
    was opened with); no ``status`` at all means the default 待审核."""
    params = request.query_params
    raw = {
        name: params.get(name, "").strip()[: QUEUE_FILTER_CHARS.get(name, 16)]
        for name in QUEUE_FILTERS
    }
    if "status" not in params:
        raw["status"] = DEFAULT_QUEUE_STATUS
    return raw


def _queue_keep(raw: dict[str, str]) -> dict[str, str]:
    """The filters a link carries (paging, a case and back, 上一条/下一条): the ones set, and
    the status even when blank (全部). A searched ID number is never written into the page, so
    a link does not carry it (it finds one person's few cases anyway)."""
    keep = {k: v for k, v in raw.items() if v or k == "status"}
    if review_queue.is_id_number(keep.get("q", "")):
        del keep["q"]
    return keep


def _queue_query(request: Request) -> tuple[dict[str, str], QueueFilters | None, dict[str, str]]:
    """(raw values for the form, the filters for the service or None, errors) from the query
    string, through the same QueueFilters model as the API."""
    raw = _queue_raw(request)
    try:
        return raw, QueueFilters.model_validate(raw), {}
    except DomainError as exc:
        return raw, None, {exc.field if exc.field in QUEUE_FILTERS else "_filters": exc.message}
    except ValidationError as exc:
        return raw, None, common.validation_errors(exc)


def _region_options(scope: str) -> list[tuple[str, str]]:
    out = []
    for code, name in regions.DIVISIONS.items():
        if regions.is_within(code, scope):
            indent = "" if code.endswith("00") else "　"
            out.append((code, f"{indent}{name}（{code}）"))
    return sorted(out)


def _queue_listing(
    session: Session, principal: Principal, filters: QueueFilters, page: int, today: date
) -> dict[str, Any]:
    def fetch(number: int) -> Page[QueueItem]:
        return review_queue.queue(
            session,
            officer=principal,
            filters=filters,
            page=number,
            page_size=PAGE_SIZE,
            today=today,
        )

    result = fetch(page)
    if not result.items and result.total and page > 1:
        # A page past the end (rows decided away, a stale link): show the last one.
        result = fetch(result.page_count)
    return {
        "rows": [officer_presenters.queue_item(item) for item in result.items],
        "pager": common.Pager(result.page, PAGE_SIZE, result.total, result.total_exact),
    }


async def _queue_response(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    form: Form | None = None,
    results: list[dict[str, Any]] | None = None,
    status_code: int = 200,
    extra_errors: dict[str, str] | None = None,
) -> Response:
    raw, filters, errors = _queue_query(request)
    errors.update(extra_errors or {})
    page = common.query_int(request, "page", default=1, minimum=1, maximum=1_000_000) or 1
    listing: dict[str, Any] = {"rows": [], "pager": common.Pager(1, PAGE_SIZE, 0)}
    if filters is not None:
        chosen = filters
        today = request.app.state.clock.today()
        try:
            listing = await in_transaction(
                db, lambda s: _queue_listing(s, principal, chosen, page, today)
            )
        except DomainError as exc:
            errors[exc.field if exc.field in QUEUE_FILTERS else "_filters"] = exc.message
    keep = _queue_keep(raw)
    searched_id = review_queue.is_id_number(raw["q"])
    ctx = _base_context(principal, title="退费审核", nav="queue", crumbs=[("退费审核", None)])
    ctx.update(
        {
            # A searched ID number is shown masked, never written back into the search box.
            "query": {**raw, "q": ""} if searched_id else raw,
            "searched_id_masked": identity.mask_id_number_for_officer(raw["q"].upper())
            if searched_id
            else "",
            "keep_query": urlencode(keep),
            "sort_options": SORT_OPTIONS,
            "filter_errors": errors,
            "keep": keep,
            "keep_page": dict(keep, page=listing["pager"].page),
            "export_url": "/officer/applications.xlsx" + ("?" + urlencode(keep) if keep else ""),
            "status_options": STATUS_OPTIONS,
            "kind_options": KIND_OPTIONS,
            "channel_options": CHANNEL_OPTIONS,
            "due_options": DUE_OPTIONS,
            "risk_options": RISK_OPTIONS,
            "heir_options": HEIR_OPTIONS,
            "due_soon_days": DUE_SOON_WORKING_DAYS,
            "region_options": _region_options(principal.region_code),
            "values": form.values if form else {},
            "errors": form.errors if form else {},
            "results": results,
            "notice": _notice(request),
            **listing,
        }
    )
    if status_code == HTTPStatus.OK and any(k in errors for k in (*QUEUE_FILTERS, "_filters")):
        status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    if results:
        ctx["results_ok"] = sum(1 for r in results if r["ok"])
        ctx["results_failed"] = len(results) - ctx["results_ok"]
    return render(request, "officer/queue.html", ctx, status_code=status_code)


@router.get("/officer/applications")
async def queue_page(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    return await _queue_response(request, db, principal)


@router.post("/officer/applications/review")
async def review_batch(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    """批量通过 / 批量不通过 with one shared 税务机关意见; the queue is shown again (same filters
    and page, from the form's action URL) with a result per id."""
    form = await common.read_form(request)
    raw_ids = form.many("application_ids", max_items=review_decisions.MAX_BATCH)
    # The whole text is kept for editing; the model refuses what is longer than allowed.
    opinion = form.text("opinion", max_chars=TEXT_KEPT * review_decisions.OPINION_MAX)
    decision = form.text("decision", max_chars=10)
    ids = [n for n in (_parse_id(r) for r in raw_ids) if n is not None]
    try:
        batch = BatchReview.model_validate(
            {"application_ids": ids, "decision": decision, "opinion": opinion}
        )
    except ValidationError as exc:
        form.errors.update(common.validation_errors(exc, **BATCH_MESSAGES))
        if "decision" in form.errors:
            form.errors.setdefault("_form", form.errors.pop("decision"))
        return await _queue_response(request, db, principal, form=form, status_code=422)
    except DomainError as exc:
        form.errors.setdefault(exc.field or "_form", BATCH_CODE_MESSAGES.get(exc.code, exc.message))
        return await _queue_response(request, db, principal, form=form, status_code=422)
    try:
        outcomes = await _as_officer(
            request, db, principal, review_decisions.review_many, request=batch
        )
    except DomainError as exc:
        form.fail(exc, aliases={"decision": "_form"})
        refused = exc.status if exc.status in (403, 422) else 422
        return await _queue_response(request, db, principal, form=form, status_code=refused)
    verdict = review_decisions.VERDICTS[batch.decision]
    results = [
        {"id": o.id, "ok": o.ok, "message": verdict if o.ok else o.error_message} for o in outcomes
    ]
    # The decided rows leave the selection; the opinion stays while failures remain to retry.
    form.values["application_ids"] = [str(o.id) for o in outcomes if not o.ok]
    if not form.values["application_ids"]:
        form.values["opinion"] = ""
    return await _queue_response(request, db, principal, form=form, results=results)


@router.get("/officer/applications.xlsx")
async def export_queue(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    """导出Excel: the filtered queue (every page) as an xlsx workbook."""
    _, filters, errors = _queue_query(request)
    if filters is None:
        return await _queue_response(request, db, principal, status_code=422)
    today = request.app.state.clock.today()
    try:
        path = await export_worker.queue_xlsx_file(
            request.app.state.engine, officer=principal, filters=filters, today=today
        )
    except DomainError as exc:
        return await _queue_response(
            request, db, principal, status_code=422, extra_errors={"_filters": exc.message}
        )
    return officer_export.DOWNLOAD.streamed(export_worker.stream_and_delete(path), today)


# --------------------------------------------------------------------------- detail


async def _detail_response(
    request: Request,
    db: Db,
    principal: Principal,
    application_id: int,
    *,
    form: Form | None = None,
    reveal_form: Form | None = None,
    reveal_field: str = "",
    revealed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    today = request.app.state.clock.today()
    try:
        found = await in_transaction(
            db,
            lambda s: review_detail.detail(
                s, officer=principal, application_id=application_id, today=today
            ),
        )
    except DomainError as exc:
        if exc.status == HTTPStatus.NOT_FOUND:
            return _not_found(request)
        return _error_page(request, title="无法查看", message=exc.message, status_code=exc.status)
    data = officer_presenters.detail(found)
    app = data["application"]
    raw, filters, _ = _queue_query(request)
    keep = _queue_keep(raw)
    keep_query = urlencode(keep)
    around = review_queue.Neighbours(None, None)
    if filters is not None:
        chosen = filters
        around = await in_transaction(
            db,
            lambda s: review_queue.neighbours(
                s, officer=principal, filters=chosen, application_id=application_id, today=today
            ),
        )

    def case_url(number: int | None) -> str:
        if number is None:
            return ""
        return f"/officer/applications/{number}" + (f"?{keep_query}" if keep_query else "")

    ctx = _base_context(
        principal,
        title=f"审核详情（申请编号 {app['id']}）",
        nav="queue",
        crumbs=[QUEUE_CRUMB, ("审核详情", None)],
    )
    blocked = ""
    correction_options = [(f.value, f.label) for f in correction_fields_for(app["kind"])]
    if found.application.status != ApplicationStatus.PENDING_REVIEW:
        blocked = "该申请已审核或已撤销，不能再审核"
    elif found.actions.four_eyes_blocked:
        blocked = "发起人不能审核本人发起的退费申请"
    elif not principal.is_reviewer:
        blocked = "您没有审核权限"
    ctx.update(
        {
            **data,
            "app": app,
            "blocked_reason": blocked,
            "values": form.values if form else {},
            "errors": form.errors if form else {},
            "reveal_values": reveal_form.values if reveal_form else {},
            "reveal_errors": reveal_form.errors if reveal_form else {},
            "reveal_field": reveal_field,
            "revealed": revealed or {},
            "reveal_labels": officer_presenters.REVEAL_FIELD_LABELS,
            "notice": _notice(request),
            "keep_query": keep_query,
            "queue_url": HOME + (f"?{keep_query}" if keep_query else ""),
            "previous_url": case_url(around.previous_id),
            "next_url": case_url(around.next_id),
            "correction_options": correction_options,
            "chosen_fields": form.many("fields") if form else [],
        }
    )
    return render(request, "officer/detail.html", ctx, status_code=status_code)


@router.get("/officer/applications/{application_id}")
async def detail_page(
    request: Request, db: DbSession, principal: guard.PageOfficer, app_id: ApplicationId
) -> Response:
    return await _detail_response(request, db, principal, app_id)


def _decision_request(
    form: Form, decision: str, opinion: str, *, confirm_risk: bool = False
) -> ApproveRequest | RejectRequest | None:
    """The decision's input model, or None with the problems recorded on ``form``."""
    model: type[ApproveRequest] | type[RejectRequest]
    if decision == Decision.APPROVE:
        model = ApproveRequest
    elif decision == Decision.REJECT:
        model = RejectRequest
    else:
        form.errors["_form"] = "请选择审核通过或审核不通过"
        return None
    fields: dict[str, object] = {"opinion": opinion}
    if model is ApproveRequest:
        fields["confirm_risk"] = confirm_risk
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        form.errors.update(common.validation_errors(exc, labels=OPINION_LABEL))
    except DomainError as exc:
        form.fail(exc)
    return None


@router.post("/officer/applications/{application_id}/decision")
async def decide(
    request: Request, db: DbSession, principal: guard.PageOfficer, app_id: ApplicationId
) -> Response:
    """审核通过 (意见 optional) or 审核不通过 (意见 required), by the button pressed; 通过并下一条
    / 退回并下一条 (``approve_next`` / ``reject_next``) then open the next case still 待审核 in
    the queue the case was opened from (its filters ride on the form's action URL)."""
    form = await common.read_form(request)
    # The whole text is kept for editing; the model refuses what is longer than allowed.
    opinion = form.text("opinion", max_chars=TEXT_KEPT * review_decisions.OPINION_MAX)
    decision = form.text("decision", max_chars=20)
    if decision == "return":
        return await _return_for_correction(request, db, principal, app_id, form, opinion)
    then_next = decision.endswith(NEXT_SUFFIX)
    decision = decision.removesuffix(NEXT_SUFFIX)
    # 确认风险: the checkbox sent for a case with 风险提示.
    confirm_risk = form.text("confirm_risk", max_chars=10) == "true"
    form.values["confirm_risk"] = "true" if confirm_risk else ""
    body = _decision_request(form, decision, opinion, confirm_risk=confirm_risk)
    if body is None:
        return await _detail_response(request, db, principal, app_id, form=form, status_code=422)
    decide_as = (
        review_decisions.reject if isinstance(body, RejectRequest) else review_decisions.approve
    )
    try:
        await _as_officer(request, db, principal, decide_as, application_id=app_id, request=body)
    except DomainError as exc:
        return await _refused(request, db, principal, app_id, form, exc)
    done = "rejected" if isinstance(body, RejectRequest) else "approved"
    if not then_next:
        return common.redirect(f"/officer/applications/{app_id}", done=done)
    return await _next_case(request, db, principal, app_id, done)


async def _refused(
    request: Request, db: Db, principal: Principal, app_id: int, form: Form, exc: DomainError
) -> Response:
    """A decision the service refused: 页面不存在 for a case that is not there (or not the
    officer's), else the case again with the reason above the form."""
    if exc.status == HTTPStatus.NOT_FOUND:
        return _not_found(request)
    form.fail(exc, aliases={"application_id": "_form"})
    return await _detail_response(request, db, principal, app_id, form=form, status_code=exc.status)


async def _next_case(
    request: Request, db: Db, principal: Principal, app_id: int, done: str
) -> Response:
    """After 通过并下一条 / 退回并下一条: the next case still 待审核 in the queue the case was
    opened from, or the queue itself when none is left."""
    raw, filters, _ = _queue_query(request)
    keep = _queue_keep(raw)
    if filters is None:  # a hand-edited URL: go on from the plain queue
        keep, filters = {"status": DEFAULT_QUEUE_STATUS}, QueueFilters()
    chosen, today = filters, request.app.state.clock.today()
    following = await in_transaction(
        db,
        lambda s: review_queue.next_pending(
            s, officer=principal, filters=chosen, after_id=app_id, today=today
        ),
    )
    if following is None:
        return common.redirect(HOME + (f"?{urlencode(keep)}" if keep else ""), done="queue_done")
    return common.redirect(
        f"/officer/applications/{following}" + (f"?{urlencode(keep)}" if keep else ""), done=done
    )


async def _return_for_correction(
    request: Request, db: Db, principal: Principal, app_id: int, form: Form, opinion: str
) -> Response:
    """退回补正: the shared opinion (required) and the ticked fields to fix."""
    try:
        body = ReturnIn.model_validate({"opinion": opinion, "fields": form.many("fields")})
    except ValidationError as exc:
        form.errors.update(
            common.validation_errors(
                exc, labels=OPINION_LABEL, messages={"fields": "需补正的项目不正确"}
            )
        )
        return await _detail_response(request, db, principal, app_id, form=form, status_code=422)
    try:
        await _as_officer(
            request,
            db,
            principal,
            corrections.return_for_correction,
            application_id=app_id,
            request=body,
        )
    except DomainError as exc:
        return await _refused(request, db, principal, app_id, form, exc)
    return common.redirect(f"/officer/applications/{app_id}", done="returned")


@router.post("/officer/applications/{application_id}/reveal")
async def reveal(
    request: Request, db: DbSession, principal: guard.PageOfficer, app_id: ApplicationId
) -> Response:
    """查看完整信息: the full ID number or account number, shown in this reply only and
    recorded with the officer and the reason (services.review_detail.reveal)."""
    form = await common.read_form(request)
    field = form.text("field", max_chars=20)
    reason = form.text("reason", max_chars=TEXT_KEPT * review_detail.REASON_MAX)
    try:
        body = RevealRequest.model_validate({"field": field, "reason": reason})
    except ValidationError as exc:
        # Problems with the hidden field are told next to the one input the officer sees.
        refused = common.validation_errors(exc, labels=REVEAL_LABEL, messages=REVEAL_MESSAGES)
        if "field" in refused:
            field = ""
        form.errors["reason"] = refused.get("field") or refused["reason"]
    except DomainError as exc:
        form.errors["reason"] = REVEAL_CODE_MESSAGES.get(exc.code, exc.message)
    if form.errors:
        return await _detail_response(
            request, db, principal, app_id, reveal_form=form, reveal_field=field, status_code=422
        )
    try:
        result = await _as_officer(
            request, db, principal, review_detail.reveal, application_id=app_id, request=body
        )
    except DomainError as exc:
        if exc.status == HTTPStatus.NOT_FOUND and exc.code == "application.not_found":
            return _not_found(request)
        form.fail(exc, default_field="reason", aliases={"field": "reason"})
        return await _detail_response(
            request,
            db,
            principal,
            app_id,
            reveal_form=form,
            reveal_field=field,
            status_code=exc.status,
        )
    return await _detail_response(
        request, db, principal, app_id, revealed={result.field: result.value}
    )


# --------------------------------------------------------------------------- 发起退费


@dataclass(frozen=True)
class _Lookup:
    """What the officer searched for: a payment id, or an ID number (and maybe a year)."""

    payment_id: str
    id_number: str
    year_raw: str

    @property
    def year(self) -> int | None:
        four_digits = self.year_raw.isascii() and self.year_raw.isdigit()
        return int(self.year_raw) if four_digits and len(self.year_raw) == YEAR_DIGITS else None


async def _initiate_response(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    lookup: _Lookup,
    form: Form | None = None,
    status_code: int = 200,
) -> Response:
    ctx = _base_context(principal, title="发起退费", nav="initiate", crumbs=[("发起退费", None)])
    lookup_errors: dict[str, str] = {}
    found: dict[str, Any] | None = None
    if lookup.year_raw and lookup.year is None:
        lookup_errors["year"] = "缴费年度应为4位数字"
    elif principal.is_initiator and (lookup.payment_id or lookup.id_number):
        today = request.app.state.clock.today()
        try:
            candidates = await in_transaction(
                db,
                lambda s: officer_refunds.payments_to_initiate(
                    s,
                    officer=principal,
                    payment_id=lookup.payment_id or None,
                    id_number=None if lookup.payment_id else lookup.id_number,
                    year=lookup.year,
                    today=today,
                ),
            )
            found = officer_presenters.candidates(candidates)
        except DomainError as exc:
            name = exc.field if exc.field in ("payment_id", "id_number", "year") else "_lookup"
            lookup_errors[name] = exc.message
    values = form.values if form else {}
    if found and not form:
        choosable = [p for p in found["payments"] if p["can_initiate"]]
        if len(choosable) == 1:
            values = {"payment_id": choosable[0]["payment_id"]}
    ctx.update(
        {
            "lookup": {
                "payment_id": lookup.payment_id,
                "id_number": lookup.id_number,
                "year": lookup.year_raw,
            },
            "lookup_errors": lookup_errors,
            "found": found,
            "values": values,
            "errors": form.errors if form else {},
            "codes": form.codes if form else {},
            "account_types": {k.value: v for k, v in BANK_ACCOUNT_TYPE_LABELS.items()},
            "bank_categories": BANK_CATEGORIES,
            "year_options": common.year_choices(request.app.state.clock.today().year, back=15),
        }
    )
    if not principal.is_initiator:
        ctx["errors"] = {"_form": "您没有发起退费的权限"}
        status_code = 403
    return render(request, "officer/initiate.html", ctx, status_code=status_code)


@router.get("/officer/initiate")
async def initiate_page(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    lookup = _Lookup(
        *(common.query_text(request, k, max_chars=40) for k in ("payment_id", "id_number", "year"))
    )
    return await _initiate_response(request, db, principal, lookup=lookup)


@router.post("/officer/initiate")
async def initiate_submit(
    request: Request, db: DbSession, principal: guard.PageOfficer
) -> Response:
    """税务端发起退费 of an arrived pension payment (channel 税务端); the new application
    opens with its review buttons disabled for the initiator (four eyes)."""
    form = await common.read_form(request)
    lookup = _Lookup(
        *(form.text(f"lookup_{k}", max_chars=40) for k in ("payment_id", "id_number", "year"))
    )
    data: dict[str, object] = {
        "payment_id": form.text("payment_id", max_chars=40),
        "reason": form.text("reason", max_chars=review_decisions.OPINION_MAX, label="退费原因"),
        **{name: form.text(name, max_chars=40) for name in bank_details.FIELDS},
        "account_no_confirmed": form.flag("account_no_confirmed"),
    }
    # Every problem at once, each next to its field: the page's wording for an empty payment
    # or reason, then whatever the input model (with the bank details' checks) refuses.
    for name, message in INITIATE_REQUIRED.items():
        if not data[name]:
            form.errors.setdefault(name, message)
    body = common.validate_form(form, InitiateRefund, data)
    if body is None or form.errors:
        return await _initiate_response(
            request, db, principal, lookup=lookup, form=form, status_code=422
        )
    chosen = body
    clock = request.app.state.clock
    try:
        app = await in_transaction(
            db,
            lambda s: officer_refunds.initiate_pension_refund(
                s, officer=principal, request=chosen, at=clock.now()
            ),
        )
    except DomainError as exc:
        form.fail(exc)
        return await _initiate_response(
            request, db, principal, lookup=lookup, form=form, status_code=exc.status
        )
    return common.redirect(f"/officer/applications/{app.id}", done="initiated")


# --------------------------------------------------------------------------- dispatch monitor


def _dispatch_query(request: Request) -> dict[str, Any]:
    state = common.query_text(request, "state", max_chars=12)
    agency = common.query_text(request, "agency", max_chars=20)
    return {
        "state": state if state in set(DispatchState) else "",
        "agency": agency if agency in set(Agency) else "",
        "page": common.query_int(request, "page", default=1, minimum=1, maximum=1_000_000) or 1,
    }


async def _dispatch_response(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    query = _dispatch_query(request)

    def listing(session: Session) -> dispatches.DispatchPage:
        def fetch(page: int) -> dispatches.DispatchPage:
            return dispatches.list_dispatches(
                session,
                state=DispatchState(query["state"]) if query["state"] else None,
                agency=Agency(query["agency"]) if query["agency"] else None,
                page=page,
                page_size=DISPATCH_PAGE_SIZE,
                region_scope=principal.region_code,
            )

        result = fetch(query["page"])
        if not result.items and result.total and query["page"] > 1:
            result = fetch(result.page_count)
        return result

    result = await in_transaction(db, listing)
    keep = {k: query[k] for k in ("state", "agency") if query[k]}
    ctx = _base_context(principal, title="派发监控", nav="dispatches", crumbs=[("派发监控", None)])
    ctx.update(
        {
            "query": query,
            "rows": result.items,
            "keep": keep,
            "keep_page": dict(keep, page=result.page),
            "pager": common.Pager(result.page, DISPATCH_PAGE_SIZE, result.total),
            "state_options": DISPATCH_STATE_OPTIONS,
            "agency_options": AGENCY_OPTIONS,
            "errors": errors or {},
            "notice": _notice(request),
        }
    )
    return render(request, "officer/dispatches.html", ctx, status_code=status_code)


@router.get("/officer/dispatches")
async def dispatches_page(
    request: Request, db: DbSession, principal: guard.PageOfficer
) -> Response:
    return await _dispatch_response(request, db, principal)


@router.post("/officer/dispatches/{message_id}/retry")
async def retry_dispatch(
    message_id: str, request: Request, db: DbSession, principal: guard.PageOfficer
) -> Response:
    """重试: a failed request goes back to the worker with the same request id."""
    msg_id = _parse_id(message_id)
    clock = request.app.state.clock
    try:
        if msg_id is None:
            raise NotFound("dispatch.not_found", "派发记录不存在")
        await in_transaction(
            db,
            lambda s: dispatches.retry_failed(
                s, message_id=msg_id, officer=principal, at=clock.now()
            ),
        )
    except DomainError as exc:
        return await _dispatch_response(
            request, db, principal, errors={"_form": exc.message}, status_code=exc.status
        )
    query = _dispatch_query(request)
    return common.redirect(
        "/officer/dispatches",
        state=query["state"],
        agency=query["agency"],
        page=query["page"] if query["page"] > 1 else None,
        done="retried",
    )


# --------------------------------------------------------------------------- reconciliation


@router.get("/officer/reconciliations")
async def reconciliation_page(
    request: Request, db: DbSession, principal: guard.PageOfficer
) -> Response:
    """三方对账: the newest reconciliation of a day (default yesterday, China time)."""
    raw = common.query_text(request, "date", max_chars=10)
    errors: dict[str, str] = {}
    day: date | None = None
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            errors["date"] = "日期格式应为 YYYY-MM-DD"
    else:
        day = request.app.state.clock.today() - timedelta(days=1)
    view = (
        await in_transaction(
            db, lambda s: reconciliation.latest(s, day=day, region_scope=principal.region_code)
        )
        if day is not None
        else None
    )
    ctx = _base_context(
        principal, title="三方对账", nav="reconciliations", crumbs=[("三方对账", None)]
    )
    ctx.update(
        {
            "query": {"date": day.isoformat() if day else raw},
            "view": view,
            "errors": errors,
        }
    )
    return render(request, "officer/reconciliation.html", ctx, status_code=422 if errors else 200)
