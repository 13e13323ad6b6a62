"""API routes: 城乡居民基本医疗保险退费 and 存款账户账号报告, for persons (api.md "Medical, person"):
services/medical.py and services/deposit_accounts.py, the JSON shapes in medical_schemas.py and
web/medical_presenters.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ...domain.workflow import ApplicationKind
from ...services import deposit_accounts, medical, reissue
from ...services.accounts import Principal
from ...services.deposit_accounts import BIGINT_MAX, Report, ReportIn
from ...services.medical import MedicalRefundIn
from ...services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ...services.reissue import MedicalReissueIn
from ...services.views import ApplicationView
from .. import medical_presenters as present
from ..deps import (
    Clock,
    CurrentPerson,
    DbSession,
    PersonReader,
    PersonReading,
    current_person,
    get_clock,
)
from ..lean_route import IntQuery, PlainQuery, QuerySpec, add_hot_read, person_read
from .listing import create_once, page_of
from .medical_schemas import (
    DepositAccountList,
    MedicalApplicationDetailOut,
    MedicalApplicationOut,
    MedicalApplicationsOut,
    MedicalPaymentPage,
    MedicalProgressPage,
    RegistrationOut,
    ReportList,
)
from .params import PAGE_NO_MAX, HeirClaimId, Paged, Paging
from .refund_routes import CORRECT_SUMMARY, Answer, Changed, Reissue, add_refund_routes
from .refund_schemas import Page, error_responses

# Every route needs a logged-in person.
router = APIRouter(tags=["medical"], responses=error_responses(401, 403))

ReportId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="存款账户账号报告编号")]
InsuranceYear = Annotated[
    int | None,
    Query(
        description="参保年度：9月1日至次年8月31日为一个年度（2023年9月1日至2024年8月31日为2024）；"
        "不填为当前参保年度；仅支持2023年及以后",
        examples=[2026],
    ),
]

# A FormInvalid answers with every problem (web/errors.py), which these routes document.
_FORM_ERRORS_NOTE = (
    "422 的 `error` 另带 `errors`：每个问题一项，字段名如 `accounts.0.account_name`"
    "（第1行的账户名称）。"
)


# --------------------------------------------------------------------------- payments


@router.get(
    "/medical/registrations",
    response_model=Page[RegistrationOut],
    summary="选择登记信息：本人的医保登记信息",
    responses=error_responses(422),
)
def list_registrations(person: CurrentPerson, db: DbSession, paging: Paged) -> dict[str, Any]:
    with db.begin() as session:
        regs = medical.list_registrations(session, person_id=person.account_id)
    return page_of(regs, paging, asdict)


def list_payments(
    reader: PersonReading,
    clock: Clock,
    paging: Paged,
    insurance_year: InsuranceYear = None,
    registration_id: Annotated[str | None, Query(max_length=40, description="登记信息编号")] = None,
    heir_claim_id: HeirClaimId = None,
) -> JSONResponse:
    return JSONResponse(
        _payments(
            reader, clock.today(), paging, insurance_year, registration_id or None, heir_claim_id
        )
    )


def _payments(
    reader: PersonReader,
    today: date,
    paging: Paging,
    insurance_year: int | None,
    registration_id: str | None,
    heir_claim_id: int | None,
) -> dict[str, Any]:
    # One connection for the session lookup and the payments (issue 12); on PostgreSQL the
    # lookup and the person's registrations are one statement.
    if heir_claim_id is not None:
        with reader.read() as read:
            result = medical.heir_list_payments(
                read.session,
                person_id=read.person.account_id,
                heir_claim_id=heir_claim_id,
                insurance_year=insurance_year,
                registration_id=registration_id,
                today=today,
            )
    elif registration_id is not None:
        with reader.read() as read:
            result = medical.list_payments(
                read.session,
                person_id=read.person.account_id,
                insurance_year=insurance_year,
                registration_id=registration_id,
                today=today,
                payer=read.payer,
            )
    else:
        with reader.read_with(medical.registrations_with_session) as (read, registrations):
            result = medical.list_payments(
                read.session,
                person_id=read.person.account_id,
                insurance_year=insurance_year,
                today=today,
                payer=read.payer,
                registrations=registrations,
            )
    # Built as the response model's very fields (plain JSON values), so sent as it is without
    # FastAPI validating it again against the model.
    return {
        **page_of(result.items, paging, present.payment),
        "insurance_year": result.insurance_year,
        "insurance_years": result.insurance_years,
        "registration": dict(vars(result.registration)) if result.registration else None,
        "payer_name": result.payer_name,
        "id_number_masked": result.id_number_masked,
    }


#: What the lean path of GET /medical/payments parses itself (lean_route.py); a chosen
#: registration and the heir's read go to FastAPI's handler. `insurance_year` has no bounds
#: of its own (the service answers 422 `medical.year_unsupported`).
PAYMENTS_QUERY: QuerySpec = {
    "page": IntQuery(1, PAGE_NO_MAX, 1),
    "page_size": IntQuery(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    "insurance_year": IntQuery(0, BIGINT_MAX),
    "registration_id": None,
    "heir_claim_id": None,
}


def _lean_payments(reader: PersonReader, query: PlainQuery, request: Request) -> dict[str, Any]:
    """GET /medical/payments without FastAPI's dependency solving (lean_route.py)."""
    return _payments(
        reader,
        get_clock(request).today(),
        Paging(query.number("page"), query.number("page_size")),
        query.ints["insurance_year"],
        None,
        None,
    )


#: GET /medical/payments, documented here; app.py adds its hot copy ahead of the included routers.
add_hot_route = add_hot_read(
    router,
    "/medical/payments",
    list_payments,
    person_read(PAYMENTS_QUERY, _lean_payments),
    response_model=MedicalPaymentPage,
    summary="城乡居民医疗社保费(退费)：按参保年度查询可退费信息",
    description="参保年度不填为有缴费的最近参保年度（都没有时为当前参保年度），`insurance_years` 列出有缴费的参保年度；2023年以前返回 422 `medical.year_unsupported`。"
    "有多条登记信息而未选择时返回 422 `medical.registration_required`（请选择登记信息）；"
    "他人的登记信息返回 404。继承人代办：带 `heir_claim_id`（本人已核实的申请）查询已故参保人的缴费。",
    responses=error_responses(404, 409, 422),
)


# --------------------------------------------------------------------------- deposit accounts


@router.get(
    "/deposit-accounts",
    response_model=DepositAccountList,
    summary="本人已提交的存款账户（可用于医保退费）",
    description="为空时申请退费会返回 409 `deposit_account.missing`（未查询到存款账户报告信息）。",
)
def list_deposit_accounts(person: CurrentPerson, db: DbSession) -> dict[str, Any]:
    with db.begin() as session:
        items = deposit_accounts.submitted_accounts(session, person_id=person.account_id)
    return {"items": items, "total": len(items)}


@router.get(
    "/deposit-account-reports",
    response_model=ReportList,
    summary="本人的存款账户账号报告（最新在前）",
)
def list_reports(person: CurrentPerson, db: DbSession) -> dict[str, Any]:
    with db.begin() as session:
        reports = deposit_accounts.list_reports(session, person_id=person.account_id)
    return {"items": reports, "total": len(reports)}


@router.post(
    "/deposit-account-reports",
    status_code=201,
    response_model=Report,
    summary="存款账户账号报告：暂存或提交（支持 Idempotency-Key）",
    description="`submit` 为 false 时暂存，可不完整；为 true 时校验每一行的全部必填项，账户名称必须与"
    "退费人名称一致，币种只能为 156。" + _FORM_ERRORS_NOTE,
    responses=error_responses(422),
)
def create_report(
    body: ReportIn, request: Request, person: CurrentPerson, db: DbSession, clock: Clock
) -> JSONResponse:
    def create(session: Session, at: datetime) -> Report:
        return _save(session, person.account_id, None, body, at, clock.today())

    return create_once(request, db=db, principal=person, body=body, create=create)


@router.get(
    "/deposit-account-reports/{report_id}",
    response_model=Report,
    summary="一份存款账户账号报告（继续编辑暂存的报告）",
    responses=error_responses(404),
)
def get_report(report_id: ReportId, person: CurrentPerson, db: DbSession) -> Report:
    with db.begin() as session:
        return deposit_accounts.get_report(
            session, person_id=person.account_id, report_id=report_id
        )


@router.put(
    "/deposit-account-reports/{report_id}",
    response_model=Report,
    summary="修改存款账户账号报告：暂存或提交",
    description="暂存的报告按所送的行整体替换。已提交的报告只能再次提交（暂存返回 409）：须带回每个"
    "有效账户（`account_id`），删除账户请把操作类型改为 delete；修改已保存账户的开户银行、账户名称、"
    "账号或银行开户登记证号须填写变更日期。" + _FORM_ERRORS_NOTE,
    responses=error_responses(404, 409, 422),
)
def update_report(
    report_id: ReportId, body: ReportIn, person: CurrentPerson, db: DbSession, clock: Clock
) -> Report:
    with db.begin() as session:
        return _save(session, person.account_id, report_id, body, clock.now(), clock.today())


def _save(
    session: Session,
    person_id: int,
    report_id: int | None,
    body: ReportIn,
    at: datetime,
    today: date,
) -> Report:
    """暂存 / 提交 of a new report (``report_id`` None) or of a saved one."""
    return deposit_accounts.save_report(
        session, person_id=person_id, report_id=report_id, report_in=body, at=at, today=today
    )


# --------------------------------------------------------------------------- refunds


@router.post(
    "/medical/refunds",
    status_code=201,
    response_model=MedicalApplicationsOut,
    summary="申请退费：每条所选缴费一条申请（支持 Idempotency-Key）",
    description="没有已提交的存款账户时返回 409 `deposit_account.missing`（未查询到存款账户报告信息），"
    "请先填写存款账户账号报告。退费金额 = 医疗金额 + 长护金额。已申请的返回 409 "
    "`application.already_applied`；他人的登记信息、缴费或账户返回 404。" + _FORM_ERRORS_NOTE,
    responses=error_responses(404, 409, 422),
)
def apply_refund(
    body: MedicalRefundIn, request: Request, person: CurrentPerson, db: DbSession
) -> JSONResponse:
    def create(session: Session, at: datetime) -> dict[str, Any]:
        created = medical.apply(session, person_id=person.account_id, refund=body, at=at)
        return {"applications": [present.application(view) for view in created]}

    return create_once(request, db=db, principal=person, body=body, create=create)


@dataclass(frozen=True)
class _ProgressQuery:
    """The progress list's filter: the insurance year asked for, or none, and today, which
    decides the year answered when none was asked for."""

    insurance_year: int | None
    today: date


def _progress_query(clock: Clock, insurance_year: InsuranceYear = None) -> _ProgressQuery:
    return _ProgressQuery(insurance_year, clock.today())


def _progress(
    session: Session, person: Principal, paging: Paging, query: _ProgressQuery
) -> dict[str, Any]:
    views = medical.progress(
        session,
        person_id=person.account_id,
        insurance_year=query.insurance_year,
        today=query.today,
    )
    year = query.insurance_year
    return {
        **page_of(views, paging, present.application),
        "insurance_year": medical.default_year(query.today) if year is None else year,
    }


def _detail(session: Session, person: Principal, application_id: int) -> dict[str, Any]:
    view = medical.get_application(
        session, person_id=person.account_id, application_id=application_id
    )
    return present.application_detail(view)


def _cancel(
    session: Session, person: Principal, application_id: int, at: datetime
) -> dict[str, Any]:
    view = medical.cancel(
        session, person_id=person.account_id, application_id=application_id, at=at
    )
    return present.application(view)


def _shown(session: Session, person: Principal, view: ApplicationView) -> dict[str, Any]:
    return _detail(session, person, view.id)


def _deposit_account(body: MedicalReissueIn) -> MedicalReissueIn:
    """The body of ``/reissue``: the deposit account chosen (a dependency)."""
    return body


def _reissue(
    session: Session,
    person: Principal,
    application_id: int,
    account: MedicalReissueIn,
    at: datetime,
) -> ApplicationView:
    return reissue.reissue_medical(
        session,
        person_id=person.account_id,
        application_id=application_id,
        account=account,
        at=at,
    )


add_refund_routes(
    router,
    path="/medical/refunds",
    kind=ApplicationKind.MEDICAL,
    applicant=current_person,
    query=_progress_query,
    progress=Answer("进度查询：城乡居民医保社保费退费进度", MedicalProgressPage, _progress),
    detail=Answer("一条医保退费申请及其状态记录", MedicalApplicationDetailOut, _detail),
    cancel=Answer("撤销退费：仅待审核的申请", MedicalApplicationOut, _cancel),
    changed=Changed(CORRECT_SUMMARY, MedicalApplicationDetailOut, _shown),
    reissue=Reissue(
        "重新提交账户：退付失败后另选存款账户，仅重新发送银行退付（不再送医保核验）",
        "仅本人退付失败（refund_failed）的申请可以重新提交，否则 409 "
        "`application.not_reissuable`；账户须为本人存款账户账号报告中有效的账户，否则 404 "
        "`deposit_account.not_found`。",
        _deposit_account,
        _reissue,
    ),
)
