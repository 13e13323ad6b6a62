"""存款账户账号报告: the deposit account report a person files before a medical refund.

A report holds the handler (经办人, may differ from the refund person), the report date and
one row per bank account. 暂存 saves a draft, incomplete rows allowed; 提交 validates every
required field of every row and puts the accounts in force. A submitted report is updated by
submitting it again: a row keeps its ``account_id`` from one save to the next, so a change of
a saved account (开户银行, 账户名称, 账号, 银行开户登记证号) is recognised and needs 变更日期, and
a row whose 操作类型 is 删除 retires its account. Retired accounts stay in the report for the
record and remain referenced by the applications that used them.

Functions take values the way both an API model and an HTML form hand them over (dates as
``date`` or ``"2026-03-10"``/``"2026/03/10"``, flags as ``bool`` or ``"是"``/``"1"``/``"on"``)
and return plain dataclasses. Every problem of a save is reported at once through
:class:`ReportInvalid` (``errors``, each with a field such as ``"accounts.1.account_no"``);
the exception itself carries the first one, which is what the API answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..domain import identity, regions
from ..domain.errors import Conflict, DomainError, Invalid, NotFound
from ..domain.rules import (
    ACCOUNT_NATURES,
    BANK_CATEGORIES,
    CURRENCIES,
    CURRENCY_CNY,
    DEPOSIT_OPERATION_TYPES,
)
from ..models import DepositAccount, DepositAccountReport, Person

T = TypeVar("T")

DRAFT = "draft"
SUBMITTED = "submitted"
STATE_LABELS = {DRAFT: "暂存", SUBMITTED: "已提交"}

MAX_ROWS = 20

#: The manual's hint under the report form, shown when 变更日期 is missing.
CHANGE_DATE_HINT = (
    "如果修改已保存的银行账户相关信息（银行开户登记证号、开户银行、账户名称、账号），请填写变更日期"
)

# Fields whose change on a saved account needs 变更日期 (the manual's hint lists them).
_KEY_FIELDS = ("permit_no", "bank_branch", "account_name", "account_no")

_SIX_DIGITS = re.compile(r"[1-9][0-9]{5}")
_TRUE = {"1", "true", "on", "yes", "y", "是"}
_FALSE = {"0", "false", "off", "no", "n", "否"}

# Text caps follow the columns of models.DepositAccount / DepositAccountReport.
_CAPS = {
    "permit_no": 40,
    "bank_branch": 100,
    "account_name": 100,
    "account_no": 32,
    "note": 200,
    "handler_name": 50,
    "business_address": 200,
    "report_unit": 100,
}

# field -> (label, verb) for "请填写开户银行" / "请选择账户性质".
_REQUIRED = {
    "account_nature": ("账户性质", "请选择"),
    "issue_date": ("发放日期", "请选择"),
    "division_code": ("行政区划", "请选择"),
    "bank_category": ("银行行别", "请选择"),
    "bank_branch": ("开户银行", "请填写"),
    "account_name": ("账户名称", "请填写"),
    "account_no": ("账号", "请填写"),
    "opened_on": ("开户日期", "请选择"),
}


# --------------------------------------------------------------------------- results


class FormInvalid(Invalid):
    """Every problem of one form at once. Code, message and field are those of the first."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = list(errors)

    def by_field(self) -> dict[str, DomainError]:
        """First problem per field, for showing each one next to its input."""
        out: dict[str, DomainError] = {}
        for err in self.errors:
            out.setdefault(err.field or "", err)
        return out


class ReportInvalid(FormInvalid):
    """Every problem of one report save (fields such as ``"accounts.1.account_no"``)."""


@dataclass(frozen=True)
class AccountRow:
    """One 银行账户信息 row as the owner sees it.

    ``account_no`` is the full number only while the report is a draft (the person is still
    typing it); once submitted only ``account_no_masked`` is shown, and a save that leaves
    the number empty (or sends the masked value back) keeps the saved number.
    """

    account_id: int
    position: int
    operation_type: str
    operation_type_label: str
    account_nature: str | None
    account_nature_label: str | None
    permit_no: str | None
    issue_date: date | None
    division_code: str | None
    division_name: str | None
    bank_category: str | None
    bank_category_label: str | None
    bank_branch: str | None
    account_name: str | None
    account_no: str | None
    account_no_masked: str
    currency: str
    currency_label: str
    preferred_tax_account: bool
    general_refund_account: bool
    export_refund_account: bool
    opened_on: date | None
    changed_on: date | None
    registered_on: date | None
    note: str | None
    retired: bool
    in_force: bool


@dataclass(frozen=True)
class Report:
    report_id: int
    state: str
    state_label: str
    handler_name: str | None
    report_date: date | None
    business_address: str | None
    report_unit: str | None
    created_at: datetime
    submitted_at: datetime | None
    accounts: list[AccountRow]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SubmittedAccount:
    """An account in force: what the refund form offers (选择银行账户信息)."""

    account_id: int
    report_id: int
    account_nature: str | None
    account_nature_label: str | None
    bank_category: str | None
    bank_category_label: str | None
    bank_branch: str | None
    account_name: str | None
    account_no_masked: str
    division_code: str | None
    division_name: str | None
    opened_on: date | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reading


def _division_name(code: str | None) -> str | None:
    return regions.division_name(code) if code else None


def _row_view(row: DepositAccount, *, report_state: str) -> AccountRow:
    draft = report_state == DRAFT
    return AccountRow(
        account_id=row.id,
        position=row.position,
        operation_type=row.operation_type,
        operation_type_label=DEPOSIT_OPERATION_TYPES.get(row.operation_type, row.operation_type),
        account_nature=row.account_nature,
        # Rows imported before the codes existed may hold the label itself.
        account_nature_label=ACCOUNT_NATURES.get(row.account_nature or "", row.account_nature),
        permit_no=row.permit_no,
        issue_date=row.issue_date,
        division_code=row.division_code,
        division_name=_division_name(row.division_code),
        bank_category=row.bank_category,
        bank_category_label=BANK_CATEGORIES.get(row.bank_category or ""),
        bank_branch=row.bank_branch,
        account_name=row.account_name,
        account_no=row.account_no if draft else None,
        account_no_masked=identity.mask_account(row.account_no),
        currency=row.currency,
        currency_label=CURRENCIES.get(row.currency, row.currency),
        preferred_tax_account=bool(row.preferred_tax_account),
        general_refund_account=bool(row.general_refund_account),
        export_refund_account=bool(row.export_refund_account),
        opened_on=row.opened_on,
        changed_on=row.changed_on,
        registered_on=row.registered_on,
        note=row.note,
        retired=bool(row.retired),
        in_force=_in_force(row, report_state),
    )


def _in_force(row: DepositAccount, report_state: str) -> bool:
    return report_state == SUBMITTED and not row.retired and row.operation_type != "delete"


def _report_view(report: DepositAccountReport) -> Report:
    return Report(
        report_id=report.id,
        state=report.state,
        state_label=STATE_LABELS.get(report.state, report.state),
        handler_name=report.handler_name,
        report_date=report.report_date,
        business_address=report.business_address,
        report_unit=report.report_unit,
        created_at=as_utc(report.created_at),
        submitted_at=as_utc(report.submitted_at) if report.submitted_at else None,
        accounts=[_row_view(r, report_state=report.state) for r in report.accounts],
    )


def _owned_report(
    session: Session, *, person_id: int, report_id: int, lock: bool = False
) -> DepositAccountReport:
    report = None
    if isinstance(report_id, int) and not isinstance(report_id, bool):
        query = select(DepositAccountReport).where(DepositAccountReport.id == report_id)
        if lock:
            # Two saves of one report at once: the second waits and sees the first's rows.
            query = query.with_for_update().execution_options(populate_existing=True)
        report = session.execute(query).scalar_one_or_none()
    if report is None or report.person_id != person_id:
        raise NotFound("deposit_account_report.not_found", "存款账户账号报告不存在")
    return report


def get_report(session: Session, *, person_id: int, report_id: int) -> Report:
    """One of the person's reports, for showing or re-editing; 404 when absent or not theirs."""
    return _report_view(_owned_report(session, person_id=person_id, report_id=report_id))


def _latest(session: Session, person_id: int, state: str) -> DepositAccountReport | None:
    return session.execute(
        select(DepositAccountReport)
        .where(DepositAccountReport.person_id == person_id, DepositAccountReport.state == state)
        .order_by(DepositAccountReport.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest_draft(session: Session, *, person_id: int) -> Report | None:
    """The person's most recent draft (暂存), to continue where they left off."""
    report = _latest(session, person_id, DRAFT)
    return _report_view(report) if report else None


def current_report(session: Session, *, person_id: int) -> Report | None:
    """What the report form should open: the latest draft, else the latest submitted report
    (to change or delete its accounts), else None (a new report)."""
    report = _latest(session, person_id, DRAFT) or _latest(session, person_id, SUBMITTED)
    return _report_view(report) if report else None


def list_reports(session: Session, *, person_id: int) -> list[Report]:
    """The person's reports, newest first."""
    reports = session.execute(
        select(DepositAccountReport)
        .where(DepositAccountReport.person_id == person_id)
        .order_by(DepositAccountReport.id.desc())
    ).scalars()
    return [_report_view(r) for r in reports]


def _in_force_query(person_id: int):  # type: ignore[no-untyped-def]
    return (
        select(DepositAccount)
        .join(DepositAccountReport, DepositAccount.report_id == DepositAccountReport.id)
        .where(
            DepositAccount.person_id == person_id,
            DepositAccountReport.person_id == person_id,
            DepositAccountReport.state == SUBMITTED,
            DepositAccount.retired.is_(False),
            DepositAccount.operation_type != "delete",
        )
        .order_by(DepositAccount.report_id, DepositAccount.position, DepositAccount.id)
    )


def submitted_accounts(session: Session, *, person_id: int) -> list[SubmittedAccount]:
    """The person's accounts in force (submitted, not deleted); empty when there are none,
    which is when the refund form says 未查询到存款账户报告信息."""
    rows = session.execute(_in_force_query(person_id)).scalars()
    return [
        SubmittedAccount(
            account_id=r.id,
            report_id=r.report_id,
            account_nature=r.account_nature,
            account_nature_label=ACCOUNT_NATURES.get(r.account_nature or "", r.account_nature),
            bank_category=r.bank_category,
            bank_category_label=BANK_CATEGORIES.get(r.bank_category or ""),
            bank_branch=r.bank_branch,
            account_name=r.account_name,
            account_no_masked=identity.mask_account(r.account_no),
            division_code=r.division_code,
            division_name=_division_name(r.division_code),
            opened_on=r.opened_on,
        )
        for r in rows
    ]


def accounts_in_force(session: Session, *, person_id: int) -> list[DepositAccount]:
    """The model rows behind :func:`submitted_accounts`, for services that copy bank details."""
    return list(session.execute(_in_force_query(person_id)).scalars())


# --------------------------------------------------------------------------- parsing


class _Errors:
    """Collects problems so that a form can show all of them at once."""

    def __init__(self) -> None:
        self.items: list[DomainError] = []

    def add(self, code: str, message: str, field: str) -> None:
        self.items.append(Invalid(code, message, field))

    def run(self, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except DomainError as exc:
            self.items.append(exc)
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise ReportInvalid(self.items)


def _text(value: object, field: str, cap: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("deposit_account.text_invalid", "应为文本", field)
    text = value.strip()
    if len(text) > cap:
        raise Invalid("deposit_account.too_long", f"内容不能超过{cap}个字符", field)
    return text or None


def _date(value: object, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            pass
    raise Invalid("date.invalid", "日期格式应为YYYY-MM-DD", field)


def _flag(value: object, field: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise Invalid("deposit_account.flag_invalid", "应选择是或否", field)


def _code(
    value: object, field: str, known: Mapping[str, str], code: str, message: str
) -> str | None:
    text = _text(value, field, 10)
    if text is None:
        return None
    if text not in known:
        raise Invalid(code, message, field)
    return text


def _division(value: object, field: str) -> str | None:
    text = _text(value, field, 6)
    if text is None:
        return None
    # Accounts may be opened outside Hubei, so any well-formed GB/T 2260 code is accepted;
    # known Hubei codes are also shown by name.
    if not (regions.is_known_hubei_division(text) or _SIX_DIGITS.fullmatch(text)):
        raise Invalid("deposit_account.division_code", "请选择行政区划", field)
    return text


def _account_id(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Invalid("deposit_account.not_found", "账户不存在", field)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise Invalid("deposit_account.not_found", "账户不存在", field)


@dataclass
class _Row:
    index: int
    account_id: int | None
    values: dict[str, Any]
    account_no_confirmed: bool


def _parse_row(index: int, raw: Mapping[str, Any], errors: _Errors) -> _Row:
    p = f"accounts.{index}."
    get = raw.get
    v: dict[str, Any] = {}
    op = get("operation_type")
    op = op.strip() if isinstance(op, str) else op
    if op in (None, ""):
        op = "add"
    if op not in DEPOSIT_OPERATION_TYPES:
        errors.add("deposit_account.operation_type", "请选择操作类型", p + "operation_type")
        op = "add"
    v["operation_type"] = op
    v["account_nature"] = errors.run(
        lambda: _code(
            get("account_nature"),
            p + "account_nature",
            ACCOUNT_NATURES,
            "deposit_account.account_nature",
            "请选择账户性质",
        )
    )
    for name in ("permit_no", "bank_branch", "account_name", "note"):
        v[name] = errors.run(lambda name=name: _text(get(name), p + name, _CAPS[name]))
    number = get("account_no")
    if isinstance(number, str):
        number = re.sub(r"\s+", "", number)
    v["account_no"] = errors.run(lambda: _text(number, p + "account_no", _CAPS["account_no"]))
    v["division_code"] = errors.run(lambda: _division(get("division_code"), p + "division_code"))
    v["bank_category"] = errors.run(
        lambda: _code(
            get("bank_category"),
            p + "bank_category",
            BANK_CATEGORIES,
            "bank_category.unknown",
            "请选择银行行别",
        )
    )
    currency = get("currency")
    currency = currency.strip() if isinstance(currency, str) else currency
    # 币种 offers only 人民币; the column refuses anything else, even in a draft.
    if currency not in (None, "", CURRENCY_CNY):
        errors.add("deposit_account.currency", "币种只能选择人民币", p + "currency")
    v["currency"] = CURRENCY_CNY
    for name in ("issue_date", "opened_on", "changed_on", "registered_on"):
        v[name] = errors.run(lambda name=name: _date(get(name), p + name))
    for name, default in (
        ("preferred_tax_account", True),
        ("general_refund_account", True),
        ("export_refund_account", False),
    ):
        v[name] = errors.run(lambda name=name, default=default: _flag(get(name), p + name, default))
        if v[name] is None:
            v[name] = default
    confirmed = errors.run(
        lambda: _flag(get("account_no_confirmed"), p + "account_no_confirmed", False)
    )
    account_id = errors.run(lambda: _account_id(get("account_id"), p + "account_id"))
    return _Row(index=index, account_id=account_id, values=v, account_no_confirmed=bool(confirmed))


# --------------------------------------------------------------------------- saving


def _check_submitted_row(
    row: _Row, *, saved: DepositAccount | None, person: Person, today: date, errors: _Errors
) -> None:
    """The checks of 提交 for one row that is (or stays) an account in force."""
    p = f"accounts.{row.index}."
    v = row.values
    if saved is None and v["operation_type"] != "add":
        errors.add(
            "deposit_account.not_saved",
            "只能变更或删除已提交的账户，新账户请选择新增",
            p + "operation_type",
        )
    for name, (label, verb) in _REQUIRED.items():
        if v.get(name) is None and not any(e.field == p + name for e in errors.items):
            errors.add("deposit_account.required", f"{verb}{label}", p + name)
    if v["account_name"] is not None and v["account_name"] != person.name.strip():
        errors.add(
            "deposit_account.name_mismatch", "账户名称必须与退费人名称一致", p + "account_name"
        )
    if v["account_no"] is not None:
        # A number already accepted on an earlier submission was confirmed then.
        unchanged = saved is not None and saved.account_no == v["account_no"]
        confirmed = row.account_no_confirmed or unchanged
        checked = errors.run(
            lambda: identity.check_bank_account(
                v["account_no"], confirmed=confirmed, field=p + "account_no"
            )
        )
        if checked is not None:
            v["account_no"] = checked
    if v["opened_on"] is not None and v["opened_on"] > today:
        errors.add("deposit_account.opened_on_future", "开户日期不能晚于今天", p + "opened_on")
    changed_on = v["changed_on"]
    if changed_on is not None:
        if changed_on > today:
            errors.add(
                "deposit_account.changed_on_future", "变更日期不能晚于今天", p + "changed_on"
            )
        elif v["opened_on"] is not None and changed_on < v["opened_on"]:
            errors.add(
                "deposit_account.changed_on_before_opened",
                "变更日期不能早于开户日期",
                p + "changed_on",
            )
    if saved is not None and changed_on is None and _key_fields_changed(saved, v):
        errors.add("deposit_account.change_date_required", CHANGE_DATE_HINT, p + "changed_on")


def _key_fields_changed(saved: DepositAccount, values: Mapping[str, Any]) -> bool:
    return any((getattr(saved, name) or None) != values.get(name) for name in _KEY_FIELDS)


def _check_header(
    *, handler_name: str | None, report_date: date | None, today: date, errors: _Errors
) -> None:
    if handler_name is None:
        errors.add("deposit_account_report.handler_required", "请填写经办人", "handler_name")
    if report_date is None:
        errors.add("deposit_account_report.report_date_required", "请选择报告日期", "report_date")
    elif report_date > today:
        errors.add(
            "deposit_account_report.report_date_future", "报告日期不能晚于今天", "report_date"
        )


def save_report(
    session: Session,
    *,
    person_id: int,
    report_id: int | None = None,
    handler_name: object,
    report_date: object,
    business_address: object = None,
    report_unit: object = None,
    accounts: Sequence[Mapping[str, Any]],
    submit: bool,
    at: datetime,
    today: date,
) -> Report:
    """暂存 (``submit=False``) or 提交 (``submit=True``) a report; returns it as saved.

    ``report_id=None`` starts a new report; otherwise the person's report is updated. Each
    entry of ``accounts`` is a row as the form has it; a row carrying ``account_id`` edits
    that saved row of this report, a row without one is new.

    A draft's rows are replaced by the rows sent. A submitted report can only be submitted
    again (409 ``deposit_account_report.already_submitted`` for 暂存): its accounts may back
    applications, so every account in force must be sent again, and removing one is done by
    setting its 操作类型 to 删除 (the account is then retired, not erased). For a deleted
    row only 操作类型, 变更日期 and 备注 are taken.

    Raises :class:`ReportInvalid` (422) listing every problem, with fields such as
    ``"accounts.0.account_name"``; ``NotFound`` for a report that is not the person's.
    """
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person.not_found", "缴费人不存在")
    report = None
    if report_id is not None:
        report = _owned_report(session, person_id=person_id, report_id=report_id, lock=True)
        if report.state == SUBMITTED and not submit:
            raise Conflict(
                "deposit_account_report.already_submitted",
                "报告已提交，修改后请直接点击提交",
                "submit",
            )
    if not isinstance(accounts, Sequence) or isinstance(accounts, str | bytes):
        raise Invalid("deposit_account.rows_invalid", "银行账户信息格式不正确", "accounts")
    if len(accounts) > MAX_ROWS:
        raise Invalid("deposit_account.too_many_rows", f"银行账户信息最多{MAX_ROWS}条", "accounts")

    errors = _Errors()
    rows = []
    for i, raw in enumerate(accounts):
        if isinstance(raw, Mapping):
            rows.append(_parse_row(i, raw, errors))
        else:
            errors.add("deposit_account.row_invalid", "银行账户信息格式不正确", f"accounts.{i}")
    header = {
        name: errors.run(lambda name=name, value=value: _text(value, name, _CAPS[name]))
        for name, value in (
            ("handler_name", handler_name),
            ("business_address", business_address),
            ("report_unit", report_unit),
        )
    }
    header["report_date"] = errors.run(lambda: _date(report_date, "report_date"))

    submitted_before = report is not None and report.state == SUBMITTED
    saved_rows = {r.id: r for r in report.accounts} if report is not None else {}
    in_force = {i: r for i, r in saved_rows.items() if submitted_before and _in_force(r, SUBMITTED)}
    referenced = _match_saved_rows(rows, saved_rows, errors)
    if submitted_before:
        _check_resubmission(
            rows, saved_rows=saved_rows, in_force=in_force, referenced=referenced, errors=errors
        )
    for row in rows:
        saved = in_force.get(row.account_id) if row.account_id else None
        # A submitted number is shown masked, so it comes back masked or empty: keep it.
        if saved is not None and row.values["account_no"] in (
            None,
            identity.mask_account(saved.account_no),
        ):
            row.values["account_no"] = saved.account_no

    if submit:
        if not rows and not errors.items:
            errors.add("deposit_account.rows_required", "请至少添加一条银行账户信息", "accounts")
        for row in rows:
            if _deletes_saved_account(row, saved_rows, submitted_before):
                continue  # deleting a saved account needs nothing more
            saved = in_force.get(row.account_id) if row.account_id else None
            _check_submitted_row(row, saved=saved, person=person, today=today, errors=errors)
        _check_header(
            handler_name=header["handler_name"],
            report_date=header["report_date"],
            today=today,
            errors=errors,
        )
    errors.raise_if_any()

    if report is None:
        report = DepositAccountReport(person_id=person_id, state=DRAFT, created_at=at)
        session.add(report)
    for name, value in header.items():
        setattr(report, name, value)
    kept = [
        _store_row(
            row,
            saved_rows=saved_rows,
            in_force=in_force,
            person_id=person_id,
            submitted_before=submitted_before,
        )
        for row in rows
    ]
    if submitted_before:
        # Retired rows stay on record, after the rows sent.
        kept += [a for a in saved_rows.values() if a.id not in referenced]
    for position, account in enumerate(kept):
        account.position = position
        if submit and account.operation_type == "delete":
            account.retired = True
    report.accounts = kept  # a draft's rows left out are removed (delete-orphan)
    if submit:
        report.state = SUBMITTED
        report.submitted_at = at
    session.flush()
    return _report_view(report)


def _match_saved_rows(
    rows: Sequence[_Row], saved_rows: Mapping[int, DepositAccount], errors: _Errors
) -> set[int]:
    """Check that each ``account_id`` names a row of this report, once; return those named."""
    referenced: set[int] = set()
    for row in rows:
        if row.account_id is None:
            continue
        field = f"accounts.{row.index}.account_id"
        if row.account_id not in saved_rows:
            errors.add("deposit_account.not_found", "账户不存在", field)
            row.account_id = None
        elif row.account_id in referenced:
            errors.add("deposit_account.duplicate_row", "同一账户不能出现两次", field)
            row.account_id = None
        else:
            referenced.add(row.account_id)
    return referenced


def _check_resubmission(
    rows: Sequence[_Row],
    *,
    saved_rows: Mapping[int, DepositAccount],
    in_force: Mapping[int, DepositAccount],
    referenced: set[int],
    errors: _Errors,
) -> None:
    """A submitted report's accounts may back applications: none may vanish silently, and a
    deleted one stays deleted."""
    if set(in_force) - referenced:
        errors.add(
            "deposit_account.row_missing",
            "已提交的账户不能直接移除，请将操作类型改为删除后提交",
            "accounts",
        )
    for row in rows:
        retired = row.account_id is not None and row.account_id not in in_force
        if retired and row.values["operation_type"] != "delete":
            errors.add(
                "deposit_account.retired",
                "该账户已删除，不能再修改",
                f"accounts.{row.index}.operation_type",
            )


def _deletes_saved_account(
    row: _Row, saved_rows: Mapping[int, DepositAccount], submitted_before: bool
) -> bool:
    return (
        row.values["operation_type"] == "delete"
        and submitted_before
        and row.account_id in saved_rows
    )


def _store_row(
    row: _Row,
    *,
    saved_rows: Mapping[int, DepositAccount],
    in_force: Mapping[int, DepositAccount],
    person_id: int,
    submitted_before: bool,
) -> DepositAccount:
    saved = saved_rows.get(row.account_id) if row.account_id else None
    if saved is None:
        account = DepositAccount(person_id=person_id, retired=False)
        _assign(account, row.values)
        return account
    if _deletes_saved_account(row, saved_rows, submitted_before):
        # The account's details stay as they were registered; only the deletion is recorded.
        saved.operation_type = "delete"
        saved.changed_on = row.values["changed_on"] or saved.changed_on
        saved.note = row.values["note"]
        return saved
    if (
        saved.id in in_force
        and row.values["operation_type"] == "add"
        and _key_fields_changed(saved, row.values)
    ):
        row.values["operation_type"] = "change"
    _assign(saved, row.values)
    return saved


def _assign(account: DepositAccount, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(account, name, value)
