"""Issue 4's "Done when", in real Chromium against the real `sirefund demo` process (web,
worker and agency simulators in one process, the generated demo data, the real wall clock):
a newcomer logs in as the demo citizen, applies, logs in as an officer, approves, and watches
the citizen's progress reach 退费成功 — for the pension flow, the medical flow (deposit
account report, 社保部门核验结果, 银行退付结果) and the village unit's batch (人社处理状态 已退费).

Nothing is arranged behind the demo's back: every step goes through its screens, with the
logins it prints. The demo is the embedded SQLite database by design, so this runs once.
The three flows share one demo process (starting it costs seconds); each uses its own
payments, so they do not depend on each other's order.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Page, expect
from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, PC
from tests.integration.test_demo import _env, _free_port, _sirefund

from sirefund import demo
from sirefund import generate as gen

pytestmark = pytest.mark.e2e

PERSONS = 20
START_TIMEOUT = 60.0
# The simulators answer after a short delay and call back; the worker polls too. A refund
# that has not reached the bank within this many seconds is stuck, not slow.
SETTLE_TIMEOUT = 60.0
CARD = "6228480402564890018"
# The village's own account: a unit paid into a citizen's account would be a 风险提示.
UNIT_CARD = "6228480402564890042"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory, applicant_chromium: str) -> Iterator[str]:
    """`sirefund demo --port <free> --persons 20` in a fresh working directory; yields its base
    URL once /docs answers. At the end it is stopped with SIGTERM and must exit 0."""
    cwd = tmp_path_factory.mktemp("demo-e2e")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = cwd / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*_sirefund(), "demo", "--port", str(port), "--persons", str(PERSONS)],
            cwd=cwd,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"demo exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/docs", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/docs not up within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        printed = log.read_text()
        for login in (demo.DEMO_PHONE, gen.DEMO_UNIT_TAX_ID, "SW42001", demo.DEMO_PASSWORD):
            assert login in printed, f"the demo did not print {login!r}:\n{printed[-3000:]}"
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"demo did not stop within 30 s of SIGTERM:\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert proc.returncode == 0, f"demo exited {proc.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]


@pytest.fixture(scope="module")
def demo_browser(applicant_chromium: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=applicant_chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def newcomer(demo_browser) -> Iterator[Page]:
    """One browser window, as a newcomer would use: zh-CN, PC size, confirm questions answered
    yes; a JavaScript error on any page fails the test."""
    context = demo_browser.new_context(locale="zh-CN", viewport=PC)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("dialog", lambda dialog: dialog.accept())
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"demo-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --------------------------------------------------------------------------- steps


def login_etax(page: Page, base: str, *, kind: str, login: str) -> None:
    page.goto(base + "/etax/")
    page.locator(".account-bar").get_by_role("link", name="登录").click()
    page.locator("label", has_text="单位业务（村组）" if kind == "unit" else "自然人业务").click()
    label = "纳税人识别号" if kind == "unit" else "居民身份证号码/手机号码/用户名"
    page.get_by_label(label, exact=True).fill(login)
    page.get_by_label("密码", exact=True).fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".account-bar")).to_contain_text("退出")


def logout_etax(page: Page) -> None:
    page.locator(".account-bar").get_by_role("button", name="退出").click()
    expect(page.locator(".account-bar").get_by_role("link", name="登录")).to_be_visible()


def go_to_other_declarations(page: Page) -> None:
    """首页 → 办税中心 → 税费申报及缴纳 → 其他申报."""
    page.locator(".main-nav").get_by_role("link", name="办税中心").click()
    page.get_by_role("link", name="税费申报及缴纳").click()
    page.get_by_role("link", name="其他申报").click()
    expect(page.locator(".breadcrumbs li")).to_have_text(
        ["首页", "办税中心", "税费申报及缴纳", "其他申报"]
    )


_last_step: dict[str, int] = {}


def fresh_otp(code: str) -> str:
    """The demo officer's current code, as the authenticator shows it on the wall clock; when
    this code was used already (a code is accepted once), wait for the next one."""
    secret = next(s for c, *_, s in demo.DEMO_OFFICERS if c == code)
    totp = pyotp.TOTP(secret)
    while (step := totp.timecode(datetime.now(UTC))) <= _last_step.get(code, -1):
        time.sleep(1)
    _last_step[code] = step
    return totp.generate_otp(step)


def login_officer(page: Page, base: str, code: str = "SW42001") -> None:
    page.goto(base + "/officer/applications")
    expect(page).to_have_url(re.compile(r"/officer/login"))
    page.get_by_label("税务人员代码").fill(code)
    page.get_by_label("密码").fill(demo.DEMO_PASSWORD)
    page.get_by_label("动态口令").fill(fresh_otp(code))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r".*/officer/applications$"))


def logout_officer(page: Page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/officer/login"))


def pending_queue(page: Page, kind: str) -> None:
    page.get_by_label("类型", exact=True).select_option(kind)
    page.get_by_label("状态", exact=True).select_option("pending_review")
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(re.compile(rf".*kind={kind}.*"))


def approve_one(page: Page, amount: str, opinion: str) -> None:
    """From the filtered queue: 详情 of the demo citizen's row of `amount`, then 审核通过."""
    row = page.locator("table.oc-queue tbody tr", has_text=amount)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(gen.DEMO_PERSON_NAME)
    expect(row).to_contain_text("待审核")
    row.get_by_role("link", name="详情").click()
    page.get_by_label("税务机关意见", exact=True).fill(opinion)
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_url(re.compile(r".*done=approved$"))
    expect(page.locator(".alert-success")).to_contain_text("审核通过")


def cells(table, row) -> dict[str, str]:
    """One row of a grid as {column heading: cell text}."""
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    texts = [t.strip() for t in row.locator("td").all_inner_texts()]
    assert len(headers) == len(texts), (headers, texts)
    return dict(zip(headers, texts, strict=True))


def reload_until(
    page: Page, table, row, column: str, value: str, *, timeout: float = SETTLE_TIMEOUT
) -> dict[str, str]:
    """Reload the page the way a waiting citizen does until `row` says `value` under
    `column`; returns the row's cells then."""
    deadline = time.monotonic() + timeout
    while True:
        expect(row).to_have_count(1)
        shown = cells(table, row)
        if shown.get(column) == value:
            return shown
        if time.monotonic() > deadline:
            shot(page, "stuck")
            raise AssertionError(
                f"{column} did not reach {value!r} within {timeout:.0f} s: {shown}"
            )
        time.sleep(1)
        page.reload()


def citizen_then_officer_then_citizen(
    page: Page,
    base: str,
    *,
    login: str,
    kind: str,
    apply: Callable[[], None],
    queue_kind: str,
    review: Callable[[], None],
) -> None:
    login_etax(page, base, kind=kind, login=login)
    apply()
    logout_etax(page)
    login_officer(page, base)
    pending_queue(page, queue_kind)
    review()
    logout_officer(page)
    login_etax(page, base, kind=kind, login=login)


# --------------------------------------------------------------------------- tests


def test_demo_citizen_pension_refund_is_approved_and_reaches_refund_success(demo_site, newcomer):
    base, page = demo_site, newcomer

    def apply() -> None:
        go_to_other_declarations(page)
        page.get_by_role("link", name="城乡居民社会保险费退费（养老）").first.click()
        page.get_by_label("缴费年度:").select_option("2025")
        page.get_by_role("button", name="查询", exact=True).click()
        # The demo citizen's 2025 payments: a not-arrived 1000.00 he may apply for himself.
        row = page.locator("#pension-list tbody tr", has_text="1000.00")
        expect(row).to_contain_text("未申请")
        row.get_by_role("checkbox").check()
        page.get_by_role("button", name="申请退费").click()
        dialog = page.locator("#apply-dialog")
        expect(dialog).to_contain_text("合计 1000.00 元")
        dialog.get_by_label("账户类型", exact=True).select_option(label="银行卡")
        dialog.get_by_label("银行账号", exact=True).fill(CARD)
        dialog.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
        dialog.get_by_label("联系人名称", exact=True).fill(gen.DEMO_PERSON_NAME)
        dialog.get_by_label("联系人电话", exact=True).fill(demo.DEMO_PHONE)
        dialog.get_by_role("button", name="提交").click()
        expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")

    def review() -> None:
        approve_one(page, "1000.00", "核实无误，同意退费")
        expect(page.locator("main")).to_contain_text("人社退费中")

    citizen_then_officer_then_citizen(
        page,
        base,
        login=demo.DEMO_PHONE,
        kind="person",
        apply=apply,
        queue_kind="pension",
        review=review,
    )
    page.goto(base + "/etax/pension/progress?year=2025")
    table = page.locator("table.grid")
    row = table.locator("tbody tr", has_text="1000.00")
    shown = reload_until(page, table, row, "退费状态", "退费成功")
    assert (shown["审核状态"], shown["审核结果"]) == ("审核完成", "通过"), shown
    assert shown["税务机关意见"] == "核实无误，同意退费", shown
    shot(page, "pension-refunded")


def test_demo_citizen_medical_refund_is_verified_paid_and_reaches_refund_success(
    demo_site, newcomer
):
    base, page = demo_site, newcomer

    def apply() -> None:
        go_to_other_declarations(page)
        page.get_by_role("link", name="城乡居民医疗保险费退费").click()
        # The demo runs on today's clock: pick the insurance year of the 2026 payment.
        page.get_by_label("参保年度:").select_option("2026")
        page.get_by_role("button", name="查询", exact=True).click()
        rows = page.locator("#medical-list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("350.00")
        rows.first.get_by_role("checkbox").check()
        page.get_by_role("button", name="申请退费").click()
        prompt = page.locator("#no-account")
        apply_form = page.locator("h1", has_text="城乡居民医疗社保费退费申请")
        expect(apply_form).to_be_visible()
        # No deposit account report yet: the application page says so; file one, as the
        # manual says, and come back.
        if prompt.is_visible():
            prompt.get_by_role("link", name="确定").click()
            expect(page.locator("h1")).to_contain_text("社会保险费缴费人存款账户账号报告")
            row = page.locator("tbody[data-report-rows] tr[data-row]").first
            row.locator("#r0-account_nature").select_option("1220")
            row.locator("#r0-division_code").select_option("420700")
            row.locator("#r0-bank_category").select_option("103")
            row.locator("#r0-bank_branch").fill("中国农业银行股份有限公司鄂州华容支行")
            row.locator("#r0-account_no").fill(CARD)
            row.locator("#r0-opened_on").fill("2020-01-01")
            page.get_by_label("经办人", exact=True).fill(gen.DEMO_PERSON_NAME)
            page.get_by_role("button", name="提交").click()
            expect(page.locator(".alert-success")).to_have_text("存款账户账号报告提交成功。")
        expect(apply_form).to_be_visible()
        expect(prompt).to_be_hidden()
        expect(page.locator("table.info")).to_contain_text("***************0018")
        page.get_by_label("办税人电话", exact=True).fill(demo.DEMO_PHONE)
        page.get_by_label("退费理由", exact=True).select_option(label="重复缴费")
        page.get_by_role("button", name="提交").click()
        expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")

    def review() -> None:
        approve_one(page, "350.00", "同意退费")

    citizen_then_officer_then_citizen(
        page,
        base,
        login=gen.DEMO_PERSON_ID_NUMBER,
        kind="person",
        apply=apply,
        queue_kind="medical",
        review=review,
    )
    page.goto(base + "/etax/medical/progress?insurance_year=2026")
    table = page.get_by_role("table", name="城乡居民医保社保费退费进度")
    row = table.locator("tbody tr", has_text="350.00")
    cell = reload_until(page, table, row, "退费状态", "退费成功")
    assert cell["税务机关意见"] == "同意退费", cell
    assert cell["社保部门核验结果"] == "核验通过" and cell["社保部门核验时间"], cell
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cell["退费日期"]), cell
    assert cell["银行退付结果"] == "退付成功", cell
    assert cell["银行帐号"] == "***************0018", cell
    # The sixteen columns scroll sideways inside the page's fixed width: scroll to the end,
    # as the citizen would, so the picture shows 核验结果 through 退费状态.
    page.locator(".table-wrap", has=table).evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    shot(page, "medical-refunded")


def test_demo_village_unit_batch_of_two_is_batch_approved_and_shows_refunded(demo_site, newcomer):
    base, page = demo_site, newcomer
    two = ("王秀英", "张建国")

    def apply() -> None:
        go_to_other_declarations(page)
        page.get_by_role("link", name="城乡居民社会保险费退费（养老）（村组）").click()
        page.get_by_label("缴费年度：").select_option("2025")
        page.get_by_label("缴费类型：").select_option(label="村集体补助")
        page.get_by_role("button", name="可退费查询").click()
        rows = page.locator("#unit-list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("1200.00")
        rows.first.get_by_role("link", name=re.compile("退费")).click()
        left = page.locator("[data-pane=left] tbody")
        for name in two:
            left.locator("tr", has_text=name).get_by_role("checkbox").check()
        page.get_by_role("button", name="添加", exact=True).click()
        expect(page.locator("[data-pane=right] tbody tr[data-line]")).to_have_count(2)
        expect(page.get_by_label("缴费金额", exact=True)).to_have_value("400.00")
        page.get_by_label("银行账户名称", exact=True).fill(gen.DEMO_UNIT_NAME)
        page.get_by_label("账户类型", exact=True).select_option(label="银行卡")
        page.get_by_label("银行账号", exact=True).fill(UNIT_CARD)
        page.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
        page.get_by_label("联系人名称", exact=True).fill("王会计")
        page.get_by_label("联系人电话", exact=True).fill("13812345678")
        page.get_by_role("button", name="保存").first.click()
        expect(page.locator(".alert-success")).to_contain_text("保存成功")
        expect(page.locator("#progress-list tbody tr")).to_have_count(2)

    def review() -> None:
        rows = page.locator("table.oc-queue tbody tr")
        expect(rows).to_have_count(2)
        for name in two:
            rows.filter(has_text=name).get_by_role("checkbox").check()
        page.locator("#batch-opinion").fill("同意退费")
        page.get_by_role("button", name="批量通过").click()
        results = page.locator("section.oc-results")
        expect(results).to_contain_text("成功 2 条，失败 0 条")

    citizen_then_officer_then_citizen(
        page,
        base,
        login=gen.DEMO_UNIT_TAX_ID,
        kind="unit",
        apply=apply,
        queue_kind="unit_pension",
        review=review,
    )
    page.goto(base + "/etax/unit/progress?year=2025")
    table = page.locator("#progress-list table")
    expect(table.locator("tbody tr")).to_have_count(2)
    for i in range(2):
        shown = reload_until(
            page, table, table.locator("tbody tr").nth(i), "人社处理状态", "已退费"
        )
        assert shown["税务审核结果"] == "通过", shown
        assert shown["退费人数"] == "1" and shown["缴费金额"] == "200.00", shown
    shot(page, "unit-refunded")


# --------------------------------------------------------------------------- 退付失败 loop

SOMEONE_ELSES_CARD = "6228480402564890026"  # at the bank: 张三's
CLOSED_CARD = "6228480402564890034"  # at the bank: the citizen's own, but closed


def wait_for_text(page: Page, locator, text: str, *, timeout: float = SETTLE_TIMEOUT) -> None:
    """Reload as a waiting citizen does until `locator` shows `text`."""
    deadline = time.monotonic() + timeout
    while text not in locator.inner_text():
        if time.monotonic() > deadline:
            shot(page, "stuck")
            raise AssertionError(f"{text!r} not shown within {timeout:.0f} s")
        time.sleep(1)
        page.reload()


def test_demo_payout_to_another_holders_account_fails_and_is_corrected_on_pc_and_phone(
    demo_site, newcomer, demo_browser
):
    """The bank knows whose account a number is (its simulator's registry): the citizen's
    refund sent to 张三's card ends 退付失败（户名与账号不符）; he corrects it on the PC to a
    card of his that turns out closed (退付失败：账户已销户), then on the phone to a good one,
    and sees 退费成功 — approved once, HRSS asked once."""
    base, page = demo_site, newcomer
    registered = httpx.post(
        f"{base}/_agencies/_sim/accounts",
        json=[
            {
                "account_no": SOMEONE_ELSES_CARD,
                "holder_name": "张三",
                "holder_id": "420703199001010011",
            },
            {
                "account_no": CLOSED_CARD,
                "holder_name": gen.DEMO_PERSON_NAME,
                "holder_id": gen.DEMO_PERSON_ID_NUMBER,
                "state": "closed",
            },
        ],
        timeout=5,
    )
    assert registered.status_code == 200, registered.text

    def apply() -> None:
        go_to_other_declarations(page)
        page.get_by_role("link", name="城乡居民社会保险费退费（养老）").first.click()
        page.get_by_label("缴费年度:").select_option("2025")
        page.get_by_role("button", name="查询", exact=True).click()
        row = page.locator("#pension-list tbody tr", has_text="700.00")
        row.get_by_role("checkbox").check()
        page.get_by_role("button", name="申请退费").click()
        dialog = page.locator("#apply-dialog")
        dialog.get_by_label("账户类型", exact=True).select_option(label="银行卡")
        dialog.get_by_label("银行账号", exact=True).fill(SOMEONE_ELSES_CARD)
        dialog.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
        dialog.get_by_label("联系人名称", exact=True).fill(gen.DEMO_PERSON_NAME)
        dialog.get_by_label("联系人电话", exact=True).fill(demo.DEMO_PHONE)
        dialog.get_by_role("button", name="提交").click()
        expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")

    def review() -> None:
        row = page.locator("table.oc-queue tbody tr", has_text="700.00").filter(
            has_text=gen.DEMO_PERSON_NAME
        )
        expect(row).to_have_count(1)
        row.get_by_role("link", name="详情").click()
        expect(page.locator("main")).to_contain_text("***0026")
        page.get_by_label("税务机关意见", exact=True).fill("同意退费")
        # Another account than the citizen's earlier refunds: a 风险提示 the officer confirms.
        confirm = page.get_by_label("确认风险（已核实上述风险提示，仍审核通过）")
        if confirm.count():
            confirm.check()
        page.get_by_role("button", name="审核通过").click()
        page.wait_for_url(re.compile(r".*done=approved$"))

    citizen_then_officer_then_citizen(
        page,
        base,
        login=demo.DEMO_PHONE,
        kind="person",
        apply=apply,
        queue_kind="pension",
        review=review,
    )

    # PC: the failure and its reason, then the corrected-account form.
    page.goto(base + "/etax/pension/progress?year=2025")
    row = page.locator("table.grid tbody tr", has_text="700.00")
    wait_for_text(page, row, "户名与账号不符")
    expect(row).to_contain_text("退付失败")
    shot(page, "payout-failed-pc")
    row.get_by_role("link", name="重新提交账户").click()
    expect(page.locator("h1")).to_contain_text("重新提交账户")
    expect(page.locator("#failure-reason")).to_have_text("退付失败：户名与账号不符")
    expect(page.get_by_label("银行账户名称", exact=True)).to_have_value(gen.DEMO_PERSON_NAME)
    page.get_by_label("账户类型", exact=True).select_option(label="银行卡")
    page.get_by_label("银行账号", exact=True).fill(CLOSED_CARD)
    page.get_by_label("银行账户名称", exact=True).fill("张三")
    page.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
    page.get_by_role("button", name="提交").click()
    # Someone else's name is refused next to the field, nothing typed is lost.
    expect(page.locator("#f-bank_account_name-error")).to_have_text(
        "退费只能退至缴费人本人的银行账户：银行账户名称须与缴费人姓名一致"
    )
    expect(page.get_by_label("银行账号", exact=True)).to_have_value(CLOSED_CARD)
    shot(page, "reissue-form-pc")
    page.get_by_label("银行账户名称", exact=True).fill(gen.DEMO_PERSON_NAME)
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_have_text("账户已重新提交，银行将重新退付至新账户。")
    row = page.locator("table.grid tbody tr", has_text="700.00")
    wait_for_text(page, row, "账户已销户")

    # Phone: the second failure with its reason, corrected to a good card: 退费成功.
    context = demo_browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    phone = context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        phone.goto(base + "/m/pension?view=progress&year=2025")
        expect(phone).to_have_url(re.compile(r"/m/login"))
        phone.get_by_label("居民身份证号码/手机号码/用户名", exact=True).fill(demo.DEMO_PHONE)
        phone.get_by_label("密码", exact=True).fill(demo.DEMO_PASSWORD)
        phone.get_by_role("button", name="登录").click()
        phone.goto(base + "/m/pension?view=progress&year=2025")
        card = phone.locator("section.detail", has_text="700.00")
        expect(card).to_contain_text("退付失败：账户已销户")
        shot(phone, "payout-failed-phone")
        card.get_by_role("link", name="重新提交账户").click()
        expect(phone.locator("#failure-reason")).to_have_text("退付失败：账户已销户")
        phone.get_by_label("账户类型", exact=True).select_option(label="银行卡")
        phone.get_by_label("银行账号", exact=True).fill(CARD)
        phone.get_by_label("银行类别", exact=True).select_option(label="中国农业银行")
        phone.get_by_role("button", name="提交").click()
        expect(phone.locator(".alert-success")).to_have_text(
            "账户已重新提交，银行将重新退付至新账户。"
        )
        card = phone.locator("section.detail", has_text="700.00")
        wait_for_text(phone, card, "退费成功")
        shot(phone, "reissued-refunded-phone")
    finally:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"

    # HRSS was asked once; the bank three times, each to the account of that attempt.
    bookings = httpx.get(f"{base}/_agencies/_sim/bookings", timeout=5).json()["items"]
    # Only this refund was sent to the registered cards, so only its payouts failed.
    failed = {b["application_id"] for b in bookings if b["status"] == "failed"}
    assert len(failed) == 1, bookings
    mine = [b for b in bookings if b["application_id"] in failed]
    hrss = [b for b in mine if b["agency"] == "hrss"]
    bank = [b["status"] for b in mine if b["agency"] == "bank"]
    assert len(hrss) == 1 and bank == ["failed", "failed", "paid"], mine
