"""Pages of the phone app (楚税通), laid out for a ~390px screen, under /m/:
首页 → 更多功能 → 退税 → 社保费退费 → 城乡居民养老社保费退费 / 城乡居民医保社保费退费 (manual 1.1
and 2.1). The same services as the PC pages; applications made here record channel
``mobile_app``. Like the PC pages, every form works without JavaScript.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ...domain.errors import DomainError
from ...domain.workflow import ApplicationKind, Channel
from ...services import accounts, deposit_accounts, medical, pension
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid, Report
from .. import refund_presenters
from ..deps import Db, DbSession
from . import (
    accounts_pages,
    common,
    guard,
    medical_flows,
    pension_flow,
    reapply_flow,
    reissue_flow,
)
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.MOBILE_APP.value

HOME = ("首页", "/m/")
MORE = ("更多功能", "/m/more")
REFUND = ("退税", "/m/refund")
SIF = ("社保费退费", "/m/sif")
PENSION_TITLE = "城乡居民养老社保费退费"
MEDICAL_TITLE = "城乡居民医保社保费退费"
PENSION_CRUMBS = [HOME, MORE, REFUND, SIF, (PENSION_TITLE, "/m/pension")]
MEDICAL_CRUMBS = [HOME, MORE, REFUND, SIF, (MEDICAL_TITLE, "/m/medical")]


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


# --------------------------------------------------------------------------- menus


def _screen(
    title: str,
    *,
    tiles: list[tuple[str, list[tuple[str, str, str]]]] | None = None,
    list_items: list[dict[str, str]] | None = None,
    **layout: Any,
) -> dict[str, Any]:
    """A menu screen's context: groups of tiles, each (group title, [(label, address,
    glyph)]) as on 首页 and 更多功能, or a list of functions with hints."""
    groups = [
        {
            "title": group,
            "items": [{"label": label, "url": url, "glyph": glyph} for label, url, glyph in items],
        }
        for group, items in tiles or []
    ]
    context = {"title": title, "groups": groups, **layout}
    if list_items is not None:
        context["list_items"] = list_items
    return context


# The tiles both 首页 and 更多功能 show: (label, address, glyph).
_REFUND_TILE = ("退税", "/m/refund", "退")
_SIF_TILE = ("社保费退费", "/m/sif", "社")
_PROGRESS_TILE = ("退费进度", "/m/pension?view=progress", "查")

HOME_SCREEN = _screen(
    "楚税通",
    tiles=[("常用服务", [_REFUND_TILE, _SIF_TILE, _PROGRESS_TILE, ("更多功能", "/m/more", "⋯")])],
    heading="楚税通",
    banner="湖北税务 · 楚税通",
    tabbar="home",
)
#: Every tile leads to a function of its own (issue 10, part 9): none only reloads a menu.
MORE_SCREEN = _screen(
    "更多功能",
    tiles=[
        ("退税", [_REFUND_TILE, _SIF_TILE]),
        (
            "社保费退费",
            [
                ("养老退费", "/m/pension", "养"),
                ("医保退费", "/m/medical", "医"),
                ("继承人代办", "/m/heirs", "继"),
                _PROGRESS_TILE,
            ],
        ),
    ],
    back_url="/m/",
    crumbs=[HOME, ("更多功能", None)],
    tabbar="more",
)
REFUND_SCREEN = _screen(
    "退税",
    back_url="/m/more",
    crumbs=[HOME, MORE, ("退税", None)],
    list_items=[{"label": "社保费退费", "url": "/m/sif", "hint": "城乡居民养老、医保社保费退费"}],
)
SIF_SCREEN = _screen(
    "社保费退费",
    back_url="/m/refund",
    crumbs=[HOME, MORE, REFUND, ("社保费退费", None)],
    list_items=[
        {
            "label": PENSION_TITLE,
            "url": "/m/pension",
            "hint": "退回当期及补缴以前年度的城乡居民养老保险费",
        },
        {
            "label": MEDICAL_TITLE,
            "url": "/m/medical",
            "hint": "退回已缴纳的城乡居民基本医疗保险费",
        },
        {
            "label": "继承人代办",
            "url": "/m/heirs",
            "hint": "参保人死亡后，由继承人申请退还其养老保险费",
        },
    ],
)


def _menu_route(paths: tuple[str, ...], name: str, screen: dict[str, Any]) -> None:
    """A menu screen anyone may open (logged in or not)."""

    async def page(request: Request, principal: guard.PagePrincipal) -> Response:
        return render(request, "mobile/menu.html", screen)

    page.__name__ = name
    for path in paths:
        router.add_api_route(path, page, methods=["GET"])


_menu_route(("/m/", "/m"), "home", HOME_SCREEN)
_menu_route(("/m/more",), "more", MORE_SCREEN)
_menu_route(("/m/refund",), "refund", REFUND_SCREEN)


#: 社保费退费 for a unit (村组) logged in on the phone: its own functions, which the PC site's
#: unit pages serve (the session is the same; those pages fit a phone screen too).
UNIT_SIF_SCREEN = _screen(
    "社保费退费",
    back_url="/m/refund",
    crumbs=[HOME, MORE, REFUND, ("社保费退费", None)],
    list_items=[
        {
            "label": "城乡居民社会保险费退费（养老）（村组）",
            "url": "/etax/unit",
            "hint": "村组代缴的村集体补助、特殊人群代缴养老保险费退费",
        },
        {
            "label": "退费进度查询（村组）",
            "url": "/etax/unit/progress",
            "hint": "查看本单位已保存的退费申请及审核结果",
        },
    ],
    intro="您以单位（村组）身份登录，可办理以下单位业务：",
)


@router.get("/m/sif")
async def sif(request: Request, principal: guard.PagePrincipal) -> Response:
    """社保费退费 is for a logged-in person or unit (each gets its own functions): the login
    page comes first."""
    if principal is None:
        raise guard.LoginRequired("person")
    if principal.kind == "unit":
        return render(request, "mobile/menu.html", UNIT_SIF_SCREEN)
    if principal.kind != "person":
        raise guard.WrongAccountKind("person")
    return render(request, "mobile/menu.html", SIF_SCREEN)


# --------------------------------------------------------------------------- login


accounts_pages.add_account_routes(
    router,
    accounts_pages.Site(
        prefix="/m",
        templates="mobile",
        home="/m/",
        after_login="/m/sif",
        login_extra={"back_url": "/m/", "heading": "登录"},
        register_extra={"back_url": "/m/login", "heading": "用户注册"},
    ),
)


# --------------------------------------------------------------------------- 养老 (1.1)


def _pension_view(request: Request, form: Form | None = None) -> str:
    """Which list the page shows: 可退费信息查询 (``query``) or 退费进度查询 (``progress``)."""
    view = (
        form.text("view", max_chars=10) if form is not None else common.query_text(request, "view")
    )
    return "progress" if view == "progress" else "query"


async def _pension_render(
    request: Request,
    db: Db,
    principal: Principal,
    query: pension_flow.Query,
    view: str,
    *,
    status_code: int = 200,
    apply_id: str | None = None,
    **extra: Any,
) -> Response:
    def load(session: Session) -> dict[str, Any]:
        data: dict[str, Any] = {"account": accounts.describe_account(session, principal=principal)}
        if view == "progress":
            rows = pension.progress(session, person_id=principal.account_id, year=query.year)
            data["rows"] = [refund_presenters.pension_refund(r) for r in rows]
            data["pager"] = common.Pager(1, max(1, len(rows)), len(rows))
        else:
            data.update(pension_flow.listing(session, principal, query))
        data["line"] = (
            pension_flow.all_lines(session, principal.account_id).get(apply_id)
            if apply_id
            else None
        )
        return data

    data = await in_transaction(db, load)
    line = data.pop("line")
    ctx: dict[str, Any] = {
        "title": "社保费退费",
        "back_url": "/m/sif",
        "crumbs": PENSION_CRUMBS,
        "query": {"year": query.year or "", "state": query.state, "arrival": query.arrival},
        "view": view,
        "year_options": pension_flow.year_options(request),
        "state_options": pension_flow.STATE_OPTIONS,
        "arrival_options": pension_flow.ARRIVAL_OPTIONS,
        "keep": query.keep(view="progress" if view == "progress" else None),
        **pension_flow.BANK_CHOICES,
        "selected": [],
        "selected_total": "",
        "show_dialog": False,
        "list_errors": {},
        "codes": {},
        **data,
    }
    if apply_id:
        if line is None or not line.refundable:
            ctx["list_errors"] = {"_form": "该缴费不能申请退费" if line else "缴费记录不存在"}
            status_code = 422
        else:
            ctx.update(
                selected=[apply_id],
                selected_total=pension_flow.selection_total({apply_id: line}, [apply_id]),
                show_dialog=True,
            )
    ctx.update(extra)
    return render(request, "mobile/pension.html", ctx, status_code=status_code)


@router.get("/m/pension")
async def pension_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    query = pension_flow.read_query(request)
    apply_id = common.query_text(request, "apply", max_chars=pension.PAYMENT_ID_MAX) or None
    refused = await reapply_flow.refused_details(request, db, principal, ApplicationKind.PENSION)
    if refused is not None:
        # 重新申请 from a refused case: the sheet for its payment, its details filled in.
        return await _pension_render(
            request,
            db,
            principal,
            query,
            "query",
            apply_id=refused.payment_id,
            values=reapply_flow.bank_values(refused),
        )
    restored = common.restored_fields(request)
    if apply_id is None and restored and restored.get("payment_ids"):
        # Back after the session ended in the 申请退费 sheet: the sheet again, as typed.
        apply_id = restored["payment_ids"][0][: pension.PAYMENT_ID_MAX]
    return await _pension_render(
        request, db, principal, query, _pension_view(request), apply_id=apply_id
    )


@router.post("/m/pension/apply")
async def pension_apply(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    query, form, total = await pension_flow.apply(request, db, principal, channel=CHANNEL)
    if total is None:
        return common.redirect("/m/pension", **query.keep(view="progress", done="applied"))
    return await _pension_render(
        request,
        db,
        principal,
        query,
        "query",
        status_code=422,
        **pension_flow.dialog_again(form, total),
    )


@router.post("/m/pension/cancel")
async def pension_cancel(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    form = await common.read_form(request)
    query = pension_flow.read_query(request, form)
    view = _pension_view(request, form)
    app_id = form.integer(
        "application_id", label="退费申请", minimum=1, maximum=pension_flow.MAX_APPLICATION_ID
    )
    try:
        await pension_flow.cancel_one(request, db, principal, app_id)
    except DomainError as exc:
        return await _pension_render(
            request,
            db,
            principal,
            query,
            view,
            status_code=exc.status,
            list_errors={"_form": exc.message},
        )
    return common.redirect(
        "/m/pension",
        **query.keep(view="progress" if view == "progress" else None, done="cancelled"),
    )


PENSION_REISSUE = reissue_flow.Site(
    path="/m/pension/refunds/{application_id}/reissue",
    kind=ApplicationKind.PENSION,
    template="mobile/reissue.html",
    back_url="/m/pension?view=progress",
    layout={"crumbs": PENSION_CRUMBS},
    error_layout={},
)


reissue_flow.add_person_page(router, PENSION_REISSUE, name="pension_reissue")


# --------------------------------------------------------------------------- 医保 (2.1)


MEDICAL_REISSUE = reissue_flow.Site(
    path="/m/medical/refunds/{application_id}/reissue",
    kind=ApplicationKind.MEDICAL,
    template="mobile/medical_reissue.html",
    back_url="/m/medical",
    layout={"report_url": "/m/medical/report", "crumbs": MEDICAL_CRUMBS},
    error_layout={"crumbs": MEDICAL_CRUMBS},
)


reissue_flow.add_person_page(router, MEDICAL_REISSUE, name="medical_reissue")


@router.get("/m/medical")
async def medical_registrations(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    """选择【城乡居民医保社保费退费】后带出医保登记信息，点击【确认】."""

    def load(session: Session) -> tuple[list[medical.Registration], accounts.Account]:
        return (
            medical.list_registrations(session, person_id=principal.account_id),
            accounts.describe_account(session, principal=principal),
        )

    regs, account = await in_transaction(db, load)
    return render(
        request,
        "mobile/medical_reg.html",
        {
            "title": "城乡居民医保社保费退费",
            "back_url": "/m/sif",
            "crumbs": MEDICAL_CRUMBS,
            "registrations": regs,
            "account": account,
            "chosen": common.query_text(request, "registration_id", max_chars=40),
        },
    )


def _medical_list(
    request: Request, data: dict[str, Any], *, view: str, status_code: int, **extra: Any
) -> Response:
    """城乡居民医保可退费信息查询 with its two views: 可退费信息 / 已退费进度."""
    return render(
        request,
        "mobile/medical.html",
        {
            "title": "城乡居民医保可退费信息查询",
            "back_url": "/m/medical",
            "crumbs": MEDICAL_CRUMBS,
            "view": view,
            "year_options": medical_flows.year_options(
                request.app.state.clock.today(), data.get("insurance_years", ())
            ),
            "query": {"insurance_year": data["insurance_year"]},
            "keep": medical_flows.keep_of(data),
            "list_errors": {},
            "progress": [],
            **data,
            **extra,
        },
        status_code=status_code,
    )


@router.get("/m/medical/query")
async def medical_query(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    """城乡居民医保可退费信息查询: 可退费信息查询 / 已退费进度查询."""
    query = medical_flows.read_query(request)
    view = "progress" if request.query_params.get("view") == "progress" else "query"
    today = request.app.state.clock.today()

    def load(session: Session) -> dict[str, Any]:
        if view != "progress":
            return medical_flows.load_listing(session, principal, query, today)
        data = medical_flows.load_progress(session, principal, query, today)
        problem = data.pop("progress_error")
        if data["query_errors"]:
            data["progress"] = []
        elif problem:
            data["query_errors"] = {"insurance_year": problem}
        return data

    data = await in_transaction(db, load)
    if data["need_choice"]:
        return common.redirect("/m/medical", insurance_year=query.insurance_year)
    return _medical_list(request, data, view=view, status_code=422 if data["query_errors"] else 200)


@router.get("/m/medical/apply")
async def medical_apply(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    """退费: the prompt 未查询到存款账户报告信息 without an account, else 选择银行账户信息."""
    return await _medical_apply_render(request, db, principal)


async def _medical_apply_render(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    step: str = "accounts",
    form: Form | None = None,
    status_code: int = 200,
) -> Response:
    refused = (
        await reapply_flow.refused_details(request, db, principal, ApplicationKind.MEDICAL)
        if form is None
        else None
    )
    if refused is not None:
        # 重新申请 from a refused case: its payment, account and details filled in.
        ids, query = [refused.payment_id], medical_flows.query_of(refused)
    elif form is None:
        ids = medical_flows.payment_ids_from_query(request)
        query = medical_flows.read_query(request)
    else:
        ids = form.values["payment_ids"]
        query = medical_flows.form_query(form)
    today = request.app.state.clock.today()
    data = await in_transaction(
        db,
        lambda s: medical_flows.apply_state(
            s, principal, payment_ids=ids, query=query, today=today
        ),
    )
    keep = medical_flows.keep_of(data)
    if data["problem"] and not (form is not None and data["chosen_rows"]):
        return _medical_list(
            request,
            data,
            view="query",
            status_code=422,
            list_errors={"_form": data["problem"]},
        )
    again = (
        medical_flows.refused_values(refused, data["deposit_accounts"])
        if refused is not None
        else {}
    )
    chosen_account = (
        form.values.get("deposit_account_id")
        if form is not None
        else again.get("deposit_account_id")
        or common.query_text(request, "deposit_account_id", max_chars=20)
    )
    accounts_by_id = {str(a.account_id): a for a in data["deposit_accounts"]}
    if step == "fill" and chosen_account not in accounts_by_id:
        step = "accounts"
    first = next(iter(accounts_by_id), "")
    values: dict[str, Any] = {**again, "deposit_account_id": chosen_account or first}
    if form is not None:
        values.update({k: v for k, v in form.values.items() if v not in (None, "")})
    apply_here = medical_flows.apply_url(ids, keep, "/m/medical/apply")
    if not data["deposit_accounts"]:
        title = "城乡居民医保社保费退费"
    elif step == "fill":
        title = "城乡居民医保社保退费信息填写"
    else:
        title = "选择银行账户信息"
    return render(
        request,
        "mobile/medical_apply.html",
        {
            "title": title,
            "back_url": "/m/medical/query?" + urlencode(keep) if step == "accounts" else apply_here,
            "crumbs": MEDICAL_CRUMBS,
            "step": step,
            "payment_ids": ids,
            "keep": keep,
            "values": values,
            "errors": form.errors if form else {},
            "reasons": medical_flows.REASON_OPTIONS,
            "account_row": accounts_by_id.get(values["deposit_account_id"]),
            "report_url": "/m/medical/report?" + urlencode({"return": apply_here}),
            **data,
        },
        status_code=status_code,
    )


@router.get("/m/medical/apply/fill")
async def medical_fill(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    """城乡居民医保社保退费信息填写 for the chosen account."""
    return await _medical_apply_render(request, db, principal, step="fill")


@router.post("/m/medical/apply")
async def medical_apply_submit(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    form = await common.read_form(request)
    outcome = await medical_flows.submit_application(request, db, principal, form, channel=CHANNEL)
    if isinstance(outcome, str):
        return medical_flows.after_applying("/m/medical/query", outcome, form, view="progress")
    status = medical_flows.refusal_status(form)
    return await _medical_apply_render(
        request, db, principal, step="fill", form=form, status_code=status
    )


@router.post("/m/medical/cancel")
async def medical_cancel(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    return await medical_flows.cancel_application(
        request, db, principal, progress_url="/m/medical/query", keep={"view": "progress"}
    )


# --------------------------------------------------------------------------- 存款账户账号报告 (phone)
#
# The phone shows the report as a list of 银行账户信息 cards. 新增记录 opens one account's form
# (← 返回 / 保存); 保存 keeps the row in the person's draft report (暂存), so nothing typed is
# lost between the two screens; 提交 on the report submits the draft.


def _draft_rows(report: Report | None) -> list[dict[str, str]]:
    """The rows of a draft (a submitted report takes new accounts in a new draft)."""
    return medical_flows.rows_from_report(report) if _is_draft(report) else []


def _is_draft(report: Report | None) -> bool:
    return report is not None and report.state == deposit_accounts.DRAFT


def _report_page(request: Request, form: medical_flows.ReportForm, return_url: str) -> Response:
    """存款账户账号报告 as cards; with errors, the report as submitted (422)."""
    report = form.report
    return render(
        request,
        "mobile/medical_report.html",
        {
            "title": "社会保险费缴费人存款账户账号报告",
            "heading": "存款账户账号报告",
            "back_url": return_url,
            "crumbs": MEDICAL_CRUMBS,
            "account": form.account,
            "report": report,
            "values": form.header,
            "rows": [{**r, "labels": medical_flows.row_labels(r)} for r in form.rows],
            "errors": form.errors,
            "return_url": return_url,
            "editable": report is None or report.state == deposit_accounts.DRAFT,
        },
        status_code=422 if form.errors else 200,
    )


@router.get("/m/medical/report")
async def report_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    today = request.app.state.clock.today()
    account, report = await medical_flows.load_report(db, principal)
    header = medical_flows.header_from_report(report, today)
    for name in ("handler_name", "report_date"):
        typed = common.query_text(request, name, max_chars=50)
        if typed:
            header[name] = typed
    return _report_page(
        request,
        medical_flows.ReportForm(account, report, header, medical_flows.rows_from_report(report)),
        common.safe_next(request.query_params.get("return"), "/m/medical"),
    )


def _account_page(
    request: Request,
    *,
    row: dict[str, str],
    index: str,
    header: dict[str, str],
    errors: dict[str, str],
    return_url: str,
) -> Response:
    return render(
        request,
        "mobile/medical_account.html",
        {
            "title": "银行账户信息",
            "heading": "存款账户账号报告",
            "back_url": "/m/medical/report?" + urlencode({"return": return_url}),
            "crumbs": MEDICAL_CRUMBS,
            "values": row,
            "errors": errors,
            "index": index,
            "header": header,
            "return_url": return_url,
            **medical_flows.ROW_OPTIONS,
        },
        status_code=422 if errors else 200,
    )


def _row_index(index: str, rows: list[dict[str, str]]) -> int | None:
    return int(index) if index.isdigit() and int(index) < len(rows) else None


@router.get("/m/medical/report/account")
async def report_account_page(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    """新增记录 (or 修改 of a draft row): one 银行账户信息 form."""
    today = request.app.state.clock.today()
    _account, report = await medical_flows.load_report(db, principal)
    rows = _draft_rows(report)
    index = common.query_text(request, "index", max_chars=3)
    position = _row_index(index, rows)
    if position is None:
        index = ""
        row = medical_flows.blank_row(principal.display_name, today)
    else:
        row = rows[position]
    return _account_page(
        request,
        row=row,
        index=index,
        header={
            name: common.query_text(request, name, max_chars=50)
            for name in ("handler_name", "report_date")
        },
        errors={},
        return_url=common.safe_next(request.query_params.get("return"), "/m/medical"),
    )


async def _save_draft(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    header: dict[str, str],
    rows: list[dict[str, str]],
    submit: bool,
    report: Report | None,
) -> Report:
    today = request.app.state.clock.today()
    # A submitted report takes new accounts in a new draft (a submitted one is only ever
    # submitted again, with all of its accounts).
    return await medical_flows.save_report(
        request,
        db,
        principal,
        report_id=report.report_id if report is not None and _is_draft(report) else None,
        header={
            "handler_name": header.get("handler_name", ""),
            "report_date": header.get("report_date") or today.isoformat(),
        },
        rows=rows,
        submit=submit,
    )


@router.post("/m/medical/report/account")
async def report_account_save(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    """保存 of one account: kept in the draft report (暂存); the report is submitted later."""
    form = await common.read_form(request)
    return_url = common.safe_next(form.text("return", max_chars=500), "/m/medical")
    header = {name: form.text(name, max_chars=50) for name in ("handler_name", "report_date")}
    index = form.text("index", max_chars=3)
    row = {name: form.text(name, max_chars=200) for name in medical_flows.ROW_FIELDS}
    _account, report = await medical_flows.load_report(db, principal)
    rows = _draft_rows(report)
    position = _row_index(index, rows)
    if position is None:
        position = len(rows)
        row["account_id"] = ""
        rows.append(row)
    else:
        row["account_id"] = rows[position].get("account_id", "")
        rows[position] = row
    if report is not None and _is_draft(report):
        header = {
            "handler_name": header["handler_name"] or (report.handler_name or ""),
            "report_date": header["report_date"]
            or (report.report_date.isoformat() if report.report_date else ""),
        }
    errors: dict[str, str] = {}
    try:
        await _save_draft(
            request, db, principal, header=header, rows=rows, submit=False, report=report
        )
    except FormInvalid as exc:
        prefix = f"accounts.{position}."
        for err in exc.errors:
            field = err.field or ""
            errors.setdefault(
                field[len(prefix) :] if field.startswith(prefix) else "_form", err.message
            )
    except DomainError as exc:
        errors["_form"] = exc.message
    if errors:
        return _account_page(
            request, row=row, index=index, header=header, errors=errors, return_url=return_url
        )
    return common.redirect("/m/medical/report", **{"return": return_url}, done="account_saved")


@router.post("/m/medical/report")
async def report_submit(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    """暂存 / 提交 of the report, or 删除 of a draft row."""
    form = await common.read_form(request)
    op = form.text("op", max_chars=20)
    return_url = common.safe_next(form.text("return", max_chars=500), "/m/medical")
    header = {name: form.text(name, max_chars=50) for name in ("handler_name", "report_date")}
    account, report = await medical_flows.load_report(db, principal)
    rows = medical_flows.rows_from_report(report)
    errors: dict[str, str] = {}
    if op == "new_record":
        return common.redirect(
            "/m/medical/report/account", **medical_flows.clean({**header, "return": return_url})
        )
    if op.startswith("delete_"):
        position = _row_index(op.removeprefix("delete_"), rows)
        if _is_draft(report) and position is not None:
            rows.pop(position)
    elif report is not None and report.state == deposit_accounts.SUBMITTED:
        errors["_form"] = "报告已提交。如需新增账户，请点击【新增记录】"
    elif op not in ("draft", "submit"):
        op = "draft"
    if not errors:
        submit = op == "submit"
        try:
            saved = await _save_draft(
                request, db, principal, header=header, rows=rows, submit=submit, report=report
            )
        except FormInvalid as exc:
            errors, _codes = medical_flows.errors_by_field(exc)
        except DomainError as exc:
            errors["_form"] = exc.message
        else:
            if saved.state == deposit_accounts.SUBMITTED:
                sep = "&" if "?" in return_url else "?"
                return common.redirect(return_url + sep + "done=submitted")
            return common.redirect("/m/medical/report", **{"return": return_url}, done="draft")
    return _report_page(
        request, medical_flows.ReportForm(account, report, header, rows, errors), return_url
    )


common.add_not_found_route(router, "/m")
