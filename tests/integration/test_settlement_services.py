"""Settlement and the dispatch monitor as use cases: a session on a fresh SQLite file and a
fixed clock, no HTTP and no worker, so each rule is checked in milliseconds. The same rules
over HTTP and on PostgreSQL are in test_outbox.py, test_worker_faults.py and test_callbacks.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sirefund.db import make_engine, make_session_factory
from sirefund.domain.agencies import Agency, AgencyResult, Operation
from sirefund.domain.dispatch import AttemptOutcome, DispatchState
from sirefund.domain.errors import Invalid, NotFound
from sirefund.models import Application, DispatchAttempt, OutboxMessage
from sirefund.services import dispatches, settlement
from tests import factories
from tests.conftest import NOW
from tests.integration import approvals


@pytest.fixture
def session(sqlite_template: Path, tmp_path: Path) -> Iterator[Session]:
    path = tmp_path / "fast.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def _approved(session: Session, *, kind: str = "pension", region: str = "420703") -> Application:
    app = approvals.pending_application(session, kind=kind, at=NOW, region=region)
    approvals.approve(session, app, at=NOW)
    session.flush()
    return app


def _messages(session: Session, app: Application) -> dict[str, OutboxMessage]:
    rows = session.execute(
        select(OutboxMessage).where(OutboxMessage.application_id == app.id)
    ).scalars()
    return {m.agency: m for m in rows}


def _answer(
    session: Session,
    msg: OutboxMessage,
    status: str,
    *,
    reason: str | None = None,
    decided_at: datetime | None = None,
    paid_on: date | None = None,
) -> bool:
    result = AgencyResult(
        request_id=msg.request_id,
        status=status,
        reason=reason,
        decided_at=decided_at,
        paid_on=paid_on,
    )
    return settlement.apply_result(session, agency=Agency(msg.agency), result=result, at=NOW)


# --------------------------------------------------------------------------- settlement


def test_hrss_accepting_moves_the_application_to_at_agency_and_queues_the_bank_payout(session):
    app = _approved(session)
    hrss = _messages(session, app)["hrss"]
    assert _answer(session, hrss, "accepted")
    session.refresh(app)
    assert (app.status, app.agency_message) == ("at_agency", "人社已受理")
    payout = _messages(session, app)["bank"]
    assert (payout.operation, payout.state) == (Operation.PAYOUT_REQUEST, DispatchState.PENDING)
    assert payout.payload["account"]["no"] == app.bank_account_no
    assert payout.request_id != hrss.request_id
    # The callback also proves HRSS has the request: it is no longer sent or queried.
    session.refresh(hrss)
    assert hrss.state == DispatchState.DONE


def test_the_same_result_twice_moves_the_application_once(session):
    app = _approved(session)
    hrss = _messages(session, app)["hrss"]
    assert _answer(session, hrss, "accepted")
    assert not _answer(session, hrss, "accepted")
    assert len(_messages(session, app)) == 2  # one payout, not two


def test_an_intermediate_received_marks_the_request_delivered_and_changes_nothing_else(session):
    app = _approved(session)
    hrss = _messages(session, app)["hrss"]
    assert not _answer(session, hrss, "received")
    session.refresh(app)
    session.refresh(hrss)
    assert (app.status, hrss.state) == ("approved", DispatchState.DONE)


def test_a_result_for_a_request_never_sent_to_that_agency_is_not_found(session):
    app = _approved(session)
    hrss = _messages(session, app)["hrss"]
    result = AgencyResult(request_id=hrss.request_id, status="paid")
    with pytest.raises(NotFound) as err:
        settlement.apply_result(session, agency=Agency.BANK, result=result, at=NOW)
    assert err.value.code == "callback.unknown_request"


def test_medical_security_refusing_verification_sends_the_application_back_with_the_reason(
    session,
):
    app = _approved(session, kind="medical")
    verify = _messages(session, app)["medical_security"]
    decided = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
    assert _answer(session, verify, "failed", reason="参保人已参加职工医保", decided_at=decided)
    session.refresh(app)
    assert app.status == "agency_rejected"
    assert app.verification_result == settlement.VERIFICATION_FAILED
    assert app.agency_message == "核验不通过：参保人已参加职工医保"
    assert "bank" not in _messages(session, app)


def test_the_bank_paying_refunds_the_application_on_the_date_it_reports(session):
    app = _approved(session)
    _answer(session, _messages(session, app)["hrss"], "accepted")
    payout = _messages(session, app)["bank"]
    assert _answer(session, payout, "paid", paid_on=date(2026, 3, 12))
    session.refresh(app)
    assert (app.status, app.refund_date, app.bank_result) == (
        "refunded",
        date(2026, 3, 12),
        settlement.BANK_PAID,
    )


def test_a_callback_body_must_be_a_result_with_a_status_of_that_agency():
    body = json.dumps({"request_id": "r1", "status": "paid"}).encode()
    assert settlement.parse_callback(Agency.BANK, body).status == "paid"
    with pytest.raises(Invalid) as wrong_status:
        settlement.parse_callback(Agency.HRSS, body)
    assert wrong_status.value.code == "callback.status"
    with pytest.raises(Invalid) as malformed:
        settlement.parse_callback(Agency.HRSS, b"[1, 2]")
    assert malformed.value.code == "callback.malformed"
    with pytest.raises(NotFound):
        settlement.callback_agency("tax_bureau")
    assert settlement.callback_agency("medical_security") is Agency.MEDICAL_SECURITY


# --------------------------------------------------------------------------- dispatch monitor


def test_the_monitor_lists_typed_views_filtered_by_agency_and_region(session):
    pension = _approved(session, region="420703")
    medical = _approved(session, kind="medical", region="420703")
    _approved(session, region="420102")
    page = dispatches.list_dispatches(
        session, agency=Agency.MEDICAL_SECURITY, region_scope="420700"
    )
    [item] = page.items
    assert (page.total, page.page_count) == (1, 1)
    assert (item.application_id, item.agency, item.operation) == (
        medical.id,
        Agency.MEDICAL_SECURITY,
        Operation.VERIFY_REQUEST,
    )
    assert item.state is DispatchState.PENDING and item.next_attempt_at == NOW
    assert item.created_at.tzinfo is not None and not item.can_retry
    everything = dispatches.list_dispatches(session, region_scope="420700")
    assert {i.application_id for i in everything.items} == {pension.id, medical.id}


def test_a_retried_message_shows_its_history_and_no_next_try_once_delivered(session):
    app = _approved(session)
    msg = _messages(session, app)["hrss"]
    msg.state, msg.attempts, msg.last_error = "failed", 8, "HTTP 400"
    session.add(
        DispatchAttempt(message_id=msg.id, at=NOW, worker="w", outcome="permanent", detail="x")
    )
    officer = factories.make_officer(session, region="420700")
    view = dispatches.retry_failed(session, message_id=msg.id, officer=officer, at=NOW)
    assert (view.state, view.attempt_count) == (DispatchState.PENDING, 0)
    assert [a.outcome for a in view.attempts] == [AttemptOutcome.PERMANENT]
    _answer(session, msg, "received")
    session.expire_all()  # the answer was written with a Core UPDATE
    [delivered] = dispatches.list_dispatches(session, state=DispatchState.DONE).items
    assert delivered.next_attempt_at is None  # a done message shows no next try
