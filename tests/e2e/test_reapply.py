"""重新申请 of a medical refund on the PC, in real Chromium (issue 10, part 2): the refused
case (核验不通过, with its reason) offers 重新申请 on 退费进度; the form opens on the same
payment with the earlier account, 办税人电话 and 退费理由 filled in; submitting it makes a
new application, the refused one keeps its history. Screenshots under test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests import factories as f
from tests.e2e.conftest import screenshot
from tests.e2e.test_applicant_flows import applications, login_pc, seed

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application
from sirefund.services import applications as apps
from sirefund.services.applications import Actor

pytestmark = pytest.mark.e2e

REFUSAL = "核验不通过：该缴费未重复"


def test_pc_refused_medical_case_is_applied_for_again_with_its_details_filled_in(
    open_page, applicant_site
):
    site = applicant_site

    def build(s):
        p = f.make_person(s, name="柯玉兰", password=f.PASSWORD)
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
        for target, actor, values in (
            (S.APPROVED, Actor.officer("OF0001"), {}),
            (
                S.AGENCY_REJECTED,
                Actor.agency("medical_security"),
                {"agency_message": REFUSAL, "verification_result": "核验不通过"},
            ),
        ):
            apps.transition(
                s,
                application=app,
                target=target,
                actor=actor,
                at=f.AT,
                reason=REFUSAL,
                values=values,
            )
        return p.id, p.id_number, app.id

    person_id, id_number, refused_id = seed(site, build)
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
