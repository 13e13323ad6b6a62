"""关怀版 and the rough edges of the walk (issue 10, parts 8 and 9), in real Chromium on the PC
(1366 wide) and the phone (390x844): the header switch without JavaScript, a session that
ends while typing, a unit on the phone, the phone's tiles, and the deposit grid's summary."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from tests import factories as f
from tests.conftest import NOW
from tests.e2e.conftest import PHONE, screenshot

from sirefund.models import AuthSession

pytestmark = pytest.mark.e2e

GOOD_CARD = "6228480402564890018"
_phones = itertools.count(13600000001)


def seed(site, build):
    with site["sessions"]() as s, s.begin():
        return build(s)


def end_sessions(site, kind: str, account_id: int) -> None:
    """The account's sessions go idle past the limit, as if its owner had left the page open."""
    with site["sessions"]() as s, s.begin():
        s.execute(
            update(AuthSession)
            .where(AuthSession.account_kind == kind, AuthSession.account_id == account_id)
            .values(last_seen_at=NOW.replace(year=2025))
        )


def person_with_payment(site) -> tuple[int, str]:
    phone = str(next(_phones))

    def build(s):
        p = f.make_person(s, name="邱世贵", password=f.PASSWORD, phone=phone)
        f.make_pension_payment(s, p, amount_fen=70000, year=2021)
        return p.id

    return seed(site, build), phone


def login_here(page, phone: str) -> None:
    page.get_by_label("居民身份证号码/手机号码/用户名", exact=True).fill(phone)
    page.get_by_label("密码", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()


# --------------------------------------------------------------------------- 关怀版


@pytest.mark.parametrize("viewport", ["pc", "phone"])
def test_the_care_switch_works_without_javascript_and_is_remembered(
    open_page, applicant_site, viewport
):
    base = applicant_site["base"]
    page = (
        open_page(PHONE, javascript=False) if viewport == "phone" else open_page(javascript=False)
    )
    start = "/m/more" if viewport == "phone" else "/etax/tax-center"
    page.goto(base + start)
    html = page.locator("html")
    expect(html).not_to_have_class(re.compile(r"\bcare\b"))
    zoom = "() => getComputedStyle(document.body).zoom"
    assert page.evaluate(zoom) == "1"
    page.get_by_role("link", name="关怀版", exact=True).click()
    expect(page).to_have_url(base + start)
    expect(html).to_have_class(re.compile(r"\bcare\b"))
    assert page.evaluate(zoom) == "1.25"  # everything a quarter larger
    page.goto(base + ("/m/login" if viewport == "phone" else "/etax/login"))
    expect(html).to_have_class(re.compile(r"\bcare\b"))
    screenshot(page, f"care-switch-{viewport}")
    page.get_by_role("link", name="退出关怀版").click()
    expect(html).not_to_have_class(re.compile(r"\bcare\b"))


# --------------------------------------------------------------------------- session ends


def test_phone_a_session_ending_while_typing_keeps_the_sheet_as_typed(open_page, applicant_site):
    site = applicant_site
    person_id, phone = person_with_payment(site)
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/pension?year=2021")
    login_here(page, phone)
    page.goto(site["base"] + "/m/pension?year=2021")
    page.locator("section.detail").first.get_by_role("link", name="申请退费").click()
    sheet = page.locator("#apply-sheet")
    sheet.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    sheet.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    sheet.get_by_label("联系人名称", exact=True).fill("邱世贵")
    sheet.get_by_label("联系人电话", exact=True).fill("13812341234")

    end_sessions(site, "person", person_id)
    sheet.get_by_role("button", name="确定").click()

    expect(page).to_have_url(re.compile(r"/m/login\?"))
    assert GOOD_CARD not in page.url and "13812341234" not in page.url
    expect(page.locator(".alert")).to_contain_text("登录已超时，请重新登录")
    login_here(page, phone)
    sheet = page.locator("#apply-sheet")
    expect(sheet).to_be_visible()
    expect(page.locator(".alert-info")).to_contain_text("已恢复登录超时前填写的内容")
    expect(sheet.get_by_label("银行账号", exact=True)).to_have_value(GOOD_CARD)
    expect(sheet.get_by_label("联系人电话", exact=True)).to_have_value("13812341234")
    screenshot(page, "phone-session-expired-restored")
    sheet.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    sheet.get_by_role("button", name="确定").click()
    expect(page.locator(".alert-success")).to_contain_text("退费申请已提交")


def test_pc_a_session_ending_while_typing_keeps_the_dialog_as_typed(open_page, applicant_site):
    site = applicant_site
    person_id, phone = person_with_payment(site)
    page = open_page()
    page.goto(site["base"] + "/etax/pension?year=2021")
    login_here(page, phone)
    page.locator("#pension-list tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    dialog = page.locator("#apply-dialog")
    dialog.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    dialog.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    dialog.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    dialog.get_by_label("联系人名称", exact=True).fill("邱世贵")

    end_sessions(site, "person", person_id)
    dialog.get_by_role("button", name="提交").click()

    expect(page).to_have_url(re.compile(r"/etax/login\?"))
    expect(page.locator("main")).to_contain_text("登录已超时，请重新登录")
    login_here(page, phone)
    dialog = page.locator("#apply-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("合计 700.00 元")
    expect(dialog.get_by_label("银行账号", exact=True)).to_have_value(GOOD_CARD)
    expect(dialog.get_by_label("联系人名称", exact=True)).to_have_value("邱世贵")
    screenshot(page, "pc-session-expired-restored")
    dialog.get_by_label("联系人电话", exact=True).fill("13812341234")
    dialog.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")


# --------------------------------------------------------------------------- the phone


def test_phone_a_unit_gets_its_functions_and_every_tile_leads_somewhere(open_page, applicant_site):
    site = applicant_site

    def build(s):
        u = f.make_unit(s, name="手机村村民委员会", password=f.PASSWORD)
        f.make_unit_payment(s, u, [f.make_person(s, name="张三")], year=2022)
        return u.tax_id

    tax_id = seed(site, build)
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/")
    for tile in page.locator(".m-grid a.m-tile").all():
        assert tile.get_attribute("href") not in ("/m/", "/m")
    page.goto(site["base"] + "/m/login")
    page.locator("label", has_text="单位业务（村组）").click()
    page.get_by_label("纳税人识别号", exact=True).fill(tax_id)
    page.get_by_label("密码", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("main")).not_to_contain_text("无权使用此功能")
    expect(page.locator("main")).to_contain_text("您以单位（村组）身份登录")
    screenshot(page, "phone-unit-functions")
    page.get_by_role("link", name=re.compile("城乡居民社会保险费退费（养老）（村组）")).click()
    expect(page).to_have_url(re.compile(r"/etax/unit$"))
    expect(page.locator("h1")).to_contain_text("村组")


# --------------------------------------------------------------------------- the wide grid


def test_pc_deposit_grid_draft_is_checked_and_summed_up_above_the_grid(open_page, applicant_site):
    site = applicant_site
    phone = str(next(_phones))
    seed(site, lambda s: f.make_person(s, name="李伊岚", password=f.PASSWORD, phone=phone).id)
    page = open_page()
    page.goto(site["base"] + "/etax/medical/deposit-report")
    login_here(page, phone)
    row = page.locator("tbody[data-report-rows] tr[data-row]").first
    row.locator("#r0-account_nature").select_option("1220")
    row.locator("#r0-account_name").fill("别人")
    row.locator("#r0-account_no").fill(GOOD_CARD)
    row.locator("#r0-opened_on").fill("2099-01-01")
    page.get_by_role("button", name="暂存").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link")).to_have_text(
        ["第1行 账户名称：账户名称必须与退费人名称一致", "第1行 开户日期：开户日期不能晚于今天"]
    )
    screenshot(page, "pc-deposit-grid-error-summary")
    summary.get_by_role("link", name=re.compile("开户日期")).click()
    expect(page).to_have_url(re.compile(r"#r0-opened_on$"))
    expect(page.locator("#r0-opened_on")).to_be_in_viewport()


def test_phone_saving_a_bank_account_checks_it_before_the_report_is_submitted(
    open_page, applicant_site
):
    site = applicant_site
    phone = str(next(_phones))
    seed(site, lambda s: f.make_person(s, name="李伊岚", password=f.PASSWORD, phone=phone).id)
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/medical/report/account")
    login_here(page, phone)
    page.goto(site["base"] + "/m/medical/report/account")
    page.get_by_label("账户名称", exact=True).fill("别人")
    page.get_by_label("开户日期", exact=True).fill("2099-01-01")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#f-account_name-error")).to_have_text("账户名称必须与退费人名称一致")
    expect(page.locator("#f-opened_on-error")).to_have_text("开户日期不能晚于今天")
    expect(page.get_by_label("账户名称", exact=True)).to_have_value("别人")
    screenshot(page, "phone-account-save-checked")
