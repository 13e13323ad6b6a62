"""Rules for resident IDs, bank accounts, phones, names and masking (sirefund.domain.identity)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from sirefund.domain.errors import Invalid
from sirefund.domain.identity import (
    PROVINCE_CODES,
    check_bank_account,
    check_name,
    check_phone,
    check_resident_id,
    mask_account,
    mask_account_for_officer,
    mask_id_number,
    mask_id_number_for_officer,
    mask_phone,
    resident_id_birth_date,
    resident_id_region,
)

TODAY = date(2025, 3, 15)


def make_id(region: str = "420703", birth: str = "19500101", seq: str = "023") -> str:
    """A resident ID with a correct GB 11643 check digit.

    ric.calc_check_digit ignores the last character of what it is given, hence the "0".
    """
    body = region + birth + seq
    assert len(body) == 17
    return body + ric.calc_check_digit(body + "0")


def wrong_check_digit(id_number: str) -> str:
    right = id_number[17]
    wrong = "0" if right != "0" else "1"
    return id_number[:17] + wrong


def make_card(prefix: str = "622848", length: int = 19) -> str:
    """A card number of ``length`` digits passing Luhn."""
    body = prefix + "0" * (length - len(prefix) - 2) + "1"
    return body + luhn.calc_check_digit(body)


def luhn_broken(card: str) -> str:
    last = int(card[-1])
    return card[:-1] + str((last + 1) % 10)


def assert_invalid(exc: pytest.ExceptionInfo[Invalid], code: str, field: str) -> None:
    assert exc.value.code == code
    assert exc.value.field == field
    assert exc.value.message  # a Chinese message for people, never empty


# ---------------------------------------------------------------------------------------------
# Resident ID numbers
# ---------------------------------------------------------------------------------------------


def test_valid_id_is_accepted_and_returned_unchanged() -> None:
    id_number = make_id()
    assert check_resident_id(id_number, today=TODAY) == id_number


def test_id_with_county_code_younger_than_holder_is_accepted() -> None:
    # 华容区 (420703) was created decades after 1950; 18-digit IDs carry the code in force
    # when issued, so an elderly resident holds it. stdnum's validate refuses such numbers.
    id_number = make_id(region="420703", birth="19500101")
    # Documents why stdnum's validate must not be the verdict.
    with pytest.raises(ValidationError):
        ric.validate(id_number)
    assert check_resident_id(id_number, today=TODAY) == id_number


def test_id_spaces_are_removed_and_trailing_x_uppercased() -> None:
    id_number = make_id(seq="004")  # this sequence yields check digit X
    assert id_number.endswith("X")
    spaced = " " + id_number[:6] + " " + id_number[6:14] + " " + id_number[14:17] + "x "
    assert check_resident_id(spaced, today=TODAY) == id_number


@pytest.mark.parametrize("length", [15, 17, 19])
def test_id_not_18_characters_is_refused_as_format(length: int) -> None:
    value = (make_id() * 2)[:length]
    with pytest.raises(Invalid) as exc:
        check_resident_id(value, today=TODAY)
    assert_invalid(exc, "id_number.format", "id_number")


@pytest.mark.parametrize(
    "value",
    [
        "42070319500101A235",  # letter inside
        "X20703195001010235",  # X anywhere but last
        "４２０７０３１９５００１０１０２３５",  # full-width digits
        "",
    ],
)
def test_id_with_non_digit_characters_is_refused_as_format(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        check_resident_id(value, today=TODAY)
    assert_invalid(exc, "id_number.format", "id_number")


@pytest.mark.parametrize("prefix", ["00", "10", "20", "39", "66", "72", "83", "91", "99"])
def test_id_with_unknown_province_prefix_is_refused(prefix: str) -> None:
    id_number = make_id(region=prefix + "0703")
    with pytest.raises(Invalid) as exc:
        check_resident_id(id_number, today=TODAY)
    assert_invalid(exc, "id_number.province", "id_number")


@pytest.mark.parametrize("birth", ["19500230", "19501301", "19500100", "19000229", "00000101"])
def test_id_with_impossible_birth_date_is_refused(birth: str) -> None:
    id_number = make_id(birth=birth)
    with pytest.raises(Invalid) as exc:
        check_resident_id(id_number, today=TODAY)
    assert_invalid(exc, "id_number.birth_date", "id_number")


def test_id_born_after_today_is_refused_and_born_today_is_accepted() -> None:
    tomorrow = (TODAY + timedelta(days=1)).strftime("%Y%m%d")
    with pytest.raises(Invalid) as exc:
        check_resident_id(make_id(birth=tomorrow), today=TODAY)
    assert_invalid(exc, "id_number.birth_date", "id_number")
    born_today = make_id(birth=TODAY.strftime("%Y%m%d"))
    assert check_resident_id(born_today, today=TODAY) == born_today


def test_id_born_before_1900_is_refused_and_1900_01_01_is_accepted() -> None:
    with pytest.raises(Invalid) as exc:
        check_resident_id(make_id(birth="18991231"), today=TODAY)
    assert_invalid(exc, "id_number.birth_date", "id_number")
    oldest = make_id(birth="19000101")
    assert check_resident_id(oldest, today=TODAY) == oldest


def test_id_with_wrong_check_digit_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        check_resident_id(wrong_check_digit(make_id()), today=TODAY)
    assert_invalid(exc, "id_number.check_digit", "id_number")


def test_id_with_x_where_a_digit_is_due_is_refused_as_check_digit() -> None:
    id_number = make_id(seq="023")
    assert not id_number.endswith("X")
    with pytest.raises(Invalid) as exc:
        check_resident_id(id_number[:17] + "X", today=TODAY)
    assert_invalid(exc, "id_number.check_digit", "id_number")


def test_birth_date_and_region_are_read_from_the_id() -> None:
    id_number = make_id(region="420703", birth="19480817", seq="004")
    assert resident_id_birth_date(id_number) == date(1948, 8, 17)
    assert resident_id_birth_date(id_number.lower()) == date(1948, 8, 17)
    assert resident_id_region(id_number) == "420703"


def test_birth_date_and_region_refuse_malformed_ids() -> None:
    with pytest.raises(Invalid) as exc:
        resident_id_region("4207")
    assert_invalid(exc, "id_number.format", "id_number")
    with pytest.raises(Invalid) as exc:
        resident_id_birth_date(make_id(birth="19500230"))
    assert_invalid(exc, "id_number.birth_date", "id_number")


def test_province_codes_are_the_34_gbt2260_prefixes() -> None:
    expected = {"11", "12", "13", "14", "15", "21", "22", "23", "50", "51", "52", "53", "54"}
    expected |= {str(n) for n in range(31, 38)}
    expected |= {str(n) for n in range(41, 47)}
    expected |= {str(n) for n in range(61, 66)}
    expected |= {"71", "81", "82"}
    assert len(PROVINCE_CODES) == 34
    assert expected == PROVINCE_CODES


@given(
    province=st.sampled_from(sorted(PROVINCE_CODES)),
    rest_of_region=st.from_regex(r"[0-9]{4}", fullmatch=True),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    seq=st.from_regex(r"[0-9]{3}", fullmatch=True),
)
def test_every_well_formed_id_with_correct_check_digit_is_accepted(
    province: str, rest_of_region: str, birth: date, seq: str
) -> None:
    id_number = make_id(province + rest_of_region, birth.strftime("%Y%m%d"), seq)
    assert check_resident_id(id_number, today=TODAY) == id_number
    assert check_resident_id(id_number.lower(), today=TODAY) == id_number
    assert resident_id_birth_date(id_number) == birth
    with pytest.raises(Invalid) as exc:
        check_resident_id(wrong_check_digit(id_number), today=TODAY)
    assert exc.value.code == "id_number.check_digit"


# ---------------------------------------------------------------------------------------------
# Bank accounts
# ---------------------------------------------------------------------------------------------


def test_bank_account_spaces_are_removed() -> None:
    card = make_card()
    spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    assert check_bank_account(spaced) == card


@pytest.mark.parametrize(
    "value", ["12345", "1" * 33, "", "12345a789", "1234-5678", "１２３４５６７"]
)
def test_bank_account_not_6_to_32_digits_is_refused(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        check_bank_account(value)
    assert_invalid(exc, "bank_account.format", "bank_account_no")


@pytest.mark.parametrize("value", ["123456", "9" * 32])
def test_bank_account_of_6_and_32_digits_is_accepted(value: str) -> None:
    assert check_bank_account(value) == value


@pytest.mark.parametrize("length", [16, 17, 18, 19])
def test_unionpay_card_failing_luhn_is_refused_unless_confirmed(length: int) -> None:
    bad = luhn_broken(make_card(length=length))
    with pytest.raises(Invalid) as exc:
        check_bank_account(bad)
    assert_invalid(exc, "bank_account.luhn", "bank_account_no")
    assert check_bank_account(bad, confirmed=True) == bad


@pytest.mark.parametrize("length", [16, 19])
def test_unionpay_card_passing_luhn_is_accepted(length: int) -> None:
    card = make_card(length=length)
    assert check_bank_account(card) == card


@pytest.mark.parametrize(
    "value",
    [
        luhn_broken(make_card(prefix="43", length=16)),  # not a 62 card
        luhn_broken(make_card(prefix="62", length=15)),  # 62 but too short for a card
        luhn_broken(make_card(prefix="62", length=20)),  # 62 but too long: a passbook
    ],
)
def test_non_unionpay_account_is_not_luhn_checked(value: str) -> None:
    assert not luhn.is_valid(value)
    assert check_bank_account(value) == value


def test_bank_account_error_names_the_given_field() -> None:
    with pytest.raises(Invalid) as exc:
        check_bank_account("12", field="account_no")
    assert_invalid(exc, "bank_account.format", "account_no")


# ---------------------------------------------------------------------------------------------
# Phones and names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["13812341234", "19912341234", "027-87654321", "0710-1234567", "0716-12345678"]
)
def test_mobile_and_landline_phones_are_accepted(value: str) -> None:
    assert check_phone(value) == value


def test_phone_spaces_are_removed() -> None:
    assert check_phone(" 138 1234 1234 ") == "13812341234"


@pytest.mark.parametrize(
    "value",
    [
        "12812341234",  # second digit 2
        "1381234123",  # 10 digits
        "138123412345",  # 12 digits
        "02787654321",  # landline without hyphen
        "27-87654321",  # area code without 0
        "027-123456",  # 6-digit local number
        "027-123456789",  # 9-digit local number
        "",
    ],
)
def test_malformed_phone_is_refused(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        check_phone(value)
    assert_invalid(exc, "phone.format", "contact_phone")


def test_phone_error_names_the_given_field() -> None:
    with pytest.raises(Invalid) as exc:
        check_phone("x", field="handler_phone")
    assert_invalid(exc, "phone.format", "handler_phone")


def test_name_is_stripped() -> None:
    assert check_name("  张三 ") == "张三"


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_empty_name_is_refused_as_required(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        check_name(value)
    assert_invalid(exc, "name.required", "name")


def test_name_longer_than_50_characters_is_refused_and_50_is_accepted() -> None:
    assert check_name("张" * 50) == "张" * 50
    with pytest.raises(Invalid) as exc:
        check_name("张" * 51, field="contact_name")
    assert_invalid(exc, "name.too_long", "contact_name")


# ---------------------------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------------------------


def test_id_number_is_masked_to_first_and_last_character() -> None:
    id_number = make_id()
    assert mask_id_number(id_number) == id_number[0] + "*" * 16 + id_number[-1]
    assert mask_id_number("420703195001010239") == "4****************9"


def test_id_number_for_officer_shows_first_six_and_last_four() -> None:
    assert mask_id_number_for_officer("420703195001010235") == "420703********0235"


def test_mobile_is_masked_to_first_three_and_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_landline_keeps_area_code_and_last_four() -> None:
    assert mask_phone("027-87654321") == "027-****4321"
    assert mask_phone("0710-1234567") == "0710-***4567"


def test_account_is_masked_to_last_four_with_length_preserved() -> None:
    assert mask_account("6228480000000000018") == "*" * 15 + "0018"
    assert mask_account("1234567890120018") == "************0018"


def test_account_for_officer_shows_first_six_and_last_four_with_length_preserved() -> None:
    assert mask_account_for_officer("6228480000000000018") == "622848*********0018"


@pytest.mark.parametrize(
    "mask",
    [
        mask_id_number,
        mask_id_number_for_officer,
        mask_phone,
        mask_account,
        mask_account_for_officer,
    ],
)
def test_masking_none_or_empty_gives_empty(mask) -> None:  # type: ignore[no-untyped-def]
    assert mask(None) == ""
    assert mask("") == ""
    assert mask("   ") == ""


@pytest.mark.parametrize(
    ("mask", "value", "expected"),
    [
        (mask_id_number, "4", "*"),
        (mask_id_number, "42", "*2"),
        (mask_id_number_for_officer, "4207031950", "4*****1950"),
        (mask_phone, "1381234", "****234"),
        (mask_account, "123456", "***456"),
        (mask_account_for_officer, "622848000018", "62******0018"),
    ],
)
def test_short_values_show_at_most_half(mask, value: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    masked = mask(value)
    assert masked == expected
    assert sum(c != "*" for c in masked) <= len(value) // 2


# (mask, head, tail, length from which the documented head/tail apply)
MASKS = [
    (mask_id_number, 1, 1, 18),
    (mask_id_number_for_officer, 6, 4, 18),
    (mask_phone, 3, 4, 11),
    (mask_account, 0, 4, 8),
    (mask_account_for_officer, 6, 4, 16),
]


@pytest.mark.parametrize(("mask", "head", "tail", "full_length"), MASKS)
@given(value=st.text(alphabet="0123456789Xx-", min_size=1, max_size=40))
def test_masking_never_reveals_more_than_allowed(  # type: ignore[no-untyped-def]
    mask, head: int, tail: int, full_length: int, value: str
) -> None:
    masked = mask(value)
    if mask is mask_phone and re.fullmatch(r"0[0-9]{2,3}-[0-9]{7,8}", value):
        # Landlines keep the area code: the only characters shown are the area code, the
        # hyphen and the last four digits.
        area, _, number = value.partition("-")
        assert masked == f"{area}-{'*' * (len(number) - 4)}{number[-4:]}"
        return
    n = len(value)
    assert len(masked) == n
    shown = [i for i, c in enumerate(masked) if c != "*"]
    for i in shown:
        assert masked[i] == value[i]
        assert i < head or i >= n - tail
    if n < full_length:
        assert len(shown) <= n // 2
    else:
        assert len(shown) == head + tail


@given(digits=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_mask_hides_the_middle_four(digits: str) -> None:
    assert mask_phone(digits) == digits[:3] + "****" + digits[-4:]


@given(value=st.from_regex(r"0[0-9]{2,3}-[0-9]{7,8}", fullmatch=True))
def test_landline_mask_shows_only_area_code_and_last_four(value: str) -> None:
    area, _, number = value.partition("-")
    masked = mask_phone(value)
    assert masked == f"{area}-{'*' * (len(number) - 4)}{number[-4:]}"
