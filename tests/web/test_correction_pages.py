"""退回补正 on the pages: the officer's 退回补正 button (opinion + fields to fix) and the queue's
待补正 filter; the applicant's progress views (PC 电子税务局 and phone 楚税通) showing 待补正 with
the opinion and the fields, and the 补正 form filled with the earlier values where only the
asked fields can be changed, its problems next to their fields. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sirefund.models import Application
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app
from tests.web.test_pages import error_next_to
from tests.web.test_reissue_pages import status_of, text

OPINION = "银行账号与户名不符，请核对后补正"
NEW_ACCOUNT = {
    "bank_account_type": "bank_card",
    "bank_account_no": "6228480402564890026",
    "bank_account_name": "邱世贵",
    "bank_category": "103",
}


def give_back(client, csrf, app_id, fields=("bank_account",), opinion=OPINION):
    return client.post(
        f"/officer/applications/{app_id}/decision",
        data={"csrf_token": csrf, "decision": "return", "opinion": opinion, "fields": list(fields)},
        follow_redirects=False,
    )


@pytest.fixture
def returned_pension(seed, client, browse):
    """邱世贵's pension application returned by a reviewer for the bank account."""

    def build(s):
        person = f.make_person(s, name="邱世贵", password=f.PASSWORD)
        return f.make_officer(s).id, pension_app(s, person=person).id, person.id

    officer_id, app_id, person_id = seed(build)
    r = give_back(client, browse("officer", officer_id), app_id)
    assert r.status_code == 303, r.text
    return person_id, app_id


# --------------------------------------------------------------------------- 税务端


def test_the_officer_returns_a_case_with_an_opinion_and_ticked_fields_shown_next_to_them(
    client,
    seed,
    browse,
    session_factory,
):
    officer_id, app_id = seed(lambda s: (f.make_officer(s).id, pension_app(s).id))
    csrf = browse("officer", officer_id)
    page = client.get(f"/officer/applications/{app_id}").text
    assert "退回补正" in page and 'name="fields" value="bank_account"' in page
    assert 'value="reason"' not in page  # a pension refund has no 退费理由

    no_opinion = give_back(client, csrf, app_id, opinion=" ")
    assert no_opinion.status_code == 422
    assert error_next_to(no_opinion.text, "review-opinion") == "退回补正时必须填写补正意见"
    no_fields = give_back(client, csrf, app_id, fields=())
    assert no_fields.status_code == 422
    assert "请选择需补正的项目" in text(no_fields.text)
    assert OPINION in no_fields.text  # what was typed is kept
    assert status_of(session_factory, app_id) == "pending_review"

    done = give_back(client, csrf, app_id, fields=("bank_account", "contact"))
    assert done.headers["location"].endswith("done=returned")
    shown = text(client.get(done.headers["location"]).text)
    assert "已退回补正" in shown and "银行账户信息、联系人信息" in shown and OPINION in shown
    assert status_of(session_factory, app_id) == "returned"

    queue = text(client.get("/officer/applications?status=returned").text)
    assert "待补正" in queue
    with session_factory() as s:
        doc = s.get(Application, app_id).document_no
    assert doc in queue or str(app_id) in queue


# --------------------------------------------------------------------------- 缴费人


@pytest.mark.parametrize(
    ("progress", "form_url", "prefix"),
    [
        ("/etax/pension/progress", "/etax/pension/progress/{id}/correct", "f"),
        ("/m/pension?view=progress", "/m/pension/refunds/{id}/correct", "m"),
    ],
    ids=["pc", "phone"],
)
def test_a_returned_case_shows_the_opinion_and_is_corrected_from_the_progress_view(
    client,
    browse,
    returned_pension,
    session_factory,
    progress,
    form_url,
    prefix,
):
    person_id, app_id = returned_pension
    csrf = browse("person", person_id)
    page = client.get(progress).text
    assert "待补正" in text(page) and OPINION in text(page) and "银行账户信息" in text(page)
    url = form_url.format(id=app_id)
    assert f'href="{url}"' in page

    form = client.get(url)
    assert form.status_code == 200
    assert OPINION in text(form.text)
    assert 'value="邱世贵"' in form.text  # the earlier account name, filled in
    assert 'value="bank_card" selected' in form.text
    # Only the asked fields are inputs; the contact is shown, not offered for editing.
    assert 'name="bank_account_no"' in form.text
    assert 'name="contact_phone"' not in form.text and "无需补正" in form.text

    refused = client.post(
        url, data={"csrf_token": csrf, **NEW_ACCOUNT, "bank_account_no": "6228480402564890019"}
    )
    assert refused.status_code == 422
    assert error_next_to(refused.text, f"{prefix}-bank_account_no")
    assert status_of(session_factory, app_id) == "returned"

    # A field not asked for, slipped into the request, is not read by the page.
    done = client.post(
        url,
        data={"csrf_token": csrf, **NEW_ACCOUNT, "contact_phone": "13900001111"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert status_of(session_factory, app_id) == "pending_review"
    with session_factory() as s:
        app = s.get(Application, app_id)
        assert (app.bank_account_no, app.contact_phone) == ("6228480402564890026", "13812341234")
    assert "补正成功" in client.get(done.headers["location"]).text
    again = client.get(url)
    assert again.status_code == 409
    assert "仅待补正的申请可以补正" in text(again.text)


def test_someone_elses_returned_case_has_no_correction_form(
    client,
    browse,
    returned_pension,
    seed,
):
    _, app_id = returned_pension
    intruder = seed(lambda s: f.make_person(s, name="邱世贵", password=f.PASSWORD).id)
    csrf = browse("person", intruder)
    url = f"/etax/pension/progress/{app_id}/correct"
    assert client.get(url).status_code == 404
    r = client.post(url, data={"csrf_token": csrf, **NEW_ACCOUNT})
    assert r.status_code == 404


def test_a_unit_corrects_its_contact_on_the_pc_site(client, seed, browse, session_factory):
    officer_id, app_id = seed(lambda s: (f.make_officer(s).id, unit_app(s).id))
    give_back(
        client, browse("officer", officer_id), app_id, fields=("contact",), opinion="电话无法接通"
    )
    with session_factory() as s:
        unit_id = s.get(Application, app_id).unit_id
    csrf = browse("unit", unit_id)
    progress = client.get("/etax/unit/progress").text
    assert "电话无法接通" in text(progress) and f"/etax/unit/progress/{app_id}/correct" in progress
    url = f"/etax/unit/progress/{app_id}/correct"
    form = client.get(url).text
    assert 'value="村会计"' in form and 'name="bank_account_no"' not in form
    bad = client.post(
        url, data={"csrf_token": csrf, "contact_name": "王会计", "contact_phone": "1"}
    )
    assert bad.status_code == 422
    assert error_next_to(bad.text, "f-contact_phone")
    ok = client.post(
        url,
        data={"csrf_token": csrf, "contact_name": "王会计", "contact_phone": "13700001111"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert status_of(session_factory, app_id) == "pending_review"


@pytest.mark.parametrize(
    "form_url", ["/etax/medical/progress/{id}/correct", "/m/medical/refunds/{id}/correct"]
)
def test_a_medical_refund_is_corrected_with_its_reason(
    client,
    seed,
    browse,
    session_factory,
    form_url,
):
    officer_id, app_id, person_id = seed(
        lambda s: (f.make_officer(s).id, (a := medical_app(s)).id, a.person_id)
    )
    give_back(client, browse("officer", officer_id), app_id, fields=("reason",), opinion="请说明")
    csrf = browse("person", person_id)
    url = form_url.format(id=app_id)
    form = client.get(url).text
    assert 'value="duplicate_payment" selected' in form
    prefix = "m" if url.startswith("/m/") else "f"
    bad = client.post(url, data={"csrf_token": csrf, "reason_code": "other", "reason_text": ""})
    assert bad.status_code == 422
    assert error_next_to(bad.text, f"{prefix}-reason_text")
    ok = client.post(
        url, data={"csrf_token": csrf, "reason_code": "military"}, follow_redirects=False
    )
    assert ok.status_code == 303, ok.text
    with session_factory() as s:
        assert s.get(Application, app_id).reason_code == "military"
