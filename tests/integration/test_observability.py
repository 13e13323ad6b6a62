"""The figures /metrics and /readyz read, the worker's heartbeat, and the request id carried
from the HTTP request into the worker's log (issue 12, part 5), on both databases."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from sirefund import logconfig, migrate, request_context
from sirefund.clock import as_utc
from sirefund.models import OutboxMessage, WorkerHeartbeat
from sirefund.services import observability
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.timeout(120)

ID = "420703195803120232"
CARD = "6228480402564890018"
PHONE = "13871234567"


@pytest.fixture
def worker_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logconfig.handler(stream)
    logger = logging.getLogger("sirefund.worker")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_a_message_keeps_the_request_id_it_was_written_under_and_the_worker_logs_it(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock, worker_log
):
    with request_context.bound("click-4f2a9e"):
        [app_id] = make_approved(at=shift_clock.now())
    [untraced] = make_approved(at=shift_clock.now())  # written outside any request
    with session_factory() as s:
        ids = dict(
            s.execute(select(OutboxMessage.application_id, OutboxMessage.origin_request_id)).all()
        )
    assert ids == {app_id: "click-4f2a9e", untraced: None}

    assert dispatcher_for(settings_for(simulator)).run_once() == 2

    lines = [json.loads(x) for x in worker_log.getvalue().splitlines()]
    traced = [x for x in lines if x["request_id"] == "click-4f2a9e"]
    assert len(traced) == 2  # "sending" and its outcome
    assert all(x["logger"] == "sirefund.worker" for x in traced)
    for secret in (ID, CARD, PHONE):
        assert secret not in worker_log.getvalue()


def test_the_worker_loop_writes_a_heartbeat_that_readiness_reads_and_drops_gone_workers(
    simulator, settings_for, dispatcher_for, session_factory, shift_clock
):
    with session_factory() as s, s.begin():  # a worker that stopped two days ago
        observability.beat(s, worker_id="gone", at=shift_clock.now() - timedelta(days=2))
    dispatcher = dispatcher_for(settings_for(simulator))
    stop = threading.Event()
    loop = threading.Thread(target=dispatcher.run_loop, kwargs={"stop": stop, "idle_seconds": 0.05})
    loop.start()
    try:
        wait_until(lambda: _newest(session_factory) > shift_clock.now() - timedelta(days=1))
    finally:
        stop.set()
        loop.join(timeout=10)
    with session_factory() as s:
        [row] = s.execute(select(WorkerHeartbeat)).scalars().all()
        ready = observability.readiness(
            s,
            at=shift_clock.now(),
            expected_revision=migrate.head_revision(),
            worker_max_age_seconds=60,
            backlog_max=10,
        )
    assert row.worker_id == "w1"  # and the gone worker's row was dropped
    assert ready.ready, ready.checks


def _newest(session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return observability.newest_heartbeat(s)


def test_a_worker_beating_again_moves_its_one_row_forward(session_factory, clock):
    start = clock.now()
    for minutes in (0, 1, 2):
        with session_factory() as s, s.begin():
            observability.beat(s, worker_id="w1", at=start + timedelta(minutes=minutes))
    with session_factory() as s, s.begin():
        observability.beat(s, worker_id="w2", at=start)
    with session_factory() as s:
        rows = {r.worker_id: r for r in s.execute(select(WorkerHeartbeat)).scalars()}
        newest = observability.newest_heartbeat(s)
    assert set(rows) == {"w1", "w2"}
    assert as_utc(rows["w1"].started_at) == start and newest == start + timedelta(minutes=2)
    with session_factory() as s, s.begin():
        observability.forget_workers_older_than(s, before=start + timedelta(minutes=1))
    with session_factory() as s:
        assert [r.worker_id for r in s.execute(select(WorkerHeartbeat)).scalars()] == ["w1"]


def _ready(session_factory, at, **overrides):  # type: ignore[no-untyped-def]
    args = {
        "expected_revision": migrate.head_revision(),
        "worker_max_age_seconds": 60.0,
        "backlog_max": 5,
    }
    args.update(overrides)
    with session_factory() as s:
        result = observability.readiness(s, at=at, **args)
    return {c.name: c.ok for c in result.checks}


def test_readiness_names_each_check_that_fails(session_factory, make_approved, clock):
    now = clock.now()
    assert _ready(session_factory, now) == {"migrations": True, "worker": False, "outbox": True}
    with session_factory() as s, s.begin():
        observability.beat(s, worker_id="w1", at=now - timedelta(seconds=59))
    assert _ready(session_factory, now) == {"migrations": True, "worker": True, "outbox": True}
    assert _ready(session_factory, now + timedelta(seconds=2))["worker"] is False
    make_approved(3, at=now)
    assert _ready(session_factory, now, backlog_max=2)["outbox"] is False
    assert _ready(session_factory, now, expected_revision="0003")["migrations"] is False
    assert "worker" not in _ready(session_factory, now, worker_max_age_seconds=0)


def test_metric_queries_count_backlog_attempts_and_statuses(
    simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock
):
    before = shift_clock.now()
    make_approved(2, at=before)
    make_approved(1, kind="medical", at=before)
    with session_factory() as s:
        backlog = {b.agency: b.messages for b in observability.outbox_backlog(s)}
        statuses = {c.status: c.applications for c in observability.applications_by_status(s)}
    assert backlog == {"hrss": 2, "medical_security": 1}
    assert statuses == {"approved": 3}

    dispatcher_for(settings_for(simulator)).run_once()
    with session_factory() as s:
        attempts = {
            (a.agency, a.outcome.value): a.attempts
            for a in observability.recent_attempts(s, since=before - timedelta(seconds=1))
        }
        # Delivered: what is left is the next step's (the bank's) requests, if any.
        left = {b.agency for b in observability.outbox_backlog(s)}
        assert observability.reconciliation_differences(s) is None
    assert attempts == {("hrss", "ok"): 2, ("medical_security", "ok"): 1}
    assert left <= {"bank"}
