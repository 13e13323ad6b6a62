"""Rules for money (sirefund.domain.money): integer fen inside, two-decimal yuan outside."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sirefund.domain.errors import Invalid
from sirefund.domain.money import format_yuan, parse_yuan

# parse_yuan accepts at most 13 integer digits of yuan.
MAX_FEN = 10**15 - 1


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("350", 35000),
        ("350.5", 35050),
        ("350.50", 35050),
        ("0.01", 1),
        (" 1,350.00 ", 135000),
        ("-0.05", -5),
    ],
)
def test_yuan_string_is_parsed_to_exact_fen(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


def test_int_and_decimal_yuan_are_parsed_to_fen() -> None:
    assert parse_yuan(350) == 35000
    assert parse_yuan(Decimal("350.25")) == 35025


@pytest.mark.parametrize("text", ["350.005", "0.001", "1.999"])
def test_amount_with_three_decimals_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_yuan(text)
    assert exc.value.code == "money.invalid"


@pytest.mark.parametrize("value", ["", "abc", "1e3", "350.", ".5", "1" * 14, True, 350.5])
def test_malformed_amount_is_refused(value: object) -> None:
    with pytest.raises(Invalid) as exc:
        parse_yuan(value)  # type: ignore[arg-type]
    assert exc.value.code == "money.invalid"


def test_refused_amount_names_the_given_field() -> None:
    with pytest.raises(Invalid) as exc:
        parse_yuan("x", field="refund_amount")
    assert exc.value.field == "refund_amount"


@pytest.mark.parametrize(
    ("fen", "text"),
    [(35000, "350.00"), (1, "0.01"), (0, "0.00"), (35050, "350.50"), (123456789, "1234567.89")],
)
def test_fen_is_formatted_as_two_decimal_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize(("fen", "text"), [(-5, "-0.05"), (-35000, "-350.00"), (-101, "-1.01")])
def test_negative_fen_is_formatted_with_a_leading_minus(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_parse_yuan_of_format_yuan_is_identity(fen: int) -> None:
    text = format_yuan(fen)
    assert parse_yuan(text) == fen
    # Always exactly two decimals outside.
    assert len(text.rsplit(".", 1)[1]) == 2
