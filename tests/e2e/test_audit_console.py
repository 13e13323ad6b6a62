"""Browser test of the 税务端 审计日志 in real Chromium: a reviewer's reveal made in the
console shows up for an auditor, filtered by application, and exports as .xlsx; a reviewer
does not see the menu entry and is refused the page."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from tests.e2e.conftest import WIDE, add_officer, officer_login, pension_case, shot

pytestmark = pytest.mark.e2e


def test_an_auditor_finds_a_reviewers_reveal_in_the_audit_log_and_exports_it(live, open_page):
    app_id = pension_case(live, name="邱世贵")
    reviewer = open_page(WIDE)
    officer_login(reviewer, live, add_officer(live, "AUDREV1"))
    assert reviewer.get_by_role("link", name="审计日志").count() == 0
    reviewer.goto(f"{live['base']}/officer/applications/{app_id}")
    reviewer.locator("details.oc-reveal summary").first.click()
    reviewer.get_by_label("查看理由").first.fill("缴费人来电核对身份")
    reviewer.get_by_role("button", name="查看证件号码").click()
    reviewer.locator('[data-revealed="id_number"]').wait_for()
    refused = reviewer.goto(f"{live['base']}/officer/audit")
    assert refused is not None and refused.status == 403
    assert "仅审计人员可以查看审计日志" in reviewer.locator("main").inner_text()

    auditor = open_page(WIDE)
    officer_login(auditor, live, add_officer(live, "AUDIT01", reviewer=False, auditor=True))
    auditor.get_by_role("link", name="审计日志").click()
    auditor.get_by_label("申请编号").fill(str(app_id))
    auditor.get_by_role("button", name="查询").click()
    table = auditor.locator("table.oc-audit").inner_text()
    assert "查看完整信息" in table and "AUDREV1" in table and "缴费人来电核对身份" in table
    assert "127.0.0.1" in table
    shot(auditor, "audit-log")

    with auditor.expect_download() as download:
        auditor.get_by_role("link", name="导出Excel").click()
    rows = list(
        load_workbook(io.BytesIO(download.value.path().read_bytes())).active.iter_rows(
            values_only=True
        )
    )
    assert rows[0][4] == "操作"
    assert {r[4] for r in rows[1:]} == {"查看完整信息", "申请状态变更"}
