"""What the PC (电子税务局) and phone (楚税通) pages of the medical refund share: reading the
query and the forms into the use cases' input models, loading what a page shows, and the
report's rows as the forms hold them. ``etax_medical.py`` and ``mobile.py`` only lay these out.

Form data becomes the same models the API builds from JSON (``MedicalRefundIn``,
``ReportIn``); a value the model refuses is shown next to its field, in Chinese, together
with the problems the service finds, so the person sees every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from ...domain import identity, regions
from ...domain.errors import DomainError, Invalid
from ...domain.rules import (
    ACCOUNT_NATURES,
    BANK_CATEGORIES,
    CURRENCIES,
    DEPOSIT_OPERATION_TYPES,
    MEDICAL_REFUND_REASONS,
)
from ...services import accounts, deposit_accounts, medical
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid, Report, ReportIn, SubmittedAccount
from ...services.medical import MedicalRefundIn, PaymentRow
from ...services.reapply import RefusedDetails
from .. import medical_presenters
from ..deps import Db
from ..errors import validation_error_body
from . import common, reapply_flow
from .common import Form, in_transaction

#: 参保年度 as typed in the query: four digits.
YEAR_DIGITS = 4
#: The first 参保年度 the year menu offers (the service refuses earlier ones).
FIRST_MENU_YEAR = 2023
#: Longest id a form may carry for an application (BIGINT, and then some room).
APPLICATION_ID_MAX = 2**62
#: A report id longer than this many digits cannot be one of ours.
REPORT_ID_DIGITS = 18
#: Length of a division code (GB/T 2260).
DIVISION_DIGITS = 6

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
_DATE_FIELDS = {"report_date", "issue_date", "opened_on", "changed_on", "registered_on"}
HEADER_FIELDS = ("handler_name", "report_date", "business_address", "report_unit")
FLAG_OPTIONS = [("1", "是"), ("0", "否")]
_FLAG_TEXT = dict(FLAG_OPTIONS)


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

#: The choices of one 银行账户信息 row, for the PC table and the phone's account form.
ROW_OPTIONS = {
    "operation_options": OPERATION_OPTIONS,
    "nature_options": NATURE_OPTIONS,
    "division_options": DIVISION_OPTIONS,
    "bank_options": BANK_OPTIONS,
    "currency_options": CURRENCY_OPTIONS,
    "flag_options": FLAG_OPTIONS,
}


def clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters without the empty ones."""
    return {k: v for k, v in params.items() if v not in (None, "")}


def year_options(today: date, with_payments: Sequence[int] = ()) -> list[tuple[int, str]]:
    """The 参保年度 menu; the years that have payments say so (有缴费)."""
    current = medical.default_year(today)
    have = set(with_payments)
    return [
        (y, f"{y}（有缴费）" if y in have else str(y))
        for y in range(max(current + 1, *have, current), FIRST_MENU_YEAR - 1, -1)
    ]


# --------------------------------------------------------------------------- form -> model


def problems(exc: ValidationError) -> list[DomainError]:
    """Each value a model refused, as the API would name it (field ``accounts.0.opened_on``)."""
    out: list[DomainError] = []
    for err in exc.errors():
        body = validation_error_body(RequestValidationError([err]))["error"]
        out.append(Invalid(body["code"], body["message"], body["field"]))
    return out


def _without(data: dict[str, Any], loc: Sequence[int | str]) -> None:
    """Drop the value at ``loc`` (a refused one) so that the model takes its default."""
    target: Any = data
    for part in loc[:-1]:
        target = target[part]
    if isinstance(target, dict):
        target.pop(loc[-1], None)


M = TypeVar("M", bound=BaseModel)


def validate_all(model: type[M], data: dict[str, Any]) -> tuple[M, list[DomainError]]:
    """``model`` from form data, and the values it refused. The refused values are left out
    (their defaults taken), so the service can still check the rest and the form shows every
    problem at once; a caller with problems must not keep what the service does."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        for err in exc.errors():
            _without(data, err["loc"])
        return model.model_validate(data), problems(exc)


def _form_data(values: Mapping[str, str], names: Iterable[str]) -> dict[str, Any]:
    """A form's texts for a model: empty ones left out (the model's default), dates also as
    ``2026/03/10``."""
    out: dict[str, Any] = {}
    for name in names:
        text = values.get(name, "")
        if text:
            out[name] = text.replace("/", "-") if name in _DATE_FIELDS else text
    return out


def report_input(
    header: Mapping[str, str], rows: Sequence[Mapping[str, str]], *, submit: bool
) -> tuple[ReportIn, list[DomainError]]:
    data = _form_data(header, HEADER_FIELDS)
    data["accounts"] = [_form_data(row, ROW_FIELDS) for row in rows]
    data["submit"] = submit
    return validate_all(ReportIn, data)


def errors_by_field(exc: FormInvalid) -> tuple[dict[str, str], dict[str, str]]:
    """(messages, codes): the first problem of each field; a problem of the whole list of
    rows (``accounts``) is shown at the top of the form."""
    errors: dict[str, str] = {}
    codes: dict[str, str] = {}
    for err in exc.errors:
        name = err.field if err.field and err.field != "accounts" else "_form"
        if name not in errors:
            errors[name] = err.message
            codes[name] = err.code
    return errors, codes


# --------------------------------------------------------------------------- 城乡居民医疗社保费(退费)


def parse_year(text: str) -> int | None:
    """参保年度 as typed in the query; empty is today's."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) == YEAR_DIGITS):
        raise Invalid("medical.year_invalid", "参保年度不正确", "insurance_year")
    return int(text)


@dataclass
class Query:
    insurance_year: str
    registration_id: str
    choose: bool = False


def read_query(request: Request) -> Query:
    return Query(
        insurance_year=common.query_text(request, "insurance_year", max_chars=8),
        registration_id=common.query_text(request, "registration_id", max_chars=40),
        choose=request.query_params.get("choose") == "1",
    )


def load_listing(
    session: Session, principal: Principal, query: Query, today: date
) -> dict[str, Any]:
    """The registrations, the chosen one, the payments and any problem with the query."""
    regs = medical.list_registrations(session, person_id=principal.account_id)
    account = accounts.describe_account(session, principal=principal)
    errors: dict[str, str] = {}
    listing = None
    reg_id = query.registration_id
    if reg_id and reg_id not in {r.registration_id for r in regs}:
        errors["registration_id"] = "登记信息不存在"
        reg_id = ""
    need_choice = query.choose or (len(regs) > 1 and not reg_id)
    if not need_choice or reg_id:
        try:
            listing = medical.list_payments(
                session,
                person_id=principal.account_id,
                insurance_year=parse_year(query.insurance_year),
                registration_id=reg_id or None,
                today=today,
            )
        except DomainError as exc:
            if exc.field == "registration_id":
                need_choice = True
            else:
                errors[exc.field or "_form"] = exc.message
    only = regs[0] if len(regs) == 1 else None
    chosen = (
        listing.registration
        if listing
        else next((r for r in regs if r.registration_id == reg_id), only)
    )
    return {
        "registrations": regs,
        "registration": chosen,
        "account": account,
        "rows": listing.items if listing else [],
        "insurance_years": listing.insurance_years if listing else [],
        "insurance_year": listing.insurance_year
        if listing
        else (query.insurance_year or medical.default_year(today)),
        "need_choice": need_choice and len(regs) > 0,
        "query_errors": errors,
    }


def keep_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The query a page passes on to the next: 参保年度 and the registration."""
    reg = data["registration"]
    return clean(
        {
            "insurance_year": data["insurance_year"],
            "registration_id": reg.registration_id if reg else None,
        }
    )


def load_progress(
    session: Session, principal: Principal, query: Query, today: date
) -> dict[str, Any]:
    """The listing's header and 城乡居民医保社保费退费进度 of the year asked, as shown."""
    data = load_listing(
        session, principal, Query(query.insurance_year, query.registration_id), today
    )
    data["progress"] = []
    try:
        views = medical.progress(
            session,
            person_id=principal.account_id,
            insurance_year=parse_year(query.insurance_year),
            today=today,
        )
    except DomainError as exc:
        data["progress_error"] = exc.message
    else:
        data["progress"] = [medical_presenters.application(v) for v in views]
        data["progress_error"] = ""
    return data


# --------------------------------------------------------------------------- 退费申请


def payment_ids_from_query(request: Request) -> list[str]:
    ids: list[str] = []
    most = medical.MAX_PAYMENTS_PER_APPLICATION + 1
    for raw in request.query_params.getlist("payment_ids")[:most]:
        text = raw.strip()
        if text and len(text) <= medical.PAYMENT_ID_MAX and text not in ids:
            ids.append(text)
    return ids


def apply_state(
    session: Session, principal: Principal, *, payment_ids: list[str], query: Query, today: date
) -> dict[str, Any]:
    """The payments being applied for, the accounts in force, and any reason to go back."""
    data = load_listing(
        session, principal, Query(query.insurance_year, query.registration_id), today
    )
    by_id: dict[str, PaymentRow] = {r.payment_id: r for r in data["rows"]}
    problem = ""
    if data["need_choice"]:
        problem = "请选择登记信息"
    elif not payment_ids:
        problem = "请选择要退费的缴费记录"
    elif any(p not in by_id for p in payment_ids):
        problem = "缴费记录不存在"
    elif any(not by_id[p].refundable for p in payment_ids):
        problem = "该缴费已申请退费，请勿重复申请"
    data["chosen_rows"] = [by_id[p] for p in payment_ids if p in by_id]
    data["deposit_accounts"] = deposit_accounts.submitted_accounts(
        session, person_id=principal.account_id
    )
    data["problem"] = problem or data["query_errors"].get("insurance_year", "")
    return data


def query_of(refused: RefusedDetails) -> Query:
    """The listing a 重新申请 starts from: the refused case's 参保年度 and registration."""
    return Query(str(refused.payment_year), refused.registration_id or "")


def refused_values(refused: RefusedDetails, in_force: Sequence[SubmittedAccount]) -> dict[str, str]:
    """The apply form's fields as the refused case had them; its deposit account only if it
    is still one of the person's submitted accounts (else the form's default stays)."""
    values = reapply_flow.medical_values(refused)
    if values.get("deposit_account_id") not in {str(a.account_id) for a in in_force}:
        values.pop("deposit_account_id", None)
    return values


def apply_url(payment_ids: list[str], keep: Mapping[str, Any], base: str) -> str:
    return base + "?" + urlencode([*(("payment_ids", p) for p in payment_ids), *keep.items()])


def form_query(form: Form) -> Query:
    return Query(
        insurance_year=form.values["insurance_year"],
        registration_id=form.values["registration_id"],
    )


def heir_listing(
    session: Session, principal: Principal, *, heir_claim_id: int, today: date
) -> dict[str, Any]:
    """继承人代办: the deceased's payments of the newest 参保年度 that has payments, and the
    heir's own submitted deposit accounts the refund may go to (the claim must be verified)."""
    data: dict[str, Any] = {"rows": [], "registration_id": "", "error": ""}
    try:
        listing = medical.heir_list_payments(
            session, person_id=principal.account_id, heir_claim_id=heir_claim_id, today=today
        )
    except DomainError as exc:
        data["error"] = exc.message
        data["insurance_year"] = medical.default_year(today)
    else:
        data["rows"] = listing.items
        data["insurance_year"] = listing.insurance_year
        if listing.registration is not None:
            data["registration_id"] = listing.registration.registration_id
    data["deposit_accounts"] = deposit_accounts.submitted_accounts(
        session, person_id=principal.account_id
    )
    return data


async def apply_from_form(
    request: Request,
    db: Db,
    principal: Principal,
    form: Form,
    *,
    channel: str,
    heir_claim_id: int | None = None,
) -> tuple[str | None, list[str]]:
    """The application form to 申请退费: (the 参保年度 applied for, or None with every problem
    in ``form``; the ticked payment ids). ``heir_claim_id``: an heir applying for the
    deceased's payments (继承人代办)."""
    ids = form.many("payment_ids", max_items=medical.MAX_PAYMENTS_PER_APPLICATION + 1)
    registration_id = form.text("registration_id", max_chars=40)
    form.text("insurance_year", max_chars=8)
    account_id = form.text("deposit_account_id", max_chars=20)
    phone = form.text("handler_phone", max_chars=20, label="办税人电话")
    reason_code = form.text("reason_code", max_chars=30)
    reason_text = form.text("reason_text", max_chars=500, label="退费理由说明")
    clock = request.app.state.clock
    refund, refused = validate_all(
        MedicalRefundIn,
        {
            "payment_ids": ids,
            "registration_id": registration_id or None,
            "deposit_account_id": account_id or None,
            "handler_phone": phone,
            "reason_code": reason_code,
            "reason_text": reason_text or None,
            "channel": channel,
            "heir_claim_id": heir_claim_id,
        },
    )
    for err in refused:
        form.fail(err)

    def work(session: Session) -> str:
        created = medical.apply(
            session, person_id=principal.account_id, refund=refund, at=clock.now()
        )
        return str(created[0].application.payment_year)

    if not form.errors:
        try:
            return await in_transaction(db, work), ids
        except FormInvalid as exc:
            for err in exc.errors:
                form.fail(err)
        except DomainError as exc:
            form.fail(exc)
    return None, ids


async def submit_application(
    request: Request, db: Db, principal: Principal, form: Form, *, channel: str
) -> str | tuple[dict[str, Any], list[str]]:
    """提交 / 退费 of the application form: the 参保年度 on success (for the redirect), else the
    state to re-render with every problem next to its field."""
    year, ids = await apply_from_form(request, db, principal, form, channel=channel)
    if year is not None:
        return year
    today = request.app.state.clock.today()
    data = await in_transaction(
        db,
        lambda s: apply_state(s, principal, payment_ids=ids, query=form_query(form), today=today),
    )
    return data, ids


def after_applying(url: str, year: str, form: Form, **extra: str) -> Response:
    """Post/Redirect/Get after 申请退费: the progress of the year applied for."""
    return common.redirect(
        url,
        insurance_year=year,
        registration_id=form.values["registration_id"],
        **extra,
        done="applied",
    )


def refusal_status(form: Form) -> int:
    """409 when the refusal is 未查询到存款账户报告信息 (no submitted report), else 422."""
    return 409 if form.codes.get("deposit_account_id") == "deposit_account.missing" else 422


async def cancel_application(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    progress_url: str,
    keep: Mapping[str, str] | None = None,
    **layout: Any,
) -> Response:
    """撤销退费 of the application the form names, from the progress list at ``progress_url``
    (``keep``: what that list's query adds, the phone's view). Back to the list, or a page
    saying why not with a link back to it (``layout``: the PC site's breadcrumbs)."""
    form = await common.read_form(request)
    app_id = form.integer("application_id", label="退费申请", minimum=1, maximum=APPLICATION_ID_MAX)
    query = clean(
        {
            "insurance_year": form.text("insurance_year", max_chars=8),
            "registration_id": form.text("registration_id", max_chars=40),
            **(keep or {}),
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
        return common.error_page(
            request,
            title="撤销退费",
            message=exc.message,
            back_url=progress_url + "?" + urlencode(query),
            status_code=exc.status,
            **layout,
        )
    return common.redirect(progress_url, **query, done="cancelled")


# --------------------------------------------------------------------------- 存款账户账号报告


def blank_row(name: str, today: date) -> dict[str, str]:
    """A new row as the manual's form starts it: 新增, 人民币, 是/是/否, the person's name."""
    row = dict.fromkeys(ROW_FIELDS, "")
    row.update(
        operation_type=deposit_accounts.ADD,
        issue_date=today.isoformat(),
        account_name=name,
        currency="156",
        preferred_tax_account="1",
        general_refund_account="1",
        export_refund_account="0",
    )
    return row


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _flag(value: bool) -> str:
    return "1" if value else "0"


def rows_from_report(report: Report | None) -> list[dict[str, str]]:
    """The report's rows in force as the form holds them (texts)."""
    if report is None:
        return []
    return [
        {
            "account_id": str(r.account_id),
            "operation_type": r.operation_type,
            "account_nature": r.account_nature or "",
            "permit_no": r.permit_no or "",
            "issue_date": _day(r.issue_date),
            "division_code": r.division_code or "",
            "bank_category": r.bank_category or "",
            "bank_branch": r.bank_branch or "",
            "account_name": r.account_name or "",
            "account_no": r.account_no if r.account_no is not None else r.account_no_masked,
            "currency": r.currency,
            "preferred_tax_account": _flag(r.preferred_tax_account),
            "general_refund_account": _flag(r.general_refund_account),
            "export_refund_account": _flag(r.export_refund_account),
            "opened_on": _day(r.opened_on),
            "changed_on": _day(r.changed_on),
            "registered_on": _day(r.registered_on),
            "note": r.note or "",
            "account_no_confirmed": "",
            "saved": "1" if report.state == deposit_accounts.SUBMITTED else "",
        }
        for r in report.accounts
        if not r.retired
    ]


def header_from_report(report: Report | None, today: date) -> dict[str, str]:
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
        "report_date": _day(report.report_date) or today.isoformat(),
        "business_address": report.business_address or "",
        "report_unit": report.report_unit or "",
        "report_id": str(report.report_id),
    }


@dataclass(frozen=True)
class ReportForm:
    """The 存款账户账号报告 as a page lays it out, on the PC and on the phone: the owner, the
    saved report, the header and rows as typed (or as saved), and the problems by field."""

    account: accounts.Account
    report: Report | None
    header: dict[str, str]
    rows: list[dict[str, str]]
    errors: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)


def report_id_of(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < REPORT_ID_DIGITS else None


async def load_report(db: Db, principal: Principal) -> tuple[accounts.Account, Report | None]:
    """The person's account header and the report the form opens (see current_report)."""

    def load(session: Session) -> tuple[accounts.Account, Report | None]:
        account = accounts.describe_account(session, principal=principal)
        return account, deposit_accounts.current_report(session, person_id=principal.account_id)

    return await in_transaction(db, load)


async def save_report(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    report_id: int | None,
    header: Mapping[str, str],
    rows: Sequence[Mapping[str, str]],
    submit: bool,
) -> Report:
    """暂存 / 提交 of the report as the form has it. Raises FormInvalid with every problem
    (the values the model refused and what the service found); nothing is kept then."""
    report_in, refused = report_input(header, rows, submit=submit)
    clock = request.app.state.clock

    def work(session: Session) -> Report:
        try:
            saved = deposit_accounts.save_report(
                session,
                person_id=principal.account_id,
                report_id=report_id,
                report_in=report_in,
                at=clock.now(),
                today=clock.today(),
            )
        except FormInvalid as exc:
            raise FormInvalid([*refused, *exc.errors]) from None
        if refused:
            raise FormInvalid(refused)  # rolls the save back: refused values were left out
        return saved

    return await in_transaction(db, work)


def row_labels(row: Mapping[str, str]) -> dict[str, str]:
    """Display texts of a row's codes, for the phone's cards."""
    division = row.get("division_code") or ""
    name = regions.division_name(division) if division else None
    prefecture = (
        regions.division_name(regions.prefecture_of(division))
        if division.isdigit() and len(division) == DIVISION_DIGITS
        else None
    )
    where = ""
    if name:
        where = f"湖北省({prefecture})" if prefecture == name else f"湖北省({prefecture}{name})"
    number = row.get("account_no", "")
    return {
        "account_no": number if "*" in number else identity.mask_account(number),
        "operation_type": DEPOSIT_OPERATION_TYPES.get(row.get("operation_type", ""), ""),
        "account_nature": ACCOUNT_NATURES.get(row.get("account_nature", ""), ""),
        "division_code": where or division,
        "bank_category": BANK_CATEGORIES.get(row.get("bank_category", ""), ""),
        "currency": CURRENCIES.get(row.get("currency", ""), ""),
        "preferred_tax_account": _FLAG_TEXT.get(row.get("preferred_tax_account", ""), ""),
        "general_refund_account": _FLAG_TEXT.get(row.get("general_refund_account", ""), ""),
        "export_refund_account": _FLAG_TEXT.get(row.get("export_refund_account", ""), ""),
    }
