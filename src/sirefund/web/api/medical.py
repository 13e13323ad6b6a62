"""API routes: 城乡居民基本医疗保险退费 and 存款账户账号报告, for persons (api.md "Medical, person").

Routes only translate HTTP to service calls: the transaction is opened here, the rules are in
services/medical.py and services/deposit_accounts.py. Another person's registration, payment,
report or application answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from ...services import deposit_accounts, medical
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid
from ...services.paging import paginate
from ..deps import Clock, CurrentPerson, Db, DbSession
from ..errors import error_body
from ..idempotency import run_idempotent
from .params import ApplicationId, PageNo, PageSize
from .refund_schemas import ApplicationOut, EventOut, Page, error_responses

router = APIRouter(tags=["medical"])

ReportId = Annotated[int, Path(ge=1, le=2**63 - 1, description="存款账户账号报告编号")]
InsuranceYear = Annotated[
    int | None,
    Query(
        description="参保年度：9月1日至次年8月31日为一个年度（2023年9月1日至2024年8月31日为2024）；"
        "不填为当前参保年度；仅支持2023年及以后",
        examples=[2026],
    ),
]

# Optional capped strings: a longer value is a 422 naming the field, never a database error.
Str3 = Annotated[str | None, StringConstraints(max_length=3)]
Str6 = Annotated[str | None, StringConstraints(max_length=6)]
Str10 = Annotated[str | None, StringConstraints(max_length=10)]
Str20 = Annotated[str | None, StringConstraints(max_length=20)]
Str24 = Annotated[str | None, StringConstraints(max_length=24)]
Str40 = Annotated[str | None, StringConstraints(max_length=40)]
Str50 = Annotated[str | None, StringConstraints(max_length=50)]
Str100 = Annotated[str | None, StringConstraints(max_length=100)]
Str200 = Annotated[str | None, StringConstraints(max_length=200)]
Str500 = Annotated[str | None, StringConstraints(max_length=500)]


# --------------------------------------------------------------------------- models


class RegistrationOut(BaseModel):
    registration_id: str = Field(examples=["MR00000001"])
    agency_name: str = Field(
        description="社保经办机构名称 / 申报机构名称", examples=["武汉市医疗保障局(医疗)"]
    )
    agency_code: str = Field(description="申报机构代码", examples=["420100YB"])
    ss_code: str = Field(description="社保编码", examples=["S000000001"])


class MedicalPaymentOut(BaseModel):
    payment_id: str = Field(examples=["MP00000001"])
    registration_id: str = Field(examples=["MR00000001"])
    ticket_no: str = Field(description="票证号码", examples=["T0000000001"])
    item_name: str = Field(description="征收项目名称", examples=["城乡居民基本医疗保险费"])
    refund_amount: str = Field(
        description="退费金额 = 医疗金额 + 长护金额（元）", examples=["350.00"]
    )
    medical_amount: str = Field(description="医疗金额（元）", examples=["350.00"])
    ltc_amount: str = Field(description="长护金额（元），无则为 0.00", examples=["0.00"])
    period_start: date = Field(description="费款所属期起", examples=["2026-01-01"])
    period_end: date = Field(description="费款所属期止", examples=["2026-12-31"])
    payment_date: date = Field(description="缴费发生日期", examples=["2025-09-06"])
    insurance_year: int = Field(description="参保年度", examples=[2026])
    refundable: bool = Field(
        description="当前能否申请退费（无进行中或已成功的申请）", examples=[True]
    )
    application_id: int | None = Field(default=None, description="进行中的申请，否则最近一次申请")
    status: str | None = Field(default=None, examples=[None])
    refund_status_label: str = Field(description="退费状态", examples=["未申请"])
    review_status_label: str = Field(description="审核状态", examples=["—"])
    review_result_label: str = Field(description="审核结果", examples=["—"])


class MedicalPaymentPage(Page[MedicalPaymentOut]):
    insurance_year: int = Field(description="查询的参保年度", examples=[2026])
    registration: RegistrationOut | None = Field(description="所用的登记信息；无登记信息时为 null")
    payer_name: str = Field(description="缴费人", examples=["邱世贵"])
    id_number_masked: str = Field(description="证件号码（脱敏）", examples=["4****************5"])


class DepositAccountOut(BaseModel):
    account_id: int = Field(examples=[12])
    report_id: int = Field(examples=[5])
    account_nature: str | None = Field(description="账户性质代码", examples=["1110"])
    account_nature_label: str | None = Field(examples=["基本存款账户"])
    bank_category: str | None = Field(description="银行行别", examples=["103"])
    bank_category_label: str | None = Field(examples=["中国农业银行"])
    bank_branch: str | None = Field(
        description="开户银行", examples=["中国农业银行股份有限公司鄂州鄂城支行"]
    )
    account_name: str | None = Field(description="账户名称", examples=["邱世贵"])
    account_no_masked: str = Field(description="账号（脱敏）", examples=["***************0018"])
    division_code: str | None = Field(description="开户行行政区划", examples=["420700"])
    division_name: str | None = Field(description="开户行所在地", examples=["鄂州市"])
    opened_on: date | None = Field(description="开户日期", examples=["2020-01-01"])


class DepositAccountList(BaseModel):
    items: list[DepositAccountOut]
    total: int = Field(examples=[1])


class AccountRowIn(BaseModel):
    """One 银行账户信息 row. All optional for 暂存; 提交 requires the starred fields."""

    model_config = ConfigDict(extra="forbid")

    account_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
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


_REPORT_EXAMPLE = {
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

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_REPORT_EXAMPLE]})

    handler_name: Str50 = Field(default=None, description="*经办人（可与退费人不一致）")
    report_date: date | None = Field(default=None, description="*报告日期")
    business_address: Str200 = Field(default=None, description="经营地址")
    report_unit: Str100 = Field(default=None, description="报告单位")
    accounts: list[AccountRowIn] = Field(
        default_factory=list, max_length=deposit_accounts.MAX_ROWS, description="银行账户信息"
    )
    submit: bool = Field(
        default=False, description="false 暂存（可不完整）/ true 提交（校验全部必填项）"
    )


class AccountRowOut(BaseModel):
    account_id: int
    position: int
    operation_type: str = Field(examples=["add"])
    operation_type_label: str = Field(examples=["新增"])
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
    account_no: str | None = Field(description="完整账号，仅暂存的报告返回")
    account_no_masked: str
    currency: str = Field(examples=["156"])
    currency_label: str = Field(examples=["人民币元"])
    preferred_tax_account: bool
    general_refund_account: bool
    export_refund_account: bool
    opened_on: date | None
    changed_on: date | None
    registered_on: date | None
    note: str | None
    retired: bool = Field(description="已删除（不再可用于退费）")
    in_force: bool = Field(description="已提交且未删除，可用于退费")


class ReportOut(BaseModel):
    report_id: int = Field(examples=[5])
    state: Literal["draft", "submitted"] = Field(examples=["submitted"])
    state_label: str = Field(examples=["已提交"])
    handler_name: str | None
    report_date: date | None
    business_address: str | None
    report_unit: str | None
    created_at: datetime
    submitted_at: datetime | None
    accounts: list[AccountRowOut]


class ReportList(BaseModel):
    items: list[ReportOut]
    total: int


class MedicalRefundIn(BaseModel):
    """申请退费 of the ticked payments, with the chosen account, 办理人电话 and 退费理由."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payment_ids": ["MP00000001"],
                    "registration_id": "MR00000001",
                    "deposit_account_id": 12,
                    "handler_phone": "13812341234",
                    "reason_code": "duplicate_payment",
                    "reason_text": "",
                    "channel": "web",
                }
            ]
        },
    )

    payment_ids: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        max_length=medical.MAX_PAYMENTS_PER_APPLICATION, description="所选缴费记录；重复的只算一次"
    )
    registration_id: Str40 = Field(default=None, description="登记信息；只有一条登记信息时可不填")
    deposit_account_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="银行账户信息（GET /deposit-accounts）；只有一个时可不填",
    )
    handler_phone: Str20 = Field(default=None, description="*办理人电话", examples=["13812341234"])
    reason_code: Str24 = Field(
        default=None,
        description="*退费理由：duplicate_payment 重复缴费 / "
        "employee_insurance 已参加职工医保 / deceased 参保人死亡 / military 参军 / "
        "insured_elsewhere 在外地参保 / other 其他（须填写说明）",
    )
    reason_text: Str500 = Field(default=None, description="退费理由说明；选择“其他”时必填")
    channel: Literal["web", "mobile_app"] = Field(
        default="web", description="web 电子税务局 / mobile_app 楚税通"
    )


class MedicalApplicationOut(ApplicationOut):
    """A medical application with every column of 城乡居民医保社保费退费进度; result columns are
    null until the officer, the medical security bureau and the bank report them."""

    insurance_year: int = Field(description="参保年度", examples=[2026])
    refund_amount: str = Field(description="退费金额", examples=["350.00"])
    medical_amount: str | None = Field(description="医疗金额", examples=["350.00"])
    ltc_amount: str | None = Field(description="长护金额", examples=["0.00"])
    ticket_no: str | None = Field(description="票证号码")
    item_name: str | None = Field(description="征收项目名称", examples=["城乡居民基本医疗保险费"])
    registration_id: str | None = None
    agency_name: str | None = Field(description="社保经办机构", examples=["武汉市医疗保障局(医疗)"])
    deposit_account_id: int | None = None
    applied_at: str | None = Field(description="退费申请日期（ISO 8601）")
    applied_at_local: str = Field(
        description="退费申请日期（北京时间）", examples=["2026-03-10 17:30:00"]
    )
    reason: str | None = Field(description="申请理由", examples=["重复缴费"])
    reason_code: str | None = Field(default=None, examples=["duplicate_payment"])
    reason_text: str | None = None
    handler_phone_masked: str | None = Field(
        default=None, description="办理人电话（脱敏）", examples=["138****1234"]
    )
    tax_opinion: str | None = Field(description="税务机关意见")
    verification_result: str | None = Field(description="社保部门核验结果")
    verified_at: str | None = Field(description="社保部门核验时间")
    refund_date: str | None = Field(description="退费日期")
    bank_result: str | None = Field(description="银行退付结果")


class MedicalApplicationDetailOut(MedicalApplicationOut):
    history: list[EventOut] = Field(description="状态变化记录")


class MedicalApplicationsOut(BaseModel):
    applications: list[MedicalApplicationOut]


class MedicalProgressPage(Page[MedicalApplicationOut]):
    insurance_year: int = Field(description="查询的参保年度", examples=[2026])


# --------------------------------------------------------------------------- helpers


def _form_error(exc: FormInvalid) -> JSONResponse:
    """The contract's error (the first problem) plus every problem, so a client can mark
    each field of each row at once."""
    body = error_body(exc.code, exc.message, exc.field)
    body["error"]["errors"] = [
        {"code": e.code, "message": e.message, "field": e.field} for e in exc.errors
    ]
    return JSONResponse(body, status_code=exc.status)


def _run_idempotent_form(
    request: Request,
    *,
    db: Db,
    person: Principal,
    body: BaseModel,
    at: datetime,
    action: Callable[[Session], Any],
) -> Any:
    """run_idempotent for a creating POST whose body is a form: a FormInvalid answers every
    problem at once (see _form_error) instead of the plain contract error."""
    try:
        return run_idempotent(
            request,
            db=db,
            principal=person,
            body=body.model_dump(mode="json"),
            at=at,
            action=action,
        )
    except FormInvalid as exc:
        return _form_error(exc)


_FORM_ERRORS_NOTE = (
    "422 的 `error` 另带 `errors`：每个问题一项，字段名如 `accounts.0.account_name`"
    "（第1行的账户名称）。"
)


# --------------------------------------------------------------------------- payments


@router.get(
    "/medical/registrations",
    response_model=Page[RegistrationOut],
    summary="选择登记信息：本人的医保登记信息",
    responses=error_responses(401, 403, 422),
)
def list_registrations(
    person: CurrentPerson, db: DbSession, page: PageNo = 1, page_size: PageSize = 10
) -> dict:
    with db.begin() as session:
        regs = medical.list_registrations(session, person_id=person.account_id)
    return paginate([r.as_dict() for r in regs], page=page, page_size=page_size).as_dict()


@router.get(
    "/medical/payments",
    response_model=MedicalPaymentPage,
    summary="城乡居民医疗社保费(退费)：按参保年度查询可退费信息",
    description="参保年度不填为当前参保年度；2023年以前返回 422 `medical.year_unsupported`。"
    "有多条登记信息而未选择时返回 422 `medical.registration_required`（请选择登记信息）；"
    "他人的登记信息返回 404。",
    responses=error_responses(401, 403, 404, 422),
)
def list_payments(
    person: CurrentPerson,
    db: DbSession,
    clock: Clock,
    insurance_year: InsuranceYear = None,
    registration_id: Annotated[str | None, Query(max_length=40, description="登记信息编号")] = None,
    page: PageNo = 1,
    page_size: PageSize = 10,
) -> dict:
    with db.begin() as session:
        result = medical.list_payments(
            session,
            person_id=person.account_id,
            insurance_year=insurance_year,
            registration_id=registration_id,
            today=clock.today(),
        )  # type: ignore[attr-defined]
    rows = [row.as_dict() for row in result.items]
    body = paginate(rows, page=page, page_size=page_size).as_dict()
    body["insurance_year"] = result.insurance_year
    body["registration"] = result.registration.as_dict() if result.registration else None
    body["payer_name"] = result.payer_name
    body["id_number_masked"] = result.id_number_masked
    return body


# --------------------------------------------------------------------------- deposit accounts


@router.get(
    "/deposit-accounts",
    response_model=DepositAccountList,
    summary="本人已提交的存款账户（可用于医保退费）",
    description="为空时申请退费会返回 409 `deposit_account.missing`（未查询到存款账户报告信息）。",
    responses=error_responses(401, 403),
)
def list_deposit_accounts(person: CurrentPerson, db: DbSession) -> dict:
    with db.begin() as session:
        items = deposit_accounts.submitted_accounts(session, person_id=person.account_id)
    return {"items": [a.as_dict() for a in items], "total": len(items)}


@router.get(
    "/deposit-account-reports",
    response_model=ReportList,
    summary="本人的存款账户账号报告（最新在前）",
    responses=error_responses(401, 403),
)
def list_reports(person: CurrentPerson, db: DbSession) -> dict:
    with db.begin() as session:
        reports = deposit_accounts.list_reports(session, person_id=person.account_id)
    return {"items": [r.as_dict() for r in reports], "total": len(reports)}


@router.post(
    "/deposit-account-reports",
    status_code=201,
    response_model=ReportOut,
    summary="存款账户账号报告：暂存或提交（支持 Idempotency-Key）",
    description="`submit` 为 false 时暂存，可不完整；为 true 时校验每一行的全部必填项，账户名称必须与"
    "退费人名称一致，币种只能为 156。" + _FORM_ERRORS_NOTE,
    responses=error_responses(401, 403, 422),
)
def create_report(
    body: ReportIn, request: Request, person: CurrentPerson, db: DbSession, clock: Clock
):  # type: ignore[no-untyped-def]
    at, today = clock.now(), clock.today()  # type: ignore[attr-defined]

    def action(session):  # type: ignore[no-untyped-def]
        return _save(session, person.account_id, None, body, at, today)

    return _run_idempotent_form(request, db=db, person=person, body=body, at=at, action=action)


@router.get(
    "/deposit-account-reports/{report_id}",
    response_model=ReportOut,
    summary="一份存款账户账号报告（继续编辑暂存的报告）",
    responses=error_responses(401, 403, 404),
)
def get_report(report_id: ReportId, person: CurrentPerson, db: DbSession) -> dict:
    with db.begin() as session:
        return deposit_accounts.get_report(
            session, person_id=person.account_id, report_id=report_id
        ).as_dict()


@router.put(
    "/deposit-account-reports/{report_id}",
    response_model=ReportOut,
    summary="修改存款账户账号报告：暂存或提交",
    description="暂存的报告按所送的行整体替换。已提交的报告只能再次提交（暂存返回 409）：须带回每个"
    "有效账户（`account_id`），删除账户请把操作类型改为 delete；修改已保存账户的开户银行、账户名称、"
    "账号或银行开户登记证号须填写变更日期。" + _FORM_ERRORS_NOTE,
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_report(
    report_id: ReportId, body: ReportIn, person: CurrentPerson, db: DbSession, clock: Clock
):  # type: ignore[no-untyped-def]
    try:
        with db.begin() as session:
            return _save(session, person.account_id, report_id, body, clock.now(), clock.today())  # type: ignore[attr-defined]
    except FormInvalid as exc:
        return _form_error(exc)


def _save(
    session: Session,
    person_id: int,
    report_id: int | None,
    body: ReportIn,
    at: datetime,
    today: date,
) -> dict:
    report = deposit_accounts.save_report(
        session,
        person_id=person_id,
        report_id=report_id,
        handler_name=body.handler_name,
        report_date=body.report_date,
        business_address=body.business_address,
        report_unit=body.report_unit,
        accounts=[row.model_dump() for row in body.accounts],
        submit=body.submit,
        at=at,
        today=today,
    )
    return report.as_dict()


# --------------------------------------------------------------------------- refunds


@router.post(
    "/medical/refunds",
    status_code=201,
    response_model=MedicalApplicationsOut,
    summary="申请退费：每条所选缴费一条申请（支持 Idempotency-Key）",
    description="没有已提交的存款账户时返回 409 `deposit_account.missing`（未查询到存款账户报告信息），"
    "请先填写存款账户账号报告。退费金额 = 医疗金额 + 长护金额。已申请的返回 409 "
    "`application.already_applied`；他人的登记信息、缴费或账户返回 404。" + _FORM_ERRORS_NOTE,
    responses=error_responses(401, 403, 404, 409, 422),
)
def apply_refund(
    body: MedicalRefundIn, request: Request, person: CurrentPerson, db: DbSession, clock: Clock
):  # type: ignore[no-untyped-def]
    at, today = clock.now(), clock.today()  # type: ignore[attr-defined]

    def action(session):  # type: ignore[no-untyped-def]
        created = medical.apply(
            session, person_id=person.account_id, at=at, today=today, **body.model_dump()
        )
        return {"applications": created}

    return _run_idempotent_form(request, db=db, person=person, body=body, at=at, action=action)


@router.get(
    "/medical/refunds",
    response_model=MedicalProgressPage,
    summary="进度查询：城乡居民医保社保费退费进度",
    responses=error_responses(401, 403, 422),
)
def list_refunds(
    person: CurrentPerson,
    db: DbSession,
    clock: Clock,
    insurance_year: InsuranceYear = None,
    page: PageNo = 1,
    page_size: PageSize = 10,
) -> dict:
    today = clock.today()  # type: ignore[attr-defined]
    with db.begin() as session:
        rows = medical.progress(
            session, person_id=person.account_id, insurance_year=insurance_year, today=today
        )
    body = paginate(rows, page=page, page_size=page_size).as_dict()
    body["insurance_year"] = (
        insurance_year if insurance_year is not None else medical.default_year(today)
    )
    return body


@router.get(
    "/medical/refunds/{application_id}",
    response_model=MedicalApplicationDetailOut,
    summary="一条医保退费申请及其状态记录",
    responses=error_responses(401, 403, 404),
)
def get_refund(application_id: ApplicationId, person: CurrentPerson, db: DbSession) -> dict:
    with db.begin() as session:
        return medical.get_application(
            session, person_id=person.account_id, application_id=application_id
        )


@router.post(
    "/medical/refunds/{application_id}/cancel",
    response_model=MedicalApplicationOut,
    summary="撤销退费：仅待审核的申请",
    responses=error_responses(401, 403, 404, 409),
)
def cancel_refund(
    application_id: ApplicationId, person: CurrentPerson, db: DbSession, clock: Clock
) -> dict:
    with db.begin() as session:
        return medical.cancel(
            session, person_id=person.account_id, application_id=application_id, at=clock.now()
        )  # type: ignore[attr-defined]
