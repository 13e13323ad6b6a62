"""Explain before submit (issue 10, part 6): every payment that cannot be refunded says why on
the list itself; the pension list filters on 到账状态 (the manual's 未到账 / 异常); the medical
list opens on the newest insurance year that has payments and lists those years."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.web.test_pension_api import apply_body


@pytest.fixture
def person_with_payments(seed):
    def build(s):
        p = f.make_person(s)
        pays = {
            "a": f.make_pension_payment(s, p, amount_fen=70000),
            "abnormal": f.make_pension_payment(s, p, amount_fen=35050, arrival_status="abnormal"),
            "arrived": f.make_pension_payment(s, p, arrival_status="arrived"),
        }
        return p.id, {k: v.payment_id for k, v in pays.items()}

    return seed(build)


def _reasons(client, headers, **params):
    body = client.get("/api/v1/pension/payments", params=params, headers=headers).json()
    return {r["payment_id"]: r["not_refundable_reason"] for r in body["items"]}


def test_each_pension_payment_that_cannot_be_refunded_says_why(client, login, person_with_payments):
    person_id, ids = person_with_payments
    headers = login("person", person_id)
    assert _reasons(client, headers) == {
        ids["a"]: None,
        ids["abnormal"]: None,
        ids["arrived"]: "已到账 — 请到办税服务厅办理",
    }
    created = client.post("/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers)
    assert created.status_code == 201
    assert _reasons(client, headers)[ids["a"]] == "已申请"


def test_the_pension_list_filters_on_arrival_status(client, login, person_with_payments):
    person_id, ids = person_with_payments
    headers = login("person", person_id)
    assert set(_reasons(client, headers, arrival_status="abnormal")) == {ids["abnormal"]}
    assert set(_reasons(client, headers, arrival_status="not_arrived")) == {ids["a"]}
    assert set(_reasons(client, headers, arrival_status="arrived")) == {ids["arrived"]}
    bad = client.get("/api/v1/pension/payments", params={"arrival_status": "lost"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "arrival_status"


def test_the_medical_list_opens_on_the_newest_year_with_payments_and_lists_them(
    client, login, seed
):
    def build(s):
        p = f.make_person(s)
        reg = f.make_registration(s, p)
        f.make_medical_payment(s, reg, year=2024)
        newest = f.make_medical_payment(s, reg, year=2025)
        return p.id, newest.payment_id

    person_id, newest = seed(build)
    headers = login("person", person_id)
    body = client.get("/api/v1/medical/payments", headers=headers).json()
    # Today (the tests' clock) is in insurance year 2027, which has no payments.
    assert body["insurance_year"] == 2025
    assert body["insurance_years"] == [2025, 2024]
    assert [i["payment_id"] for i in body["items"]] == [newest]
    assert body["items"][0]["not_refundable_reason"] is None
    empty = client.get(
        "/api/v1/medical/payments", params={"insurance_year": 2027}, headers=headers
    ).json()
    assert (empty["insurance_year"], empty["items"], empty["insurance_years"]) == (
        2027,
        [],
        [2025, 2024],
    )


def test_a_normal_unit_payment_and_its_persons_say_why_they_cannot_be_refunded(client, login, seed):
    def build(s):
        unit = f.make_unit(s)
        persons = [f.make_person(s), f.make_person(s)]
        normal, _ = f.make_unit_payment(s, unit, persons, payment_type="normal")
        subsidy, _ = f.make_unit_payment(s, unit, persons)
        return unit.id, normal.unit_payment_id, subsidy.unit_payment_id

    unit_id, normal, subsidy = seed(build)
    headers = login("unit", unit_id)
    items = client.get("/api/v1/unit/payments", headers=headers).json()["items"]
    reasons = {i["unit_payment_id"]: i["not_refundable_reason"] for i in items}
    assert reasons[subsidy] is None
    assert reasons[normal].startswith("正常缴费")
    persons = client.get(f"/api/v1/unit/payments/{normal}/persons", headers=headers).json()
    assert {p["not_refundable_reason"] for p in persons["items"]} == {reasons[normal]}


def test_the_pension_page_shows_the_reason_on_the_list_itself(
    client, login, person_with_payments, session_factory, clock, settings
):
    from sirefund.services import accounts

    person_id, _ = person_with_payments
    with session_factory() as s, s.begin():
        token, _row = accounts.create_session(
            s, kind="person", account_id=person_id, at=clock.now(), settings=settings
        )
    client.cookies.set("sirefund_session", token)
    page = client.get("/etax/pension", params={"year": 2025})
    assert page.status_code == 200
    assert "data-not-refundable>已到账 — 请到办税服务厅办理<" in page.text
    filtered = client.get("/etax/pension", params={"year": 2025, "arrival": "abnormal"})
    assert filtered.text.count('name="payment_ids"') == 1
    mobile = client.get("/m/pension", params={"year": 2025})
    assert "data-not-refundable>已到账 — 请到办税服务厅办理<" in mobile.text
