"""Browser test of the 税务端 统计分析 in real Chromium: a supervisor opens the page from the
menu, reads the bar chart by county (its title, text alternative and a bar per county),
and exports the figures; a reviewer has no menu entry and is refused the page."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from tests import factories as f
from tests.conftest import NOW
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_officer_console import _pension_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(applicant_site: dict) -> dict:
    return applicant_site


@pytest.fixture
def new_page(applicant_browser):
    contexts = []

    def _new_page():
        context = applicant_browser.new_context(
            locale="zh-CN", viewport={"width": 1366, "height": 768}, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


def _officer(live, code: str, **roles: bool) -> str:
    with live["sessions"]() as s, s.begin():
        f.make_officer(s, code=code, region="420700", **roles)
    return code


def _login(page, live, code: str) -> None:
    page.goto(live["base"] + "/officer/login")
    page.get_by_label("税务人员代码").fill(code)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_label("动态口令").fill(f.otp(NOW))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r".*/officer/applications$"))


def test_a_supervisor_reads_the_county_chart_and_exports_the_figures(live, new_page):
    _pension_app(live, name="邱世贵")
    reviewer = new_page()
    _login(reviewer, live, _officer(live, "STATREV1"))
    assert reviewer.get_by_role("link", name="统计分析").count() == 0
    refused = reviewer.goto(f"{live['base']}/officer/stats")
    assert refused is not None and refused.status == 403

    boss = new_page()
    _login(boss, live, _officer(live, "STATSUP1", reviewer=False, supervisor=True))
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
    ARTIFACTS.mkdir(exist_ok=True)
    boss.screenshot(path=str(ARTIFACTS / "officer-stats.png"), full_page=True)

    with boss.expect_download() as download:
        boss.get_by_role("link", name="导出Excel").click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    by_region = {r[0]: r[2] for r in book["按地区"].iter_rows(min_row=2, values_only=True)}
    assert by_region["华容区"] == count
