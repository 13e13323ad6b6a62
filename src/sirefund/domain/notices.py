"""What a person or unit is told when their application moves: a notice (站内消息) and the
same words by SMS. Pure: the caller gives the transition, the reason recorded with it and, for
a submission, the date the statutory review must end by.

Hooked generically on (from, to): a state this module does not know yet still produces a
plain notice naming the new state, so a new transition is never silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from .workflow import ApplicationKind, ApplicationStatus, labels

#: States whose reason the applicant must see (why it was refused, returned or failed).
_REASONED = frozenset({"rejected", "returned", "agency_rejected", "refund_failed"})


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    body: str


def _kind_word(kind: str) -> str:
    if kind == ApplicationKind.MEDICAL:
        return "医保费退费申请"
    if kind == ApplicationKind.UNIT_PENSION:
        return "单位代缴养老保险费退费申请"
    return "养老保险费退费申请"


def _agency(kind: str) -> str:
    return "医保部门" if kind == ApplicationKind.MEDICAL else "人社部门"


def _detail(reason: str | None, *prefixes: str) -> str | None:
    """The recorded reason without the verdict word it repeats (审核不通过：… -> …)."""
    if not reason:
        return None
    text = reason.strip()
    for prefix in prefixes:
        for sep in ("：", ":"):
            if text.startswith(prefix + sep):
                text = text[len(prefix) + 1 :].strip()
    return text or None


def reason_label(
    status: str,
    *,
    review_opinion: str | None,
    agency_message: str | None,
    bank_result: str | None,
) -> str | None:
    """Why an application was refused, returned or failed, in words; None otherwise."""
    if status not in _REASONED:
        return None
    if status in ("rejected", "returned"):
        return review_opinion or None
    if status == "agency_rejected":
        return agency_message or None
    return bank_result or None


def for_transition(
    *,
    kind: str,
    document_no: str,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    review_due: date | None = None,
) -> Notice | None:
    """The notice for ``from_status -> to_status``, or None for the applicant's own 撤销,
    which they already know about."""
    if to_status == "cancelled":
        return None
    what = f"您的{_kind_word(kind)}（文书号{document_no}）"
    if from_status is None or to_status == "pending_review":
        return _received(what, resubmitted=from_status is not None, review_due=review_due)
    build = _BUILDERS.get(to_status)
    if build is None:
        label = labels(to_status, kind).refund_status if _known(to_status) else to_status
        return Notice("退费申请状态变更", f"{what}当前状态：{label}。")
    return build(what, kind, from_status, reason)


def _received(what: str, *, resubmitted: bool, review_due: date | None) -> Notice:
    if review_due is not None:
        due = f"{review_due.year}年{review_due.month}月{review_due.day}日"
        by_when = f"将于{due}前（30个工作日内）完成审核"
    else:
        by_when = "将在30个工作日内完成审核"
    title = "补正材料已提交" if resubmitted else "退费申请已受理"
    return Notice(title, f"{what}已提交，税务机关{by_when}。审核结果将通过站内消息和短信通知您。")


def _approved(what: str, kind: str, _from: str, _reason: str | None) -> Notice:
    return Notice(
        "退费申请审核通过",
        f"{what}已通过税务机关审核，正在提交{_agency(kind)}处理，处理结果将另行通知。",
    )


def _at_agency(what: str, kind: str, from_status: str, _reason: str | None) -> Notice:
    if from_status == "refund_failed":
        return Notice(
            "已重新提交退付",
            f"{what}已按您更正的账户重新提交银行退付，退付结果将另行通知。",
        )
    agency = _agency(kind)
    return Notice(f"已提交{agency}", f"{what}已由{agency}受理，正在办理退付，退付结果将另行通知。")


def _rejected(what: str, _kind: str, _from: str, reason: str | None) -> Notice:
    why = _detail(reason, "审核不通过", "不通过", "未通过") or "未说明"
    return Notice(
        "退费申请未通过审核",
        f"{what}未通过税务机关审核。审核意见：{why}。如有疑问可重新申请或到办税服务厅咨询。",
    )


def _returned(what: str, _kind: str, _from: str, reason: str | None) -> Notice:
    why = _detail(reason, "退回补正", "退回") or "未说明"
    return Notice("退费申请退回补正", f"{what}需要补正。审核意见：{why}。请按意见修改后重新提交。")


def _agency_rejected(what: str, kind: str, _from: str, reason: str | None) -> Notice:
    why = _detail(reason, "人社退回", "核验不通过") or "未说明"
    word = "核验不通过" if kind == ApplicationKind.MEDICAL else "人社退回"
    return Notice(
        f"退费申请{word}",
        f"{what}{_agency(kind)}未予办理（{word}）。原因：{why}。可核对信息后重新申请。",
    )


def _refunded(what: str, _kind: str, _from: str, _reason: str | None) -> Notice:
    return Notice("退费成功", f"{what}已退费成功，款项已退付到您登记的银行账户。")


def _refund_failed(what: str, _kind: str, _from: str, reason: str | None) -> Notice:
    why = _detail(reason, "退付失败", "银行退付失败") or "未说明"
    return Notice(
        "退付失败",
        f"{what}银行退付失败。原因：{why}。请核对账户后重新提交账户，将只重新办理银行退付。",
    )


def _lapsed(what: str, _kind: str, _from: str, _reason: str | None) -> Notice:
    return Notice(
        "退费申请逾期未补正",
        f"{what}退回补正后15日内未补正，已失效（逾期未补正）。该缴费可重新申请退费。",
    )


_BUILDERS: dict[str, Callable[[str, str, str, str | None], Notice]] = {
    "approved": _approved,
    "at_agency": _at_agency,
    "rejected": _rejected,
    "returned": _returned,
    "agency_rejected": _agency_rejected,
    "refunded": _refunded,
    "refund_failed": _refund_failed,
    "lapsed": _lapsed,
}


def _known(status: str) -> bool:
    return status in {s.value for s in ApplicationStatus}


# --------------------------------------------------------------------------- 继承人代办


def for_heir_claim(
    *, status: str, deceased_name: str, relationship_label: str, reason: str | None
) -> Notice | None:
    """What the heir is told when the death registry has answered their claim: verified
    (they may now apply, to their own account) or refused (why, and what to do next).
    None while the claim is still waiting for the registry."""
    what = f"您以{relationship_label}身份为已故参保人{deceased_name}提交的继承人代办申请"
    if status == "verified":
        return Notice(
            "继承人代办申请已核实",
            f"{what}已由人社部门核实通过。您现在可以在“继承人代办”中查询并申请其缴费的退费，"
            "退费将退至您本人的银行账户。",
        )
    if status == "refused":
        why = reason or "未说明"
        return Notice(
            "继承人代办申请核实不通过",
            f"{what}核实不通过。原因：{why}。请核对已故参保人的证件号码、姓名和死亡日期后"
            "重新提交申请；如信息无误，请携带死亡证明到办税服务厅办理。",
        )
    return None
