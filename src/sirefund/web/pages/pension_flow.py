"""城乡居民基本养老保险退费（个人） as pages: what the PC site (etax.py) and the phone app
(mobile.py) share — the query (缴费年度 / 查询状态 / 页码), the listing, 申请退费 from a form
and 撤销退费 of checked rows. Each site keeps only its own layout and addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from ...domain.money import format_yuan
from ...domain.rules import (
    ARRIVAL_LABELS,
    BANK_ACCOUNT_TYPE_LABELS,
    BANK_CATEGORIES,
    ArrivalStatus,
)
from ...services import applications, bank_details, pension
from ...services.accounts import Principal
from ...services.pension import PaymentLine, PensionRefundIn
from ...services.queries import PensionState
from .. import deps, refund_presenters
from . import common
from .common import Form, in_transaction

STATE_OPTIONS = [("refundable", "可退费"), ("applied", "已申请")]
# The manual's 未到账 / 异常 filter (到账状态).
ARRIVAL_OPTIONS = [(a.value, ARRIVAL_LABELS[a]) for a in ArrivalStatus]
FIRST_YEAR, LAST_YEAR = 1900, 2100
MAX_PAGE = 10_000
MAX_APPLICATION_ID = 2**62
PAGE_SIZE = 10
YEARS_BACK = 15
BANK_CHOICES = {
    "account_types": {k.value: v for k, v in BANK_ACCOUNT_TYPE_LABELS.items()},
    "bank_categories": BANK_CATEGORIES,
}


@dataclass(frozen=True)
class Query:
    year: int | None
    state: str  # "refundable", "applied" or "" (全部)
    page: int
    arrival: str = ""  # "not_arrived", "abnormal", "arrived" or "" (全部)

    @property
    def service_arrival(self) -> ArrivalStatus | None:
        return ArrivalStatus(self.arrival) if self.arrival else None

    @property
    def service_state(self) -> PensionState:
        if self.state == "refundable":
            return "refundable"
        return "applied" if self.state == "applied" else "all"

    def keep(self, **more: Any) -> dict[str, Any]:
        """The query as URL parameters (empty ones left out), with ``more``."""
        return clean({"year": self.year, "state": self.state, "arrival": self.arrival, **more})


def clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def read_query(request: Request, form: Form | None = None) -> Query:
    """缴费年度 / 查询状态 / 页码 from the query string (GET) or the hidden fields (POST); odd
    values fall back to 全部 and the first page."""
    if form is not None:
        year = form.integer("year", label="缴费年度", minimum=FIRST_YEAR, maximum=LAST_YEAR)
        state = form.text("state", max_chars=12)
        arrival = form.text("arrival", max_chars=12)
        page = form.integer("page", label="页码", minimum=1, maximum=MAX_PAGE) or 1
        form.errors.pop("year", None)
        form.errors.pop("page", None)
    else:
        year = common.query_int(request, "year", minimum=FIRST_YEAR, maximum=LAST_YEAR)
        state = common.query_text(request, "state")
        arrival = common.query_text(request, "arrival")
        page = common.query_int(request, "page", default=1, minimum=1) or 1
    return Query(
        year,
        state if state in dict(STATE_OPTIONS) else "",
        page,
        arrival if arrival in dict(ARRIVAL_OPTIONS) else "",
    )


def year_options(request: Request) -> list[tuple[int, str]]:
    today = request.app.state.clock.today()
    return [(y, str(y)) for y in common.year_choices(today.year, back=YEARS_BACK)]


def all_lines(session: Session, person_id: int) -> dict[str, PaymentLine]:
    """Every payment line of the person by payment id (to check a selection across pages)."""
    return {line.payment_id: line for line in pension.payments(session, person_id=person_id)}


def listing(session: Session, principal: Principal, query: Query) -> dict[str, Any]:
    """The page of 退费信息查询 the query asks for (past the end: the last page)."""
    lines = pension.payments(
        session,
        person_id=principal.account_id,
        year=query.year,
        state=query.service_state,
        arrival=query.service_arrival,
    )
    shown, pager = common.paged(lines, query.page, PAGE_SIZE)
    return {"rows": [refund_presenters.pension_line(line) for line in shown], "pager": pager}


def selection_total(lines: dict[str, PaymentLine], ids: list[str]) -> str:
    return format_yuan(sum(lines[i].payment.amount_fen for i in ids if i in lines))


def selection_problem(lines: dict[str, PaymentLine], ids: list[str]) -> str | None:
    """Why the checked rows cannot open the 申请退费 dialog, or None."""
    if not ids:
        return "请选择需要退费的缴费记录"
    if any(i not in lines for i in ids):
        return "缴费记录不存在"
    if any(lines[i].payment.arrival_status == ArrivalStatus.ARRIVED for i in ids):
        return "该缴费已到账，不能自行申请退费，请联系税务人员发起退费申请"
    if any(not lines[i].refundable for i in ids):
        return "该缴费已申请退费，请勿重复申请"
    return None


async def apply(
    request: Request, db: deps.Db, principal: Principal, *, channel: str
) -> tuple[Query, Form, str | None]:
    """申请退费 for the payments checked in the posted dialog: the list's query, the form and
    None on success, else the selection's total to re-render the dialog with (``form.errors``
    says what is wrong, each next to its field).

    The form is validated as the API's PensionRefundIn, so every field's problem shows at
    once; then the service decides (arrived, already applied, someone else's payment …).
    """
    form = await common.read_form(request)
    query = read_query(request, form)
    data: dict[str, object] = {name: form.text(name) for name in bank_details.FIELDS}
    data.update(
        payment_ids=form.many("payment_ids", max_items=pension.MAX_SELECTED),
        account_no_confirmed=form.flag("account_no_confirmed"),
        channel=channel,
    )
    refund = common.validate_form(form, PensionRefundIn, data)
    if refund is not None and not form.errors:
        applied = await common.change_on_form(
            request,
            db,
            form,
            lambda s, at: pension.apply(s, person_id=principal.account_id, refund=refund, at=at),
        )
        if applied:
            return query, form, None
    ids = form.values["payment_ids"]
    total = await in_transaction(
        db, lambda s: selection_total(all_lines(s, principal.account_id), ids)
    )
    return query, form, total


def dialog_again(form: Form, total: str) -> dict[str, Any]:
    """The 申请退费 dialog shown again after a refusal: what was typed, each problem next to
    its field, and the checked payments with their total (from :func:`apply`)."""
    return {
        "values": form.values,
        "errors": form.errors,
        "codes": form.codes,
        "selected": form.values["payment_ids"],
        "selected_total": total,
        "show_dialog": True,
    }


def cancel_checked(session: Session, principal: Principal, ids: list[str], at: datetime) -> None:
    """撤销退费 of the checked rows, all or nothing."""
    lines = all_lines(session, principal.account_id)
    chosen = [lines[i] for i in ids if i in lines]
    if len(chosen) != len(ids):
        raise pension.payment_not_found()
    if any(not line.cancellable for line in chosen):
        raise applications.not_cancellable()
    for line in chosen:
        assert line.application_id is not None  # a cancellable line has its application
        pension.cancel(
            session, person_id=principal.account_id, application_id=line.application_id, at=at
        )


async def cancel_one(
    request: Request, db: deps.Db, principal: Principal, application_id: int | None
) -> None:
    """撤销退费 of one application (the progress list's button); DomainError when refused."""
    at = request.app.state.clock.now()
    await in_transaction(
        db,
        lambda s: pension.cancel(
            s, person_id=principal.account_id, application_id=application_id or -1, at=at
        ),
    )
