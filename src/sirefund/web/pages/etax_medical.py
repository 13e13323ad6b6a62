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
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain import regions
from ...domain.errors import DomainError
from ...domain.rules import (
    ACCOUNT_NATURES,
    BANK_CATEGORIES,
    CURRENCIES,
    DEPOSIT_OPERATION_TYPES,
    MEDICAL_REFUND_REASONS,
)
from ...domain.workflow import Channel
from ...services import accounts, deposit_accounts, medical
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid, ReportInvalid
from . import common, guard
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

TITLE = "城乡居民医疗保险费退费"
CRUMBS = [
    ("首页", "/etax/"),
    ("办税中心", "/etax/tax-center"),
    ("税费申报及缴纳", "/etax/tax-center/declare"),
    ("其他申报", "/etax/tax-center/declare/other"),
    (TITLE, "/etax/medical"),
]

ROW_FIELDS = (
    "account_id",
    "operation_type",
    "account_nature",
    "permit_no",
    "issue_date",
    "division_code",
    "bank_category",
    "bank_branch",
    "account_name",
    "account_no",
    "currency",
    "preferred_tax_account",
    "general_refund_account",
    "export_refund_account",
    "opened_on",
    "changed_on",
    "registered_on",
    "note",
    "account_no_confirmed",
)
_ROW_KEY = re.compile(r"accounts\.(\d{1,2})\.([a-z_]+)")
FLAG_OPTIONS = [("1", "是"), ("0", "否")]


def latest_draft(session: Any, person_id: int) -> Any:
    return deposit_accounts.latest_draft(session, person_id=person_id)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def division_options() -> list[tuple[str, str]]:
    """行政区划 choices: the province, each prefecture, then its counties."""
    out = [(regions.PROVINCE_CODE, f"{regions.PROVINCE_CODE} {regions.PROVINCE_NAME}")]
    for code, name in regions.PREFECTURES.items():
        out.append((code, f"{code} {regions.PROVINCE_NAME}({name})"))
        for county, county_name in regions.COUNTIES.items():
            if county != code and regions.prefecture_of(county) == code:
                out.append((county, f"{county} {name}{county_name}"))
    return out


DIVISION_OPTIONS = division_options()
NATURE_OPTIONS = [(k, f"{k} {v}") for k, v in ACCOUNT_NATURES.items()]
BANK_OPTIONS = [(k, f"{k} {v}") for k, v in BANK_CATEGORIES.items()]
CURRENCY_OPTIONS = [(k, f"{k} {v}") for k, v in CURRENCIES.items()]
OPERATION_OPTIONS = list(DEPOSIT_OPERATION_TYPES.items())
REASON_OPTIONS = list(MEDICAL_REFUND_REASONS.items())


def year_options(today: date) -> list[tuple[int, str]]:
    current = medical.default_year(today)
    return [(y, str(y)) for y in range(current + 1, 2022, -1)]


# --------------------------------------------------------------------------- 城乡居民医疗社保费(退费)


def medical_query(request: Request) -> dict[str, Any]:
    raw_year = common.query_text(request, "insurance_year", max_chars=8)
    return {
        "insurance_year": raw_year,
        "registration_id": common.query_text(request, "registration_id", max_chars=40),
        "choose": request.query_params.get("choose") == "1",
    }


def load_listing(
    session: Any, principal: Principal, query: dict[str, Any], today: date
) -> dict[str, Any]:
    """The registrations, the chosen one, the payments and any problem with the query."""
    regs = medical.list_registrations(session, person_id=principal.account_id)
    account = accounts.describe_account(session, principal=principal)
    errors: dict[str, str] = {}
    listing = None
    reg_id = query["registration_id"]
    if reg_id and reg_id not in {r.registration_id for r in regs}:
        errors["registration_id"] = "登记信息不存在"
        reg_id = ""
    need_choice = query["choose"] or (len(regs) > 1 and not reg_id)
    year = query["insurance_year"] or None
    if not need_choice or reg_id:
        try:
            listing = medical.list_payments(
                session,
                person_id=principal.account_id,
                insurance_year=year,
                registration_id=reg_id or None,
                today=today,
            )
        except DomainError as exc:
            if exc.field == "registration_id":
                need_choice = True
            else:
                errors[exc.field or "_form"] = exc.message
    chosen = (
        listing.registration
        if listing
        else next(
            (r for r in regs if r.registration_id == reg_id), regs[0] if len(regs) == 1 else None
        )
    )
    return {
        "registrations": regs,
        "registration": chosen,
        "account": account,
        "rows": [row.as_dict() for row in listing.items] if listing else [],
        "insurance_year": listing.insurance_year
        if listing
        else (query["insurance_year"] or medical.default_year(today)),
        "need_choice": need_choice and len(regs) > 0,
        "query_errors": errors,
    }


def _base_context(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    today = request.app.state.clock.today()
    reg = data["registration"]
    keep = _clean(
        {
            "insurance_year": data["insurance_year"],
            "registration_id": reg.registration_id if reg else None,
        }
    )
    return {
        "title": "城乡居民医疗社保费(退费)",
        "nav": "tax",
        "crumbs": CRUMBS,
        "year_options": year_options(today),
        "keep": keep,
        **data,
        "query": {"insurance_year": data["insurance_year"]},
    }


@router.get("/etax/medical")
async def medical_page(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    query = medical_query(request)
    today = request.app.state.clock.today()
    data = await in_transaction(db, lambda s: load_listing(s, principal, query, today))
    status = 422 if data["query_errors"] else 200
    ctx = _base_context(request, data)
    ctx["list_errors"] = {}
    return render(request, "etax/medical.html", ctx, status_code=status)


# --------------------------------------------------------------------------- 退费申请


def _apply_state(
    session: Any,
    principal: Principal,
    *,
    payment_ids: list[str],
    registration_id: str,
    insurance_year: str,
    today: date,
) -> dict[str, Any]:
    """The payments being applied for, the accounts in force, and any reason to go back."""
    query = {"insurance_year": insurance_year, "registration_id": registration_id, "choose": False}
    data = load_listing(session, principal, query, today)
    by_id = {r["payment_id"]: r for r in data["rows"]}
    problem = ""
    if data["need_choice"]:
        problem = "请选择登记信息"
    elif not payment_ids:
        problem = "请选择要退费的缴费记录"
    elif any(p not in by_id for p in payment_ids):
        problem = "缴费记录不存在"
    elif any(not by_id[p]["refundable"] for p in payment_ids):
        problem = "该缴费已申请退费，请勿重复申请"
    data["chosen_rows"] = [by_id[p] for p in payment_ids if p in by_id]
    data["deposit_accounts"] = [
        a.as_dict()
        for a in deposit_accounts.submitted_accounts(session, person_id=principal.account_id)
    ]
    data["problem"] = problem or data["query_errors"].get("insurance_year", "")
    return data


def apply_url(
    payment_ids: list[str], keep: dict[str, Any], base: str = "/etax/medical/apply"
) -> str:
    return base + "?" + urlencode([*(("payment_ids", p) for p in payment_ids), *keep.items()])


def _apply_context(
    request: Request, data: dict[str, Any], payment_ids: list[str], form: Form | None = None
) -> dict[str, Any]:
    ctx = _base_context(request, data)
    values: dict[str, Any] = {}
    if data["deposit_accounts"]:
        values["deposit_account_id"] = str(data["deposit_accounts"][0]["account_id"])
    if form is not None:
        values.update({k: v for k, v in form.values.items() if v not in (None, "")})
    ctx.update(
        {
            "title": "城乡居民医疗社保费退费申请",
            "crumbs": [*CRUMBS, ("退费申请", None)],
            "payment_ids": payment_ids,
            "values": values,
            "errors": form.errors if form else {},
            "reasons": REASON_OPTIONS,
            "report_url": "/etax/medical/deposit-report?"
            + urlencode({"return": apply_url(payment_ids, ctx["keep"])}),
            "back_url": "/etax/medical?" + urlencode(ctx["keep"]),
        }
    )
    return ctx


def _payment_ids_from_query(request: Request) -> list[str]:
    ids: list[str] = []
    for raw in request.query_params.getlist("payment_ids")[
        : medical.MAX_PAYMENTS_PER_APPLICATION + 1
    ]:
        raw = raw.strip()
        if raw and len(raw) <= 40 and raw not in ids:
            ids.append(raw)
    return ids


@router.get("/etax/medical/apply")
async def apply_page(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    ids = _payment_ids_from_query(request)
    query = medical_query(request)
    today = request.app.state.clock.today()
    data = await in_transaction(
        db,
        lambda s: _apply_state(
            s,
            principal,
            payment_ids=ids,
            registration_id=query["registration_id"],
            insurance_year=query["insurance_year"],
            today=today,
        ),
    )
    if data["problem"]:
        ctx = _base_context(request, data)
        ctx["list_errors"] = {"_form": data["problem"]}
        return render(request, "etax/medical.html", ctx, status_code=422)
    return render(request, "etax/medical_apply.html", _apply_context(request, data, ids))


@router.post("/etax/medical/apply")
async def apply_submit(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    form = await common.read_form(request)
    outcome = await submit_application(request, db, principal, form, channel=CHANNEL)
    if isinstance(outcome, str):
        return common.redirect(
            "/etax/medical/progress",
            insurance_year=outcome,
            registration_id=form.values["registration_id"],
            done="applied",
        )
    data, ids = outcome
    if data["problem"] and not data["chosen_rows"]:
        ctx = _base_context(request, data)
        ctx["list_errors"] = {"_form": data["problem"]}
        return render(request, "etax/medical.html", ctx, status_code=422)
    status = 409 if form.codes.get("deposit_account_id") == "deposit_account.missing" else 422
    return render(
        request,
        "etax/medical_apply.html",
        _apply_context(request, data, ids, form),
        status_code=status,
    )


async def submit_application(
    request: Request, db: common.deps.Db, principal: Principal, form: Form, *, channel: str
) -> str | tuple[dict[str, Any], list[str]]:
    """提交 / 退费 of the application form: the 参保年度 on success (for the redirect), else the
    state to re-render with every problem next to its field."""
    ids = form.many("payment_ids", max_items=medical.MAX_PAYMENTS_PER_APPLICATION + 1)
    registration_id = form.text("registration_id", max_chars=40)
    insurance_year = form.text("insurance_year", max_chars=8)
    account_id = form.text("deposit_account_id", max_chars=20)
    phone = form.text("handler_phone", max_chars=20, label="办税人电话")
    reason_code = form.text("reason_code", max_chars=30)
    reason_text = form.text("reason_text", max_chars=500, label="退费理由说明")
    clock = request.app.state.clock

    def work(session: Any) -> str:
        created = medical.apply(
            session,
            person_id=principal.account_id,
            payment_ids=ids,
            registration_id=registration_id or None,
            deposit_account_id=account_id or None,
            handler_phone=phone,
            reason_code=reason_code,
            reason_text=reason_text or None,
            channel=channel,
            at=clock.now(),
        )
        return str(created[0]["insurance_year"])

    if not form.errors:
        try:
            return await in_transaction(db, work)
        except FormInvalid as exc:
            for err in exc.errors:
                form.fail(err)
        except DomainError as exc:
            form.fail(exc)
    today = clock.today()
    data = await in_transaction(
        db,
        lambda s: _apply_state(
            s,
            principal,
            payment_ids=ids,
            registration_id=registration_id,
            insurance_year=insurance_year,
            today=today,
        ),
    )
    return data, ids


# --------------------------------------------------------------------------- 进度查询


@router.get("/etax/medical/progress")
async def progress_page(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    query = medical_query(request)
    today = request.app.state.clock.today()
    page = common.query_int(request, "page", default=1, minimum=1)

    def load(session: Any) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
        data = load_listing(session, principal, {**query, "choose": False}, today)
        try:
            rows = medical.progress(
                session,
                person_id=principal.account_id,
                insurance_year=query["insurance_year"] or None,
                today=today,
            )
        except DomainError as exc:
            return [], exc.message, data
        return rows, "", data

    rows, problem, data = await in_transaction(db, load)
    shown, pager = common.paged(rows, page)
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
async def progress_cancel(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    form = await common.read_form(request)
    app_id = form.integer("application_id", label="退费申请", minimum=1, maximum=2**62)
    keep = _clean(
        {
            "insurance_year": form.text("insurance_year", max_chars=8),
            "registration_id": form.text("registration_id", max_chars=40),
        }
    )
    clock = request.app.state.clock
    try:
        await in_transaction(
            db,
            lambda s: medical.cancel(
                s, person_id=principal.account_id, application_id=app_id or -1, at=clock.now()
            ),
        )
    except DomainError as exc:
        return render(
            request,
            "etax/error.html",
            {
                "title": "撤销退费",
                "message": exc.message,
                "crumbs": CRUMBS,
                "back_url": "/etax/medical/progress?" + urlencode(keep),
            },
            status_code=exc.status,
        )
    return common.redirect("/etax/medical/progress", **keep, done="cancelled")


# --------------------------------------------------------------------------- 存款账户账号报告


def rows_from_form(form: Form) -> list[dict[str, str]]:
    """The report's rows as typed (``accounts.<i>.<field>``), in row order, at most 20."""
    rows: dict[int, dict[str, str]] = {}
    for key in list(form.data.keys()):
        match = _ROW_KEY.fullmatch(key)
        if not match or match.group(2) not in ROW_FIELDS:
            continue
        value = form.data.get(key)
        text = value.strip() if isinstance(value, str) else ""
        rows.setdefault(int(match.group(1)), {})[match.group(2)] = text[:200]
    ordered = [rows[i] for i in sorted(rows)][: deposit_accounts.MAX_ROWS]
    for row in ordered:
        for name in ROW_FIELDS:
            row.setdefault(name, "")
    return ordered


def _report_errors(exc: ReportInvalid) -> tuple[dict[str, str], dict[str, str]]:
    """(messages, codes) by field. The service's fields (``accounts.<i>.<field>``) index the
    rows as they were sent, which is the order the form shows them in."""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}
    for err in exc.errors:
        field = err.field or "_form"
        if field == "accounts":
            field = "_form"
        if field not in errors:
            errors[field] = err.message
            codes[field] = err.code
    return errors, codes


def blank_row(name: str, today: date) -> dict[str, str]:
    """A new row as the manual's form starts it: 新增, 人民币, 是/是/否, the person's name."""
    return {
        "account_id": "",
        "operation_type": "add",
        "account_nature": "",
        "permit_no": "",
        "issue_date": today.isoformat(),
        "division_code": "",
        "bank_category": "",
        "bank_branch": "",
        "account_name": name,
        "account_no": "",
        "currency": "156",
        "preferred_tax_account": "1",
        "general_refund_account": "1",
        "export_refund_account": "0",
        "opened_on": "",
        "changed_on": "",
        "registered_on": "",
        "note": "",
        "account_no_confirmed": "",
    }


def rows_from_report(report: deposit_accounts.Report) -> list[dict[str, str]]:
    def d(value: date | None) -> str:
        return value.isoformat() if value else ""

    def flag(value: bool) -> str:
        return "1" if value else "0"

    return [
        {
            "account_id": str(r.account_id),
            "operation_type": r.operation_type,
            "account_nature": r.account_nature or "",
            "permit_no": r.permit_no or "",
            "issue_date": d(r.issue_date),
            "division_code": r.division_code or "",
            "bank_category": r.bank_category or "",
            "bank_branch": r.bank_branch or "",
            "account_name": r.account_name or "",
            "account_no": r.account_no if r.account_no is not None else r.account_no_masked,
            "currency": r.currency,
            "preferred_tax_account": flag(r.preferred_tax_account),
            "general_refund_account": flag(r.general_refund_account),
            "export_refund_account": flag(r.export_refund_account),
            "opened_on": d(r.opened_on),
            "changed_on": d(r.changed_on),
            "registered_on": d(r.registered_on),
            "note": r.note or "",
            "account_no_confirmed": "",
            "saved": "1" if report.state == deposit_accounts.SUBMITTED else "",
        }
        for r in report.accounts
        if not r.retired
    ]


def report_context(
    request: Request,
    *,
    principal: Principal,
    account: dict[str, Any],
    report: deposit_accounts.Report | None,
    header: dict[str, str],
    rows: list[dict[str, str]],
    errors: dict[str, str],
    return_url: str,
    codes: dict[str, str] | None = None,
) -> dict[str, Any]:
    today = request.app.state.clock.today()
    return {
        "title": "社会保险费缴费人存款账户账号报告",
        "nav": "tax",
        "crumbs": [*CRUMBS, ("存款账户账号报告", None)],
        "account": account,
        "report": report,
        "values": header,
        "rows": rows,
        "errors": errors,
        "codes": codes or {},
        "return_url": return_url,
        "blank": blank_row(principal.display_name, today),
        "operation_options": OPERATION_OPTIONS,
        "nature_options": NATURE_OPTIONS,
        "division_options": DIVISION_OPTIONS,
        "bank_options": BANK_OPTIONS,
        "currency_options": CURRENCY_OPTIONS,
        "flag_options": FLAG_OPTIONS,
        "hint": (
            "提示提醒：如果修改已保存的银行账户相关信息（银行开户登记证号、开户银行、账户名称、账号），"
            "请填写变更日期，保存后会根据变更日期判断是否需要自动制法盖章登记！"
        ),
    }


def _return_url(value: object, default: str) -> str:
    return common.safe_next(value, default)


async def load_report(
    db: common.deps.Db, principal: Principal, today: date
) -> tuple[dict[str, Any], deposit_accounts.Report | None]:
    def load(session: Any) -> tuple[dict[str, Any], deposit_accounts.Report | None]:
        account = accounts.describe_account(session, principal=principal)
        return account, deposit_accounts.current_report(session, person_id=principal.account_id)

    return await in_transaction(db, load)


def header_from_report(report: deposit_accounts.Report | None, today: date) -> dict[str, str]:
    if report is None:
        return {
            "handler_name": "",
            "report_date": today.isoformat(),
            "business_address": "",
            "report_unit": "",
            "report_id": "",
        }
    return {
        "handler_name": report.handler_name or "",
        "report_date": report.report_date.isoformat() if report.report_date else today.isoformat(),
        "business_address": report.business_address or "",
        "report_unit": report.report_unit or "",
        "report_id": str(report.report_id),
    }


@router.get("/etax/medical/deposit-report")
async def report_page(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    today = request.app.state.clock.today()
    account, report = await load_report(db, principal, today)
    rows = rows_from_report(report) if report else []
    if not rows:
        rows = [blank_row(principal.display_name, today)]
    return render(
        request,
        "etax/medical_report.html",
        report_context(
            request,
            principal=principal,
            account=account,
            report=report,
            header=header_from_report(report, today),
            rows=rows,
            errors={},
            return_url=_return_url(request.query_params.get("return"), "/etax/medical"),
        ),
    )


async def handle_report_post(
    request: Request, db: common.deps.Db, principal: Principal, form: Form
) -> tuple[str, dict[str, Any]]:
    """The report form's buttons: ``add_row`` / ``delete_rows`` (without JavaScript), 暂存
    (``draft``) and 提交 (``submit``). Returns ("saved", {state, report_id}) or
    ("form", context pieces) to re-render with every problem next to its cell."""
    op = form.text("op", max_chars=20)
    header = {
        name: form.text(name, max_chars=200)
        for name in ("handler_name", "report_date", "business_address", "report_unit", "report_id")
    }
    rows = rows_from_form(form)
    today = request.app.state.clock.today()
    account, report = await load_report(db, principal, today)
    saved_ids = {str(a.account_id) for a in report.accounts} if report else set()
    submitted = report is not None and report.state == deposit_accounts.SUBMITTED
    for row in rows:
        row["saved"] = "1" if submitted and row.get("account_id") in saved_ids else ""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}

    if op == "add_row":
        if len(rows) >= deposit_accounts.MAX_ROWS:
            errors["_form"] = f"银行账户信息最多{deposit_accounts.MAX_ROWS}条"
        else:
            rows.append(blank_row(principal.display_name, today))
    elif op == "delete_rows":
        picked = set(form.many("selected_rows", max_items=deposit_accounts.MAX_ROWS))
        kept = []
        for i, row in enumerate(rows):
            if str(i) not in picked:
                kept.append(row)
            elif row["saved"]:
                # A submitted account is not erased: it is reported as 删除.
                row["operation_type"] = "delete"
                kept.append(row)
        rows = kept
        if not picked:
            errors["_form"] = "请先勾选需要删除的行"
    elif op in ("draft", "submit"):
        report_id = (
            int(header["report_id"])
            if header["report_id"].isdigit() and len(header["report_id"]) < 18
            else None
        )
        clock = request.app.state.clock

        def save(session: Any) -> tuple[str, int]:
            saved = deposit_accounts.save_report(
                session,
                person_id=principal.account_id,
                report_id=report_id,
                handler_name=header["handler_name"],
                report_date=header["report_date"],
                business_address=header["business_address"] or None,
                report_unit=header["report_unit"] or None,
                accounts=[{k: v for k, v in r.items() if k in ROW_FIELDS} for r in rows],
                submit=op == "submit",
                at=clock.now(),
                today=today,
            )
            return saved.state, saved.report_id

        try:
            state, saved_id = await in_transaction(db, save)
        except ReportInvalid as exc:
            errors, codes = _report_errors(exc)
        except DomainError as exc:
            errors = {exc.field if exc.field and exc.field != "submit" else "_form": exc.message}
        else:
            return "saved", {"state": state, "report_id": saved_id}
    if not rows:
        rows = [blank_row(principal.display_name, today)]
    return "form", {
        "account": account,
        "report": report,
        "header": header,
        "rows": rows,
        "errors": errors,
        "codes": codes,
    }


@router.post("/etax/medical/deposit-report")
async def report_submit(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    form = await common.read_form(request)
    return_url = _return_url(form.text("return", max_chars=500), "/etax/medical")
    outcome, data = await handle_report_post(request, db, principal, form)
    if outcome == "saved":
        if data["state"] == deposit_accounts.SUBMITTED:
            sep = "&" if "?" in return_url else "?"
            return common.redirect(return_url + sep + "done=submitted")
        return common.redirect(
            "/etax/medical/deposit-report", **{"return": return_url}, done="draft"
        )
    ctx = report_context(
        request,
        principal=principal,
        account=data["account"],
        report=data["report"],
        header=data["header"],
        rows=data["rows"],
        errors=data["errors"],
        codes=data["codes"],
        return_url=return_url,
    )
    return render(
        request, "etax/medical_report.html", ctx, status_code=422 if data["errors"] else 200
    )
