"""继承人代办 through the API (api.md "Outcomes": POST /heir-claims, GET /heir-claims/{id},
GET /pension/payments?heir_claim_id=, POST /pension/refunds with heir_claim_id): each test
is one rule or one attack. Runs on SQLite and PostgreSQL; deaths are registered in the
simulator's death registry, which the app asks over HTTP."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1"
DEATH = "2025-12-01"
HEIR_CARD = "6228480402564890018"
BANK = {
    "bank_account_type": "bank_card",
    "bank_account_no": HEIR_CARD,
    "bank_category": "103",
    "contact_name": "邱小贵",
    "contact_phone": "13812341234",
}


@pytest.fixture
def world(seed, realname_sim):
    """A deceased payer with a refundable payment, their registered child, a registered
    stranger and an officer of the deceased's region."""

    def build(s):
        deceased = f.make_person(s, name="邱世贵", region="420703")
        pay = f.make_pension_payment(s, deceased)
        heir = f.make_person(s, name="邱小贵", region="420102", password=f.PASSWORD)
        stranger = f.make_person(s, name="冒领人", region="420102", password=f.PASSWORD)
        officer = f.make_officer(s, region="420700")
        return {
            "deceased_id": deceased.id_number,
            "payment": pay.payment_id,
            "heir": heir.id,
            "stranger": stranger.id,
            "officer": officer.id,
        }

    found = seed(build)
    realname_sim.add_death(found["deceased_id"], DEATH, name="邱世贵")
    return found


def claim_body(world, **overrides):
    return {
        "deceased_id_number": world["deceased_id"],
        "deceased_name": "邱世贵",
        "death_date": DEATH,
        "relationship": "child",
        **overrides,
    }


def make_claim(client, headers, world, **overrides):
    r = client.post(f"{API}/heir-claims", json=claim_body(world, **overrides), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def apply_under(client, headers, world, claim, **bank):
    """POST /pension/refunds of the deceased's payment under ``claim``, into BANK (``bank``
    overriding its fields)."""
    return client.post(
        f"{API}/pension/refunds",
        json={"payment_ids": [world["payment"]], **BANK, **bank, "heir_claim_id": claim["id"]},
        headers=headers,
    )


def heir_application(client, login, world) -> tuple[int, dict]:
    """The verified heir's claim and the application made under it: (its id, the claim)."""
    heir = login("person", world["heir"])
    claim = make_claim(client, heir, world)
    r = apply_under(client, heir, world, claim)
    assert r.status_code == 201, r.text
    return r.json()["applications"][0]["id"], claim


def test_a_claim_is_answered_201_and_confirmed_by_the_death_registry(client, login, world):
    heir = login("person", world["heir"])
    made = make_claim(client, heir, world)
    assert made["status"] == "verified"
    shown = client.get(f"{API}/heir-claims/{made['id']}", headers=heir).json()
    assert shown["status"] == "verified"
    assert shown["relationship_label"] == "子女"
    assert shown["deceased_id_number_masked"] != world["deceased_id"]
    assert world["deceased_id"] not in client.get(f"{API}/heir-claims", headers=heir).text


def test_a_refused_claim_says_why(client, login, world):
    heir = login("person", world["heir"])
    made = make_claim(client, heir, world, death_date="2025-11-01")
    assert (made["status"], made["confirmation_result"]) == (
        "refused",
        "死亡日期与死亡登记信息不符",
    )


def test_a_bad_deceased_id_and_a_missing_relationship_are_422_with_their_fields(
    client, login, world
):
    heir = login("person", world["heir"])
    r = client.post(
        f"{API}/heir-claims",
        json=claim_body(world, deceased_id_number="12345", relationship="neighbour"),
        headers=heir,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] in {"deceased_id_number", "relationship"}


def test_the_heir_cannot_claim_themselves(client, login, world, session_factory):
    from sirefund.models import Person

    with session_factory() as s:
        own_id = s.get(Person, world["heir"]).id_number
    r = client.post(
        f"{API}/heir-claims",
        json=claim_body(world, deceased_id_number=own_id, deceased_name="邱小贵"),
        headers=login("person", world["heir"]),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "heir_claim.self"


def test_a_unit_or_an_officer_cannot_claim(client, login, world):
    r = client.post(
        f"{API}/heir-claims", json=claim_body(world), headers=login("officer", world["officer"])
    )
    assert r.status_code == 403


def test_the_verified_heir_sees_the_deceased_payments_and_applies_into_their_own_account(
    client, login, world
):
    heir = login("person", world["heir"])
    claim = make_claim(client, heir, world)
    listed = client.get(
        f"{API}/pension/payments", params={"heir_claim_id": claim["id"]}, headers=heir
    ).json()
    assert [(i["payment_id"], i["refundable"]) for i in listed["items"]] == [
        (world["payment"], True)
    ]
    r = apply_under(client, heir, world, claim)
    assert r.status_code == 201, r.text
    app_id = r.json()["applications"][0]["id"]
    # The heir follows it among their own applications.
    mine = client.get(f"{API}/pension/refunds", headers=heir).json()["items"]
    assert [a["id"] for a in mine] == [app_id]


def test_the_heir_account_must_be_in_the_heir_name(client, login, world):
    heir = login("person", world["heir"])
    claim = make_claim(client, heir, world)
    r = apply_under(client, heir, world, claim, bank_account_name="邱世贵")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "bank_account_name.not_heir"


def test_someone_knowing_the_dead_person_id_and_name_but_refused_sees_nothing(client, login, world):
    stranger = login("person", world["stranger"])
    refused = make_claim(client, stranger, world, death_date="2024-01-01")
    assert refused["status"] == "refused"
    r = client.get(
        f"{API}/pension/payments", params={"heir_claim_id": refused["id"]}, headers=stranger
    )
    assert r.status_code == 409
    assert world["payment"] not in r.text
    r = apply_under(client, stranger, world, refused)
    assert r.status_code == 409
    # Without a claim the payment is simply not theirs.
    r = client.post(
        f"{API}/pension/refunds", json={"payment_ids": [world["payment"]], **BANK}, headers=stranger
    )
    assert r.status_code == 404


def test_another_person_cannot_use_or_read_the_heir_claim(client, login, world):
    claim = make_claim(client, login("person", world["heir"]), world)
    stranger = login("person", world["stranger"])
    assert client.get(f"{API}/heir-claims/{claim['id']}", headers=stranger).status_code == 404
    r = client.get(
        f"{API}/pension/payments", params={"heir_claim_id": claim["id"]}, headers=stranger
    )
    assert r.status_code == 404
    r = apply_under(client, stranger, world, claim, bank_account_name="冒领人")
    assert r.status_code == 404


def test_a_second_heir_cannot_apply_for_a_payment_already_applied_for(client, login, world):
    heir = login("person", world["heir"])
    claim = make_claim(client, heir, world)
    assert apply_under(client, heir, world, claim).status_code == 201
    assert apply_under(client, heir, world, claim).status_code == 409
    sibling = login("person", world["stranger"])
    other = make_claim(client, sibling, world, relationship="spouse")
    r = apply_under(
        client,
        sibling,
        world,
        other,
        bank_account_no="6222021234567890128",
        bank_account_name="冒领人",
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "application.already_applied"


def test_the_officer_sees_the_claim_evidence_and_the_heir_risk_flag(client, login, world):
    app_id, _claim = heir_application(client, login, world)
    officer = login("officer", world["officer"])
    detail = client.get(f"{API}/officer/applications/{app_id}", headers=officer).json()
    evidence = detail["heir_claim"]
    assert evidence["relationship_label"] == "子女"
    assert evidence["deceased_name"] == "邱世贵"
    assert evidence["death_date"] == DEATH
    assert evidence["confirmation_result"] == "人社部门已确认死亡登记信息"
    assert evidence["deceased_id_number_masked"] != world["deceased_id"]
    assert evidence["deceased_id_number_masked"].endswith(world["deceased_id"][-4:])
    assert "heir_claim" in [fl["code"] for fl in detail["application"]["risk_flags"]]
    page = client.get(f"/officer/applications/{app_id}", headers=officer)
    assert "继承人代办（已故参保人）" in page.text
    assert "继承人代领" in page.text


def _inbox(client, headers) -> dict:
    r = client.get(f"{API}/notifications", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_heir_finds_the_verified_claim_in_the_message_centre(client, login, world):
    heir = login("person", world["heir"])
    made = make_claim(client, heir, world)
    got = _inbox(client, heir)
    assert got["unread_count"] == 1
    (item,) = got["items"]
    assert (item["title"], item["heir_claim_id"], item["application_id"], item["read"]) == (
        "继承人代办申请已核实",
        made["id"],
        None,
        False,
    )
    assert world["deceased_id"] not in item["body"]
    r = client.post(f"{API}/notifications/{item['id']}/read", headers=heir)
    assert r.status_code == 204
    assert _inbox(client, heir)["unread_count"] == 0


def test_the_heir_of_a_refused_claim_is_told_the_reason_and_the_stranger_nothing(
    client, login, world
):
    heir = login("person", world["heir"])
    make_claim(client, heir, world, deceased_name="邱世富")
    (item,) = _inbox(client, heir)["items"]
    assert item["title"] == "继承人代办申请核实不通过"
    assert "原因：姓名与死亡登记信息不符" in item["body"] and "重新提交申请" in item["body"]
    stranger = login("person", world["stranger"])
    assert _inbox(client, stranger) == {"items": [], "unread_count": 0}
    r = client.post(f"{API}/notifications/{item['id']}/read", headers=stranger)
    assert r.status_code == 404
    assert _inbox(client, heir)["unread_count"] == 1


def test_the_officer_queue_filters_the_heirs_applications_and_marks_them(
    client, login, world, seed
):
    heirs_app, claim = heir_application(client, login, world)
    own_app = seed(lambda s: pension_app(s, region="420703")).id
    officer = login("officer", world["officer"])

    def queue(**params) -> list[dict]:
        r = client.get(f"{API}/officer/applications", params=params, headers=officer)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    assert {i["id"] for i in queue()} == {heirs_app, own_app}
    (only,) = queue(heir="true")
    assert (only["id"], only["heir_claim_id"]) == (heirs_app, claim["id"])
    assert [(i["id"], i["heir_claim_id"]) for i in queue(heir="false")] == [(own_app, None)]
    bad = client.get(f"{API}/officer/applications", params={"heir": "maybe"}, headers=officer)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "queue.heir"

    page = client.get("/officer/applications", params={"heir": "true"}, headers=officer)
    assert page.status_code == 200
    assert '<option value="true" selected>继承人代办</option>' in page.text
    assert page.text.count("data-heir ") == 1
    assert f'href="/officer/applications/{heirs_app}' in page.text
    assert f'href="/officer/applications/{own_app}' not in page.text
