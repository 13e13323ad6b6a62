"""What the officer's filtered lists (审核队列, 统计, 审计日志) share: a blank query value
means "any", a 行政区划代码 is six digits, and a range of China dates (inclusive) is checked
and turned into bounds on a timestamp stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, field_validator, model_validator
from sqlalchemy import ColumnElement

from ..clock import CHINA_TZ
from ..domain.errors import Invalid

DIVISION_CODE_DIGITS = 6
#: The queue's and the statistics' 申请日期起/止.
DATE_RANGE_MESSAGE = "申请日期起不能晚于申请日期止"


def blank_to_none(value: object) -> object:
    """A blank string of the query string or the form is no value."""
    return None if isinstance(value, str) and not value.strip() else value


def division_code(value: object, *, code: str) -> object:
    """A 行政区划代码 filter: blank is any, else six digits (422 ``code`` on ``region``)."""
    value = blank_to_none(value)
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if not (len(text) == DIVISION_CODE_DIGITS and text.isascii() and text.isdigit()):
        raise Invalid(code, "行政区划代码应为6位数字", "region")
    return text


def check_range(date_from: date | None, date_to: date | None, *, code: str, message: str) -> None:
    """422 ``code`` (on ``date_from``) when the range ends before it starts."""
    if date_from and date_to and date_from > date_to:
        raise Invalid(code, message, "date_from")


class DateRangeFilters(BaseModel):
    """The 日期起/止 of a list's filter model: a blank date is any, and a range that ends
    before it starts is 422 ``range_code`` (``range_message``, on ``date_from``).

    Each subclass declares ``date_from`` and ``date_to`` itself, with its own descriptions
    and where they stand among its other fields: that order is the order of the query
    parameters in the API's documentation and of the checks (the first bad value answers).
    """

    range_code: ClassVar[str]
    range_message: ClassVar[str] = DATE_RANGE_MESSAGE

    if TYPE_CHECKING:  # the subclass's fields (see above)
        date_from: date | None
        date_to: date | None

    @field_validator("date_from", "date_to", mode="before", check_fields=False)
    @classmethod
    def _blank_date(cls, value: object) -> object:
        return blank_to_none(value)

    @model_validator(mode="after")
    def _date_range(self) -> Self:
        check_range(self.date_from, self.date_to, code=self.range_code, message=self.range_message)
        return self


def china_midnight(day: date) -> datetime:
    """The start of ``day`` in China, in UTC like the stored values: SQLite compares the text
    and drops the offset, so a +08:00 bound would be read as UTC and miss the rows of the
    first eight hours."""
    return datetime.combine(day, time.min, CHINA_TZ).astimezone(UTC)


def within_days(
    column: Any, date_from: date | None, date_to: date | None
) -> list[ColumnElement[bool]]:
    """The conditions that ``column`` (UTC) falls on a China day from ``date_from`` to
    ``date_to``, both included (none for an open end)."""
    conds: list[ColumnElement[bool]] = []
    if date_from is not None:
        conds.append(column >= china_midnight(date_from))
    if date_to is not None:
        conds.append(column < china_midnight(date_to + timedelta(days=1)))
    return conds
