"""Pydantic models of the medical refund and deposit account API (api.md "Medical, person"),
for validation and /openapi.json.

The input models are the use cases' own (services.medical.MedicalRefundIn,
services.deposit_accounts.ReportIn/AccountRowIn), shared with the pages; the output models
describe what web/medical_presenters.py gives. The deposit account reports are answered with
the service's read models themselves (deposit_accounts.Report, SubmittedAccount).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from ...services.deposit_accounts import AccountRowIn, Report, ReportIn, SubmittedAccount
from ...services.medical import MedicalRefundIn
from .refund_schemas import ApplicationOut, EventOut, Page

__all__ = ["AccountRowIn", "MedicalRefundIn", "ReportIn"]


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
    not_refundable_reason: str | None = Field(
        default=None, description="不能退费的原因（可退费时为 null）", examples=[None]
    )
    application_id: int | None = Field(default=None, description="进行中的申请，否则最近一次申请")
    status: str | None = Field(default=None, examples=[None])
    refund_status_label: str = Field(description="退费状态", examples=["未申请"])
    review_status_label: str = Field(description="审核状态", examples=["—"])
    review_result_label: str = Field(description="审核结果", examples=["—"])


class MedicalPaymentPage(Page[MedicalPaymentOut]):
    insurance_year: int = Field(description="查询的参保年度", examples=[2026])
    insurance_years: list[int] = Field(
        default_factory=list, description="有缴费的参保年度（新的在前）", examples=[[2026, 2025]]
    )
    registration: RegistrationOut | None = Field(description="所用的登记信息；无登记信息时为 null")
    payer_name: str = Field(description="缴费人", examples=["邱世贵"])
    id_number_masked: str = Field(description="证件号码（脱敏）", examples=["4****************5"])


class DepositAccountList(BaseModel):
    items: list[SubmittedAccount]
    total: int = Field(examples=[1])


class ReportList(BaseModel):
    items: list[Report]
    total: int


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
