"""城乡居民基本养老保险退费（个人） through the API: each test is one rule of domain.md /
api.md "Pension, person". Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sirefund.domain.workflow import ApplicationStatus
from sirefund.models import Application, ApplicationEvent
from sirefund.services import applications
from sirefund.services.applications import Actor
from tests import factories as f

GOOD_CARD = "6228480402564890018"  # passes Luhn
BAD_CARD = "6228480402564890019"  # a UnionPay card number failing Luhn

BANK = {
    "bank_account_type": "bank_card",
    "bank_account_no": GOOD_CARD,
    "bank_category": "103",
    "contact_name": "邱世贵",
    "contact_phone": "13812341234",
}


@pytest.fixture
def person_with_payments(seed):
    """A person with two not-arrived payments, an abnormal one and an arrived one in 2025."""

    def build(s):
        p = f.make_person(s)
        pays = {
            "a": f.make_pension_payment(s, p, amount_fen=70000),
            "b": f.make_pension_payment(s, p, amount_fen=100000),
            "abnormal": f.make_pension_payment(s, p, amount_fen=35050, arrival_status="abnormal"),
            "arrived": f.make_pension_payment(s, p, arrival_status="arrived"),
        }
        return p, {k: v.payment_id for k, v in pays.items()}

    return seed(build)


def apply_body(*payment_ids, **overrides):
    return {"payment_ids": list(payment_ids), **BANK, **overrides}


def count_applications(session_factory, **where) -> int:
    with session_factory() as s:
        q = select(func.count(Application.id))
        for column, value in where.items():
            q = q.where(getattr(Application, column) == value)
        return s.execute(q).scalar_one()


# --------------------------------------------------------------------------- who may call


def test_anonymous_callers_get_401_and_units_get_403(client, login, seed):
    unit = seed(f.make_unit)
    for method, path in [
        ("get", "/api/v1/pension/payments"),
        ("get", "/api/v1/pension/refunds"),
        ("get", "/api/v1/pension/refunds/1"),
        ("post", "/api/v1/pension/refunds/1/cancel"),
    ]:
        assert getattr(client, method)(path).status_code == 401
        response = getattr(client, method)(path, headers=login("unit", unit.id))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "auth.wrong_account_kind"
    assert client.post("/api/v1/pension/refunds", json=apply_body("x")).status_code == 401


# --------------------------------------------------------------------------- querying


def test_payments_list_shows_amounts_in_yuan_and_never_applied_labels(
    client, login, person_with_payments
):
    person, ids = person_with_payments
    response = client.get(
        "/api/v1/pension/payments", params={"year": 2025}, headers=login("person", person.id)
    )
    assert response.status_code == 200
    page = response.json()
    assert (page["total"], page["page"], page["page_size"]) == (4, 1, 10)
    rows = {r["payment_id"]: r for r in page["items"]}
    assert rows[ids["abnormal"]]["amount"] == "350.50"
    assert rows[ids["a"]]["refundable"] is True
    assert rows[ids["arrived"]]["refundable"] is False
    assert rows[ids["a"]]["period_start"] == "2025-01-01"
    assert rows[ids["a"]]["channel"] == "楚税通"
    assert {
        (r["refund_status_label"], r["review_status_label"], r["application_id"])
        for r in rows.values()
    } == {("未申请", "—", None)}


def test_payments_list_filters_by_year_state_and_pages(client, login, seed, person_with_payments):
    person, ids = person_with_payments
    seed(lambda s: f.make_pension_payment(s, s.merge(person), year=2019))
    headers = login("person", person.id)
    assert (
        client.post(
            "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
        ).status_code
        == 201
    )

    def listed(**params):
        body = client.get("/api/v1/pension/payments", params=params, headers=headers).json()
        return body["total"], {r["payment_id"] for r in body["items"]}

    assert listed(year=2019)[0] == 1
    assert listed()[0] == 5
    assert listed(year=2025, state="applied") == (1, {ids["a"]})
    assert listed(year=2025, state="refundable") == (2, {ids["b"], ids["abnormal"]})
    total, first = listed(year=2025, page=1, page_size=3)
    _, second = listed(year=2025, page=2, page_size=3)
    assert total == 4 and len(first) == 3 and len(second) == 1 and not first & second
    bad = client.get("/api/v1/pension/payments", params={"state": "nonsense"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "state"


# --------------------------------------------------------------------------- applying


def test_arrived_payment_is_refused_with_arrived_needs_officer(
    client, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    response = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["arrived"]),
        headers=login("person", person.id),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "pension.arrived_needs_officer"
    assert "税务人员" in error["message"]
    assert count_applications(session_factory) == 0


def test_one_application_per_selected_payment(client, login, session_factory, person_with_payments):
    person, ids = person_with_payments
    response = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["a"], ids["abnormal"], ids["a"], channel="mobile_app"),
        headers=login("person", person.id),
    )
    assert response.status_code == 201, response.text
    apps = response.json()["applications"]
    assert [(a["payment_id"], a["amount"]) for a in apps] == [
        (ids["a"], "700.00"),
        (ids["abnormal"], "350.50"),
    ]
    for a in apps:
        assert a["kind"] == "pension" and a["status"] == "pending_review"
        assert a["channel"] == "mobile_app"
        assert (a["refund_status_label"], a["review_status_label"], a["review_result_label"]) == (
            "已申请",
            "待审核",
            "未知",
        )
        assert a["bank_account_masked"] == "***************0018"
        assert a["contact_phone_masked"] == "138****1234"
        assert a["created_at"].endswith("+00:00")
    assert count_applications(session_factory) == 2
    assert count_applications(session_factory, pension_payment_id=ids["a"]) == 1


def test_the_payments_list_shows_the_application_and_its_labels(
    client, login, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    app_id = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["b"]), headers=headers
    ).json()["applications"][0]["id"]
    rows = {
        r["payment_id"]: r
        for r in client.get("/api/v1/pension/payments", headers=headers).json()["items"]
    }
    row = rows[ids["b"]]
    assert row["application_id"] == app_id
    assert row["refundable"] is False
    assert (row["refund_status_label"], row["review_status_label"], row["review_result_label"]) == (
        "已申请",
        "待审核",
        "未知",
    )


def test_reapplying_an_applied_payment_is_a_conflict(
    client, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    assert (
        client.post(
            "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
        ).status_code
        == 201
    )
    again = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["b"], ids["a"]), headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "application.already_applied"
    # All or nothing: the fresh payment b was not applied for either.
    assert count_applications(session_factory, pension_payment_id=ids["b"]) == 0


def test_one_refused_payment_creates_nothing(client, login, session_factory, person_with_payments):
    person, ids = person_with_payments
    response = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["a"], ids["arrived"]),
        headers=login("person", person.id),
    )
    assert response.status_code == 422
    assert count_applications(session_factory) == 0


def test_after_cancel_the_payment_can_be_applied_for_again(
    client, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    first = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
    ).json()["applications"][0]
    cancelled = client.post(f"/api/v1/pension/refunds/{first['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (
        cancelled.json()["refund_status_label"] == "已撤销"
    )  # the application; its payment: 未申请
    row = next(
        r
        for r in client.get("/api/v1/pension/payments", headers=headers).json()["items"]
        if r["payment_id"] == ids["a"]
    )
    assert (row["refund_status_label"], row["refundable"], row["application_id"]) == (
        "未申请",
        True,
        None,
    )
    again = client.post("/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers)
    assert again.status_code == 201
    assert again.json()["applications"][0]["id"] != first["id"]
    assert count_applications(session_factory, pension_payment_id=ids["a"]) == 2


def test_a_rejected_payment_can_be_applied_for_again(
    client, login, seed, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    app_id = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
    ).json()["applications"][0]["id"]
    seed(lambda s: f.walk(s, app_id, ApplicationStatus.REJECTED))
    row = next(
        r
        for r in client.get("/api/v1/pension/payments", headers=headers).json()["items"]
        if r["payment_id"] == ids["a"]
    )
    assert (row["refund_status_label"], row["review_result_label"], row["refundable"]) == (
        "税务退回",
        "未通过",
        True,
    )
    applied = client.get("/api/v1/pension/payments", params={"state": "applied"}, headers=headers)
    assert applied.json()["total"] == 0  # rejected is not an active application
    assert (
        client.post(
            "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
        ).status_code
        == 201
    )


def test_cancel_only_while_pending_review(
    client, login, seed, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    apps = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["a"], ids["b"]), headers=headers
    ).json()["applications"]
    seed(lambda s: f.walk(s, apps[0]["id"], ApplicationStatus.APPROVED))
    refused = client.post(f"/api/v1/pension/refunds/{apps[0]['id']}/cancel", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "application.not_cancellable",
        "message": "仅待审核或待补正的申请可以撤销",
        "field": None,
    }
    with session_factory() as s:
        assert s.get(Application, apps[0]["id"]).status == "approved"
    assert (
        client.post(f"/api/v1/pension/refunds/{apps[1]['id']}/cancel", headers=headers).status_code
        == 200
    )
    twice = client.post(f"/api/v1/pension/refunds/{apps[1]['id']}/cancel", headers=headers)
    assert twice.status_code == 409


def test_another_persons_payment_or_application_answers_404(
    client, login, seed, person_with_payments
):
    owner, ids = person_with_payments
    other = seed(lambda s: f.make_person(s, name="王五"))
    app_id = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=login("person", owner.id)
    ).json()["applications"][0]["id"]
    intruder = login("person", other.id)
    stolen = client.post("/api/v1/pension/refunds", json=apply_body(ids["b"]), headers=intruder)
    missing = client.post(
        "/api/v1/pension/refunds", json=apply_body("PP-NO-SUCH"), headers=intruder
    )
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == missing.json()  # nothing tells "exists" from "not yours"
    assert client.get(f"/api/v1/pension/refunds/{app_id}", headers=intruder).status_code == 404
    assert (
        client.post(f"/api/v1/pension/refunds/{app_id}/cancel", headers=intruder).status_code == 404
    )
    assert client.get("/api/v1/pension/payments", headers=intruder).json()["total"] == 0
    assert client.get("/api/v1/pension/refunds", headers=intruder).json()["total"] == 0


def test_an_empty_selection_is_refused(client, login, person_with_payments):
    person, _ = person_with_payments
    response = client.post(
        "/api/v1/pension/refunds", json=apply_body(), headers=login("person", person.id)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "pension.no_payment_selected"


# --------------------------------------------------------------------------- bank details


def test_bank_card_failing_luhn_is_refused_unless_confirmed(
    client, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    refused = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["a"], bank_account_no=BAD_CARD),
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "bank_account.luhn"
    assert refused.json()["error"]["field"] == "bank_account_no"
    assert count_applications(session_factory) == 0
    confirmed = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["a"], bank_account_no=BAD_CARD, account_no_confirmed=True),
        headers=headers,
    )
    assert confirmed.status_code == 201
    with session_factory() as s:
        assert s.execute(select(Application.bank_account_no)).scalar_one() == BAD_CARD


@pytest.mark.parametrize(
    ("override", "code", "field"),
    [
        ({"bank_account_type": "cash"}, "bank_account_type.unknown", "bank_account_type"),
        ({"bank_account_no": "12ab"}, "bank_account.format", "bank_account_no"),
        ({"bank_account_no": ""}, "bank_account.required", "bank_account_no"),
        ({"bank_category": "999"}, "bank_category.unknown", "bank_category"),
        ({"contact_name": "  "}, "contact_name.required", "contact_name"),
        ({"contact_phone": "12345"}, "phone.format", "contact_phone"),
    ],
)
def test_every_bank_detail_is_required_and_checked(
    client, login, person_with_payments, override, code, field
):
    person, ids = person_with_payments
    response = client.post(
        "/api/v1/pension/refunds",
        json=apply_body(ids["a"], **override),
        headers=login("person", person.id),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        {"payment_ids": "PP1", **BANK},
        {"payment_ids": [1], **BANK},
        {"payment_ids": ["P"], **{k: v for k, v in BANK.items() if k != "contact_phone"}},
        {"payment_ids": ["P"] * 101, **BANK},
        {"payment_ids": ["P" * 41], **BANK},
        {"payment_ids": ["P"], **BANK, "contact_name": "名" * 51},
        {"payment_ids": ["P"], **BANK, "amount": "1.00"},
        {"payment_ids": ["P"], **BANK, "channel": "officer"},
    ],
)
def test_malformed_requests_get_422_never_500(client, login, person_with_payments, body):
    person, _ = person_with_payments
    headers = login("person", person.id)
    if isinstance(body, str):
        response = client.post(
            "/api/v1/pension/refunds",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
    else:
        response = client.post("/api/v1/pension/refunds", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


# --------------------------------------------------------------------------- progress


def test_progress_and_detail_show_the_history(client, login, clock, person_with_payments):
    person, ids = person_with_payments
    headers = login("person", person.id)
    app_id = client.post(
        "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
    ).json()["applications"][0]["id"]
    clock.advance(minutes=5)
    client.post(f"/api/v1/pension/refunds/{app_id}/cancel", headers=headers)
    progress = client.get("/api/v1/pension/refunds", params={"year": 2025}, headers=headers).json()
    assert progress["total"] == 1
    assert progress["items"][0]["id"] == app_id
    assert progress["items"][0]["cancellable"] is False
    assert (
        client.get("/api/v1/pension/refunds", params={"year": 2020}, headers=headers).json()[
            "total"
        ]
        == 0
    )
    detail = client.get(f"/api/v1/pension/refunds/{app_id}", headers=headers)
    assert detail.status_code == 200
    history = detail.json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "pending_review"),
        ("pending_review", "cancelled"),
    ]
    assert history[1]["actor_kind"] == "person"
    assert history[1]["at"] == "2026-03-10T09:35:00+00:00"


def test_no_full_id_number_or_account_in_any_response(client, login, person_with_payments):
    person, ids = person_with_payments
    headers = login("person", person.id)
    created = client.post("/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers)
    app_id = created.json()["applications"][0]["id"]
    texts = [
        created.text,
        client.get("/api/v1/pension/payments", headers=headers).text,
        client.get("/api/v1/pension/refunds", headers=headers).text,
        client.get(f"/api/v1/pension/refunds/{app_id}", headers=headers).text,
        client.post(f"/api/v1/pension/refunds/{app_id}/cancel", headers=headers).text,
    ]
    masked = person.id_number[0] + "*" * 16 + person.id_number[-1]
    assert masked in texts[1]
    for text in texts:
        assert person.id_number not in text
        assert GOOD_CARD not in text
        assert "13812341234" not in text


# --------------------------------------------------------------------------- retries and races


def test_same_idempotency_key_and_body_replays_the_first_answer(
    client, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = {**login("person", person.id), "Idempotency-Key": "req-1"}
    first = client.post("/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers)
    second = client.post("/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert count_applications(session_factory) == 1
    other = client.post("/api/v1/pension/refunds", json=apply_body(ids["b"]), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency.key_reused"
    assert count_applications(session_factory) == 1


def test_concurrent_identical_submissions_create_exactly_one_application(
    app, login, session_factory, person_with_payments
):
    person, ids = person_with_payments
    headers = login("person", person.id)
    n = 4
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def submit() -> None:
        with TestClient(app, raise_server_exceptions=False) as own_client:
            barrier.wait()
            response = own_client.post(
                "/api/v1/pension/refunds", json=apply_body(ids["a"]), headers=headers
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201] + [409] * (n - 1)
    assert count_applications(session_factory) == 1
    with session_factory() as s:
        assert s.execute(select(func.count(ApplicationEvent.id))).scalar_one() == 1


def test_only_the_applicant_cancels_an_officer_initiated_application_stays(
    client, login, seed, session_factory, person_with_payments
):
    person, ids = person_with_payments

    def officer_initiates(s):
        officer = f.make_officer(s, initiator=True)
        app = Application(
            kind="pension",
            channel="officer",
            person_id=person.id,
            region_code="420703",
            pension_payment_id=ids["arrived"],
            amount_fen=70000,
            payment_year=2025,
            period_start=f.AT.date(),
            period_end=f.AT.date(),
            initiated_by_officer_id=officer.id,
        )
        return applications.create(
            s, application=app, actor=Actor.officer(officer.code), at=f.AT
        ).id

    app_id = seed(officer_initiates)
    headers = login("person", person.id)
    row = next(
        r
        for r in client.get("/api/v1/pension/payments", headers=headers).json()["items"]
        if r["payment_id"] == ids["arrived"]
    )
    assert (row["application_id"], row["refund_status_label"], row["cancellable"]) == (
        app_id,
        "已申请",
        False,
    )
    response = client.post(f"/api/v1/pension/refunds/{app_id}/cancel", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "application.not_cancellable"
    with session_factory() as s:
        assert s.get(Application, app_id).status == "pending_review"
