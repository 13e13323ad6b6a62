"""统计分析: a region at a glance for supervisors (the `supervisor` role).

Counts and amounts by status, kind, channel, county and month; working days from application
to payment (median and 90th percentile); cases pending past the statutory 30 working days;
the agencies' refusal and failure rates. Every figure is a SQL aggregate (GROUP BY / COUNT /
SUM): no application row is loaded. The groupings by region, status, kind and channel come
from one GROUP BY over their combination, read in the order of a covering index (no sort);
the months from one range count per month. The working-day figures group the refunded applications
by (day applied, day paid) in SQL and count the working days of each distinct pair in Python,
so their cost grows with the number of distinct day pairs, not with the applications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ
from ..domain import regions
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS
from ..domain.errors import Forbidden
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, Officer
from . import holidays
from .list_filters import (
    DATE_RANGE_MESSAGE,
    blank_to_none,
    check_range,
    china_midnight,
    division_code,
    within_days,
)
from .officers import OfficerRef, active_officer, region_clause

#: Answered by the agency (refused or passed on to the bank).
_ANSWERED = (S.AGENCY_REJECTED, S.REFUNDED, S.REFUND_FAILED)
#: Paid out or not by the bank.
_PAID_OR_FAILED = (S.REFUNDED, S.REFUND_FAILED)


class StatsFilters(BaseModel):
    """申请日期起/止 (China dates, inclusive) and 地区 (a division within the officer's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_from: date | None = None
    date_to: date | None = None
    region: str | None = None

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        return division_code(value, code="stats.region")

    @model_validator(mode="after")
    def _range(self) -> StatsFilters:
        check_range(
            self.date_from, self.date_to, code="stats.date_range", message=DATE_RANGE_MESSAGE
        )
        return self


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


def _months(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s."""
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _by_month(
    session: Session, conds: list[ColumnElement[bool]], filters: StatsFilters
) -> list[Bucket]:
    """Counts and amounts per China month: one range of the created_at index per month (a
    GROUP BY on the month would sort every row)."""
    # The first and last application of all (read from either end of the index: min() and
    # max() under a WHERE would scan every row on SQLite), within the filters' dates.
    first = session.execute(select(func.min(Application.created_at))).scalar()
    last = session.execute(select(func.max(Application.created_at))).scalar()
    if first is None or last is None:
        return []
    start, end = _as_china_date(first), _as_china_date(last)
    if filters.date_from is not None:
        start = max(start, filters.date_from)
    if filters.date_to is not None:
        end = min(end, filters.date_to)
    buckets = []
    for month in _months(start, end):
        upper = (month + timedelta(days=32)).replace(day=1)
        n, fen = session.execute(
            select(func.count(), func.coalesce(func.sum(Application.amount_fen), 0)).where(
                *conds,
                Application.created_at >= china_midnight(month),
                Application.created_at < china_midnight(upper),
            )
        ).one()
        if n:
            buckets.append(Bucket(month.strftime("%Y-%m"), int(n), int(fen)))
    return buckets


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
    conds: list[ColumnElement[bool]] = [region_clause(Application.region_code, scope)]
    conds.extend(within_days(Application.created_at, filters.date_from, filters.date_to))

    count, amount = func.count(), func.coalesce(func.sum(Application.amount_fen), 0)
    # One scan of a covering index, in its order (no sort): the counts by region, status,
    # kind and channel together (a few thousand cells at most), rolled up below.
    keys = (Application.region_code, Application.status, Application.kind, Application.channel)
    cells = session.execute(select(*keys, count, amount).where(*conds).group_by(*keys)).all()
    region_sums: dict[str, list[int]] = {}
    status_sums: dict[str, list[int]] = {}
    kind_sums: dict[str, list[int]] = {}
    channel_sums: dict[str, list[int]] = {}
    for region, status, kind, channel, n, fen in cells:
        for sums, key in (
            (region_sums, region),
            (status_sums, status),
            (kind_sums, kind),
            (channel_sums, channel),
        ):
            cell = sums.setdefault(str(key), [0, 0])
            cell[0] += int(n)
            cell[1] += int(fen)
    by_region, by_status, by_kind, by_channel = (
        [Bucket(k, n, fen) for k, (n, fen) in sorted(sums.items())]
        for sums in (region_sums, status_sums, kind_sums, channel_sums)
    )
    counts = {b.key: b.count for b in by_status}
    total = Bucket("total", sum(b.count for b in by_status), sum(b.amount_fen for b in by_status))
    by_month = _by_month(session, conds, filters) if total.count else []

    calendar = holidays.working_days(session)
    day = _china_day(session)
    pairs = session.execute(
        select(day, Application.refund_date, count)
        .where(*conds, Application.status == S.REFUNDED.value)
        .where(Application.refund_date.is_not(None))
        .group_by(day, Application.refund_date)
    ).all()
    histogram: dict[int, int] = {}
    for applied, paid, n in pairs:
        waited = max(0, calendar.between(_as_date(applied), _as_date(paid)))
        histogram[waited] = histogram.get(waited, 0) + int(n)

    # Waited more than 30 working days by today: submitted on or before this day.
    latest = calendar.latest_start(today, STATUTORY_REVIEW_WORKING_DAYS + 1)
    overdue = session.execute(
        select(count).where(
            *conds,
            Application.status == S.PENDING_REVIEW.value,
            Application.created_at < china_midnight(latest + timedelta(days=1)),
        )
    ).scalar_one()

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
