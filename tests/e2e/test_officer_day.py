"""An officer's day in real Chromium at 1366×768 (issue 11, part 1): the queue fits the
screen with its 操作 column (in 关怀版 too), opens on 待审核 with the longest-waiting first,
finds a case by name, and ten cases are cleared with 通过并下一条 keeping the filters; J / K
move through the queue. Screenshots under test-artifacts/officer-day-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from tests.e2e.conftest import OFFICE, add_officer, officer_login, pension_case, shot

from sirefund.models import Application

pytestmark = pytest.mark.e2e

FITS = """() => {
  const table = document.querySelector("table.oc-queue");
  const box = table.parentElement;
  return {table: table.scrollWidth, box: box.clientWidth, page: document.documentElement.scrollWidth,
          screen: window.innerWidth};
}"""


def _cases(live, region: str, names: list[str], *, start: datetime) -> list[int]:
    """Cases of ``region`` submitted an hour apart from ``start``, each payee's own account."""
    return [
        pension_case(live, name=name, region=region, at=start + timedelta(hours=n))
        for n, name in enumerate(names)
    ]


def _statuses(live, ids: list[int]) -> list[str]:
    with live["sessions"]() as s:
        return [s.get(Application, i).status for i in ids]


@pytest.mark.parametrize("care", [False, True], ids=["normal", "care"])
def test_the_queue_fits_1366_by_768_with_its_action_column(live, open_page, care):
    # 大冶市 (420281): this test's own county, long names and document numbers included.
    _cases(live, "420281", ["欧阳建国", "司马秀英"], start=datetime(2026, 2, 2, 2, tzinfo=UTC))
    page = open_page(OFFICE)
    officer_login(page, live, add_officer(live, region="420281"))
    if care:
        page.get_by_role("link", name="关怀版", exact=True).click()
        page.wait_for_url(re.compile(r".*/officer/applications"))
        assert "care" in (page.locator("html").get_attribute("class") or "")
    sizes = page.evaluate(FITS)
    assert sizes["table"] <= sizes["box"], sizes
    assert sizes["page"] <= sizes["screen"], sizes
    action = page.get_by_role("link", name=re.compile(r"的详情$")).first
    box = action.bounding_box()
    assert box is not None and box["x"] + box["width"] <= OFFICE["width"]
    shot(page, "day-queue-care" if care else "day-queue")


def test_an_officer_searches_by_name_then_clears_ten_cases_with_approve_and_next(live, open_page):
    # 阳新县 (420222): this test's own county. Eleven cases; the officer clears ten in a row.
    names = [f"测试{n:02d}号" for n in range(11)]
    ids = _cases(live, "420222", names, start=datetime(2026, 2, 3, 1, tzinfo=UTC))
    decided_before = _cases(live, "420222", ["已审过"], start=datetime(2026, 2, 1, 1, tzinfo=UTC))
    with live["sessions"]() as s, s.begin():
        s.get(Application, decided_before[0]).status = "rejected"
    page = open_page(OFFICE)
    officer_login(page, live, add_officer(live, region="420222"))

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
    shot(page, "day-search")
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
    shot(page, "day-after-ten")
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
    shot(page, "day-queue-cleared")
