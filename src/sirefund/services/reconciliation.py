"""Three-way reconciliation (三方对账) of a day, as use cases: gather what we asked of each
agency that day, compare it with the agency's statement (domain/reconciliation.py), store
the run with its totals and every discrepancy; and read the newest run of a day back.

The statements are fetched by the caller (the worker's `reconcile_day`, used by
`sirefund reconcile`) and passed in: services never reach an agency.

"Our side" of a day, per agency: the requests that first may have left us that day (China
time) — the message's first attempt whose outcome was `ok` or `unknown` — with the amount
of the application and, for the bank, the account the payout must reach (the application's
bank account, else its deposit account: the same rule as the payout payload in
dispatches.py). The amount and account compared are the application's, not the payload's:
a payload that says something else than what was approved is exactly what must show. A
request sent in the last moment before midnight and booked just after it appears as
missing on the first day and is matched (not unknown) on the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from ..clock import CHINA_TZ, as_utc
from ..domain.agencies import Agency
from ..domain.dispatch import AttemptOutcome
from ..domain.identity import mask_account_for_officer
from ..domain.reconciliation import (
    AgencyTotals,
    DiscrepancyKind,
    OurRecord,
    StatementRow,
    compare,
)
from ..models import (
    Application,
    DepositAccount,
    DispatchAttempt,
    OutboxMessage,
    ReconciliationDiscrepancy,
    ReconciliationRun,
    ReconciliationTotal,
)
from .officers import region_clause

# The attempts after which the agency may hold the request.
_REACHED = (AttemptOutcome.OK.value, AttemptOutcome.UNKNOWN.value)
_IN_CHUNK = 500


@dataclass(frozen=True)
class EntryView:
    amount_fen: int | None
    account_masked: str | None


@dataclass(frozen=True)
class DiscrepancyView:
    kind: DiscrepancyKind
    agency: Agency
    application_id: int | None
    ours: EntryView | None
    theirs: EntryView | None


@dataclass(frozen=True)
class ReconciliationView:
    """A stored run: per agency our totals and the statement's, and every difference."""

    run_id: int
    day: date
    ran_at: datetime
    ran_by: str
    agencies: tuple[AgencyTotals, ...]
    discrepancies: tuple[DiscrepancyView, ...]

    @property
    def clean(self) -> bool:
        return not self.discrepancies and all(t.agrees for t in self.agencies)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants (UTC) a China-time day starts and ends at."""
    start = datetime.combine(day, time(), tzinfo=CHINA_TZ)
    return as_utc(start), as_utc(start + timedelta(days=1))


def _records_query(agency: Agency) -> Select[int, str, int, str | None]:
    """Per request: application id, request id, the application's amount and, for the bank
    only, the account it must pay into (HRSS and medical security book no account)."""
    account: ColumnElement[str | None] = (
        func.coalesce(Application.bank_account_no, DepositAccount.account_no)
        if agency == Agency.BANK
        else literal(None, String(32))
    )
    query = (
        select(
            OutboxMessage.application_id,
            OutboxMessage.request_id,
            Application.amount_fen,
            account.label("account_no"),
        )
        .join(Application, Application.id == OutboxMessage.application_id)
        .where(OutboxMessage.agency == agency.value)
    )
    if agency == Agency.BANK:
        query = query.outerjoin(DepositAccount, DepositAccount.id == Application.deposit_account_id)
    return query


def our_records(session: Session, *, agency: Agency, day: date) -> list[OurRecord]:
    """Our requests to `agency` that first may have reached it on `day` (see the module)."""
    start, end = day_bounds(day)
    earlier = aliased(DispatchAttempt)
    reached_that_day = (
        select(DispatchAttempt.message_id)
        .where(
            DispatchAttempt.outcome.in_(_REACHED),
            DispatchAttempt.at >= start,
            DispatchAttempt.at < end,
        )
        .distinct()
    )
    query = _records_query(agency).where(
        OutboxMessage.id.in_(reached_that_day),
        ~exists().where(
            and_(
                earlier.message_id == OutboxMessage.id,
                earlier.outcome.in_(_REACHED),
                earlier.at < start,
            )
        ),
    )
    return [OurRecord(a, r, amount, acct) for a, r, amount, acct in session.execute(query)]


def known_records(
    session: Session, *, agency: Agency, application_ids: Iterable[int]
) -> dict[int, OurRecord]:
    """Our requests to `agency` for these applications, whatever day they left."""
    ids = sorted(set(application_ids))
    out: dict[int, OurRecord] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i : i + _IN_CHUNK]
        query = _records_query(agency).where(OutboxMessage.application_id.in_(chunk))
        for app_id, request_id, amount, acct in session.execute(query):
            out[app_id] = OurRecord(app_id, request_id, amount, acct)
    return out


def reconcile(
    session: Session,
    *,
    day: date,
    statements: Mapping[Agency, Sequence[StatementRow]],
    at: datetime,
    ran_by: str,
) -> ReconciliationView:
    """Compare each agency's statement of `day` with our records and store the run, its
    totals and every discrepancy (in the caller's transaction). Every agency must have a
    statement: a reconciliation missing one would call its bookings all missing."""
    missing = [a for a in Agency if a not in statements]
    if missing:
        raise ValueError(f"no statement for {', '.join(a.value for a in missing)}")
    run = ReconciliationRun(day=day, ran_at=as_utc(at), ran_by=ran_by[:60], discrepancy_count=0)
    session.add(run)
    session.flush()
    count = 0
    for agency in Agency:
        rows = statements[agency]
        ours = our_records(session, agency=agency, day=day)
        ours_ids = {r.application_id for r in ours}
        strangers = {
            r.application_id
            for r in rows
            if r.application_id is not None and r.application_id not in ours_ids
        }
        known = known_records(session, agency=agency, application_ids=strangers)
        result = compare(agency, ours=ours, theirs=rows, known=known)
        t = result.totals
        session.add(
            ReconciliationTotal(
                run_id=run.id,
                agency=agency.value,
                ours_count=t.ours_count,
                ours_amount_fen=t.ours_amount_fen,
                theirs_count=t.theirs_count,
                theirs_amount_fen=t.theirs_amount_fen,
            )
        )
        if result.discrepancies:
            session.execute(
                insert(ReconciliationDiscrepancy),
                [
                    {
                        "run_id": run.id,
                        "kind": d.kind.value,
                        "agency": d.agency.value,
                        "application_id": d.application_id,
                        "ours_amount_fen": d.ours.amount_fen if d.ours else None,
                        "ours_account": _mask(d.ours.account_no) if d.ours else None,
                        "theirs_amount_fen": d.theirs.amount_fen if d.theirs else None,
                        "theirs_account": _mask(d.theirs.account_no) if d.theirs else None,
                    }
                    for d in result.discrepancies
                ],
            )
        count += len(result.discrepancies)
    run.discrepancy_count = count
    session.flush()
    return _load(session, run)


def was_reconciled(session: Session, *, day: date) -> bool:
    """Whether `day` has a run (over the (day, id) index)."""
    found = session.execute(
        select(ReconciliationRun.id).where(ReconciliationRun.day == day).limit(1)
    ).first()
    return found is not None


def latest(
    session: Session, *, day: date, region_scope: str | None = None
) -> ReconciliationView | None:
    """The newest run of `day`, or None if the day was never reconciled.

    `region_scope` (an officer's division code) keeps the discrepancies of applications
    under it, and those naming no application of ours (nobody's region); the totals are the
    whole day's, as the statements are."""
    run = session.execute(
        select(ReconciliationRun)
        .where(ReconciliationRun.day == day)
        .order_by(ReconciliationRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return _load(session, run, region_scope=region_scope) if run is not None else None


def _mask(account: str | None) -> str | None:
    return mask_account_for_officer(account) if account else None


def _entry(amount: int | None, account: str | None, present: bool) -> EntryView | None:
    return EntryView(amount, account) if present else None


def _load(
    session: Session, run: ReconciliationRun, *, region_scope: str | None = None
) -> ReconciliationView:
    order = {a.value: i for i, a in enumerate(Agency)}
    totals = sorted(
        session.execute(
            select(ReconciliationTotal).where(ReconciliationTotal.run_id == run.id)
        ).scalars(),
        key=lambda t: order[t.agency],
    )
    D = ReconciliationDiscrepancy
    query = select(D).where(D.run_id == run.id).order_by(D.id)
    if region_scope is not None:
        query = query.outerjoin(Application, Application.id == D.application_id).where(
            or_(Application.id.is_(None), region_clause(Application.region_code, region_scope))
        )
    rows = session.execute(query).scalars()
    discrepancies = tuple(
        DiscrepancyView(
            kind=DiscrepancyKind(d.kind),
            agency=Agency(d.agency),
            application_id=d.application_id,
            ours=_entry(d.ours_amount_fen, d.ours_account, d.kind != "unknown_to_us"),
            theirs=_entry(d.theirs_amount_fen, d.theirs_account, d.kind != "missing_at_agency"),
        )
        for d in rows
    )
    return ReconciliationView(
        run_id=run.id,
        day=run.day,
        ran_at=as_utc(run.ran_at),
        ran_by=run.ran_by,
        agencies=tuple(
            AgencyTotals(
                agency=Agency(t.agency),
                ours_count=t.ours_count,
                ours_amount_fen=t.ours_amount_fen,
                theirs_count=t.theirs_count,
                theirs_amount_fen=t.theirs_amount_fen,
            )
            for t in totals
        ),
        discrepancies=discrepancies,
    )
