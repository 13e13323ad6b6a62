"""Path and query parameters shared by the applicant API routers (pension, unit, medical).

One definition each, so the bounds (a page number or an id a database column can hold) and the
Chinese descriptions in the OpenAPI document stay the same on every route that takes them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ...services.paging import MAX_PAGE_SIZE

ApplicationId = Annotated[int, Path(ge=1, le=2**63 - 1, description="退费申请编号")]
Year = Annotated[int | None, Query(ge=1900, le=2100, description="缴费年度；不填为全部年度")]
PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="页码，从1开始")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数")]
