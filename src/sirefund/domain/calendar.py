"""Working days, for the statutory review period (法定30个工作日).

Pure arithmetic over dates; no clock reads, no I/O. A :class:`WorkingDays` knows which days
are working days: Monday to Friday, except the days it is given as exceptions -- China's
statutory holidays on weekdays (not working) and the weekend days declared working days in
exchange (调休, working). The exceptions come from outside (services/holidays.py: the
``chinesecalendar`` package and the officers' own table); :data:`WEEKENDS_ONLY` has none.

Counting is O(log n) in the number of exceptions: the weekdays between two dates by
arithmetic, corrected by the exceptions in between (found by bisection).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import date, timedelta

#: Working days the tax office has to review an application.
STATUTORY_REVIEW_WORKING_DAYS = 30
#: Days of a week, and how many of them (Monday to Friday) are working days.
_WEEK_DAYS, _WORKING_DAYS_PER_WEEK = 7, 5
_ONE_DAY = timedelta(days=1)


def _weekdays_before(day: date) -> int:
    """Monday-to-Friday days from 0001-01-01 (a Monday) up to, not including, `day`."""
    n = day.toordinal() - 1
    weeks, rest = divmod(n, _WEEK_DAYS)
    return weeks * _WORKING_DAYS_PER_WEEK + min(rest, _WORKING_DAYS_PER_WEEK)


def _is_weekday(day: date) -> bool:
    return day.weekday() < _WORKING_DAYS_PER_WEEK  # Monday is 0


class WorkingDays:
    """Which days are working days: weekdays, except ``exceptions`` (day -> is a working day).

    An exception that agrees with the weekday rule changes nothing and is dropped.
    """

    __slots__ = ("_days", "_extra", "_off")

    def __init__(self, exceptions: Mapping[date, bool] | None = None) -> None:
        days = {d: w for d, w in (exceptions or {}).items() if w != _is_weekday(d)}
        self._days = days
        # Weekend days that are working days; weekdays that are not.
        self._extra = sorted(d for d, w in days.items() if w)
        self._off = sorted(d for d, w in days.items() if not w)

    def overlaid(self, exceptions: Mapping[date, bool]) -> WorkingDays:
        """These days with ``exceptions`` on top (they win where both say something)."""
        merged: dict[date, bool] = {d: w for d, w in self._days.items()}
        merged.update(exceptions)
        return WorkingDays(merged)

    def is_working_day(self, day: date) -> bool:
        return self._days.get(day, _is_weekday(day))

    def _before(self, day: date) -> int:
        """Working days up to, not including, ``day`` (from an arbitrary origin)."""
        extra = bisect_right(self._extra, day - _ONE_DAY)
        off = bisect_right(self._off, day - _ONE_DAY)
        return _weekdays_before(day) + extra - off

    def ordinal(self, day: date) -> int:
        """Working days up to and including ``day``, from an arbitrary origin:
        ``between(start, end) == ordinal(end) - ordinal(start)``. Stored per day, it lets SQL
        count working days by a subtraction (services/stats_summary.py)."""
        return self._before(day + _ONE_DAY)

    def between(self, start: date, end: date) -> int:
        """Working days elapsed from ``start`` to ``end``: the working days in (start, end].

        The day of submission does not count, like a limitation period in days; submitted on
        Friday, the following Monday is 1 working day. ``end`` before ``start`` gives the
        negative of the reverse count, so the function is antisymmetric and never raises.
        """
        return self._before(end + _ONE_DAY) - self._before(start + _ONE_DAY)

    def add(self, start: date, days: int) -> date:
        """The date on which ``days`` working days after ``start`` have elapsed (days >= 0):
        ``between(start, add(start, n)) == n``, and the result is a working day for n > 0."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day, remaining = start, days
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def latest_start(self, end: date, days: int) -> date:
        """The latest day ``s`` with ``between(s, end) >= days``: an application submitted on
        ``s`` or before has waited at least ``days`` working days by ``end``."""
        day, counted = end, 0
        while counted < days:
            if self.is_working_day(day):
                counted += 1
            day -= _ONE_DAY
        return day


#: Weekends only: no holiday known.
WEEKENDS_ONLY = WorkingDays()


def is_working_day(day: date, calendar: WorkingDays = WEEKENDS_ONLY) -> bool:
    return calendar.is_working_day(day)


def working_days_between(start: date, end: date, calendar: WorkingDays = WEEKENDS_ONLY) -> int:
    """See :meth:`WorkingDays.between`."""
    return calendar.between(start, end)


def add_working_days(start: date, days: int, calendar: WorkingDays = WEEKENDS_ONLY) -> date:
    """See :meth:`WorkingDays.add`."""
    return calendar.add(start, days)
