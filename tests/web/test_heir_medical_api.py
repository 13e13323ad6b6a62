"""继承人代办 for medical payments through the API (GET /medical/payments?heir_claim_id=,
POST /medical/refunds with heir_claim_id): the heir of a verified claim sees and applies for
the deceased's medical payments, paid to a deposit account of the heir's own report; someone
else's claim answers like a missing one (404) and a refused claim opens nothing. Runs on
SQLite and PostgreSQL; the death is registered in the simulator's death registry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sirefund.domain.workflow import ApplicationStatus
from sirefund.models import Application, ApplicationEvent
from sirefund.services import applications
from sirefund.services.applications import Actor
from tests import factories as f

API = "/api/v1"
DEATH = "2025-12-01"
HEIR_CARD = "6228480402564890018"


@pytest.fixture
def world(seed, realname_sim):
    """A deceased insured person (region 420703) with a registration and one 2026 medical
    payment of 410.00 and a submitted deposit account of their own; their registered child
    (region 420102) with a submitted deposit account of the heir's own; a registered stranger
    with an account too."""

    def build(s):
        deceased = f.make_person(s, name="邱世贵", region="420703")
        reg = f.make_registration(s, deceased)
        pay = f.make_medical_payment(s, reg, year=2026, medical_fen=41000)
        theirs = f.make_submitted_account(s, deceased, account_no="6217000010005550001")
        heir = f.make_person(s, name="邱小贵", region="420102", password=f.PASSWORD)
        mine = f.make_submitted_account(s, heir, account_no=HEIR_CARD)
        stranger = f.make_person(s, name="冒领人", region="420102", password=f.PASSWORD)
        strangers = f.make_submitted_account(s, stranger, account_no="6217000010005550002")
        return {
            "deceased_id": deceased.id_number,
            "registration": reg.registration_id,
            "payment": pay.payment_id,
            "deceased_account": theirs.id,
            "heir": heir.id,
            "heir_account": mine.id,
            "stranger": stranger.id,
            "stranger_account": strangers.id,
        }

    found = seed(build)
    realname_sim.add_death(found["deceased_id"], DEATH, name="邱世贵")
    return found


def claim(client, headers, world, **overrides) -> dict:
    r = client.post(
        f"{API}/heir-claims",
        json={
            "deceased_id_number": world["deceased_id"],
            "deceased_name": "邱世贵",
            "death_date": DEATH,
            "relationship": "child",
            **overrides,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def refund_body(world, claim_id, **overrides) -> dict:
    return {
        "payment_ids": [world["payment"]],
        "registration_id": world["registration"],
        "deposit_account_id": world["heir_account"],
        "handler_phone": "13812341234",
        "reason_code": "deceased",
        "reason_text": "",
        "channel": "web",
        "heir_claim_id": claim_id,
        **overrides,
    }


def medical_apps(session_factory) -> list[Application]:
    with session_factory() as s:
        rows = list(s.execute(select(Application).order_by(Application.id)).scalars())
        for r in rows:
            s.expunge(r)
        return rows


def test_the_heir_of_a_verified_claim_sees_the_deceaseds_medical_payments(client, login, world):
    heir = login("person", world["heir"])
    made = claim(client, heir, world)
    r = client.get(f"{API}/medical/payments", params={"heir_claim_id": made["id"]}, headers=heir)
    assert r.status_code == 200, r.text
    got = r.json()
    assert [i["payment_id"] for i in got["items"]] == [world["payment"]]
    assert got["insurance_year"] == 2026 and got["insurance_years"] == [2026]
    assert world["deceased_id"] not in r.text  # the deceased's ID number stays masked
    # Without the claim the heir sees only their own (none).
    own = client.get(f"{API}/medical/payments", headers=heir).json()
    assert own["items"] == []


def test_the_heir_applies_for_the_deceaseds_payment_into_their_own_account(
    client, login, world, session_factory
):
    heir = login("person", world["heir"])
    made = claim(client, heir, world)
    r = client.post(f"{API}/medical/refunds", json=refund_body(world, made["id"]), headers=heir)
    assert r.status_code == 201, r.text
    (app,) = medical_apps(session_factory)
    assert (app.kind, app.status, app.person_id, app.heir_claim_id) == (
        "medical",
        "pending_review",
        world["heir"],
        made["id"],
    )
    assert (app.bank_account_no, app.bank_account_name) == (HEIR_CARD, "邱小贵")
    assert app.amount_fen == 41000 and app.region_code == "420703"  # the deceased's region
    with session_factory() as s:
        reasons = s.execute(
            select(ApplicationEvent.reason).where(ApplicationEvent.application_id == app.id)
        ).scalars()
        assert list(reasons) == ["继承人代办：提交退费申请"]
    listed = client.get(
        f"{API}/medical/payments", params={"heir_claim_id": made["id"]}, headers=heir
    ).json()
    assert listed["items"][0]["refundable"] is False


def test_the_refund_cannot_go_to_the_deceaseds_or_anyone_elses_account(
    client, login, world, session_factory
):
    heir = login("person", world["heir"])
    made = claim(client, heir, world)
    for account in ("deceased_account", "stranger_account"):
        r = client.post(
            f"{API}/medical/refunds",
            json=refund_body(world, made["id"], deposit_account_id=world[account]),
            headers=heir,
        )
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "deposit_account.not_found"
    assert medical_apps(session_factory) == []


def test_without_the_claim_the_heir_cannot_apply_for_the_deceaseds_payment(
    client, login, world, session_factory
):
    heir = login("person", world["heir"])
    claim(client, heir, world)
    r = client.post(f"{API}/medical/refunds", json=refund_body(world, None), headers=heir)
    assert r.status_code == 404
    assert medical_apps(session_factory) == []


def test_someone_elses_claim_is_not_found_for_listing_or_applying(
    client, login, world, session_factory
):
    made = claim(client, login("person", world["heir"]), world)
    stranger = login("person", world["stranger"])
    r = client.get(
        f"{API}/medical/payments", params={"heir_claim_id": made["id"]}, headers=stranger
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "heir_claim.not_found"
    assert world["payment"] not in r.text
    r = client.post(
        f"{API}/medical/refunds",
        json=refund_body(world, made["id"], deposit_account_id=world["stranger_account"]),
        headers=stranger,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "heir_claim.not_found"
    assert medical_apps(session_factory) == []


def test_a_refused_claim_opens_neither_the_payments_nor_an_application(
    client, login, world, session_factory
):
    heir = login("person", world["heir"])
    made = claim(client, heir, world, deceased_name="邱世富")
    assert made["status"] == "refused"
    r = client.get(f"{API}/medical/payments", params={"heir_claim_id": made["id"]}, headers=heir)
    assert r.status_code == 409 and r.json()["error"]["code"] == "heir_claim.not_verified"
    assert world["payment"] not in r.text
    r = client.post(f"{API}/medical/refunds", json=refund_body(world, made["id"]), headers=heir)
    assert r.status_code == 409 and r.json()["error"]["code"] == "heir_claim.not_verified"
    assert medical_apps(session_factory) == []


def test_a_refused_heir_application_does_not_open_the_heirs_own_reapply_form(
    client, login, world, session_factory
):
    heir = login("person", world["heir"])
    made = claim(client, heir, world)
    r = client.post(f"{API}/medical/refunds", json=refund_body(world, made["id"]), headers=heir)
    app_id = r.json()["applications"][0]["id"]
    with session_factory() as s, s.begin():
        applications.transition(
            s,
            application=applications.get(s, app_id),
            target=ApplicationStatus.REJECTED,
            actor=Actor.officer("OF0001"),
            at=f.AT,
            reason="审核不通过：材料不全",
            values={"review_opinion": "材料不全"},
        )
    progress = client.get(
        f"{API}/medical/refunds", params={"insurance_year": 2026}, headers=heir
    ).json()
    (row,) = [i for i in progress["items"] if i["id"] == app_id]
    assert row["reapplicable"] is False  # the deceased's payment: applied for under the claim
    assert client.get(f"/etax/medical/apply?reapply={app_id}", headers=heir).status_code == 404
    # Under the claim the payment is refundable again.
    listed = client.get(
        f"{API}/medical/payments", params={"heir_claim_id": made["id"]}, headers=heir
    ).json()
    assert listed["items"][0]["refundable"] is True
