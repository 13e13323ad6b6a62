"""Import row parsing without a database: each field parser, and each kind's validation of one
row into the values it loads (sirefund.imports.fields and .kinds)."""

from __future__ import annotations

from datetime import date

import pytest

from sirefund.domain.errors import Invalid
from sirefund.generate import FILES
from sirefund.imports import KINDS
from sirefund.imports import fields as f
from sirefund.imports.kinds import (
    MedicalPayments,
    MedicalRegistrations,
    PensionPayments,
    UnitPaymentPersons,
    UnitPayments,
    new_context,
)
from tests.factories import resident_id

TODAY = date(2026, 3, 10)
ID_A = resident_id("420703", "19580312", 11)


def _error(call: object, *args: object, **kw: object) -> tuple[str, str | None]:
    assert callable(call)
    with pytest.raises(Invalid) as caught:
        call(*args, **kw)
    return caught.value.code, caught.value.field


# --------------------------------------------------------------------------- field parsers


@pytest.mark.parametrize("text", ["2024-02-29", "2025-12-31", "1900-01-01"])
def test_a_real_iso_date_is_kept_as_its_text(text: str) -> None:
    assert f.iso_date(text, "payment_date") == text


@pytest.mark.parametrize(
    "text",
    ["2023-02-29", "2025-13-01", "20250101", "2025-1-01", "２０２５-01-01", "", "2025/01/01"],
)
def test_anything_but_a_real_yyyy_mm_dd_date_is_refused_naming_its_column(text: str) -> None:
    assert _error(f.iso_date, text, "payment_date") == ("date.invalid", "payment_date")


def test_yuan_amounts_become_fen() -> None:
    assert f.fen("350", "amount") == 35000
    assert f.fen("350.5", "amount") == 35050
    assert f.fen("0.01", "amount") == 1


def test_an_amount_with_three_decimals_is_refused_with_the_money_code() -> None:
    assert _error(f.fen, "1.234", "medical_amount") == ("money.invalid", "medical_amount")


def test_a_zero_amount_is_refused_unless_zero_is_allowed() -> None:
    assert _error(f.fen, "0", "amount") == ("amount.not_positive", "amount")
    assert f.fen("0", "ltc_amount", positive=False) == 0
    assert f.fen("", "ltc_amount", positive=False, empty_is_zero=True) == 0
    assert _error(f.fen, "-1", "ltc_amount", positive=False) == ("amount.negative", "ltc_amount")


def test_integers_must_be_ascii_digits_within_their_range() -> None:
    assert f.integer("12", "payment_month", f.MONTH_MIN, f.MONTH_MAX) == 12
    for text in ("13", "0", "-1", "1.0", "１"):
        assert _error(f.integer, text, "payment_month", f.MONTH_MIN, f.MONTH_MAX) == (
            "import.number",
            "payment_month",
        )


def test_a_payment_year_outside_1900_to_2100_is_no_year() -> None:
    assert f.year_or_none("2025") == 2025
    assert f.year_or_none("1899") is None
    assert f.year_or_none("2101") is None
    assert f.year_or_none("20x5") is None


def test_a_region_code_is_six_ascii_digits() -> None:
    assert f.region("420703") == "420703"
    for text in ("42070", "4207030", "42070a", "４２０７０３"):
        assert _error(f.region, text) == ("region.format", "region_code")


def test_a_period_may_not_start_after_it_ends() -> None:
    assert f.period("2025-01-01", "2025-01-01") == ("2025-01-01", "2025-01-01")
    assert _error(f.period, "2025-12-31", "2025-01-01") == ("period.invalid", "period_start")
    assert _error(f.period, "2025-01-01", "2025-02-30") == ("date.invalid", "period_end")


def test_a_tax_id_is_upper_cased_and_15_to_20_letters_or_digits() -> None:
    assert f.tax_id("54420703mec100012g") == "54420703MEC100012G"
    for text in ("12345678901234", "123456789012345678901", "5442070-MEC100012G"):
        assert _error(f.tax_id, text) == ("unit.tax_id_format", "unit_tax_id")


def test_required_text_is_present_and_not_too_long() -> None:
    assert f.required("PP1", "payment_id", f.ID_MAX) == "PP1"
    assert _error(f.required, "", "payment_id", f.ID_MAX) == ("import.required", "payment_id")
    assert _error(f.required, "P" * 41, "payment_id", f.ID_MAX) == (
        "import.too_long",
        "payment_id",
    )


# --------------------------------------------------------------------------- kinds


def test_the_generator_writes_the_columns_each_kind_reads() -> None:
    assert list(KINDS) == list(FILES)
    for name, kind in KINDS.items():
        assert kind.columns == FILES[name][1]


def _pension_row(**change: str) -> list[str]:
    row = {
        "payment_id": "PP1",
        "id_number": ID_A,
        "name": "邱世贵",
        "region_code": "420703",
        "amount": "700.00",
        "period_start": "2021-10-31",
        "period_end": "2025-10-31",
        "payment_year": "2025",
        "payment_date": "2025-10-31",
        "channel": "楚税通",
        "arrival_status": "not_arrived",
    } | change
    return [row[c] for c in PensionPayments.columns]


def test_a_pension_row_becomes_fen_and_an_integer_year() -> None:
    rec = PensionPayments().prepare(_pension_row(), new_context(TODAY))
    assert rec == (
        "PP1",
        ID_A,
        "邱世贵",
        "420703",
        70000,
        "2021-10-31",
        "2025-10-31",
        2025,
        "2025-10-31",
        "楚税通",
        "not_arrived",
    )


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"arrival_status": "paid"}, "arrival_status.unknown", "arrival_status"),
        ({"payment_id": "P" * 41}, "import.too_long", "payment_id"),
        ({"channel": ""}, "import.required", "channel"),
        ({"period_start": "2026-01-01"}, "period.invalid", "period_start"),
        ({"payment_date": "2025-02-30"}, "date.invalid", "payment_date"),
        ({"amount": "0.00"}, "amount.not_positive", "amount"),
        ({"region_code": "4207"}, "region.format", "region_code"),
        ({"payment_year": "1899"}, "import.number", "payment_year"),
        (
            {"id_number": ID_A[:17] + ("0" if ID_A[17] != "0" else "1")},
            "id_number.check_digit",
            "id_number",
        ),
        ({"name": ""}, "name.required", "name"),
    ],
)
def test_a_bad_pension_row_is_refused_with_the_code_and_column_of_its_first_fault(
    change: dict[str, str], code: str, field: str
) -> None:
    assert _error(PensionPayments().prepare, _pension_row(**change), new_context(TODAY)) == (
        code,
        field,
    )


def test_a_registration_row_keeps_its_agency_and_region() -> None:
    row = ["MR1", ID_A, "邱世贵", "420703", "H42070300001", "华容区医疗保障局", "420703000001"]
    assert MedicalRegistrations().prepare(row, new_context(TODAY)) == (
        "MR1",
        ID_A,
        "邱世贵",
        "420703",
        "H42070300001",
        "华容区医疗保障局",
        "420703000001",
    )


def test_a_medical_payment_row_gets_the_insurance_year_of_its_period() -> None:
    row = ["MP1", "MR1", "342001", "城乡居民基本医疗保险费", "380.00", "", "2024-01-01",
           "2024-12-31", "2023-10-12", "楚税通"]  # fmt: skip
    rec = MedicalPayments().prepare(row, new_context(TODAY))
    assert rec[4:6] == (38000, 0)  # no long-term-care amount: 0
    assert rec[-1] == 2024


def test_a_unit_payment_row_upper_cases_its_tax_id_and_checks_its_type_and_month() -> None:
    row = ["UP1", "54420703mec100012g", "新庙村村民委员会", "420703000000", "420703",
           "collective_subsidy", "2025", "01", "1200.00", "2025-01-01", "2025-12-31", "电子税务局"]  # fmt: skip
    rec = UnitPayments().prepare(row, new_context(TODAY))
    assert rec[1] == "54420703MEC100012G"
    assert rec[6:9] == (2025, 1, 120000)
    bad_type = [*row[:5], "gift", *row[6:]]
    assert _error(UnitPayments().prepare, bad_type, new_context(TODAY)) == (
        "payment_type.unknown",
        "payment_type",
    )
    bad_month = [*row[:7], "13", *row[8:]]
    assert _error(UnitPayments().prepare, bad_month, new_context(TODAY)) == (
        "import.number",
        "payment_month",
    )


def test_a_person_line_row_checks_the_resident_id_and_amount() -> None:
    row = ["UP1", "UL1", ID_A, "邱世贵", "4207030000000001", "200.00"]
    assert UnitPaymentPersons().prepare(row, new_context(TODAY)) == (
        "UP1",
        "UL1",
        ID_A,
        "邱世贵",
        "4207030000000001",
        20000,
    )
    assert _error(UnitPaymentPersons().prepare, [*row[:5], "-5.00"], new_context(TODAY)) == (
        "amount.negative",
        "amount",
    )
