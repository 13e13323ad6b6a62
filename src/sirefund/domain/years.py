"""Insurance years (参保年度) of the residents' medical insurance.

Collection for insurance year Y runs from 1 September of Y-1 to 31 August of Y: in autumn
people pay for the coming calendar year's coverage. Pure functions; callers pass "today".
"""

from __future__ import annotations

from datetime import date

from .errors import Invalid

#: The earliest insurance year whose medical payments this system refunds (docs/domain.md).
MIN_MEDICAL_INSURANCE_YEAR = 2023

# Plausibility bounds: anything outside is a typo or a garbage parameter, not an old year.
_MIN_PLAUSIBLE_YEAR = 1900
_MAX_PLAUSIBLE_YEAR = 2100
#: The month an insurance year begins (September).
_FIRST_MONTH = 9


def insurance_year(on: date) -> int:
    """The insurance year a date falls in: 1 Sept of Y-1 .. 31 Aug of Y -> Y.

    ``2024-08-31`` -> 2024, ``2024-09-01`` -> 2025. The medical query defaults to
    ``insurance_year(today)``.
    """
    return on.year + 1 if on.month >= _FIRST_MONTH else on.year


def insurance_year_of_period(period_start: date, period_end: date) -> int:
    """The insurance year of a payment, from its coverage period (费款所属期起/止).

    It is the year of the coverage period, taken from ``period_end``. Why not the payment
    date: a payment for coverage 2024-01-01..2024-12-31 made on 2024-10-08 (late) falls in
    collection year 2025 by date, yet it pays for 2024. Why the end rather than the start:
    the calendar-year period (Jan..Dec of Y) and a period aligned to the collection year
    (Sept of Y-1 .. Aug of Y) both end in Y, while their starts fall in different years;
    ``period_end.year`` is right under either convention.

    Raises ``Invalid("period.invalid")`` when the period starts after it ends.
    """
    if period_start > period_end:
        raise Invalid("period.invalid", "费款所属期起不能晚于费款所属期止", "period")
    return period_end.year


def check_medical_insurance_year(year: int) -> int:
    """Return ``year`` if medical refunds are served for it, else raise ``Invalid``.

    * not an integer, before 1900 or after 2100: ``medical.year_invalid``;
    * before :data:`MIN_MEDICAL_INSURANCE_YEAR` (2023): ``medical.year_unsupported``.
    """
    # bool is an int subclass; True must not pass as the year 1.
    if isinstance(year, bool) or not isinstance(year, int):
        raise Invalid("medical.year_invalid", "参保年度不正确", "insurance_year")
    if year < _MIN_PLAUSIBLE_YEAR or year > _MAX_PLAUSIBLE_YEAR:
        raise Invalid("medical.year_invalid", "参保年度不正确", "insurance_year")
    if year < MIN_MEDICAL_INSURANCE_YEAR:
        raise Invalid(
            "medical.year_unsupported", "仅支持2023年及以后参保年度的退费", "insurance_year"
        )
    return year
