"""Pages of the PC site (电子税务局): 首页 → 办税中心 → 税费申报及缴纳 → 其他申报 →
城乡居民社会保险费退费（养老） / 城乡居民社会保险费退费（养老）（村组） / 城乡居民医疗保险费退费,
plus login, registration and logout.

Plain HTML forms that work without JavaScript; etax.js only opens dialogs in place, moves
persons between the unit's panes and adds or removes report rows. Every POST carries the
CSRF token; a successful POST redirects (Post/Redirect/Get) to a page showing the result;
a refused one re-renders the form with each message next to its field and every value kept.
Applications made here record channel ``web``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ...domain.errors import DomainError
from ...domain.rules import BANK_ACCOUNT_TYPE_LABELS, BANK_CATEGORIES
from ...domain.workflow import Channel
from ...services import accounts, bank_details, pension
from ...services.accounts import Principal
from ..deps import DbSession
from . import accounts_pages, common, etax_medical, etax_unit, guard
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

HOME = ("首页", "/etax/")
TAX_CENTER = ("办税中心", "/etax/tax-center")
DECLARE = ("税费申报及缴纳", "/etax/tax-center/declare")
OTHER = ("其他申报", "/etax/tax-center/declare/other")
PATH_TO_OTHER = [HOME, TAX_CENTER, DECLARE, OTHER]

PENSION_TITLE = "城乡居民社会保险费退费（养老）"
UNIT_TITLE = "城乡居民社会保险费退费（养老）（村组）"
MEDICAL_TITLE = "城乡居民医疗保险费退费"

FUNCTIONS = {
    "pension": {
        "label": PENSION_TITLE,
        "url": "/etax/pension",
        "hint": "自然人：城乡居民基本养老保险未到账、异常缴费退费",
    },
    "medical": {
        "label": MEDICAL_TITLE,
        "url": "/etax/medical",
        "hint": "自然人：城乡居民基本医疗保险费退费",
    },
    "unit": {
        "label": UNIT_TITLE,
        "url": "/etax/unit",
        "hint": "村组（单位）：村集体补助、特殊人群代缴退费",
    },
}


def functions_for(principal: Principal | None) -> list[dict[str, str]]:
    if principal is None:
        keys = ["pension", "medical", "unit"]
    elif principal.kind == "unit":
        keys = ["unit"]
    else:
        keys = ["pension", "medical"]
    return [FUNCTIONS[k] for k in keys]


# --------------------------------------------------------------------------- home and menus


@router.get("/etax/")
@router.get("/etax")
async def home(request: Request, db: DbSession, principal: guard.PagePrincipal) -> Response:
    account: accounts.Account | None = None
    todos: list[dict[str, str | None]] = []
    if principal is not None and principal.kind in ("person", "unit"):
        account, todos = await in_transaction(db, lambda s: _home_data(s, principal))
    return render(
        request,
        "etax/home.html",
        {
            "title": "用户中心",
            "nav": "user",
            "crumbs": [HOME, ("用户中心", None)],
            "functions": functions_for(principal),
            "account": account,
            "todos": todos,
        },
    )


def _home_data(
    session: Session, principal: Principal
) -> tuple[accounts.Account, list[dict[str, str | None]]]:
    account = accounts.describe_account(session, principal=principal)
    todos: list[dict[str, str | None]] = []
    if principal.kind == "person":
        draft = etax_medical.latest_draft(session, principal.account_id)
        if draft is not None:
            todos.append(
                {
                    "name": "社会保险费缴费人存款账户账号报告（暂存，待提交）",
                    "due": None,
                    "state": "暂存",
                    "url": "/etax/medical/deposit-report",
                }
            )
    return account, todos


def _menu(
    request: Request,
    principal: Principal | None,
    *,
    heading: str,
    crumbs: list,
    items: list[dict[str, str]],
    nav: str,
    intro: str = "",
) -> Response:
    return render(
        request,
        "etax/menu.html",
        {
            "title": heading,
            "heading": heading,
            "crumbs": crumbs,
            "items": items,
            "nav": nav,
            "intro": intro,
        },
    )


@router.get("/etax/tax-center")
async def tax_center(request: Request, principal: guard.PagePrincipal) -> Response:
    items = [{"label": "税费申报及缴纳", "url": DECLARE[1], "hint": "各类税费的申报、缴纳与退费"}]
    return _menu(
        request,
        principal,
        heading="办税中心",
        crumbs=[HOME, ("办税中心", None)],
        items=items,
        nav="tax",
    )


@router.get("/etax/tax-center/declare")
async def declare(request: Request, principal: guard.PagePrincipal) -> Response:
    items = [{"label": "其他申报", "url": OTHER[1], "hint": "城乡居民社会保险费退费等"}]
    return _menu(
        request,
        principal,
        heading="税费申报及缴纳",
        crumbs=[HOME, TAX_CENTER, ("税费申报及缴纳", None)],
        items=items,
        nav="tax",
    )


@router.get("/etax/tax-center/declare/other")
async def other(request: Request, principal: guard.PagePrincipal) -> Response:
    return _menu(
        request,
        principal,
        heading="其他申报",
        crumbs=[HOME, TAX_CENTER, DECLARE, ("其他申报", None)],
        items=functions_for(principal),
        nav="tax",
    )


_SECTIONS = {
    "query-center": ("查询中心", "query"),
    "interaction": ("互动中心", "interaction"),
    "public": ("公众服务", "public"),
    "personal": ("个性服务", "personal"),
}


async def _section(request: Request, section: str, principal: guard.PagePrincipal) -> Response:
    heading, nav = _SECTIONS[section]
    items: list[dict[str, str]] = []
    if section == "query-center":
        if principal is None or principal.kind == "person":
            items = [
                {
                    "label": "养老保险退费进度查询",
                    "url": "/etax/pension/progress",
                    "hint": PENSION_TITLE,
                },
                {
                    "label": "医疗保险退费进度查询",
                    "url": "/etax/medical/progress",
                    "hint": MEDICAL_TITLE,
                },
            ]
        if principal is None or principal.kind == "unit":
            items.append(
                {"label": "村组养老退费进度", "url": "/etax/unit/progress", "hint": UNIT_TITLE}
            )
    if section == "personal" and (principal is None or principal.kind == "person"):
        items = [
            {
                "label": "存款账户账号报告",
                "url": "/etax/medical/deposit-report",
                "hint": "社会保险费缴费人存款账户账号报告",
            }
        ]
    return _menu(
        request,
        principal,
        heading=heading,
        crumbs=[HOME, (heading, None)],
        items=items,
        nav=nav,
        intro="" if items else "本栏目的其他事项请到办税服务厅办理。",
    )


def _section_route(section: str) -> None:
    async def page(request: Request) -> Response:
        return await _section(request, section)

    page.__name__ = f"section_{section.replace('-', '_')}"
    router.add_api_route(f"/etax/{section}", page, methods=["GET"])


for _name in _SECTIONS:
    _section_route(_name)


# --------------------------------------------------------------------------- login, register


LOGIN_EXTRA = {"crumbs": [HOME, ("登录", None)]}
REGISTER_EXTRA = {"crumbs": [HOME, ("用户注册", None)]}


@router.get("/etax/login")
async def login_page(request: Request, principal: guard.PagePrincipal) -> Response:
    return await accounts_pages.show_login(
        request,
        principal=principal,
        template="etax/login.html",
        default_next="/etax/",
        extra=LOGIN_EXTRA,
    )


@router.post("/etax/login")
async def login_submit(request: Request) -> Response:
    return await accounts_pages.do_login(
        request, template="etax/login.html", default_next="/etax/", extra=LOGIN_EXTRA
    )


@router.get("/etax/register")
async def register_page(request: Request, principal: guard.PagePrincipal) -> Response:
    return await accounts_pages.show_register(
        request, template="etax/register.html", extra=REGISTER_EXTRA
    )


@router.post("/etax/register")
async def register_submit(request: Request) -> Response:
    return await accounts_pages.do_register(
        request, template="etax/register.html", login_url="/etax/login", extra=REGISTER_EXTRA
    )


@router.post("/etax/logout")
async def logout(request: Request, principal: guard.PagePrincipal) -> Response:
    return await accounts_pages.do_logout(request, after="/etax/", principal=principal)


# --------------------------------------------------------------------------- pension (person)

PENSION_CRUMBS = [*PATH_TO_OTHER, (PENSION_TITLE, "/etax/pension")]
STATE_OPTIONS = [("refundable", "可退费"), ("applied", "已申请")]
BANK_FIELDS = (
    "bank_account_type",
    "bank_account_no",
    "bank_category",
    "contact_name",
    "contact_phone",
)


def _pension_query(request: Request, form: Form | None = None) -> dict[str, Any]:
    """缴费年度 / 查询状态 / 页码 from the query string (GET) or the hidden fields (POST)."""
    if form is not None:
        year = form.integer("year", label="缴费年度", minimum=1900, maximum=2100)
        state = form.text("state", max_chars=12)
        page = form.integer("page", label="页码", minimum=1, maximum=10_000) or 1
        form.errors.pop("year", None)
        form.errors.pop("page", None)
    else:
        year = common.query_int(request, "year", minimum=1900, maximum=2100)
        state = common.query_text(request, "state")
        page = common.query_int(request, "page", default=1, minimum=1) or 1
    if state not in ("refundable", "applied"):
        state = ""
    return {"year": year, "state": state, "page": page}


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def all_pension_rows(session: Any, person_id: int) -> dict[str, dict[str, Any]]:
    """Every payment row of the person by payment id (to check a selection across pages)."""
    rows: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        got = pension.list_payments(session, person_id=person_id, page=page, page_size=100)
        rows.update((r["payment_id"], r) for r in got.items)
        if page * 100 >= got.total or not got.items:
            return rows
        page += 1


def _pension_listing(session: Any, principal: Principal, query: dict[str, Any]) -> dict[str, Any]:
    page = query["page"]
    result = pension.list_payments(
        session,
        person_id=principal.account_id,
        year=query["year"],
        state=query["state"] or "all",
        page=page,
        page_size=10,
    )
    if not result.items and result.total and page > 1:
        # A page past the end (rows cancelled away, a stale link): show the last one.
        page = -(-result.total // 10)
        result = pension.list_payments(
            session,
            person_id=principal.account_id,
            year=query["year"],
            state=query["state"] or "all",
            page=page,
            page_size=10,
        )
    return {"rows": result.items, "pager": common.Pager(result.page, 10, result.total)}


def _pension_context(
    request: Request, query: dict[str, Any], listing: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    today = request.app.state.clock.today()
    keep_query = _clean({"year": query["year"], "state": query["state"]})
    ctx = {
        "title": PENSION_TITLE,
        "nav": "tax",
        "crumbs": PENSION_CRUMBS,
        "query": {"year": query["year"] or "", "state": query["state"]},
        "year_options": [(y, f"{y}") for y in common.year_choices(today.year, back=15)],
        "state_options": STATE_OPTIONS,
        "keep": _clean(
            {"year": query["year"], "state": query["state"], "page": listing["pager"].page}
        ),
        "keep_query": keep_query,
        "account_types": {k.value: v for k, v in BANK_ACCOUNT_TYPE_LABELS.items()},
        "bank_categories": BANK_CATEGORIES,
        "selected": [],
        "selected_total": "",
        "show_dialog": False,
        "list_errors": {},
        "codes": {},
        **listing,
    }
    ctx.update(extra)
    return ctx


@router.get("/etax/pension")
async def pension_page(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    query = _pension_query(request)
    listing = await in_transaction(db, lambda s: _pension_listing(s, principal, query))
    return render(request, "etax/pension.html", _pension_context(request, query, listing))


def _selection_total(rows: dict[str, dict[str, Any]], ids: list[str]) -> str:
    from ...domain.money import format_yuan, parse_yuan

    return format_yuan(sum(parse_yuan(rows[i]["amount"]) for i in ids if i in rows))


@router.post("/etax/pension/action")
async def pension_action(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    """The list's buttons: 申请退费 (opens the dialog — the no-JavaScript path) and 撤销退费."""
    form = await common.read_form(request)
    query = _pension_query(request, form)
    op = form.text("op", max_chars=10)
    ids = form.many("payment_ids", max_items=pension.MAX_SELECTED)
    clock = request.app.state.clock
    list_errors: dict[str, str] = {}

    if op == "cancel":

        def cancel(session: Any) -> None:
            rows = all_pension_rows(session, principal.account_id)
            chosen = [rows[i] for i in ids if i in rows]
            if len(chosen) != len(ids):
                raise pension.payment_not_found()
            if any(not r["cancellable"] for r in chosen):
                raise pension.not_cancellable()
            for r in chosen:
                pension.cancel(
                    session,
                    person_id=principal.account_id,
                    application_id=r["application_id"],
                    at=clock.now(),
                )

        if not ids:
            list_errors["_form"] = "请勾选需要撤销退费的记录"
        else:
            try:
                await in_transaction(db, cancel)
            except DomainError as exc:
                list_errors["_form"] = exc.message
            else:
                return common.redirect(
                    "/etax/pension",
                    **_clean({"year": query["year"], "state": query["state"], "done": "cancelled"}),
                )
        listing = await in_transaction(db, lambda s: _pension_listing(s, principal, query))
        return render(
            request,
            "etax/pension.html",
            _pension_context(request, query, listing, list_errors=list_errors, selected=ids),
            status_code=409 if ids else 422,
        )

    # 申请退费 without JavaScript: show the dialog for the checked rows.
    def prepare(session: Any) -> tuple[dict[str, Any], str]:
        rows = all_pension_rows(session, principal.account_id)
        listing = _pension_listing(session, principal, query)
        if not ids:
            list_errors["_form"] = "请选择需要退费的缴费记录"
        elif any(i not in rows for i in ids):
            list_errors["_form"] = "缴费记录不存在"
        elif any(rows[i]["arrival_status"] == "arrived" for i in ids):
            list_errors["_form"] = "该缴费已到账，不能自行申请退费，请联系税务人员发起退费申请"
        elif any(not rows[i]["refundable"] for i in ids):
            list_errors["_form"] = "该缴费已申请退费，请勿重复申请"
        return listing, _selection_total(rows, ids)

    listing, total = await in_transaction(db, prepare)
    ctx = _pension_context(
        request,
        query,
        listing,
        list_errors=list_errors,
        selected=ids,
        selected_total=total,
        show_dialog=not list_errors,
    )
    return render(request, "etax/pension.html", ctx, status_code=422 if list_errors else 200)


@router.post("/etax/pension/apply")
async def pension_apply(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    form = await common.read_form(request)
    outcome = await apply_pension(request, db, principal, form, channel=CHANNEL)
    query = _pension_query(request, form)
    if outcome is None:
        return common.redirect(
            "/etax/pension",
            **_clean({"year": query["year"], "state": query["state"], "done": "applied"}),
        )
    listing, total = outcome
    ctx = _pension_context(
        request,
        query,
        listing,
        values=form.values,
        errors=form.errors,
        codes=form.codes,
        selected=form.values["payment_ids"],
        selected_total=total,
        show_dialog=True,
    )
    return render(request, "etax/pension.html", ctx, status_code=422)


async def apply_pension(
    request: Request, db: common.deps.Db, principal: Principal, form: Form, *, channel: str
) -> tuple[dict[str, Any], str] | None:
    """申请退费 for the checked payments; None on success, else (listing, total) to re-render.

    Every bank field is checked at once so the person sees all problems together; then the
    service decides (arrived, already applied, someone else's payment …).
    """
    ids = form.many("payment_ids", max_items=pension.MAX_SELECTED)
    for name in BANK_FIELDS:
        form.text(name, max_chars=50)
    confirmed = form.flag("account_no_confirmed")
    if not form.errors:
        for name, exc in bank_details.bank_details_errors(
            bank_account_type=form.values["bank_account_type"],
            bank_account_no=form.values["bank_account_no"],
            account_no_confirmed=confirmed,
            bank_category=form.values["bank_category"],
            contact_name=form.values["contact_name"],
            contact_phone=form.values["contact_phone"],
        ).items():
            form.fail(exc, default_field=name)
    if not ids:
        form.errors.setdefault("payment_ids", "请选择需要退费的缴费记录")
    clock = request.app.state.clock
    if not form.errors:
        try:
            await in_transaction(
                db,
                lambda s: pension.apply(
                    s,
                    person_id=principal.account_id,
                    payment_ids=ids,
                    bank_account_type=form.values["bank_account_type"],
                    bank_account_no=form.values["bank_account_no"],
                    account_no_confirmed=confirmed,
                    bank_category=form.values["bank_category"],
                    contact_name=form.values["contact_name"],
                    contact_phone=form.values["contact_phone"],
                    channel=channel,
                    at=clock.now(),
                ),
            )
            return None
        except DomainError as exc:
            form.fail(exc, default_field="_form")
    query = _pension_query(request, form)

    def reload(session: Any) -> tuple[dict[str, Any], str]:
        rows = all_pension_rows(session, principal.account_id)
        return _pension_listing(session, principal, query), _selection_total(rows, ids)

    return await in_transaction(db, reload)


@router.get("/etax/pension/progress")
async def pension_progress(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    year = common.query_int(request, "year", minimum=1900, maximum=2100)
    page = common.query_int(request, "page", default=1, minimum=1)

    def load(session: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rows = pension.progress(session, person_id=principal.account_id, year=year)
        return rows, accounts.describe_account(session, principal=principal)

    rows, account = await in_transaction(db, load)
    shown, pager = common.paged(rows, page)
    today = request.app.state.clock.today()
    return render(
        request,
        "etax/pension_progress.html",
        {
            "title": "退费进度查询",
            "nav": "tax",
            "crumbs": [*PENSION_CRUMBS, ("进度查询", None)],
            "rows": shown,
            "pager": pager,
            "account": account,
            "query": {"year": year or ""},
            "year_options": [(y, f"{y}") for y in common.year_choices(today.year, back=15)],
            "keep_query": _clean({"year": year}),
        },
    )


@router.post("/etax/pension/progress/cancel")
async def pension_progress_cancel(
    request: Request, db: common.deps.DbSession, principal: guard.PagePerson
) -> Response:
    """撤销退费 from the progress table (one application at a time)."""
    form = await common.read_form(request)
    app_id = form.integer("application_id", label="退费申请", minimum=1, maximum=2**62)
    year = form.integer("year", label="缴费年度", minimum=1900, maximum=2100)
    clock = request.app.state.clock
    if app_id is None:
        return common.redirect("/etax/pension/progress", **_clean({"year": year}))
    try:
        await in_transaction(
            db,
            lambda s: pension.cancel(
                s, person_id=principal.account_id, application_id=app_id, at=clock.now()
            ),
        )
    except DomainError as exc:
        return render(
            request,
            "etax/error.html",
            {
                "title": "撤销退费",
                "message": exc.message,
                "crumbs": PENSION_CRUMBS,
                "back_url": "/etax/pension/progress",
            },
            status_code=exc.status,
        )
    return common.redirect("/etax/pension/progress", **_clean({"year": year, "done": "cancelled"}))


router.include_router(etax_unit.router)
router.include_router(etax_medical.router)


@router.get("/etax/{rest:path}")
async def not_found(request: Request, rest: str, principal: guard.PagePrincipal) -> Response:
    """Any other address under /etax/ answers a Chinese page, not the API's JSON."""
    return render(
        request,
        "etax/error.html",
        {
            "title": "页面不存在",
            "message": "您访问的页面不存在或已调整，请从首页重新进入。",
            "crumbs": [HOME, ("页面不存在", None)],
            "back_url": "/etax/",
        },
        status_code=404,
    )
