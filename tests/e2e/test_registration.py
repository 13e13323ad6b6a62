"""Real-name registration in real Chromium (issue 8): on the PC site (电子税务局) a person, on
the phone (楚税通) a unit through its 办税员 on record, each with the code read from the SMS
simulator after pressing 获取验证码 (which then counts down 60 s); a wrong code is explained
next to the 验证码 field."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "Hubei-2026-refund"


def latest_code(site, phone: str) -> str:
    messages = httpx.get(f"{site['base']}/_agencies/_sim/sms", params={"phone": phone}).json()
    assert messages, f"no text message for {phone}"
    return messages[0]["code"]


def known_to_identity_service(site, id_number: str, name: str, phone: str) -> None:
    r = httpx.post(
        f"{site['base']}/_agencies/_sim/identities",
        json=[{"id_number": id_number, "name": name, "phone": phone}],
    )
    r.raise_for_status()


def test_pc_a_person_registers_with_the_sms_code_and_logs_in(open_page, applicant_site):
    site = applicant_site
    id_number, name, phone = f.resident_id(), "周晓梅", "13971110001"
    known_to_identity_service(site, id_number, name, phone)
    page = open_page()
    page.goto(site["base"] + "/etax/register")
    page.get_by_label("证件号码", exact=True).fill(id_number)
    page.get_by_label("姓名", exact=True).fill(name)
    page.get_by_label("手机号码", exact=True).fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".alert-success")).to_contain_text("验证码已发送至手机号码 139****0001")
    button = page.locator("button[data-code-button]")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"重新获取\(\d+s\)"))
    # What was typed is still there.
    expect(page.get_by_label("证件号码", exact=True)).to_have_value(id_number)
    screenshot(page, "pc-registration-code-sent")

    # A wrong code first: explained next to the 验证码 field.
    code = latest_code(site, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.get_by_label("验证码", exact=True).fill(wrong)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page.locator("#f-verification_code-error")).to_have_text(
        "验证码错误或已失效，请重新获取"
    )

    page.get_by_label("验证码", exact=True).fill(code)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page).to_have_url(re.compile(r"/etax/login\?.*done=registered"))

    page.get_by_label("居民身份证号码/手机号码/用户名", exact=True).fill(phone)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".account-bar")).to_contain_text(name)
    screenshot(page, "pc-registration")


def test_phone_a_unit_registers_through_its_handler_with_the_sms_code(open_page, applicant_site):
    site = applicant_site
    handler = (f.resident_id(birth="19850715"), "刘桂芳", "13971110002")
    with site["sessions"]() as s, s.begin():
        unit = f.make_unit(s, name="华容区庙岭镇东港村村民委员会", handler=handler)
        tax_id = unit.tax_id
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/register?kind=unit")
    page.get_by_label("纳税人识别号", exact=True).fill(tax_id)
    page.get_by_label("单位名称", exact=True).fill("华容区庙岭镇东港村村民委员会")
    page.get_by_label("办税员证件号码", exact=True).fill(handler[0])
    page.get_by_label("办税员姓名", exact=True).fill(handler[1])
    page.get_by_label("办税员手机号码", exact=True).fill(handler[2])
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("button[data-code-button]")).to_be_disabled()
    screenshot(page, "phone-unit-registration-code-sent")
    page.get_by_label("验证码", exact=True).fill(latest_code(site, handler[2]))
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page).to_have_url(re.compile(r"/m/login\?.*done=registered"))
    screenshot(page, "phone-unit-registration")
