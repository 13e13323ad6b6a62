"""Browser test of the 税务端 统计分析 in real Chromium: a supervisor opens the page from the
menu, reads the bar chart by county (its title, text alternative and a bar per county),
and exports the figures; a reviewer has no menu entry and is refused the page."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from tests.e2e.conftest import OFFICE, add_officer, officer_login, pension_case, shot

pytestmark = pytest.mark.e2e


def test_a_supervisor_reads_the_county_chart_and_exports_the_figures(live, open_page):
    pension_case(live, name="邱世贵")
    reviewer = open_page(OFFICE)
    officer_login(reviewer, live, add_officer(live, "STATREV1"))
    assert reviewer.get_by_role("link", name="统计分析").count() == 0
    refused = reviewer.goto(f"{live['base']}/officer/stats")
    assert refused is not None and refused.status == 403

    boss = open_page(OFFICE)
    officer_login(boss, live, add_officer(live, "STATSUP1", reviewer=False, supervisor=True))
    boss.get_by_role("link", name="统计分析").click()
    boss.wait_for_url(re.compile(r".*/officer/stats$"))
    chart = boss.get_by_role("img", name=re.compile("按地区统计"))
    expect_text = chart.locator("desc").text_content() or ""
    assert "华容区" in expect_text and "笔" in expect_text
    assert chart.locator("g.bar rect").count() >= 1
    bar = chart.locator("g.bar").filter(has_text="华容区").first
    count = int(bar.locator("text.bar-value").text_content() or "0")
    assert count >= 1 and f"华容区{count}笔" in expect_text
    assert boss.get_by_role("img", name=re.compile("按申请月份趋势")).count() == 1
    shot(boss, "stats")

    with boss.expect_download() as download:
        boss.get_by_role("link", name="导出Excel").click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    by_region = {r[0]: r[2] for r in book["按地区"].iter_rows(min_row=2, values_only=True)}
    assert by_region["华容区"] == count
