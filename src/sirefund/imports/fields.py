"""Field parsers of the import files: one CSV text value in, a validated value out.

Pure (no database): each raises :class:`~sirefund.domain.errors.Invalid` naming the CSV column
it is about. The cached ones are hot: dates and amounts repeat a lot in a large file, and the
``*_or_none`` / ``*_or_error`` forms let the hottest kind check a row cheaply and run the
descriptive parser only when something is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from ..domain import identity, money
from ..domain.errors import Invalid
from ..domain.regions import CODE_DIGITS

#: Longest text of an id or channel column (the table columns are String(40)).
ID_MAX = 40
#: Years a payment year may name.
YEAR_MIN, YEAR_MAX = 1900, 2100
#: Months of a unit payment.
MONTH_MIN, MONTH_MAX = 1, 12
#: Lengths of a unit tax id: 统一社会信用代码 (18) or an older tax registration number.
TAX_ID_MIN, TAX_ID_MAX = 15, 20

#: Digits of an administrative region code (行政区划代码).
REGION_DIGITS = CODE_DIGITS

_ISO_DATE_LENGTH = 10  # YYYY-MM-DD
_CACHE_SIZE = 16384
FEN_PER_YUAN = 100

#: Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: no name
#: contains them, and one in a name once broke every officer's export.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What an import accepts as plausible (configurable: ``SIREFUND_IMPORT_*``, README).

    Amounts above a kind's bound are refused (``amount.too_large``); dates before
    ``earliest_date`` (``date.too_early``), payment dates after today (``date.in_future``) and
    periods ending after the end of next year (``period.too_late``: people pay for the coming
    year's coverage, never further ahead).
    """

    max_pension_fen: int = 20_000 * FEN_PER_YUAN
    max_medical_fen: int = 5_000 * FEN_PER_YUAN
    max_ltc_fen: int = 1_000 * FEN_PER_YUAN
    max_unit_payment_fen: int = 10_000_000 * FEN_PER_YUAN
    max_unit_line_fen: int = 20_000 * FEN_PER_YUAN
    earliest_date: date = date(2000, 1, 1)


def no_control(text: str, field: str) -> str:
    """``text`` when it holds no control character (see _CONTROL)."""
    if _CONTROL.search(text):
        raise Invalid(
            "name.control_chars", "名称中含有控制字符（如换行、制表符），请删除后重新导入", field
        )
    return text


def name(value: str, field: str = "name") -> str:
    """A person's name: the domain's rule, and no control characters."""
    return no_control(identity.check_name(value, field=field), field)


def in_range(text: str, field: str, earliest: str, latest: str) -> str:
    """An ISO date text from ``earliest`` to ``latest`` (ISO texts, which sort as dates)."""
    if text < earliest:
        raise Invalid("date.too_early", f"日期早于{earliest}，不在合理范围内", field)
    if text > latest:
        raise Invalid("date.in_future", f"日期晚于今天（{latest}）", field)
    return text


def at_most(fen: int, limit: int, field: str) -> int:
    """``fen`` when it is not above the kind's bound ``limit``."""
    if fen > limit:
        raise Invalid("amount.too_large", f"金额超过该项的上限{money.format_yuan(limit)}元", field)
    return fen


def required(value: str, field: str, max_len: int) -> str:
    """A non-empty text of at most ``max_len`` characters."""
    if not value:
        raise Invalid("import.required", "不能为空", field)
    if len(value) > max_len:
        raise Invalid("import.too_long", f"不能超过{max_len}个字符", field)
    return value


@lru_cache(maxsize=_CACHE_SIZE)
def iso_date_or_none(text: str) -> str | None:
    """``text`` when it is a real calendar date written YYYY-MM-DD, else None."""
    # Strictly YYYY-MM-DD: date.fromisoformat would also take 20230101 or week dates.
    if len(text) != _ISO_DATE_LENGTH or text[4] != "-" or text[7] != "-":
        return None
    y, m, d = text[0:4], text[5:7], text[8:10]
    if not (
        y.isascii() and y.isdigit() and m.isdigit() and m.isascii() and d.isascii() and d.isdigit()
    ):
        return None
    try:
        date(int(y), int(m), int(d))
    except ValueError:  # 2023-02-30
        return None
    return text


def iso_date(value: str, field: str) -> str:
    """A real calendar date written YYYY-MM-DD, returned as that text (ISO text sorts)."""
    text = iso_date_or_none(value)
    if text is None:
        raise Invalid("date.invalid", "日期不存在或格式不是 YYYY-MM-DD", field)
    return text


@lru_cache(maxsize=_CACHE_SIZE)
def fen_or_error(text: str) -> int | Invalid:
    """The amount in fen of a yuan text, or the error saying why it is none."""
    try:
        return money.parse_yuan(text)
    except Invalid as exc:
        return exc.with_traceback(None)  # kept for its code and message only


def fen(value: str, field: str, *, positive: bool = True, empty_is_zero: bool = False) -> int:
    """A yuan amount with at most two decimals, in fen; positive unless said otherwise."""
    if not value and empty_is_zero:
        return 0
    amount = fen_or_error(value)
    if isinstance(amount, Invalid):
        if amount.code == "money.negative":
            raise Invalid("amount.negative", "金额不能为负数", field)
        raise Invalid(amount.code, amount.message, field)
    if positive and amount <= 0:
        raise Invalid("amount.not_positive", "金额必须大于0", field)
    if amount < 0:
        raise Invalid("amount.negative", "金额不能为负数", field)
    return amount


def integer(value: str, field: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``, written in ASCII digits."""
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise Invalid("import.number", f"应为{low}至{high}之间的整数", field)
    return int(value)


@lru_cache(maxsize=1024)
def year_or_none(text: str) -> int | None:
    """The year ``text`` names when it is one from YEAR_MIN to YEAR_MAX, else None."""
    if text.isascii() and text.isdigit() and YEAR_MIN <= int(text) <= YEAR_MAX:
        return int(text)
    return None


def is_region(value: str) -> bool:
    return len(value) == REGION_DIGITS and value.isascii() and value.isdigit()


def region(value: str, field: str = "region_code") -> str:
    """A six-digit administrative region code."""
    if not is_region(value):
        raise Invalid("region.format", "行政区划代码应为6位数字", field)
    return value


def period(start: str, end: str) -> tuple[str, str]:
    """A payment's period (费款所属期): two dates, the start not after the end."""
    s, e = iso_date(start, "period_start"), iso_date(end, "period_end")
    if s > e:
        raise Invalid("period.invalid", "费款所属期起不能晚于费款所属期止", "period_start")
    return s, e


def tax_id(value: str) -> str:
    """A unit's tax id, upper-cased: 15 to 20 ASCII letters or digits."""
    text = value.upper()
    if not (TAX_ID_MIN <= len(text) <= TAX_ID_MAX and text.isascii() and text.isalnum()):
        raise Invalid("unit.tax_id_format", "单位税号应为15至20位字母或数字", "unit_tax_id")
    return text
