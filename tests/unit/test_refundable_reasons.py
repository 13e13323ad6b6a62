"""Every payment that cannot be refunded says why, in words (issue 10, part 6)."""

from __future__ import annotations

import pytest

from sirefund.domain import rules
from sirefund.domain.workflow import ApplicationStatus as S


@pytest.mark.parametrize(
    ("arrival", "status", "reason"),
    [
        ("not_arrived", None, None),
        ("abnormal", None, None),
        ("not_arrived", S.CANCELLED, None),
        ("not_arrived", S.REJECTED, None),
        ("arrived", None, "已到账 — 请到办税服务厅办理"),
        ("not_arrived", S.PENDING_REVIEW, "已申请"),
        ("not_arrived", S.APPROVED, "人社退费中"),
        ("not_arrived", S.REFUNDED, "退费成功"),
        # An officer's application for an arrived payment speaks for it, not the arrival.
        ("arrived", S.AT_AGENCY, "人社退费中"),
    ],
)
def test_a_pension_payment_says_why_it_cannot_be_refunded(arrival, status, reason):
    assert rules.pension_not_refundable_reason(arrival, status) == reason


def test_a_medical_payment_under_review_says_it_in_the_medical_words():
    assert rules.medical_not_refundable_reason(None) is None
    assert rules.medical_not_refundable_reason(S.PENDING_REVIEW) == "已申请"
    assert rules.medical_not_refundable_reason(S.AT_AGENCY) == "医保核验中"
    assert rules.medical_not_refundable_reason(S.AGENCY_REJECTED) is None


def test_a_unit_payment_says_why_it_cannot_be_refunded():
    normal = rules.unit_payment_not_refundable_reason("normal", 0, 3)
    assert normal is not None and normal.startswith("正常缴费")
    assert (
        rules.unit_payment_not_refundable_reason("collective_subsidy", 3, 3) == "人员均已申请退费"
    )
    assert rules.unit_payment_not_refundable_reason("collective_subsidy", 2, 3) is None
    assert rules.unit_line_not_refundable_reason("collective_subsidy", S.PENDING_REVIEW) == "已申请"
    assert rules.unit_line_not_refundable_reason("normal", None) == normal
    assert rules.unit_line_not_refundable_reason("special_group_proxy", None) is None


def test_every_application_status_has_a_label_on_the_statistics_page():
    from sirefund.domain.workflow import ApplicationStatus
    from sirefund.web.stats_presenters import STATUS_LABELS

    assert set(STATUS_LABELS) == set(ApplicationStatus)
