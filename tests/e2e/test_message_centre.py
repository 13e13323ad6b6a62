"""消息中心 in real Chromium, PC and phone: the header counts the unread notice of an
application just submitted, the list shows it 未读, opening it shows what happens next and by
when, and the count is gone afterwards."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.test_applicant_flows import login_pc, login_phone, seed
from tests.web.officer_helpers import pension_app

pytestmark = pytest.mark.e2e


def _person_with_application(site, name: str) -> dict:
    def build(s):
        person = f.make_person(s, name=name, password=f.PASSWORD)
        app = pension_app(s, person=person)
        return {"login": person.id_number, "document_no": app.document_no}

    return seed(site, build)


def test_pc_message_centre_counts_shows_and_marks_read(open_page, applicant_site):
    site = applicant_site
    case = _person_with_application(site, "孙消息")
    page = open_page()
    login_pc(page, site, kind="person", login=case["login"])
    link = page.locator(".account-bar").get_by_role("link", name=re.compile("消息中心"))
    expect(link.locator("[data-unread]")).to_have_text("1")
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("消息中心")
    row = page.locator("table.messages tbody tr", has_text="退费申请已受理")
    expect(row).to_contain_text("未读")
    screenshot(page, "pc-message-centre")
    row.get_by_role("link", name="查看").click()
    expect(page.locator(".message-body")).to_contain_text(case["document_no"])
    expect(page.locator(".message-body")).to_contain_text("30个工作日")
    screenshot(page, "pc-message")
    expect(page.locator(".account-bar [data-unread]")).to_have_count(0)
    page.get_by_role("link", name="返回消息中心").click()
    expect(page.locator("table.messages tbody tr").first).to_contain_text("已读")


def test_phone_message_centre_counts_shows_and_marks_read(open_page, applicant_site):
    site = applicant_site
    case = _person_with_application(site, "周消息")
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/messages")
    login_phone(page, login=case["login"])
    page.goto(site["base"] + "/m/messages")
    expect(page.locator(".appbar-title")).to_have_text("消息中心")
    expect(page.locator(".appbar [data-unread]")).to_have_text("1")
    item = page.locator("ul.messages li", has_text="退费申请已受理")
    expect(item).to_contain_text("未读")
    screenshot(page, "phone-message-centre")
    item.get_by_role("link").click()
    expect(page.locator(".message-body")).to_contain_text(case["document_no"])
    screenshot(page, "phone-message")
    expect(page.locator(".appbar [data-unread]")).to_have_count(0)
    page.get_by_role("link", name="查看退费进度").click()
    expect(page).to_have_url(re.compile(r"/m/pension\?view=progress"))
