"""继承人代办 in real Chromium: a registered child claims for a parent HRSS knows to have
died (the simulator's death registry), sees the claim verified and the parent's payment,
applies into their own account, and the officer finds the claim's evidence and the
继承人代领 risk flag in the case review. Screenshots under test-artifacts/."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, add_officer, officer_login, screenshot, shot
from tests.e2e.test_applicant_flows import applications, login_pc, login_phone, seed

pytestmark = pytest.mark.e2e

DEATH = "2025-12-01"


def _family(site, heir_name: str) -> dict:
    def build(s):
        deceased = f.make_person(s, name="邱老汉", region="420703")
        pay = f.make_pension_payment(s, deceased, amount_fen=66000)
        heir = f.make_person(s, name=heir_name, region="420102", password=f.PASSWORD)
        return {
            "deceased_id": deceased.id_number,
            "payment_id": pay.payment_id,
            "heir_login": heir.id_number,
            "heir_id": heir.id,
        }

    found = seed(site, build)
    _register_death(site, found["deceased_id"])
    return found


def _register_death(site, deceased_id: str) -> None:
    """邱老汉 died on DEATH, as the simulator's death registry (HRSS) knows."""
    httpx.post(
        f"{site['base']}/_agencies/_sim/deaths",
        json=[{"id_number": deceased_id, "death_date": DEATH, "name": "邱老汉"}],
    ).raise_for_status()


def _phone_heirs(open_page, site, case: dict):
    """The phone's 继承人代办 page, the heir logged in on the way."""
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/heirs")
    login_phone(page, login=case["heir_login"])
    page.goto(site["base"] + "/m/heirs")
    return page


def _fill_bank(page, contact_name: str) -> None:
    """The deceased's payment chosen and the heir's bank card and contact typed (the
    account's holder is left to the test)."""
    page.get_by_role("checkbox", name=re.compile("选择缴费")).check()
    page.get_by_label("账户类型").select_option("bank_card")
    page.get_by_label("银行账号").fill("6228480402564890018")
    page.get_by_label("银行类别").select_option("103")
    page.get_by_label("联系人名称").fill(contact_name)
    page.get_by_label("联系人电话").fill("13812341234")


def _claim(page, case: dict, *, death_date: str = DEATH) -> None:
    page.get_by_label("与已故参保人关系").select_option(label="子女")
    page.get_by_label("已故参保人姓名").fill("邱老汉")
    page.get_by_label("已故参保人证件号码").fill(case["deceased_id"])
    page.get_by_label("死亡日期").fill(death_date)
    page.get_by_role("button", name="提交代办申请").click()


def test_pc_heir_claims_applies_and_the_officer_sees_the_claim(open_page, applicant_site):
    site = applicant_site
    case = _family(site, "邱小妹")
    page = open_page()
    login_pc(page, site, kind="person", login=case["heir_login"])
    page.goto(site["base"] + "/etax/heirs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("继承人代办")
    _claim(page, case)
    expect(page.locator("[data-claim-status]")).to_have_text("已核实")
    expect(page.locator("body")).not_to_contain_text(case["deceased_id"])
    _fill_bank(page, "邱小妹")
    # The deceased's name as the account's holder is refused next to the field.
    page.get_by_label("银行账户名称").fill("邱老汉")
    page.get_by_role("button", name="申请退费").click()
    expect(page.locator("#d-bank_account_name-error")).to_contain_text("继承人本人")
    screenshot(page, "pc-heir-account-refused")
    page.get_by_role("checkbox", name=re.compile("选择缴费")).check()
    page.get_by_label("银行账户名称").fill("邱小妹")
    page.get_by_role("button", name="申请退费").click()
    expect(page.locator(".alert-success")).to_contain_text("退费申请已提交")
    screenshot(page, "pc-heir-applied")
    [app] = applications(site, pension_payment_id=case["payment_id"])
    assert app.person_id == case["heir_id"] and app.heir_claim_id is not None

    officer = open_page()
    officer_login(officer, site, add_officer(site, name="周审核"))
    officer.goto(f"{site['base']}/officer/applications/{app.id}")
    evidence = officer.locator("table[aria-labelledby='heir-claim']")
    expect(evidence).to_contain_text("邱老汉")
    expect(evidence).to_contain_text("子女")
    expect(evidence).to_contain_text(DEATH)
    expect(evidence).to_contain_text("人社部门已确认死亡登记信息")
    expect(evidence).not_to_contain_text(case["deceased_id"])
    expect(officer.locator("body")).to_contain_text("继承人代领")
    expect(officer.locator("body")).to_contain_text("继承人代办：提交退费申请")
    shot(officer, "heir-claim-review")


def test_phone_refused_claim_shows_the_reason_and_no_payment(open_page, applicant_site):
    site = applicant_site
    case = _family(site, "邱小弟")
    page = _phone_heirs(open_page, site, case)
    expect(page.locator(".appbar-title")).to_have_text("继承人代办")
    _claim(page, case, death_date="2025-11-30")
    expect(page.locator("[data-claim-status]")).to_have_text("核实不通过")
    expect(page.locator("body")).to_contain_text("死亡日期与死亡登记信息不符")
    expect(page.locator("body")).not_to_contain_text(case["payment_id"])
    screenshot(page, "phone-heir-refused")
    claim_url = page.url

    # The answer is also in the 消息中心, with the reason and what to do next, and leads back.
    page.goto(site["base"] + "/m/messages")
    page.get_by_role("link", name=re.compile("继承人代办申请核实不通过")).first.click()
    body = page.locator(".message-body")
    expect(body).to_contain_text("原因：死亡日期与死亡登记信息不符")
    expect(body).to_contain_text("重新提交申请")
    screenshot(page, "phone-heir-refused-message")
    page.get_by_role("link", name="查看继承人代办").click()
    expect(page).to_have_url(claim_url)


def test_phone_verified_heir_applies_for_the_deceased_payment(open_page, applicant_site):
    site = applicant_site
    case = _family(site, "邱三妹")
    page = _phone_heirs(open_page, site, case)
    _claim(page, case)
    expect(page.locator("[data-claim-status]")).to_have_text("已核实")
    _fill_bank(page, "邱三妹")
    page.get_by_label("银行账户名称").fill("邱三妹")
    screenshot(page, "phone-heir-claim-verified")
    page.get_by_role("button", name="申请退费").click()
    expect(page.locator(".alert-success")).to_contain_text("退费申请已提交")
    [app] = applications(site, pension_payment_id=case["payment_id"])
    assert (app.person_id, app.channel) == (case["heir_id"], "mobile_app")


def test_pc_heir_applies_for_the_deceased_medical_payment_into_the_heir_own_account(
    open_page, applicant_site
):
    site = applicant_site

    def build(s):
        deceased = f.make_person(s, name="邱老汉", region="420703")
        pay = f.make_medical_payment(s, f.make_registration(s, deceased), medical_fen=41000)
        heir = f.make_person(s, name="邱四妹", region="420102", password=f.PASSWORD)
        mine = f.make_submitted_account(s, heir, account_no="6228480402564890026")
        return {
            "deceased_id": deceased.id_number,
            "payment_id": pay.payment_id,
            "heir_login": heir.id_number,
            "heir_id": heir.id,
            "account_id": mine.id,
        }

    case = seed(site, build)
    _register_death(site, case["deceased_id"])
    page = open_page()
    login_pc(page, site, kind="person", login=case["heir_login"])
    page.goto(site["base"] + "/etax/heirs")
    _claim(page, case)
    expect(page.locator("[data-claim-status]")).to_have_text("已核实")
    section = page.locator("section[aria-labelledby='med-title']")
    expect(section).to_contain_text("城乡居民医疗保险")
    expect(section).to_contain_text("410.00")
    section.get_by_role("checkbox", name=re.compile("选择票证")).check()
    # Without 办税人电话 and 退费理由 the form says so next to each field.
    section.get_by_role("button", name="申请医疗保险退费").click()
    expect(page.locator("#med-handler_phone-error")).to_be_visible()
    expect(page.locator("#med-reason_code-error")).to_contain_text("退费理由")
    screenshot(page, "pc-heir-medical-errors")
    section = page.locator("section[aria-labelledby='med-title']")
    section.get_by_role("checkbox", name=re.compile("选择票证")).check()
    section.get_by_label("办税人电话").fill("13812341234")
    section.get_by_label("退费理由", exact=True).select_option("deceased")
    section.get_by_role("button", name="申请医疗保险退费").click()
    expect(page.locator(".alert-success")).to_contain_text("退费申请已提交")
    expect(
        page.locator("section[aria-labelledby='med-title']").get_by_role("checkbox")
    ).to_have_count(0)
    screenshot(page, "pc-heir-medical-applied")
    [app] = applications(site, medical_payment_id=case["payment_id"])
    assert (app.person_id, app.deposit_account_id) == (case["heir_id"], case["account_id"])
    assert app.heir_claim_id is not None
