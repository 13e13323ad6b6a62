"""PC pages of 城乡居民医疗保险费退费 (manual 2.2).

城乡居民医疗社保费(退费): 参保年度 (today's by default) + 查询, 申请退费, 进度查询, 选择登记信息
(a choice when the person has several registrations). 申请退费 opens 城乡居民医疗社保费退费申请;
without a submitted deposit account it shows the prompt 未查询到存款报告账户信息, whose 确定
leads to 社会保险费缴费人存款账户账号报告 (rows added and deleted, 暂存, 提交) and, once
submitted, back to the application with the chosen payments.

The 申请退费 form is a GET (it changes nothing), so the report can send the person straight
back to it. The registration and year travel in the query string.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.workflow import ApplicationKind, Channel
from ...services import deposit_accounts
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid, Report
from ...services.reapply import RefusedDetails
from ..deps import Db, DbSession
from . import common, guard, reapply_flow, reissue_flow
from . import medical_flows as flows
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

TITLE = "城乡居民医疗保险费退费"
CRUMBS = [*common.ETAX_PATH_TO_OTHER, (TITLE, "/etax/medical")]
APPLY_URL = "/etax/medical/apply"
_ROW_KEY = re.compile(r"accounts\.(\d{1,2})\.([a-z_]+)")
REPORT_HINT = (
    "提示提醒：如果修改已保存的银行账户相关信息（银行开户登记证号、开户银行、账户名称、账号），"
    "请填写变更日期，保存后会根据变更日期判断是否需要自动制法盖章登记！"
)


# --------------------------------------------------------------------------- 城乡居民医疗社保费(退费)


def _base_context(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    today = request.app.state.clock.today()
    return {
        "title": "城乡居民医疗社保费(退费)",
        "nav": "tax",
        "crumbs": CRUMBS,
        "year_options": flows.year_options(today, data.get("insurance_years", ())),
        "keep": flows.keep_of(data),
        **data,
        "query": {"insurance_year": data["insurance_year"]},
    }


def _listing_page(request: Request, data: dict[str, Any], problem: str) -> Response:
    """The list again with a problem at the top (the chosen payments cannot be applied for)."""
    ctx = _base_context(request, data)
    ctx["list_errors"] = {"_form": problem}
    return render(request, "etax/medical.html", ctx, status_code=422)


@router.get("/etax/medical")
async def medical_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    query = flows.read_query(request)
    today = request.app.state.clock.today()
    data = await in_transaction(db, lambda s: flows.load_listing(s, principal, query, today))
    status = 422 if data["query_errors"] else 200
    ctx = _base_context(request, data)
    ctx["list_errors"] = {}
    return render(request, "etax/medical.html", ctx, status_code=status)


# --------------------------------------------------------------------------- 退费申请


def _apply_context(
    request: Request,
    data: dict[str, Any],
    payment_ids: list[str],
    form: Form | None = None,
    refused: RefusedDetails | None = None,
) -> dict[str, Any]:
    ctx = _base_context(request, data)
    values: dict[str, Any] = {}
    if data["deposit_accounts"]:
        values["deposit_account_id"] = str(data["deposit_accounts"][0].account_id)
    if refused is not None:
        # 重新申请: the refused case's details, its account only while it is still in force.
        values.update(flows.refused_values(refused, data["deposit_accounts"]))
    if form is not None:
        values.update({k: v for k, v in form.values.items() if v not in (None, "")})
    ctx.update(
        {
            "title": "城乡居民医疗社保费退费申请",
            "crumbs": [*CRUMBS, ("退费申请", None)],
            "payment_ids": payment_ids,
            "values": values,
            "errors": form.errors if form else {},
            "reasons": flows.REASON_OPTIONS,
            "report_url": "/etax/medical/deposit-report?"
            + urlencode({"return": flows.apply_url(payment_ids, ctx["keep"], APPLY_URL)}),
            "back_url": "/etax/medical?" + urlencode(ctx["keep"]),
        }
    )
    return ctx


@router.get("/etax/medical/apply")
async def apply_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    ids = flows.payment_ids_from_query(request)
    query = flows.read_query(request)
    refused = await reapply_flow.refused_details(request, db, principal, ApplicationKind.MEDICAL)
    if refused is not None:
        # 重新申请 from a refused case: the form for its payment, its details filled in.
        ids, query = [refused.payment_id], flows.query_of(refused)
    today = request.app.state.clock.today()
    data = await in_transaction(
        db, lambda s: flows.apply_state(s, principal, payment_ids=ids, query=query, today=today)
    )
    if data["problem"]:
        return _listing_page(request, data, data["problem"])
    return render(
        request, "etax/medical_apply.html", _apply_context(request, data, ids, refused=refused)
    )


@router.post("/etax/medical/apply")
async def apply_submit(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    form = await common.read_form(request)
    outcome = await flows.submit_application(request, db, principal, form, channel=CHANNEL)
    if isinstance(outcome, str):
        return flows.after_applying("/etax/medical/progress", outcome, form)
    data, ids = outcome
    if data["problem"] and not data["chosen_rows"]:
        return _listing_page(request, data, data["problem"])
    status = flows.refusal_status(form)
    return render(
        request,
        "etax/medical_apply.html",
        _apply_context(request, data, ids, form),
        status_code=status,
    )


# --------------------------------------------------------------------------- 进度查询


REISSUE_CRUMBS = [*CRUMBS, ("进度查询", "/etax/medical/progress"), ("重新提交账户", None)]
REISSUE = reissue_flow.Site(
    path="/etax/medical/progress/{application_id}/reissue",
    kind=ApplicationKind.MEDICAL,
    template="etax/medical_reissue.html",
    back_url="/etax/medical/progress",
    layout={"report_url": "/etax/medical/deposit-report", "nav": "tax", "crumbs": REISSUE_CRUMBS},
    error_layout={"crumbs": REISSUE_CRUMBS},
)


reissue_flow.add_person_page(router, REISSUE, name="progress_reissue")


@router.get("/etax/medical/progress")
async def progress_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    query = flows.read_query(request)
    today = request.app.state.clock.today()
    page = common.query_int(request, "page", default=1, minimum=1)
    data = await in_transaction(db, lambda s: flows.load_progress(s, principal, query, today))
    problem = data.pop("progress_error")
    shown, pager = common.paged(data.pop("progress"), page)
    ctx = _base_context(request, data)
    ctx.update(
        {
            "title": "城乡居民医保社保费退费进度",
            "crumbs": [*CRUMBS, ("进度查询", None)],
            "progress": shown,
            "pager": pager,
            "query_errors": {"insurance_year": problem} if problem else {},
        }
    )
    return render(request, "etax/medical_progress.html", ctx, status_code=422 if problem else 200)


@router.post("/etax/medical/progress/cancel")
async def progress_cancel(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    return await flows.cancel_application(
        request, db, principal, progress_url="/etax/medical/progress", crumbs=CRUMBS
    )


# --------------------------------------------------------------------------- 存款账户账号报告


def rows_from_form(form: Form) -> list[dict[str, str]]:
    """The report's rows as typed (``accounts.<i>.<field>``), in row order, at most 20."""
    rows: dict[int, dict[str, str]] = {}
    for key in list(form.data.keys()):
        match = _ROW_KEY.fullmatch(key)
        if not match or match.group(2) not in flows.ROW_FIELDS:
            continue
        value = form.data.get(key)
        text = value.strip() if isinstance(value, str) else ""
        rows.setdefault(int(match.group(1)), {})[match.group(2)] = text[: common.MAX_FIELD_CHARS]
    ordered = [rows[i] for i in sorted(rows)][: deposit_accounts.MAX_ROWS]
    for row in ordered:
        for name in flows.ROW_FIELDS:
            row.setdefault(name, "")
    return ordered


#: The grid's column headings (and the header fields'), for the error summary above the grid.
REPORT_FIELD_LABELS = {
    "operation_type": "操作类型",
    "account_nature": "账户性质",
    "permit_no": "银行开户登记证号",
    "issue_date": "发放日期",
    "division_code": "行政区划",
    "bank_category": "银行行别",
    "bank_branch": "开户银行",
    "account_name": "账户名称",
    "account_no": "账号",
    "currency": "币种",
    "preferred_tax_account": "首选缴税账户标识",
    "general_refund_account": "一般退税账户标识",
    "export_refund_account": "出口退税账户标识",
    "opened_on": "开户日期",
    "changed_on": "变更日期",
    "registered_on": "注册日期",
    "note": "备注",
    "handler_name": "经办人",
    "report_date": "报告日期",
    "business_address": "经营地址",
    "report_unit": "报告单位",
}
_ROW_FIELD_KEY = re.compile(r"accounts\.(\d+)\.([a-z_]+)")


def error_summary(errors: dict[str, str]) -> list[dict[str, str]]:
    """Every problem of the wide grid, listed above it: "第N行 账号：…" linking to its cell
    (row by row, in the grid's column order), then the header fields'."""
    order = list(REPORT_FIELD_LABELS)
    found: list[tuple[int, int, dict[str, str]]] = []
    for key, message in errors.items():
        match = _ROW_FIELD_KEY.fullmatch(key)
        if match and match.group(2) in REPORT_FIELD_LABELS:
            i, name = int(match.group(1)), match.group(2)
            text = f"第{i + 1}行 {REPORT_FIELD_LABELS[name]}：{message}"
            found.append((i, order.index(name), {"text": text, "href": f"#r{i}-{name}"}))
        elif key in flows.HEADER_FIELDS:
            text = f"{REPORT_FIELD_LABELS[key]}：{message}"
            found.append(
                (deposit_accounts.MAX_ROWS, order.index(key), {"text": text, "href": f"#f-{key}"})
            )
    return [item for _, _, item in sorted(found, key=lambda t: (t[0], t[1]))]


def report_context(
    request: Request, *, principal: Principal, form: flows.ReportForm, return_url: str
) -> dict[str, Any]:
    today = request.app.state.clock.today()
    return {
        "title": "社会保险费缴费人存款账户账号报告",
        "nav": "tax",
        "crumbs": [*CRUMBS, ("存款账户账号报告", None)],
        "account": form.account,
        "report": form.report,
        "values": form.header,
        "rows": form.rows,
        "errors": form.errors,
        "error_summary": error_summary(form.errors),
        "codes": form.codes,
        "return_url": return_url,
        "blank": flows.blank_row(principal.display_name, today),
        **flows.ROW_OPTIONS,
        "hint": REPORT_HINT,
    }


@router.get("/etax/medical/deposit-report")
async def report_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    today = request.app.state.clock.today()
    account, report = await flows.load_report(db, principal)
    rows = flows.rows_from_report(report) or [flows.blank_row(principal.display_name, today)]
    return render(
        request,
        "etax/medical_report.html",
        report_context(
            request,
            principal=principal,
            form=flows.ReportForm(account, report, flows.header_from_report(report, today), rows),
            return_url=common.safe_next(request.query_params.get("return"), "/etax/medical"),
        ),
    )


def _edit_rows(
    op: str, form: Form, rows: list[dict[str, str]], blank: dict[str, str]
) -> list[dict[str, str]] | str:
    """``add_row`` / ``delete_rows`` without JavaScript: the rows after, or the problem."""
    if op == "add_row":
        if len(rows) >= deposit_accounts.MAX_ROWS:
            return f"银行账户信息最多{deposit_accounts.MAX_ROWS}条"
        return [*rows, blank]
    picked = set(form.many("selected_rows", max_items=deposit_accounts.MAX_ROWS))
    if not picked:
        return "请先勾选需要删除的行"
    kept = []
    for i, row in enumerate(rows):
        if str(i) not in picked:
            kept.append(row)
        elif row["saved"]:
            # A submitted account is not erased: it is reported as 删除.
            row["operation_type"] = deposit_accounts.DELETE
            kept.append(row)
    return kept


async def handle_report_post(
    request: Request, db: Db, principal: Principal, form: Form
) -> Report | flows.ReportForm:
    """The report form's buttons: ``add_row`` / ``delete_rows`` (without JavaScript), 暂存
    (``draft``) and 提交 (``submit``). Returns the saved report, or the form to re-render with
    every problem next to its cell."""
    op = form.text("op", max_chars=20)
    header = {name: form.text(name, max_chars=200) for name in (*flows.HEADER_FIELDS, "report_id")}
    rows = rows_from_form(form)
    today = request.app.state.clock.today()
    account, report = await flows.load_report(db, principal)
    saved_ids = {str(a.account_id) for a in report.accounts} if report else set()
    submitted = report is not None and report.state == deposit_accounts.SUBMITTED
    for row in rows:
        row["saved"] = "1" if submitted and row.get("account_id") in saved_ids else ""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}

    if op in ("add_row", "delete_rows"):
        edited = _edit_rows(op, form, rows, flows.blank_row(principal.display_name, today))
        if isinstance(edited, str):
            errors["_form"] = edited
        else:
            rows = edited
    elif op in ("draft", "submit"):
        try:
            saved = await flows.save_report(
                request,
                db,
                principal,
                report_id=flows.report_id_of(header["report_id"]),
                header=header,
                rows=rows,
                submit=op == "submit",
            )
        except FormInvalid as exc:
            errors, codes = flows.errors_by_field(exc)
        except DomainError as exc:
            errors = {exc.field if exc.field and exc.field != "submit" else "_form": exc.message}
        else:
            return saved
    if not rows:
        rows = [flows.blank_row(principal.display_name, today)]
    return flows.ReportForm(account, report, header, rows, errors, codes)


@router.post("/etax/medical/deposit-report")
async def report_submit(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    form = await common.read_form(request)
    return_url = common.safe_next(form.text("return", max_chars=500), "/etax/medical")
    outcome = await handle_report_post(request, db, principal, form)
    if isinstance(outcome, Report):
        if outcome.state == deposit_accounts.SUBMITTED:
            sep = "&" if "?" in return_url else "?"
            return common.redirect(return_url + sep + "done=submitted")
        return common.redirect(
            "/etax/medical/deposit-report", **{"return": return_url}, done="draft"
        )
    ctx = report_context(request, principal=principal, form=outcome, return_url=return_url)
    return render(
        request, "etax/medical_report.html", ctx, status_code=422 if outcome.errors else 200
    )
