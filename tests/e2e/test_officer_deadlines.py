"""The review clock in real Chromium (issue 11 part 2): the queue highlights the cases due
within 5 working days and the overdue ones, the 审核期限 filter lists just those, and a
reviewer sets a day of a year the holiday package does not know on 节假日设置."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from tests.e2e.conftest import OFFICE, add_officer, officer_login, pension_case, shot

from sirefund.models import CalendarDay

pytestmark = pytest.mark.e2e


def test_the_queue_highlights_due_and_overdue_cases_and_the_filter_lists_them(live, open_page):
    # The fixed clock's today is Tuesday 2026-03-10; Spring Festival and its 调休 counted.
    overdue = pension_case(live, at=datetime(2026, 1, 9, 2, 0, tzinfo=UTC), name="张桂兰")
    five_left = pension_case(live, at=datetime(2026, 1, 28, 2, 0, tzinfo=UTC), name="王秀英")
    six_left = pension_case(live, at=datetime(2026, 1, 29, 2, 0, tzinfo=UTC), name="刘德明")
    page = open_page(OFFICE)
    officer_login(page, live, add_officer(live))

    due_row = page.locator("tr.due-soon", has=page.locator(f"#pick-{five_left}"))
    assert "即将到期" in due_row.inner_text()
    assert "剩余5个工作日" in due_row.locator("td.days").get_attribute("title")
    assert page.locator("tr.overdue", has=page.locator(f"#pick-{overdue}")).count() == 1
    plain = page.locator("tbody tr", has=page.locator(f"#pick-{six_left}"))
    assert plain.get_attribute("class") == ""

    page.get_by_label("审核期限", exact=True).select_option("5")
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(re.compile(r".*due_within=5.*"))
    assert page.locator(f"#pick-{five_left}").is_visible()
    assert page.locator(f"#pick-{overdue}").is_visible()
    assert page.locator(f"#pick-{six_left}").count() == 0
    shot(page, "queue-due-within-5")


def test_a_reviewer_sets_a_2027_holiday_on_the_calendar_page(live, open_page):
    page = open_page(OFFICE)
    officer_login(page, live, add_officer(live))
    page.get_by_role("link", name="节假日设置").click()
    page.get_by_label("年度", exact=True).fill("2027")
    page.get_by_role("button", name="查询", exact=True).click()
    assert "尚未收录" in page.locator("#not-published").inner_text()

    page.get_by_label("日期", exact=True).fill("2027-02-05")
    page.get_by_label("上班/休息", exact=True).select_option("holiday")
    page.get_by_label("说明", exact=True).fill("春节")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r".*year=2027.*done=calendar_saved"))
    row = page.locator("tr", has=page.get_by_text("2027-02-05"))
    assert "休息" in row.inner_text() and "春节" in row.inner_text()
    with live["sessions"]() as s:
        assert s.get(CalendarDay, date(2027, 2, 5)).is_workday is False
    shot(page, "calendar-2027")
