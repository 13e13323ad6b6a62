"""退回补正 through the API (api.md "Wave 2 additions": POST /officer/applications/{id}/return,
PUT /{kind}/refunds/{id}; domain.md: states `returned` and `lapsed`). Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from sirefund.models import Application, ApplicationEvent, OutboxMessage
from sirefund.services import corrections
from sirefund.worker import Dispatcher
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app

API = "/api/v1"
OPINION = "银行账号与户名不符，请核对后补正"
NEW_CARD = "6228480402564890026"
NEW_ACCOUNT = {
    "bank_account_type": "bank_card",
    "bank_account_no": NEW_CARD,
    "bank_account_name": "邱世贵",
    "bank_category": "103",
}


def _status(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


@pytest.fixture
def case(seed):
    """A pending pension application of 邱世贵 and a reviewer of its region."""

    def build(s):
        officer = f.make_officer(s)
        app = pension_app(s)
        return officer.id, app.id, app.person_id, app.pension_payment_id

    return seed(build)


def give_back(client, login, officer_id, app_id, fields=("bank_account",), opinion=OPINION):
    r = client.post(
        f"{API}/officer/applications/{app_id}/return",
        json={"opinion": opinion, "fields": list(fields)},
        headers=login("officer", officer_id),
    )
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- the officer


def test_returning_for_correction_needs_an_opinion_and_a_field_the_application_has(
    client, login, case, session_factory
):
    officer_id, app_id, _, _ = case
    headers = login("officer", officer_id)
    url = f"{API}/officer/applications/{app_id}/return"
    for kwargs in ({}, {"json": {"fields": ["bank_account"]}}, {"json": {"opinion": "  "}}):
        r = client.post(url, headers=headers, **kwargs)
        assert r.status_code == 422
        assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (
            "review.opinion_required",
            "opinion",
        )
    r = client.post(url, json={"opinion": OPINION, "fields": []}, headers=headers)
    assert r.json()["error"]["code"] == "correction.fields_required"
    # A pension refund has no 退费理由 to fix; an unknown field is no field at all.
    r = client.post(url, json={"opinion": OPINION, "fields": ["reason"]}, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "correction.field_unknown")
    r = client.post(url, json={"opinion": OPINION, "fields": ["password"]}, headers=headers)
    assert r.status_code == 422
    assert _status(session_factory, app_id) == "pending_review"

    body = give_back(client, login, officer_id, app_id, fields=["contact", "bank_account"])
    assert (body["status"], body["refund_status_label"], body["review_status_label"]) == (
        "returned",
        "待补正",
        "退回补正",
    )
    assert body["review_result_label"] == "未知"
    assert body["tax_opinion"] == OPINION
    assert body["correction_fields"] == ["bank_account", "contact"]
    assert body["correction_field_labels"] == ["银行账户信息", "联系人信息"]
    with session_factory() as s:
        assert s.execute(select(OutboxMessage.id)).first() is None  # nothing sent anywhere


def test_only_a_pending_application_can_be_returned(client, login, case, session_factory):
    officer_id, app_id, _, _ = case
    give_back(client, login, officer_id, app_id)
    r = client.post(
        f"{API}/officer/applications/{app_id}/return",
        json={"opinion": OPINION, "fields": ["bank_account"]},
        headers=login("officer", officer_id),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "review.not_pending")
    # Nor can a returned application be approved before it is corrected.
    r = client.post(
        f"{API}/officer/applications/{app_id}/approve", headers=login("officer", officer_id)
    )
    assert r.status_code == 409
    assert _status(session_factory, app_id) == "returned"


def test_an_officer_of_another_region_cannot_return_an_application(client, login, seed, case):
    _, app_id, _, _ = case
    stranger = seed(lambda s: f.make_officer(s, region="420100").id)
    r = client.post(
        f"{API}/officer/applications/{app_id}/return",
        json={"opinion": OPINION, "fields": ["bank_account"]},
        headers=login("officer", stranger),
    )
    assert r.status_code == 404


# --------------------------------------------------------------------------- the applicant


def test_the_applicant_sees_the_opinion_fixes_the_asked_fields_and_the_same_case_is_pending_again(
    client, login, case, session_factory
):
    officer_id, app_id, person_id, _ = case
    give_back(client, login, officer_id, app_id)
    headers = login("person", person_id)
    shown = client.get(f"{API}/pension/refunds/{app_id}", headers=headers).json()
    assert (shown["status"], shown["refund_status_label"], shown["tax_opinion"]) == (
        "returned",
        "待补正",
        OPINION,
    )
    assert shown["correction_fields"] == ["bank_account"]
    assert shown["correction_due"] is not None
    url = f"{API}/pension/refunds/{app_id}"

    # A field the officer did not ask for is refused, not silently changed.
    r = client.put(url, json={**NEW_ACCOUNT, "contact_phone": "13900001111"}, headers=headers)
    assert r.status_code == 422
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (
        "correction.field_not_requested",
        "contact_phone",
    )
    r = client.put(
        url, json={**NEW_ACCOUNT, "bank_account_no": "6228480402564890019"}, headers=headers
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "bank_account_no")
    r = client.put(url, json={**NEW_ACCOUNT, "bank_account_name": "张三"}, headers=headers)
    assert r.json()["error"]["code"] == "bank_account_name.not_payer"
    assert _status(session_factory, app_id) == "returned"

    r = client.put(url, json=NEW_ACCOUNT, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["status"], body["refund_status_label"]) == (
        app_id,
        "pending_review",
        "已申请",
    )
    assert body["bank_account_masked"].endswith("0026")
    assert body["correction_fields"] == []
    moves = [(h["from_status"], h["to_status"], h["actor_kind"]) for h in body["history"]]
    assert moves == [
        (None, "pending_review", "person"),
        ("pending_review", "returned", "officer"),
        ("returned", "pending_review", "person"),
    ]
    assert OPINION in body["history"][1]["reason"]
    assert "银行账户信息" in body["history"][2]["reason"]
    assert all(h["at"] for h in body["history"])

    # Corrected once; a second correction is a state conflict.
    r = client.put(url, json=NEW_ACCOUNT, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "application.not_returned")
    # The officer now decides the corrected application.
    r = client.post(
        f"{API}/officer/applications/{app_id}/approve", headers=login("officer", officer_id)
    )
    assert (r.status_code, r.json()["status"]) == (200, "approved")


def test_a_pending_application_cannot_be_corrected(client, login, case):
    _, app_id, person_id, _ = case
    r = client.put(
        f"{API}/pension/refunds/{app_id}", json=NEW_ACCOUNT, headers=login("person", person_id)
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "application.not_returned")


def test_nobody_but_the_applicant_can_correct_a_returned_application(
    client, login, case, seed, session_factory
):
    officer_id, app_id, _, _ = case
    give_back(client, login, officer_id, app_id)
    # Someone who knows the payer's name, and a unit.
    intruder, unit = seed(lambda s: (f.make_person(s, name="邱世贵").id, f.make_unit(s).id))
    url = f"{API}/pension/refunds/{app_id}"
    r = client.put(url, json=NEW_ACCOUNT, headers=login("person", intruder))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "application.not_found")
    assert client.put(url, json=NEW_ACCOUNT, headers=login("unit", unit)).status_code == 403
    assert client.put(url, json=NEW_ACCOUNT).status_code == 401
    # Nor through another kind's address.
    r = client.put(f"{API}/medical/refunds/{app_id}", json={}, headers=login("person", intruder))
    assert r.status_code == 404
    assert _status(session_factory, app_id) == "returned"


def test_a_unit_corrects_its_own_returned_refund_and_no_other_unit_can(
    client, login, seed, session_factory
):
    def build(s):
        return f.make_officer(s).id, unit_app(s).id, f.make_unit(s, name="另一村民委员会").id

    officer_id, app_id, other_unit = seed(build)
    with session_factory() as s:
        unit_id = s.get(Application, app_id).unit_id
    give_back(client, login, officer_id, app_id, fields=["contact"], opinion="联系电话无法接通")
    url = f"{API}/unit/refunds/{app_id}"
    contact = {"contact_name": "王会计", "contact_phone": "13700001111"}
    r = client.put(url, json=contact, headers=login("unit", other_unit))
    assert r.status_code == 404
    r = client.put(url, json={"contact_name": "王会计"}, headers=login("unit", unit_id))
    assert (r.status_code, r.json()["error"]["field"]) == (422, "contact_phone")
    r = client.put(url, json=contact, headers=login("unit", unit_id))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"], r.json()["contact_name"]) == (
        app_id,
        "pending_review",
        "王会计",
    )


def test_a_medical_refund_is_corrected_in_its_own_fields(client, login, seed, session_factory):
    officer_id, app_id, person_id = seed(
        lambda s: (f.make_officer(s).id, (a := medical_app(s)).id, a.person_id)
    )
    give_back(
        client, login, officer_id, app_id, fields=["reason", "contact"], opinion="请说明退费理由"
    )
    headers = login("person", person_id)
    url = f"{API}/medical/refunds/{app_id}"
    r = client.put(
        url, json={"deposit_account_id": 1, "handler_phone": "13900001111"}, headers=headers
    )
    assert r.json()["error"]["code"] == "correction.field_not_requested"
    r = client.put(
        url,
        json={"reason_code": "other", "reason_text": "", "handler_phone": "13900001111"},
        headers=headers,
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "reason_text")
    r = client.put(
        url,
        json={"reason_code": "military", "handler_phone": "13900001111"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("pending_review", "参军")
    with session_factory() as s:
        assert s.get(Application, app_id).handler_phone == "13900001111"


# --------------------------------------------------------------------------- open, cancel, lapse


def _apply_again(client, login, person_id, payment_id):
    return client.post(
        f"{API}/pension/refunds",
        json={
            "payment_ids": [payment_id],
            "bank_account_type": "bank_card",
            "bank_account_no": NEW_CARD,
            "bank_category": "103",
            "contact_name": "邱世贵",
            "contact_phone": "13812341234",
        },
        headers=login("person", person_id),
    )


def test_a_returned_application_blocks_a_new_application_for_the_same_payment(client, login, case):
    officer_id, app_id, person_id, payment_id = case
    give_back(client, login, officer_id, app_id)
    r = _apply_again(client, login, person_id, payment_id)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "application.already_applied")


def test_the_applicant_may_cancel_a_returned_application(client, login, case, session_factory):
    officer_id, app_id, person_id, payment_id = case
    give_back(client, login, officer_id, app_id)
    headers = login("person", person_id)
    listed = client.get(f"{API}/pension/refunds", headers=headers).json()["items"]
    assert [i["cancellable"] for i in listed if i["id"] == app_id] == [True]
    r = client.post(f"{API}/pension/refunds/{app_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    assert _status(session_factory, app_id) == "cancelled"
    assert _apply_again(client, login, person_id, payment_id).status_code == 201


def test_an_application_not_corrected_within_15_days_lapses_and_frees_the_payment(
    client, login, case, clock, session_factory
):
    officer_id, app_id, person_id, payment_id = case
    give_back(client, login, officer_id, app_id)

    clock.advance(days=15, seconds=-1)
    with session_factory() as s, s.begin():
        assert corrections.lapse_overdue(s, now=clock.now()).lapsed == []
    assert _status(session_factory, app_id) == "returned"

    clock.advance(seconds=1)
    with session_factory() as s, s.begin():
        assert corrections.lapse_overdue(s, now=clock.now()).lapsed == [app_id]
    with session_factory() as s, s.begin():  # a second run finds nothing more to do
        assert corrections.lapse_overdue(s, now=clock.now()).lapsed == []

    headers = login("person", person_id)
    shown = client.get(f"{API}/pension/refunds/{app_id}", headers=headers).json()
    assert (
        shown["status"],
        shown["refund_status_label"],
        shown["review_status_label"],
        shown["review_result_label"],
    ) == ("lapsed", "未申请", "退回补正", "逾期未补正")
    last = shown["history"][-1]
    assert (last["from_status"], last["to_status"], last["actor_kind"]) == (
        "returned",
        "lapsed",
        "system",
    )
    assert "逾期未补正" in last["reason"]
    r = client.put(f"{API}/pension/refunds/{app_id}", json=NEW_ACCOUNT, headers=headers)
    assert r.status_code == 409
    r = _apply_again(client, login, person_id, payment_id)
    assert r.status_code == 201, r.text
    with session_factory() as s:
        events = s.execute(
            select(ApplicationEvent.to_status).where(ApplicationEvent.application_id == app_id)
        ).scalars()
        assert list(events) == ["pending_review", "returned", "lapsed"]


def test_the_worker_lapses_overdue_returned_applications_on_its_own(
    client, login, case, clock, settings, session_factory
):
    officer_id, app_id, _, _ = case
    give_back(client, login, officer_id, app_id)
    dispatcher = Dispatcher(session_factory, {}, settings, clock, "w1", random.Random(1))
    assert dispatcher.lapse_overdue() == []
    clock.advance(days=16)
    assert dispatcher.lapse_overdue() == [app_id]
    assert _status(session_factory, app_id) == "lapsed"


def test_the_worker_lapses_at_most_every_few_minutes_not_on_every_heartbeat(
    client, login, case, clock, settings, session_factory
):
    officer_id, app_id, _, _ = case
    give_back(client, login, officer_id, app_id)
    every = settings.lapse_check_seconds
    assert every == 300  # the default: five minutes
    dispatcher = Dispatcher(session_factory, {}, settings, clock, "w1", random.Random(1))
    clock.advance(days=15, seconds=-10)
    assert dispatcher.lapse_if_due() == []  # ran: 10 seconds too early for this case
    heartbeat = settings.worker_heartbeat_seconds
    for _ in range(int(every // heartbeat) - 1):  # the heartbeats before the next run
        clock.advance(seconds=heartbeat)
        assert dispatcher.lapse_if_due() is None
    assert _status(session_factory, app_id) == "returned"
    clock.advance(seconds=heartbeat)  # `every` seconds after the last run: due
    assert dispatcher.lapse_if_due() == [app_id]
    assert _status(session_factory, app_id) == "lapsed"
    clock.advance(seconds=heartbeat)
    assert dispatcher.lapse_if_due() is None
