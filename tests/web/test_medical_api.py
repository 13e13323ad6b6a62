"""城乡居民基本医疗保险退费 through the API: each test is one rule of domain.md "Medical
payments" / api.md "Medical, person" / manual 2.1 and 2.2. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import (
    Application,
    DepositAccount,
    DepositAccountReport,
    MedicalRegistration,
    Person,
)
from tests import factories as f


@pytest.fixture
def insured(seed):
    """邱世贵 with one registration, a 2026 payment (350 + 50 长护), a 2025 one, a submitted account."""

    def build(s):
        p = f.make_person(s, name="邱世贵")
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026, medical_fen=35000, ltc_fen=5000)
        old = f.make_medical_payment(s, reg, year=2025, medical_fen=32000)
        acct = f.make_submitted_account(s, p)
        return {
            "person": p.id,
            "registration": reg.registration_id,
            "payment": pay.payment_id,
            "payment_2025": old.payment_id,
            "account": acct.id,
        }

    return seed(build)


@pytest.fixture
def headers(insured, login):
    return login("person", insured["person"])


def apply_body(*payment_ids, **overrides):
    body = {
        "payment_ids": list(payment_ids),
        "handler_phone": "13812341234",
        "reason_code": "duplicate_payment",
        "reason_text": "",
        "channel": "web",
    }
    body.update(overrides)
    return body


def apply(client, headers, *payment_ids, **overrides):
    return client.post(
        "/api/v1/medical/refunds", json=apply_body(*payment_ids, **overrides), headers=headers
    )


def error(r):
    return r.json()["error"]


def count_applications(session_factory) -> int:
    with session_factory() as s:
        return s.execute(select(func.count(Application.id))).scalar_one()


# --------------------------------------------------------------------------- 参保年度


def test_insurance_year_defaults_to_todays_which_is_2026_on_2026_03_10(client, headers, insured):
    r = client.get("/api/v1/medical/payments", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["insurance_year"] == 2026
    assert [i["payment_id"] for i in body["items"]] == [insured["payment"]]
    assert (
        client.get("/api/v1/medical/payments?insurance_year=2025", headers=headers).json()["items"][
            0
        ]["payment_id"]
        == insured["payment_2025"]
    )


@pytest.mark.parametrize(
    "utc_now,year",
    [
        (datetime(2026, 8, 31, 15, 59, tzinfo=UTC), 2026),  # 23:59 on 31 August in China
        (datetime(2026, 8, 31, 16, 0, tzinfo=UTC), 2027),  # 00:00 on 1 September in China
    ],
)
def test_insurance_year_turns_over_on_1_september_china_time(
    client, insured, login, clock, utc_now, year
):
    clock.current = utc_now
    headers = login("person", insured["person"])
    assert client.get("/api/v1/medical/refunds", headers=headers).json()["insurance_year"] == year
    # The payments list opens on the newest year that has payments, whatever today's year.
    assert client.get("/api/v1/medical/payments", headers=headers).json()["insurance_year"] == 2026


@pytest.mark.parametrize("url", ["/api/v1/medical/payments", "/api/v1/medical/refunds"])
def test_a_year_before_2023_is_refused_with_medical_year_unsupported(client, headers, url):
    r = client.get(f"{url}?insurance_year=2022", headers=headers)
    assert r.status_code == 422
    assert error(r)["code"] == "medical.year_unsupported"
    assert error(r)["field"] == "insurance_year"
    assert client.get(f"{url}?insurance_year=2023", headers=headers).status_code == 200


def test_a_payment_of_a_year_before_2023_cannot_be_applied_for(client, headers, insured, seed):
    def build(s):
        reg = s.get(MedicalRegistration, insured["registration"])
        return f.make_medical_payment(s, reg, year=2022).payment_id

    r = apply(client, headers, seed(build))
    assert r.status_code == 422 and error(r)["code"] == "medical.year_unsupported"


def test_payments_show_the_manuals_columns_in_yuan(client, headers, insured):
    [item] = client.get("/api/v1/medical/payments", headers=headers).json()["items"]
    assert item | {"ticket_no": None} == {
        "payment_id": insured["payment"],
        "registration_id": insured["registration"],
        "ticket_no": None,
        "item_name": "城乡居民基本医疗保险费",
        "refund_amount": "400.00",
        "medical_amount": "350.00",
        "ltc_amount": "50.00",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "payment_date": "2025-09-06",
        "insurance_year": 2026,
        "refundable": True,
        "not_refundable_reason": None,
        "application_id": None,
        "status": None,
        "refund_status_label": "未申请",
        "review_status_label": "—",
        "review_result_label": "—",
    }
    old = client.get("/api/v1/medical/payments?insurance_year=2025", headers=headers).json()[
        "items"
    ][0]
    assert old["ltc_amount"] == "0.00" and old["refund_amount"] == "320.00"


# --------------------------------------------------------------------------- 选择登记信息


def test_one_registration_is_chosen_for_the_person(client, headers, insured):
    body = client.get("/api/v1/medical/payments", headers=headers).json()
    assert body["registration"]["registration_id"] == insured["registration"]
    assert body["payer_name"] == "邱世贵" and body["id_number_masked"].count("*") == 16
    assert body["registration"]["agency_name"] == "武汉市医疗保障局(医疗)"


def test_two_registrations_require_a_choice(client, headers, insured, seed):
    def build(s):
        p = s.get(Person, insured["person"])
        reg = f.make_registration(
            s, p, agency_name="华容区医疗保障局(城乡医疗)", agency_code="420703YB"
        )
        return reg.registration_id, f.make_medical_payment(s, reg, year=2026).payment_id

    second, second_payment = seed(build)
    regs = client.get("/api/v1/medical/registrations", headers=headers).json()
    assert {r["registration_id"] for r in regs["items"]} == {insured["registration"], second}
    assert {"registration_id", "agency_name", "agency_code", "ss_code"} == set(regs["items"][0])

    r = client.get("/api/v1/medical/payments", headers=headers)
    assert r.status_code == 422
    assert error(r) == {
        "code": "medical.registration_required",
        "message": "请选择登记信息",
        "field": "registration_id",
    }
    r = apply(client, headers, second_payment)
    assert r.status_code == 422 and error(r)["code"] == "medical.registration_required"

    chosen = client.get(
        f"/api/v1/medical/payments?registration_id={second}", headers=headers
    ).json()
    assert [i["payment_id"] for i in chosen["items"]] == [second_payment]
    assert apply(client, headers, second_payment, registration_id=second).status_code == 201
    # A payment of the other registration is not one of the chosen registration's.
    r = apply(client, headers, insured["payment"], registration_id=second)
    assert r.status_code == 404


def test_a_person_without_registration_gets_an_empty_list(client, seed, login):
    headers = login("person", seed(lambda s: f.make_person(s).id))
    body = client.get("/api/v1/medical/payments", headers=headers).json()
    assert body["items"] == [] and body["registration"] is None


# --------------------------------------------------------------------------- 申请退费


def test_no_submitted_account_refuses_with_deposit_account_missing(client, seed, login):
    def build(s):
        p = f.make_person(s, name="李伊岚")
        reg = f.make_registration(s, p)
        # A draft is not a report: 暂存 alone does not put an account in force.
        s.add(
            DepositAccountReport(
                person_id=p.id, handler_name=p.name, state="draft", created_at=f.AT
            )
        )
        return p.id, f.make_medical_payment(s, reg).payment_id

    person_id, payment_id = seed(build)
    headers = login("person", person_id)
    # The prompt comes before the person has typed a phone or a reason, as on the page.
    r = apply(client, headers, payment_id, handler_phone=None, reason_code=None)
    assert r.status_code == 409
    assert error(r)["code"] == "deposit_account.missing"
    assert error(r)["message"] == "未查询到存款账户报告信息"
    assert client.get("/api/v1/deposit-accounts", headers=headers).json()["items"] == []


def test_medical_refund_amount_is_medical_plus_long_term_care(
    client, headers, insured, session_factory
):
    r = apply(client, headers, insured["payment"])
    assert r.status_code == 201, r.text
    [app] = r.json()["applications"]
    assert app["kind"] == "medical" and app["status"] == "pending_review"
    assert (app["amount"], app["medical_amount"], app["ltc_amount"]) == (
        "400.00",
        "350.00",
        "50.00",
    )
    assert app["refund_status_label"] == "已申请" and app["review_status_label"] == "待审核"
    assert app["bank_account_masked"] == "***************0018"
    assert app["handler_phone_masked"] == "138****1234"
    assert app["insurance_year"] == 2026 and app["channel"] == "web" and app["cancellable"] is True
    with session_factory() as s:
        row = s.get(Application, app["id"])
        assert row.amount_fen == 40000 and row.payment_year == 2026
        # The payout account is copied, so later report changes do not redirect this refund.
        assert (row.bank_account_no, row.bank_category, row.bank_account_name) == (
            "6228480402564890018",
            "103",
            "邱世贵",
        )
        assert (row.registration_id, row.deposit_account_id) == (
            insured["registration"],
            insured["account"],
        )


def test_applying_marks_the_payment_applied_and_a_second_application_is_refused(
    client, headers, insured
):
    app_id = apply(client, headers, insured["payment"]).json()["applications"][0]["id"]
    [item] = client.get("/api/v1/medical/payments", headers=headers).json()["items"]
    assert (item["refundable"], item["application_id"], item["refund_status_label"]) == (
        False,
        app_id,
        "已申请",
    )
    r = apply(client, headers, insured["payment"])
    assert r.status_code == 409 and error(r)["code"] == "application.already_applied"


@pytest.mark.parametrize(
    "reason_code,reason_text,field,code",
    [
        (None, None, "reason_code", "reason.unknown"),
        ("催缴", None, "reason_code", "reason.unknown"),
        ("other", "  ", "reason_text", "reason.text_required"),
    ],
)
def test_a_reason_from_the_list_is_required_and_other_needs_text(
    client, headers, insured, reason_code, reason_text, field, code
):
    r = apply(client, headers, insured["payment"], reason_code=reason_code, reason_text=reason_text)
    assert r.status_code == 422
    assert (error(r)["field"], error(r)["code"]) == (field, code)


def test_other_with_text_is_accepted_and_shown_as_the_reason(client, headers, insured):
    r = apply(
        client, headers, insured["payment"], reason_code="other", reason_text="重复参保已退出"
    )
    assert r.status_code == 201
    assert r.json()["applications"][0]["reason"] == "其他：重复参保已退出"


def test_handler_phone_is_required_and_checked_with_the_reason_at_once(client, headers, insured):
    r = apply(client, headers, insured["payment"], handler_phone="", reason_code=None)
    assert r.status_code == 422
    assert [e["field"] for e in error(r)["errors"]] == ["handler_phone", "reason_code"]
    assert error(r)["message"] == "请填写办理人电话"
    r = apply(client, headers, insured["payment"], handler_phone="1381234")
    assert r.status_code == 422 and error(r)["code"] == "phone.format"


def test_several_accounts_require_a_choice_and_the_choice_is_used(
    client, headers, insured, seed, session_factory
):
    second = seed(
        lambda s: (
            f.make_submitted_account(
                s, s.get(Person, insured["person"]), account_no="6217002870012345672"
            ).id
        )
    )
    r = apply(client, headers, insured["payment"])
    assert r.status_code == 422 and error(r)["code"] == "deposit_account.required"
    r = apply(client, headers, insured["payment"], deposit_account_id=second)
    assert r.status_code == 201
    assert r.json()["applications"][0]["bank_account_masked"].endswith("5672")


def test_another_persons_or_a_deleted_account_answers_404(
    client, headers, insured, seed, session_factory
):
    others = seed(lambda s: f.make_submitted_account(s, f.make_person(s, name="李伊岚")).id)
    r = apply(client, headers, insured["payment"], deposit_account_id=others)
    assert r.status_code == 404 and error(r)["code"] == "deposit_account.not_found"

    def retire(s):
        s.get(DepositAccount, insured["account"]).retired = True
        return f.make_submitted_account(s, s.get(Person, insured["person"])).id

    seed(retire)
    r = apply(client, headers, insured["payment"], deposit_account_id=insured["account"])
    assert r.status_code == 404


def test_another_persons_registration_or_payment_answers_404(client, headers, insured, seed, login):
    def build(s):
        other = f.make_person(s, name="李伊岚")
        reg = f.make_registration(s, other)
        return reg.registration_id, f.make_medical_payment(s, reg).payment_id

    reg, payment = seed(build)
    r = client.get(f"/api/v1/medical/payments?registration_id={reg}", headers=headers)
    assert r.status_code == 404 and error(r)["code"] == "medical.registration_not_found"
    r = apply(client, headers, payment)
    assert r.status_code == 404 and error(r)["code"] == "medical.payment_not_found"
    r = apply(client, headers, payment, registration_id=reg)
    assert r.status_code == 404
    r = apply(client, headers, insured["payment"], "MP-NOT-THERE")
    assert r.status_code == 404


def test_an_empty_selection_or_an_officer_channel_is_refused(client, headers, insured):
    assert error(apply(client, headers))["code"] == "medical.payments_required"
    r = apply(client, headers, insured["payment"], channel="officer")
    assert r.status_code == 422 and error(r)["field"] == "channel"


def test_the_phone_channel_is_recorded(client, headers, insured):
    r = apply(client, headers, insured["payment"], channel="mobile_app")
    assert r.json()["applications"][0]["channel_label"] == "楚税通"


# --------------------------------------------------------------------------- progress, cancel


def test_progress_shows_every_column_null_until_results_arrive(
    client, headers, insured, seed, session_factory
):
    app_id = apply(client, headers, insured["payment"]).json()["applications"][0]["id"]
    body = client.get("/api/v1/medical/refunds", headers=headers).json()
    assert body["insurance_year"] == 2026 and body["total"] == 1
    [row] = body["items"]
    assert {
        k: row[k]
        for k in (
            "period_start",
            "period_end",
            "applied_at_local",
            "amount",
            "medical_amount",
            "ltc_amount",
            "bank_account_masked",
            "reason",
        )
    } == {
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "applied_at_local": "2026-03-10 17:30:00",
        "amount": "400.00",
        "medical_amount": "350.00",
        "ltc_amount": "50.00",
        "bank_account_masked": "***************0018",
        "reason": "重复缴费",
    }
    for column in (
        "tax_opinion",
        "verification_result",
        "verified_at",
        "refund_date",
        "bank_result",
    ):
        assert column in row and row[column] is None

    seed(
        lambda s: f.walk(
            s,
            app_id,
            S.APPROVED,
            S.AT_AGENCY,
            S.REFUNDED,
            values={
                S.APPROVED: {"review_opinion": "同意退费"},
                S.AT_AGENCY: {
                    "verification_result": "核验通过",
                    "verified_at": datetime(2026, 3, 12, 2, 0, tzinfo=UTC),
                },
                S.REFUNDED: {"refund_date": date(2026, 3, 20), "bank_result": "退付成功"},
            },
        )
    )
    [row] = client.get("/api/v1/medical/refunds?insurance_year=2026", headers=headers).json()[
        "items"
    ]
    assert (
        row["tax_opinion"],
        row["verification_result"],
        row["refund_date"],
        row["bank_result"],
    ) == ("同意退费", "核验通过", "2026-03-20", "退付成功")
    assert row["verified_at"].startswith("2026-03-12T02:00:00")
    assert row["refund_status_label"] == "退费成功"
    assert (
        client.get("/api/v1/medical/refunds?insurance_year=2025", headers=headers).json()["items"]
        == []
    )


def test_cancel_only_while_pending(client, headers, insured, seed, session_factory):
    app_id = apply(client, headers, insured["payment"]).json()["applications"][0]["id"]
    r = client.post(f"/api/v1/medical/refunds/{app_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["refund_status_label"] == "已撤销"
    assert r.json()["cancellable"] is False
    r = client.post(f"/api/v1/medical/refunds/{app_id}/cancel", headers=headers)
    assert r.status_code == 409 and error(r)["code"] == "application.not_cancellable"

    # After cancelling the payment can be applied for again; once approved it cannot be cancelled.
    again = apply(client, headers, insured["payment"]).json()["applications"][0]["id"]
    seed(lambda s: f.walk(s, again, S.APPROVED))
    r = client.post(f"/api/v1/medical/refunds/{again}/cancel", headers=headers)
    assert r.status_code == 409
    detail = client.get(f"/api/v1/medical/refunds/{again}", headers=headers).json()
    assert [h["to_status"] for h in detail["history"]] == ["pending_review", "approved"]
    assert detail["refund_status_label"] == "医保核验中"


def test_another_persons_application_answers_404(client, headers, insured, seed, login):
    app_id = apply(client, headers, insured["payment"]).json()["applications"][0]["id"]
    other = login("person", seed(lambda s: f.make_person(s, name="李伊岚").id))
    assert client.get(f"/api/v1/medical/refunds/{app_id}", headers=other).status_code == 404
    r = client.post(f"/api/v1/medical/refunds/{app_id}/cancel", headers=other)
    assert r.status_code == 404 and error(r)["code"] == "application.not_found"
    assert client.get("/api/v1/medical/refunds", headers=other).json()["items"] == []


# --------------------------------------------------------------------------- access, idempotency, races


def test_medical_routes_answer_401_anonymous_and_403_to_units_and_officers(client, seed, login):
    unit = login("unit", seed(lambda s: f.make_unit(s).id))
    officer = login("officer", seed(lambda s: f.make_officer(s).id))
    routes = [
        ("get", "/api/v1/medical/registrations"),
        ("get", "/api/v1/medical/payments"),
        ("get", "/api/v1/medical/refunds"),
        ("get", "/api/v1/medical/refunds/1"),
        ("post", "/api/v1/medical/refunds"),
        ("post", "/api/v1/medical/refunds/1/cancel"),
    ]
    for method, url in routes:
        kwargs = {"json": apply_body("MP1")} if url.endswith("refunds") and method == "post" else {}
        assert getattr(client, method)(url, **kwargs).status_code == 401, url
        assert getattr(client, method)(url, headers=unit, **kwargs).status_code == 403, url
        assert getattr(client, method)(url, headers=officer, **kwargs).status_code == 403, url


def test_idempotency_key_replays_the_first_result(client, headers, insured, session_factory):
    key = {**headers, "Idempotency-Key": "medical-apply-1"}
    first = client.post("/api/v1/medical/refunds", json=apply_body(insured["payment"]), headers=key)
    second = client.post(
        "/api/v1/medical/refunds", json=apply_body(insured["payment"]), headers=key
    )
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert count_applications(session_factory) == 1
    other = client.post(
        "/api/v1/medical/refunds",
        headers=key,
        json=apply_body(insured["payment"], handler_phone="13912341234"),
    )
    assert other.status_code == 422 and error(other)["code"] == "idempotency.key_reused"


def test_concurrent_identical_submissions_create_one_application(
    app, headers, insured, session_factory
):
    results: list[int] = []
    barrier = threading.Barrier(2)

    def submit() -> None:
        with TestClient(app, raise_server_exceptions=False) as c:
            barrier.wait()
            results.append(
                c.post(
                    "/api/v1/medical/refunds", json=apply_body(insured["payment"]), headers=headers
                ).status_code
            )

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409]
    assert count_applications(session_factory) == 1


def test_bad_input_is_a_422_never_a_500(client, headers, insured):
    for body in (
        {"payment_ids": "MP1"},
        {"payment_ids": ["x" * 41]},
        {**apply_body(insured["payment"]), "reason_text": "很" * 501},
        {**apply_body(insured["payment"]), "deposit_account_id": "abc"},
    ):
        r = client.post("/api/v1/medical/refunds", json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
    assert (
        client.get("/api/v1/medical/payments?insurance_year=abc", headers=headers).status_code
        == 422
    )
    r = client.post(
        "/api/v1/medical/refunds",
        content=b"{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_openapi_describes_the_medical_routes_with_examples(client):
    doc = client.get("/openapi.json").json()
    for path in (
        "/api/v1/medical/payments",
        "/api/v1/medical/refunds",
        "/api/v1/deposit-accounts",
        "/api/v1/deposit-account-reports",
        "/api/v1/deposit-account-reports/{report_id}",
    ):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert schemas["MedicalRefundIn"]["examples"][0]["reason_code"] == "duplicate_payment"
    assert schemas["ReportIn"]["examples"][0]["accounts"][0]["currency"] == "156"
    assert schemas["AccountRowIn"]["properties"]["account_name"]["anyOf"][0]["maxLength"] == 100
