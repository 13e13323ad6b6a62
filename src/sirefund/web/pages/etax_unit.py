"""PC pages of 城乡居民社会保险费退费（养老）（村组） (manual 1.2.2).

可退费查询 lists the unit's payments; 退费 opens the 退费维护区 with the two panes of the 申请区
(选择区 → 退费区). Without JavaScript every pane button (查询, 添加, 全部添加, 撤销, 全部撤销) is a
round trip of the one form: the chosen persons travel as hidden ``chosen`` fields, the
maintenance fields keep what was typed, and the server computes 缴费金额 from the chosen
persons. With JavaScript the persons move in place and the amount follows live; 保存 is the
same POST either way and the service recomputes the amount from the chosen lines.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ...domain.errors import DomainError
from ...domain.money import format_yuan
from ...domain.rules import UNIT_PAYMENT_TYPE_LABELS, UnitPaymentType
from ...domain.workflow import ApplicationKind, Channel
from ...services import bank_details, units
from ...services.accounts import Principal
from ...services.units import PersonLine, UnitBatchIn
from .. import refund_presenters
from ..deps import Db, DbSession
from . import common, guard, pension_flow, reapply_flow
from .common import Form, in_transaction, render

router = APIRouter(include_in_schema=False)
CHANNEL = Channel.WEB.value

TITLE = "城乡居民社会保险费退费（养老）（村组）"
CRUMBS = [*common.ETAX_PATH_TO_OTHER, (TITLE, "/etax/unit")]
TYPE_OPTIONS = [
    (k.value, v) for k, v in UNIT_PAYMENT_TYPE_LABELS.items() if k != UnitPaymentType.NORMAL
]
MONTH_OPTIONS = [(m, f"{m:02d}") for m in range(units.FIRST_MONTH, units.LAST_MONTH + 1)]
MAINT_FIELDS = (*bank_details.FIELDS, "bank_account_name")
PANE_OPS = {"add", "add_all", "remove", "remove_all", "filter_left", "filter_right", "refresh"}
ID_NUMBER_MAX = 24  # the search boxes: an 18-character ID number with room for spaces
NAME_MAX = 50
MAX_CANCELLED = 200
MAX_LINKED_PAYMENTS = 50
MAX_ID_DIGITS = 17
#: The page's own wording where the maintenance area says more than the API.
SAVE_MESSAGES = {
    "month.required": "请选择缴费月份",
    "unit.no_person_selected": "请选择退费人员：在选择区勾选后点击【添加】，或点击【全部添加】",
}
_clean = pension_flow.clean
_years = pension_flow.year_options


# --------------------------------------------------------------------------- 可退费查询


def _payments_query(request: Request) -> dict[str, Any]:
    payment_type = common.query_text(request, "payment_type")
    return {
        "id_number": common.query_text(request, "id_number", max_chars=ID_NUMBER_MAX),
        "year": common.query_int(
            request, "year", minimum=pension_flow.FIRST_YEAR, maximum=pension_flow.LAST_YEAR
        ),
        "month": common.query_int(
            request, "month", minimum=units.FIRST_MONTH, maximum=units.LAST_MONTH
        ),
        "payment_type": payment_type if payment_type in dict(TYPE_OPTIONS) else "",
        "page": common.query_int(request, "page", default=1, minimum=1) or 1,
    }


@router.get("/etax/unit")
async def unit_payments(request: Request, db: DbSession, principal: guard.PageUnit) -> Response:
    q = _payments_query(request)
    rows = await in_transaction(
        db,
        lambda s: units.list_payments(
            s,
            unit_id=principal.account_id,
            year=q["year"],
            month=q["month"],
            payment_type=UnitPaymentType(q["payment_type"]) if q["payment_type"] else None,
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
            "rows": [refund_presenters.unit_payment(r) for r in shown],
            "pager": pager,
            "query": {k: ("" if v is None else v) for k, v in q.items()},
            "keep_query": keep,
            "year_options": _years(request),
            "month_options": MONTH_OPTIONS,
            "type_options": TYPE_OPTIONS,
        },
    )


# --------------------------------------------------------------------------- 退费维护区 + 申请区


def _person(line: PersonLine) -> dict[str, Any]:
    """A pane row: the presented person and its amount in fen (the live sum in etax.js)."""
    return {**refund_presenters.unit_person(line), "fen": line.amount_fen}


def _refund_state(
    session: Session,
    principal: Principal,
    payment_id: str,
    form: Form | None,
    op: str = "",
    preselect: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Everything the 退费 page shows, after applying a pane operation to the selection
    (``preselect``: the lines a 重新申请 puts in the 退费区 at once, those still refundable)."""
    payment = units.get_payment(session, unit_id=principal.account_id, unit_payment_id=payment_id)
    everyone = units.list_persons(session, unit_id=principal.account_id, unit_payment_id=payment_id)
    by_line = {p.line_id: p for p in everyone}
    filters = {"left_id_number": "", "left_name": "", "right_id_number": "", "right_name": ""}
    chosen = [i for i in preselect if i in by_line and by_line[i].refundable]
    if form is not None:
        for name in filters:
            filters[name] = form.text(
                name, max_chars=ID_NUMBER_MAX if "id_number" in name else NAME_MAX
            )
        chosen = [
            i
            for i in form.many("chosen", max_items=units.MAX_SELECTED)
            if i in by_line and by_line[i].refundable
        ]

    def listed(id_number: str, name: str) -> list[PersonLine]:
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
        chosen = _pane_op(
            form,
            op,
            chosen,
            left_all,
            lambda: listed(filters["right_id_number"], filters["right_name"]),
        )
    chosen_set = set(chosen)
    right = [
        p
        for p in listed(filters["right_id_number"], filters["right_name"])
        if p.line_id in chosen_set
    ]
    left = [p for p in left_all if p.line_id not in chosen_set]
    return {
        "payment": refund_presenters.unit_payment(payment),
        "left": [_person(p) for p in left],
        "right": [_person(p) for p in right],
        "filters": filters,
        "chosen": [{"line_id": i, "fen": by_line[i].amount_fen} for i in chosen],
        "amount": format_yuan(sum(by_line[i].amount_fen for i in chosen)),
    }


def _pane_op(
    form: Form,
    op: str,
    chosen: list[str],
    left_all: list[PersonLine],
    right_listed: Callable[[], list[PersonLine]],
) -> list[str]:
    """The selection after 添加 / 全部添加 / 撤销 / 全部撤销 (other operations keep it)."""
    if op == "add":
        picked = set(form.many("pick", max_items=units.MAX_SELECTED))
        return chosen + [
            p.line_id
            for p in left_all
            if p.line_id in picked and p.refundable and p.line_id not in chosen
        ]
    if op == "add_all":
        return chosen + [p.line_id for p in left_all if p.refundable and p.line_id not in chosen]
    if op == "remove":
        dropped = set(form.many("unpick", max_items=units.MAX_SELECTED))
        return [i for i in chosen if i not in dropped]
    if op == "remove_all":
        shown_right = {p.line_id for p in right_listed()}
        return [i for i in chosen if i not in shown_right]
    return chosen


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
        **pension_flow.BANK_CHOICES,
        "month_options": MONTH_OPTIONS,
        "refusal": refusal,
    }


def _payment_id_ok(payment_id: str) -> bool:
    return 0 < len(payment_id) <= units.ID_MAX


@router.get("/etax/unit/payments/{payment_id}/refund")
async def refund_page(
    request: Request, payment_id: str, db: DbSession, principal: guard.PageUnit
) -> Response:
    refused = await reapply_flow.refused_details(
        request, db, principal, ApplicationKind.UNIT_PENSION
    )
    if refused is not None and refused.payment_id != payment_id:
        raise guard.PageNotFound()  # a refused line of another payment: no mixing
    lines = refused.batch_line_ids if refused is not None else ()
    try:
        if not _payment_id_ok(payment_id):
            raise units.payment_not_found()
        state = await in_transaction(
            db, lambda s: _refund_state(s, principal, payment_id, None, preselect=lines)
        )
    except DomainError as exc:
        return _refused(request, exc)
    ctx = _refund_context(request, state)
    if refused is not None:
        # 重新申请: the refused batch's lines in the 退费区, its account and contact filled in.
        ctx["values"].update(reapply_flow.bank_values(refused))
        if refused.payment_month is not None:
            ctx["values"]["payment_month"] = refused.payment_month
    return render(request, "etax/unit_refund.html", ctx)


def _refused(
    request: Request, exc: DomainError, *, title: str = "退费信息", back_url: str = "/etax/unit"
) -> Response:
    """A page that cannot be shown (a payment or application not the unit's), and why."""
    return common.error_page(
        request,
        title=title,
        message=exc.message,
        back_url=back_url,
        status_code=exc.status,
        crumbs=CRUMBS,
    )


@router.post("/etax/unit/payments/{payment_id}/refund")
async def refund_submit(
    request: Request, payment_id: str, db: DbSession, principal: guard.PageUnit
) -> Response:
    form = await common.read_form(request)
    op = form.text("op", max_chars=20) or "refresh"
    data: dict[str, object] = {name: form.text(name) for name in MAINT_FIELDS}
    data.update(
        unit_payment_id=payment_id,
        line_ids=form.many("chosen", max_items=units.MAX_SELECTED),
        payment_month=form.text("payment_month") or None,
        account_no_confirmed=form.flag("account_no_confirmed"),
        channel=CHANNEL,
    )
    if not _payment_id_ok(payment_id):
        return _refused(request, units.payment_not_found())
    status_code = 200
    if op == "save":
        saved = await _save(request, db, principal, form, data)
        if saved is not None:
            return saved
        already = form.codes.get("line_ids") == "application.already_applied"
        status_code = HTTPStatus.CONFLICT if already else HTTPStatus.UNPROCESSABLE_ENTITY
    else:
        form.errors.clear()  # a pane operation is not a submission: no errors yet
    pane_op = op if op in PANE_OPS else "refresh"
    try:
        state = await in_transaction(
            db, lambda s: _refund_state(s, principal, payment_id, form, pane_op)
        )
    except DomainError as exc:
        return _refused(request, exc)
    return render(
        request,
        "etax/unit_refund.html",
        _refund_context(request, state, form=form),
        status_code=status_code,
    )


async def _save(
    request: Request, db: Db, principal: Principal, form: Form, data: dict[str, object]
) -> Response | None:
    """保存: every problem of the maintenance area at once, then the service decides. The
    answer when there is no form to show again (saved, or the payment is not the unit's)."""
    batch = common.validate_form(form, UnitBatchIn, data, code_messages=SAVE_MESSAGES)
    if batch is None or form.errors:
        return None
    at = request.app.state.clock.now()
    try:
        saved = await in_transaction(
            db, lambda s: units.save_batch(s, unit_id=principal.account_id, batch=batch, at=at)
        )
    except DomainError as exc:
        if exc.status == HTTPStatus.NOT_FOUND and exc.field == "unit_payment_id":
            return _refused(request, exc)
        form.fail(exc, aliases={"unit_payment_id": "_form"})
        return None
    return common.redirect(
        "/etax/unit/progress",
        year=saved.applications[0].payment_year,
        batch=saved.batch_id,
        done="saved",
    )


# --------------------------------------------------------------------------- 退费进度


def _application_id(text: str) -> int | None:
    """An application id typed in a form or an address; None unless a whole number in range."""
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
        return None
    number = int(text)
    return number if 1 <= number <= pension_flow.MAX_APPLICATION_ID else None


@router.get("/etax/unit/progress")
async def progress_page(request: Request, db: DbSession, principal: guard.PageUnit) -> Response:
    return await _progress(request, db, principal)


async def _progress(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    selected: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    year = common.query_int(
        request, "year", minimum=pension_flow.FIRST_YEAR, maximum=pension_flow.LAST_YEAR
    )
    page = common.query_int(request, "page", default=1, minimum=1)
    payment_ids = [p for p in request.query_params.getlist("payment") if _payment_id_ok(p)][
        :MAX_LINKED_PAYMENTS
    ]
    batch = common.query_int(request, "batch", minimum=1, maximum=pension_flow.MAX_APPLICATION_ID)
    rows = await in_transaction(
        db, lambda s: units.progress(s, unit_id=principal.account_id, year=year)
    )
    if payment_ids:
        rows = [r for r in rows if r.unit_payment_id in payment_ids]
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
            "rows": [refund_presenters.unit_refund(r) for r in shown],
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
async def progress_cancel(request: Request, db: DbSession, principal: guard.PageUnit) -> Response:
    """撤销退费: each checked pending application, with every pending one of its batch."""
    form = await common.read_form(request)
    ids_raw = form.many("application_ids", max_items=MAX_CANCELLED)
    year = form.integer(
        "year", label="缴费年度", minimum=pension_flow.FIRST_YEAR, maximum=pension_flow.LAST_YEAR
    )
    ids = [app_id for i in ids_raw if (app_id := _application_id(i)) is not None]
    at = request.app.state.clock.now()
    if not ids:
        return await _progress(
            request, db, principal, errors={"_form": "请勾选需要撤销退费的记录"}, status_code=422
        )

    def cancel(session: Session) -> list[int]:
        done: list[int] = []
        for app_id in ids:
            if app_id in done:
                continue  # already cancelled with its batch
            done += units.cancel(
                session, unit_id=principal.account_id, application_id=app_id, at=at
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
    request: Request, application_id: str, db: DbSession, principal: guard.PageUnit
) -> Response:
    app_id = _application_id(application_id) or -1
    try:
        rows = await in_transaction(
            db,
            lambda s: units.progress_persons(
                s, unit_id=principal.account_id, application_id=app_id
            ),
        )
    except DomainError as exc:
        return _refused(request, exc, title="退费明细", back_url="/etax/unit/progress")
    shown, pager = common.paged(rows, common.query_int(request, "page", default=1, minimum=1))
    back = common.safe_next(request.query_params.get("back"), "/etax/unit/progress")
    return render(
        request,
        "etax/unit_persons.html",
        {
            "title": "村组(单位)城乡养老退费进度",
            "nav": "tax",
            "crumbs": [*CRUMBS, ("退费进度", "/etax/unit/progress"), ("退费明细", None)],
            "rows": [refund_presenters.refund_person(r) for r in shown],
            "pager": pager,
            "back_url": back,
            "application_id": app_id,
        },
    )
