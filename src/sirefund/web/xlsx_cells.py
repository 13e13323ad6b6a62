"""Cells of every .xlsx the system writes, safe whatever the data (issue 9 part 6).

* No cell starts a formula from data. A text beginning with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return (OWASP, "CSV Injection") is written as a string cell with Excel's
  quote prefix, the way a person typing ``'=1+1`` gets text: the value itself is unchanged,
  nothing runs when the file is opened, and the cell stays text when it is edited.
* Characters a worksheet cannot hold (the control characters openpyxl refuses; one of them
  in one name once made the whole export fail) are shown as U+FFFD, so the row is still
  there and the officer can see that the stored name needs correcting.

Use :func:`row` for every row appended to a write-only sheet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """``value`` with the characters a worksheet cannot hold replaced by U+FFFD."""
    return str(ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value))


def cell(ws: Any, value: object) -> object:
    """What to append for ``value``: texts cleaned, and a text that would start a formula as
    a quote-prefixed string cell; other values (numbers, cells) as they are."""
    if not isinstance(value, str):
        return value
    text = clean_text(value)
    if not text.startswith(FORMULA_STARTS):
        return text
    safe = WriteOnlyCell(ws, value=text)
    safe.data_type = "s"  # openpyxl makes "=..." a formula otherwise
    safe.quotePrefix = True
    return safe


def row(ws: Any, values: Iterable[object]) -> list[object]:
    """A row for ``ws.append``, every value through :func:`cell`."""
    return [cell(ws, v) for v in values]
