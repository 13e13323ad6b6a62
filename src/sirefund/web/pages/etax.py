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
from starlette.datastructures import FormData

from ...domain.errors import DomainError
from ...domain.workflow import ApplicationKind, Channel
from ...services import accounts, deposit_accounts, pension
from ...services.accounts import Principal
from .. import refund_presenters
from ..deps import Db, DbSession
from . import (
    accounts_pages,
    common,
    etax_medical,
    etax_unit,
    guard,
    pension_flow,
    reapply_flow,
    reissue_flow,
)
from .common import Form, in_transaction, render
from .reissue_flow import ApplicationId

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

PATH_TO_OTHER = common.ETAX_PATH_TO_OTHER
HOME, TAX_CENTER, DECLARE, OTHER = PATH_TO_OTHER

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
    "heirs": {
        "label": "继承人代办",
        "url": "/etax/heirs",
        "hint": "自然人：参保人死亡后，由继承人申请退还其养老保险费",
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
        keys = ["pension", "medical", "heirs"]
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
        draft = deposit_accounts.latest_draft(session, person_id=principal.account_id)
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
    *,
    heading: str,
    crumbs: list[tuple[str, str | None]],
    items: list[dict[str, str]],
    nav: str = "tax",
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
    return _menu(request, heading="办税中心", crumbs=[HOME, ("办税中心", None)], items=items)


@router.get("/etax/tax-center/declare")
async def declare(request: Request, principal: guard.PagePrincipal) -> Response:
    items = [{"label": "其他申报", "url": OTHER[1], "hint": "城乡居民社会保险费退费等"}]
    crumbs = [HOME, TAX_CENTER, ("税费申报及缴纳", None)]
    return _menu(request, heading="税费申报及缴纳", crumbs=crumbs, items=items)


@router.get("/etax/tax-center/declare/other")
async def other(request: Request, principal: guard.PagePrincipal) -> Response:
    crumbs = [HOME, TAX_CENTER, DECLARE, ("其他申报", None)]
    return _menu(request, heading="其他申报", crumbs=crumbs, items=functions_for(principal))


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
        heading=heading,
        crumbs=[HOME, (heading, None)],
        items=items,
        nav=nav,
        intro="" if items else "本栏目的其他事项请到办税服务厅办理。",
    )


def _section_route(section: str) -> None:
    async def page(request: Request, principal: guard.PagePrincipal) -> Response:
        return await _section(request, section, principal)

    page.__name__ = f"section_{section.replace('-', '_')}"
    router.add_api_route(f"/etax/{section}", page, methods=["GET"])


for _name in _SECTIONS:
    _section_route(_name)


# --------------------------------------------------------------------------- login, register


accounts_pages.add_account_routes(
    router,
    accounts_pages.Site(
        prefix="/etax",
        templates="etax",
        home="/etax/",
        after_login="/etax/",
        login_extra={"crumbs": [HOME, ("登录", None)]},
        register_extra={"crumbs": [HOME, ("用户注册", None)]},
    ),
)


# --------------------------------------------------------------------------- pension (person)

PENSION_CRUMBS = [*PATH_TO_OTHER, (PENSION_TITLE, "/etax/pension")]


def _pension_context(
    request: Request, query: pension_flow.Query, listing: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    ctx = {
        "title": PENSION_TITLE,
        "nav": "tax",
        "crumbs": PENSION_CRUMBS,
        "query": {"year": query.year or "", "state": query.state, "arrival": query.arrival},
        "year_options": pension_flow.year_options(request),
        "state_options": pension_flow.STATE_OPTIONS,
        "arrival_options": pension_flow.ARRIVAL_OPTIONS,
        "keep": query.keep(page=listing["pager"].page),
        "keep_query": query.keep(),
        **pension_flow.BANK_CHOICES,
        "selected": [],
        "selected_total": "",
        "show_dialog": False,
        "list_errors": {},
        "codes": {},
        **listing,
    }
    ctx.update(extra)
    return ctx


async def _pension_listing(
    db: Db, principal: Principal, query: pension_flow.Query
) -> dict[str, Any]:
    return await in_transaction(db, lambda s: pension_flow.listing(s, principal, query))


@router.get("/etax/pension")
async def pension_page(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    restored = common.restored_fields(request)
    if restored and restored.get("payment_ids"):
        # Back after the session ended in the 申请退费 dialog: the dialog again, as typed.
        form = Form(FormData([(k, v) for k, values in restored.items() for v in values]))
        query = pension_flow.read_query(request, form)
        ids = form.many("payment_ids", max_items=pension.MAX_SELECTED)
        return await _dialog_page(request, db, principal, query, ids)
    query = pension_flow.read_query(request)
    refused = await reapply_flow.refused_details(request, db, principal, ApplicationKind.PENSION)
    if refused is not None:
        # 重新申请 from a refused case: the dialog for its payment, its details filled in.
        return await _dialog_page(
            request,
            db,
            principal,
            query,
            [refused.payment_id],
            values=reapply_flow.bank_values(refused),
        )
    listing = await _pension_listing(db, principal, query)
    return render(request, "etax/pension.html", _pension_context(request, query, listing))


async def _dialog_page(
    request: Request,
    db: Db,
    principal: Principal,
    query: pension_flow.Query,
    ids: list[str],
    *,
    values: dict[str, str] | None = None,
) -> Response:
    """The list with the 申请退费 dialog open for the checked rows (or why it cannot open)."""
    list_errors: dict[str, str] = {}

    def prepare(session: Session) -> tuple[dict[str, Any], str]:
        lines = pension_flow.all_lines(session, principal.account_id)
        problem = pension_flow.selection_problem(lines, ids)
        if problem:
            list_errors["_form"] = problem
        listing = pension_flow.listing(session, principal, query)
        return listing, pension_flow.selection_total(lines, ids)

    listing, total = await in_transaction(db, prepare)
    ctx = _pension_context(
        request,
        query,
        listing,
        list_errors=list_errors,
        selected=ids,
        selected_total=total,
        show_dialog=not list_errors,
        **({"values": values} if values else {}),
    )
    return render(request, "etax/pension.html", ctx, status_code=422 if list_errors else 200)


@router.post("/etax/pension/action")
async def pension_action(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    """The list's buttons: 申请退费 (opens the dialog — the no-JavaScript path) and 撤销退费."""
    form = await common.read_form(request)
    query = pension_flow.read_query(request, form)
    op = form.text("op", max_chars=10)
    ids = form.many("payment_ids", max_items=pension.MAX_SELECTED)
    list_errors: dict[str, str] = {}

    if op == "cancel":
        at = request.app.state.clock.now()
        if not ids:
            list_errors["_form"] = "请勾选需要撤销退费的记录"
        else:
            try:
                await in_transaction(
                    db, lambda s: pension_flow.cancel_checked(s, principal, ids, at)
                )
            except DomainError as exc:
                list_errors["_form"] = exc.message
            else:
                return common.redirect("/etax/pension", **query.keep(done="cancelled"))
        listing = await _pension_listing(db, principal, query)
        return render(
            request,
            "etax/pension.html",
            _pension_context(request, query, listing, list_errors=list_errors, selected=ids),
            status_code=409 if ids else 422,
        )

    # 申请退费 without JavaScript: show the dialog for the checked rows.
    return await _dialog_page(request, db, principal, query, ids)


@router.post("/etax/pension/apply")
async def pension_apply(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
    query, form, total = await pension_flow.apply(request, db, principal, channel=CHANNEL)
    if total is None:
        return common.redirect("/etax/pension", **query.keep(done="applied"))
    listing = await _pension_listing(db, principal, query)
    ctx = _pension_context(request, query, listing, **pension_flow.dialog_again(form, total))
    return render(request, "etax/pension.html", ctx, status_code=422)


@router.get("/etax/pension/progress")
async def pension_progress(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    year = common.query_int(
        request, "year", minimum=pension_flow.FIRST_YEAR, maximum=pension_flow.LAST_YEAR
    )
    page = common.query_int(request, "page", default=1, minimum=1)

    def load(session: Session) -> tuple[list[pension.Refund], accounts.Account]:
        rows = pension.progress(session, person_id=principal.account_id, year=year)
        return rows, accounts.describe_account(session, principal=principal)

    rows, account = await in_transaction(db, load)
    shown, pager = common.paged(rows, page)
    return render(
        request,
        "etax/pension_progress.html",
        {
            "title": "退费进度查询",
            "nav": "tax",
            "crumbs": [*PENSION_CRUMBS, ("进度查询", None)],
            "rows": [refund_presenters.pension_refund(r) for r in shown],
            "pager": pager,
            "account": account,
            "query": {"year": year or ""},
            "year_options": pension_flow.year_options(request),
            "keep_query": pension_flow.clean({"year": year}),
        },
    )


@router.post("/etax/pension/progress/cancel")
async def pension_progress_cancel(
    request: Request, db: DbSession, principal: guard.PagePerson
) -> Response:
    """撤销退费 from the progress table (one application at a time)."""
    form = await common.read_form(request)
    app_id = form.integer(
        "application_id", label="退费申请", minimum=1, maximum=pension_flow.MAX_APPLICATION_ID
    )
    year = form.integer(
        "year", label="缴费年度", minimum=pension_flow.FIRST_YEAR, maximum=pension_flow.LAST_YEAR
    )
    if app_id is None:
        return common.redirect("/etax/pension/progress", **pension_flow.clean({"year": year}))
    try:
        await pension_flow.cancel_one(request, db, principal, app_id)
    except DomainError as exc:
        return common.error_page(
            request,
            title="撤销退费",
            message=exc.message,
            back_url="/etax/pension/progress",
            status_code=exc.status,
            crumbs=PENSION_CRUMBS,
        )
    return common.redirect(
        "/etax/pension/progress", **pension_flow.clean({"year": year, "done": "cancelled"})
    )


def _reissue_site(
    kind: ApplicationKind, back_url: str, crumbs: list[tuple[str, str | None]], subtitle: str
) -> reissue_flow.Site:
    """重新提交账户 of the person's pension refund or the unit's, under its progress list."""
    return reissue_flow.Site(
        path=f"{back_url}/{{application_id}}/reissue",
        kind=kind,
        template="etax/reissue.html",
        back_url=back_url,
        layout={
            "nav": "tax",
            "crumbs": [*crumbs, (reissue_flow.TITLE, None)],
            "subtitle": subtitle,
        },
        error_layout={"crumbs": crumbs},
    )


PENSION_REISSUE = _reissue_site(
    ApplicationKind.PENSION,
    "/etax/pension/progress",
    [*PENSION_CRUMBS, ("进度查询", "/etax/pension/progress")],
    "城乡居民基本养老保险退费（个人）",
)
UNIT_REISSUE = _reissue_site(
    ApplicationKind.UNIT_PENSION,
    "/etax/unit/progress",
    [*etax_unit.CRUMBS, ("退费进度", "/etax/unit/progress")],
    UNIT_TITLE,
)


reissue_flow.add_person_page(router, PENSION_REISSUE, name="pension_reissue")


@router.api_route(UNIT_REISSUE.path, methods=["GET", "POST"])
async def unit_reissue(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PageUnit
) -> Response:
    return await reissue_flow.pension_page(request, db, principal, application_id, UNIT_REISSUE)


router.include_router(etax_unit.router)
router.include_router(etax_medical.router)


common.add_not_found_route(router, "/etax", crumbs=[HOME, ("页面不存在", None)])
