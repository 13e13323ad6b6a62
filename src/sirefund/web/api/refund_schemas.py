"""Pydantic models of the pension (person) and unit APIs, for validation and /openapi.json.

The input models live with their use cases (services/pension.py, services/units.py, which
take them validated) and are re-exported here. Every string and list has a cap, so an
oversize value is a 422 with a Chinese message, never a database error; enumerations checked
with the domain's own codes (account type, bank category, month …) are capped strings whose
validators answer ``bank_category.unknown`` and the like rather than a generic code.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ...services.pension import PensionRefundIn
from ...services.units import UnitBatchIn
from .. import errors

__all__ = ["PensionRefundIn", "UnitBatchIn"]  # input models, defined with their use cases

T = TypeVar("T")


_STATUS_TEXT = {
    401: "未登录",
    403: "账户类型不符（如自然人调用村组接口），或页面会话的CSRF校验失败",
    404: "记录不存在，或不属于当前账户（不透露他人数据）",
    409: "状态冲突：已申请、不可撤销等",
    422: "输入不正确（含字段名与中文说明）",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The applicant routers' errors: the one Error model, with their own wording."""
    return errors.error_responses(*statuses, descriptions=_STATUS_TEXT)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(examples=[1])
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[10])


# --------------------------------------------------------------------------- applications


class EventOut(BaseModel):
    at: str | None = Field(examples=["2026-03-10T09:30:00+00:00"])
    actor_kind: str = Field(examples=["person"])
    actor: str = Field(examples=["缴费人"])
    from_status: str | None = None
    to_status: str = Field(examples=["pending_review"])
    from_label: str | None = None
    to_label: str | None = Field(default=None, examples=["已申请"])
    reason: str | None = Field(default=None, examples=["提交退费申请"])


class ApplicationOut(BaseModel):
    """An application as its owner sees it (masked bank account and phone)."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(examples=[101])
    document_no: str = Field(
        description="文书号：提交时编号，年度、缴费人行政区划内顺序，不重复",
        examples=["鄂税退〔2026〕420703-000001"],
    )
    kind: Literal["pension", "unit_pension", "medical"] = Field(examples=["pension"])
    status: str = Field(examples=["pending_review"])
    refund_status_label: str = Field(description="退费状态", examples=["已申请"])
    review_status_label: str = Field(description="审核状态", examples=["待审核"])
    review_result_label: str = Field(description="审核结果", examples=["未知"])
    amount: str = Field(description="元，两位小数", examples=["700.00"])
    channel: str = Field(examples=["web"])
    channel_label: str | None = Field(default=None, examples=["电子税务局"])
    created_at: str | None = Field(examples=["2026-03-10T09:30:00+00:00"])
    payment_year: int | None = Field(default=None, examples=[2025])
    period_start: str | None = Field(default=None, examples=["2025-01-01"])
    period_end: str | None = Field(default=None, examples=["2025-12-31"])
    payment_id: str | None = Field(default=None, examples=["PP00000001"])
    batch_id: int | None = None
    line_id: str | None = None
    bank_account_masked: str | None = Field(default=None, examples=["***************0018"])
    bank_account_type: str | None = Field(default=None, examples=["bank_card"])
    bank_category: str | None = Field(default=None, examples=["103"])
    bank_category_label: str | None = Field(default=None, examples=["中国农业银行"])
    contact_name: str | None = Field(default=None, examples=["邱世贵"])
    contact_phone_masked: str | None = Field(default=None, examples=["138****1234"])
    cancellable: bool | None = Field(default=None, description="当前能否撤销退费")
    reapplicable: bool | None = Field(
        default=None,
        description="能否重新申请：审核不通过、人社退回或核验不通过，且该缴费没有其他进行中的申请",
    )
    reason_label: str | None = Field(
        default=None,
        description="未通过、退回或退付失败的原因（税务审核意见、人社退回/核验不通过原因、"
        "银行退付失败原因）；其他状态为 null",
        examples=["人社退回：参保状态异常"],
    )


class ApplicationDetailOut(ApplicationOut):
    history: list[EventOut] = Field(description="状态变化记录：谁、何时、从何状态到何状态、原因")


class ApplicationsOut(BaseModel):
    applications: list[ApplicationOut]


# --------------------------------------------------------------------------- pension (person)


class PensionPaymentOut(BaseModel):
    payment_id: str = Field(examples=["PP00000001"])
    amount: str = Field(description="缴费金额（元）", examples=["700.00"])
    period_start: str = Field(description="税款所属期起", examples=["2025-01-01"])
    period_end: str = Field(description="税款所属期止", examples=["2025-12-31"])
    payment_year: int = Field(description="缴费年度", examples=[2025])
    payment_date: str | None = Field(default=None, examples=["2025-03-01"])
    channel: str = Field(description="缴费渠道", examples=["楚税通"])
    arrival_status: Literal["arrived", "not_arrived", "abnormal"] = Field(examples=["not_arrived"])
    arrival_status_label: str | None = Field(default=None, examples=["未到账"])
    refundable: bool = Field(description="当前能否由本人申请退费", examples=[True])
    not_refundable_reason: str | None = Field(
        default=None, description="不能退费的原因（可退费时为 null）", examples=[None]
    )
    application_id: int | None = Field(default=None, description="最近一次未撤销的申请")
    application_status: str | None = None
    cancellable: bool = False
    refund_status_label: str = Field(description="退费状态", examples=["未申请"])
    review_status_label: str = Field(description="审核状态", examples=["—"])
    review_result_label: str = Field(description="审核结果", examples=["—"])
    payer_name: str | None = Field(default=None, description="缴费人", examples=["邱世贵"])
    id_number_masked: str | None = Field(
        default=None, description="证件号码（脱敏）", examples=["4****************5"]
    )


# --------------------------------------------------------------------------- unit


class UnitPaymentOut(BaseModel):
    unit_payment_id: str = Field(examples=["UP00000001"])
    unit_name: str = Field(description="缴费人名称", examples=["华容区庙岭镇新庙村村民委员会"])
    unit_tax_id: str = Field(description="缴费人税号", examples=["54420700000000000001"])
    unit_ss_no: str = Field(description="缴费人社保号", examples=["42098413006"])
    payment_type: Literal["collective_subsidy", "special_group_proxy", "normal"]
    payment_type_label: str = Field(examples=["村集体补助"])
    payment_year: int = Field(examples=[2022])
    payment_month: int = Field(examples=[1])
    paid_count: int = Field(description="实缴人数", examples=[310])
    refund_count: int = Field(description="退费人数：已退费或退费中的人数", examples=[3])
    amount: str = Field(description="实缴金额（元）", examples=["62000.00"])
    period_start: str = Field(examples=["2022-01-01"])
    period_end: str = Field(examples=["2022-12-31"])
    declaration_channel: str = Field(description="申报方式", examples=["电子税务局"])
    refundable: bool
    not_refundable_reason: str | None = Field(
        default=None, description="不能退费的原因（可退费时为 null）", examples=[None]
    )


class UnitPersonOut(BaseModel):
    line_id: str = Field(examples=["UL00000001"])
    name: str = Field(description="姓名", examples=["邱世贵"])
    ss_no: str = Field(description="社保号", examples=["SS00000001"])
    id_number: str = Field(description="证件号码（脱敏）", examples=["4****************5"])
    amount: str = Field(examples=["200.00"])
    period_start: str | None = None
    period_end: str | None = None
    refundable: bool
    not_refundable_reason: str | None = Field(
        default=None, description="不能退费的原因（可退费时为 null）", examples=[None]
    )
    application_id: int | None = None
    refund_status_label: str | None = Field(default=None, examples=["未申请"])


class BatchOut(BaseModel):
    batch_id: int = Field(examples=[7])
    amount: str = Field(description="退费金额：所选人员金额之和", examples=["400.00"])
    applications: list[ApplicationOut]


class UnitProgressOut(ApplicationOut):
    unit_name: str = Field(description="纳税人名称")
    unit_ss_no: str = Field(description="单位社保号")
    unit_payment_id: str | None = None
    refund_count: int = Field(description="退费人数（每条申请1人）", examples=[1])
    hrss_status_label: str = Field(description="人社处理状态", examples=["未申请"])
    tax_review_status_label: str = Field(description="税务审核状态", examples=["待审核"])
    tax_review_result_label: str = Field(description="税务审核结果", examples=["--"])


class UnitProgressPersonOut(BaseModel):
    line_id: str | None = None
    name: str = Field(description="姓名")
    id_number: str = Field(description="证件号码（脱敏）", examples=["4****************5"])
    ss_no: str = Field(description="个人编号")
    amount: str = Field(description="缴费金额", examples=["200.00"])
    period_start: str = Field(description="税款所属期起")
    period_end: str = Field(description="税款所属期止")


class CancelledOut(BaseModel):
    cancelled: list[int] = Field(
        description="本次撤销的申请（同一批次待审核的全部撤销）", examples=[[101, 102]]
    )
