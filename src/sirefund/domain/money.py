"""Money is exact: integer fen inside, two-decimal yuan strings outside ("350.00").

Yuan text is read strictly (issue 9): ASCII digits 0-9, an optional point and at most two
decimals. Python's ``int()`` and ``Decimal()`` also take full-width (``１００``) and other
scripts' digits, grouping underscores and exponents; a comma is a thousands separator in one
file and the decimal point in another (``100,50`` was once read as 10,050.00 yuan). All of
those are refused, each with its own code, rather than guessed at.
"""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import Invalid

#: Integer digits of yuan accepted (up to 9,999,999,999,999.99 yuan).
YUAN_INTEGER_DIGITS = 13
_YUAN = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,2})?", re.ASCII)
_GROUPING = frozenset(",，_'،٬")


def _parse_text(s: str, field: str) -> int:
    if s.startswith(("-", "−", "－")):
        raise Invalid("money.negative", "金额不能为负数", field)
    if _GROUPING.intersection(s):
        raise Invalid(
            "money.grouping", "金额不能含逗号等分隔符，小数点请用半角句点（如 100.50）", field
        )
    if any(c.isdigit() and not c.isascii() for c in s):
        raise Invalid("money.digits", "金额只能使用半角数字0-9", field)
    if _YUAN.fullmatch(s) is None:
        raise Invalid("money.invalid", "金额格式不正确，应为数字，最多保留两位小数", field)
    whole, _, cents = s.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))


def parse_yuan(text: str | int | Decimal, *, field: str = "amount") -> int:
    """Parse a non-negative yuan amount with at most two decimals into fen.

    Accepts "350", "350.5", "350.50" (surrounding spaces ignored), Decimal or int yuan.
    Raises Invalid otherwise: ``money.negative``, ``money.grouping`` (a comma or other
    separator), ``money.digits`` (digits other than ASCII 0-9), ``money.invalid``.
    """
    if isinstance(text, bool):
        raise Invalid("money.invalid", "金额格式不正确", field)
    if isinstance(text, int):
        if text < 0:
            raise Invalid("money.negative", "金额不能为负数", field)
        return text * 100
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise Invalid("money.invalid", "金额格式不正确", field)
        s = format(text, "f")
    elif isinstance(text, str):
        s = text.strip()
    else:
        raise Invalid("money.invalid", "金额格式不正确", field)
    return _parse_text(s, field)


def format_yuan(fen: int) -> str:
    """Fen to a two-decimal yuan string: 35000 -> "350.00", -5 -> "-0.05"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
