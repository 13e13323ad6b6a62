"""PC pages of 城乡居民社会保险费退费（养老）（村组） (manual 1.2.2).

可退费查询 lists the unit's payments; 退费 opens the 退费维护区 with the two panes of the 申请区
(选择区 → 退费区). Without JavaScript every pane button (查询, 添加, 全部添加, 撤销, 全部撤销) is a
round trip of the one form: the chosen persons travel as hidden ``chosen`` fields, the
maintenance fields keep what was typed, and the server computes 缴费金额 from the chosen
persons. With JavaScript the persons move in place and the amount follows live; 保存 is the
same POST either way and the service recomputes the amount from the chosen lines.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.money import format_yuan, parse_yuan
from ...domain.rules import BANK_ACCOUNT_TYPE_LABELS, BANK_CATEGORIES, UNIT_PAYMENT_TYPE_LABELS
from ...domain.workflow import Channel
from ...services import bank_details, units
from ...services.accounts import Principal
from . import common, guard
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

TITLE = "城乡居民社会保险费退费（养老）（村组）"
CRUMBS = [
    ("首页", "/etax/"),
    ("办税中心", "/etax/tax-center"),
    ("税费申报及缴纳", "/etax/tax-center/declare"),
    ("其他申报", "/etax/tax-center/declare/other"),
    (TITLE, "/etax/unit"),
]
TYPE_OPTIONS = [(k.value, v) for k, v in UNIT_PAYMENT_TYPE_LABELS.items() if k.value != "normal"]
MONTH_OPTIONS = [(m, f"{m:02d}") for m in range(1, 13)]
MAINT_FIELDS = (
    "bank_account_no",
    "bank_account_name",
    "bank_account_type",
    "contact_name",
    "contact_phone",
    "bank_category",
)
PANE_OPS = {"add", "add_all", "remove", "remove_all", "filter_left", "filter_right", "refresh"}


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def _years(request: Request) -> list[tuple[int, str]]:
    today = request.app.state.clock.today()
    return [(y, str(y)) for y in common.year_choices(today.year, back=15)]


# --------------------------------------------------------------------------- 可退费查询


def _payments_query(request: Request) -> dict[str, Any]:
    payment_type = common.query_text(request, "payment_type")
    return {
        "id_number": common.query_text(request, "id_number", max_chars=24),
        "year": common.query_int(request, "year", minimum=1900, maximum=2100),
        "month": common.query_int(request, "month", minimum=1, maximum=12),
        "payment_type": payment_type if payment_type in dict(TYPE_OPTIONS) else "",
        "page": common.query_int(request, "page", default=1, minimum=1) or 1,
    }


@router.get("/etax/unit")
async def unit_payments(
    request: Request, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    q = _payments_query(request)
    rows = await in_transaction(
        db,
        lambda s: units.list_payments(
            s,
            unit_id=principal.account_id,
            year=q["year"],
            month=q["month"],
            payment_type=q["payment_type"] or None,
            id_number=q["id_number"] or None,
        ),
    )
    shown, pager = common.paged(rows, q["page"])
    keep = _clean({k: q[k] for k in ("id_number", "year", "month", "payment_type")})
    return render(
        request,
        "etax/unit_payments.html",
        {
            "title": TITLE,
            "nav": "tax",
            "crumbs": CRUMBS,
            "rows": shown,
            "pager": pager,
            "query": {k: ("" if v is None else v) for k, v in q.items()},
            "keep_query": keep,
            "year_options": _years(request),
            "month_options": MONTH_OPTIONS,
            "type_options": TYPE_OPTIONS,
        },
    )


# --------------------------------------------------------------------------- 退费维护区 + 申请区


def _fen(row: dict[str, Any]) -> int:
    return parse_yuan(row["amount"])


def _refund_state(
    session: Any, principal: Principal, payment_id: str, form: Form | None, op: str = ""
) -> dict[str, Any]:
    """Everything the 退费 page shows, after applying a pane operation to the selection."""
    payment = units.get_payment(session, unit_id=principal.account_id, unit_payment_id=payment_id)
    everyone = units.list_persons(session, unit_id=principal.account_id, unit_payment_id=payment_id)
    by_line = {p["line_id"]: p for p in everyone}
    filters = {"left_id_number": "", "left_name": "", "right_id_number": "", "right_name": ""}
    chosen: list[str] = []
    if form is not None:
        for name in filters:
            filters[name] = form.text(name, max_chars=24 if "id_number" in name else 50)
        chosen = [
            i
            for i in form.many("chosen", max_items=units.MAX_SELECTED)
            if i in by_line and by_line[i]["refundable"]
        ]

    def listed(id_number: str, name: str) -> list[dict[str, Any]]:
        if not id_number and not name:
            return everyone
        return units.list_persons(
            session,
            unit_id=principal.account_id,
            unit_payment_id=payment_id,
            id_number=id_number or None,
            name=name or None,
        )

    left_all = listed(filters["left_id_number"], filters["left_name"])
    if form is not None:
        if op == "add":
            picked = set(form.many("pick", max_items=units.MAX_SELECTED))
            chosen += [
                p["line_id"]
                for p in left_all
                if p["line_id"] in picked and p["refundable"] and p["line_id"] not in chosen
            ]
        elif op == "add_all":
            chosen += [
                p["line_id"] for p in left_all if p["refundable"] and p["line_id"] not in chosen
            ]
        elif op == "remove":
            dropped = set(form.many("unpick", max_items=units.MAX_SELECTED))
            chosen = [i for i in chosen if i not in dropped]
        elif op == "remove_all":
            shown_right = {
                p["line_id"] for p in listed(filters["right_id_number"], filters["right_name"])
            }
            chosen = [i for i in chosen if i not in shown_right]
    chosen_set = set(chosen)
    right_all = [
        p
        for p in listed(filters["right_id_number"], filters["right_name"])
        if p["line_id"] in chosen_set
    ]
    left = [p for p in left_all if p["line_id"] not in chosen_set]
    for p in everyone:
        p["fen"] = _fen(p)
    for rows in (left, right_all, left_all):
        for p in rows:
            p["fen"] = by_line[p["line_id"]]["fen"]
    amount = sum(by_line[i]["fen"] for i in chosen)
    return {
        "payment": payment,
        "left": left,
        "right": right_all,
        "filters": filters,
        "chosen": [{"line_id": i, "fen": by_line[i]["fen"]} for i in chosen],
        "amount": format_yuan(amount),
    }


def _refund_context(
    request: Request, state: dict[str, Any], *, form: Form | None = None, refusal: str = ""
) -> dict[str, Any]:
    payment = state["payment"]
    values: dict[str, Any] = {"payment_month": payment["payment_month"]}
    if form is not None:
        values.update(form.values)
    values.update(state["filters"])
    if not payment["refundable"] and not refusal:
        if payment["payment_type"] == "normal":
            refusal = (
                "村组或单位只能退村集体补助和特殊人群代缴两种缴费类型的缴费记录；"
                "正常缴费已到账的不能退费，未到账的由自然人登录系统申请退费"
            )
        else:
            refusal = "该缴费记录的人员均已申请退费"
    return {
        "title": "退费信息",
        "nav": "tax",
        "crumbs": [*CRUMBS, ("退费信息", None)],
        **state,
        "values": values,
        "errors": form.errors if form else {},
        "codes": form.codes if form else {},
        "account_types": {k.value: v for k, v in BANK_ACCOUNT_TYPE_LABELS.items()},
        "bank_categories": BANK_CATEGORIES,
        "month_options": MONTH_OPTIONS,
        "refusal": refusal,
    }


def _payment_id_ok(payment_id: str) -> bool:
    return 0 < len(payment_id) <= 40


@router.get("/etax/unit/payments/{payment_id}/refund")
async def refund_page(
    request: Request, payment_id: str, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    try:
        if not _payment_id_ok(payment_id):
            raise units.payment_not_found()
        state = await in_transaction(db, lambda s: _refund_state(s, principal, payment_id, None))
    except DomainError as exc:
        return _not_found(request, exc)
    return render(request, "etax/unit_refund.html", _refund_context(request, state))


def _not_found(request: Request, exc: DomainError) -> Response:
    return render(
        request,
        "etax/error.html",
        {
            "title": "退费信息",
            "message": exc.message,
            "crumbs": CRUMBS,
            "back_url": "/etax/unit",
        },
        status_code=exc.status,
    )


@router.post("/etax/unit/payments/{payment_id}/refund")
async def refund_submit(
    request: Request, payment_id: str, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    form = await common.read_form(request)
    op = form.text("op", max_chars=20) or "refresh"
    for name in MAINT_FIELDS:
        form.text(name, max_chars=100 if name == "bank_account_name" else 50)
    month = form.integer("payment_month", label="缴费月份", minimum=1, maximum=12)
    confirmed = form.flag("account_no_confirmed")
    clock = request.app.state.clock
    if not _payment_id_ok(payment_id):
        return _not_found(request, units.payment_not_found())

    if op != "save":
        form.errors.clear()  # a pane operation is not a submission: no errors yet
        try:
            state = await in_transaction(
                db,
                lambda s: _refund_state(
                    s, principal, payment_id, form, op if op in PANE_OPS else "refresh"
                ),
            )
        except DomainError as exc:
            return _not_found(request, exc)
        return render(request, "etax/unit_refund.html", _refund_context(request, state, form=form))

    # 保存: show every problem of the maintenance area at once, then let the service decide.
    for name, exc in bank_details.bank_details_errors(
        bank_account_type=form.values["bank_account_type"],
        bank_account_no=form.values["bank_account_no"],
        account_no_confirmed=confirmed,
        bank_account_name=form.values["bank_account_name"],
        bank_category=form.values["bank_category"],
        contact_name=form.values["contact_name"],
        contact_phone=form.values["contact_phone"],
    ).items():
        form.fail(exc, default_field=name)
    if month is None and "payment_month" not in form.errors:
        form.errors["payment_month"] = "请选择缴费月份"
    chosen = form.many("chosen", max_items=units.MAX_SELECTED)
    if not chosen:
        form.errors["line_ids"] = "请选择退费人员：在选择区勾选后点击【添加】，或点击【全部添加】"

    def save(session: Any) -> tuple[int, int]:
        result = units.create_batch(
            session,
            unit_id=principal.account_id,
            unit_payment_id=payment_id,
            line_ids=chosen,
            payment_month=month,
            bank_account_no=form.values["bank_account_no"],
            account_no_confirmed=confirmed,
            bank_account_name=form.values["bank_account_name"],
            bank_account_type=form.values["bank_account_type"],
            bank_category=form.values["bank_category"],
            contact_name=form.values["contact_name"],
            contact_phone=form.values["contact_phone"],
            channel=CHANNEL,
            at=clock.now(),
        )
        return result.batch.id, result.applications[0].payment_year

    if not form.errors:
        try:
            batch_id, year = await in_transaction(db, save)
        except DomainError as exc:
            if exc.status == 404 and exc.field == "unit_payment_id":
                return _not_found(request, exc)
            form.fail(exc, aliases={"unit_payment_id": "_form"})
        else:
            return common.redirect("/etax/unit/progress", year=year, batch=batch_id, done="saved")
    try:
        state = await in_transaction(
            db, lambda s: _refund_state(s, principal, payment_id, form, "refresh")
        )
    except DomainError as exc:
        return _not_found(request, exc)
    return render(
        request,
        "etax/unit_refund.html",
        _refund_context(request, state, form=form),
        status_code=409 if form.codes.get("line_ids") == "application.already_applied" else 422,
    )


# --------------------------------------------------------------------------- 退费进度


@router.get("/etax/unit/progress")
async def progress_page(
    request: Request, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    return await _progress(request, db, principal)


async def _progress(
    request: Request,
    db: common.deps.Db,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    selected: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    year = common.query_int(request, "year", minimum=1900, maximum=2100)
    page = common.query_int(request, "page", default=1, minimum=1)
    payment_ids = [p for p in request.query_params.getlist("payment") if 0 < len(p) <= 40][:50]
    batch = common.query_int(request, "batch", minimum=1, maximum=2**62)
    rows = await in_transaction(
        db, lambda s: units.progress(s, unit_id=principal.account_id, year=year)
    )
    if payment_ids:
        rows = [r for r in rows if r["unit_payment_id"] in payment_ids]
    shown, pager = common.paged(rows, page)
    keep = _clean({"year": year, "batch": batch})
    if payment_ids:
        keep["payment"] = payment_ids[0] if len(payment_ids) == 1 else None
        keep = _clean(keep)
    return render(
        request,
        "etax/unit_progress.html",
        {
            "title": "村组(单位)城乡养老退费进度",
            "nav": "tax",
            "crumbs": [*CRUMBS, ("退费进度", None)],
            "rows": shown,
            "pager": pager,
            "query": {"year": year or ""},
            "year_options": _years(request),
            "keep_query": keep,
            "payment_ids": payment_ids,
            "errors": errors or {},
            "selected": selected or [],
            "batch": batch,
        },
        status_code=status_code,
    )


@router.post("/etax/unit/progress/cancel")
async def progress_cancel(
    request: Request, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    """撤销退费: each checked pending application, with every pending one of its batch."""
    form = await common.read_form(request)
    ids_raw = form.many("application_ids", max_items=200)
    year = form.integer("year", label="缴费年度", minimum=1900, maximum=2100)
    ids = [int(i) for i in ids_raw if i.isascii() and i.isdigit() and len(i) < 18]
    clock = request.app.state.clock
    if not ids:
        return await _progress(
            request, db, principal, errors={"_form": "请勾选需要撤销退费的记录"}, status_code=422
        )

    def cancel(session: Any) -> list[int]:
        done: list[int] = []
        for app_id in ids:
            if app_id in done:
                continue  # already cancelled with its batch
            done += units.cancel(
                session, unit_id=principal.account_id, application_id=app_id, at=clock.now()
            )
        return done

    try:
        await in_transaction(db, cancel)
    except DomainError as exc:
        message = exc.message
        if exc.code == "application.not_cancellable":
            message = "税务审核状态为待审核才能进行撤销退费操作，已审核的记录不能撤销退费"
        return await _progress(
            request,
            db,
            principal,
            errors={"_form": message},
            selected=ids_raw,
            status_code=exc.status,
        )
    return common.redirect("/etax/unit/progress", year=year, done="batch_cancelled")


@router.get("/etax/unit/progress/{application_id}/persons")
async def progress_persons(
    request: Request, application_id: str, db: common.deps.DbSession, principal: guard.PageUnit
) -> Response:
    app_id = (
        int(application_id)
        if application_id.isascii() and application_id.isdigit() and len(application_id) < 18
        else -1
    )
    try:
        rows = await in_transaction(
            db,
            lambda s: units.progress_persons(
                s, unit_id=principal.account_id, application_id=app_id
            ),
        )
    except DomainError as exc:
        return render(
            request,
            "etax/error.html",
            {
                "title": "退费明细",
                "message": exc.message,
                "crumbs": CRUMBS,
                "back_url": "/etax/unit/progress",
            },
            status_code=exc.status,
        )
    shown, pager = common.paged(rows, common.query_int(request, "page", default=1, minimum=1))
    back = common.safe_next(request.query_params.get("back"), "/etax/unit/progress")
    return render(
        request,
        "etax/unit_persons.html",
        {
            "title": "村组(单位)城乡养老退费进度",
            "nav": "tax",
            "crumbs": [*CRUMBS, ("退费进度", "/etax/unit/progress"), ("退费明细", None)],
            "rows": shown,
            "pager": pager,
            "back_url": back,
            "application_id": app_id,
        },
    )
