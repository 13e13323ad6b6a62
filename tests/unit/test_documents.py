"""What the printed documents say: the 文书号 format, 大写金额 and the issuing 税务机关
(domain/documents.py)."""

from __future__ import annotations

import pytest

from sirefund.domain.documents import (
    DOCUMENT_NO,
    amount_in_capitals,
    document_no,
    tax_bureau_name,
)


def test_a_document_number_is_year_region_and_a_six_digit_sequence():
    assert document_no(year=2026, region_code="420703", sequence=1) == "鄂税退〔2026〕420703-000001"
    assert document_no(year=2027, region_code="429004", sequence=123456) == (
        "鄂税退〔2027〕429004-123456"
    )
    match = DOCUMENT_NO.fullmatch(document_no(year=2026, region_code="420703", sequence=42))
    assert match is not None and match.groups() == ("2026", "420703", "000042")


@pytest.mark.parametrize(
    ("year", "region", "sequence"),
    [
        (2026, "42070", 1),  # five digits
        (2026, "42070X", 1),
        (2026, "４２０７０３", 1),  # full-width digits are not ASCII
        (2026, "420703", 0),  # sequences start at 1
        (2026, "420703", 1_000_000),  # seven digits do not fit
        (999, "420703", 1),
    ],
)
def test_a_document_number_refuses_what_its_format_cannot_hold(year, region, sequence):
    with pytest.raises(ValueError):
        document_no(year=year, region_code=region, sequence=sequence)


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "零元整"),
        (1, "壹分"),
        (50, "伍角整"),
        (100, "壹元整"),
        (105, "壹元零伍分"),
        (1000, "壹拾元整"),
        (35050, "叁佰伍拾元伍角整"),
        (70000, "柒佰元整"),
        (100100, "壹仟零壹元整"),
        (101000, "壹仟零壹拾元整"),
        (168032, "壹仟陆佰捌拾元叁角贰分"),
        (1050000, "壹万零伍佰元整"),
        (6200000, "陆万贰仟元整"),
        (10010000, "壹拾万零壹佰元整"),
        (100000000, "壹佰万元整"),
        (2000000500, "贰仟万零伍元整"),
        (10000000000, "壹亿元整"),
        (10000000100, "壹亿零壹元整"),
        (10001000000, "壹亿零壹万元整"),
    ],
)
def test_amounts_in_capitals_follow_the_banks_writing_rules(fen, words):
    assert amount_in_capitals(fen) == words


def test_a_negative_amount_has_no_capitals():
    with pytest.raises(ValueError):
        amount_in_capitals(-1)


@pytest.mark.parametrize(
    ("region", "bureau"),
    [
        ("420703", "国家税务总局鄂州市华容区税务局"),
        ("420102", "国家税务总局武汉市江岸区税务局"),
        ("420700", "国家税务总局鄂州市税务局"),
        ("429004", "国家税务总局仙桃市税务局"),
        ("420000", "国家税务总局湖北省税务局"),
        ("110101", "国家税务总局湖北省税务局"),  # not a Hubei division: the province's
    ],
)
def test_the_issuing_tax_bureau_is_the_payers_county_bureau(region, bureau):
    assert tax_bureau_name(region) == bureau
