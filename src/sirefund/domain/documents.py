"""What the printed documents say: the 文书号 (document number) every application gets on
submission, the tax bureau that issues it, and amounts in Chinese capitals (大写金额).

Pure: the caller passes the year (of submission, in China time), the region and the sequence
number the database handed out (services/document_numbers.py).
"""

from __future__ import annotations

import re

from . import regions

#: 鄂税退〔YYYY〕RRRRRR-NNNNNN: year of submission, the payer's division code, a sequence per
#: year and region from 000001 (domain.md "Document numbers").
DOCUMENT_NO = re.compile(r"鄂税退〔(\d{4})〕(\d{6})-(\d{6})")
MAX_SEQUENCE = 999_999
_FIRST_YEAR, _LAST_YEAR = 1000, 9999  # four digits
DOCUMENT_NO_LENGTH = len("鄂税退〔2026〕420703-000001")


def document_no(*, year: int, region_code: str, sequence: int) -> str:
    """``document_no(year=2026, region_code="420703", sequence=1)`` ->
    ``"鄂税退〔2026〕420703-000001"``. ValueError for anything the format cannot hold."""
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(f"year out of range: {year}")
    if not (len(region_code) == regions.CODE_DIGITS and region_code.isascii()) or not (
        region_code.isdigit()
    ):
        raise ValueError(f"not a six-digit division code: {region_code!r}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence out of range: {sequence}")
    return f"鄂税退〔{year:04d}〕{region_code}-{sequence:06d}"


def tax_bureau_name(region_code: str) -> str:
    """The 税务机关 of a payer's division: the county bureau under its prefecture
    (``"420703"`` -> ``"国家税务总局鄂州市华容区税务局"``), a province-administered city's own
    bureau, a prefecture's bureau for a prefecture code, the province's for anything else."""
    province = f"国家税务总局{regions.PROVINCE_NAME}税务局"
    name = regions.division_name(region_code)
    if name is None or region_code == regions.PROVINCE_CODE:
        return province
    prefecture_code = regions.prefecture_of(region_code)
    prefecture = regions.PREFECTURES.get(prefecture_code)
    if prefecture is None:
        return province
    if prefecture_code == region_code:
        return f"国家税务总局{prefecture}税务局"
    return f"国家税务总局{prefecture}{name}税务局"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿")
_GROUP = 10_000
_FEN_PER_YUAN = 100
_MAX_FEN = _GROUP ** len(_GROUPS) * _FEN_PER_YUAN - 1


def _group_words(value: int) -> str:
    """0 < value < 10000 in capitals, zeros inside written once (1001 -> 壹仟零壹)."""
    words: list[str] = []
    zero = False
    for place in range(3, -1, -1):
        digit = value // 10**place % 10
        if digit == 0:
            zero = bool(words)
            continue
        if zero:
            words.append("零")
            zero = False
        words.append(_DIGITS[digit] + _PLACES[place])
    return "".join(words)


def _integer_words(value: int) -> str:
    groups: list[int] = []
    while value:
        value, group = divmod(value, _GROUP)
        groups.append(group)
    words: list[str] = []
    zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(words)
            continue
        if words and (zero or group < _GROUP // 10):
            words.append("零")
        zero = False
        words.append(_group_words(group) + _GROUPS[index])
    return "".join(words)


def amount_in_capitals(fen: int) -> str:
    """大写金额 as on a bank's or tax bureau's form: ``70000`` -> ``"柒佰元整"``,
    ``168032`` -> ``"壹仟陆佰捌拾元叁角贰分"``, ``105`` -> ``"壹元零伍分"``,
    ``10010000`` -> ``"壹拾万零壹佰元整"``. ValueError for a negative amount."""
    if not 0 <= fen <= _MAX_FEN:
        raise ValueError(f"amount out of range: {fen}")
    yuan, rest = divmod(fen, _FEN_PER_YUAN)
    jiao, cents = divmod(rest, 10)
    words = _integer_words(yuan) + "元" if yuan else ""
    if jiao == 0 and cents == 0:
        return (words or "零元") + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif yuan:
        words += "零"
    return words + (_DIGITS[cents] + "分" if cents else "整")
