"""Identities and contact data: resident ID numbers, bank accounts, phones, names, and masking.

Pure functions, no I/O, no clock: anything that depends on "today" takes it as an argument.

Validation functions take raw user input, return the normalised value, and raise
:class:`~sirefund.domain.errors.Invalid` with a stable ``code``, a Chinese ``message`` and the
``field`` it is about.

Masking lives here and only here, so that every page, export and API response hides the same
characters. The documented formats (see docs/domain.md, "Money, identities, codes") apply to
values of their normal length; a value shorter than that never has more than half of its
characters revealed, so a truncated or odd value cannot leak through a mask meant for a longer one.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn
from stdnum.cn import ric

from .errors import Invalid

# --------------------------------------------------------------------------------------------
# Resident ID numbers (GB 11643, 18 characters)
# --------------------------------------------------------------------------------------------

#: The two-digit province prefixes of GB/T 2260 that appear in resident ID numbers:
#: 31 provinces, autonomous regions and municipalities, plus Taiwan (71), Hong Kong (81)
#: and Macao (82), whose residents hold mainland residence-permit numbers with these prefixes.
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71",
        "81", "82",
    }
)  # fmt: skip

# ASCII digits only: ``\d`` would also accept full-width and other Unicode digits.
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_ID_FIELD = "id_number"
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _strip_whitespace(value: str) -> str:
    """Remove every whitespace character, including the full-width space U+3000.

    People paste numbers grouped with spaces ("4207 0319 ...") and copy trailing blanks from
    spreadsheets; none of the values checked here can legitimately contain whitespace.
    """
    return "".join(value.split())


def _normalise_id(value: object) -> str:
    """Whitespace removed and a trailing lowercase ``x`` uppercased; no validation."""
    if not isinstance(value, str):
        return ""
    text = _strip_whitespace(value)
    if text.endswith("x"):
        text = text[:-1] + "X"
    return text


def _id_birth_date_or_none(normalised: str) -> date | None:
    """The calendar date in characters 7-14, or None when it is not a real date."""
    digits = normalised[6:14]
    if len(digits) != len("YYYYMMDD") or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:  # 20230230, month 13, year 0000 ...
        return None


def _format_error() -> Invalid:
    return Invalid("id_number.format", "证件号码应为18位", _ID_FIELD)


def _birth_date_error() -> Invalid:
    return Invalid("id_number.birth_date", "证件号码中的出生日期不正确", _ID_FIELD)


def check_resident_id(value: str, *, today: date) -> str:
    """Validate an 18-character resident ID number and return it normalised.

    Normalisation removes whitespace and uppercases a trailing ``x``.

    Accepted when, in this order:

    * it is 17 ASCII digits followed by a digit or ``X`` (else ``id_number.format``);
    * its first two digits are a province prefix in :data:`PROVINCE_CODES`
      (else ``id_number.province``);
    * characters 7-14 form a real date, not after ``today`` and not before 1900-01-01
      (else ``id_number.birth_date``);
    * the last character is the GB 11643 (ISO 7064 MOD 11-2) check digit
      (else ``id_number.check_digit``).

    Deliberately NOT checked: whether the six-digit county code existed in the holder's birth
    year. 18-digit numbers carry the code in force when they were issued (from 1999), so most
    elderly residents hold codes younger than themselves; ``stdnum.cn.ric.validate`` refuses
    them and must not be used as the verdict here.
    """
    text = _normalise_id(value)
    if not _ID_SHAPE.fullmatch(text):
        raise _format_error()
    if text[:2] not in PROVINCE_CODES:
        raise Invalid("id_number.province", "证件号码的地区码不正确", _ID_FIELD)
    born = _id_birth_date_or_none(text)
    if born is None or born > today or born < _EARLIEST_BIRTH_DATE:
        raise _birth_date_error()
    # stdnum's calc_check_digit expects the full number and ignores its last character.
    if ric.calc_check_digit(text) != text[17]:
        raise Invalid("id_number.check_digit", "证件号码校验位不正确", _ID_FIELD)
    return text


def resident_id_birth_date(value: str) -> date:
    """The birth date encoded in a resident ID number (characters 7-14).

    Meant for numbers already accepted by :func:`check_resident_id`; still, it normalises its
    input and raises ``Invalid`` (``id_number.format`` / ``id_number.birth_date``) rather than
    returning nonsense when the number is malformed. It does not check the check digit.
    """
    text = _normalise_id(value)
    if not _ID_SHAPE.fullmatch(text):
        raise _format_error()
    born = _id_birth_date_or_none(text)
    if born is None:
        raise _birth_date_error()
    return born


def resident_id_region(value: str) -> str:
    """The six-digit GB/T 2260 administrative division code at the start of the ID number.

    Used for officers' data scope (420700 sees 4207xx). Raises ``id_number.format`` when the
    number is malformed.
    """
    text = _normalise_id(value)
    if not _ID_SHAPE.fullmatch(text):
        raise _format_error()
    return text[:6]


# --------------------------------------------------------------------------------------------
# Bank accounts, phones, names
# --------------------------------------------------------------------------------------------

_ACCOUNT_SHAPE = re.compile(r"[0-9]{6,32}")
_UNIONPAY_CARD = re.compile(r"62[0-9]{14,17}")  # 16-19 digits starting with 62
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"(0[0-9]{2,3})-([0-9]{7,8})")
_NAME_MAX = 50


def check_bank_account(
    value: str, *, confirmed: bool = False, field: str = "bank_account_no"
) -> str:
    """Validate a bank account or card number and return it without whitespace.

    * 6 to 32 ASCII digits, else ``bank_account.format``.
    * A UnionPay card number (16-19 digits starting with ``62``) must pass the Luhn check,
      else ``bank_account.luhn`` -- unless ``confirmed`` is true: a few genuine cards fail
      Luhn, so the applicant may confirm the number and we accept it as typed.
      Passbook and other account numbers have no public check digit and are not Luhn-checked.
    """
    text = _strip_whitespace(value) if isinstance(value, str) else ""
    if not _ACCOUNT_SHAPE.fullmatch(text):
        raise Invalid("bank_account.format", "银行账号应为6至32位数字", field)
    if _UNIONPAY_CARD.fullmatch(text) and not confirmed and not luhn.is_valid(text):
        raise Invalid(
            "bank_account.luhn", "银行卡号校验未通过，请核对；如确认无误请勾选确认", field
        )
    return text


def check_phone(value: str, *, field: str = "contact_phone") -> str:
    """Validate a contact phone and return it without whitespace.

    Accepted: a mainland mobile ``1[3-9]`` + 9 digits, or a landline ``0xx-xxxxxxx(x)`` /
    ``0xxx-xxxxxxx(x)`` (area code with leading 0, a hyphen, 7 or 8 digits). Anything else
    raises ``phone.format``.
    """
    text = _strip_whitespace(value) if isinstance(value, str) else ""
    if not (_MOBILE.fullmatch(text) or _LANDLINE.fullmatch(text)):
        raise Invalid("phone.format", "联系电话格式不正确", field)
    return text


def check_name(value: str, *, field: str = "name") -> str:
    """Validate a person's or contact's name and return it stripped of surrounding whitespace.

    1 to 50 characters after stripping: empty raises ``name.required``, longer raises
    ``name.too_long``. Inner spaces are kept (names such as "阿卜杜 热合曼" contain them).
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid("name.required", "姓名不能为空", field)
    if len(text) > _NAME_MAX:
        raise Invalid("name.too_long", f"姓名不能超过{_NAME_MAX}个字符", field)
    return text


# --------------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------------


def _mask(text: str, head: int, tail: int, *, full_length: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters, star the rest; length preserved.

    Values of at least ``full_length`` characters get exactly (head, tail). Shorter values are
    capped so that at most ``len // 2`` characters show, trailing ones kept first (the end of a
    number is what people recognise).
    """
    n = len(text)
    if n < full_length:
        allowed = n // 2
        tail = min(tail, allowed)
        head = min(head, allowed - tail)
    # text[n - 0:] is "", so tail == 0 needs no special case.
    return text[:head] + "*" * (n - head - tail) + text[n - tail :]


def _clean(value: str | None) -> str:
    return _strip_whitespace(value) if isinstance(value, str) else ""


def mask_id_number(value: str | None) -> str:
    """ID number for citizens' and public views: first and last character shown.

    ``420703195001010235`` -> ``4****************5``. None or empty -> ``""``.
    """
    text = _clean(value)
    return _mask(text, 1, 1, full_length=18) if text else ""


def mask_id_number_for_officer(value: str | None) -> str:
    """ID number for officers, who must match records: first six and last four shown.

    ``420703195001010235`` -> ``420703********0235``. Shorter than 18 characters: at most
    half shown. None or empty -> ``""``.
    """
    text = _clean(value)
    return _mask(text, 6, 4, full_length=18) if text else ""


def mask_phone(value: str | None) -> str:
    """Phone number: mobiles ``13812341234`` -> ``138****1234``; landlines keep the area code
    and the last four digits (``027-87654321`` -> ``027-****4321``).

    Anything else (short, odd) shows at most half of its characters. None or empty -> ``""``.
    """
    text = _clean(value)
    if not text:
        return ""
    landline = _LANDLINE.fullmatch(text)
    if landline:
        area, number = landline.groups()
        return f"{area}-{_mask(number, 0, 4, full_length=7)}"
    return _mask(text, 3, 4, full_length=11)


def mask_account(value: str | None) -> str:
    """Bank account for citizens' views: stars for all but the last four, length preserved.

    ``6228480000000000018`` -> ``***************0018``. Accounts shorter than eight
    characters show at most half. None or empty -> ``""``.
    """
    text = _clean(value)
    return _mask(text, 0, 4, full_length=8) if text else ""


def mask_account_for_officer(value: str | None) -> str:
    """Bank account for officers: first six and last four shown, length preserved.

    ``6228480000000000018`` -> ``622848*********0018``. Accounts shorter than 16 characters
    (the shortest bank card) show at most half, so that a short passbook number is never
    nearly fully revealed. None or empty -> ``""``.
    """
    text = _clean(value)
    return _mask(text, 6, 4, full_length=16) if text else ""
