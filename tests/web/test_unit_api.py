"""城乡居民基本养老保险退费（村组） through the API: each test is one rule of domain.md /
api.md "Pension, unit". Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, RefundBatch
from tests import factories as f

GOOD_CARD = "6228480402564890018"
BAD_CARD = "6228480402564890019"


@pytest.fixture
def village(seed):
    """A unit with a 村集体补助 payment for four villagers (amounts 200, 200, 150, 300 yuan),
    a normal payment, and a second unit."""

    def build(s):
        unit = f.make_unit(s)
        people = [f.make_person(s, name=n) for n in ("邱世贵", "王秀英", "李建国", "张桂兰")]
        subsidy, lines = f.make_unit_payment(s, unit, people, year=2022, month=1)
        lines[2].amount_fen = 15000
        lines[3].amount_fen = 30000
        normal, normal_lines = f.make_unit_payment(
            s, unit, people[:1], payment_type="normal", year=2022, month=1
        )
        other_unit = f.make_unit(s, name="华容区临江乡东港村村民委员会")
        s.flush()
        return {
            "unit": unit.id,
            "other_unit": other_unit.id,
            "people": people,
            "subsidy": subsidy.unit_payment_id,
            "lines": [ln.line_id for ln in lines],
            "normal": normal.unit_payment_id,
            "normal_line": normal_lines[0].line_id,
        }

    return seed(build)


def batch_body(unit_payment_id, *line_ids, **overrides):
    return {
        "unit_payment_id": unit_payment_id,
        "line_ids": list(line_ids),
        "payment_month": 1,
        "bank_account_no": GOOD_CARD,
        "bank_account_name": "华容区庙岭镇新庙村村民委员会",
        "bank_account_type": "bank_card",
        "bank_category": "103",
        "contact_name": "邱世贵",
        "contact_phone": "13812341234",
        **overrides,
    }


def count(session_factory, model, **where) -> int:
    with session_factory() as s:
        q = select(func.count()).select_from(model)
        for column, value in where.items():
            q = q.where(getattr(model, column) == value)
        return s.execute(q).scalar_one()


def status_of(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


def save(client, headers, *args, **kwargs):
    return client.post(
        "/api/v1/unit/refund-batches", json=batch_body(*args, **kwargs), headers=headers
    )


# --------------------------------------------------------------------------- who may call


def test_anonymous_callers_get_401_and_persons_get_403(client, login, village):
    person = village["people"][0]
    for method, path in [
        ("get", "/api/v1/unit/payments"),
        ("get", f"/api/v1/unit/payments/{village['subsidy']}/persons"),
        ("get", "/api/v1/unit/refunds"),
        ("get", "/api/v1/unit/refunds/1/persons"),
        ("post", "/api/v1/unit/refunds/1/cancel"),
    ]:
        assert getattr(client, method)(path).status_code == 401
        assert getattr(client, method)(path, headers=login("person", person.id)).status_code == 403
    assert (
        client.post(
            "/api/v1/unit/refund-batches",
            json=batch_body(village["subsidy"], village["lines"][0]),
            headers=login("person", person.id),
        ).status_code
        == 403
    )


# --------------------------------------------------------------------------- 可退费查询


def test_payment_rows_show_unit_counts_and_amount(client, login, village):
    response = client.get(
        "/api/v1/unit/payments",
        params={"year": 2022, "month": 1},
        headers=login("unit", village["unit"]),
    )
    assert response.status_code == 200
    rows = {r["unit_payment_id"]: r for r in response.json()["items"]}
    assert response.json()["total"] == 2
    row = rows[village["subsidy"]]
    assert (row["paid_count"], row["refund_count"], row["amount"]) == (4, 0, "800.00")
    assert row["payment_type_label"] == "村集体补助"
    assert row["declaration_channel"] == "电子税务局"
    assert row["unit_name"] == "华容区庙岭镇新庙村村民委员会"
    assert row["refundable"] is True
    assert rows[village["normal"]]["refundable"] is False


def test_payments_filter_by_type_month_and_id_number(client, login, village):
    headers = login("unit", village["unit"])

    def ids(**params):
        items = client.get("/api/v1/unit/payments", params=params, headers=headers).json()["items"]
        return {r["unit_payment_id"] for r in items}

    assert ids(payment_type="collective_subsidy") == {village["subsidy"]}
    assert ids(payment_type="special_group_proxy") == set()
    assert ids(month=2) == set()
    assert ids(year=2021) == set()
    assert ids(id_number=village["people"][3].id_number) == {village["subsidy"]}
    assert ids(id_number=village["people"][0].id_number) == {village["subsidy"], village["normal"]}
    bad = client.get("/api/v1/unit/payments", params={"payment_type": "bogus"}, headers=headers)
    assert bad.status_code == 422


def test_refund_count_counts_persons_refunded_or_being_refunded(
    client, login, seed, session_factory, village
):
    headers = login("unit", village["unit"])
    apps = save(client, headers, village["subsidy"], *village["lines"]).json()["applications"]
    refunded, pending, rejected, cancelled = (a["id"] for a in apps)
    seed(lambda s: f.walk(s, refunded, S.APPROVED, S.AT_AGENCY, S.REFUNDED))
    seed(lambda s: f.walk(s, rejected, S.REJECTED))
    seed(lambda s: f.walk(s, cancelled, S.CANCELLED))
    row = next(
        r
        for r in client.get("/api/v1/unit/payments", headers=headers).json()["items"]
        if r["unit_payment_id"] == village["subsidy"]
    )
    assert (row["paid_count"], row["refund_count"]) == (4, 2)  # refunded + pending
    del pending


# --------------------------------------------------------------------------- 选择区


def test_person_lines_show_masked_id_numbers_and_filter(client, login, village):
    headers = login("unit", village["unit"])
    url = f"/api/v1/unit/payments/{village['subsidy']}/persons"
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["line_id"] for i in items] == village["lines"]
    first = village["people"][0]
    assert items[0]["id_number"] == first.id_number[0] + "*" * 16 + first.id_number[-1]
    assert items[2]["amount"] == "150.00"
    assert all(i["refundable"] and i["application_id"] is None for i in items)
    for person in village["people"]:
        assert person.id_number not in response.text
    by_id = client.get(
        url, params={"id_number": village["people"][1].id_number.lower()}, headers=headers
    ).json()["items"]
    assert [i["name"] for i in by_id] == ["王秀英"]
    by_name = client.get(url, params={"name": "建"}, headers=headers).json()["items"]
    assert [i["name"] for i in by_name] == ["李建国"]
    assert client.get(url, params={"name": "%"}, headers=headers).json()["total"] == 0


def test_a_line_in_an_active_application_is_not_refundable(client, login, village):
    headers = login("unit", village["unit"])
    app_id = save(client, headers, village["subsidy"], village["lines"][0]).json()["applications"][
        0
    ]["id"]
    items = client.get(
        f"/api/v1/unit/payments/{village['subsidy']}/persons", headers=headers
    ).json()["items"]
    assert (items[0]["refundable"], items[0]["application_id"]) == (False, app_id)
    assert items[1]["refundable"] is True


# --------------------------------------------------------------------------- 保存


def test_unit_normal_payment_is_refused_with_payment_type_not_refundable(
    client, login, session_factory, village
):
    response = save(
        client, login("unit", village["unit"]), village["normal"], village["normal_line"]
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unit.payment_type_not_refundable"
    assert count(session_factory, Application) == count(session_factory, RefundBatch) == 0


def test_one_save_is_one_batch_with_one_application_per_chosen_person(
    client, login, session_factory, village
):
    lines = village["lines"]
    response = save(
        client, login("unit", village["unit"]), village["subsidy"], lines[0], lines[2], lines[0]
    )
    assert response.status_code == 201, response.text
    body = response.json()
    apps = body["applications"]
    assert [a["line_id"] for a in apps] == [lines[0], lines[2]]
    assert {a["batch_id"] for a in apps} == {body["batch_id"]}
    assert all(a["kind"] == "unit_pension" and a["status"] == "pending_review" for a in apps)
    assert count(session_factory, RefundBatch) == 1
    with session_factory() as s:
        rows = s.execute(select(Application).order_by(Application.id)).scalars().all()
        assert [r.person_id for r in rows] == [village["people"][0].id, village["people"][2].id]
        assert {r.unit_id for r in rows} == {village["unit"]}
        assert {r.region_code for r in rows} == {"420703"}
        assert {r.payment_month for r in rows} == {1}
        assert {r.bank_account_name for r in rows} == {"华容区庙岭镇新庙村村民委员会"}


def test_batch_amount_is_computed_from_the_chosen_lines(client, login, session_factory, village):
    lines = village["lines"]
    headers = login("unit", village["unit"])
    response = save(client, headers, village["subsidy"], lines[1], lines[2], lines[3])
    assert response.status_code == 201
    assert response.json()["amount"] == "650.00"  # 200 + 150 + 300
    assert [a["amount"] for a in response.json()["applications"]] == ["200.00", "150.00", "300.00"]
    with session_factory() as s:
        assert s.execute(select(RefundBatch.amount_fen)).scalar_one() == 65000
    # The client cannot dictate the amount.
    forged = save(client, headers, village["subsidy"], lines[0], amount="99999.00")
    assert forged.status_code == 422


def test_an_empty_selection_is_refused_with_no_person_selected(client, login, village):
    response = save(client, login("unit", village["unit"]), village["subsidy"])
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "unit.no_person_selected",
        "message": "请选择退费人员",
        "field": "line_ids",
    }


def test_a_line_of_another_payment_answers_404_and_creates_nothing(
    client, login, session_factory, village
):
    response = save(
        client,
        login("unit", village["unit"]),
        village["subsidy"],
        village["lines"][0],
        village["normal_line"],
    )
    assert response.status_code == 404
    assert count(session_factory, Application) == count(session_factory, RefundBatch) == 0


def test_a_line_already_in_an_active_application_is_a_conflict(
    client, login, session_factory, village
):
    lines = village["lines"]
    headers = login("unit", village["unit"])
    assert save(client, headers, village["subsidy"], lines[0]).status_code == 201
    again = save(client, headers, village["subsidy"], lines[1], lines[0])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "application.already_applied"
    assert count(session_factory, Application) == count(session_factory, RefundBatch) == 1


def test_bank_account_failing_luhn_is_refused_unless_confirmed(client, login, village):
    headers = login("unit", village["unit"])
    refused = save(
        client, headers, village["subsidy"], village["lines"][0], bank_account_no=BAD_CARD
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "bank_account.luhn"
    assert (
        save(
            client,
            headers,
            village["subsidy"],
            village["lines"][0],
            bank_account_no=BAD_CARD,
            account_no_confirmed=True,
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("override", "code", "field"),
    [
        ({"bank_account_name": " "}, "bank_account_name.required", "bank_account_name"),
        ({"payment_month": 13}, "month.invalid", "payment_month"),
        ({"payment_month": None}, "month.required", "payment_month"),
        ({"bank_account_type": ""}, "bank_account_type.unknown", "bank_account_type"),
        ({"contact_phone": "027-1234"}, "phone.format", "contact_phone"),
    ],
)
def test_every_field_of_the_maintenance_area_is_required_and_checked(
    client, login, village, override, code, field
):
    response = save(
        client, login("unit", village["unit"]), village["subsidy"], village["lines"][0], **override
    )
    assert response.status_code == 422
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)


# --------------------------------------------------------------------------- 退费进度, 撤销


def test_progress_has_one_row_per_application_with_the_manual_columns(
    client, login, seed, session_factory, village
):
    lines = village["lines"]
    headers = login("unit", village["unit"])
    apps = save(client, headers, village["subsidy"], lines[0], lines[1], lines[2]).json()[
        "applications"
    ]
    seed(lambda s: f.walk(s, apps[0]["id"], S.APPROVED))
    seed(lambda s: f.walk(s, apps[1]["id"], S.REJECTED))
    response = client.get("/api/v1/unit/refunds", params={"year": 2022}, headers=headers)
    assert response.status_code == 200
    rows = {r["id"]: r for r in response.json()["items"]}
    assert len(rows) == 3
    labels = {
        i: (r["hrss_status_label"], r["tax_review_status_label"], r["tax_review_result_label"])
        for i, r in rows.items()
    }
    assert labels == {
        apps[0]["id"]: ("处理中", "审核完成", "通过"),
        apps[1]["id"]: ("未申请", "审核完成", "不通过"),
        apps[2]["id"]: ("未申请", "待审核", "--"),
    }
    row = rows[apps[2]["id"]]
    assert (row["refund_count"], row["amount"], row["unit_name"]) == (
        1,
        "150.00",
        "华容区庙岭镇新庙村村民委员会",
    )
    assert row["period_start"] == "2022-01-01" and row["unit_ss_no"]
    assert (
        client.get("/api/v1/unit/refunds", params={"year": 2021}, headers=headers).json()["total"]
        == 0
    )


def test_refund_count_link_opens_the_person_detail(client, login, village):
    headers = login("unit", village["unit"])
    app_id = save(client, headers, village["subsidy"], village["lines"][3]).json()["applications"][
        0
    ]["id"]
    response = client.get(f"/api/v1/unit/refunds/{app_id}/persons", headers=headers)
    assert response.status_code == 200
    person = village["people"][3]
    [row] = response.json()["items"]
    assert row["name"] == "张桂兰"
    assert row["id_number"] == person.id_number[0] + "*" * 16 + person.id_number[-1]
    assert row["amount"] == "300.00"
    assert (row["period_start"], row["period_end"]) == ("2022-01-01", "2022-12-31")
    assert row["ss_no"].startswith("SS")
    assert person.id_number not in response.text


def test_cancelling_one_pending_application_cancels_its_batch_but_not_reviewed_ones(
    client, login, seed, session_factory, village
):
    lines = village["lines"]
    headers = login("unit", village["unit"])
    batch = save(client, headers, village["subsidy"], lines[0], lines[1], lines[2]).json()
    reviewed, a, b = (x["id"] for x in batch["applications"])
    other_batch = save(client, headers, village["subsidy"], lines[3]).json()["applications"][0][
        "id"
    ]
    seed(lambda s: f.walk(s, reviewed, S.APPROVED))

    response = client.post(f"/api/v1/unit/refunds/{b}/cancel", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"cancelled": sorted([a, b])}
    assert status_of(session_factory, a) == status_of(session_factory, b) == "cancelled"
    assert status_of(session_factory, reviewed) == "approved"
    assert status_of(session_factory, other_batch) == "pending_review"


def test_cancel_is_refused_when_the_application_is_not_pending(
    client, login, seed, session_factory, village
):
    headers = login("unit", village["unit"])
    apps = save(
        client, headers, village["subsidy"], village["lines"][0], village["lines"][1]
    ).json()["applications"]
    seed(lambda s: f.walk(s, apps[0]["id"], S.APPROVED))
    response = client.post(f"/api/v1/unit/refunds/{apps[0]['id']}/cancel", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "application.not_cancellable"
    assert status_of(session_factory, apps[1]["id"]) == "pending_review"


def test_cancelled_lines_can_be_saved_again(client, login, village):
    headers = login("unit", village["unit"])
    app_id = save(client, headers, village["subsidy"], village["lines"][0]).json()["applications"][
        0
    ]["id"]
    assert client.post(f"/api/v1/unit/refunds/{app_id}/cancel", headers=headers).status_code == 200
    assert save(client, headers, village["subsidy"], village["lines"][0]).status_code == 201


def test_another_units_payment_or_application_answers_404(client, login, village):
    owner = login("unit", village["unit"])
    intruder = login("unit", village["other_unit"])
    app_id = save(client, owner, village["subsidy"], village["lines"][0]).json()["applications"][0][
        "id"
    ]
    assert (
        client.get(
            f"/api/v1/unit/payments/{village['subsidy']}/persons", headers=intruder
        ).status_code
        == 404
    )
    assert save(client, intruder, village["subsidy"], village["lines"][1]).status_code == 404
    assert client.get(f"/api/v1/unit/refunds/{app_id}/persons", headers=intruder).status_code == 404
    assert client.post(f"/api/v1/unit/refunds/{app_id}/cancel", headers=intruder).status_code == 404
    assert client.get("/api/v1/unit/payments", headers=intruder).json()["total"] == 0
    assert client.get("/api/v1/unit/refunds", headers=intruder).json()["total"] == 0
    assert client.get("/api/v1/unit/payments/UP-NO-SUCH/persons", headers=owner).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        "[1, 2",
        {"unit_payment_id": "UP1", "line_ids": "UL1"},
        {"unit_payment_id": 5, "line_ids": []},
        {**batch_body("UP1", "UL1"), "line_ids": ["UL"] * 1001},
        {**batch_body("UP1", "UL1"), "bank_account_name": "名" * 101},
        {**batch_body("UP1", "UL1"), "payment_month": "January"},
    ],
)
def test_malformed_batches_get_422_never_500(client, login, village, body):
    headers = login("unit", village["unit"])
    if isinstance(body, str):
        response = client.post(
            "/api/v1/unit/refund-batches",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
    else:
        response = client.post("/api/v1/unit/refund-batches", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


# --------------------------------------------------------------------------- retries and races


def test_same_idempotency_key_and_body_replays_the_first_batch(
    client, login, session_factory, village
):
    headers = {**login("unit", village["unit"]), "Idempotency-Key": "batch-1"}
    first = save(client, headers, village["subsidy"], village["lines"][0])
    second = save(client, headers, village["subsidy"], village["lines"][0])
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert count(session_factory, RefundBatch) == count(session_factory, Application) == 1
    other = save(client, headers, village["subsidy"], village["lines"][1])
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency.key_reused"
    assert count(session_factory, Application) == 1


def test_concurrent_identical_saves_create_exactly_one_batch(app, login, session_factory, village):
    headers = login("unit", village["unit"])
    n = 3
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def submit() -> None:
        with TestClient(app, raise_server_exceptions=False) as own_client:
            barrier.wait()
            statuses.append(
                save(own_client, headers, village["subsidy"], *village["lines"][:2]).status_code
            )

    threads = [threading.Thread(target=submit) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201] + [409] * (n - 1)
    assert count(session_factory, RefundBatch) == 1
    assert count(session_factory, Application) == 2
