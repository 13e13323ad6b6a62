"""Enums whose members carry their Chinese label: ``HRSS = "hrss", "人社"``."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class LabelledEnum(StrEnum):
    """A StrEnum member is its value (``"hrss"``); ``.label`` is what a screen shows."""

    _value_: str
    label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        # Called with the label only for the members in the class body; a lookup by value
        # (``Agency("hrss")``) goes through Enum's own machinery, hence the default.
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
