"""What a transition tells the applicant (domain/notices.py): pure words, with what happens
next and by when, and why a case was refused, returned or failed."""

from __future__ import annotations

from datetime import date

import pytest

from sirefund.domain import notices


def notice(frm, to, reason=None, kind="pension", due=None):
    return notices.for_transition(
        kind=kind,
        document_no="鄂税退〔2026〕420703-000001",
        from_status=frm,
        to_status=to,
        reason=reason,
        review_due=due,
    )


def test_a_submission_promises_the_review_by_the_thirtieth_working_day():
    got = notice(None, "pending_review", due=date(2026, 4, 22))
    assert got is not None and got.title == "退费申请已受理"
    assert "2026年4月22日前（30个工作日内）完成审核" in got.body
    assert "鄂税退〔2026〕420703-000001" in got.body


def test_the_payers_own_cancellation_needs_no_notice():
    assert notice("pending_review", "cancelled") is None


@pytest.mark.parametrize(
    ("frm", "to", "reason", "kind", "title", "says"),
    [
        (
            "pending_review",
            "rejected",
            "审核不通过：缴费已到账",
            "pension",
            "退费申请未通过审核",
            "审核意见：缴费已到账",
        ),
        (
            "pending_review",
            "returned",
            "请补正银行账号",
            "pension",
            "退费申请退回补正",
            "审核意见：请补正银行账号",
        ),
        (
            "at_agency",
            "agency_rejected",
            "人社退回：参保状态异常",
            "pension",
            "退费申请人社退回",
            "原因：参保状态异常",
        ),
        (
            "at_agency",
            "agency_rejected",
            "核验不通过：已享受待遇",
            "medical",
            "退费申请核验不通过",
            "医保部门",
        ),
        (
            "at_agency",
            "refund_failed",
            "退付失败：账户已销户",
            "pension",
            "退付失败",
            "原因：账户已销户",
        ),
        ("refund_failed", "at_agency", None, "pension", "已重新提交退付", "重新提交银行退付"),
        ("at_agency", "refunded", None, "pension", "退费成功", "已退费成功"),
        ("pending_review", "approved", None, "medical", "退费申请审核通过", "医保部门"),
    ],
)
def test_each_outcome_says_what_happened_why_and_what_next(frm, to, reason, kind, title, says):
    got = notice(frm, to, reason, kind)
    assert got is not None
    assert (got.title, says in got.body) == (title, True)


def test_a_state_not_known_yet_still_gets_a_plain_notice():
    got = notice("pending_review", "archived")
    assert got is not None and "archived" in got.body


def test_a_lapsed_correction_says_the_payment_can_be_applied_for_again():
    got = notice("returned", "lapsed")
    assert got is not None and "逾期未补正" in got.body and "重新申请" in got.body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("rejected", "资料不全"),
        ("returned", "资料不全"),
        ("agency_rejected", "人社退回：参保状态异常"),
        ("refund_failed", "退付失败：账户已销户"),
        ("refunded", None),
        ("pending_review", None),
    ],
)
def test_the_reason_label_is_only_for_refused_returned_or_failed_cases(status, expected):
    assert (
        notices.reason_label(
            status,
            review_opinion="资料不全",
            agency_message="人社退回：参保状态异常",
            bank_result="退付失败：账户已销户" if status == "refund_failed" else "银行退付成功",
        )
        == expected
    )
