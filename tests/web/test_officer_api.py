"""税务端 API: scope, queue, detail, reveal, decisions (single, batch, concurrent), four eyes,
officer-initiated refunds, xlsx export. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import String, func, literal, select, union_all

from sirefund.domain import regions
from sirefund.domain.errors import DomainError
from sirefund.models import (
    Application,
    ApplicationEvent,
    OutboxMessage,
    SecurityEvent,
)
from sirefund.services import review_decisions, review_queue
from sirefund.services.officers import region_clause
from sirefund.services.review_decisions import RejectRequest
from sirefund.web.officer_export import EXPORT_HEADERS
from tests import factories as f
from tests.web.officer_helpers import ACCOUNT, medical_app, pension_app, unit_app

API = "/api/v1/officer"


# --------------------------------------------------------------------------- helpers


def _count(session_factory, model, *where) -> int:
    with session_factory() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _status(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


def _initiate_body(payment_id: str, **over) -> dict:
    body = {
        "payment_id": payment_id,
        "reason": "缴费人重复缴费，到办税服务厅申请退费",
        "bank_account_type": "bank_card",
        "bank_account_no": ACCOUNT,
        "bank_category": "103",
        "contact_name": "邱世贵",
        "contact_phone": "13812341234",
    }
    body.update(over)
    return body


# --------------------------------------------------------------------------- scope


SCOPES = [
    "",
    "420000",
    "420100",
    "420700",
    "420703",
    "429004",
    "429000",
    "421000",
    "4207",
    "42070x",
]


def test_the_sql_scope_rule_agrees_with_regions_is_within_for_every_hubei_code(session):
    codes = sorted(regions.DIVISIONS) + ["430102", "110000", "420799", "429099"]
    # A UNION of literals: SQLite cannot name the columns of a VALUES list.
    table = union_all(*(select(literal(c, String).label("code")) for c in codes)).subquery()
    for scope in SCOPES:
        got = set(
            session.execute(
                select(table.c.code).where(region_clause(table.c.code, scope))
            ).scalars()
        )
        assert got == {c for c in codes if regions.is_within(c, scope)}, scope


def test_a_city_officer_cannot_see_another_citys_application(client, login, session_factory):
    with session_factory() as s, s.begin():
        ezhou = f.make_officer(s, region="420700")
        wuhan_app = pension_app(s, region="420102").id
        ezhou_app = pension_app(s, region="420703").id
    headers = login("officer", ezhou.id)

    assert client.get(f"{API}/applications/{wuhan_app}", headers=headers).status_code == 404
    r = client.post(f"{API}/applications/{wuhan_app}/approve", headers=headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "application.not_found"
    listed = client.get(f"{API}/applications", headers=headers).json()
    assert [i["id"] for i in listed["items"]] == [ezhou_app]
    assert listed["total"] == 1
    assert _status(session_factory, wuhan_app) == "pending_review"


def test_the_province_officer_sees_every_city_and_can_filter_by_region(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        province = f.make_officer(s, region="420000")
        ids = [pension_app(s, region=r).id for r in ("420102", "420703", "429004")]
    headers = login("officer", province.id)

    everything = client.get(f"{API}/applications", headers=headers).json()
    assert sorted(i["id"] for i in everything["items"]) == sorted(ids)
    assert client.get(f"{API}/applications/{ids[0]}", headers=headers).status_code == 200
    ezhou = client.get(f"{API}/applications", params={"region": "420700"}, headers=headers).json()
    assert [i["id"] for i in ezhou["items"]] == [ids[1]]


def test_a_county_officer_filtering_outside_the_county_gets_nothing(client, login, session_factory):
    with session_factory() as s, s.begin():
        huarong = f.make_officer(s, region="420703")
        pension_app(s, region="420703")
        pension_app(s, region="420704")
    headers = login("officer", huarong.id)

    assert client.get(f"{API}/applications", headers=headers).json()["total"] == 1
    outside = client.get(f"{API}/applications", params={"region": "420100"}, headers=headers)
    assert outside.json()["total"] == 0


def test_only_officers_use_the_console(client, login, session_factory):
    with session_factory() as s, s.begin():
        person = f.make_person(s, password=f.PASSWORD)
    assert client.get(f"{API}/applications").status_code == 401
    r = client.get(f"{API}/applications", headers=login("person", person.id))
    assert r.status_code == 403


# --------------------------------------------------------------------------- queue


def test_the_queue_is_filtered_paginated_and_masks_the_payers_id(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        person = f.make_person(s, region="420703", name="邱世贵")
        first = pension_app(s, person=person, at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        pension_app(s, region="420703", at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
        pension_app(s, region="420703", at=datetime(2026, 3, 4, 2, 0, tzinfo=UTC))
        medical_app(s, region="420703")
    headers = login("officer", officer.id)

    r = client.get(
        f"{API}/applications",
        headers=headers,
        params={"kind": "pension", "status": "pending_review", "page": 1, "page_size": 2},
    )
    body = r.json()
    assert r.status_code == 200
    assert (body["total"], body["page"], body["page_size"], len(body["items"])) == (3, 1, 2, 2)
    item = body["items"][0]
    assert item["id"] == first.id  # the longest-waiting first
    assert item["payer_name"] == "邱世贵"
    assert (
        item["payer_id_number_masked"] == person.id_number[:6] + "********" + person.id_number[-4:]
    )
    assert item["amount"] == "700.00"
    assert item["bank_account_masked"] == "622848*********0018"
    assert (
        item["refund_status_label"],
        item["review_status_label"],
        item["review_result_label"],
    ) == ("已申请", "待审核", "未知")
    assert ACCOUNT not in r.text and person.id_number not in r.text

    medical = client.get(
        f"{API}/applications", params={"kind": "medical", "channel": "mobile_app"}, headers=headers
    ).json()
    assert medical["total"] == 1
    by_date = client.get(
        f"{API}/applications",
        headers=headers,
        params={"date_from": "2026-03-03", "date_to": "2026-03-03"},
    ).json()
    assert by_date["total"] == 1


def test_the_queue_refuses_bad_filters_with_the_field(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
    headers = login("officer", officer.id)
    cases = [
        ({"status": "done"}, "status"),
        ({"region": "4207"}, "region"),
        ({"date_from": "2026-03-09", "date_to": "2026-03-01"}, "date_from"),
        ({"page_size": 1000}, "page_size"),
        ({"date_from": "yesterday"}, "date_from"),
    ]
    for params, field in cases:
        r = client.get(f"{API}/applications", params=params, headers=headers)
        assert r.status_code == 422, params
        assert r.json()["error"]["field"] == field


def test_days_pending_count_working_days_against_the_statutory_thirty(
    client, login, session_factory
):
    # Today (the fixed clock) is Tuesday 2026-03-10 in China.
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        # Friday 2026-03-06 18:00 China time: Monday and Tuesday have elapsed.
        recent = pension_app(s, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC)).id
        # Tuesday 2026-01-20: seven calendar weeks ago, 35 weekdays; less the six weekdays
        # of the Spring Festival (16-20 and 23 Feb), plus its two 调休 Saturdays (14, 28 Feb).
        old = pension_app(s, at=datetime(2026, 1, 20, 2, 0, tzinfo=UTC)).id
    headers = login("officer", officer.id)

    items = {i["id"]: i for i in client.get(f"{API}/applications", headers=headers).json()["items"]}
    assert items[recent]["working_days_pending"] == 2
    assert items[recent]["working_days_left"] == 28
    assert items[recent]["overdue"] is False
    # Thirty working days later: Monday 6 April is 清明节, so Monday 20 April.
    assert items[recent]["review_deadline"] == "2026-04-20"
    assert items[old]["working_days_pending"] == 31
    assert items[old]["statutory_working_days"] == 30
    assert items[old]["overdue"] is True


def test_the_review_clock_stops_on_the_day_of_the_decision(client, login, session_factory, clock):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC)).id
    headers = login("officer", officer.id)
    assert client.post(f"{API}/applications/{app_id}/approve", headers=headers).status_code == 200
    clock.advance(days=14)
    item = client.get(f"{API}/applications", headers=login("officer", officer.id)).json()["items"][
        0
    ]
    assert item["working_days_pending"] == 2
    assert item["working_days_left"] is None


# --------------------------------------------------------------------------- detail, reveal


@pytest.mark.parametrize("kind", ["pension", "unit_pension", "medical"])
def test_the_detail_shows_payer_payment_bank_account_other_applications_and_history(
    kind, client, login, session_factory
):
    make = {"pension": pension_app, "unit_pension": unit_app, "medical": medical_app}[kind]
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        app = make(s)
        other = pension_app(s, person=app.person).id
        id_number = app.person.id_number
    headers = login("officer", officer.id)
    client.post(f"{API}/applications/{other}/reject", json={"opinion": "资料不全"}, headers=headers)

    r = client.get(f"{API}/applications/{app.id}", headers=headers)
    body = r.json()
    assert r.status_code == 200
    assert body["application"]["kind"] == kind
    assert body["payer"]["id_number_masked"] == id_number[:6] + "********" + id_number[-4:]
    assert body["payment"]["kind"] == kind
    assert body["bank_account"]["account_no_masked"].startswith(("622848", "621700"))
    assert "*" in body["bank_account"]["account_no_masked"]
    assert [o["id"] for o in body["other_applications"]] == [other]
    assert body["other_applications"][0]["refund_status_label"] == "税务退回"
    assert [h["to_status"] for h in body["history"]] == ["pending_review"]
    assert body["actions"] == {
        "can_approve": True,
        "can_reject": True,
        "can_reveal": True,
        "four_eyes_blocked": False,
    }
    assert id_number not in r.text
    if kind == "medical":
        assert body["payment"]["amount"] == "350.00"
        assert body["payment"]["ltc_amount"] == "50.00"
        assert body["payment"]["registration"]["agency_name"] == "武汉市医疗保障局(医疗)"
    if kind == "unit_pension":
        assert body["payment"]["unit_payment"]["payment_type_label"] == "村集体补助"


def test_reveal_needs_a_reason_and_is_recorded_without_the_value(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="OFREVEAL")
        app = pension_app(s)
        id_number = app.person.id_number
    headers = login("officer", officer.id)
    url = f"{API}/applications/{app.id}/reveal"

    for body in ({"field": "id_number"}, {"field": "id_number", "reason": "   "}):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "reveal.reason_required"
    assert _count(session_factory, SecurityEvent) == 0

    r = client.post(
        url, json={"field": "id_number", "reason": "缴费人来电核对身份"}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["value"] == id_number
    assert r.headers["cache-control"] == "no-store"
    r = client.post(
        url, json={"field": "bank_account_no", "reason": "核对退费账户"}, headers=headers
    )
    assert r.json()["value"] == ACCOUNT

    with session_factory() as s:
        events = s.execute(select(SecurityEvent).order_by(SecurityEvent.id)).scalars().all()
    assert [e.kind for e in events] == ["reveal", "reveal"]
    assert events[0].actor == "officer:OFREVEAL"
    detail = json.loads(events[0].detail)
    assert detail == {
        "application_id": app.id,
        "field": "id_number",
        "reason": "缴费人来电核对身份",
    }
    for e in events:
        assert id_number not in e.detail and ACCOUNT not in e.detail


def test_reveal_of_a_medical_applications_account_reads_the_deposit_account(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = medical_app(s).id
    r = client.post(
        f"{API}/applications/{app_id}/reveal",
        headers=login("officer", officer.id),
        json={"field": "bank_account_no", "reason": "核对医保退费账户"},
    )
    assert r.json()["value"] == "6217000010001234567"


def test_reveal_outside_the_scope_is_not_found_and_not_recorded(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        app_id = pension_app(s, region="420102").id
    r = client.post(
        f"{API}/applications/{app_id}/reveal",
        headers=login("officer", officer.id),
        json={"field": "id_number", "reason": "好奇"},
    )
    assert r.status_code == 404
    assert _count(session_factory, SecurityEvent) == 0


# --------------------------------------------------------------------------- decisions


def test_approve_writes_the_state_the_audit_row_and_one_outbox_message(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="OFAPPROVE")
        app_id = pension_app(s).id
    r = client.post(
        f"{API}/applications/{app_id}/approve",
        json={"opinion": "同意退费"},
        headers=login("officer", officer.id),
    )

    assert r.status_code == 200
    assert r.json()["status"] == "approved"
    assert r.json()["review_result_label"] == "通过"
    with session_factory() as s:
        app = s.get(Application, app_id)
        assert (app.reviewed_by_officer_id, app.review_opinion) == (officer.id, "同意退费")
        assert app.reviewed_at is not None
        event = s.execute(
            select(ApplicationEvent).where(
                ApplicationEvent.application_id == app_id, ApplicationEvent.to_status == "approved"
            )
        ).scalar_one()
        assert (event.actor_kind, event.actor_id, event.from_status) == (
            "officer",
            "OFAPPROVE",
            "pending_review",
        )
        messages = (
            s.execute(select(OutboxMessage).where(OutboxMessage.application_id == app_id))
            .scalars()
            .all()
        )
    assert [(m.agency, m.state) for m in messages] == [("hrss", "pending")]


def test_an_approval_rolled_back_leaves_neither_audit_row_nor_outbox_message(
    session_factory, clock
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s).id
    with session_factory() as s, s.begin():
        review_decisions.approve(s, officer=officer, application_id=app_id, at=clock.now())
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 1
        s.rollback()
    assert _status(session_factory, app_id) == "pending_review"
    assert _count(session_factory, OutboxMessage) == 0
    assert _count(session_factory, ApplicationEvent, ApplicationEvent.to_status == "approved") == 0


def test_approving_twice_is_a_conflict_and_sends_once(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s).id
    headers = login("officer", officer.id)
    assert client.post(f"{API}/applications/{app_id}/approve", headers=headers).status_code == 200
    r = client.post(f"{API}/applications/{app_id}/approve", headers=headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "review.not_pending"
    assert _count(session_factory, OutboxMessage) == 1


def test_a_medical_approval_goes_to_medical_security_first(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = medical_app(s).id
    r = client.post(f"{API}/applications/{app_id}/approve", headers=login("officer", officer.id))
    assert r.json()["refund_status_label"] == "医保核验中"
    with session_factory() as s:
        assert s.execute(select(OutboxMessage.agency)).scalar_one() == "medical_security"


def test_reject_needs_an_opinion_and_sends_nothing(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s).id
    headers = login("officer", officer.id)
    url = f"{API}/applications/{app_id}/reject"

    for kwargs in ({}, {"json": {}}, {"json": {"opinion": "  "}}):
        r = client.post(url, headers=headers, **kwargs)
        assert r.status_code == 422
        assert r.json()["error"] == {
            "code": "review.opinion_required",
            "message": "审核不通过时必须填写税务机关意见",
            "field": "opinion",
        }
    assert _status(session_factory, app_id) == "pending_review"

    r = client.post(url, json={"opinion": "该缴费已到账，不符合退费条件"}, headers=headers)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["refund_status_label"], r.json()["tax_opinion"]) == (
        "rejected",
        "税务退回",
        "该缴费已到账，不符合退费条件",
    )
    assert _count(session_factory, OutboxMessage) == 0
    with session_factory() as s:
        reasons = (
            s.execute(
                select(ApplicationEvent.reason).where(ApplicationEvent.to_status == "rejected")
            )
            .scalars()
            .all()
        )
    assert reasons == ["审核不通过：该缴费已到账，不符合退费条件"]


def test_an_officer_without_the_reviewer_role_cannot_decide(client, login, session_factory):
    with session_factory() as s, s.begin():
        clerk = f.make_officer(s, reviewer=False, initiator=True)
        app_id = pension_app(s).id
    r = client.post(f"{API}/applications/{app_id}/approve", headers=login("officer", clerk.id))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "review.not_reviewer"
    assert _status(session_factory, app_id) == "pending_review"


def test_batch_review_gives_a_result_per_id_and_one_failure_keeps_the_others(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        a, b, c = (pension_app(s).id for _ in range(3))
        wuhan = pension_app(s, region="420102").id
    headers = login("officer", officer.id)
    assert (
        client.post(
            f"{API}/applications/{b}/reject", json={"opinion": "重复申请"}, headers=headers
        ).status_code
        == 200
    )

    r = client.post(
        f"{API}/reviews",
        headers=headers,
        json={
            "application_ids": [a, b, c, wuhan, 999999, a],
            "decision": "approve",
            "opinion": "同意",
        },
    )
    assert r.status_code == 200
    results = {x["id"]: x for x in r.json()["results"]}
    assert list(results) == [a, b, c, wuhan, 999999]
    assert results[a] == {"id": a, "ok": True, "status": "approved", "error": None}
    assert results[c]["ok"] is True
    assert (results[b]["ok"], results[b]["status"], results[b]["error"]["code"]) == (
        False,
        "rejected",
        "review.not_pending",
    )
    for missing in (wuhan, 999999):
        assert results[missing] == {
            "id": missing,
            "ok": False,
            "status": None,
            "error": {"code": "application.not_found", "message": "退费申请不存在"},
        }
    assert (r.json()["succeeded"], r.json()["failed"]) == (2, 3)
    assert _count(session_factory, OutboxMessage) == 2
    assert _status(session_factory, wuhan) == "pending_review"


def test_batch_rejection_without_an_opinion_is_refused_as_a_whole(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s).id
    r = client.post(
        f"{API}/reviews",
        headers=login("officer", officer.id),
        json={"application_ids": [app_id], "decision": "reject"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "review.opinion_required"
    assert _status(session_factory, app_id) == "pending_review"


def test_two_officers_deciding_the_same_application_at_once_exactly_one_wins(
    session_factory, clock
):
    with session_factory() as s, s.begin():
        approver = f.make_officer(s)
        rejecter = f.make_officer(s)
        app_id = pension_app(s).id
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(name: str, officer, **kw) -> None:
        start.wait()
        try:
            with session_factory() as s, s.begin():
                fn = review_decisions.approve if name == "approve" else review_decisions.reject
                fn(s, officer=officer, application_id=app_id, at=clock.now(), **kw)
            outcomes[name] = "won"
        except DomainError as exc:
            outcomes[name] = exc.code

    threads = [
        threading.Thread(target=decide, args=("approve", approver)),
        threading.Thread(
            target=decide,
            args=("reject", rejecter),
            kwargs={"request": RejectRequest(opinion="不符合")},
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes.values())[1] == "won"
    loser = next(code for code in outcomes.values() if code != "won")
    assert loser in {"review.not_pending", "application.changed"}
    winner = next(name for name, code in outcomes.items() if code == "won")
    status = _status(session_factory, app_id)
    assert status == {"approve": "approved", "reject": "rejected"}[winner]
    assert (
        _count(session_factory, ApplicationEvent, ApplicationEvent.from_status == "pending_review")
        == 1
    )
    assert _count(session_factory, OutboxMessage) == (1 if winner == "approve" else 0)


# --------------------------------------------------------------------------- initiate, four eyes


def test_an_officer_initiated_refund_needs_a_second_officer_to_approve(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        initiator = f.make_officer(s, code="OFINIT", reviewer=True, initiator=True)
        second = f.make_officer(s, code="OFSECOND")
        person = f.make_person(s)
        payment_id = f.make_pension_payment(s, person, arrival_status="arrived").payment_id
    mine = login("officer", initiator.id)

    r = client.post(f"{API}/pension/refunds", json=_initiate_body(payment_id), headers=mine)
    assert r.status_code == 201
    app = r.json()
    assert (app["channel"], app["status"], app["payment_id"]) == (
        "officer",
        "pending_review",
        payment_id,
    )

    own = client.post(f"{API}/applications/{app['id']}/approve", headers=mine)
    assert own.status_code == 403
    assert own.json()["error"] == {
        "code": "review.four_eyes",
        "message": "发起人不能审核本人发起的退费申请",
        "field": None,
    }
    assert (
        client.get(f"{API}/applications/{app['id']}", headers=mine).json()["actions"][
            "four_eyes_blocked"
        ]
        is True
    )

    ok = client.post(f"{API}/applications/{app['id']}/approve", headers=login("officer", second.id))
    assert ok.status_code == 200
    with session_factory() as s:
        row = s.get(Application, app["id"])
        assert (row.initiated_by_officer_id, row.reviewed_by_officer_id) == (
            initiator.id,
            second.id,
        )
        first_event = (
            s.execute(
                select(ApplicationEvent)
                .where(ApplicationEvent.application_id == row.id)
                .order_by(ApplicationEvent.id)
            )
            .scalars()
            .first()
        )
        assert (first_event.actor_kind, first_event.actor_id) == ("officer", "OFINIT")


def test_initiating_is_refused_for_a_payment_that_has_not_arrived(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, initiator=True)
        person = f.make_person(s)
        payment_id = f.make_pension_payment(s, person, arrival_status="not_arrived").payment_id
    r = client.post(
        f"{API}/pension/refunds",
        json=_initiate_body(payment_id),
        headers=login("officer", officer.id),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "pension.not_arrived_self_service"
    assert _count(session_factory, Application) == 0


def test_initiating_needs_the_initiator_role_and_a_payer_in_scope(client, login, session_factory):
    with session_factory() as s, s.begin():
        reviewer_only = f.make_officer(s, region="420700")
        ezhou_initiator = f.make_officer(s, region="420700", initiator=True)
        wuhan = f.make_person(s, region="420102")
        wuhan_payment = f.make_pension_payment(s, wuhan, arrival_status="arrived").payment_id
        local = f.make_person(s, region="420703")
        local_payment = f.make_pension_payment(s, local, arrival_status="arrived").payment_id

    r = client.post(
        f"{API}/pension/refunds",
        json=_initiate_body(local_payment),
        headers=login("officer", reviewer_only.id),
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "officer.not_initiator")
    headers = login("officer", ezhou_initiator.id)
    r = client.post(f"{API}/pension/refunds", json=_initiate_body(wuhan_payment), headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "pension.payment_not_found")
    r = client.post(f"{API}/pension/refunds", json=_initiate_body("NOPE"), headers=headers)
    assert r.status_code == 404
    r = client.post(
        f"{API}/pension/refunds", headers=headers, json=_initiate_body(local_payment, reason=" ")
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "reason")
    r = client.post(
        f"{API}/pension/refunds",
        headers=headers,
        json=_initiate_body(local_payment, bank_account_no="12"),
    )
    assert (r.status_code, r.json()["error"]["field"]) == (422, "bank_account_no")
    assert _count(session_factory, Application) == 0


def test_initiating_twice_is_a_conflict_but_a_repeated_idempotency_key_replays(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, initiator=True)
        person = f.make_person(s)
        payment_id = f.make_pension_payment(s, person, arrival_status="arrived").payment_id
    headers = {**login("officer", officer.id), "Idempotency-Key": "init-1"}
    body = _initiate_body(payment_id)

    first = client.post(f"{API}/pension/refunds", json=body, headers=headers)
    again = client.post(f"{API}/pension/refunds", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    del headers["Idempotency-Key"]
    dup = client.post(f"{API}/pension/refunds", json=body, headers=headers)
    assert (dup.status_code, dup.json()["error"]["code"]) == (409, "application.already_applied")
    assert _count(session_factory, Application) == 1


# --------------------------------------------------------------------------- export


def test_the_xlsx_export_opens_with_openpyxl_and_has_the_filtered_rows(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        person = f.make_person(s, region="420703", name="邱世贵")
        app = pension_app(s, person=person, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC))
        medical_app(s, region="420704")
        pension_app(s, region="420102")  # outside the scope
    headers = login("officer", officer.id)

    r = client.get(f"{API}/applications.xlsx", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in r.headers["content-disposition"]
    rows = list(
        load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True)
    )
    assert rows[0] == EXPORT_HEADERS
    assert len(rows) == 3
    first = rows[1]
    assert first[0] == app.id
    assert first[1] == "城乡居民养老保险（个人）"
    assert first[2] == "邱世贵"
    assert first[3] == person.id_number[:6] + "********" + person.id_number[-4:]
    assert float(first[4]) == 700.0
    assert first[5:10] == ("电子税务局", "已申请", "待审核", "未知", "2026-03-06")
    assert first[10] == 2

    only_medical = client.get(
        f"{API}/applications.xlsx", params={"kind": "medical"}, headers=headers
    )
    rows = list(
        load_workbook(io.BytesIO(only_medical.content), read_only=True).active.iter_rows(
            values_only=True
        )
    )
    assert [row[1] for row in rows[1:]] == ["城乡居民医疗保险"]


def test_the_openapi_document_describes_the_officer_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/officer/applications",
        "/api/v1/officer/applications/{application_id}",
        "/api/v1/officer/applications/{application_id}/approve",
        "/api/v1/officer/applications/{application_id}/reject",
        "/api/v1/officer/applications/{application_id}/reveal",
        "/api/v1/officer/reviews",
        "/api/v1/officer/pension/refunds",
        "/api/v1/officer/applications.xlsx",
        "/api/v1/officer/dispatches",
        "/api/v1/officer/dispatches/{message_id}/retry",
    ):
        assert path in paths, path
    assert (
        "409" in paths["/api/v1/officer/applications/{application_id}/approve"]["post"]["responses"]
    )


def test_working_day_clock_uses_china_dates(session_factory):
    # 2026-03-08 17:00 UTC is Monday 2026-03-09 01:00 in China.
    with session_factory() as s, s.begin():
        app = pension_app(s, at=datetime(2026, 3, 8, 17, 0, tzinfo=UTC))
        clock = review_queue.review_clock(app, today=date(2026, 3, 10))
    assert clock.submitted_on == date(2026, 3, 9)
    assert clock.working_days_pending == 1


# --------------------------------------------------------------------------- dispatch monitor


def _fail_message(session_factory, app_id: int) -> int:
    """Put the approval's request where the worker leaves it after its last failed attempt."""
    with session_factory() as s, s.begin():
        msg = s.execute(
            select(OutboxMessage).where(OutboxMessage.application_id == app_id)
        ).scalar_one()
        msg.state, msg.attempts, msg.last_error = "failed", 8, "HTTP 500"
        return msg.id


def test_the_dispatch_monitor_lists_failed_requests_in_scope_and_retries_them(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        ezhou = f.make_officer(s, region="420700")
        wuhan_officer = f.make_officer(s, region="420100")
        app_id = pension_app(s, region="420703").id
    headers = login("officer", ezhou.id)
    assert client.post(f"{API}/applications/{app_id}/approve", headers=headers).status_code == 200
    msg_id = _fail_message(session_factory, app_id)

    listed = client.get(f"{API}/dispatches", params={"state": "failed"}, headers=headers).json()
    assert [
        (m["id"], m["application_id"], m["last_error"], m["can_retry"]) for m in listed["items"]
    ] == [(msg_id, app_id, "HTTP 500", True)]
    [item] = listed["items"]
    assert set(item) == {
        "id",
        "application_id",
        "agency",
        "agency_label",
        "operation",
        "request_id",
        "state",
        "state_label",
        "attempt_count",
        "next_attempt_at",
        "claimed_by",
        "last_error",
        "created_at",
        "updated_at",
        "can_retry",
        "attempts",
    }
    assert (item["agency"], item["agency_label"], item["state_label"]) == (
        "hrss",
        "人社",
        "发送失败",
    )
    assert item["created_at"].endswith("+00:00") and item["next_attempt_at"] is None
    other = login("officer", wuhan_officer.id)
    assert client.get(f"{API}/dispatches", headers=other).json()["total"] == 0
    assert client.post(f"{API}/dispatches/{msg_id}/retry", headers=other).status_code == 404

    r = client.post(f"{API}/dispatches/{msg_id}/retry", headers=headers)
    assert r.status_code == 202
    assert r.json()["state"] == "pending"
    again = client.post(f"{API}/dispatches/{msg_id}/retry", headers=headers)
    assert again.status_code == 409
    assert (
        client.get(f"{API}/dispatches", params={"state": "bogus"}, headers=headers).status_code
        == 422
    )
