"""风险提示 in real Chromium at 1366×768: two people's refunds filed into one account carry a
marker in the queue; the case explains it ("该银行账户另有1名缴费人使用"); 批量通过 leaves
them out; the officer approves one on its page after ticking 确认风险. Screenshots under
test-artifacts/."""

from __future__ import annotations

import re

import pytest
from tests.e2e.conftest import OFFICE, add_officer, officer_login, pension_case, shot, status

pytestmark = pytest.mark.e2e

MULE = "6228480402564890042"


def test_the_officer_sees_the_risk_marker_its_explanation_and_confirms_one_by_one(live, open_page):
    first = pension_case(live, name="赵德全", account=MULE)
    second = pension_case(live, name="钱秀梅", account=MULE)
    page = open_page(OFFICE)
    officer_login(page, live, add_officer(live, name="孙审核"))

    page.goto(f"{live['base']}/officer/applications?risk=true")
    for app_id in (first, second):
        row = page.locator("tr", has=page.locator(f"#pick-{app_id}"))
        badge = row.locator("[data-risk-flags]")
        assert badge.is_visible() and badge.inner_text() == "风险"
        assert "多名缴费人使用同一银行账户" in badge.get_attribute("title")
    shot(page, "risk-queue")

    # 批量通过 leaves them out, each with the reason.
    page.locator(f"#pick-{first}").check()
    page.locator(f"#pick-{second}").check()
    page.get_by_role("button", name="批量通过").click()
    results = page.locator(".oc-results")
    assert "失败 2 条" in results.inner_text() and "不能批量通过" in results.inner_text()
    assert status(live, first) == "pending_review"

    page.goto(f"{live['base']}/officer/applications/{first}")
    explanation = page.locator("#risk-flags")
    assert "该银行账户另有1名缴费人使用" in explanation.inner_text()
    page.get_by_role("button", name="审核通过").click()
    assert "确认风险" in page.locator("#review-confirm_risk-error").inner_text()
    assert status(live, first) == "pending_review"
    page.get_by_label(re.compile("确认风险")).check()
    shot(page, "risk-detail")
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_url(re.compile(r".*done=approved$"))
    assert "已确认风险提示" in page.locator("table.oc-history").inner_text()
    assert status(live, first) == "approved"
