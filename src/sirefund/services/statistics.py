"""统计分析: a region at a glance for supervisors (the `supervisor` role).

Counts and amounts by status, kind, channel, county and month; working days from application
to payment (median and 90th percentile); cases pending past the statutory 30 working days;
the agencies' refusal and failure rates. No application row is loaded.

Whole China months are read from the summary tables the database keeps in step with the
applications (services/stats_summary.py; a few rows per county and month, whatever the
number of applications); the partial months at the ends of a date filter, and the current
month of the overdue count, are aggregated live from ``applications`` over a range of its
``created_at`` index. The working-day figures come from the summary's histogram (refunded
applications by working days waited), and for the partial months from the (day applied, day
paid) pairs counted here with the same calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ
from ..domain import regions
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS, WorkingDays
from ..domain.errors import Forbidden
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, Officer, StatsCell, StatsRefundDays
from . import holidays
from .list_filters import DateRangeFilters, china_midnight, division_code
from .officers import OfficerRef, active_officer, region_clause
from .stats_summary import FIRST_DAY, LAST_DAY

#: Answered by the agency (refused or passed on to the bank).
_ANSWERED = (S.AGENCY_REJECTED, S.REFUNDED, S.REFUND_FAILED)
#: Paid out or not by the bank.
_PAID_OR_FAILED = (S.REFUNDED, S.REFUND_FAILED)


class StatsFilters(DateRangeFilters):
    """申请日期起/止 (China dates, inclusive) and 地区 (a division within the officer's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    range_code = "stats.date_range"

    date_from: date | None = None
    date_to: date | None = None
    region: str | None = None

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        return division_code(value, code="stats.region")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar: a key (status, kind, channel, division code or YYYY-MM), how many, how much."""

    key: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Rate:
    """``numerator`` of ``denominator``; ``ratio`` None when nothing was counted."""

    numerator: int
    denominator: int

    @property
    def ratio(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True, slots=True)
class RegionStats:
    region: str  # the scope counted: the filter's region, else the officer's
    date_from: date | None
    date_to: date | None
    total: Bucket
    by_status: list[Bucket]
    by_kind: list[Bucket]
    by_channel: list[Bucket]
    by_region: list[Bucket]
    by_month: list[Bucket]
    days_to_refund_p50: int | None
    days_to_refund_p90: int | None
    refunded_counted: int
    overdue: int
    agency_refusal: Rate  # 人社/医保退回 of the applications the agencies answered
    payment_failure: Rate  # 退付失败 of the payouts the bank answered


def _supervisor(session: Session, officer: OfficerRef) -> Officer:
    me = active_officer(session, officer)
    if not me.is_supervisor:
        raise Forbidden("stats.not_supervisor", "仅统计分析人员（supervisor）可以查看统计")
    return me


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _china_day(session: Session) -> ColumnElement[Any]:
    """created_at (UTC) as its China date, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Shanghai", Application.created_at), Date)
    return func.date(Application.created_at, "+8 hours")


def _as_china_date(value: datetime) -> date:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(CHINA_TZ).date()


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _percentile(histogram: dict[int, int], percent: int) -> int | None:
    """The nearest-rank percentile of a histogram {value: count}: the smallest value with at
    least ``percent``% of the counts at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-total * percent // 100))  # ceil, in integers
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # pragma: no cover - unreachable: seen reaches total


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class _Span:
    """China days [start, end] (None: unbounded) as the summary's whole months
    (``first_month``..``last_month``, 'YYYY-MM', None: unbounded; ``months`` False when there
    are none) and at most two partial months at the ends, counted live from applications."""

    months: bool
    first_month: str | None
    last_month: str | None
    edges: tuple[tuple[date, date], ...]


def _span(start: date | None, end: date | None) -> _Span:
    if start is not None and end is not None and start > end:
        return _Span(False, None, None, ())
    edges: list[tuple[date, date]] = []
    if start is not None and start.day != 1:
        month_end = _next_month(start) - timedelta(days=1)
        if end is not None and end <= month_end:
            return _Span(False, None, None, ((start, end),))
        edges.append((start, month_end))
        start = month_end + timedelta(days=1)
    if end is not None and _next_month(end) - timedelta(days=1) != end:
        first = end.replace(day=1)
        if start is not None and first <= start:  # start is this month's first day
            return _Span(False, None, None, (*edges, (start, end)))
        edges.append((first, end))
        end = first - timedelta(days=1)
    return _Span(
        True,
        start.strftime("%Y-%m") if start else None,
        end.strftime("%Y-%m") if end else None,
        tuple(edges),
    )


def _month_conds(span: _Span) -> list[ColumnElement[bool]]:
    conds = []
    if span.first_month is not None:
        conds.append(StatsCell.month >= span.first_month)
    if span.last_month is not None:
        conds.append(StatsCell.month <= span.last_month)
    return conds


def _created_within(first: date, last: date) -> list[ColumnElement[bool]]:
    return [
        Application.created_at >= china_midnight(first),
        Application.created_at < china_midnight(last + timedelta(days=1)),
    ]


_Sums = dict[tuple[str, str, str, str], list[int]]


def _add(sums: dict[Any, list[int]], key: Any, n: object, fen: object) -> None:
    cell = sums.setdefault(key, [0, 0])
    cell[0] += int(str(n))
    cell[1] += int(str(fen))


def _cells(session: Session, scope: str, span: _Span) -> tuple[_Sums, dict[str, list[int]]]:
    """Counts and amounts by (region, status, kind, channel), and by month: the summary's
    whole months, plus the partial months at the ends from applications."""
    groups: _Sums = {}
    months: dict[str, list[int]] = {}
    if span.months:
        where = [region_clause(StatsCell.region_code, scope), *_month_conds(span)]
        n, fen = func.sum(StatsCell.count), func.sum(StatsCell.amount_fen)
        keys = (StatsCell.region_code, StatsCell.status, StatsCell.kind, StatsCell.channel)
        for region, status, kind, channel, count, amount in session.execute(
            select(*keys, n, fen).where(*where).group_by(*keys)
        ):
            _add(groups, (region, status, kind, channel), count, amount)
        for month, count, amount in session.execute(
            select(StatsCell.month, n, fen).where(*where).group_by(StatsCell.month)
        ):
            _add(months, month, count, amount)
    keys_live = (Application.region_code, Application.status, Application.kind, Application.channel)
    live_n, live_fen = func.count(), func.coalesce(func.sum(Application.amount_fen), 0)
    # On SQLite the region as an expression (`region_code || ''`): it cannot tell a
    # province's region range (every row) from a county's and would walk the (region_code,
    # status) index; the days' range, in the covering index, is the narrow one. PostgreSQL
    # estimates both ranges, and reads the covering index for them.
    region_column = Application.region_code + "" if _sqlite(session) else Application.region_code
    for first, last in span.edges:
        for region_code, status, kind, channel, count, amount in session.execute(
            select(*keys_live, live_n, live_fen)
            .where(region_clause(region_column, scope), *_created_within(first, last))
            .group_by(*keys_live)
        ):
            _add(groups, (region_code, status, kind, channel), count, amount)
            _add(months, first.strftime("%Y-%m"), count, amount)
    return groups, months


def _refund_days(
    session: Session, scope: str, span: _Span, calendar: WorkingDays
) -> dict[int, int]:
    """Refunded applications by working days waited: the summary's histogram for the whole
    months, the (day applied, day paid) pairs of the partial months counted here."""
    histogram: dict[int, int] = {}
    if span.months:
        cond = [StatsRefundDays.month >= span.first_month] if span.first_month else []
        if span.last_month:
            cond.append(StatsRefundDays.month <= span.last_month)
        for waited, n in session.execute(
            select(StatsRefundDays.working_days, func.sum(StatsRefundDays.count))
            .where(region_clause(StatsRefundDays.region_code, scope), *cond)
            .group_by(StatsRefundDays.working_days)
        ):
            histogram[int(waited)] = histogram.get(int(waited), 0) + int(n)
    day = _china_day(session)
    for first, last in span.edges:
        for applied, paid, n in session.execute(
            select(day, Application.refund_date, func.count())
            .where(
                region_clause(Application.region_code, scope),
                *_created_within(first, last),
                Application.status == S.REFUNDED.value,
                Application.refund_date.is_not(None),
            )
            .group_by(day, Application.refund_date)
        ):
            applied_on, paid_on = _as_date(applied), _as_date(paid)
            if not (FIRST_DAY <= applied_on <= LAST_DAY and FIRST_DAY <= paid_on <= LAST_DAY):
                continue  # as the summary: outside the working-day table's years
            waited = max(0, calendar.between(applied_on, paid_on))
            histogram[waited] = histogram.get(waited, 0) + int(n)
    return {k: v for k, v in histogram.items() if v}


def _pending(session: Session, scope: str, span: _Span) -> int:
    """Applications pending review within the span."""
    total = 0
    if span.months:
        total += int(
            session.execute(
                select(func.coalesce(func.sum(StatsCell.count), 0)).where(
                    region_clause(StatsCell.region_code, scope),
                    StatsCell.status == S.PENDING_REVIEW.value,
                    *_month_conds(span),
                )
            ).scalar_one()
        )
    for first, last in span.edges:
        total += int(
            session.execute(
                select(func.count()).where(
                    region_clause(Application.region_code, scope),
                    Application.status == S.PENDING_REVIEW.value,
                    *_created_within(first, last),
                )
            ).scalar_one()
        )
    return total


def region_stats(
    session: Session, *, officer: OfficerRef, filters: StatsFilters, today: date
) -> RegionStats:
    """The figures of the officer's region (or of ``filters.region``, which must lie within
    it: 403 ``stats.region_out_of_scope`` otherwise). 403 ``stats.not_supervisor`` for
    officers without the supervisor role."""
    me = _supervisor(session, officer)
    scope = me.region_code
    if filters.region is not None:
        if not regions.is_within(filters.region, me.region_code):
            raise Forbidden("stats.region_out_of_scope", "所选地区不在您的管辖范围内", "region")
        scope = filters.region
    span = _span(filters.date_from, filters.date_to)
    groups, months = _cells(session, scope, span)
    region_sums: dict[str, list[int]] = {}
    status_sums: dict[str, list[int]] = {}
    kind_sums: dict[str, list[int]] = {}
    channel_sums: dict[str, list[int]] = {}
    for (region, status, kind, channel), (n, fen) in groups.items():
        for sums, key in (
            (region_sums, region),
            (status_sums, status),
            (kind_sums, kind),
            (channel_sums, channel),
        ):
            _add(sums, str(key), n, fen)
    by_region, by_status, by_kind, by_channel, by_month = (
        [Bucket(k, n, fen) for k, (n, fen) in sorted(sums.items()) if n]
        for sums in (region_sums, status_sums, kind_sums, channel_sums, months)
    )
    counts = {b.key: b.count for b in by_status}
    total = Bucket("total", sum(b.count for b in by_status), sum(b.amount_fen for b in by_status))

    calendar = holidays.working_days(session)
    histogram = _refund_days(session, scope, span, calendar)
    # Waited more than 30 working days by today: submitted on or before this day.
    latest = calendar.latest_start(today, STATUTORY_REVIEW_WORKING_DAYS + 1)
    last = latest if filters.date_to is None else min(latest, filters.date_to)
    overdue = _pending(session, scope, _span(filters.date_from, last))

    def tally(states: tuple[S, ...]) -> int:
        return sum(counts.get(s.value, 0) for s in states)

    return RegionStats(
        region=scope,
        date_from=filters.date_from,
        date_to=filters.date_to,
        total=total,
        by_status=by_status,
        by_kind=by_kind,
        by_channel=by_channel,
        by_region=by_region,
        by_month=by_month,
        days_to_refund_p50=_percentile(histogram, 50),
        days_to_refund_p90=_percentile(histogram, 90),
        refunded_counted=sum(histogram.values()),
        overdue=int(overdue),
        agency_refusal=Rate(counts.get(S.AGENCY_REJECTED.value, 0), tally(_ANSWERED)),
        payment_failure=Rate(counts.get(S.REFUND_FAILED.value, 0), tally(_PAID_OR_FAILED)),
    )
