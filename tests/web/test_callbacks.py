"""POST /api/v1/callbacks/{agency}: signed results from HRSS, medical security and the bank.
Only a correctly signed, fresh callback changes anything; each result applies once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sirefund.models import ApplicationEvent, OutboxMessage, SecurityEvent
from sirefund.services import views
from sirefund.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from sirefund.web import presenters
from tests.integration import approvals
from tests.integration.conftest import load, messages_of

SECRET = "test-callback-secret-0123456789"  # tests/web/conftest.py settings


@pytest.fixture
def approved(session_factory, clock):  # type: ignore[no-untyped-def]
    """approved(kind="pension") -> (application id, its first request id)."""

    def _make(kind: str = "pension") -> tuple[int, str]:
        [app_id] = approvals.approved_applications(session_factory, n=1, kind=kind, at=clock.now())
        return app_id, messages_of(session_factory, app_id)[0].request_id

    return _make


def _count(session_factory, model, *where):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _post(client, clock, agency, payload, *, secret=SECRET, at=None, headers=None):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    signed = signed_headers(secret, body, at=at or clock.now())
    signed["Content-Type"] = "application/json"
    signed.update(headers or {})
    return client.post(f"/api/v1/callbacks/{agency}", content=body, headers=signed)


def test_a_signed_acceptance_moves_the_application_to_at_agency_and_orders_the_payout(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    r = _post(
        client, clock, "hrss", {"request_id": request_id, "status": "accepted", "booking_id": "H1"}
    )
    assert r.status_code == 200 and r.json() == {"applied": True}
    assert load(session_factory, app_id).status == "at_agency"
    hrss, bank = messages_of(session_factory, app_id)
    assert (hrss.state, bank.agency, bank.operation, bank.state) == (
        "done",
        "bank",
        "payout_request",
        "pending",
    )
    assert bank.payload["account"]["no"] == "6228480402564890018"


def test_the_same_result_twice_applies_once_and_then_answers_applied_false(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    payload = {"request_id": request_id, "status": "accepted"}
    assert _post(client, clock, "hrss", payload).json() == {"applied": True}
    assert _post(client, clock, "hrss", payload).json() == {"applied": False}
    assert _count(session_factory, ApplicationEvent, ApplicationEvent.to_status == "at_agency") == 1
    assert len(messages_of(session_factory, app_id)) == 2


def test_a_hundred_identical_callbacks_at_once_are_applied_once(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    payload = {"request_id": request_id, "status": "accepted"}
    barrier = threading.Barrier(100)
    answers: list[object] = []

    def send() -> None:
        barrier.wait()
        r = _post(client, clock, "hrss", payload)
        answers.append((r.status_code, r.json().get("applied")))

    threads = [threading.Thread(target=send) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count((200, True)) == 1
    assert answers.count((200, False)) == 99
    assert (
        _count(
            session_factory,
            ApplicationEvent,
            ApplicationEvent.application_id == app_id,
            ApplicationEvent.to_status == "at_agency",
        )
        == 1
    )
    assert [m.agency for m in messages_of(session_factory, app_id)] == ["hrss", "bank"]


def test_a_forged_callback_is_refused_with_401_changes_nothing_and_is_logged_without_its_body(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    r = _post(
        client,
        clock,
        "hrss",
        {"request_id": request_id, "status": "rejected"},
        secret="not-the-shared-secret-at-all-000",
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "callback.signature"
    assert load(session_factory, app_id).status == "approved"
    with session_factory() as session:
        [event] = session.execute(select(SecurityEvent)).scalars().all()
    assert (event.kind, event.actor) == ("callback.refused", "agency:hrss")
    assert "bad_signature" in event.detail and request_id not in event.detail


def test_a_tampered_body_under_a_genuine_signature_is_refused(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    genuine = json.dumps({"request_id": request_id, "status": "accepted"}).encode()
    headers = signed_headers(SECRET, genuine, at=clock.now())
    tampered = json.dumps({"request_id": request_id, "status": "rejected"}).encode()
    r = client.post("/api/v1/callbacks/hrss", content=tampered, headers=headers)
    assert r.status_code == 401
    assert load(session_factory, app_id).status == "approved"


def test_a_callback_signed_more_than_five_minutes_ago_is_refused_as_stale(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    r = _post(
        client,
        clock,
        "hrss",
        {"request_id": request_id, "status": "accepted"},
        at=clock.now() - timedelta(minutes=5, seconds=1),
    )
    assert r.status_code == 401
    assert load(session_factory, app_id).status == "approved"
    with session_factory() as session:
        assert "reason=stale" in session.execute(select(SecurityEvent.detail)).scalar_one()
    fresh = _post(
        client,
        clock,
        "hrss",
        {"request_id": request_id, "status": "accepted"},
        at=clock.now() - timedelta(minutes=4),
    )
    assert fresh.json() == {"applied": True}


def test_a_callback_without_signature_headers_is_refused(client, approved):
    _, request_id = approved()
    r = client.post("/api/v1/callbacks/bank", json={"request_id": request_id, "status": "paid"})
    assert r.status_code == 401


def test_a_result_for_an_unknown_agency_or_request_is_404(client, clock, approved):
    _, request_id = approved()
    assert (
        _post(client, clock, "tax", {"request_id": request_id, "status": "ok"}).status_code == 404
    )
    r = _post(client, clock, "hrss", {"request_id": "f" * 32, "status": "accepted"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "callback.unknown_request")
    # A real request id, but not one sent to this agency.
    assert (
        _post(client, clock, "bank", {"request_id": request_id, "status": "paid"}).status_code
        == 404
    )


def test_a_signed_but_malformed_result_is_422(client, clock, approved, session_factory):
    app_id, request_id = approved()
    assert _post(client, clock, "hrss", {"status": "accepted"}).status_code == 422
    assert (
        _post(client, clock, "hrss", {"request_id": request_id, "status": "paid"}).status_code
        == 422
    )
    assert _post(client, clock, "hrss", ["not", "an", "object"]).status_code == 422
    assert load(session_factory, app_id).status == "approved"


def test_a_late_rejection_after_the_acceptance_changes_nothing(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    _post(client, clock, "hrss", {"request_id": request_id, "status": "accepted"})
    events = _count(session_factory, ApplicationEvent, ApplicationEvent.application_id == app_id)
    r = _post(
        client, clock, "hrss", {"request_id": request_id, "status": "rejected", "reason": "x"}
    )
    assert r.json() == {"applied": False}
    assert load(session_factory, app_id).status == "at_agency"
    assert (
        _count(session_factory, ApplicationEvent, ApplicationEvent.application_id == app_id)
        == events
    )


def test_an_hrss_rejection_ends_the_application_and_orders_no_payout(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    r = _post(
        client,
        clock,
        "hrss",
        {"request_id": request_id, "status": "rejected", "reason": "参保信息不符"},
    )
    assert r.json() == {"applied": True}
    app = load(session_factory, app_id)
    assert (app.status, app.agency_message) == ("agency_rejected", "人社退回：参保信息不符")
    assert [m.agency for m in messages_of(session_factory, app_id)] == ["hrss"]


def test_the_bank_paying_completes_the_refund_and_the_applicant_sees_it(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    _post(client, clock, "hrss", {"request_id": request_id, "status": "accepted"})
    payout = messages_of(session_factory, app_id)[1].request_id
    # Out of order: the final result, then a stale "received".
    assert _post(
        client, clock, "bank", {"request_id": payout, "status": "paid", "paid_on": "2026-03-11"}
    ).json() == {"applied": True}
    assert _post(client, clock, "bank", {"request_id": payout, "status": "received"}).json() == {
        "applied": False
    }
    view = application_view(load(session_factory, app_id))
    assert (view["status"], view["refund_status_label"]) == ("refunded", "退费成功")
    assert (view["refund_date"], view["bank_result"]) == ("2026-03-11", "退付成功")


def test_a_failed_payout_ends_in_refund_failed_with_the_banks_reason(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    _post(client, clock, "hrss", {"request_id": request_id, "status": "accepted"})
    payout = messages_of(session_factory, app_id)[1].request_id
    _post(client, clock, "bank", {"request_id": payout, "status": "failed", "reason": "账户已销户"})
    app = load(session_factory, app_id)
    assert (app.status, app.bank_result, app.refund_date) == (
        "refund_failed",
        "退付失败：账户已销户",
        None,
    )


def test_a_medical_verification_records_its_result_and_time(
    client, clock, approved, session_factory
):
    passed_id, passed_req = approved("medical")
    failed_id, failed_req = approved("medical")
    decided = "2026-03-10T10:00:00+00:00"
    _post(
        client,
        clock,
        "medical_security",
        {"request_id": passed_req, "status": "passed", "decided_at": decided},
    )
    _post(client, clock, "medical_security", {"request_id": failed_req, "status": "failed"})
    passed, failed = load(session_factory, passed_id), load(session_factory, failed_id)
    assert (passed.status, passed.verification_result) == ("at_agency", "核验通过")
    assert application_view(passed)["verified_at"] == decided
    assert (failed.status, failed.verification_result) == ("agency_rejected", "核验不通过")
    assert application_view(failed)["refund_status_label"] == "核验不通过"
    assert [m.agency for m in messages_of(session_factory, passed_id)] == [
        "medical_security",
        "bank",
    ]


def test_any_word_from_the_agency_settles_a_request_whose_outcome_was_unknown(
    client, clock, approved, session_factory
):
    app_id, request_id = approved()
    with session_factory() as session, session.begin():
        msg = session.execute(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id)
        ).scalar_one()
        msg.state = "unknown"
    assert _post(
        client, clock, "hrss", {"request_id": request_id, "status": "received"}
    ).json() == {"applied": False}
    assert messages_of(session_factory, app_id)[0].state == "done"
    assert load(session_factory, app_id).status == "approved"


def test_the_signature_headers_are_the_documented_ones():
    headers = signed_headers(SECRET, b"{}", at=datetime(2026, 3, 10, tzinfo=UTC))
    assert (
        set(headers)
        == {TIMESTAMP_HEADER, SIGNATURE_HEADER}
        == {"X-Sirefund-Timestamp", "X-Sirefund-Signature"}
    )
    assert headers[TIMESTAMP_HEADER] == "1773100800" and len(headers[SIGNATURE_HEADER]) == 64


def application_view(app):
    """The application as the API shows it to its owner."""
    return presenters.application(views.application(app))
