"""重新申请 in real Chromium (issue 10, part 2), for a medical refund on the PC and on the
phone (390x844) and for a village unit's batch on the PC: the refused case (核验不通过 /
人社退回, with its reason) offers 重新申请 on 退费进度; the form opens on the same payment with
the earlier account and details filled in; submitting it makes a new application, the
refused one keeps its history. Screenshots under test-artifacts/."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.test_applicant_flows import applications, login_pc, login_phone, seed

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application
from sirefund.services import applications as apps
from sirefund.services.applications import Actor

pytestmark = pytest.mark.e2e

REFUSAL = "核验不通过：该缴费未重复"
HRSS_REFUSAL = "人社退回：该人员已享受待遇"
UNIT_CARD = "6228480402564890026"
_phones = itertools.count(13600000001)


def _refuse(s, app: Application, agency: str, reason: str, values: dict) -> None:
    """Approved by an officer, then refused by the agency with ``reason``."""
    for target, actor, extra in (
        (S.APPROVED, Actor.officer("OF0001"), {}),
        (S.AGENCY_REJECTED, Actor.agency(agency), values),
    ):
        apps.transition(
            s, application=app, target=target, actor=actor, at=f.AT, reason=reason, values=extra
        )


def _refused_medical(phone: str | None = None):
    """A person (with ``phone``) whose medical refund of 410.00 was refused (核验不通过):
    (person id, ID number, refused application id)."""

    def build(s):
        p = f.make_person(s, name="柯玉兰", password=f.PASSWORD, phone=phone)
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026, medical_fen=41000)
        acct = f.make_submitted_account(s, p, account_no="6217000010009876543")
        app = apps.create(
            s,
            application=Application(
                kind="medical",
                channel="web",
                person_id=p.id,
                region_code=p.region_code,
                medical_payment_id=pay.payment_id,
                registration_id=reg.registration_id,
                deposit_account_id=acct.id,
                amount_fen=pay.refund_amount_fen,
                payment_year=pay.insurance_year,
                period_start=pay.period_start,
                period_end=pay.period_end,
                handler_phone="13971234567",
                reason_code="duplicate_payment",
                reason_text="同一年度缴了两次",
            ),
            actor=Actor.person(p.id),
            at=f.AT,
        )
        _refuse(
            s,
            app,
            "medical_security",
            REFUSAL,
            {"agency_message": REFUSAL, "verification_result": "核验不通过"},
        )
        return p.id, p.id_number, app.id

    return build


def test_pc_refused_medical_case_is_applied_for_again_with_its_details_filled_in(
    open_page, applicant_site
):
    site = applicant_site
    person_id, id_number, refused_id = seed(site, _refused_medical())
    page = open_page()
    login_pc(page, site, kind="person", login=id_number)
    page.goto(site["base"] + "/etax/medical/progress?insurance_year=2026")
    row = page.locator("table.grid tbody tr", has_text="410.00")
    expect(row).to_contain_text("核验不通过")
    expect(row).to_contain_text("该缴费未重复")
    expect(row).not_to_contain_text("人社")
    screenshot(page, "pc-medical-progress-reapply")

    row.get_by_role("link", name="重新申请").click()
    expect(page.get_by_role("heading", name="城乡居民医疗社保费退费申请")).to_be_visible()
    expect(page.get_by_label("办税人电话", exact=True)).to_have_value("13971234567")
    expect(page.locator("#f-reason_code")).to_have_value("duplicate_payment")
    expect(page.locator("#f-reason_text")).to_have_value("同一年度缴了两次")
    expect(page.locator("input[name=deposit_account_id]:checked")).to_have_count(1)
    expect(page.locator("table.info")).to_contain_text("6543")
    expect(page.locator("table.grid").last).to_contain_text("410.00")
    screenshot(page, "pc-medical-reapply-form")

    page.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_be_visible()
    made = applications(site, person_id=person_id)
    assert [a.status for a in made] == ["agency_rejected", "pending_review"]
    again = made[1]
    assert again.id != refused_id
    assert (again.handler_phone, again.reason_code, again.deposit_account_id) == (
        "13971234567",
        "duplicate_payment",
        made[0].deposit_account_id,
    )
    # The refused case no longer offers 重新申请: its payment has an open application.
    page.goto(site["base"] + "/etax/medical/progress?insurance_year=2026")
    expect(page.get_by_role("link", name="重新申请")).to_have_count(0)
    screenshot(page, "pc-medical-progress-after-reapply")


def test_phone_refused_medical_case_is_applied_for_again_with_its_details_filled_in(
    open_page, applicant_site
):
    site = applicant_site
    phone = str(next(_phones))
    person_id, _, refused_id = seed(site, _refused_medical(phone))
    page = open_page(PHONE)
    page.goto(site["base"] + "/m/medical/query?view=progress&insurance_year=2026")
    login_phone(page, login=phone)
    page.goto(site["base"] + "/m/medical/query?view=progress&insurance_year=2026")
    card = page.locator("section.detail", has_text="410.00")
    expect(card).to_contain_text("核验不通过")
    expect(card).to_contain_text("该缴费未重复")
    expect(card).not_to_contain_text("人社")
    screenshot(page, "phone-medical-progress-reapply")

    card.get_by_role("link", name="重新申请").click()
    expect(page).to_have_url(re.compile(rf"/m/medical/apply/fill\?reapply={refused_id}$"))
    expect(page.locator(".card-title").first).to_have_text("城乡居民医保社保退费信息填写")
    expect(page.get_by_label("办理人电话", exact=True)).to_have_value("13971234567")
    expect(page.get_by_label("退费理由", exact=True)).to_have_value("duplicate_payment")
    expect(page.get_by_label("理由说明", exact=True)).to_have_value("同一年度缴了两次")
    expect(page.locator(".kv").first).to_contain_text("6543")
    screenshot(page, "phone-medical-reapply-form")

    page.get_by_role("button", name="退费").click()
    expect(page.locator(".alert-success")).to_have_text("退费申请已提交，等待税务人员审核。")
    made = applications(site, person_id=person_id)
    assert [a.status for a in made] == ["agency_rejected", "pending_review"]
    again = made[1]
    assert again.id != refused_id and again.channel == "mobile_app"
    assert (again.medical_payment_id, again.deposit_account_id, again.handler_phone) == (
        made[0].medical_payment_id,
        made[0].deposit_account_id,
        "13971234567",
    )
    page.goto(site["base"] + "/m/medical/query?view=progress&insurance_year=2026")
    expect(page.get_by_role("link", name="重新申请")).to_have_count(0)
    screenshot(page, "phone-medical-progress-after-reapply")


def test_pc_refused_unit_line_is_applied_for_again_with_the_batch_details_filled_in(
    open_page, applicant_site
):
    site = applicant_site

    def build(s):
        unit = f.make_unit(s, name="鄂城区杜山村村民委员会", password=f.PASSWORD)
        people = [f.make_person(s, name=n) for n in ("周一", "吴二")]
        up, lines = f.make_unit_payment(s, unit, people, year=2024, line_amount_fen=18000)
        app = f.submit(
            s,
            f.unit_application(
                s,
                unit,
                up,
                lines[0],
                bank_account_no=UNIT_CARD,
                bank_account_name=unit.name,
                bank_category="103",
                contact_name="杜会计",
                contact_phone="13812345601",
            ),
        )
        _refuse(s, app, "hrss", HRSS_REFUSAL, {"agency_message": HRSS_REFUSAL})
        return unit.id, unit.tax_id, up.unit_payment_id, lines[0].line_id, app.id

    unit_id, tax_id, payment_id, line_id, refused_id = seed(site, build)
    page = open_page()
    login_pc(page, site, kind="unit", login=tax_id)
    page.goto(site["base"] + "/etax/unit/progress?year=2024")
    row = page.locator("#progress-list tbody tr", has_text="180.00")
    expect(row).to_contain_text("人社退回")
    expect(row).to_contain_text("该人员已享受待遇")
    screenshot(page, "pc-unit-progress-reapply")

    row.get_by_role("link", name="重新申请").click()
    expect(page).to_have_url(
        re.compile(rf"/etax/unit/payments/{payment_id}/refund\?reapply={refused_id}$")
    )
    right = page.locator("[data-pane=right] tbody tr[data-line]")
    expect(right).to_have_count(1)
    expect(right.first).to_contain_text("周一")
    expect(page.locator("[data-pane=left] tbody tr[data-line]")).to_have_count(1)
    expect(page.get_by_label("缴费金额", exact=True)).to_have_value("180.00")
    expect(page.get_by_label("银行账号", exact=True)).to_have_value(UNIT_CARD)
    expect(page.get_by_label("银行账户名称", exact=True)).to_have_value("鄂城区杜山村村民委员会")
    expect(page.get_by_label("联系人名称", exact=True)).to_have_value("杜会计")
    expect(page.get_by_label("联系人电话", exact=True)).to_have_value("13812345601")
    screenshot(page, "pc-unit-reapply-form")

    page.get_by_role("button", name="保存").first.click()
    expect(page.locator(".alert-success")).to_contain_text("保存成功")
    made = applications(site, unit_id=unit_id)
    assert [(a.status, a.unit_line_id) for a in made] == [
        ("agency_rejected", line_id),
        ("pending_review", line_id),
    ]
    again = made[1]
    assert again.batch_id != made[0].batch_id
    assert (again.bank_account_no, again.contact_name) == (UNIT_CARD, "杜会计")
    page.goto(site["base"] + "/etax/unit/progress?year=2024")
    expect(page.locator("#progress-list tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name="重新申请")).to_have_count(0)
    screenshot(page, "pc-unit-progress-after-reapply")
