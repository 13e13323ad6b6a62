"""风险提示 in real Chromium at 1366×768: two people's refunds filed into one account carry a
marker in the queue; the case explains it ("该银行账户另有1名缴费人使用"); 批量通过 leaves
them out; the officer approves one on its page after ticking 确认风险. Screenshots under
test-artifacts/."""

from __future__ import annotations

import re

import pytest
from tests import factories as f
from tests.e2e.test_officer_console import _login, _officer, _shot, _status

from sirefund.models import Application
from sirefund.services import applications
from sirefund.services.applications import Actor

pytestmark = pytest.mark.e2e

MULE = "6228480402564890042"


@pytest.fixture(scope="module")
def live(applicant_site: dict) -> dict:
    return applicant_site


@pytest.fixture
def new_page(applicant_browser):
    contexts = []

    def _new_page():
        context = applicant_browser.new_context(
            locale="zh-CN", viewport={"width": 1366, "height": 768}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield _new_page
    for context in contexts:
        context.close()


def _into(live, account: str, name: str) -> int:
    """A person's pension refund into ``account``, submitted (flags computed then)."""
    with live["sessions"]() as s, s.begin():
        person = f.make_person(s, name=name, region="420703")
        pay = f.make_pension_payment(s, person)
        app = Application(
            kind="pension",
            channel="web",
            person_id=person.id,
            region_code=person.region_code,
            pension_payment_id=pay.payment_id,
            amount_fen=pay.amount_fen,
            payment_year=pay.payment_year,
            period_start=pay.period_start,
            period_end=pay.period_end,
            bank_account_type="bank_card",
            bank_account_no=account,
            bank_category="103",
            contact_name=person.name,
            contact_phone=f"139{person.id:08d}",
        )
        return applications.create(s, application=app, actor=Actor.person(person.id), at=f.AT).id


def test_the_officer_sees_the_risk_marker_its_explanation_and_confirms_one_by_one(live, new_page):
    first = _into(live, MULE, "赵德全")
    second = _into(live, MULE, "钱秀梅")
    page = new_page()
    _login(page, live, _officer(live, name="孙审核"))

    page.goto(f"{live['base']}/officer/applications?risk=true")
    for app_id in (first, second):
        row = page.locator("tr", has=page.locator(f"#pick-{app_id}"))
        badge = row.locator("[data-risk-flags]")
        assert badge.is_visible() and badge.inner_text() == "风险"
        assert "多名缴费人使用同一银行账户" in badge.get_attribute("title")
    _shot(page, "risk-queue")

    # 批量通过 leaves them out, each with the reason.
    page.locator(f"#pick-{first}").check()
    page.locator(f"#pick-{second}").check()
    page.get_by_role("button", name="批量通过").click()
    results = page.locator(".oc-results")
    assert "失败 2 条" in results.inner_text() and "不能批量通过" in results.inner_text()
    assert _status(live, first) == "pending_review"

    page.goto(f"{live['base']}/officer/applications/{first}")
    explanation = page.locator("#risk-flags")
    assert "该银行账户另有1名缴费人使用" in explanation.inner_text()
    page.get_by_role("button", name="审核通过").click()
    assert "确认风险" in page.locator("#review-confirm_risk-error").inner_text()
    assert _status(live, first) == "pending_review"
    page.get_by_label(re.compile("确认风险")).check()
    _shot(page, "risk-detail")
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_url(re.compile(r".*done=approved$"))
    assert "已确认风险提示" in page.locator("table.oc-history").inner_text()
    assert _status(live, first) == "approved"
