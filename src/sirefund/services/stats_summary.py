"""统计分析's summary tables: what they hold, how they are rebuilt, and the calendar they use.

``stats_cells`` (count and amount per county, China month, status, kind and channel) and
``stats_refund_days`` (refunded applications per county and China month by working days
waited) are kept by database triggers on ``applications`` (migration 0016_stats_summary), in
the transaction of every insert, update and delete: no code path, bulk load or hand-written
UPDATE can leave them behind. The triggers count working days as the difference of two
``stats_working_days.ordinal`` values (domain.calendar ``WorkingDays.ordinal``), so that
table must follow the calendar: :func:`calendar_changed` (called by services/holidays.py when
an officer sets or removes a day) refreshes it and recounts the histogram, and :func:`rebuild`
(`sirefund stats rebuild`, e.g. after the chinesecalendar package learnt a new year)
recomputes all three from the applications. :func:`differences` compares the summary with
the live aggregate (`sirefund stats check`). Functions take the caller's session and never
commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from ..domain.calendar import WorkingDays
from ..models import StatsCell, StatsRefundDays, StatsWorkingDay

#: The days ``stats_working_days`` covers; a refund applied or paid outside is not in the
#: histogram (nor in the percentiles).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_BATCH = 5000

# China month and China day of ``applications.created_at`` (stored in UTC), per dialect.
_MONTH = {
    "sqlite": "strftime('%Y-%m', a.created_at, '+8 hours')",
    "postgresql": "to_char(a.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')",
}
_DAY = {
    "sqlite": "date(a.created_at, '+8 hours')",
    "postgresql": "CAST(a.created_at AT TIME ZONE 'Asia/Shanghai' AS date)",
}
_AT_LEAST_0 = {"sqlite": "max(0, {})", "postgresql": "GREATEST(0, {})"}


@dataclass(frozen=True, slots=True)
class Rebuilt:
    cells: int
    refund_days: int
    working_days_changed: int


@dataclass(frozen=True, slots=True)
class Difference:
    """One summary cell that is not the live aggregate: (table, key, summary, live)."""

    table: str
    key: tuple[str, ...]
    summary: tuple[int, ...]
    live: tuple[int, ...]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def cells_sql(dialect: str) -> str:
    """The live aggregate stats_cells holds (also the rebuild's SELECT)."""
    month = _MONTH[dialect]
    return (
        f"SELECT a.region_code, {month}, a.status, a.kind, a.channel, count(*), "
        "sum(a.amount_fen) FROM applications a "
        f"GROUP BY a.region_code, {month}, a.status, a.kind, a.channel"
    )


def refund_days_sql(dialect: str) -> str:
    """The live aggregate stats_refund_days holds (also the rebuild's SELECT)."""
    month, day = _MONTH[dialect], _DAY[dialect]
    waited = _AT_LEAST_0[dialect].format("p.ordinal - s.ordinal")
    return (
        f"SELECT a.region_code, {month}, {waited}, count(*) FROM applications a "
        f"JOIN stats_working_days s ON s.day = {day} "
        "JOIN stats_working_days p ON p.day = a.refund_date "
        f"WHERE a.status = 'refunded' GROUP BY a.region_code, {month}, {waited}"
    )


def refresh_working_days(session: Session, calendar: WorkingDays) -> int:
    """Make ``stats_working_days`` the calendar's ordinals; how many days changed."""
    stored = dict(session.execute(select(StatsWorkingDay.day, StatsWorkingDay.ordinal)).all())
    changed, missing = [], []
    day = FIRST_DAY
    while day <= LAST_DAY:
        ordinal = calendar.ordinal(day)
        old = stored.get(day)
        if old is None:
            missing.append({"day": day, "ordinal": ordinal})
        elif old != ordinal:
            changed.append((day, ordinal))
        day += timedelta(days=1)
    for first in range(0, len(missing), _BATCH):
        session.execute(insert(StatsWorkingDay), missing[first : first + _BATCH])
    if changed:
        # One UPDATE per run of days shifted by the same amount (an officer's day shifts
        # every later day by one): a handful of statements, not one per day.
        runs: list[tuple[date, date, int]] = []
        for day, ordinal in changed:
            shift = ordinal - stored[day]
            last = runs[-1] if runs else None
            if last and last[2] == shift and last[1] + timedelta(days=1) == day:
                runs[-1] = (last[0], day, shift)
            else:
                runs.append((day, day, shift))
        for start, end, shift in runs:
            session.execute(
                update(StatsWorkingDay)
                .where(StatsWorkingDay.day >= start, StatsWorkingDay.day <= end)
                .values(ordinal=StatsWorkingDay.ordinal + shift)
            )
    session.flush()
    return len(changed) + len(missing)


def _count(session: Session, table: type[StatsCell] | type[StatsRefundDays]) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def _recount_refund_days(session: Session) -> int:
    session.execute(delete(StatsRefundDays))
    session.execute(
        text(
            "INSERT INTO stats_refund_days (region_code, month, working_days, count) "
            + refund_days_sql(_dialect(session))
        )
    )
    return _count(session, StatsRefundDays)


def calendar_changed(session: Session, calendar: WorkingDays) -> None:
    """After an officer changed a day: the ordinals follow the calendar and, when any moved,
    the histogram is counted again with them (a scan of the refunded applications)."""
    if refresh_working_days(session, calendar):
        _recount_refund_days(session)


def rebuild(session: Session, calendar: WorkingDays) -> Rebuilt:
    """Recompute the three tables from the calendar and the applications."""
    changed = refresh_working_days(session, calendar)
    session.execute(delete(StatsCell))
    session.execute(
        text(
            "INSERT INTO stats_cells (region_code, month, status, kind, channel, count, "
            "amount_fen) " + cells_sql(_dialect(session))
        )
    )
    return Rebuilt(_count(session, StatsCell), _recount_refund_days(session), changed)


def differences(session: Session) -> list[Difference]:
    """Every summary cell (count 0 meaning absent) that differs from the live aggregate."""
    dialect = _dialect(session)
    found: list[Difference] = []
    for table, live_sql, summary in (
        (
            "stats_cells",
            cells_sql(dialect),
            select(
                StatsCell.region_code,
                StatsCell.month,
                StatsCell.status,
                StatsCell.kind,
                StatsCell.channel,
                StatsCell.count,
                StatsCell.amount_fen,
            ),
        ),
        (
            "stats_refund_days",
            refund_days_sql(dialect),
            select(
                StatsRefundDays.region_code,
                StatsRefundDays.month,
                StatsRefundDays.working_days,
                StatsRefundDays.count,
            ),
        ),
    ):
        width = len(summary.selected_columns)
        keys = width - (2 if table == "stats_cells" else 1)

        def split(
            values: Sequence[Any], keys: int = keys
        ) -> tuple[tuple[str, ...], tuple[int, ...]]:
            return tuple(str(v) for v in values[:keys]), tuple(int(v) for v in values[keys:])

        live = dict(split(r) for r in session.execute(text(live_sql)))
        kept = {k: v for k, v in (split(r) for r in session.execute(summary)) if any(v)}
        for key in sorted(live.keys() | kept.keys()):
            zero = (0,) * (width - keys)
            if live.get(key, zero) != kept.get(key, zero):
                found.append(Difference(table, key, kept.get(key, zero), live.get(key, zero)))
    return found
