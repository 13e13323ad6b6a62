"""Every applicant flow of the manual, end to end in real Chromium: 1.2.1 (PC person pension),
1.2.2 (PC village unit batch), 2.2 (PC medical with the deposit account report), 1.1 and 2.1
(phone, 390x844). Each test arranges its own rows, walks the screens with the keyboard-visible
labels and buttons of the manual, checks what the database recorded, and saves a screenshot of
its final screen under test-artifacts/.
"""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from tests import factories as f
from tests.e2e.conftest import PHONE, screenshot

from sirefund.domain.workflow import ApplicationStatus
from sirefund.models import Application

pytestmark = pytest.mark.e2e

GOOD_CARD = "6228480402564890018"
_phones = itertools.count(13700000001)


def seed(site, build):
    with site["sessions"]() as s, s.begin():
        return build(s)


def applications(site, **where) -> list[Application]:
    with site["sessions"]() as s:
        query = select(Application).order_by(Application.id)
        for key, value in where.items():
            query = query.where(getattr(Application, key) == value)
        return list(s.execute(query).scalars())


def login_pc(page, site, *, kind: str, login: str) -> None:
    page.goto(site["base"] + "/etax/")
    page.locator(".account-bar").get_by_role("link", name="登录").click()
    page.locator("label", has_text="单位业务（村组）" if kind == "unit" else "自然人业务").click()
    label = "纳税人识别号" if kind == "unit" else "居民身份证号码/手机号码/用户名"
    page.get_by_label(label, exact=True).fill(login)
    page.get_by_label("密码", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".account-bar")).to_contain_text("退出")


def go_to_other_declarations(page) -> None:
    """首页 → 办税中心 → 税费申报及缴纳 → 其他申报."""
    page.locator(".main-nav").get_by_role("link", name="办税中心").click()
    page.get_by_role("link", name="税费申报及缴纳").click()
    page.get_by_role("link", name="其他申报").click()
    crumbs = page.locator(".breadcrumbs li")
    expect(crumbs).to_have_text(["首页", "办税中心", "税费申报及缴纳", "其他申报"])


# --------------------------------------------------------------------------- 1.2.1 PC person


def test_pc_person_pension_apply_errors_cancel_reapply_and_progress(open_page, applicant_site):
    site = applicant_site
    phone = str(next(_phones))

    def build(s):
        p = f.make_person(s, name="邱世贵", password=f.PASSWORD, phone=phone)
        f.make_pension_payment(s, p, amount_fen=100000, year=2019, arrival_status="abnormal")
        f.make_pension_payment(s, p, amount_fen=50000, year=2019, arrival_status="arrived")
        f.make_pension_payment(s, p, amount_fen=70000, year=2021)
        return p.id, p.id_number

    person_id, id_number = seed(site, build)
    page = open_page()
    login_pc(page, site, kind="person", login=phone)
    go_to_other_declarations(page)
    page.get_by_role("link", name="城乡居民社会保险费退费（养老）").first.click()
    crumbs = page.locator(".breadcrumbs")
    for word in (
        "首页",
        "办税中心",
        "税费申报及缴纳",
        "其他申报",
        "城乡居民社会保险费退费（养老）",
    ):
        expect(crumbs).to_contain_text(word)

    page.get_by_label("缴费年度:").select_option("2019")
    page.get_by_role("button", name="查询", exact=True).click()
    table = page.locator("#pension-list table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.locator(".pager-summary")).to_have_text("当前显示第 1 到 2 条 共 2 条记录")
    expect(table).not_to_contain_text(id_number)

    # The arrived payment: the manual's reason, no dialog.
    table.locator("tbody tr", has_text="500.00").get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    expect(page.locator("[data-live-message]")).to_have_text(
        "该缴费已到账，不能自行申请退费，请联系税务人员发起退费申请"
    )
    table.locator("tbody tr", has_text="500.00").get_by_role("checkbox").uncheck()

    row = table.locator("tbody tr", has_text="1000.00")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    dialog = page.locator("#apply-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("已选择 1 条缴费记录，合计 1000.00 元")
    dialog.get_by_label("银行账号", exact=True).fill("12ab")
    dialog.get_by_label("联系人名称", exact=True).fill("邱世贵")
    dialog.get_by_role("button", name="提交").click()
    dialog = page.locator("#apply-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#d-bank_account_no-error")).to_have_text("银行账号应为6至32位数字")
    expect(dialog.locator("#d-bank_account_type-error")).to_have_text("请选择账户类型")
    expect(dialog.get_by_label("联系人名称", exact=True)).to_have_value("邱世贵")
    expect(dialog.get_by_label("账户类型", exact=True)).to_be_focused()

    dialog.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    dialog.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    dialog.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    dialog.get_by_label("联系人电话", exact=True).fill("13812341234")
    dialog.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    row = page.locator("#pension-list tbody tr", has_text="1000.00")
    expect(row).to_contain_text("已申请")
    expect(row).to_contain_text("待审核")
    expect(row).to_contain_text("未知")

    # 撤销退费 (the confirm question is answered yes), then apply again.
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="撤销退费").click()
    expect(page.locator(".alert-success")).to_contain_text("撤销成功")
    expect(page.locator("#pension-list tbody tr", has_text="1000.00")).to_contain_text("未申请")
    page.locator("#pension-list tbody tr", has_text="1000.00").get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    dialog = page.locator("#apply-dialog")
    dialog.get_by_label("账户类型", exact=True).select_option(label="存折")
    dialog.get_by_label("银行账号", exact=True).fill("420100123456")
    dialog.get_by_label("银行类别", exact=True).select_option(label="中国邮政储蓄银行")
    dialog.get_by_label("联系人名称", exact=True).fill("邱世贵")
    dialog.get_by_label("联系人电话", exact=True).fill("027-87654321")
    dialog.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")

    page.get_by_role("link", name="进度查询").click()
    progress = page.locator("table.grid tbody tr")
    expect(progress).to_have_count(2)
    expect(progress.first).to_contain_text("已申请")
    # The cancelled application itself says 已撤销; its payment (above) is 未申请 again.
    expect(progress.nth(1)).to_contain_text("已撤销")
    expect(page.locator("table.grid")).to_contain_text("电子税务局")
    screenshot(page, "pc-pension-progress")

    made = applications(site, person_id=person_id)
    assert [a.status for a in made] == [
        ApplicationStatus.CANCELLED,
        ApplicationStatus.PENDING_REVIEW,
    ]
    assert {a.channel for a in made} == {"web"}


def test_pc_pension_dialog_works_without_javascript(open_page, applicant_site):
    site = applicant_site
    phone = str(next(_phones))

    def build(s):
        p = f.make_person(s, password=f.PASSWORD, phone=phone)
        f.make_pension_payment(s, p, amount_fen=70000, year=2025)
        return p.id

    person_id = seed(site, build)
    page = open_page(javascript=False)
    login_pc(page, site, kind="person", login=phone)
    page.goto(site["base"] + "/etax/pension")
    page.locator("#pension-list tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    dialog = page.locator("#apply-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    dialog.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    dialog.get_by_label("银行类别", exact=True).select_option(label="中国建设银行")
    dialog.get_by_label("联系人名称", exact=True).fill("邱世贵")
    dialog.get_by_label("联系人电话", exact=True).fill("13812341234")
    dialog.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    screenshot(page, "pc-pension-no-javascript")
    assert [a.channel for a in applications(site, person_id=person_id)] == ["web"]


# --------------------------------------------------------------------------- 1.2.2 PC unit


def test_pc_unit_batch_panes_save_progress_drilldown_and_batch_cancel(open_page, applicant_site):
    site = applicant_site

    def build(s):
        u = f.make_unit(s, name="鄂城区新庙村村民委员会", password=f.PASSWORD)
        people = [
            f.make_person(s, name=n) for n in ("张三", "李四", "王五", "赵六", "钱七", "孙八")
        ]
        f.make_unit_payment(s, u, people, year=2022, month=1, line_amount_fen=20000)
        f.make_unit_payment(s, u, people[:2], year=2022, month=2, payment_type="normal")
        return u.id, u.tax_id

    unit_id, tax_id = seed(site, build)
    page = open_page()
    login_pc(page, site, kind="unit", login=tax_id)
    go_to_other_declarations(page)
    page.get_by_role("link", name="城乡居民社会保险费退费（养老）（村组）").click()
    expect(page.locator(".breadcrumbs")).to_contain_text("城乡居民社会保险费退费（养老）（村组）")
    page.get_by_label("缴费年度：").select_option("2022")
    page.get_by_label("缴费类型：").select_option(label="村集体补助")
    page.get_by_role("button", name="可退费查询").click()
    rows = page.locator("#unit-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("1200.00")
    rows.first.get_by_role("link", name=re.compile("退费")).click()

    amount = page.get_by_label("缴费金额", exact=True)
    left = page.locator("[data-pane=left] tbody")
    right = page.locator("[data-pane=right] tbody")
    expect(amount).to_have_value("0.00")
    left.locator("tr", has_text="张三").get_by_role("checkbox").check()
    left.locator("tr", has_text="李四").get_by_role("checkbox").check()
    page.get_by_role("button", name="添加", exact=True).click()
    expect(right.locator("tr[data-line]")).to_have_count(2)
    expect(amount).to_have_value("400.00")
    page.get_by_role("button", name="全部添加").click()
    expect(right.locator("tr[data-line]")).to_have_count(6)
    expect(left.locator("tr[data-line]")).to_have_count(0)
    expect(amount).to_have_value("1200.00")
    right.locator("tr", has_text="孙八").get_by_role("checkbox").check()
    page.get_by_role("button", name="撤销", exact=True).click()
    expect(amount).to_have_value("1000.00")
    page.get_by_role("button", name="全部撤销").click()
    expect(amount).to_have_value("0.00")
    page.get_by_role("button", name="全部添加").click()
    right.locator("tr", has_text="孙八").get_by_role("checkbox").check()
    page.get_by_role("button", name="撤销", exact=True).click()
    expect(amount).to_have_value("1000.00")

    # 保存 with the maintenance area half filled: errors, persons and typing kept.
    page.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    page.get_by_role("button", name="保存").first.click()
    expect(page.locator("#f-bank_account_name-error")).to_have_text("请填写银行账户名称")
    expect(page.get_by_label("银行账号", exact=True)).to_have_value(GOOD_CARD)
    expect(page.get_by_label("缴费金额", exact=True)).to_have_value("1000.00")
    expect(page.locator("[data-pane=right] tbody tr[data-line]")).to_have_count(5)

    page.get_by_label("银行账户名称", exact=True).fill("鄂城区新庙村村民委员会")
    page.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    page.get_by_label("联系人名称", exact=True).fill("王会计")
    page.get_by_label("联系人电话", exact=True).fill("13812345678")
    page.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    page.get_by_role("button", name="保存").first.click()

    expect(page.locator(".alert-success")).to_contain_text("保存成功")
    progress = page.locator("#progress-list tbody tr")
    expect(progress).to_have_count(5)
    expect(progress.first).to_contain_text("未申请")
    expect(progress.first).to_contain_text("待审核")
    made = applications(site, unit_id=unit_id)
    assert len(made) == 5 and len({a.batch_id for a in made}) == 1
    assert {a.channel for a in made} == {"web"}

    progress.first.get_by_role("link", name=re.compile("退费人数")).click()
    detail = page.locator("table.grid")
    for word in (
        "姓名",
        "证件号码",
        "个人编号",
        "缴费金额",
        "税款所属期起",
        "税款所属期止",
        "200.00",
    ):
        expect(detail).to_contain_text(word)
    page.get_by_role("link", name="返回").click()

    page.locator("#progress-list tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="撤销退费").click()
    expect(page.locator(".alert-success")).to_have_text(
        "撤销成功，同一批操作的退费申请已全部撤销。"
    )
    expect(page.locator("#progress-list tbody tr", has_text="待审核")).to_have_count(0)
    screenshot(page, "pc-unit-progress")
    assert {a.status for a in applications(site, unit_id=unit_id)} == {ApplicationStatus.CANCELLED}


# --------------------------------------------------------------------------- 2.2 PC medical


def fill_report_row(page, i: int = 0) -> None:
    row = page.locator("tbody[data-report-rows] tr[data-row]").nth(i)
    row.locator(f"#r{i}-account_nature").select_option("1220")
    row.locator(f"#r{i}-division_code").select_option("420700")
    row.locator(f"#r{i}-bank_category").select_option("103")
    row.locator(f"#r{i}-bank_branch").fill("中国农业银行股份有限公司鄂州鄂城支行")
    row.locator(f"#r{i}-account_no").fill(GOOD_CARD)
    row.locator(f"#r{i}-opened_on").fill("2020-01-01")


def test_pc_medical_choose_registration_report_draft_submit_apply_and_progress(
    open_page, applicant_site
):
    site = applicant_site

    def build(s):
        p = f.make_person(s, name="李伊岚", password=f.PASSWORD)
        r1 = f.make_registration(s, p)
        r2 = f.make_registration(
            s, p, agency_name="华容区医疗保障局(城乡医疗)", agency_code="420703YB"
        )
        f.make_medical_payment(s, r1, year=2026)
        f.make_medical_payment(s, r2, year=2026, medical_fen=38000, ltc_fen=2000)
        return p.id, p.id_number

    person_id, id_number = seed(site, build)
    page = open_page()
    login_pc(page, site, kind="person", login=id_number)
    go_to_other_declarations(page)
    page.get_by_role("link", name="城乡居民医疗保险费退费").click()

    choice = page.locator("#reg-dialog")
    expect(choice).to_be_visible()
    expect(choice).to_contain_text("申报机构名称")
    choice.locator("tr", has_text="华容区医疗保障局(城乡医疗)").get_by_role("radio").check()
    choice.get_by_role("button", name="确定").click()
    expect(page.get_by_label("参保年度:")).to_have_value("2026")
    expect(page.locator("table.info")).to_contain_text("华容区医疗保障局(城乡医疗)")
    rows = page.locator("#medical-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("400.00")
    expect(rows.first).to_contain_text("20.00")

    rows.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    prompt = page.locator("#no-account")
    expect(prompt).to_contain_text("未查询到存款报告账户信息")
    prompt.get_by_role("link", name="确定").click()

    expect(page.locator("h1")).to_contain_text("社会保险费缴费人存款账户账号报告")
    rows = page.locator("tbody[data-report-rows] tr[data-row]")
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="+ 添加").click()
    expect(rows).to_have_count(2)
    rows.nth(1).locator("input[name=selected_rows]").check()
    page.get_by_role("button", name="- 删除").click()
    expect(rows).to_have_count(1)
    fill_report_row(page)
    page.get_by_label("经办人", exact=True).fill("李伊岚")
    page.get_by_role("button", name="暂存").click()
    expect(page.locator(".alert-success")).to_have_text("暂存成功。")
    expect(page.locator("#r0-account_no")).to_have_value(GOOD_CARD)
    page.get_by_role("button", name="提交").click()

    expect(page.locator(".alert-success")).to_have_text("存款账户账号报告提交成功。")
    expect(page.locator("h1")).to_contain_text("城乡居民医疗社保费退费申请")
    info = page.locator("table.info")
    expect(info).to_contain_text("李伊岚")
    expect(info).to_contain_text("鄂州市")
    expect(info).to_contain_text("中国农业银行股份有限公司鄂州鄂城支行")
    expect(info).to_contain_text("***************0018")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#f-handler_phone-error")).to_have_text("请填写办理人电话")
    page.get_by_label("办税人电话", exact=True).fill("13812341234")
    page.get_by_label("退费理由", exact=True).select_option(label="在外地参保")
    page.get_by_label("退费理由说明").fill("已在广东参保")
    page.get_by_role("button", name="提交").click()

    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    table = page.get_by_role("table", name="城乡居民医保社保费退费进度")
    for word in (
        "缴费所属期起",
        "缴费所属期止",
        "退费申请日期",
        "退费金额",
        "医疗金额",
        "长护金额",
        "银行帐号",
        "申请理由",
        "税务机关意见",
        "社保部门核验结果",
        "社保部门核验时间",
        "退费日期",
        "银行退付结果",
        "2026-03-10 17:30:00",
        "400.00",
        "在外地参保：已在广东参保",
        "***************0018",
        "已申请",
    ):
        expect(table).to_contain_text(word)
    screenshot(page, "pc-medical-progress")
    made = applications(site, person_id=person_id)
    assert (
        len(made) == 1 and made[0].channel == "web" and made[0].reason_code == "insured_elsewhere"
    )


# --------------------------------------------------------------------------- 1.1 phone pension


def login_phone(page, *, login: str) -> None:
    expect(page).to_have_url(re.compile(r"/m/login"))
    page.get_by_label("居民身份证号码/手机号码/用户名", exact=True).fill(login)
    page.get_by_label("密码", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()


def go_to_social_insurance_refunds(page, site, *, login: str) -> None:
    """首页 → 更多功能 → 退税 → 社保费退费 (logging in on the way)."""
    page.goto(site["base"] + "/m/")
    page.locator(".m-grid").get_by_role("link", name="更多功能").click()
    page.locator(".m-grid").get_by_role("link", name="退税").click()
    page.get_by_role("link", name=re.compile("社保费退费")).click()
    login_phone(page, login=login)
    expect(page.locator(".appbar-title")).to_have_text("社保费退费")


def test_phone_pension_query_apply_in_the_popup_progress_and_cancel(open_page, applicant_site):
    site = applicant_site
    phone = str(next(_phones))

    def build(s):
        p = f.make_person(s, name="邱世贵", password=f.PASSWORD, phone=phone)
        f.make_pension_payment(s, p, amount_fen=70000, year=2021)
        f.make_pension_payment(s, p, amount_fen=30000, year=2020)
        return p.id

    person_id = seed(site, build)
    page = open_page(PHONE)
    go_to_social_insurance_refunds(page, site, login=phone)
    page.get_by_role("link", name=re.compile("城乡居民养老社保费退费")).click()
    page.get_by_label("缴费年度", exact=True).select_option("2021")
    page.get_by_role("button", name="可退费信息查询").click()
    cards = page.locator("section.detail")
    expect(cards).to_have_count(1)
    for word in (
        "缴费金额",
        "700.00元",
        "税款所属期",
        "20210101—20211231",
        "缴费渠道",
        "楚税通",
        "退费状态",
        "未申请",
        "审核状态",
        "审核结果",
    ):
        expect(cards.first).to_contain_text(word)

    cards.first.get_by_role("link", name="申请退费").click()
    sheet = page.locator("#apply-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("退费金额 700.00 元")
    sheet.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    sheet.get_by_label("银行账号", exact=True).fill(GOOD_CARD)
    sheet.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    sheet.get_by_label("联系人名称", exact=True).fill("邱世贵")
    sheet.get_by_label("联系人电话", exact=True).fill("1381234")
    sheet.get_by_role("button", name="确定").click()
    sheet = page.locator("#apply-sheet")
    expect(sheet.locator("#d-contact_phone-error")).to_have_text("联系电话格式不正确")
    expect(sheet.get_by_label("银行账号", exact=True)).to_have_value(GOOD_CARD)
    sheet.get_by_label("联系人电话", exact=True).fill("13812341234")
    sheet.get_by_role("button", name="确定").click()

    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    card = page.locator("section.detail").first
    for word in ("已申请", "待审核", "未知"):
        expect(card).to_contain_text(word)
    assert [a.channel for a in applications(site, person_id=person_id)] == ["mobile_app"]

    card.get_by_role("button", name="撤销退费").click()
    expect(page.locator(".alert-success")).to_contain_text("撤销成功")
    page.get_by_role("button", name="可退费信息查询").click()
    expect(page.locator("section.detail").first).to_contain_text("未申请")
    page.get_by_role("button", name="退费进度查询").click()
    expect(page.locator("section.detail").first).to_contain_text("已撤销")
    screenshot(page, "phone-pension-progress")
    assert applications(site, person_id=person_id)[0].status == ApplicationStatus.CANCELLED


# --------------------------------------------------------------------------- 2.1 phone medical


def test_phone_medical_confirm_registration_report_new_record_apply_and_progress(
    open_page, applicant_site
):
    site = applicant_site
    phone = str(next(_phones))

    def build(s):
        p = f.make_person(s, name="邱世贵", password=f.PASSWORD, phone=phone)
        reg = f.make_registration(
            s, p, agency_name="华容区医疗保障局(城乡医疗)", agency_code="420703YB"
        )
        f.make_medical_payment(s, reg, year=2026)
        return p.id

    person_id = seed(site, build)
    page = open_page(PHONE)
    go_to_social_insurance_refunds(page, site, login=phone)
    page.get_by_role("link", name=re.compile("城乡居民医保社保费退费")).click()
    expect(page.locator(".m-choices")).to_contain_text("华容区医疗保障局(城乡医疗)")
    page.get_by_role("button", name="确认").click()

    expect(page.locator(".appbar-title")).to_have_text("城乡居民医保可退费信息查询")
    expect(page.locator(".kv").first).to_contain_text("华容区医疗保障局(城乡医疗)")
    expect(page.get_by_label("缴费年度", exact=True)).to_have_value("2026")
    page.get_by_role("button", name="可退费信息查询").click()
    card = page.locator("section.detail").first
    expect(card).to_contain_text("350.00元")
    expect(card.get_by_role("checkbox")).to_be_checked()
    page.get_by_role("button", name="退费", exact=True).click()

    prompt = page.locator("#no-account")
    expect(prompt).to_contain_text("未查询到存款账户报告信息")
    prompt.get_by_role("link", name="确定").click()

    expect(page.locator(".card-title").first).to_have_text("社会保险费缴费人存款账户账号报告")
    page.get_by_label("经办人", exact=True).fill("邱小贵")
    page.get_by_role("button", name="新增记录").click()
    page.get_by_label("账户性质", exact=True).select_option(label="1220 个人储蓄账户")
    page.get_by_label("行政区划", exact=True).select_option("420700")
    page.get_by_label("请选择银行行别", exact=True).select_option("103")
    page.get_by_label("请选择开户银行", exact=True).fill("中国农业银行股份有限公司鄂州鄂城支行")
    expect(page.get_by_label("账户名称", exact=True)).to_have_value("邱世贵")
    page.get_by_label("账号", exact=True).fill(GOOD_CARD)
    page.get_by_label("开户日期", exact=True).fill("2023-01-01")
    page.get_by_role("button", name="保存").click()

    expect(page.locator(".alert-success")).to_contain_text("银行账户信息已保存")
    record = page.locator(".m-record")
    for word in ("新增", "湖北省(鄂州市)", "中国农业银行", "人民币元", "***************0018"):
        expect(record).to_contain_text(word)
    expect(page.get_by_label("经办人", exact=True)).to_have_value("邱小贵")
    page.get_by_role("button", name="提交").click()

    expect(page.locator(".alert-success")).to_have_text("存款账户账号报告提交成功。")
    expect(page.locator(".m-choices")).to_contain_text("***************0018")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".appbar-title")).to_have_text("城乡居民医保社保退费信息填写")
    page.get_by_label("办理人电话", exact=True).fill("13812341234")
    page.get_by_label("退费理由", exact=True).select_option(label="重复缴费")
    page.get_by_role("button", name="退费").click()

    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    card = page.locator("section.detail").first
    for word in (
        "费款所属期起",
        "2026-01-01",
        "费款所属期止",
        "2026-12-31",
        "退费申请日期",
        "2026-03-10 17:30:00",
        "缴费金额",
        "350.00",
        "长护金额",
        "银行账号",
        "***************0018",
        "申请理由",
        "重复缴费",
        "税务机关意见",
        "社保部门核验结果",
        "社保部门核验时间",
        "退费日期",
        "银行退付结果",
    ):
        expect(card).to_contain_text(word)
    screenshot(page, "phone-medical-progress")
    made = applications(site, person_id=person_id)
    assert len(made) == 1 and made[0].channel == "mobile_app"
