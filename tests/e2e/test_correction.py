"""退回补正 in real Chromium: a reviewer returns an application for its bank account with an
opinion; the applicant sees 待补正 with the opinion on the PC 退费进度 page, corrects the
account in the 补正 form (a wrong number first, refused next to the field) and resubmits;
the reviewer then approves the same case. The phone's 补正 form is walked too. Screenshots
go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, add_officer, officer_login, screenshot, status
from tests.e2e.test_applicant_flows import login_pc, login_phone, seed
from tests.web.officer_helpers import pension_app

pytestmark = pytest.mark.e2e

OPINION = "银行账号与户名不符，请核对后补正"
NEW_CARD = "6228480402564890026"


def _case(site, name: str) -> dict:
    def build(s):
        person = f.make_person(s, name=name, password=f.PASSWORD, region="420703")
        app = pension_app(s, person=person)
        return {"login": person.id_number, "app": app.id, "document_no": app.document_no}

    return seed(site, build)


def _return(open_page, site, app_id: int) -> None:
    page = open_page()
    officer_login(page, site, add_officer(site, name="周审核"))
    page.goto(f"{site['base']}/officer/applications/{app_id}")
    page.get_by_label("税务机关意见", exact=True).fill(OPINION)
    page.get_by_label("银行账户信息").check()
    page.get_by_role("button", name="退回补正").click()
    page.wait_for_url(re.compile(r".*done=returned$"))
    expect(page.locator("main")).to_contain_text("已退回补正")
    screenshot(page, "officer-returned")
    page.context.close()


def test_pc_return_correct_and_approve_the_same_case(open_page, applicant_site):
    site = applicant_site
    case = _case(site, "孙补正")
    _return(open_page, site, case["app"])
    assert status(site, case["app"]) == "returned"

    page = open_page()
    login_pc(page, site, kind="person", login=case["login"])
    page.goto(site["base"] + "/etax/pension/progress")
    row = page.locator("table.grid tbody tr", has_text=case["document_no"])
    expect(row).to_contain_text("待补正")
    expect(row).to_contain_text(OPINION)
    screenshot(page, "pc-progress-returned")
    row.get_by_role("link", name="补正").click()
    expect(page.locator("#correction-opinion")).to_have_text(OPINION)
    expect(page.get_by_label("银行账户名称")).to_have_value("孙补正")
    expect(page.get_by_label("联系人电话")).to_have_count(0)  # not asked for: not editable

    page.get_by_label("银行账号").fill("6228480402564890019")
    page.get_by_role("button", name="提交补正").click()
    expect(page.locator("#f-bank_account_no-error")).to_be_visible()
    assert status(site, case["app"]) == "returned"
    screenshot(page, "pc-correction-error")

    page.get_by_label("银行账号").fill(NEW_CARD)
    page.get_by_role("button", name="提交补正").click()
    page.wait_for_url(re.compile(r".*/etax/pension/progress\?done=corrected$"))
    expect(page.locator("main")).to_contain_text("补正成功")
    row = page.locator("table.grid tbody tr", has_text=case["document_no"])
    expect(row).to_contain_text("已申请")
    assert status(site, case["app"]) == "pending_review"
    screenshot(page, "pc-progress-corrected")

    officer = open_page()
    officer_login(officer, site, add_officer(site, name="周审核"))
    officer.goto(f"{site['base']}/officer/applications/{case['app']}")
    history = officer.locator("table.oc-history")
    expect(history).to_contain_text(OPINION)
    expect(history).to_contain_text("补正后重新提交")
    officer.get_by_role("button", name="审核通过").click()
    officer.wait_for_url(re.compile(r".*done=approved$"))
    assert status(site, case["app"]) == "approved"
    screenshot(officer, "officer-approved-after-correction")


def test_phone_correction_of_a_returned_case(open_page, applicant_site):
    site = applicant_site
    case = _case(site, "李补正")
    _return(open_page, site, case["app"])

    page = open_page(PHONE)
    page.goto(site["base"] + "/m/pension?view=progress")
    login_phone(page, login=case["login"])
    page.goto(site["base"] + "/m/pension?view=progress")
    card = page.locator("section.card", has_text=case["document_no"])
    expect(card).to_contain_text("待补正")
    expect(card).to_contain_text(OPINION)
    card.get_by_role("link", name="补正").click()
    page.get_by_label("银行账号").fill(NEW_CARD)
    screenshot(page, "phone-correction")
    page.get_by_role("button", name="提交补正").click()
    page.wait_for_url(re.compile(r".*done=corrected.*"))
    assert status(site, case["app"]) == "pending_review"
    screenshot(page, "phone-progress-corrected")
