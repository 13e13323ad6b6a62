"""Rules for money (sirefund.domain.money): integer fen inside, two-decimal yuan outside."""

from __future__ import annotations

import re
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
        (" 1350.00 ", 135000),
        ("0", 0),
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


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("100,50", "money.grouping"),  # once read as 10,050.00 yuan
        ("1,350.00", "money.grouping"),
        ("1，350", "money.grouping"),
        ("1_000", "money.grouping"),
        ("１００", "money.digits"),  # full-width
        ("١٠٠", "money.digits"),  # Arabic-Indic
        ("१००.५०", "money.digits"),  # Devanagari
        ("-0.05", "money.negative"),
        ("－5", "money.negative"),
        ("+5", "money.invalid"),
        ("5\n0", "money.invalid"),
        ("1 000", "money.invalid"),
        ("Infinity", "money.invalid"),
        ("NaN", "money.invalid"),
    ],
)
def test_only_plain_ascii_digits_with_a_point_are_money(text: str, code: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_yuan(text)
    assert exc.value.code == code


def test_negative_int_and_non_finite_decimal_are_refused() -> None:
    for value in (-1, Decimal("-0.01"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(Invalid):
            parse_yuan(value)


# --------------------------------------------------------------------------- properties

_ASCII_YUAN = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?", re.ASCII)


@given(st.text(max_size=20))
def test_any_text_is_either_refused_or_exactly_the_ascii_grammar(text: str) -> None:
    try:
        fen = parse_yuan(text)
    except Invalid:
        assert not _ASCII_YUAN.fullmatch(text.strip())
    else:
        stripped = text.strip()
        assert _ASCII_YUAN.fullmatch(stripped)
        assert fen == int(Decimal(stripped) * 100)
        assert fen >= 0


@given(st.text(alphabet="0123456789.,", min_size=1, max_size=16))
def test_a_comma_anywhere_is_refused_never_read_as_grouping(text: str) -> None:
    if "," in text:
        with pytest.raises(Invalid) as exc:
            parse_yuan(text)
        assert exc.value.code == "money.grouping"


@given(
    st.integers(min_value=0, max_value=MAX_FEN),
    st.characters(categories=["Nd"]).filter(lambda c: not c.isascii()),
)
def test_a_digit_of_another_script_is_refused_wherever_it_stands(fen: int, digit: str) -> None:
    text = format_yuan(fen)
    for i in range(len(text) + 1):
        with pytest.raises(Invalid) as exc:
            parse_yuan(text[:i] + digit + text[i:])
        assert exc.value.code == "money.digits"


@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_a_negative_amount_is_refused(fen: int) -> None:
    with pytest.raises(Invalid) as exc:
        parse_yuan(format_yuan(-fen))
    assert exc.value.code == "money.negative"


@given(st.integers(min_value=0, max_value=MAX_FEN))
def test_parse_yuan_of_format_yuan_is_identity(fen: int) -> None:
    text = format_yuan(fen)
    assert parse_yuan(text) == fen
    # Always exactly two decimals outside.
    assert len(text.rsplit(".", 1)[1]) == 2
