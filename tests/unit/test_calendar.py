"""Working days for the statutory 30-working-day review period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sirefund.domain.calendar import (
    STATUTORY_REVIEW_WORKING_DAYS,
    add_working_days,
    is_working_day,
    working_days_between,
)

# 2026-03-09 is a Monday.
MON = date(2026, 3, 9)
FRI = date(2026, 3, 13)
SAT = date(2026, 3, 14)
SUN = date(2026, 3, 15)
NEXT_MON = date(2026, 3, 16)

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


def _slow_count(start: date, end: date) -> int:
    """The definition, counted day by day: weekdays in (start, end]."""
    day, n = start, 0
    while day < end:
        day += timedelta(days=1)
        n += day.weekday() < 5
    return n


def test_the_day_of_submission_itself_is_zero_working_days():
    assert working_days_between(MON, MON) == 0
    assert working_days_between(SAT, SAT) == 0


def test_a_weekday_to_the_next_weekday_is_one_working_day():
    assert working_days_between(MON, MON + timedelta(days=1)) == 1


def test_weekends_are_not_counted():
    assert working_days_between(FRI, SAT) == 0
    assert working_days_between(FRI, SUN) == 0
    assert working_days_between(FRI, NEXT_MON) == 1
    assert working_days_between(SAT, NEXT_MON) == 1


def test_a_full_calendar_week_is_five_working_days():
    assert working_days_between(MON, NEXT_MON) == 5
    assert working_days_between(SAT, SAT + timedelta(days=7)) == 5


def test_six_calendar_weeks_are_the_statutory_thirty_working_days():
    assert working_days_between(MON, MON + timedelta(weeks=6)) == STATUTORY_REVIEW_WORKING_DAYS


def test_a_span_across_a_year_end_counts_weekdays_only():
    # 2025-12-31 is a Wednesday; Thu 1 Jan, Fri 2 Jan, Mon 5 Jan.
    assert working_days_between(date(2025, 12, 31), date(2026, 1, 5)) == 3


def test_reversed_dates_give_the_negative_count():
    assert working_days_between(NEXT_MON, FRI) == -1


@given(dates, dates)
def test_matches_counting_day_by_day(a: date, b: date):
    start, end = min(a, b), max(a, b)
    if (end - start).days > 800:
        end = start + timedelta(days=800)
    assert working_days_between(start, end) == _slow_count(start, end)
    assert working_days_between(end, start) == -_slow_count(start, end)


@given(dates, st.integers(min_value=0, max_value=400))
def test_adding_n_working_days_lands_n_working_days_later_on_a_working_day(start: date, n: int):
    due = add_working_days(start, n)
    assert working_days_between(start, due) == n
    if n > 0:
        assert is_working_day(due)
        # ...and it is the first such day: the day before has fewer.
        assert working_days_between(start, due - timedelta(days=1)) == n - 1


def test_thirty_working_days_after_a_friday_submission_is_a_friday_six_weeks_on():
    assert add_working_days(FRI, 30) == FRI + timedelta(weeks=6)


def test_adding_negative_working_days_is_refused():
    with pytest.raises(ValueError):
        add_working_days(MON, -1)


# --------------------------------------------------------------------------- holidays

from sirefund.domain.calendar import WorkingDays  # noqa: E402
from sirefund.services.holidays import package_years, published_working_days  # noqa: E402

CHINA = published_working_days()


def test_the_package_knows_the_years_up_to_the_current_one():
    first, last = package_years()
    assert first <= 2020 and last >= 2026


def test_national_day_week_2026_is_off_and_its_two_tiaoxiu_weekend_days_are_worked():
    # 1-7 Oct 2026 (Thursday to Wednesday) off; Sunday 20 Sept and Saturday 10 Oct worked.
    assert not any(CHINA.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert CHINA.is_working_day(date(2026, 9, 20)) and CHINA.is_working_day(date(2026, 10, 10))
    # Submitted Wednesday 30 Sept: by Friday 9 Oct only the 8th and 9th were worked.
    assert CHINA.between(date(2026, 9, 30), date(2026, 10, 9)) == 2
    # Friday 25 Sept to Monday 12 Oct: 28-30 Sept, 8-9 Oct, Saturday 10 Oct, 12 Oct.
    assert CHINA.between(date(2026, 9, 25), date(2026, 10, 12)) == 7
    assert working_days_between(date(2026, 9, 25), date(2026, 10, 12)) == 11  # weekends only


def test_spring_festival_2026_counts_its_tiaoxiu_saturdays_as_working_days():
    # 15-23 Feb 2026 off (six weekdays among them); Saturdays 14 and 28 Feb worked.
    assert CHINA.is_working_day(date(2026, 2, 14)) and CHINA.is_working_day(date(2026, 2, 28))
    assert not CHINA.is_working_day(date(2026, 2, 16))
    assert CHINA.between(date(2026, 2, 13), date(2026, 2, 14)) == 1  # a Friday to a Saturday
    assert CHINA.between(date(2026, 2, 13), date(2026, 3, 2)) == 7  # 14, 24-27, 28 Feb, 2 Mar
    # Thirty working days from Friday 6 Feb reach past the festival to Thursday 26 March
    # (weekends only: 20 March).
    assert CHINA.add(date(2026, 2, 6), 30) == date(2026, 3, 26)
    assert add_working_days(date(2026, 2, 6), 30) == date(2026, 3, 20)


def test_exceptions_on_top_of_the_package_win():
    extra_day_off = CHINA.overlaid({date(2026, 10, 9): False, date(2026, 10, 10): False})
    assert extra_day_off.between(date(2026, 9, 30), date(2026, 10, 12)) == 2


holiday_sets = st.dictionaries(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)), st.booleans(), max_size=40
)


@given(
    holiday_sets,
    st.dates(date(2025, 12, 1), date(2027, 1, 31)),
    st.dates(date(2025, 12, 1), date(2027, 1, 31)),
)
def test_counting_with_holidays_agrees_with_counting_day_by_day(exceptions, start, end):
    cal = WorkingDays(exceptions)
    lo, hi = sorted((start, end))
    n, day = 0, lo
    while day < hi:
        day += timedelta(days=1)
        n += cal.is_working_day(day)
    assert cal.between(lo, hi) == n and cal.between(hi, lo) == -n


@given(holiday_sets, st.dates(date(2026, 1, 1), date(2026, 12, 31)), st.integers(0, 40))
def test_add_and_latest_start_invert_between(exceptions, start, days):
    cal = WorkingDays(exceptions)
    end = cal.add(start, days)
    assert cal.between(start, end) == days
    latest = cal.latest_start(start, days)
    assert cal.between(latest, start) >= days
    assert cal.between(latest + timedelta(days=1), start) < days or days == 0
