"""Browser test of the 税务端 审计日志 in real Chromium: a reviewer's reveal made in the
console shows up for an auditor, filtered by application, and exports as .xlsx; a reviewer
does not see the menu entry and is refused the page."""

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
            locale="zh-CN", viewport={"width": 1440, "height": 900}, accept_downloads=True
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


def test_an_auditor_finds_a_reviewers_reveal_in_the_audit_log_and_exports_it(live, new_page):
    app_id = _pension_app(live, name="邱世贵")
    reviewer = new_page()
    _login(reviewer, live, _officer(live, "AUDREV1"))
    assert reviewer.get_by_role("link", name="审计日志").count() == 0
    reviewer.goto(f"{live['base']}/officer/applications/{app_id}")
    reviewer.locator("details.oc-reveal summary").first.click()
    reviewer.get_by_label("查看理由").first.fill("缴费人来电核对身份")
    reviewer.get_by_role("button", name="查看证件号码").click()
    reviewer.locator('[data-revealed="id_number"]').wait_for()
    refused = reviewer.goto(f"{live['base']}/officer/audit")
    assert refused is not None and refused.status == 403
    assert "仅审计人员可以查看审计日志" in reviewer.locator("main").inner_text()

    auditor = new_page()
    _login(auditor, live, _officer(live, "AUDIT01", reviewer=False, auditor=True))
    auditor.get_by_role("link", name="审计日志").click()
    auditor.get_by_label("申请编号").fill(str(app_id))
    auditor.get_by_role("button", name="查询").click()
    table = auditor.locator("table.oc-audit").inner_text()
    assert "查看完整信息" in table and "AUDREV1" in table and "缴费人来电核对身份" in table
    assert "127.0.0.1" in table
    ARTIFACTS.mkdir(exist_ok=True)
    auditor.screenshot(path=str(ARTIFACTS / "officer-audit-log.png"), full_page=True)

    with auditor.expect_download() as download:
        auditor.get_by_role("link", name="导出Excel").click()
    rows = list(
        load_workbook(io.BytesIO(download.value.path().read_bytes())).active.iter_rows(
            values_only=True
        )
    )
    assert rows[0][4] == "操作"
    assert {r[4] for r in rows[1:]} == {"查看完整信息", "申请状态变更"}
