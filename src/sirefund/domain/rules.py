"""Who may refund what. Pure functions over plain values; services call them with model data."""

from __future__ import annotations

from enum import StrEnum

from . import workflow
from .errors import Invalid


class ArrivalStatus(StrEnum):
    ARRIVED = "arrived"  # 已到账
    NOT_ARRIVED = "not_arrived"  # 未到账
    ABNORMAL = "abnormal"  # 异常


ARRIVAL_LABELS = {
    ArrivalStatus.ARRIVED: "已到账",
    ArrivalStatus.NOT_ARRIVED: "未到账",
    ArrivalStatus.ABNORMAL: "异常",
}


class UnitPaymentType(StrEnum):
    COLLECTIVE_SUBSIDY = "collective_subsidy"  # 村集体补助
    SPECIAL_GROUP_PROXY = "special_group_proxy"  # 特殊人群代缴
    NORMAL = "normal"  # 正常缴费


UNIT_PAYMENT_TYPE_LABELS = {
    UnitPaymentType.COLLECTIVE_SUBSIDY: "村集体补助",
    UnitPaymentType.SPECIAL_GROUP_PROXY: "特殊人群代缴",
    UnitPaymentType.NORMAL: "正常缴费",
}


class BankAccountType(StrEnum):
    BANK_CARD = "bank_card"  # 银行卡
    PASSBOOK = "passbook"  # 存折


BANK_ACCOUNT_TYPE_LABELS = {BankAccountType.BANK_CARD: "银行卡", BankAccountType.PASSBOOK: "存折"}

# CNAPS bank category codes (银行行别).
BANK_CATEGORIES: dict[str, str] = {
    "001": "中国人民银行",
    "102": "中国工商银行",
    "103": "中国农业银行",
    "104": "中国银行",
    "105": "中国建设银行",
    "301": "交通银行",
    "302": "中信银行",
    "303": "中国光大银行",
    "305": "中国民生银行",
    "308": "招商银行",
    "309": "兴业银行",
    "310": "上海浦东发展银行",
    "314": "农村商业银行",
    "402": "农村信用合作社",
    "403": "中国邮政储蓄银行",
    "313": "城市商业银行",
}

MEDICAL_REFUND_REASONS: dict[str, str] = {
    "duplicate_payment": "重复缴费",
    "employee_insurance": "已参加职工医保",
    "deceased": "参保人死亡",
    "military": "参军",
    "insured_elsewhere": "在外地参保",
    "other": "其他",
}

# 存款账户账号报告. 账户性质 codes: the manual shows only "1110 基本存款账户"; the others follow
# its numbering (11xx unit accounts, 12xx personal accounts, 9999 other) in the manual's order.
ACCOUNT_NATURES: dict[str, str] = {
    "1110": "基本存款账户",
    "1120": "一般存款账户",
    "1130": "预算单位专用存款账户",
    "1140": "QFII专用存款账户",
    "1150": "临时存款账户",
    "1210": "个人银行结算账户",
    "1220": "个人储蓄账户",
    "9999": "其他",
}

# 操作类型 of a report row.
DEPOSIT_OPERATION_TYPES: dict[str, str] = {"add": "新增", "change": "变更", "delete": "删除"}

# 币种: the report accepts only 156 人民币元.
CURRENCY_CNY = "156"
CURRENCIES: dict[str, str] = {CURRENCY_CNY: "人民币元"}


def check_pension_refundable_by_person(arrival_status: str) -> None:
    """A person refunds only not-arrived or abnormal payments; arrived ones need an officer."""
    if ArrivalStatus(arrival_status) == ArrivalStatus.ARRIVED:
        raise Invalid(
            "pension.arrived_needs_officer",
            "该缴费已到账，不能自行申请退费，请联系税务人员发起退费申请",
            "payment_ids",
        )


def check_pension_refundable_by_officer(arrival_status: str) -> None:
    """The officer route exists for arrived payments; others the citizen files themselves."""
    if ArrivalStatus(arrival_status) != ArrivalStatus.ARRIVED:
        raise Invalid(
            "pension.not_arrived_self_service",
            "该缴费未到账或异常，请由缴费人自行申请退费",
            "payment_id",
        )


def unit_type_refundable(payment_type: str) -> bool:
    return UnitPaymentType(payment_type) != UnitPaymentType.NORMAL


def check_unit_payment_refundable(payment_type: str) -> None:
    if not unit_type_refundable(payment_type):
        raise Invalid(
            "unit.payment_type_not_refundable",
            "村组或单位只能退村集体补助和特殊人群代缴两种缴费类型的缴费记录；正常缴费已到账的不能退费，"
            "未到账的由自然人登录系统申请退费",
            "unit_payment_id",
        )


def check_bank_category(code: str, *, field: str = "bank_category") -> str:
    if code not in BANK_CATEGORIES:
        raise Invalid("bank_category.unknown", "请选择银行类别", field)
    return code


def check_medical_reason(code: str, text: str | None) -> tuple[str, str]:
    if code not in MEDICAL_REFUND_REASONS:
        raise Invalid("reason.unknown", "请选择退费理由", "reason_code")
    text = (text or "").strip()
    if code == "other" and not text:
        raise Invalid("reason.text_required", "退费理由选择“其他”时请填写说明", "reason_text")
    return code, text


# --------------------------------------------------------------------------- why not refundable
# Every payment that cannot be refunded says why, on the list itself (issue 10): the words a
# person reads next to the greyed-out line, before trying to submit it.

ARRIVED_REASON = "已到账 — 请到办税服务厅办理"
NORMAL_UNIT_PAYMENT_REASON = "正常缴费 — 不能由村组退费，未到账的由本人申请"
ALL_PERSONS_APPLIED_REASON = "人员均已申请退费"


def _application_reason(
    application_status: str | None, kind: workflow.ApplicationKind
) -> str | None:
    """An active application speaks for the payment: its own 退费状态 (已申请, 人社退费中, …)."""
    if application_status is not None and workflow.is_active(application_status):
        return workflow.labels(application_status, kind).refund_status
    return None


def pension_not_refundable_reason(
    arrival_status: str, application_status: str | None
) -> str | None:
    """Why a person cannot apply for this pension payment now; None when they can."""
    reason = _application_reason(application_status, workflow.ApplicationKind.PENSION)
    if reason is not None:
        return reason
    if ArrivalStatus(arrival_status) == ArrivalStatus.ARRIVED:
        return ARRIVED_REASON
    return None


def medical_not_refundable_reason(application_status: str | None) -> str | None:
    """Why a person cannot apply for this medical payment now; None when they can."""
    return _application_reason(application_status, workflow.ApplicationKind.MEDICAL)


def unit_payment_not_refundable_reason(payment_type: str, refunding: int, paid: int) -> str | None:
    """Why a unit cannot refund this payment now; None when some person of it is left."""
    if not unit_type_refundable(payment_type):
        return NORMAL_UNIT_PAYMENT_REASON
    if refunding >= paid:
        return ALL_PERSONS_APPLIED_REASON
    return None


def unit_line_not_refundable_reason(
    payment_type: str, application_status: str | None
) -> str | None:
    """Why one person of a unit payment cannot be chosen; None when they can."""
    if not unit_type_refundable(payment_type):
        return NORMAL_UNIT_PAYMENT_REASON
    return _application_reason(application_status, workflow.ApplicationKind.UNIT_PENSION)


def _same_name(a: str, b: str) -> bool:
    """Names compared as a bank compares 户名: whitespace (also full-width) is not part of it."""
    return "".join(a.split()) == "".join(b.split())


def check_person_account_holder(account_name: str, payer_name: str) -> None:
    """A person's refund goes only to the payer's own account (domain.md "Payee = account
    holder"): the account name must be the payer's name."""
    if not _same_name(account_name, payer_name):
        raise Invalid(
            "bank_account_name.not_payer",
            "退费只能退至缴费人本人的银行账户：银行账户名称须与缴费人姓名一致",
            "bank_account_name",
        )


def check_unit_account_holder(account_name: str, unit_name: str) -> None:
    """A unit's refund goes only to an account in the unit's name."""
    if not _same_name(account_name, unit_name):
        raise Invalid(
            "bank_account_name.not_unit",
            "退费只能退至本单位的银行账户：银行账户名称须与单位名称一致",
            "bank_account_name",
        )
