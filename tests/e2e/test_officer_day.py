"""An officer's day in real Chromium at 1366×768 (issue 11, part 1): the queue fits the
screen with its 操作 column (in 关怀版 too), opens on 待审核 with the longest-waiting first,
finds a case by name, and ten cases are cleared with 通过并下一条 keeping the filters; J / K
move through the queue. Screenshots under test-artifacts/officer-day-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from tests import factories as f
from tests.conftest import NOW
from tests.e2e.conftest import ARTIFACTS
from tests.web.officer_helpers import own_account

from sirefund.models import Application
from sirefund.services import applications
from sirefund.services.applications import Actor

pytestmark = pytest.mark.e2e

ACCOUNT = "6228480402564890018"
SCREEN = {"width": 1366, "height": 768}
FITS = """() => {
  const table = document.querySelector("table.oc-queue");
  const box = table.parentElement;
  return {table: table.scrollWidth, box: box.clientWidth, page: document.documentElement.scrollWidth,
          screen: window.innerWidth};
}"""

_codes = iter(range(1, 10_000))


@pytest.fixture
def new_page(applicant_browser):
    contexts = []

    def _new_page():
        context = applicant_browser.new_context(locale="zh-CN", viewport=SCREEN)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield _new_page
    for context in contexts:
        context.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"officer-day-{name}.png"), full_page=True)


def _officer(live, region: str) -> str:
    code = f"DAY{next(_codes):03d}"
    with live["sessions"]() as s, s.begin():
        f.make_officer(s, code=code, name="李审核", region=region)
    return code


def _login(page, live, code: str) -> None:
    page.goto(live["base"] + "/officer/applications")
    page.get_by_label("税务人员代码").fill(code)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_label("动态口令").fill(f.otp(NOW))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r".*/officer/applications$"))


def _cases(live, region: str, names: list[str], *, start: datetime) -> list[int]:
    ids = []
    with live["sessions"]() as s, s.begin():
        for n, name in enumerate(names):
            person = f.make_person(s, name=name, region=region)
            pay = f.make_pension_payment(s, person)
            # Each payee's own account and phone: shared ones are 风险提示, not this test's.
            account, phone = own_account(s, person)
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
                contact_phone=phone,
            )
            at = start + timedelta(hours=n)
            ids.append(
                applications.create(s, application=app, actor=Actor.person(person.id), at=at).id
            )
    return ids


def _statuses(live, ids: list[int]) -> list[str]:
    with live["sessions"]() as s:
        return [s.get(Application, i).status for i in ids]


@pytest.mark.parametrize("care", [False, True], ids=["normal", "care"])
def test_the_queue_fits_1366_by_768_with_its_action_column(applicant_site, new_page, care):
    live = applicant_site
    # 大冶市 (420281): this test's own county, long names and document numbers included.
    _cases(live, "420281", ["欧阳建国", "司马秀英"], start=datetime(2026, 2, 2, 2, tzinfo=UTC))
    page = new_page()
    _login(page, live, _officer(live, "420281"))
    if care:
        page.get_by_role("link", name="关怀版", exact=True).click()
        page.wait_for_url(re.compile(r".*/officer/applications"))
        assert "care" in (page.locator("html").get_attribute("class") or "")
    sizes = page.evaluate(FITS)
    assert sizes["table"] <= sizes["box"], sizes
    assert sizes["page"] <= sizes["screen"], sizes
    action = page.get_by_role("link", name=re.compile(r"的详情$")).first
    box = action.bounding_box()
    assert box is not None and box["x"] + box["width"] <= SCREEN["width"]
    _shot(page, "queue-care" if care else "queue")


def test_an_officer_searches_by_name_then_clears_ten_cases_with_approve_and_next(
    applicant_site, new_page
):
    live = applicant_site
    # 阳新县 (420222): this test's own county. Eleven cases; the officer clears ten in a row.
    names = [f"测试{n:02d}号" for n in range(11)]
    ids = _cases(live, "420222", names, start=datetime(2026, 2, 3, 1, tzinfo=UTC))
    decided_before = _cases(live, "420222", ["已审过"], start=datetime(2026, 2, 1, 1, tzinfo=UTC))
    with live["sessions"]() as s, s.begin():
        s.get(Application, decided_before[0]).status = "rejected"
    page = new_page()
    _login(page, live, _officer(live, "420222"))

    # The queue opens on 待审核, the longest-waiting first.
    assert page.get_by_label("状态", exact=True).input_value() == "pending_review"
    first_row = page.locator("table.oc-queue tbody tr").first
    assert f"#pick-{ids[0]}" and first_row.locator(f"#pick-{ids[0]}").count() == 1
    assert page.locator(f"#pick-{decided_before[0]}").count() == 0

    # Search by name: one case; its application number opens it.
    page.get_by_label("快速查找").fill("测试05号")
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(re.compile(r".*q=.*"))
    rows = page.locator("table.oc-queue tbody tr")
    assert rows.count() == 1 and "测试05号" in rows.inner_text()
    _shot(page, "search")
    page.get_by_role("link", name=str(ids[5]), exact=True).click()
    page.wait_for_url(re.compile(rf".*/officer/applications/{ids[5]}\?.*q=.*"))
    assert "测试05号" in page.locator("main").inner_text()

    # Back to the whole pending queue, the first case, then 通过并下一条 ten times.
    page.goto(live["base"] + "/officer/applications")
    page.get_by_role("link", name=str(ids[0]), exact=True).click()
    page.wait_for_url(re.compile(rf".*/officer/applications/{ids[0]}\?.*status=pending_review"))
    # J and K move through the queue without deciding.
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf".*/officer/applications/{ids[1]}\?.*"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf".*/officer/applications/{ids[0]}\?.*"))
    for n in range(10):
        assert page.locator("h1").inner_text().find(str(ids[n])) >= 0
        if n % 2:
            page.get_by_role("button", name="通过并下一条").click()
        else:  # A puts the cursor in the opinion, Ctrl+Enter approves and goes on
            page.keyboard.press("a")
            page.keyboard.type("同意退费")
            page.keyboard.press("Control+Enter")
        page.wait_for_url(re.compile(rf".*/officer/applications/{ids[n + 1]}\?.*"))
        assert "审核通过" in page.locator("main").inner_text()
    assert "status=pending_review" in page.url
    _shot(page, "after-ten")
    assert _statuses(live, ids) == ["approved"] * 10 + ["pending_review"]

    # The last one: 退回并下一条 needs an opinion, then the queue is empty.
    page.get_by_role("button", name="退回并下一条").click()
    assert (
        "必须填写" in page.locator("main").inner_text()
        or "请填写" in page.locator("main").inner_text()
    )
    page.get_by_label("税务机关意见").fill("缴费记录与申请不符")
    page.get_by_role("button", name="退回并下一条").click()
    page.wait_for_url(re.compile(r".*/officer/applications\?.*done=queue_done"))
    assert "已没有待审核的申请" in page.locator("main").inner_text()
    assert _statuses(live, ids)[-1] == "rejected"
    _shot(page, "queue-cleared")
