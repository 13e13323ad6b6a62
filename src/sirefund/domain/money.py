"""Money is exact: integer fen inside, two-decimal yuan strings outside ("350.00")."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import Invalid

_YUAN = re.compile(r"^-?\d{1,13}(\.\d{1,2})?$")


def parse_yuan(text: str | int | Decimal, *, field: str = "amount") -> int:
    """Parse a yuan amount with at most two decimals into fen. Rejects floats' surprises.

    Accepts "350", "350.5", "350.50", Decimal or int yuan. Raises Invalid otherwise.
    """
    if isinstance(text, bool):
        raise Invalid("money.invalid", "金额格式不正确", field)
    if isinstance(text, int):
        return text * 100
    if isinstance(text, Decimal):
        s = format(text, "f")
    elif isinstance(text, str):
        s = text.strip().replace(",", "")
    else:
        raise Invalid("money.invalid", "金额格式不正确", field)
    if not _YUAN.match(s):
        raise Invalid("money.invalid", "金额格式不正确，最多保留两位小数", field)
    try:
        d = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex already guards
        raise Invalid("money.invalid", "金额格式不正确", field) from exc
    return int((d * 100).to_integral_exact())


def format_yuan(fen: int) -> str:
    """Fen to a two-decimal yuan string: 35000 -> "350.00", -5 -> "-0.05"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
