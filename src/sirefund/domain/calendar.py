"""Working days, for the statutory review period (法定30个工作日).

Pure arithmetic over dates; no clock reads.

Only weekends are excluded. China's public holidays and the weekend days declared working
days in exchange (调休) are published each year by the State Council and are not modelled
here, so a count that spans a holiday week overstates the days elapsed by those holidays —
the safe side for an officer watching a deadline.
"""

from __future__ import annotations

from datetime import date, timedelta

#: Working days the tax office has to review an application.
STATUTORY_REVIEW_WORKING_DAYS = 30
#: Days of a week, and how many of them (Monday to Friday) are working days.
_WEEK_DAYS, _WORKING_DAYS_PER_WEEK = 7, 5


def _weekdays_before(day: date) -> int:
    """Monday-to-Friday days from 0001-01-01 (a Monday) up to, not including, `day`."""
    n = day.toordinal() - 1
    weeks, rest = divmod(n, _WEEK_DAYS)
    return weeks * _WORKING_DAYS_PER_WEEK + min(rest, _WORKING_DAYS_PER_WEEK)


def is_working_day(day: date) -> bool:
    return day.weekday() < _WORKING_DAYS_PER_WEEK  # Monday is 0


def working_days_between(start: date, end: date) -> int:
    """Working days elapsed from `start` to `end`: the weekdays in (start, end].

    The day of submission does not count, like a limitation period in days; submitted on
    Friday, the following Monday is 1 working day. `end` before `start` gives the negative
    of the reverse count, so the function is antisymmetric and never raises.
    """
    return _weekdays_before(end + timedelta(days=1)) - _weekdays_before(start + timedelta(days=1))


def add_working_days(start: date, days: int) -> date:
    """The date on which `days` working days after `start` have elapsed (days >= 0).

    `working_days_between(start, add_working_days(start, n)) == n`, and the result is a
    working day for n > 0.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    if days == 0:
        return start
    weeks, rest = divmod(days - 1, 5)
    day = start + timedelta(weeks=weeks)
    # Walk the remaining 1..5 working days one calendar day at a time.
    remaining = rest + 1
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
