"""Three-way reconciliation (三方对账), as pure rules: what one line of an agency's daily
statement (对账文件) is, what we hold for the same day, and how the two are compared.

The comparison goes agency by agency: what we sent HRSS / medical security (the approvals)
against what they booked, and what we sent the bank (the payout orders) against what it paid.
Lines are matched by application id; for a matched line the amount (fen) must agree, and
where the agency books an account (the bank) the account too. Every difference is one
`Discrepancy` of a `DiscrepancyKind`. Nothing here reads a clock or a database: the service
(services/reconciliation.py) gathers both sides and stores what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .agencies import Agency
from .labelled import LabelledEnum


class DiscrepancyKind(LabelledEnum):
    MISSING_AT_AGENCY = "missing_at_agency", "对方无记录"
    UNKNOWN_TO_US = "unknown_to_us", "我方无记录"
    AMOUNT_DIFFERS = "amount_differs", "金额不符"
    ACCOUNT_DIFFERS = "account_differs", "账号不符"
    PAID_TWICE = "paid_twice", "重复记账"


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One booking on an agency's daily statement."""

    request_id: str
    application_id: int | None
    payee: str | None
    account_no: str | None
    amount_fen: int | None
    status: str
    booked_at: datetime

    @classmethod
    def from_wire(cls, data: object) -> StatementRow:
        """One statement line from JSON; ValueError if it is not one. `amount_fen` is the
        integer the agency booked (the yuan text next to it is for people, not compared)."""
        if not isinstance(data, dict):
            raise ValueError("not an object")  # noqa: TRY004 - callers catch ValueError
        fields: dict[str, Any] = data
        request_id, status = fields.get("request_id"), fields.get("status")
        if not isinstance(request_id, str) or not isinstance(status, str):
            raise ValueError("request_id and status are required")
        amount, app_id = fields.get("amount_fen"), fields.get("application_id")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise ValueError("amount_fen is not an integer")
        if app_id is not None and (isinstance(app_id, bool) or not isinstance(app_id, int)):
            raise ValueError("application_id is not an integer")
        booked_at = fields.get("booked_at")
        if not isinstance(booked_at, str):
            raise ValueError("booked_at is required")
        payee, account = fields.get("payee"), fields.get("account_no")
        return cls(
            request_id=request_id,
            application_id=app_id,
            payee=str(payee) if payee is not None else None,
            account_no=str(account) if account else None,
            amount_fen=amount,
            status=status,
            booked_at=datetime.fromisoformat(booked_at),
        )


@dataclass(frozen=True, slots=True)
class OurRecord:
    """What we asked one agency for one application: the application's amount, and for the
    bank the account the payout must reach (None for HRSS and medical security, which book
    no account)."""

    application_id: int
    request_id: str
    amount_fen: int
    account_no: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a discrepancy: an amount and an account (full; masked when shown)."""

    amount_fen: int | None
    account_no: str | None


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: DiscrepancyKind
    agency: Agency
    application_id: int | None
    ours: Entry | None
    theirs: Entry | None


@dataclass(frozen=True, slots=True)
class AgencyTotals:
    agency: Agency
    ours_count: int
    ours_amount_fen: int
    theirs_count: int
    theirs_amount_fen: int

    @property
    def agrees(self) -> bool:
        return (self.ours_count, self.ours_amount_fen) == (
            self.theirs_count,
            self.theirs_amount_fen,
        )


@dataclass(frozen=True, slots=True)
class AgencyComparison:
    totals: AgencyTotals
    discrepancies: tuple[Discrepancy, ...]


def compare(
    agency: Agency,
    *,
    ours: Iterable[OurRecord],
    theirs: Iterable[StatementRow],
    known: Mapping[int, OurRecord] | None = None,
) -> AgencyComparison:
    """Compare our records of a day with the agency's statement of that day.

    `ours`: the requests that left us that day (one per application: the outbox allows no
    second). `known`: our requests to this agency from other days, by application id, so
    that a booking made just after midnight for a request sent just before is not "unknown
    to us". A statement line of an application we never asked about is `unknown_to_us`; a
    request of the day with no line is `missing_at_agency`; two or more lines for one
    application are `paid_twice` (however their request ids differ), and so is a line for a
    request of another day under a request id that is not ours; a line whose amount or
    (bank) account differs from the application is `amount_differs` / `account_differs`.
    """
    mine = {r.application_id: r for r in ours}
    others = known or {}
    found: list[Discrepancy] = []
    lines_by_app: dict[int, list[StatementRow]] = {}
    theirs_count = theirs_amount = 0
    for row in theirs:
        theirs_count += 1
        theirs_amount += row.amount_fen or 0
        if row.application_id is None:
            found.append(_diff(DiscrepancyKind.UNKNOWN_TO_US, agency, None, None, row))
            continue
        lines_by_app.setdefault(row.application_id, []).append(row)
    for app_id, rows in lines_by_app.items():
        record = mine.get(app_id) or others.get(app_id)
        if record is None:
            found.extend(
                _diff(DiscrepancyKind.UNKNOWN_TO_US, agency, app_id, None, r) for r in rows
            )
            continue
        found.extend(
            _diff(DiscrepancyKind.PAID_TWICE, agency, app_id, record, extra) for extra in rows[1:]
        )
        if app_id not in mine and rows[0].request_id != record.request_id:
            # Our request left on another day; a line of this day under another request id
            # is a second booking of it (the first is on that day's statement).
            found.append(_diff(DiscrepancyKind.PAID_TWICE, agency, app_id, record, rows[0]))
        for row in rows:
            if row.amount_fen != record.amount_fen:
                found.append(_diff(DiscrepancyKind.AMOUNT_DIFFERS, agency, app_id, record, row))
            if record.account_no is not None and row.account_no != record.account_no:
                found.append(_diff(DiscrepancyKind.ACCOUNT_DIFFERS, agency, app_id, record, row))
    found.extend(
        _diff(DiscrepancyKind.MISSING_AT_AGENCY, agency, app_id, record, None)
        for app_id, record in mine.items()
        if app_id not in lines_by_app
    )
    found.sort(key=lambda d: (d.application_id or 0, d.kind.value))
    totals = AgencyTotals(
        agency=agency,
        ours_count=len(mine),
        ours_amount_fen=sum(r.amount_fen for r in mine.values()),
        theirs_count=theirs_count,
        theirs_amount_fen=theirs_amount,
    )
    return AgencyComparison(totals=totals, discrepancies=tuple(found))


def _diff(
    kind: DiscrepancyKind,
    agency: Agency,
    application_id: int | None,
    record: OurRecord | None,
    row: StatementRow | None,
) -> Discrepancy:
    return Discrepancy(
        kind=kind,
        agency=agency,
        application_id=application_id,
        ours=Entry(record.amount_fen, record.account_no) if record else None,
        theirs=Entry(row.amount_fen, row.account_no) if row else None,
    )
