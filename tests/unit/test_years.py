"""Rules for insurance years (sirefund.domain.years)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sirefund.domain.errors import Invalid
from sirefund.domain.years import (
    MIN_MEDICAL_INSURANCE_YEAR,
    check_medical_insurance_year,
    insurance_year,
    insurance_year_of_period,
)


def test_date_in_september_belongs_to_next_insurance_year() -> None:
    assert insurance_year(date(2024, 9, 1)) == 2025
    assert insurance_year(date(2024, 9, 30)) == 2025


def test_date_on_31_august_belongs_to_same_insurance_year() -> None:
    assert insurance_year(date(2024, 8, 31)) == 2024


def test_dates_from_january_to_august_belong_to_same_insurance_year() -> None:
    assert insurance_year(date(2024, 1, 1)) == 2024
    assert insurance_year(date(2024, 6, 15)) == 2024


def test_december_belongs_to_next_insurance_year() -> None:
    assert insurance_year(date(2023, 12, 31)) == 2024


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_insurance_year_y_runs_from_1_september_of_y_minus_1_to_31_august_of_y(on: date) -> None:
    year = insurance_year(on)
    assert date(year - 1, 9, 1) <= on <= date(year, 8, 31)


def test_insurance_year_of_calendar_year_period_is_that_year() -> None:
    assert insurance_year_of_period(date(2024, 1, 1), date(2024, 12, 31)) == 2024


def test_insurance_year_of_collection_aligned_period_is_year_of_period_end() -> None:
    assert insurance_year_of_period(date(2023, 9, 1), date(2024, 8, 31)) == 2024


def test_insurance_year_of_period_ignores_payment_date() -> None:
    # A late payment (October 2024) for 2024's coverage still belongs to 2024.
    assert insurance_year(date(2024, 10, 8)) == 2025
    assert insurance_year_of_period(date(2024, 1, 1), date(2024, 12, 31)) == 2024


def test_period_starting_after_it_ends_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        insurance_year_of_period(date(2024, 12, 31), date(2024, 1, 1))
    assert exc.value.code == "period.invalid"


def test_minimum_medical_insurance_year_is_2023() -> None:
    assert MIN_MEDICAL_INSURANCE_YEAR == 2023


@pytest.mark.parametrize("year", [2023, 2024, 2100])
def test_insurance_years_from_2023_are_supported(year: int) -> None:
    assert check_medical_insurance_year(year) == year


@pytest.mark.parametrize("year", [2022, 2000, 1900])
def test_insurance_years_before_2023_are_refused_as_unsupported(year: int) -> None:
    with pytest.raises(Invalid) as exc:
        check_medical_insurance_year(year)
    assert exc.value.code == "medical.year_unsupported"
    assert exc.value.message == "仅支持2023年及以后参保年度的退费"
    assert exc.value.field == "insurance_year"


@pytest.mark.parametrize("year", [1899, 2101, 0, -2024, 99999, True])
def test_implausible_insurance_years_are_refused_as_invalid(year: int) -> None:
    with pytest.raises(Invalid) as exc:
        check_medical_insurance_year(year)
    assert exc.value.code == "medical.year_invalid"
    assert exc.value.field == "insurance_year"
