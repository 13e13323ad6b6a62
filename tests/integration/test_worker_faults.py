"""Faults between the worker and the agencies, over real HTTP to the simulators, on both
databases: outages, dropped answers, timeouts, refusals, duplicate and out-of-order
callbacks, a worker stopped with SIGTERM, two workers at once, and a worker killed with
SIGKILL again and again. Whatever happens, each refund is booked exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from sirefund import outbox
from sirefund.domain.dispatch import DispatchState
from sirefund.models import Application, ApplicationEvent, DispatchAttempt
from sirefund.outbox import SEND
from sirefund.services import dispatches
from tests import factories
from tests.integration import approvals
from tests.integration.conftest import SECRET, messages_of, status_of, wait_until
from tests.integration.money import assert_bookings_match_applications

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def _every_booking_matches_its_application(simulator, session_factory):  # type: ignore[no-untyped-def]
    """Whatever the fault, each test here ends with every booking at the simulators naming an
    application of ours, for its amount to the fen, paid (bank) into its account, once."""
    yield
    assert_bookings_match_applications(simulator, session_factory)


def _outcomes(session_factory, app_id, agency="hrss"):  # type: ignore[no-untyped-def]
    [msg] = [m for m in messages_of(session_factory, app_id) if m.agency == agency]
    with session_factory() as session:
        return [
            a.outcome
            for a in session.execute(
                select(DispatchAttempt)
                .where(DispatchAttempt.message_id == msg.id)
                .order_by(DispatchAttempt.id)
            ).scalars()
        ]


def _hrss_state(session_factory, app_id):  # type: ignore[no-untyped-def]
    return messages_of(session_factory, app_id)[0].state


def _events_to(session_factory, status):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.execute(
            select(func.count())
            .select_from(ApplicationEvent)
            .where(ApplicationEvent.to_status == status)
        ).scalar_one()


def test_an_agency_down_for_a_while_then_back_loses_nothing_and_books_each_refund_once(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.set_delay("bank", 0)
    dispatcher = dispatcher_for(settings_for(simulator))
    ids = make_approved(5, at=shift_clock.now())
    simulator.down()
    for _ in range(3):
        assert dispatcher.run_once() == 5
        assert {_hrss_state(session_factory, i) for i in ids} == {"pending"}
        shift_clock.advance(minutes=1)
    simulator.up()
    dispatcher.drive(lambda: all(status_of(session_factory, i) == "refunded" for i in ids))

    assert sorted(b["application_id"] for b in simulator.bookings("hrss")) == ids
    assert sorted(b["application_id"] for b in simulator.bookings("bank")) == ids
    assert _outcomes(session_factory, ids[0]) == ["retry", "retry", "retry", "ok"]


def test_an_agency_that_books_then_drops_its_answer_is_asked_and_the_booking_is_found(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.add("drop", agency="hrss", mode="close")
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())

    dispatcher.run_once()
    assert _hrss_state(session_factory, app_id) == "unknown"
    assert status_of(session_factory, app_id) == "approved"
    shift_clock.advance(seconds=5)
    dispatcher.run_once()

    assert status_of(session_factory, app_id) == "at_agency"
    assert len(simulator.submits("hrss")) == 1  # asked, never sent again
    assert len(simulator.queries("hrss")) == 1
    assert len(simulator.bookings("hrss")) == 1
    assert _outcomes(session_factory, app_id) == ["unknown", "ok"]


def test_a_request_of_unknown_outcome_is_only_ever_asked_about_while_the_agency_is_down(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.add("drop", agency="hrss", mode="close")
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.run_once()
    simulator.down()
    for _ in range(2):
        shift_clock.advance(minutes=1)
        dispatcher.run_once()
        assert _hrss_state(session_factory, app_id) == "unknown"
    simulator.up()
    shift_clock.advance(minutes=1)
    dispatcher.run_once()

    assert status_of(session_factory, app_id) == "at_agency"
    assert len(simulator.submits("hrss")) == 1
    assert _outcomes(session_factory, app_id) == ["unknown", "unknown", "unknown", "ok"]


def test_an_agency_that_books_then_claims_to_be_unavailable_gets_the_same_request_again_and_books_once(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.add("drop", agency="hrss", mode="503")
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.run_once()
    assert _hrss_state(session_factory, app_id) == "pending"
    shift_clock.advance(seconds=5)
    dispatcher.run_once()

    submits = simulator.submits("hrss")
    assert len(submits) == 2 and submits[0]["request_id"] == submits[1]["request_id"]
    assert [s["attempt"] for s in submits] == [1, 2]
    assert len(simulator.bookings("hrss")) == 1
    assert status_of(session_factory, app_id) == "at_agency"


def test_a_timeout_is_unknown_and_is_settled_by_a_query_without_a_second_request(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.set_delay("bank", 0)
    simulator.script.add("hang", agency="hrss", seconds=1.5)  # the timeout is 0.5 s
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())

    dispatcher.run_once()
    [msg] = messages_of(session_factory, app_id)
    assert (msg.state, msg.last_error) == ("unknown", "hrss 无应答（ReadTimeout）")
    shift_clock.advance(seconds=5)
    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refunded")

    assert len(simulator.submits("hrss")) == 1
    assert len(simulator.bookings("hrss")) == 1
    assert _outcomes(session_factory, app_id) == ["unknown", "ok"]


def test_a_request_a_dead_worker_never_sent_is_sent_after_the_agency_says_it_has_not_seen_it(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    # A worker claims it and dies before sending anything.
    [claimed] = outbox.claim_due(
        session_factory, worker_id="dead", at=shift_clock.now(), limit=5, lease_seconds=5
    )
    assert claimed.mode == SEND
    shift_clock.advance(seconds=6)
    dispatcher.run_once()

    assert len(simulator.queries("hrss")) == 1 and len(simulator.submits("hrss")) == 1
    assert status_of(session_factory, app_id) == "at_agency"
    assert _outcomes(session_factory, app_id) == ["unknown", "ok"]


def test_server_errors_are_retried_until_the_agency_answers(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    # Scripted over HTTP, as a test in another process would.
    r = httpx.post(
        simulator.url + "/_sim/script",
        json={"rules": [{"action": "error", "agency": "hrss", "status_code": 500, "times": 2}]},
    )
    assert r.status_code == 200
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    for _ in range(3):
        dispatcher.run_once()
        shift_clock.advance(minutes=1)
    assert _outcomes(session_factory, app_id) == ["retry", "retry", "ok"]
    assert status_of(session_factory, app_id) == "at_agency"
    booked = httpx.get(simulator.url + "/_sim/bookings", params={"agency": "hrss"}).json()["items"]
    assert [(b["application_id"], b["status"]) for b in booked] == [(app_id, "accepted")]


def test_requests_signed_with_the_wrong_secret_are_refused_for_good(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    dispatcher = dispatcher_for(
        settings_for(simulator, callback_secret="some-other-secret-0123456789")
    )
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.run_once()
    [msg] = messages_of(session_factory, app_id)
    assert (msg.state, msg.last_error) == ("failed", "hrss HTTP 401 signature.invalid")
    assert simulator.bookings() == []


def test_a_permanent_refusal_fails_shows_in_the_monitor_and_an_officer_retry_gets_it_booked(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    simulator.script.add("reject", agency="hrss")
    dispatcher = dispatcher_for(settings_for(simulator))
    [app_id] = make_approved(at=shift_clock.now())
    dispatcher.run_once()
    shift_clock.advance(hours=1)
    assert dispatcher.run_once() == 0  # failed messages are not retried on their own

    with session_factory() as session:
        [item] = dispatches.list_dispatches(
            session, state=DispatchState.FAILED, region_scope="420700"
        ).items
    assert item.application_id == app_id
    assert item.last_error == "hrss HTTP 422 agency.request_refused"
    assert simulator.bookings("hrss") == []

    with session_factory() as session, session.begin():
        officer = factories.make_officer(session, region="420700")
        dispatches.retry_failed(session, message_id=item.id, officer=officer, at=shift_clock.now())
    dispatcher.run_once()
    assert status_of(session_factory, app_id) == "at_agency"
    assert len(simulator.bookings("hrss")) == 1
    assert _outcomes(session_factory, app_id) == ["permanent", "ok"]


def test_duplicate_and_out_of_order_callbacks_apply_each_result_once(
    start_simulator,
    app_server,
    settings_for,
    dispatcher_for,
    make_approved,
    session_factory,
    shift_clock,
):
    sim = start_simulator(callback_url=app_server.url + "/api/v1/callbacks")
    sim.script.set_delay("bank", 0.1)
    sim.script.add("out_of_order_callbacks", agency="hrss")
    sim.script.add("duplicate_callbacks", agency="bank", count=10)
    dispatcher = dispatcher_for(settings_for(sim))
    [app_id] = make_approved(at=shift_clock.now())

    dispatcher.drive(lambda: status_of(session_factory, app_id) == "refunded")
    wait_until(lambda: sim.state.sender.pending() == 0)

    delivered = Counter(
        (c["agency"], c["status"], c["http_status"]) for c in sim.state.sender.delivered
    )
    assert delivered[("bank", "paid", 200)] == 10
    assert delivered[("hrss", "received", 200)] == 1
    assert _events_to(session_factory, "at_agency") == 1
    assert _events_to(session_factory, "refunded") == 1
    assert len(sim.bookings("bank")) == 1


# --------------------------------------------------------------------------- worker processes


def _worker_env(db_url: str, sim_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIREFUND_")}
    env.update(
        SIREFUND_DATABASE_URL=db_url,
        SIREFUND_AGENCY_URL=sim_url,
        SIREFUND_CALLBACK_SECRET=SECRET,
        SIREFUND_SECRET_KEY="test-secret-key-0123456789abcdef",
        SIREFUND_VAR_DIR=str(tmp_path / "var"),
        SIREFUND_AGENCY_TIMEOUT_SECONDS="1",
        SIREFUND_DISPATCH_LEASE_SECONDS="2",
        SIREFUND_DISPATCH_MAX_ATTEMPTS="20",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sirefund.worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _count(session_factory, status):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.execute(
            select(func.count()).select_from(Application).where(Application.status == status)
        ).scalar_one()


def _assert_each_booked_exactly_once(sim, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    for agency in ("hrss", "bank"):
        booked = Counter(b["application_id"] for b in sim.bookings(agency))
        assert sorted(booked) == sorted(ids), agency
        assert set(booked.values()) == {1}, agency
    sent = Counter((r["request_id"], r["attempt"]) for r in sim.submits())
    assert max(sent.values()) == 1, "a request was sent twice in one attempt"


def test_sigterm_stops_the_worker_after_the_message_in_hand_and_hands_back_the_rest(
    simulator, make_approved, session_factory, shift_clock, db_url, tmp_path
):
    simulator.script.add("hang", agency="hrss", seconds=1.0)  # answered within the 3 s timeout
    ids = make_approved(3, at=shift_clock.now())
    env = _worker_env(db_url, simulator.url, tmp_path, SIREFUND_AGENCY_TIMEOUT_SECONDS="3")
    proc = _start_worker(env, tmp_path / "worker.log")
    try:
        wait_until(lambda: len(simulator.submits("hrss")) == 1, timeout=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    states = sorted(
        m.state for i in ids for m in messages_of(session_factory, i) if m.agency == "hrss"
    )
    assert states == ["done", "pending", "pending"]
    [sent] = simulator.submits("hrss")
    assert status_of(session_factory, sent["application_id"]) == "at_agency"
    for i in ids:
        msg = messages_of(session_factory, i)[0]
        if msg.state == "pending":
            assert (msg.attempts, msg.claimed_by) == (0, None)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_against_postgresql_send_no_request_twice_and_book_each_refund_once(
    simulator, session_factory, shift_clock, db_url, tmp_path
):
    simulator.script.set_delay("bank", 0)
    ids = approvals.approved_applications(session_factory, n=1000, at=shift_clock.now())
    env = _worker_env(db_url, simulator.url, tmp_path)
    procs = [_start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        wait_until(lambda: _count(session_factory, "refunded") == 1000, timeout=150, interval=0.5)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=15) for p in procs] == [0, 0]
    finally:
        for p in procs:
            p.kill()
    _assert_each_booked_exactly_once(simulator, ids)
    with session_factory() as session:
        workers = session.execute(
            select(func.count(func.distinct(DispatchAttempt.worker)))
        ).scalar_one()
    assert workers == 2  # both took part
    assert _events_to(session_factory, "refunded") == 1000


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_worker_killed_twenty_times_during_a_thousand_approvals_books_every_refund_exactly_once(
    simulator, session_factory, shift_clock, db_url, tmp_path
):
    simulator.script.set_delay("bank", 0)
    env = _worker_env(db_url, simulator.url, tmp_path)
    rng = random.Random(20261127)
    log = tmp_path / "worker.log"
    ids = approvals.approved_applications(session_factory, n=500, at=shift_clock.now())
    kills = 0
    for _ in range(20):
        proc = _start_worker(env, log)
        # More approvals keep coming while the worker runs.
        ids += approvals.approved_applications(session_factory, n=25, at=shift_clock.now())
        # Kill it mid-work: after a random number of requests, whatever it is doing then.
        target = len(simulator.submits()) + rng.randint(10, 60)
        wait_until(lambda t=target: len(simulator.submits()) >= t, timeout=30, interval=0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        kills += 1
    assert kills == 20 and len(ids) == 1000
    assert _count(session_factory, "refunded") < 1000  # the kills really interrupted the work

    final = _start_worker(env, log)
    try:
        wait_until(lambda: _count(session_factory, "refunded") == 1000, timeout=120, interval=0.5)
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=15) == 0
    finally:
        final.kill()
    _assert_each_booked_exactly_once(simulator, ids)
    assert _events_to(session_factory, "refunded") == 1000
    with session_factory() as session:
        lost = session.execute(
            select(func.count())
            .select_from(DispatchAttempt)
            .where(DispatchAttempt.detail.like("租约到期%"))
        ).scalar_one()
    assert lost > 0  # some messages were caught mid-send and settled by asking
