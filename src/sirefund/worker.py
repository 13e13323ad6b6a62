"""The dispatcher: claim due outbox messages -> send each through its agency adapter ->
record the attempt -> apply the agency's answer (services.settlement), the last two in one
transaction. `Dispatcher.run_once` is one pass (tests drive it with a fixed clock);
`run_forever` is `sirefund worker` / `python -m sirefund.worker`.

Several workers may run at once (PostgreSQL); each claims its own messages (outbox.py).
SIGTERM or SIGINT stops the loop after the message in hand: its result is recorded, the
messages claimed but not yet tried are handed back, and the process exits 0. A worker killed
outright (SIGKILL, power loss) loses nothing: its claims expire and the messages come back as
`unknown`, to be settled by asking the agency.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from . import agencies, logconfig, outbox, request_context
from .agencies.base import AgencyAdapter, AgencyError, AgencyTimeout
from .clock import CHINA_TZ, Clock, SystemClock
from .config import Settings, load_settings
from .db import make_engine, make_session_factory, unit_of_work
from .domain.agencies import Agency
from .domain.errors import Unavailable
from .outbox import QUERY, ClaimedMessage, Outcome, OutcomeKind
from .services import corrections, notifications, observability, reconciliation, settlement
from .services.ports import SmsGateway

log = logging.getLogger("sirefund.worker")

DEFAULT_BATCH = 20
IDLE_SECONDS = 0.5
POLL_CHECK_SECONDS = 5.0
RECONCILE_CHECK_SECONDS = 600.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


Adapters = Mapping[Agency, AgencyAdapter]


def lease_seconds_for(settings: Settings) -> float:
    """How long a claim lasts. Longer than the slowest send (three timeouts, with margin), or
    a live worker's message could be taken over by another while still in flight."""
    return max(settings.dispatch_lease_seconds, 3 * settings.agency_timeout_seconds + 1)


def deliver(adapter: AgencyAdapter, message: ClaimedMessage) -> Outcome:
    """One attempt: query first if an earlier try may have arrived, else send.

    Never raises: every way it can end is an Outcome the outbox knows how to record.
    """
    prefix = ""
    if message.mode == QUERY:
        known = _ask(adapter, message)
        if known is not None:
            return known
        prefix = "查询无此请求，"
    try:
        result = adapter.submit(message.request_id, message.payload, attempt=message.attempt)
        return Outcome.ok(result, f"{prefix}已提交（{result.status}）")
    except AgencyTimeout as exc:
        return Outcome(OutcomeKind.UNKNOWN, str(exc))
    except AgencyError as exc:
        kind = OutcomeKind.PERMANENT if exc.permanent else OutcomeKind.TRANSIENT
        return Outcome(kind, prefix + exc.message)
    except Exception:
        # A bug on our side after the request may have left: treat as unknown (ask first).
        log.exception("dispatch %s: unexpected error", message.id)
        return Outcome(OutcomeKind.UNKNOWN, "内部错误（已记录日志）")


def _ask(adapter: AgencyAdapter, message: ClaimedMessage) -> Outcome | None:
    """Whether the agency already has this request: its answer, an unknown outcome if asking
    failed, or None when it has never seen the request id (then it is sent)."""
    try:
        found = adapter.query(message.request_id)
    except (AgencyError, AgencyTimeout) as exc:
        # Still not known whether the agency has it: stay unknown, ask again later.
        return Outcome(OutcomeKind.UNKNOWN, f"查询失败：{exc}")
    except Exception:
        log.exception("dispatch %s: unexpected error while querying", message.id)
        return Outcome(OutcomeKind.UNKNOWN, "查询失败：内部错误（已记录日志）")
    if found is None:
        return None
    return Outcome.ok(found, f"查询：对方已有此请求（{found.status}）")


@dataclass
class _Turn:
    """A periodic job's next time on a clock: due at the first check, then `every` seconds
    after it was last taken."""

    next_at: datetime | None = None

    def take(self, now: datetime, every: float) -> bool:
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + timedelta(seconds=every)
        return True


@dataclass(frozen=True)
class Dispatcher:
    """One worker: the database it claims from, the agencies it sends to, its clock and its
    identity. `run_once` is one pass (tests drive it with a fixed clock); `run_loop` runs
    passes until stopped."""

    session_factory: sessionmaker[Session]
    adapters: Adapters
    settings: Settings
    clock: Clock
    worker_id: str
    rng: random.Random
    # The SMS gateway the notices' text messages go through (None: notices stay in the
    # message centre only, their SMS wait until a worker with a gateway runs).
    sms: SmsGateway | None = None
    # When `lapse_if_due` runs `lapse_overdue` next.
    _lapse_turn: _Turn = field(default_factory=_Turn, init=False, repr=False, compare=False)

    def run_once(
        self,
        *,
        limit: int = DEFAULT_BATCH,
        stop: threading.Event | None = None,
        lease_seconds: float | None = None,
    ) -> int:
        """Claim due messages, try each once, record every attempt. Returns how many were
        tried.

        Stops between messages when `stop` is set and hands the untried ones back.
        """
        lease = lease_seconds or lease_seconds_for(self.settings)
        claimed_at = time.monotonic()
        claimed = outbox.claim_due(
            self.session_factory,
            worker_id=self.worker_id,
            at=self.clock.now(),
            limit=limit,
            lease_seconds=lease,
        )
        tried = 0
        for index, message in enumerate(claimed):
            if stop is not None and stop.is_set():
                with unit_of_work(self.session_factory) as session:
                    for rest in claimed[index:]:
                        outbox.release(
                            session, message=rest, worker_id=self.worker_id, at=self.clock.now()
                        )
                break
            if time.monotonic() - claimed_at > lease / 3:
                # The batch was claimed a while ago: make sure this message is still ours and
                # will stay ours for a whole send (the lease is longer than 3 timeouts).
                with unit_of_work(self.session_factory) as session:
                    mine = outbox.renew(
                        session,
                        message_id=message.id,
                        worker_id=self.worker_id,
                        at=self.clock.now(),
                        lease_seconds=lease,
                    )
                if not mine:
                    continue
            # The id of the HTTP request that wrote the message is on every line logged
            # while it is sent (logconfig.py), so its way can be followed across processes.
            with request_context.bound(message.origin_request_id):
                log.info(
                    "dispatch %s (%s %s) attempt %s: %s",
                    message.id,
                    message.agency,
                    message.operation,
                    message.attempt,
                    message.mode,
                )
                outcome = deliver(self.adapters[message.agency], message)
                with unit_of_work(self.session_factory) as session:
                    record(
                        session,
                        message=message,
                        worker_id=self.worker_id,
                        outcome=outcome,
                        at=self.clock.now(),
                        settings=self.settings,
                        rng=self.rng,
                    )
                tried += 1
                log.info(
                    "dispatch %s (%s) attempt %s: %s %s",
                    message.id,
                    message.agency,
                    message.attempt,
                    outcome.kind,
                    outcome.detail,
                )
        if self.sms is not None and not (stop is not None and stop.is_set()):
            send_notice_sms(self.session_factory, self.sms, at=self.clock.now(), limit=limit)
        return tried

    def heartbeat(self) -> None:
        """Tell /readyz this worker is alive (services/observability.py)."""
        now = self.clock.now()
        with unit_of_work(self.session_factory) as session:
            observability.beat(session, worker_id=self.worker_id, at=now)
            # Workers gone a day ago (each start has a new id) leave no rows behind.
            observability.forget_workers_older_than(session, before=now - timedelta(days=1))

    def reconcile_if_due(self) -> reconciliation.ReconciliationView | None:
        """Reconcile yesterday (China time) once today's hour reaches
        `settings.reconcile_at_hour`, unless yesterday has a run already. Returns the run made,
        or None. A statement that cannot be had raises AgencyError and nothing is stored: the
        next check tries again."""
        hour = self.settings.reconcile_at_hour
        now = self.clock.now().astimezone(CHINA_TZ)
        if hour < 0 or now.hour < hour:
            return None
        day = now.date() - timedelta(days=1)
        with unit_of_work(self.session_factory) as session:
            if reconciliation.was_reconciled(session, day=day):
                return None
        view = reconcile_day(
            self.session_factory,
            adapters=self.adapters,
            day=day,
            clock=self.clock,
            ran_by=f"worker:{self.worker_id}",
        )
        log.info("reconciled %s: %s discrepancies", day, len(view.discrepancies))
        return view

    def lapse_if_due(self) -> list[int] | None:
        """`lapse_overdue` when `settings.lapse_check_seconds` have passed on the worker's
        clock since the last run (the first check runs it); None when not due. Checked with
        the heartbeat, so a case lapses within a few minutes of its 15th day; a failure
        waits for the next run like a success."""
        if not self._lapse_turn.take(self.clock.now(), self.settings.lapse_check_seconds):
            return None
        return self.lapse_overdue()

    def lapse_overdue(self) -> list[int]:
        """逾期未补正: applications returned for correction more than 15 days ago lapse
        (services/corrections.py)."""
        with unit_of_work(self.session_factory) as session:
            lapsed = corrections.lapse_overdue(session, now=self.clock.now()).lapsed
        if lapsed:
            log.info("lapsed %s returned application(s) not corrected in time", len(lapsed))
        return lapsed

    def run_loop(self, *, stop: threading.Event, idle_seconds: float = IDLE_SECONDS) -> None:
        """Dispatch until `stop` is set: work while there is work, nap briefly when idle, and
        poll for lost results every few seconds. A failing pass (database briefly
        unreachable) is logged and retried; it never ends the loop."""
        log.info("worker %s started", self.worker_id)
        next_poll = 0.0
        next_beat = 0.0
        next_reconcile = 0.0
        poll_every = self.settings.dispatch_poll_seconds
        while not stop.is_set():
            tried = 0
            try:
                if time.monotonic() >= next_beat:
                    self.heartbeat()
                    self.lapse_if_due()
                    next_beat = time.monotonic() + self.settings.worker_heartbeat_seconds
                tried = self.run_once(stop=stop)
                if time.monotonic() >= next_poll and not stop.is_set():
                    poll_pending_results(
                        self.session_factory,
                        adapters=self.adapters,
                        clock=self.clock,
                        interval_seconds=poll_every,
                    )
                    next_poll = time.monotonic() + min(POLL_CHECK_SECONDS, poll_every)
                if time.monotonic() >= next_reconcile and not stop.is_set():
                    # Checked every few minutes; a failure (an agency down) waits for the next.
                    next_reconcile = time.monotonic() + RECONCILE_CHECK_SECONDS
                    try:
                        self.reconcile_if_due()
                    except Exception:
                        # Never holds up dispatching; the next check tries again.
                        log.exception("daily reconciliation failed; retrying later")
            except Exception:
                log.exception("dispatcher pass failed; retrying")
                stop.wait(min(5.0, idle_seconds * 4))
            if tried == 0:
                stop.wait(idle_seconds)
        log.info("worker %s stopped", self.worker_id)


def send_notice_sms(
    session_factory: sessionmaker[Session], sms: SmsGateway, *, at: datetime, limit: int
) -> int:
    """Send the due SMS of notices (services/notifications.py), each claimed, sent and
    recorded on its own: a gateway that fails costs that SMS a retry, nothing else. Returns
    how many were tried."""
    with unit_of_work(session_factory) as session:
        due = notifications.due_sms(session, at=at, limit=limit)
    tried = 0
    for notification_id in due:
        with unit_of_work(session_factory) as session:
            claimed = notifications.claim_sms(session, notification_id, at=at)
        if claimed is None:
            continue
        sent = False
        if claimed.phone:
            try:
                sms.send(phone=claimed.phone, text=claimed.text, code="")
                sent = True
            except Unavailable:
                log.warning("notice %s: SMS attempt %s failed", notification_id, claimed.attempt)
        with unit_of_work(session_factory) as session:
            notifications.record_sms(session, claimed, sent=sent, at=at)
        tried += 1
    return tried


def record(
    session: Session,
    *,
    message: ClaimedMessage,
    worker_id: str,
    outcome: Outcome,
    at: datetime,
    settings: Settings,
    rng: random.Random,
) -> bool:
    """Record one attempt and, if the agency answered, apply its answer to the application,
    in the caller's transaction. False when this worker had lost the claim (outbox.py); the
    answer is applied all the same (settlement is idempotent)."""
    owned = outbox.record_attempt(
        session,
        message_id=message.id,
        worker_id=worker_id,
        outcome=outcome,
        at=at,
        max_attempts=settings.dispatch_max_attempts,
        rng=rng,
        poll_after_seconds=settings.dispatch_poll_seconds,
    )
    if outcome.result is not None:
        settlement.apply_result(
            session,
            agency=message.agency,
            result=outcome.result,
            at=at,
            application_id=message.application_id,
        )
    return owned


def poll_pending_results(
    session_factory: sessionmaker[Session],
    *,
    adapters: Adapters,
    clock: Clock,
    limit: int = 50,
    interval_seconds: float = outbox.DEFAULT_POLL_AFTER_SECONDS,
) -> int:
    """Ask the agencies about delivered requests whose result has not come back (a lost
    callback). Idempotent like the callbacks; returns how many applications moved."""
    applied = 0
    for message in outbox.claim_polls(
        session_factory, at=clock.now(), limit=limit, interval_seconds=interval_seconds
    ):
        try:
            found = adapters[message.agency].query(message.request_id)
        except (AgencyError, AgencyTimeout) as exc:
            log.info("poll of dispatch %s (%s) failed: %s", message.id, message.agency, exc)
            continue
        if found is None:
            log.warning(
                "dispatch %s: %s no longer knows request %s",
                message.id,
                message.agency,
                message.request_id,
            )
            continue
        with unit_of_work(session_factory) as session:
            if settlement.apply_result(
                session, agency=message.agency, result=found, at=clock.now()
            ):
                applied += 1
    return applied


def reconcile_day(
    session_factory: sessionmaker[Session],
    *,
    adapters: Adapters,
    day: date,
    clock: Clock,
    ran_by: str,
) -> reconciliation.ReconciliationView:
    """Three-way reconciliation of `day`: fetch each agency's statement, compare it with our
    records and store the run (services/reconciliation.py). AgencyError if a statement
    cannot be had: then nothing is stored, since a partial run would call that agency's
    bookings missing."""
    statements = {agency: adapters[agency].fetch_statement(day) for agency in Agency}
    with unit_of_work(session_factory) as session:
        return reconciliation.reconcile(
            session, day=day, statements=statements, at=clock.now(), ran_by=ran_by
        )


def run_forever(settings: Settings) -> int:
    """`sirefund worker`: the dispatcher alone until SIGTERM / SIGINT. Exit status 0 after a
    clean stop, 2 when misconfigured."""
    # One line per HTTP request would drown the log; outcomes are logged per attempt instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        adapters = agencies.build_adapters(settings)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    sms_gateway = agencies.build_realname_adapters(settings)[0]
    engine = make_engine(settings.database_url, echo=settings.echo_sql, pooler=settings.db_pooler)
    factory = make_session_factory(engine)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current message, then stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    try:
        Dispatcher(
            factory,
            adapters=adapters,
            settings=settings,
            clock=SystemClock(),
            worker_id=new_worker_id(),
            rng=random.Random(),
            sms=sms_gateway,
        ).run_loop(stop=stop)
    finally:
        for adapter in adapters.values():
            adapter.close()
        if sms_gateway is not None:
            sms_gateway.close()
        engine.dispose()
    return 0


def main() -> int:
    settings = load_settings()
    logconfig.configure(settings.log_format)
    return run_forever(settings)


if __name__ == "__main__":
    sys.exit(main())
