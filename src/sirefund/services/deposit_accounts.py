"""存款账户账号报告: the deposit account report a person files before a medical refund.

A report holds the handler (经办人, may differ from the refund person), the report date and
one row per bank account. 暂存 saves a draft, incomplete rows allowed (what a row holds is
checked all the same: name, number, dates); 提交 validates every
required field of every row and puts the accounts in force. A submitted report is updated by
submitting it again: a row keeps its ``account_id`` from one save to the next, so a change of
a saved account (开户银行, 账户名称, 账号, 银行开户登记证号) is recognised and needs 变更日期, and
a row whose 操作类型 is 删除 retires its account. Retired accounts stay in the report for the
record and remain referenced by the applications that used them.

:func:`save_report` takes the one input model of the use case, :class:`ReportIn` (built by
the API from JSON and by the pages from form data), so types and lengths are already checked;
what is left here are the rules a field alone cannot state (known codes, 提交's required
fields, the account name, rows of a submitted report). Every such problem of a save is
reported at once through :class:`FormInvalid` (``errors``, each with a field such as
``"accounts.1.account_no"``); the exception itself carries the first one, which is what the
API answers. Results are frozen dataclasses; the API answers with them as they are (their
``Field`` annotations document /openapi.json, like the input models').
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..domain import identity, regions
from ..domain.audit import AuditAction
from ..domain.errors import Conflict, DomainError, Invalid, NotFound
from ..domain.rules import (
    ACCOUNT_NATURES,
    BANK_CATEGORIES,
    CURRENCIES,
    CURRENCY_CNY,
    DEPOSIT_OPERATION_TYPES,
)
from ..models import DepositAccount, DepositAccountReport, Person
from . import audit, risk
from .bank_details import input_config


class ReportState(StrEnum):
    DRAFT = "draft"  # 暂存
    SUBMITTED = "submitted"  # 已提交


DRAFT = ReportState.DRAFT
SUBMITTED = ReportState.SUBMITTED
STATE_LABELS = {DRAFT: "暂存", SUBMITTED: "已提交"}

MAX_ROWS = 20
ADD, CHANGE, DELETE = "add", "change", "delete"
#: Longest account number the column holds, once the spaces people type are removed.
ACCOUNT_NO_MAX = 32
BIGINT_MAX = 2**63 - 1

#: The manual's hint under the report form, shown when 变更日期 is missing.
CHANGE_DATE_HINT = (
    "如果修改已保存的银行账户相关信息（银行开户登记证号、开户银行、账户名称、账号），请填写变更日期"
)

# Fields whose change on a saved account needs 变更日期 (the manual's hint lists them).
_KEY_FIELDS = ("permit_no", "bank_branch", "account_name", "account_no")

_SIX_DIGITS = re.compile(r"[1-9][0-9]{5}")

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

# Optional capped strings: a longer value is a 422 naming the field, never a database error.
# The caps follow the columns of models.DepositAccount / DepositAccountReport.
Str3 = Annotated[str | None, StringConstraints(max_length=3)]
Str6 = Annotated[str | None, StringConstraints(max_length=6)]
Str10 = Annotated[str | None, StringConstraints(max_length=10)]
Str40 = Annotated[str | None, StringConstraints(max_length=40)]
Str50 = Annotated[str | None, StringConstraints(max_length=50)]
Str100 = Annotated[str | None, StringConstraints(max_length=100)]
Str200 = Annotated[str | None, StringConstraints(max_length=200)]


# --------------------------------------------------------------------------- input


class AccountRowIn(BaseModel):
    """One 银行账户信息 row. All optional for 暂存; 提交 requires the starred fields."""

    model_config = ConfigDict(extra="forbid")

    account_id: int | None = Field(
        default=None,
        ge=1,
        le=BIGINT_MAX,
        description="已保存的行的编号（修改、变更或删除时带上）；新行不填",
    )
    operation_type: Literal["add", "change", "delete"] = Field(
        default="add", description="*操作类型：add 新增 / change 变更 / delete 删除"
    )
    account_nature: Str10 = Field(
        default=None, description="*账户性质代码，如 1110 基本存款账户", examples=["1110"]
    )
    permit_no: Str40 = Field(default=None, description="银行开户登记证号（个人可不填）")
    issue_date: date | None = Field(default=None, description="*发放日期", examples=["2026-03-10"])
    division_code: Str6 = Field(
        default=None, description="*行政区划（开户行所在地，GB/T 2260）", examples=["420700"]
    )
    bank_category: Str6 = Field(default=None, description="*银行行别", examples=["103"])
    bank_branch: Str100 = Field(
        default=None, description="*开户银行", examples=["中国农业银行股份有限公司鄂州鄂城支行"]
    )
    account_name: Str100 = Field(
        default=None, description="*账户名称：必须与退费人名称一致", examples=["邱世贵"]
    )
    account_no: Str40 = Field(
        default=None,
        description="*账号；已提交的行可留空或原样带回脱敏值以保留原账号",
        examples=["6228480402564890018"],
    )
    account_no_confirmed: bool = Field(default=False, description="银联卡号未通过校验时确认无误")
    currency: Str3 = Field(default="156", description="*币种：只能为 156 人民币元")
    preferred_tax_account: bool = Field(default=True, description="*首选缴税账户标识")
    general_refund_account: bool = Field(default=True, description="*一般退税账户标识")
    export_refund_account: bool = Field(default=False, description="出口退税账户标识")
    opened_on: date | None = Field(default=None, description="*开户日期", examples=["2020-01-01"])
    changed_on: date | None = Field(
        default=None,
        description="变更日期：修改已保存账户的开户银行、账户名称、账号或银行开户登记证号时必填",
    )
    registered_on: date | None = Field(default=None, description="注册日期")
    note: Str200 = Field(default=None, description="备注")


_REPORT_EXAMPLE: dict[str, Any] = {
    "handler_name": "邱世贵",
    "report_date": "2026-03-10",
    "business_address": None,
    "report_unit": None,
    "submit": True,
    "accounts": [
        {
            "operation_type": "add",
            "account_nature": "1110",
            "issue_date": "2026-03-10",
            "division_code": "420700",
            "bank_category": "103",
            "bank_branch": "中国农业银行股份有限公司鄂州鄂城支行",
            "account_name": "邱世贵",
            "account_no": "6228480402564890018",
            "currency": "156",
            "preferred_tax_account": True,
            "general_refund_account": True,
            "export_refund_account": False,
            "opened_on": "2026-03-10",
        }
    ],
}


class ReportIn(BaseModel):
    """社会保险费缴费人存款账户账号报告: ``submit`` false = 暂存, true = 提交."""

    model_config = input_config(_REPORT_EXAMPLE)

    handler_name: Str50 = Field(default=None, description="*经办人（可与退费人不一致）")
    report_date: date | None = Field(default=None, description="*报告日期")
    business_address: Str200 = Field(default=None, description="经营地址")
    report_unit: Str100 = Field(default=None, description="报告单位")
    accounts: list[AccountRowIn] = Field(
        default_factory=list, max_length=MAX_ROWS, description="银行账户信息"
    )
    submit: bool = Field(
        default=False, description="false 暂存（可不完整）/ true 提交（校验全部必填项）"
    )


# --------------------------------------------------------------------------- results


class FormInvalid(Invalid):
    """Every problem of one form at once. Code, message and field are those of the first."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = list(errors)


@dataclass(frozen=True)
class AccountRow:
    """One 银行账户信息 row as the owner sees it.

    ``account_no`` is the full number only while the report is a draft (the person is still
    typing it); once submitted only ``account_no_masked`` is shown, and a save that leaves
    the number empty (or sends the masked value back) keeps the saved number.
    """

    account_id: int
    position: int
    operation_type: Annotated[str, Field(examples=["add"])]
    operation_type_label: Annotated[str, Field(examples=["新增"])]
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
    account_no: Annotated[str | None, Field(description="完整账号，仅暂存的报告返回")]
    account_no_masked: str
    currency: Annotated[str, Field(examples=["156"])]
    currency_label: Annotated[str, Field(examples=["人民币元"])]
    preferred_tax_account: bool
    general_refund_account: bool
    export_refund_account: bool
    opened_on: date | None
    changed_on: date | None
    registered_on: date | None
    note: str | None
    retired: Annotated[bool, Field(description="已删除（不再可用于退费）")]
    in_force: Annotated[bool, Field(description="已提交且未删除，可用于退费")]


@dataclass(frozen=True)
class Report:
    report_id: Annotated[int, Field(examples=[5])]
    state: Annotated[ReportState, Field(examples=["submitted"])]
    state_label: Annotated[str, Field(examples=["已提交"])]
    handler_name: str | None
    report_date: date | None
    business_address: str | None
    report_unit: str | None
    created_at: datetime
    submitted_at: datetime | None
    accounts: list[AccountRow]


@dataclass(frozen=True)
class SubmittedAccount:
    """An account in force: what the refund form offers (选择银行账户信息)."""

    account_id: Annotated[int, Field(examples=[12])]
    report_id: Annotated[int, Field(examples=[5])]
    account_nature: Annotated[str | None, Field(description="账户性质代码", examples=["1110"])]
    account_nature_label: Annotated[str | None, Field(examples=["基本存款账户"])]
    bank_category: Annotated[str | None, Field(description="银行行别", examples=["103"])]
    bank_category_label: Annotated[str | None, Field(examples=["中国农业银行"])]
    bank_branch: Annotated[
        str | None,
        Field(description="开户银行", examples=["中国农业银行股份有限公司鄂州鄂城支行"]),
    ]
    account_name: Annotated[str | None, Field(description="账户名称", examples=["邱世贵"])]
    account_no_masked: Annotated[
        str, Field(description="账号（脱敏）", examples=["***************0018"])
    ]
    division_code: Annotated[str | None, Field(description="开户行行政区划", examples=["420700"])]
    division_name: Annotated[str | None, Field(description="开户行所在地", examples=["鄂州市"])]
    opened_on: Annotated[date | None, Field(description="开户日期", examples=["2020-01-01"])]


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
    return report_state == SUBMITTED and not row.retired and row.operation_type != DELETE


def _report_view(report: DepositAccountReport) -> Report:
    return Report(
        report_id=report.id,
        state=ReportState(report.state),
        state_label=STATE_LABELS[ReportState(report.state)],
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


def _in_force_query(person_id: int) -> Select[DepositAccount]:
    return (
        select(DepositAccount)
        .join(DepositAccountReport, DepositAccount.report_id == DepositAccountReport.id)
        .where(
            DepositAccount.person_id == person_id,
            DepositAccountReport.person_id == person_id,
            DepositAccountReport.state == SUBMITTED,
            DepositAccount.retired.is_(False),
            DepositAccount.operation_type != DELETE,
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


# --------------------------------------------------------------------------- checking


def _blank(text: str | None) -> str | None:
    """Trimmed text, None when empty: a form sends "" for a field left empty."""
    return (text.strip() or None) if text is not None else None


@dataclass
class _Row:
    index: int
    account_id: int | None
    values: dict[str, Any]  # column -> value, assigned to the DepositAccount as they are
    account_no_confirmed: bool
    errors: list[DomainError]  # the whole form's, shared by its rows: reported at once

    def field(self, name: str) -> str:
        return f"accounts.{self.index}.{name}"

    def refuse(self, code: str, message: str, name: str) -> None:
        """Note a problem of this row's field ``name``."""
        self.errors.append(Invalid(code, message, self.field(name)))


def _row(index: int, raw: AccountRowIn, errors: list[DomainError]) -> _Row:
    """A row's column values, with the problems a single field shows (unknown codes, 币种)."""
    row = _Row(index, raw.account_id, {}, raw.account_no_confirmed, errors)
    refuse = row.refuse
    nature = _blank(raw.account_nature)
    if nature is not None and nature not in ACCOUNT_NATURES:
        refuse("deposit_account.account_nature", "请选择账户性质", "account_nature")
        nature = None
    number = _blank(re.sub(r"\s+", "", raw.account_no)) if raw.account_no is not None else None
    if number is not None and len(number) > ACCOUNT_NO_MAX:
        refuse("deposit_account.too_long", f"内容不能超过{ACCOUNT_NO_MAX}个字符", "account_no")
        number = None
    division = _blank(raw.division_code)
    # Accounts may be opened outside Hubei, so any well-formed GB/T 2260 code is accepted;
    # known Hubei codes are also shown by name.
    if division is not None and not (
        regions.is_known_hubei_division(division) or _SIX_DIGITS.fullmatch(division)
    ):
        refuse("deposit_account.division_code", "请选择行政区划", "division_code")
        division = None
    bank = _blank(raw.bank_category)
    if bank is not None and bank not in BANK_CATEGORIES:
        refuse("bank_category.unknown", "请选择银行行别", "bank_category")
        bank = None
    # 币种 offers only 人民币; the column refuses anything else, even in a draft.
    if _blank(raw.currency) not in (None, CURRENCY_CNY):
        refuse("deposit_account.currency", "币种只能选择人民币", "currency")
    row.values = {
        "operation_type": raw.operation_type,
        "account_nature": nature,
        "permit_no": _blank(raw.permit_no),
        "bank_branch": _blank(raw.bank_branch),
        "account_name": _blank(raw.account_name),
        "note": _blank(raw.note),
        "account_no": number,
        "division_code": division,
        "bank_category": bank,
        "currency": CURRENCY_CNY,
        "issue_date": raw.issue_date,
        "opened_on": raw.opened_on,
        "changed_on": raw.changed_on,
        "registered_on": raw.registered_on,
        "preferred_tax_account": raw.preferred_tax_account,
        "general_refund_account": raw.general_refund_account,
        "export_refund_account": raw.export_refund_account,
    }
    return row


# --------------------------------------------------------------------------- saving


def _check_submitted_row(
    row: _Row, *, saved: DepositAccount | None, person: Person, today: date
) -> None:
    """The checks of 提交 for one row that is (or stays) an account in force."""
    v, refuse = row.values, row.refuse
    if saved is None and v["operation_type"] != ADD:
        refuse(
            "deposit_account.not_saved",
            "只能变更或删除已提交的账户，新账户请选择新增",
            "operation_type",
        )
    for name, (label, verb) in _REQUIRED.items():
        if v.get(name) is None and not any(e.field == row.field(name) for e in row.errors):
            refuse("deposit_account.required", f"{verb}{label}", name)
    _check_filled_row(row, saved=saved, person=person, today=today)
    if saved is not None and v["changed_on"] is None and _key_fields_changed(saved, v):
        refuse("deposit_account.change_date_required", CHANGE_DATE_HINT, "changed_on")


def _check_filled_row(
    row: _Row, *, saved: DepositAccount | None, person: Person, today: date
) -> None:
    """The checks of what a row has filled in — at 暂存 as at 提交 (a draft may leave fields
    empty, but what it holds must be right): the account name, the number, the dates."""
    v, refuse = row.values, row.refuse
    if v["account_name"] is not None and v["account_name"] != person.name.strip():
        refuse("deposit_account.name_mismatch", "账户名称必须与退费人名称一致", "account_name")
    if v["account_no"] is not None:
        # A number already accepted on an earlier submission was confirmed then.
        unchanged = saved is not None and saved.account_no == v["account_no"]
        try:
            v["account_no"] = identity.check_bank_account(
                v["account_no"],
                confirmed=row.account_no_confirmed or unchanged,
                field=row.field("account_no"),
            )
        except DomainError as exc:
            row.errors.append(exc)
    if v["opened_on"] is not None and v["opened_on"] > today:
        refuse("deposit_account.opened_on_future", "开户日期不能晚于今天", "opened_on")
    changed_on = v["changed_on"]
    if changed_on is not None:
        if changed_on > today:
            refuse("deposit_account.changed_on_future", "变更日期不能晚于今天", "changed_on")
        elif v["opened_on"] is not None and changed_on < v["opened_on"]:
            refuse(
                "deposit_account.changed_on_before_opened", "变更日期不能早于开户日期", "changed_on"
            )


def _check_draft_rows(rows: Sequence[_Row], *, person: Person, today: date) -> None:
    """暂存 (issue 10, part 9): incomplete rows are kept, wrong ones are not."""
    for row in rows:
        if row.values["operation_type"] != DELETE:
            _check_filled_row(row, saved=None, person=person, today=today)


def _key_fields_changed(saved: DepositAccount, values: Mapping[str, Any]) -> bool:
    return any((getattr(saved, name) or None) != values.get(name) for name in _KEY_FIELDS)


def _check_header(
    *, handler_name: str | None, report_date: date | None, today: date
) -> list[DomainError]:
    errors: list[DomainError] = []
    if handler_name is None:
        errors.append(
            Invalid("deposit_account_report.handler_required", "请填写经办人", "handler_name")
        )
    if report_date is None:
        errors.append(
            Invalid("deposit_account_report.report_date_required", "请选择报告日期", "report_date")
        )
    elif report_date > today:
        errors.append(
            Invalid(
                "deposit_account_report.report_date_future", "报告日期不能晚于今天", "report_date"
            )
        )
    return errors


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person.not_found", "缴费人不存在")
    return person


def save_report(
    session: Session,
    *,
    person_id: int,
    report_id: int | None = None,
    report_in: ReportIn,
    at: datetime,
    today: date,
) -> Report:
    """暂存 (``submit`` false) or 提交 (``submit`` true) a report; returns it as saved.

    ``report_id=None`` starts a new report; otherwise the person's report is updated. A row
    carrying ``account_id`` edits that saved row of this report, a row without one is new.

    A draft's rows are replaced by the rows sent. A submitted report can only be submitted
    again (409 ``deposit_account_report.already_submitted`` for 暂存): its accounts may back
    applications, so every account in force must be sent again, and removing one is done by
    setting its 操作类型 to 删除 (the account is then retired, not erased). For a deleted
    row only 操作类型, 变更日期 and 备注 are taken.

    Raises :class:`FormInvalid` (422) listing every problem, with fields such as
    ``"accounts.0.account_name"``; ``NotFound`` for a report that is not the person's.
    """
    submit = report_in.submit
    person = _person(session, person_id)
    report = (
        None
        if report_id is None
        else _owned_report(session, person_id=person_id, report_id=report_id, lock=True)
    )
    if report is not None and report.state == SUBMITTED and not submit:
        raise Conflict(
            "deposit_account_report.already_submitted", "报告已提交，修改后请直接点击提交", "submit"
        )

    errors: list[DomainError] = []
    rows = [_row(i, raw, errors) for i, raw in enumerate(report_in.accounts)]
    handler_name = _blank(report_in.handler_name)
    header: dict[str, object] = {
        "handler_name": handler_name,
        "business_address": _blank(report_in.business_address),
        "report_unit": _blank(report_in.report_unit),
        "report_date": report_in.report_date,
    }

    submitted_before = report is not None and report.state == SUBMITTED
    saved_rows = {r.id: r for r in report.accounts} if report is not None else {}
    in_force = {i: r for i, r in saved_rows.items() if submitted_before and _in_force(r, SUBMITTED)}
    referenced = _match_saved_rows(rows, saved_rows, errors)
    if submitted_before:
        _check_resubmission(
            rows, saved_rows=saved_rows, in_force=in_force, referenced=referenced, errors=errors
        )
    _keep_saved_numbers(rows, in_force)
    if submit:
        if not rows and not errors:
            errors.append(
                Invalid("deposit_account.rows_required", "请至少添加一条银行账户信息", "accounts")
            )
        for row in rows:
            if not _deletes_saved_account(row, saved_rows, submitted_before):
                # Deleting a saved account needs nothing more; every other row is checked.
                saved = in_force.get(row.account_id) if row.account_id else None
                _check_submitted_row(row, saved=saved, person=person, today=today)
        errors += _check_header(
            handler_name=handler_name, report_date=report_in.report_date, today=today
        )
    else:
        _check_draft_rows(rows, person=person, today=today)
    if errors:
        raise FormInvalid(errors)

    report = report or DepositAccountReport(person_id=person_id, state=DRAFT, created_at=at)
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
        account.retired = account.retired or (submit and account.operation_type == DELETE)
    report.accounts = kept  # a draft's rows left out are removed (delete-orphan)
    if submit:
        report.state = SUBMITTED
        report.submitted_at = at
    session.flush()
    _reassess_on_change(session, person_id=person_id, changed=submit and submitted_before, at=at)
    audit.record(
        session,
        actor=audit.Actor.person(person_id),
        action=AuditAction.DEPOSIT_ACCOUNT_SAVE,
        at=at,
        subject=audit.Subject(person_id=person_id),
        details={
            "report_id": report.id,
            "state": report.state,
            # Which accounts and what was done to them; the numbers only as their last four.
            "accounts": [
                {
                    "id": a.id,
                    "operation": a.operation_type,
                    "account_no_last4": (a.account_no or "")[-4:],
                    "retired": bool(a.retired),
                }
                for a in kept
            ],
        },
    )
    return _report_view(report)


def _reassess_on_change(session: Session, *, person_id: int, changed: bool, at: datetime) -> None:
    """A resubmitted report changed the accounts: the person's pending medical refunds get
    their 风险提示 assessed again."""
    if changed:
        risk.assess_person_medical(session, person_id=person_id, at=at)


def _keep_saved_numbers(rows: Sequence[_Row], in_force: Mapping[int, DepositAccount]) -> None:
    """A submitted number is shown masked, so it comes back masked or empty: keep it."""
    for row in rows:
        saved = in_force.get(row.account_id) if row.account_id else None
        if saved is not None and row.values["account_no"] in (
            None,
            identity.mask_account(saved.account_no),
        ):
            row.values["account_no"] = saved.account_no


def _match_saved_rows(
    rows: Sequence[_Row], saved_rows: Mapping[int, DepositAccount], errors: list[DomainError]
) -> set[int]:
    """Check that each ``account_id`` names a row of this report, once; return those named."""
    referenced: set[int] = set()
    for row in rows:
        if row.account_id is None:
            continue
        field = row.field("account_id")
        if row.account_id not in saved_rows:
            errors.append(Invalid("deposit_account.not_found", "账户不存在", field))
            row.account_id = None
        elif row.account_id in referenced:
            errors.append(Invalid("deposit_account.duplicate_row", "同一账户不能出现两次", field))
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
    errors: list[DomainError],
) -> None:
    """A submitted report's accounts may back applications: none may vanish silently, and a
    deleted one stays deleted."""
    if set(in_force) - referenced:
        errors.append(
            Invalid(
                "deposit_account.row_missing",
                "已提交的账户不能直接移除，请将操作类型改为删除后提交",
                "accounts",
            )
        )
    for row in rows:
        retired = row.account_id is not None and row.account_id not in in_force
        if retired and row.values["operation_type"] != DELETE:
            errors.append(
                Invalid(
                    "deposit_account.retired",
                    "该账户已删除，不能再修改",
                    row.field("operation_type"),
                )
            )


def _deletes_saved_account(
    row: _Row, saved_rows: Mapping[int, DepositAccount], submitted_before: bool
) -> bool:
    return (
        row.values["operation_type"] == DELETE and submitted_before and row.account_id in saved_rows
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
        saved.operation_type = DELETE
        saved.changed_on = row.values["changed_on"] or saved.changed_on
        saved.note = row.values["note"]
        return saved
    if (
        saved.id in in_force
        and row.values["operation_type"] == ADD
        and _key_fields_changed(saved, row.values)
    ):
        row.values["operation_type"] = CHANGE
    _assign(saved, row.values)
    return saved


def _assign(account: DepositAccount, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(account, name, value)
