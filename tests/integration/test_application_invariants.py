"""The invariants of domain.md hold under concurrency and under any sequence of events."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from sirefund import migrate
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.errors import Conflict
from sirefund.domain.workflow import ACTIVE, TERMINAL
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, ApplicationEvent
from sirefund.services import applications
from sirefund.services.applications import Actor
from tests import factories as f


def _pension_application(person, payment) -> Application:
    return Application(
        kind="pension",
        channel="web",
        person_id=person.id,
        region_code=person.region_code,
        pension_payment_id=payment.payment_id,
        amount_fen=payment.amount_fen,
        payment_year=payment.payment_year,
        period_start=payment.period_start,
        period_end=payment.period_end,
        bank_account_no="6228480402564890018",
    )


def test_two_concurrent_applications_for_one_payment_commit_exactly_one(session_factory):
    with session_factory() as s, s.begin():
        person = f.make_person(s)
        payment = f.make_pension_payment(s, person)
    start = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        start.wait()
        try:
            with session_factory() as s, s.begin():
                applications.create(
                    s,
                    application=_pension_application(person, payment),
                    actor=Actor.person(person.id),
                    at=f.AT,
                )
            result = "committed"
        except Conflict as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["application.already_applied", "committed"]
    with session_factory() as s:
        count = s.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.pension_payment_id == payment.payment_id)
        )
        events = s.scalar(select(func.count()).select_from(ApplicationEvent))
    assert count == 1
    assert events == 1


# ----------------------------------------------------------------------------- stateful

# The life cycle of domain.md, written out independently of domain.workflow:
# event -> (states it may start from, state it leads to).
FORWARD = {
    "cancel": ({S.PENDING_REVIEW, S.RETURNED}, S.CANCELLED),
    "reject": ({S.PENDING_REVIEW}, S.REJECTED),
    "approve": ({S.PENDING_REVIEW}, S.APPROVED),
    "accept": ({S.APPROVED}, S.AT_AGENCY),
    "agency_reject": ({S.APPROVED, S.AT_AGENCY}, S.AGENCY_REJECTED),
    "pay": ({S.AT_AGENCY}, S.REFUNDED),
    "bank_fail": ({S.AT_AGENCY}, S.REFUND_FAILED),
    # 重新提交账户: a failed payout goes back to the bank on the same case.
    "reissue": ({S.REFUND_FAILED}, S.AT_AGENCY),
    # 退回补正: returned for correction, corrected and resubmitted, or lapsed after 15 days.
    "return": ({S.PENDING_REVIEW}, S.RETURNED),
    "correct": ({S.RETURNED}, S.PENDING_REVIEW),
    "lapse": ({S.RETURNED}, S.LAPSED),
}


@pytest.fixture(scope="module")
def invariant_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("stateful") / "stateful.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


class ApplicationLifecycle(RuleBasedStateMachine):
    """Random interleavings of applying, deciding and agency results over a few payments.

    Every event goes through the real service functions and the real database; whatever
    the order, the invariants below must hold.
    """

    engine = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.factory = make_session_factory(self.engine)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        # The audit table is append-only (DELETE is refused), so each example works on a
        # fresh person and fresh payments instead of emptying the tables.
        with self.factory() as s, s.begin():
            self.person = f.make_person(s)
            self.payments = [
                f.make_pension_payment(s, self.person, amount_fen=a) for a in (10000, 70000, 123456)
            ]
        self.payment_ids = [p.payment_id for p in self.payments]

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def _apps(self, s) -> list[Application]:
        return list(
            s.scalars(
                select(Application)
                .where(Application.pension_payment_id.in_(self.payment_ids))
                .order_by(Application.id)
            )
        )

    @rule(index=st.integers(0, 2))
    def apply(self, index: int) -> None:
        payment = self.payments[index]
        with self.factory() as s:
            try:
                with s.begin():
                    applications.create(
                        s,
                        application=_pension_application(self.person, payment),
                        actor=Actor.person(self.person.id),
                        at=self._tick(),
                    )
            except Conflict as exc:
                assert exc.code == "application.already_applied"
                with s.begin():
                    active = [
                        a
                        for a in self._apps(s)
                        if a.pension_payment_id == payment.payment_id and S(a.status) in ACTIVE
                    ]
                assert len(active) == 1, "refused although no active application exists"

    @rule(event=st.sampled_from(sorted(FORWARD)), pick=st.integers(0, 50))
    def move(self, event: str, pick: int) -> None:
        _, target = FORWARD[event]
        # A move names only its target: it is allowed from the sources of every event that
        # leads there (HRSS accepting and a re-issue both lead to at_agency).
        sources = set().union(*(src for src, to in FORWARD.values() if to == target))
        with self.factory() as s:
            with s.begin():
                apps = self._apps(s)
            if not apps:
                return
            app = apps[pick % len(apps)]
            before = S(app.status)
            try:
                with s.begin():
                    fresh = s.get(Application, app.id)
                    applications.transition(
                        s,
                        application=fresh,
                        target=target,
                        actor=Actor.agency("test"),
                        at=self._tick(),
                    )
                moved = True
            except Conflict:
                moved = False
            with s.begin():
                after = S(s.get(Application, app.id).status)
        if before in sources:
            assert moved and after == target
        else:
            assert not moved and after == before, "a forbidden transition changed the state"

    @invariant()
    def at_most_one_active_application_per_payment(self) -> None:
        with self.factory() as s, s.begin():
            for pid in self.payment_ids:
                n = s.scalar(
                    select(func.count())
                    .select_from(Application)
                    .where(
                        Application.pension_payment_id == pid,
                        Application.status.in_([x.value for x in ACTIVE]),
                    )
                )
                assert n <= 1

    @invariant()
    def refunded_never_above_paid(self) -> None:
        with self.factory() as s, s.begin():
            for payment in self.payments:
                refunded = s.scalar(
                    select(func.coalesce(func.sum(Application.amount_fen), 0)).where(
                        Application.pension_payment_id == payment.payment_id,
                        Application.status == S.REFUNDED.value,
                    )
                )
                assert refunded <= payment.amount_fen

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        with self.factory() as s, s.begin():
            for app in self._apps(s):
                statuses = [
                    e.to_status
                    for e in s.scalars(
                        select(ApplicationEvent)
                        .where(ApplicationEvent.application_id == app.id)
                        .order_by(ApplicationEvent.id)
                    )
                ]
                assert statuses[-1] == app.status, "state changed without an audit row"
                for earlier in statuses[:-1]:
                    assert S(earlier) not in TERMINAL, "a terminal state was left"


def test_no_sequence_of_events_breaks_the_invariants(invariant_db):
    ApplicationLifecycle.engine = invariant_db
    runner = ApplicationLifecycle.TestCase
    runner.settings = settings(
        max_examples=30,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
