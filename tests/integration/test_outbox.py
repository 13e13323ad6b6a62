"""The outbox and settlement on both databases: claims, leases, backoff, the dispatch monitor,
and the whole hand-off over real HTTP to the simulators (approve -> HRSS / medical security ->
bank -> refunded)."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sirefund import outbox
from sirefund.clock import as_utc
from sirefund.domain.dispatch import DispatchState
from sirefund.domain.errors import Conflict, NotFound
from sirefund.models import ApplicationEvent, DispatchAttempt, OutboxMessage, SecurityEvent
from sirefund.outbox import QUERY, SEND, Outcome
from sirefund.services import dispatches, views
from sirefund.web import presenters
from tests import factories
from tests.integration import approvals
from tests.integration.conftest import load, make_settings, messages_of, status_of

pytestmark = pytest.mark.timeout(120)


def _claim(factory, worker_id, at, *, limit=10, lease=30):  # type: ignore[no-untyped-def]
    return outbox.claim_due(factory, worker_id=worker_id, at=at, limit=limit, lease_seconds=lease)


def _record(factory, message_id, worker_id, outcome, at, settings, seed=7):  # type: ignore[no-untyped-def]
    with factory() as session, session.begin():
        return outbox.record_attempt(
            session,
            message_id=message_id,
            worker_id=worker_id,
            outcome=outcome,
            at=at,
            max_attempts=settings.dispatch_max_attempts,
            rng=random.Random(seed),
        )


def _message(factory, message_id):  # type: ignore[no-untyped-def]
    with factory() as session:
        msg = session.get(OutboxMessage, message_id)
        session.expunge(msg)
        return msg


def _attempts(factory, message_id):  # type: ignore[no-untyped-def]
    with factory() as session:
        return (
            session.execute(
                select(DispatchAttempt)
                .where(DispatchAttempt.message_id == message_id)
                .order_by(DispatchAttempt.id)
            )
            .scalars()
            .all()
        )


@pytest.fixture
def settings(db_url, tmp_path):  # type: ignore[no-untyped-def]
    return make_settings(db_url, tmp_path, dispatch_max_attempts=4)


# --------------------------------------------------------------------------- enqueue and claim


def test_approval_writes_one_pending_message_to_the_first_agency_with_its_request_frozen(
    make_approved, session_factory, clock
):
    [pension] = make_approved(at=clock.now())
    [medical] = make_approved(kind="medical", at=clock.now())
    [msg] = messages_of(session_factory, pension)
    assert (msg.agency, msg.operation, msg.state, msg.attempts) == (
        "hrss",
        "refund_request",
        "pending",
        0,
    )
    assert len(msg.request_id) == 32
    assert msg.payload["amount"] == "700.00" and msg.payload["payer"]["id_number"]
    [med] = messages_of(session_factory, medical)
    assert (med.agency, med.operation) == ("medical_security", "verify_request")
    assert med.payload["registration"]["ss_code"] and med.payload["ticket_no"]


def test_a_claimed_message_is_not_claimed_again_until_its_lease_expires_and_then_it_is_queried(
    make_approved, session_factory, clock, settings
):
    make_approved(at=clock.now())
    [first] = _claim(session_factory, "w-a", clock.now(), lease=30)
    assert (first.mode, first.attempt) == (SEND, 1)
    assert _claim(session_factory, "w-b", clock.now() + timedelta(seconds=29)) == []

    # w-a died mid-send: after the lease the message comes back, and the agency is asked first.
    [again] = _claim(session_factory, "w-b", clock.now() + timedelta(seconds=31))
    assert (again.id, again.request_id, again.mode, again.attempt) == (
        first.id,
        first.request_id,
        QUERY,
        2,
    )
    [dead] = _attempts(session_factory, first.id)
    assert (dead.worker, dead.outcome) == ("w-a", "unknown")
    # The dead worker's late report does not take the message back from w-b.
    assert not _record(
        session_factory, first.id, "w-a", Outcome("transient", "x"), clock.now(), settings
    )
    assert _message(session_factory, first.id).claimed_by == "w-b"


def test_two_workers_claiming_at_the_same_moment_never_get_the_same_message(
    make_approved, session_factory, clock
):
    make_approved(40, at=clock.now())
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def claim(name: str) -> None:
        barrier.wait()
        got: list[int] = []
        while batch := _claim(session_factory, name, clock.now(), limit=3):
            got.extend(m.id for m in batch)
        results[name] = got

    threads = [threading.Thread(target=claim, args=(n,)) for n in ("w-a", "w-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(results["w-a"]) & set(results["w-b"])
    assert len(results["w-a"]) + len(results["w-b"]) == 40


def test_a_stopping_worker_hands_back_untried_messages_without_using_up_an_attempt(
    make_approved, session_factory, clock
):
    make_approved(2, at=clock.now())
    claimed = _claim(session_factory, "w-a", clock.now())
    with session_factory() as session, session.begin():
        for m in claimed:
            assert outbox.release(session, message=m, worker_id="w-a", at=clock.now())
    again = _claim(session_factory, "w-b", clock.now())
    assert sorted(m.id for m in again) == sorted(m.id for m in claimed)
    assert {(m.mode, m.attempt) for m in again} == {(SEND, 1)}


# --------------------------------------------------------------------------- results


def test_transient_failures_back_off_exponentially_with_jitter_then_fail(
    make_approved, session_factory, clock, settings
):
    [app_id] = make_approved(at=clock.now())
    at = clock.now()
    windows = []
    for attempt in range(1, 5):
        [m] = _claim(session_factory, "w", at)
        assert m.attempt == attempt
        _record(
            session_factory,
            m.id,
            "w",
            Outcome("transient", "人社 HTTP 503"),
            at,
            settings,
            seed=attempt,
        )
        msg = _message(session_factory, m.id)
        if attempt < 4:
            assert msg.state == "pending"
            delay = (as_utc(msg.next_attempt_at) - at).total_seconds()
            windows.append(delay)
            ceiling = 2 * 2 ** (attempt - 1)
            assert ceiling / 2 <= delay <= ceiling
            assert _claim(session_factory, "w", at) == []  # not due before its time
            at = as_utc(msg.next_attempt_at)
    assert msg.state == "failed" and "最大尝试次数" in msg.last_error
    assert [a.outcome for a in _attempts(session_factory, m.id)] == ["retry"] * 4
    assert status_of(session_factory, app_id) == "approved"


def test_backoff_is_capped_at_ten_minutes_and_jitter_comes_from_the_injected_random():
    assert 300 <= outbox.backoff_seconds(40, random.Random(1)) <= 600
    assert outbox.backoff_seconds(3, random.Random(5)) == outbox.backoff_seconds(
        3, random.Random(5)
    )
    spread = {round(outbox.backoff_seconds(3, random.Random(s)), 3) for s in range(20)}
    assert len(spread) > 10 and all(4 <= d <= 8 for d in spread)


def test_a_permanent_error_fails_at_once_and_the_monitor_shows_it_with_its_attempts(
    make_approved, session_factory, clock, settings
):
    [app_id] = make_approved(at=clock.now())
    [m] = _claim(session_factory, "w", clock.now())
    _record(
        session_factory,
        m.id,
        "w",
        Outcome("permanent", "人社 HTTP 422 agency.request_refused"),
        clock.now(),
        settings,
    )
    with session_factory() as session:
        page = dispatches.list_dispatches(
            session, state=DispatchState.FAILED, page=1, page_size=10, region_scope="420000"
        )
    [item] = page.items
    assert page.total == 1
    assert (item.id, item.application_id) == (m.id, app_id)
    assert (item.state, item.state.label, item.agency.label) == ("failed", "发送失败", "人社")
    assert item.can_retry and item.last_error and "422" in item.last_error
    assert [(a.outcome, a.worker) for a in item.attempts] == [("permanent", "w")]
    assert not hasattr(item, "payload")  # ID and account numbers stay out of the monitor


def test_a_timeout_leaves_the_outcome_unknown_and_the_next_try_asks_first(
    make_approved, session_factory, clock, settings
):
    make_approved(at=clock.now())
    [m] = _claim(session_factory, "w", clock.now())
    _record(
        session_factory,
        m.id,
        "w",
        Outcome("unknown", "人社 无应答（ReadTimeout）"),
        clock.now(),
        settings,
    )
    msg = _message(session_factory, m.id)
    assert msg.state == "unknown"
    [again] = _claim(session_factory, "w", as_utc(msg.next_attempt_at))
    assert (again.mode, again.request_id) == (QUERY, m.request_id)


def test_retry_failed_sends_again_with_the_same_request_id_and_history_and_is_audited(
    make_approved, session_factory, clock, settings
):
    [app_id] = make_approved(at=clock.now())
    [m] = _claim(session_factory, "w", clock.now())
    _record(session_factory, m.id, "w", Outcome("permanent", "HTTP 400"), clock.now(), settings)
    with session_factory() as session, session.begin():
        officer = factories.make_officer(session, code="OF7001", region="420700")
        view = dispatches.retry_failed(session, message_id=m.id, officer=officer, at=clock.now())
    assert view.state == "pending" and view.attempt_count == 0
    assert [a.outcome for a in view.attempts] == ["permanent"]
    [again] = _claim(session_factory, "w", clock.now())
    assert (again.id, again.request_id, again.mode) == (m.id, m.request_id, SEND)
    assert status_of(session_factory, app_id) == "approved"  # the application is untouched
    with session_factory() as session:
        [event] = session.execute(select(SecurityEvent)).scalars().all()
    assert (event.kind, event.actor) == ("dispatch.retry", "officer:OF7001")
    assert f"message={m.id}" in event.detail


def test_retry_failed_of_a_message_whose_outcome_was_unknown_asks_before_sending(
    make_approved, session_factory, clock, settings
):
    make_approved(at=clock.now())
    settings = settings.model_copy(update={"dispatch_max_attempts": 1})
    [m] = _claim(session_factory, "w", clock.now())
    _record(session_factory, m.id, "w", Outcome("unknown", "无应答"), clock.now(), settings)
    assert _message(session_factory, m.id).state == "failed"
    with session_factory() as session, session.begin():
        officer = factories.make_officer(session)
        assert (
            dispatches.retry_failed(session, message_id=m.id, officer=officer, at=clock.now()).state
            == "unknown"
        )
    [again] = _claim(session_factory, "w", clock.now())
    assert again.mode == QUERY


def test_retry_failed_refuses_messages_that_have_not_failed_or_lie_outside_the_officers_region(
    make_approved, session_factory, clock, settings
):
    [app_id] = make_approved(at=clock.now())
    [msg] = messages_of(session_factory, app_id)
    with session_factory() as session, session.begin():
        local = factories.make_officer(session, region="420700")
        elsewhere = factories.make_officer(session, region="420100")
        with pytest.raises(Conflict) as not_failed:
            dispatches.retry_failed(session, message_id=msg.id, officer=local, at=clock.now())
        assert not_failed.value.code == "dispatch.not_failed"
        with pytest.raises(NotFound):
            dispatches.retry_failed(session, message_id=msg.id, officer=elsewhere, at=clock.now())
        with pytest.raises(NotFound):
            dispatches.retry_failed(session, message_id=999999, officer=local, at=clock.now())


def test_the_monitor_lists_only_the_officers_region_by_state_a_page_at_a_time(
    session_factory, clock
):
    approvals.approved_applications(session_factory, n=3, at=clock.now(), region="420703")
    approvals.approved_applications(session_factory, n=2, at=clock.now(), region="420102")
    with session_factory() as session:
        ezhou = dispatches.list_dispatches(
            session, state=DispatchState.PENDING, page=1, page_size=2, region_scope="420700"
        )
        province = dispatches.list_dispatches(session, page=3, page_size=2, region_scope="420000")
        wuhan_failed = dispatches.list_dispatches(
            session, state=DispatchState.FAILED, region_scope="420100"
        )
    assert ezhou.total == 3 and len(ezhou.items) == 2
    assert province.total == 5 and len(province.items) == 1
    assert wuhan_failed.total == 0


# --------------------------------------------------------------------------- end to end over HTTP


def _events(session_factory, app_id):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [
            (e.actor_kind, e.actor_id, e.from_status, e.to_status)
            for e in session.execute(
                select(ApplicationEvent)
                .where(ApplicationEvent.application_id == app_id)
                .order_by(ApplicationEvent.id)
            ).scalars()
        ]


def test_an_approved_pension_refund_is_booked_once_and_reaches_refunded(
    start_simulator,
    app_server,
    settings_for,
    dispatcher_for,
    make_approved,
    session_factory,
    shift_clock,
):
    sim = start_simulator(callback_url=app_server.url + "/api/v1/callbacks")
    dispatcher = dispatcher_for(settings_for(sim))
    [app_id] = make_approved(at=shift_clock.now())

    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refunded")

    assert [b["application_id"] for b in sim.bookings("hrss")] == [app_id]
    assert [b["application_id"] for b in sim.bookings("bank")] == [app_id]
    assert [m.state for m in messages_of(session_factory, app_id)] == ["done", "done"]
    app = load(session_factory, app_id)
    view = application_view(app)
    assert (view["refund_status_label"], view["bank_result"]) == ("退费成功", "退付成功")
    assert view["refund_date"] == shift_clock.today().isoformat()
    assert _events(session_factory, app_id)[-2:] == [
        ("agency", "hrss", "approved", "at_agency"),
        ("agency", "bank", "at_agency", "refunded"),
    ]


def test_a_medical_refund_is_verified_then_paid_and_shows_both_results(
    start_simulator,
    app_server,
    settings_for,
    dispatcher_for,
    make_approved,
    session_factory,
    shift_clock,
):
    sim = start_simulator(callback_url=app_server.url + "/api/v1/callbacks")
    dispatcher = dispatcher_for(settings_for(sim))
    [app_id] = make_approved(kind="medical", at=shift_clock.now())

    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refunded")

    app = load(session_factory, app_id)
    assert (app.verification_result, app.bank_result) == ("核验通过", "退付成功")
    assert app.verified_at is not None and app.refund_date is not None
    [booking] = sim.bookings("medical_security")
    [payout] = sim.bookings("bank")
    assert booking["application_id"] == payout["application_id"] == app_id
    [msg] = [m for m in messages_of(session_factory, app_id) if m.agency == "bank"]
    assert msg.payload["account"]["no"] == "6228480402564890018"  # the deposit account


def test_a_unit_refund_shows_hrss_done_on_the_unit_progress(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.set_delay("bank", 0)
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(kind="unit_pension", at=shift_clock.now())
    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refunded")
    view = application_view(load(session_factory, app_id))
    assert view["hrss_status_label"] == "已退费"
    assert simulator.bookings("hrss")[0]["application_id"] == app_id


def test_a_rejected_application_sends_nothing(
    simulator, settings_for, dispatcher_for, session_factory, shift_clock
):
    from sirefund.domain.workflow import ApplicationStatus as S
    from sirefund.services import applications
    from sirefund.services.applications import Actor

    with session_factory() as session, session.begin():
        app = approvals.pending_application(session, at=shift_clock.now())
        applications.transition(
            session,
            application=app,
            target=S.REJECTED,
            actor=Actor.officer("OF1"),
            at=shift_clock.now(),
            reason="审核不通过：材料不全",
        )
        app_id = app.id
    assert dispatcher_for(settings_for(simulator)).run_once() == 0
    assert messages_of(session_factory, app_id) == []
    assert simulator.submits() == []


@pytest.mark.parametrize(
    "kind,agency,label",
    [
        ("pension", "hrss", "人社退回"),
        ("medical", "medical_security", "核验不通过"),
    ],
)
def test_an_agency_declining_ends_in_agency_rejected_and_nothing_goes_to_the_bank(
    kind,
    agency,
    label,
    simulator,
    settings_for,
    dispatcher_for,
    make_approved,
    session_factory,
    shift_clock,
):
    simulator.script.add("decline", agency=agency)
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(kind=kind, at=shift_clock.now())
    dispatcher.drive(lambda: status_of(session_factory, app_id) == "agency_rejected")
    app = load(session_factory, app_id)
    assert application_view(app)["refund_status_label"] == label
    if kind == "medical":
        assert app.verification_result == "核验不通过" and app.verified_at is not None
    assert [m.agency for m in messages_of(session_factory, app_id)] == [agency]
    assert simulator.bookings("bank") == []


def test_a_failed_bank_payout_ends_in_refund_failed_with_the_banks_reason(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.set_delay("bank", 0)
    simulator.script.add("decline", agency="bank", reason="账户已冻结")
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refund_failed")
    app = load(session_factory, app_id)
    assert app.bank_result == "退付失败：账户已冻结"
    assert application_view(app)["refund_status_label"] == "退付失败"


def test_a_lost_callback_is_made_good_by_polling_and_polling_twice_changes_nothing(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    # No callback URL: the bank's decision (after 0.3 s) reaches us only if we ask.
    simulator.script.set_delay("bank", 0.3)
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.drive(
        lambda: (
            {m.agency: m.state for m in messages_of(session_factory, app_id)}.get("bank") == "done"
        )
    )
    assert status_of(session_factory, app_id) == "at_agency"
    assert dispatcher.poll() == 0  # not due yet: a callback may still come

    shift_clock.advance(seconds=61)
    time.sleep(0.35)
    assert dispatcher.poll() == 1
    assert status_of(session_factory, app_id) == "refunded"
    shift_clock.advance(seconds=61)
    assert dispatcher.poll() == 0
    with session_factory() as session:
        assert (
            session.execute(
                select(func.count())
                .select_from(ApplicationEvent)
                .where(ApplicationEvent.to_status == "refunded")
            ).scalar_one()
            == 1
        )


def application_view(app):
    """The application as the API shows it to its owner."""
    return presenters.application(views.application(app))
