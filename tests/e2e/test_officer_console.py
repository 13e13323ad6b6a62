"""Browser tests of the 税务端 console in real Chromium: queue, detail with the audited reveal,
approve, reject with opinion, batch approve, 发起退费 and the second officer's approval,
dispatch retry. Each test saves a screenshot of its final screen under test-artifacts/.

A live server (uvicorn in a thread) serves the real app over a migrated SQLite file; tests put
their own rows in through the factories, so they do not depend on each other's order.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from tests import factories as f
from tests.e2e.conftest import WIDE, add_officer, officer_login, pension_case, shot, status

from sirefund.domain.agencies import Agency
from sirefund.domain.reconciliation import StatementRow
from sirefund.models import Application, DispatchAttempt, OutboxMessage
from sirefund.services import reconciliation, review_decisions

pytestmark = pytest.mark.e2e

ACCOUNT = "6228480402564890018"


def test_the_queue_lists_masked_applications_with_overdue_ones_highlighted(live, open_page):
    old = pension_case(live, at=datetime(2026, 1, 9, 2, 0, tzinfo=UTC), name="张桂兰")
    recent = pension_case(live, name="刘德明")
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    row = page.locator("tr.overdue", has=page.locator(f"#pick-{old}"))
    assert "已超期" in row.inner_text()
    assert (
        "38 / 30" in row.inner_text()
    )  # the Spring Festival counted (tests/unit/test_calendar.py)
    assert page.locator(f"#pick-{recent}").is_visible()
    assert "当前显示第 1 到" in page.locator(".pager-summary").inner_text()
    page.get_by_label("类型", exact=True).select_option("pension")
    page.get_by_label("状态", exact=True).select_option("pending_review")
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(re.compile(r".*kind=pension.*"))
    assert page.locator(f"#pick-{old}").is_visible()
    with live["sessions"]() as s:
        old_account = s.get(Application, old).bank_account_no
    assert not page.get_by_text(old_account).count()
    shot(page, "queue")


def test_the_detail_shows_masked_data_and_reveals_the_full_id_once_with_a_reason(live, open_page):
    app_id = pension_case(live, name="邱世贵")
    with live["sessions"]() as s:
        full_id = s.get(Application, app_id).person.id_number
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    page.goto(f"{live['base']}/officer/applications/{app_id}")
    assert full_id not in page.content()
    assert page.get_by_text(full_id[:6] + "********" + full_id[-4:]).is_visible()
    page.locator("details.oc-reveal summary").first.click()
    page.get_by_role("button", name="查看证件号码").click()
    assert "请填写查看理由" in page.locator("#reveal-id_number-reason-error").inner_text()
    page.get_by_label("查看理由").first.fill("缴费人来电核对身份")
    page.get_by_role("button", name="查看证件号码").click()
    assert page.locator('[data-revealed="id_number"]').inner_text() == full_id
    shot(page, "detail-reveal")
    page.goto(f"{live['base']}/officer/applications/{app_id}")
    assert full_id not in page.content()


def test_an_officer_approves_one_application_with_an_opinion(live, open_page):
    app_id = pension_case(live, name="陈秀英")
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live, name="周审核"))

    page.get_by_role("link", name=f"申请 {app_id} 的详情").click()
    page.get_by_label("税务机关意见", exact=True).fill("核实无误，同意退费")
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_url(re.compile(r".*done=approved$"))
    assert (
        "审核通过，系统已自动向人社（医保）部门发起退费申请。"
        in page.locator(".alert-success").inner_text()
    )
    assert "人社退费中" in page.locator("main").inner_text()
    assert "核实无误，同意退费" in page.locator("table.oc-history").inner_text()
    assert status(live, app_id) == "approved"
    shot(page, "approved")


def test_rejecting_without_an_opinion_is_refused_then_rejected_with_one(live, open_page):
    app_id = pension_case(live, name="黄建国")
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    page.goto(f"{live['base']}/officer/applications/{app_id}")
    page.get_by_role("button", name="审核不通过").click()
    error = page.locator("#review-opinion-error")
    assert "审核不通过时必须填写税务机关意见" in error.inner_text()
    assert page.get_by_label("税务机关意见", exact=True).get_attribute("aria-invalid") == "true"
    assert status(live, app_id) == "pending_review"
    page.get_by_label("税务机关意见", exact=True).fill("该笔缴费已用于待遇计算，不予退费")
    page.get_by_role("button", name="审核不通过").click()
    page.wait_for_url(re.compile(r".*done=rejected$"))
    assert "税务退回" in page.locator("main").inner_text()
    assert status(live, app_id) == "rejected"
    shot(page, "rejected")


def test_batch_approval_shows_a_result_for_each_selected_application(live, open_page):
    first, second = pension_case(live, name="吴春花"), pension_case(live, name="郑国强")
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    page.locator(f"#pick-{first}").check()
    page.locator(f"#pick-{second}").check()
    page.locator("#batch-opinion").fill("同意退费")
    page.get_by_role("button", name="批量通过").click()
    results = page.locator("section.oc-results")
    results.wait_for()
    assert "成功 2 条" in results.inner_text()
    assert str(first) in results.inner_text() and str(second) in results.inner_text()
    assert (status(live, first), status(live, second)) == ("approved", "approved")
    shot(page, "batch-approved")


def test_the_initiator_cannot_review_their_own_refund_and_a_second_officer_approves_it(
    live, open_page
):
    with live["sessions"]() as s, s.begin():
        person = f.make_person(s, name="王大妈", region="420703")
        pay = f.make_pension_payment(s, person, arrival_status="arrived", year=2025)
        id_number, payment_id = person.id_number, pay.payment_id
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live, initiator=True, name="王发起"))

    page.get_by_role("link", name="发起退费").click()
    page.get_by_label("缴费人证件号码", exact=True).fill(id_number)
    page.get_by_role("button", name="查询", exact=True).click()
    assert payment_id in page.locator("#initiate-form").inner_text()
    page.locator(f"input[name=payment_id][value={payment_id}]").check()
    page.get_by_label("退费原因").fill("缴费人重复缴费，到办税服务厅申请退费")
    page.get_by_label("账户类型").select_option("bank_card")
    page.get_by_label("银行账号").fill(ACCOUNT)
    page.get_by_label("银行类别").select_option("103")
    page.get_by_label("联系人名称").fill("王大妈")
    page.get_by_label("联系人电话").fill("13812341234")
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_url(re.compile(r".*/officer/applications/\d+\?done=initiated$"))
    app_id = int(re.search(r"/applications/(\d+)", page.url).group(1))
    assert page.get_by_role("button", name="审核通过").is_disabled()
    assert page.get_by_role("button", name="审核不通过").is_disabled()
    assert page.locator("#blocked-reason").inner_text() == "发起人不能审核本人发起的退费申请"
    assert "税务端" in page.locator("main").inner_text()
    shot(page, "initiated-four-eyes")

    other = open_page(WIDE)
    officer_login(other, live, add_officer(live, name="赵复核"))
    other.goto(f"{live['base']}/officer/applications/{app_id}")
    assert other.get_by_role("button", name="审核通过").is_enabled()
    other.get_by_role("button", name="审核通过").click()
    other.wait_for_url(re.compile(r".*done=approved$"))
    assert status(live, app_id) == "approved"
    shot(other, "second-officer-approved")


def test_a_failed_dispatch_is_shown_with_its_attempts_and_retried(live, open_page):
    app_id = pension_case(live, name="孙玉兰")
    with live["sessions"]() as s, s.begin():
        reviewer = f.make_officer(s, code="E2EREVIEW", region="420700")
        review_decisions.approve(s, officer=reviewer, application_id=app_id, at=f.AT)
        msg = s.execute(
            select(OutboxMessage).where(OutboxMessage.application_id == app_id)
        ).scalar_one()
        msg.state, msg.attempts = "failed", 8
        msg.last_error = "人社系统返回 HTTP 503（服务暂不可用）"
        for minutes in (1, 3, 7):
            s.add(
                DispatchAttempt(
                    message_id=msg.id,
                    at=f.AT + timedelta(minutes=minutes),
                    worker="worker-1",
                    outcome="retry",
                    detail="HTTP 503",
                )
            )
        request_id = msg.request_id
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    page.get_by_role("link", name="派发监控").click()
    page.get_by_label("状态", exact=True).select_option("failed")
    page.get_by_role("button", name="查询", exact=True).click()
    row = page.locator("tr", has=page.get_by_text(request_id))
    assert "发送失败" in row.inner_text() and "HTTP 503（服务暂不可用）" in row.inner_text()
    row.locator("summary").click()
    assert row.locator("table.oc-attempts-table tbody tr").count() == 3
    row.get_by_role("button", name=re.compile("重试")).click()
    page.wait_for_url(re.compile(r".*done=retried$"))
    assert "已重新派发" in page.locator(".alert-success").inner_text()
    with live["sessions"]() as s:
        again = s.execute(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id)
        ).scalar_one()
        assert (again.state, again.attempts) == ("pending", 0)
    page.get_by_label("状态", exact=True).select_option("")
    page.get_by_role("button", name="查询", exact=True).click()
    row = page.locator("tr", has=page.get_by_text(request_id))
    assert "待发送" in row.inner_text()
    shot(page, "dispatch-retried")


def test_the_reconciliation_page_shows_each_agencys_totals_and_the_discrepancies(live, open_page):
    day = date(2026, 10, 8)
    stranger = StatementRow("r-x", 880001, "某人", "6228480402564891111", 12345, "paid", f.AT)
    with live["sessions"]() as s, s.begin():
        reconciliation.reconcile(
            s,
            day=day,
            statements={Agency.HRSS: [], Agency.MEDICAL_SECURITY: [], Agency.BANK: [stranger]},
            at=f.AT,
            ran_by="e2e",
        )
    page = open_page(WIDE)
    officer_login(page, live, add_officer(live))

    page.get_by_role("link", name="三方对账").click()
    page.get_by_label("对账日期").fill("2026-10-08")
    page.get_by_role("button", name="查询", exact=True).click()

    assert "对账不一致：发现差异 1 笔" in page.locator("#recon-summary").inner_text()
    bank = page.locator("table.oc-recon-totals tr.recon-bank").inner_text()
    assert re.sub(r"\s+", " ", bank).strip() == "银行 0 0.00 1 123.45 不一致"
    row = page.locator("table.oc-recon-discrepancies tbody tr").inner_text()
    assert "我方无记录" in row and "880001" in row and "622848*********1111" in row
    assert "6228480402564891111" not in page.content()
    shot(page, "reconciliation")
