"""Working days as published: China's statutory holidays and 调休 make-up working days.

Two sources, the officers' first: the ``calendar_days`` table (an officer sets a day with
``sirefund holidays add``, for a year the package does not know yet, or to correct it), then
the ``chinesecalendar`` package (the State Council's notices, kept up to date by its
maintainers; :func:`package_years` says which years it knows). A year neither knows counts
weekends only. :func:`working_days` gives the pure :class:`~sirefund.domain.calendar.WorkingDays`
the review clock counts with. Setting or removing a day also brings 统计分析's working-day
table and histogram in line (services/stats_summary.py). Functions take the caller's session
and never commit.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from chinese_calendar import constants as published
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.calendar import WorkingDays
from ..domain.errors import Invalid
from ..models import CalendarDay
from . import stats_summary

#: The package's holiday names, in the manual's Chinese.
HOLIDAY_LABELS = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
LABEL_MAX = 40


@lru_cache(maxsize=1)
def _published() -> dict[date, tuple[bool, str]]:
    days: dict[date, tuple[bool, str]] = {}
    for day, name in published.holidays.items():
        days[day] = (False, HOLIDAY_LABELS.get(name, name))
    for day, name in published.workdays.items():
        days[day] = (True, f"{HOLIDAY_LABELS.get(name, name)}调休上班")
    return days


@lru_cache(maxsize=1)
def published_working_days() -> WorkingDays:
    """The package's days alone (no table)."""
    return WorkingDays({d: w for d, (w, _label) in _published().items()})


def package_years() -> tuple[int, int]:
    """The first and last year the chinesecalendar package knows."""
    years = [d.year for d in _published()]
    return min(years), max(years)


def working_days(session: Session) -> WorkingDays:
    """The calendar to count with: the officers' table over the package's days.

    The table is read every time (a few rows), so a day an officer sets, in this process or
    another, counts from the next transaction on; the calendar built from those rows is
    kept per process, by the rows themselves (a changed table is a new key)."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    return _overlaid(tuple(sorted((day, bool(w)) for day, w in rows)))


@lru_cache(maxsize=16)
def _overlaid(table: tuple[tuple[date, bool], ...]) -> WorkingDays:
    """The package's days with ``table`` on top (WorkingDays is never changed once built)."""
    return published_working_days().overlaid(dict(table))


class CalendarDayIn(BaseModel):
    """One day set by an officer: whether it is a working day, and why (节日名称)."""

    model_config = ConfigDict(frozen=True)

    day: date
    is_workday: bool
    label: str = Field(min_length=1, max_length=LABEL_MAX)

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: object) -> object:
        text = value.strip() if isinstance(value, str) else value
        if not text:
            raise Invalid("calendar.label", "请填写说明（如：春节、国庆节调休上班）", "label")
        if isinstance(text, str) and (len(text) > LABEL_MAX or not text.isprintable()):
            raise Invalid("calendar.label", f"说明不能超过{LABEL_MAX}个字符或含控制字符", "label")
        return text


class CalendarDayView(BaseModel):
    day: date
    is_workday: bool
    label: str
    #: "table" (set by an officer) or "package" (chinesecalendar).
    source: str
    changed_by: str | None = None
    changed_at: datetime | None = None


def set_day(
    session: Session, data: CalendarDayIn, *, changed_by: str, at: datetime
) -> CalendarDayView:
    """Set (or replace) one day in the officers' table."""
    row = session.get(CalendarDay, data.day)
    if row is None:
        row = CalendarDay(day=data.day)
        session.add(row)
    row.is_workday, row.label = data.is_workday, data.label
    row.changed_by, row.changed_at = changed_by, at
    session.flush()
    stats_summary.calendar_changed(session, working_days(session))
    return _view(row)


def remove_day(session: Session, day: date) -> bool:
    """Remove one day from the officers' table; False when it held none."""
    row = session.get(CalendarDay, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    stats_summary.calendar_changed(session, working_days(session))
    return True


def _view(row: CalendarDay) -> CalendarDayView:
    return CalendarDayView(
        day=row.day,
        is_workday=row.is_workday,
        label=row.label,
        source="table",
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


def list_days(session: Session, year: int) -> list[CalendarDayView]:
    """The year's holidays and make-up working days, by date: the table's entries, and the
    package's where the table says nothing."""
    table = {
        row.day: _view(row)
        for row in session.scalars(
            select(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
            )
        )
    }
    for day, (is_workday, label) in _published().items():
        if day.year == year and day not in table:
            table[day] = CalendarDayView(
                day=day, is_workday=is_workday, label=label, source="package"
            )
    return [table[d] for d in sorted(table)]
