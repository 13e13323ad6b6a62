"""The printed documents in real Chromium: from the PC 退费进度 page the applicant downloads
the 受理回执 of an application just submitted and, once it is paid, its 退费凭证; the phone's
progress cards offer the same. The downloaded files are read back as PDF text."""

from __future__ import annotations

import io
import re

import pypdf
import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.test_applicant_flows import login_pc, login_phone, seed
from tests.web.officer_helpers import pension_app

pytestmark = pytest.mark.e2e


def _pdf_text(download) -> str:
    with open(download.path(), "rb") as fh:
        data = fh.read()
    assert data.startswith(b"%PDF-")
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def _person_with_application(site, name: str) -> dict:
    def build(s):
        person = f.make_person(s, name=name, password=f.PASSWORD)
        app = pension_app(s, person=person)
        return {
            "login": person.id_number,
            "id_number": person.id_number,
            "app": app.id,
            "document_no": app.document_no,
        }

    return seed(site, build)


def test_pc_progress_downloads_the_receipt_then_the_certificate_once_paid(
    open_page, applicant_site
):
    site = applicant_site
    case = _person_with_application(site, "赵回执")
    page = open_page()
    login_pc(page, site, kind="person", login=case["login"])
    page.goto(site["base"] + "/etax/pension/progress")
    row = page.locator("table.grid tbody tr", has_text=case["document_no"])
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="打印凭证")).to_have_count(0)
    screenshot(page, "pc-progress-document-no")

    with page.expect_download() as info:
        row.get_by_role("link", name="打印回执").click()
    receipt = info.value
    assert receipt.suggested_filename.endswith(".pdf")
    text = _pdf_text(receipt)
    for words in (
        "城乡居民社会保险费退费受理回执",
        case["document_no"],
        "赵回执",
        "¥700.00",
        "柒佰元整",
    ):
        assert words in text, words
    assert case["id_number"] not in re.sub(r"\s", "", text)

    seed(site, lambda s: f.pay_out(s, case["app"]))
    page.reload()
    row = page.locator("table.grid tbody tr", has_text=case["document_no"])
    with page.expect_download() as info:
        row.get_by_role("link", name="打印凭证").click()
    text = _pdf_text(info.value)
    assert "城乡居民社会保险费退费凭证" in text and "2026年04月02日" in text
    assert case["document_no"] in text


def test_phone_progress_card_shows_the_document_number_and_downloads_the_receipt(
    open_page, applicant_site
):
    site = applicant_site
    case = _person_with_application(site, "钱回执")
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/pension?view=progress")
    login_phone(page, login=case["login"])
    page.goto(site["base"] + "/m/pension?view=progress")
    card = page.locator("section.card", has_text=case["document_no"])
    expect(card).to_have_count(1)
    with page.expect_download() as info:
        card.get_by_role("link", name="打印回执").click()
    assert case["document_no"] in _pdf_text(info.value)
    screenshot(page, "phone-progress-document-no")
