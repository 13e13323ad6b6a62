"""The 消息中心 over HTTP (api.md "Outcomes": GET /notifications, POST /notifications/{id}/read)
and `reason_label` on every application: a person or a unit reads only their own notices,
another's answers 404, and a refused, returned or failed case says why."""

from __future__ import annotations

from tests import factories as f
from tests.web.officer_helpers import pension_app
from tests.web.refund_requests import API, UNIT_NAME, apply, apply_unit


def inbox(client, headers, **params) -> dict:
    r = client.get(f"{API}/notifications", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_submitted_refund_appears_unread_in_the_payers_message_centre_only(client, login, seed):
    me, other = seed(lambda s: (f.make_person(s), f.make_person(s)))
    pay = seed(lambda s: f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id)
    mine = login("person", me.id)
    app = apply(client, mine, pay)

    got = inbox(client, mine)
    assert got["unread_count"] == 1
    (item,) = got["items"]
    assert set(item) == {
        "id",
        "created_at",
        "title",
        "body",
        "application_id",
        "heir_claim_id",
        "read",
    }
    assert (item["title"], item["application_id"], item["heir_claim_id"], item["read"]) == (
        "退费申请已受理",
        app["id"],
        None,
        False,
    )
    assert app["document_no"] in item["body"] and "30个工作日" in item["body"]
    assert inbox(client, login("person", other.id)) == {"items": [], "unread_count": 0}


def test_reading_a_notice_marks_it_read_and_counts_down(client, login, seed):
    me = seed(f.make_person)
    pays = seed(
        lambda s: [f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id for _ in range(2)]
    )
    mine = login("person", me.id)
    apply(client, mine, pays[0])
    apply(client, mine, pays[1])
    first = inbox(client, mine)["items"][-1]["id"]

    r = client.post(f"{API}/notifications/{first}/read", headers=mine)
    assert r.status_code == 204 and r.content == b""
    assert client.post(f"{API}/notifications/{first}/read", headers=mine).status_code == 204
    got = inbox(client, mine)
    assert got["unread_count"] == 1
    assert [i["read"] for i in got["items"]] == [False, True]  # newest first
    assert [i["read"] for i in inbox(client, mine, unread="true")["items"]] == [False]
    assert [i["id"] for i in inbox(client, mine, unread="false")["items"]] == [first]


def test_someone_elses_notice_is_not_found_and_stays_unread(client, login, seed):
    victim, attacker = seed(lambda s: (f.make_person(s), f.make_person(s)))
    pay = seed(lambda s: f.make_pension_payment(s, s.get(f.Person, victim.id)).payment_id)
    theirs = login("person", victim.id)
    apply(client, theirs, pay)
    notice = inbox(client, theirs)["items"][0]["id"]

    for headers in (login("person", attacker.id), login("officer", seed(f.make_officer).id)):
        r = client.post(f"{API}/notifications/{notice}/read", headers=headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "notification.not_found"
    assert client.post(f"{API}/notifications/999999/read", headers=theirs).status_code == 404
    assert inbox(client, theirs)["unread_count"] == 1
    assert client.get(f"{API}/notifications").status_code == 401
    assert client.post(f"{API}/notifications/{notice}/read").status_code == 401


def test_a_units_notices_are_the_units_and_its_villagers_see_none(
    client, login, seed, session_factory
):
    def build(s):
        unit = f.make_unit(s, name=UNIT_NAME)
        villager = f.make_person(s)
        up, lines = f.make_unit_payment(s, unit, [villager], payment_type="collective_subsidy")
        return unit.id, villager.id, up.unit_payment_id, lines[0].line_id

    unit_id, villager_id, payment, line = seed(build)
    (app_id,) = apply_unit(client, login("unit", unit_id), payment, [line])
    assert inbox(client, login("unit", unit_id))["unread_count"] == 1
    assert inbox(client, login("person", villager_id))["unread_count"] == 0

    # The unit's progress row says why the bank returned the money, not just 退回.
    seed(lambda s: f.fail_payout(s, app_id, reason="账户已销户"))
    (row,) = client.get(f"{API}/unit/refunds", headers=login("unit", unit_id)).json()["items"]
    assert (row["hrss_status_label"], row["reason_label"]) == ("退付失败", "退付失败：账户已销户")
    # (f.fail_payout records at factories.AT, before the submission's clock: hence no order)
    titles = {i["title"] for i in inbox(client, login("unit", unit_id))["items"]}
    assert {"退费申请已受理", "退费申请审核通过", "已提交人社部门", "退付失败"} == titles
    assert inbox(client, login("person", villager_id))["unread_count"] == 0


# --------------------------------------------------------------------------- reason_label


def test_a_rejected_refund_carries_the_officers_opinion_as_its_reason(client, login, seed):
    def build(s):
        officer = f.make_officer(s)
        app = pension_app(s)
        return officer.id, app.id, app.person_id

    officer_id, app_id, person_id = seed(build)
    mine = login("person", person_id)
    assert (
        client.get(f"{API}/pension/refunds/{app_id}", headers=mine).json()["reason_label"] is None
    )
    r = client.post(
        f"{API}/officer/applications/{app_id}/reject",
        json={"opinion": "该缴费已到账，不符合退费条件"},
        headers=login("officer", officer_id),
    )
    assert r.status_code == 200, r.text
    shown = client.get(f"{API}/pension/refunds/{app_id}", headers=mine).json()
    assert shown["reason_label"] == "该缴费已到账，不符合退费条件"
    last = inbox(client, mine)["items"][0]
    assert last["title"] == "退费申请未通过审核" and "该缴费已到账" in last["body"]


def test_a_failed_payout_and_an_hrss_refusal_carry_their_reasons_to_person_and_unit(
    client, login, seed, session_factory
):
    me = seed(lambda s: f.make_person(s, name="邱世贵"))
    pays = seed(
        lambda s: [f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id for _ in range(2)]
    )
    mine = login("person", me.id)
    failed = apply(client, mine, pays[0])["id"]
    seed(lambda s: f.fail_payout(s, failed, reason="账户已销户"))
    refused = apply(client, mine, pays[1])["id"]
    seed(lambda s: f.refuse_at_agency(s, refused, reason="人社退回：参保状态异常"))
    rows = {a["id"]: a for a in client.get(f"{API}/pension/refunds", headers=mine).json()["items"]}
    assert rows[failed]["reason_label"] == "退付失败：账户已销户"
    assert rows[refused]["reason_label"] == "人社退回：参保状态异常"
    titles = [i["title"] for i in inbox(client, mine)["items"]]
    assert "退付失败" in titles and "退费申请人社退回" in titles
