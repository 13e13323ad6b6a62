"""Pages of a list: ``{"items": [...], "total": N, "page": 1, "page_size": 10}`` (api.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

from ..domain.errors import Invalid

# Lists still built as dicts (the applicants' pages) keep writing a bare ``Page``.
T = TypeVar("T", default=dict[str, Any])

DEFAULT_PAGE_SIZE = 10  # the manual's 每页 10 条
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    # False when the total was counted only so far (the officer queue's COUNT_LIMIT): there
    # are ``total`` rows or more.
    total_exact: bool = True

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def first_row(self) -> int:
        """1-based number of the first row shown (当前显示第 x 到 y 条), 0 when empty."""
        return self.offset + 1 if self.items else 0

    @property
    def last_row(self) -> int:
        return self.offset + len(self.items)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))


def check_page(page: int, page_size: int) -> tuple[int, int]:
    """Refuse page numbers below 1 and page sizes outside 1..MAX_PAGE_SIZE."""
    if page < 1:
        raise Invalid("page.invalid", "页码应为正整数", "page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid("page_size.invalid", f"每页条数应为1至{MAX_PAGE_SIZE}", "page_size")
    return page, page_size
