"""重新提交账户 on the pages (PC 电子税务局 and phone 楚税通): a case whose payout failed shows
退付失败 with the bank's reason in the progress views and offers the corrected-account form,
whose problems are shown next to their fields. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from sirefund.models import Application, DepositAccount
from tests import factories as f
from tests.web.refund_requests import UNIT_NAME, apply, apply_medical, apply_unit
from tests.web.test_pages import error_next_to

CORRECTED = {
    "bank_account_type": "bank_card",
    "bank_account_no": "6228480402564890026",
    "bank_category": "103",
}


def text(page: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def failed_pension(seed, client, login, session_factory):
    """邱世贵's pension refund whose payout the bank refused (户名与账号不符)."""

    def build(s):
        person = f.make_person(s, name="邱世贵", password=f.PASSWORD)
        return person.id, f.make_pension_payment(s, person).payment_id

    person_id, pay = seed(build)
    app_id = apply(client, login("person", person_id), pay)["id"]
    seed(lambda s: f.fail_payout(s, app_id))
    return person_id, app_id


def status_of(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


@pytest.mark.parametrize(
    ("progress", "form_url", "prefix"),
    [
        ("/etax/pension/progress", "/etax/pension/progress/{id}/reissue", "f"),
        ("/m/pension?view=progress", "/m/pension/refunds/{id}/reissue", "m"),
    ],
    ids=["pc", "phone"],
)
def test_a_failed_payout_shows_its_reason_and_is_reissued_from_the_progress_view(
    client, browse, failed_pension, session_factory, progress, form_url, prefix
):
    person_id, app_id = failed_pension
    csrf = browse("person", person_id)
    page = client.get(progress).text
    assert "退付失败" in text(page) and "户名与账号不符" in text(page)
    url = form_url.format(id=app_id)
    assert f'href="{url}"' in page and "重新提交账户" in page

    form = client.get(url)
    assert form.status_code == 200
    assert 'value="邱世贵"' in form.text  # the only name the bank will pay
    assert "户名与账号不符" in text(form.text)

    refused = client.post(url, data={"csrf_token": csrf, **CORRECTED, "bank_account_name": "张三"})
    assert refused.status_code == 422
    assert error_next_to(refused.text, f"{prefix}-bank_account_name") == (
        "退费只能退至缴费人本人的银行账户：银行账户名称须与缴费人姓名一致"
    )
    assert 'value="6228480402564890026"' in refused.text  # nothing typed is lost
    empty = client.post(url, data={"csrf_token": csrf, "bank_account_name": "邱世贵"})
    assert error_next_to(empty.text, f"{prefix}-bank_account_no") == "请填写银行账号"
    assert status_of(session_factory, app_id) == "refund_failed"

    done = client.post(
        url,
        data={"csrf_token": csrf, **CORRECTED, "bank_account_name": "邱世贵"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert status_of(session_factory, app_id) == "at_agency"
    after = client.get(done.headers["location"]).text
    assert "账户已重新提交" in after
    # Not failed any more: the form is refused with the reason.
    again = client.get(url)
    assert again.status_code == 409
    assert "仅退付失败的申请可以重新提交账户" in text(again.text)


def test_someone_elses_failed_case_has_no_form(client, browse, failed_pension, seed):
    _, app_id = failed_pension
    intruder = seed(lambda s: f.make_person(s, name="邱世贵", password=f.PASSWORD).id)
    browse("person", intruder)
    assert client.get(f"/etax/pension/progress/{app_id}/reissue").status_code == 404
    assert client.get(f"/m/pension/refunds/{app_id}/reissue").status_code == 404


def test_a_unit_sees_the_failure_in_its_progress_and_reissues_to_an_account_in_its_name(
    client, browse, login, seed, session_factory
):
    def build(s):
        u = f.make_unit(s, name=UNIT_NAME, password=f.PASSWORD)
        up, lines = f.make_unit_payment(s, u, [f.make_person(s)], year=2022)
        return u.id, up.unit_payment_id, lines[0].line_id

    unit_id, payment, line = seed(build)
    (app_id,) = apply_unit(client, login("unit", unit_id), payment, [line])
    seed(lambda s: f.fail_payout(s, app_id, reason="账户已销户"))
    csrf = browse("unit", unit_id)
    page = client.get("/etax/unit/progress?year=2022").text
    assert "退付失败：账户已销户" in text(page)
    url = f"/etax/unit/progress/{app_id}/reissue"
    assert f'href="{url}"' in page
    assert f'value="{UNIT_NAME}"' in client.get(url).text
    refused = client.post(
        url, data={"csrf_token": csrf, **CORRECTED, "bank_account_name": "王会计"}
    )
    assert error_next_to(refused.text, "f-bank_account_name") == (
        "退费只能退至本单位的银行账户：银行账户名称须与单位名称一致"
    )
    done = client.post(
        url,
        data={"csrf_token": csrf, **CORRECTED, "bank_account_name": UNIT_NAME},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert status_of(session_factory, app_id) == "at_agency"


@pytest.mark.parametrize(
    ("progress", "form_url", "prefix"),
    [
        ("/etax/medical/progress?insurance_year=2026", "/etax/medical/progress/{id}/reissue", "f"),
        (
            "/m/medical/query?insurance_year=2026&view=progress",
            "/m/medical/refunds/{id}/reissue",
            "m",
        ),
    ],
    ids=["pc", "phone"],
)
def test_a_medical_refund_is_reissued_to_another_deposit_account_from_the_pages(
    client, browse, login, seed, session_factory, progress, form_url, prefix
):
    def build(s):
        p = f.make_person(s, name="邱世贵", password=f.PASSWORD)
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026)
        acct = f.make_submitted_account(s, p)
        other = f.make_submitted_account(s, p, account_no="6228480402564890026")
        return p.id, reg.registration_id, pay.payment_id, acct.id, other.id

    person_id, reg, pay, acct, other = seed(build)
    app_id = apply_medical(
        client, login("person", person_id), payment=pay, registration=reg, account=acct
    )
    seed(lambda s: f.fail_payout(s, app_id, reason="账户冻结"))
    csrf = browse("person", person_id)
    url = form_url.format(id=app_id)
    if prefix == "f":
        page = client.get(progress).text
        assert "退付失败：账户冻结" in text(page) and f'href="{url}"' in page
    form = client.get(url)
    assert form.status_code == 200
    assert "退付失败：账户冻结" in text(form.text) and "0026" in form.text
    none = client.post(url, data={"csrf_token": csrf})
    assert none.status_code == 422
    assert error_next_to(none.text, f"{prefix}-deposit_account_id") == "请选择银行账户信息"
    done = client.post(
        url, data={"csrf_token": csrf, "deposit_account_id": str(other)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert status_of(session_factory, app_id) == "at_agency"


def test_the_officers_page_shows_the_account_the_payout_uses_and_flags_a_later_change(
    client, browse, login, seed, session_factory
):
    """税务端 detail of a medical refund whose person changed (变更) the deposit account after
    submitting: the account shown is the one copied at submission, with a warning."""

    def build(s):
        p = f.make_person(s, name="邱世贵")
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026)
        acct = f.make_submitted_account(s, p)
        return p.id, reg.registration_id, pay.payment_id, acct.id, f.make_officer(s).id

    person_id, reg, pay, acct, officer_id = seed(build)
    app_id = apply_medical(
        client, login("person", person_id), payment=pay, registration=reg, account=acct
    )
    browse("officer", officer_id)
    assert 'id="account-changed"' not in client.get(f"/officer/applications/{app_id}").text
    with session_factory() as s, s.begin():
        s.get(DepositAccount, acct).account_no = "6228480402564890026"
    page = text(client.get(f"/officer/applications/{app_id}").text)
    assert "622848*********0018" in page
    assert (
        "提交申请后缴费人已变更该存款账户（现为 622848*********0026）；"
        "退费仍退至提交时的账户 622848*********0018。"
    ) in " ".join(page.split())
