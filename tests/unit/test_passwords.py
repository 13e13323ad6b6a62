"""Password strength rules (services/passwords.check_strength): a real estimator (zxcvbn,
score >= 3), the project's common-password list and the account's own identifiers. Pure
function: no database, milliseconds a case."""

from __future__ import annotations

import pytest

from sirefund.domain.errors import Invalid
from sirefund.services import passwords

ID_NUMBER = "42070319580312001X"
PHONE = "13655556666"
MINE = (ID_NUMBER, "19580312", PHONE, "qiushigui", "OF7001")


def _refusal(password: str) -> Invalid:
    with pytest.raises(Invalid) as refused:
        passwords.check_strength(password, avoid=MINE)
    return refused.value


@pytest.mark.parametrize(
    "password",
    [
        "woaini123",
        "Password1",
        "qwerty123456",
        "woaini5201314",  # two entries of our list: zxcvbn alone scores it 3
        "zhang123456",
        "aaaaaaaaaaaa",
        "1qaz2wsx",
        "Beijing@2008",
    ],
)
def test_guessable_passwords_are_refused_as_weak(password: str) -> None:
    refusal = _refusal(password)
    assert (refusal.code, refusal.field) == ("password.weak", "password")


@pytest.mark.parametrize(
    "password",
    [
        f"x{ID_NUMBER}",
        f"{ID_NUMBER.lower()}!",  # the X check digit in either case
        "Lantern-19580312-orchard",
        f"Phone{PHONE}#",
        "QiuShiGui-lantern-2026",
        "of7001-Lantern-orchard",
    ],
)
def test_a_password_containing_an_identifier_of_the_account_is_refused(password: str) -> None:
    refusal = _refusal(password)
    assert (refusal.code, refusal.field) == ("password.weak", "password")
    assert "证件号码、出生日期、手机号码" in refusal.message


def test_every_entry_of_the_common_list_is_refused() -> None:
    assert len(passwords.COMMON_PASSWORDS) > 100
    for common in passwords.COMMON_PASSWORDS:
        if len(common) >= passwords.MIN_LENGTH:
            assert _refusal(common).code == "password.weak", common


@pytest.mark.parametrize(
    "password",
    ["lantern Orchard 47 drifting", "Hubei-2026-refund", "Zb7#qLm2!pW9", "S3cure!pass-phrase"],
)
def test_a_strong_password_is_accepted(password: str) -> None:
    passwords.check_strength(password, avoid=MINE)


def test_length_limits_keep_their_own_codes() -> None:
    assert _refusal("Ab1!xyz").code == "password.too_short"
    assert _refusal("Lantern-orchard-" * 9).code == "password.too_long"


def test_a_long_password_is_scored_on_its_first_72_characters() -> None:
    # zxcvbn refuses more than 72 characters; a strong beginning makes a strong password.
    passwords.check_strength("lantern Orchard 47 drifting " * 4)
    assert _refusal("a" * 100).code == "password.weak"
