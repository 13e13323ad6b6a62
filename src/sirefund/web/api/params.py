"""Path and query parameters shared by the applicant API routers (pension, unit, medical).

One definition each, so the bounds (a page number or an id a database column can hold) and the
Chinese descriptions in the OpenAPI document stay the same on every route that takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query

from ...services.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

#: Bounds of `Year` and `PageNo` (also checked by the lean routes' fast paths, lean_route.py).
YEAR_MIN, YEAR_MAX = 1900, 2100
PAGE_NO_MAX = 1_000_000

ApplicationId = Annotated[int, Path(ge=1, le=2**63 - 1, description="退费申请编号")]
Year = Annotated[
    int | None, Query(ge=YEAR_MIN, le=YEAR_MAX, description="缴费年度；不填为全部年度")
]
PageNo = Annotated[int, Query(ge=1, le=PAGE_NO_MAX, description="页码，从1开始")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数")]
#: 继承人代办: the heir's verified claim whose deceased's payments are read (GET …/payments).
HeirClaimId = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**63 - 1,
        description="继承人代办：已核实的继承人代办申请编号，查询已故参保人的缴费；"
        "他人的申请 404，未核实或核实不通过的 409 `heir_claim.not_verified`",
    ),
]


@dataclass(frozen=True)
class Paging:
    """Which page of a list the client asked for (``page`` and ``page_size`` always travel
    together)."""

    page: int
    page_size: int

    def window(self) -> slice:
        start = (self.page - 1) * self.page_size
        return slice(start, start + self.page_size)


async def _paging(page: PageNo = 1, page_size: PageSize = DEFAULT_PAGE_SIZE) -> Paging:
    # A coroutine: FastAPI runs a plain `def` dependency in the threadpool (a hop per request).
    return Paging(page, page_size)


#: The ``page`` and ``page_size`` query parameters of a list route.
Paged = Annotated[Paging, Depends(_paging)]


def year_query(year: Year = None) -> int | None:
    """The ``year`` query parameter as a dependency, for a route declared for several kinds
    (refund_routes.py)."""
    return year
